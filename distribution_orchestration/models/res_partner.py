from odoo import fields
from odoo import models


class ResPartner(models.Model):
    _inherit = "res.partner"

    distribution_backorder_policy = fields.Selection(
        [("ship_partial", "Ship partial"), ("ship_complete", "Ship complete"), ("ask", "Ask the customer")],
        string="Backorder Policy",
        default="ship_partial",
        help="What to do when an order cannot ship complete: ship what is available and backorder the rest, "
        "wait and ship everything at once, or hold the order until the customer says.",
    )
    distribution_sla_tier_id = fields.Many2one(
        "distribution.sla.tier",
        string="SLA Tier",
        help="Service level promised to this customer: drives dispatch priority.",
    )
