from odoo import api
from odoo import fields
from odoo import models


class DistributionSlaTier(models.Model):
    """A service level sold to customers (gold, silver, bronze ...): how fast their orders should ship
    and how much they weigh in the dispatch score."""

    _name = "distribution.sla.tier"
    _description = "SLA Tier"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    target_hours = fields.Float(
        "Target Hours to Ship",
        default=48.0,
        required=True,
        help="Time promised to ship an order of these customers; the tighter, the higher their dispatch score.",
    )
    weight = fields.Float(
        default=1.0,
        required=True,
        digits=(16, 2),
        help="Multiplies the dispatch score of these customers' orders: 1 is neutral, 1.5 is 50% more urgent.",
    )
    active = fields.Boolean(default=True)
    description = fields.Text(translate=True)
    partner_count = fields.Integer("Customers", compute="_compute_partner_count")

    _sql_constraints = [
        ("target_hours_positive", "CHECK(target_hours >= 0)", "The target hours to ship cannot be negative."),
        ("weight_positive", "CHECK(weight > 0)", "The weight of an SLA tier must be positive."),
    ]

    def _compute_partner_count(self):
        counts = dict(
            self.env["res.partner"]._read_group(
                [("distribution_sla_tier_id", "in", self.ids)],
                ["distribution_sla_tier_id"],
                ["__count"],
            )
        )
        for tier in self:
            tier.partner_count = counts.get(tier, 0)

    @api.depends("name", "target_hours")
    def _compute_display_name(self):
        for tier in self:
            tier.display_name = self.env._(
                "%(name)s (%(hours)s h)", name=tier.name or "", hours=format(tier.target_hours, "g")
            )

    def action_open_partners(self):
        """The customers of this tier."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Customers of %s", self.name),
            "res_model": "res.partner",
            "view_mode": "list,form",
            "domain": [("distribution_sla_tier_id", "=", self.id)],
            "context": {"default_distribution_sla_tier_id": self.id},
        }
