from odoo import fields
from odoo import models


class DistributionApprovalDecision(models.Model):
    """One person's decision on one tier of a request, with their comment."""

    _name = "distribution.approval.decision"
    _description = "Approval Decision"
    _order = "decided_at, id"

    request_id = fields.Many2one("distribution.approval.request", required=True, ondelete="cascade", index=True)
    request_tier_id = fields.Many2one("distribution.approval.request.tier", "Tier", ondelete="cascade", index=True)
    company_id = fields.Many2one(related="request_id.company_id", store=True)
    user_id = fields.Many2one("res.users", "Decided By", required=True)
    decision = fields.Selection([("approve", "Approved"), ("reject", "Rejected")], required=True)
    comment = fields.Text()
    decided_at = fields.Datetime(required=True, default=fields.Datetime.now)
    manager_override = fields.Boolean(
        "Decided by a Manager", help="A Distribution Manager decided the request, stuck on an unreachable quorum."
    )
