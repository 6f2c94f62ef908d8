from odoo import fields
from odoo import models


class DistributionApprovalEscalation(models.Model):
    """One escalation level of a tier: so many hours after the tier's deadline, this person is added to
    its approvers and told once."""

    _name = "distribution.approval.escalation"
    _inherit = ["distribution.audit.mixin"]
    # Audited as a part of its tier (and so of the rule).
    _audit_parent = "tier_id"
    _description = "Approval Escalation Level"
    _order = "tier_id, delay_hours, id"

    tier_id = fields.Many2one("distribution.approval.tier", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="tier_id.company_id", store=True)
    delay_hours = fields.Float("After Deadline (hours)", help="0: as soon as the tier is overdue.")
    user_id = fields.Many2one("res.users", "Escalate To", required=True, domain=[("share", "=", False)])
