from odoo import fields
from odoo import models


class DistributionApprovalDecisionWizard(models.TransientModel):
    """Approve or reject a request from its form or its document, with a comment (required to reject);
    or, for a Distribution Manager, decide a stuck request with a reason (always required). Every check
    is the request's (``_decide``, ``_manager_decide``): the wizard's fields decide nothing."""

    _name = "distribution.approval.decision.wizard"
    _description = "Approval Decision"

    request_id = fields.Many2one("distribution.approval.request", required=True, ondelete="cascade")
    decision = fields.Selection([("approve", "Approve"), ("reject", "Reject")], required=True)
    comment = fields.Text()
    # Which verb the wizard calls: harmless to set, the manager's verb checks the group and the request.
    manager = fields.Boolean("Decide as Distribution Manager")

    def action_confirm(self):
        """Record the decision through the request's own verb, as the current user."""
        self.ensure_one()
        if self.manager:
            self.request_id._manager_decide(self.decision, self.comment)
        else:
            self.request_id._decide(self.decision, self.comment)
        return {"type": "ir.actions.act_window_close"}
