from odoo import api
from odoo import models


class DistributionOnboarding(models.AbstractModel):
    """The AI triage's step of the getting-started checklist: a mail alias feeding the triage inbox."""

    _inherit = "distribution.onboarding"

    @api.model
    def _distribution_checklist_steps(self):
        steps = super()._distribution_checklist_steps()
        steps.append(
            {
                "key": "triage_alias",
                "title": self.env._("Point the mail alias at the triage inbox"),
                "help": self.env._(
                    "Give the order desk's address (e.g. orders@) to the triage: each e-mail gets a label, an "
                    "owner and its linked orders, and the unsure ones wait in Needs review."
                ),
                "done": bool(self.env.company.distribution_triage_alias_id),
                "action": "distribution_ai_triage.distribution_triage_settings_action",
                "sequence": 60,
            }
        )
        return steps
