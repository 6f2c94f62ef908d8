from odoo import fields
from odoo import models

# The approval request type asked for by a failing rule of each type.
REQUEST_TYPE_OF_RULE = {
    "credit_limit": "credit_exception",
    "discount_ceiling": "discount",
    "price_below_pricelist": "price_exception",
    "margin_floor": "margin_exception",
    "rush_shipment": "rush_shipment",
}


class DistributionValidationRule(models.Model):
    """Order validation rules gain the outcome "Require approval": a failing order is held and an
    approval request of the matching type is made; its approval releases the order."""

    _name = "distribution.validation.rule"
    # Changes of the rules are recorded in the audit trail.
    _inherit = ["distribution.validation.rule", "distribution.audit.mixin"]

    outcome = fields.Selection(
        selection_add=[("approval", "Require approval")],
        ondelete={"approval": "set hold"},
        help="Note: recorded on the order. Warn: recorded and shown, the order confirms. "
        "Hold: the order stays unconfirmed until the exception is resolved. "
        "Require approval: the order is held and an approval request is made (approval matrix); "
        "its approval releases the order, its rejection keeps it held.",
    )

    def _approval_request_type(self):
        """The approval request type this rule asks for when it fails."""
        self.ensure_one()
        return REQUEST_TYPE_OF_RULE.get(self.rule_type, "custom")
