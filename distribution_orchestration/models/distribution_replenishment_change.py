from odoo import fields
from odoo import models


class DistributionReplenishmentChange(models.Model):
    """One application of a reorder suggestion: the min and max before and after, what produced them, and
    who applied it (the scheduled action within the tolerance, a manager above it). Written by the
    suggestion's own verb only; nobody edits or deletes it."""

    _name = "distribution.replenishment.change"
    _description = "Reorder Rule Change"
    _order = "id desc"

    orderpoint_id = fields.Many2one("stock.warehouse.orderpoint", "Reordering Rule", ondelete="set null", index=True)
    product_id = fields.Many2one("product.product", required=True, index=True)
    warehouse_id = fields.Many2one("stock.warehouse")
    company_id = fields.Many2one("res.company", required=True, index=True)
    old_min = fields.Float("Min before", digits="Product Unit of Measure")
    old_max = fields.Float("Max before", digits="Product Unit of Measure")
    new_min = fields.Float("Min after", digits="Product Unit of Measure")
    new_max = fields.Float("Max after", digits="Product Unit of Measure")
    change_pct = fields.Float("Change (%)", help="The larger move of the min and the max, in percent.")
    adu = fields.Float("ADU", digits="Product Unit of Measure", help="The average daily usage it was made from.")
    lead_days = fields.Float("Lead Time (days)")
    method = fields.Selection([("days", "Days of cover"), ("service", "Service level")])
    mode = fields.Selection(
        [("auto", "Automatic (within tolerance)"), ("manual", "Applied by a person"), ("approved", "Approved")],
        required=True,
    )
    user_id = fields.Many2one("res.users", "Applied by", required=True)
