from odoo import fields
from odoo import models


class DistributionApprovalDecisionWizard(models.TransientModel):
    """Approve or reject a request from its form or its document, with a comment (required to reject)."""

    _name = "distribution.approval.decision.wizard"
    _description = "Approval Decision"

    request_id = fields.Many2one("distribution.approval.request", required=True, ondelete="cascade")
    decision = fields.Selection([("approve", "Approve"), ("reject", "Reject")], required=True)
    comment = fields.Text()

    def action_confirm(self):
        self.ensure_one()
        self.request_id._decide(self.decision, self.comment)
        return {"type": "ir.actions.act_window_close"}
