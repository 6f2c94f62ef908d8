from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import ValidationError

from ..services import replenishment


class DistributionReplenishmentProfile(models.Model):
    """How demand is measured and reorder levels are suggested, for a company, a warehouse and/or a product
    category: the most specific profile applies (warehouse and category, then warehouse, then category, the
    nearest parent category first, then the company's own). A company without any profile works with the
    defaults shown on a new profile."""

    _name = "distribution.replenishment.profile"
    _description = "Replenishment Profile"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    description = fields.Text(translate=True)
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    warehouse_id = fields.Many2one(
        "stock.warehouse", domain="[('company_id', '=', company_id)]", help="Empty: every warehouse."
    )
    categ_id = fields.Many2one(
        "product.category", "Product Category", help="Empty: every category; a category covers its children."
    )
    horizon_days = fields.Integer(
        "Past Horizon (days)",
        default=replenishment.DEFAULT_HORIZON_DAYS,
        help="Days of done customer deliveries (returns netted) the average daily usage is measured on.",
    )
    future_days = fields.Integer(
        "Future Horizon (days)",
        default=0,
        help="Days of confirmed demand of open sale orders blended into the average daily usage (0: none).",
    )
    future_weight = fields.Float(
        "Weight of the Future Demand",
        default=0.0,
        help="Between 0 and 1: the share of the future demand in the blended daily usage.",
    )
    safety_days = fields.Float(default=3.0, help="Days of usage kept above the lead time (days-of-cover formula).")
    cycle_days = fields.Float("Order Cycle (days)", default=14.0, help="Days of usage between the min and the max.")
    service_level = fields.Float(
        help="Share of replenishment cycles without a stock-out (0.5 to 0.9999). Set: the min is ADU x lead "
        "time + z x sigma x sqrt(lead time). Empty (0): the min is ADU x (lead time + safety days)."
    )
    tolerance_pct = fields.Float(
        "Tolerance (%)",
        default=replenishment.DEFAULT_TOLERANCE_PCT,
        help="A suggestion moving the min and the max by at most this share applies by itself; larger ones "
        "wait for a Distribution Manager.",
    )
    cover_days_threshold = fields.Float(
        "Low Cover (days)",
        default=5.0,
        help="Under this many days of cover, the low stock monitor raises an exception.",
    )

    aging_days = fields.Integer(
        "Aging Stock (days)",
        default=180,
        help="Stock received more than this many days ago is reported by the aging stock monitor (0: never).",
    )
    expiry_days = fields.Integer(
        "Expiry Warning (days)",
        default=30,
        help="Lots expiring within this many days are reported by the lot monitor (with Odoo's expiry dates).",
    )

    @api.constrains("horizon_days", "future_days", "future_weight", "safety_days", "cycle_days", "service_level")
    def _check_figures(self):
        for profile in self:
            if profile.horizon_days < 1 or profile.future_days < 0:
                raise ValidationError(self.env._("The past horizon is at least one day, the future one not negative."))
            if not 0 <= profile.future_weight <= 1:
                raise ValidationError(self.env._("The weight of the future demand is between 0 and 1."))
            if profile.safety_days < 0 or profile.cycle_days < 0 or profile.tolerance_pct < 0:
                raise ValidationError(self.env._("Safety days, order cycle and tolerance cannot be negative."))
            if profile.service_level and not 0.5 <= profile.service_level < 1:
                raise ValidationError(
                    self.env._("The service level is between 0.5 and 1 (excluded), or empty for days of cover.")
                )

    @api.model
    def _profile_for(self, company, warehouse, category, profiles=None):
        """The profile that applies to products of ``category`` in ``warehouse`` of ``company`` (an empty
        recordset: the defaults). ``profiles``: the company's active profiles, read once for a batch."""
        if profiles is None:
            profiles = self.search([("company_id", "=", company.id)])
        lineage = []
        while category:
            lineage.append(category)
            category = category.parent_id
        best, best_rank = self.browse(), None
        for profile in profiles.filtered(lambda p: p.company_id == company):
            if profile.warehouse_id and profile.warehouse_id != warehouse:
                continue
            if profile.categ_id and profile.categ_id not in lineage:
                continue
            # A warehouse beats a category, a nearer category a farther one, then the sequence.
            depth = lineage.index(profile.categ_id) if profile.categ_id else len(lineage) + 1
            rank = (0 if profile.warehouse_id else 1, depth, profile.sequence, profile.id)
            if best_rank is None or rank < best_rank:
                best, best_rank = profile, rank
        return best

    def _settings(self):
        """The figures of this profile (or the defaults, for an empty recordset), as a dict."""
        if not self:
            defaults = self.default_get(
                ["horizon_days", "future_days", "future_weight", "safety_days", "cycle_days", "tolerance_pct"]
            )
            return dict(
                defaults, service_level=None, cover_days_threshold=5.0, aging_days=180, expiry_days=30, profile_id=False
            )
        self.ensure_one()
        return {
            "horizon_days": self.horizon_days,
            "future_days": self.future_days,
            "future_weight": self.future_weight,
            "safety_days": self.safety_days,
            "cycle_days": self.cycle_days,
            "service_level": self.service_level or None,
            "tolerance_pct": self.tolerance_pct,
            "cover_days_threshold": self.cover_days_threshold,
            "aging_days": self.aging_days,
            "expiry_days": self.expiry_days,
            "profile_id": self.id,
        }
