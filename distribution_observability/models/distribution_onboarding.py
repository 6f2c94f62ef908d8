from odoo import api
from odoo import models
from odoo.exceptions import AccessError
from odoo.exceptions import UserError

MANAGER_GROUP = "distribution_observability.group_distribution_manager"


class DistributionOnboarding(models.AbstractModel):
    """The getting-started checklist of the dashboard: the steps a company goes through before the suite
    governs its orders, each ticked from the company's data (never by a click on the list), each with a
    link to the screen where it is done. The list hides once every step is done.

    Each addon adds its steps by extending ``_distribution_checklist_steps`` (the registry); the dashboard
    reads ``_get_checklist()`` and opens a step's screen with ``action_open_step(key)``."""

    _name = "distribution.onboarding"
    _description = "Distribution Getting Started"

    @api.model
    def _distribution_checklist_steps(self):
        """Hook: the steps of the checklist for ``self.env.company``. An addon extends it with
        ``_inherit = "distribution.onboarding"`` and appends its own steps to the list of ``super()``::

            def _distribution_checklist_steps(self):
                steps = super()._distribution_checklist_steps()
                steps.append({
                    "key": "triage_alias",                        # unique, stable
                    "title": self.env._("Point the mail alias at the triage inbox"),
                    "help": self.env._("One sentence: what the step is and why."),
                    "done": bool(...),                            # from the data of self.env.company
                    "action": "my_addon.my_act_window_action",    # an XML id, or a method of this model
                    "sequence": 60,                               # returning an action (self._action_x)
                })
                return steps

        ``done`` is computed from data, in a constant number of queries (a count with ``limit=1``, not a
        loop over records): the dashboard computes every step on each refresh. It reads only whether the
        configuration exists, so it may use sudo; the step's action opens the screen with the user's own
        rights. Sequences so far: orchestration 10-40, approvals 50; the AI triage addon takes 60 for
        "Point the mail alias at the triage inbox"."""
        return []

    @api.model
    def _may_see_checklist(self):
        """Setting up is the job of Distribution managers: only they get the checklist."""
        return self.env.user.has_group(MANAGER_GROUP)

    @api.model
    def _get_checklist(self):
        """The steps as the dashboard shows them (key, title, help, done, sequence), in order; an empty list
        when every step is done, when no addon declares any, or for a user who does not set up."""
        if not self._may_see_checklist():
            return []
        steps = sorted(self._distribution_checklist_steps(), key=lambda step: (step.get("sequence", 100), step["key"]))
        if all(step["done"] for step in steps):
            return []
        return [
            {
                "key": step["key"],
                "title": step["title"],
                "help": step.get("help") or "",
                "done": bool(step["done"]),
                "sequence": step.get("sequence", 100),
            }
            for step in steps
        ]

    @api.model
    @api.readonly
    def action_open_step(self, key):
        """The action that opens the screen where step ``key`` is done (the dashboard's link). Opening it
        gives no right: the screen is read and written with the user's own."""
        if not self._may_see_checklist():
            raise AccessError(self.env._("Only Distribution managers go through the getting-started checklist."))
        step = next((step for step in self._distribution_checklist_steps() if step["key"] == key), None)
        if step is None:
            raise UserError(self.env._("The getting-started checklist has no step %s.", str(key)[:40]))
        action = step["action"]
        if callable(action):
            return action()
        if "." not in action:
            return getattr(self, action)()
        return self.env["ir.actions.actions"]._for_xml_id(action)
