from odoo import fields
from odoo import models


class ResCompany(models.Model):
    """The amounts over which purchases, inventory count adjustments and scraps wait for an approval
    (company currency; 0 turns the control off)."""

    _inherit = "res.company"

    distribution_purchase_approval_amount = fields.Monetary(
        "Purchase Approval Threshold",
        currency_field="currency_id",
        help="Purchase orders over this amount (company currency) are confirmed only once approved. 0: off.",
    )
    distribution_inventory_approval_amount = fields.Monetary(
        "Inventory Adjustment Approval Threshold",
        currency_field="currency_id",
        help="Inventory counts whose value change (|counted - on hand| x cost, summed over what is applied at "
        "once) is over this amount apply only once approved. 0: off.",
    )
    distribution_scrap_approval_amount = fields.Monetary(
        "Scrap Approval Threshold",
        currency_field="currency_id",
        help="Scraps worth more than this (quantity x cost) are done only once approved. 0: off.",
    )
    # The head of the company's audit chain, kept apart from the chain: removing its newest entries
    # leaves a chain that holds on its own, but no longer reaches this head.
    distribution_audit_head_sequence = fields.Integer("Audit Chain Length", readonly=True, copy=False)
    distribution_audit_head_hash = fields.Char("Audit Chain Head", readonly=True, copy=False)
