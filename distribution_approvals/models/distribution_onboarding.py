from odoo import api
from odoo import models

from .distribution_approval_rule import APPROVER_GROUP


class DistributionOnboarding(models.AbstractModel):
    """The approval step of the getting-started checklist: name the people who decide approvals."""

    _inherit = "distribution.onboarding"

    @api.model
    def _distribution_checklist_steps(self):
        steps = super()._distribution_checklist_steps()
        steps.append(
            {
                "key": "approvers",
                "title": self.env._("Name the approvers"),
                "help": self.env._(
                    "Give the people who decide approval requests the Distribution Approver role (Settings > "
                    "Users), or name them on the tiers of your approval rules."
                ),
                "done": self._onboarding_approvers_named(self.env.company),
                "action": "distribution_approvals.distribution_approval_rule_action",
                "sequence": 50,
            }
        )
        return steps

    @api.model
    def _onboarding_approvers_named(self, company):
        """Someone was made an approver for the company: an active internal user of the company, other than
        OdooBot (base.user_root) and the administrator (base.user_admin), holds the Approver group (directly
        or through the Distribution Manager role, which implies it), or a tier of an active approval rule of
        the company names its approvers.

        OdooBot and the administrator are left out because installing the suite makes them Distribution
        Managers, hence approvers, without anyone deciding it: a company where they are the only approvers
        has named no one, and its requests all wait on one shared account. Explicit users on a tier are a
        choice somebody made, whoever they are (sudo: counts of users and tiers, nothing read)."""
        excluded = [
            user.id for user in (self.env.ref("base.user_root", False), self.env.ref("base.user_admin", False)) if user
        ]
        group = self.env.ref(APPROVER_GROUP)
        members = [
            ("groups_id", "in", group.id),
            ("share", "=", False),
            ("company_ids", "in", company.id),
            ("id", "not in", excluded),
        ]
        if self.env["res.users"].sudo().search_count(members, limit=1):
            return True
        tiers = [
            ("company_id", "=", company.id),
            ("rule_id.active", "=", True),
            ("approver_type", "=", "user"),
            ("user_ids", "!=", False),
        ]
        return bool(self.env["distribution.approval.tier"].sudo().search_count(tiers, limit=1))
