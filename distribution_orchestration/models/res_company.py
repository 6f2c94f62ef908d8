from odoo import fields
from odoo import models


class ResCompany(models.Model):
    """How supplier lead times are learned from receipts, and when a vendor drifts; the thresholds of the
    pattern monitors (repeated backorders, margin erosion from rush shipments)."""

    _inherit = "res.company"

    distribution_lead_time_receipts = fields.Integer(
        "Receipts Learned From",
        default=10,
        help="The lead time of a vendor (and of each of its products) is learned from its last receipts.",
    )
    distribution_lead_time_drift_pct = fields.Float(
        "Drift (%)",
        default=25.0,
        help="A vendor drifts when its learned median lead time differs from the "
        "planned one by more than this share and by more than the drift days.",
    )
    distribution_lead_time_drift_days = fields.Float("Drift (days)", default=3.0)
    distribution_lead_time_tolerance_pct = fields.Float(
        "Lead Time Tolerance (%)",
        default=20.0,
        help="Applying a learned lead time that moves the vendor delay by more than this share needs a "
        "Distribution Manager.",
    )
    distribution_backorder_pattern_count = fields.Integer(
        "Repeated Backorders",
        default=3,
        help="This many customer backorders of one product category within the window raise one exception.",
    )
    distribution_backorder_pattern_days = fields.Integer("Backorder Window (days)", default=30)
    distribution_rush_margin_pattern_count = fields.Integer(
        "Rush Orders under the Margin Floor",
        default=2,
        help="This many orders of one customer in one month whose margin, once the rush shipment's cost is "
        "counted, falls under the margin floor raise one exception for the customer, listing the orders.",
    )
    distribution_aging_cursor = fields.Integer(
        "Aging Monitor Cursor",
        readonly=True,
        groups="base.group_system",
        help="Technical: the last product the aging stock monitor worked in its pass under way (0: none).",
    )
