from odoo import api
from odoo import fields
from odoo import models
from odoo.addons.distribution_observability.services import domains
from odoo.exceptions import ValidationError
from odoo.tools.safe_eval import safe_eval

RULE_TYPES = [
    ("credit_limit", "Credit limit"),
    ("stock_availability", "Stock availability"),
    ("margin_floor", "Margin floor"),
    ("discount_ceiling", "Discount ceiling"),
    ("price_below_pricelist", "Price below pricelist"),
    ("date_feasibility", "Date feasibility"),
    ("rush_shipment", "Rush shipment"),
    ("custom", "Custom condition"),
]
# The exception category a failing rule raises.
CATEGORY_OF_TYPE = {
    "credit_limit": "credit",
    "stock_availability": "stock_shortage",
    "margin_floor": "margin",
    "discount_ceiling": "discount",
    "price_below_pricelist": "pricing",
    "date_feasibility": "date_infeasible",
    "rush_shipment": "rush",
    "custom": "other",
}


class DistributionValidationRule(models.Model):
    """A check run on sales orders at confirmation: what it checks, where it applies, and what a
    failure does (a note, a warning, or a hold that keeps the order unconfirmed)."""

    _name = "distribution.validation.rule"
    _description = "Order Validation Rule"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    description = fields.Text(translate=True, help="What the rule checks and why, for whoever tunes it.")
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    rule_type = fields.Selection(RULE_TYPES, required=True, default="credit_limit")
    outcome = fields.Selection(
        [("note", "Note"), ("warn", "Warn"), ("hold", "Hold")],
        required=True,
        default="hold",
        help="Note: recorded on the order. Warn: recorded and shown, the order confirms. "
        "Hold: the order stays unconfirmed until the exception is resolved.",
    )
    severity = fields.Selection(
        [("low", "Low"), ("medium", "Medium"), ("high", "High"), ("critical", "Critical")],
        default="medium",
        required=True,
    )
    # Parameters.
    margin_floor_pct = fields.Float("Margin Floor (%)", default=15.0)
    discount_ceiling_pct = fields.Float("Discount Ceiling (%)", default=10.0)
    pricelist_tolerance_pct = fields.Float("Tolerance under Pricelist (%)")
    rush_hours = fields.Float("Rush under (hours)", default=24.0)
    custom_domain = fields.Char(
        default="[]", help="Custom condition: orders matching this domain fail the rule (e.g. amount over 50,000)."
    )
    shortage_action = fields.Selection(
        [("propose", "Propose only"), ("apply", "Apply the proposal")],
        default="propose",
        required=True,
        help="Stock availability: apply the proposal automatically (switch to the alternate warehouse, "
        "set partial or complete delivery after the customer's backorder policy), or only show it.",
    )
    # Where it applies.
    partner_category_ids = fields.Many2many(
        "res.partner.category", string="Customer Tags", help="Only for customers with one of these tags (empty: all)."
    )
    warehouse_ids = fields.Many2many("stock.warehouse", string="Warehouses", help="Empty: all warehouses.")
    product_category_ids = fields.Many2many(
        "product.category",
        string="Product Categories",
        help="Margin, discount and price rules look at the lines of these categories (empty: all lines).",
    )
    amount_min = fields.Float("Order Amount From", help="In the company currency; 0: no minimum.")
    amount_max = fields.Float("Order Amount To", help="In the company currency; 0: no maximum.")
    apply_domain = fields.Char("Extra Condition", default="[]", help="Only orders matching this domain.")

    @api.constrains("custom_domain", "apply_domain")
    def _check_domains(self):
        Order = self.env["sale.order"]
        for rule in self:
            for name in ("custom_domain", "apply_domain"):
                try:
                    Order.search_count(rule._domain(name), limit=1)
                except Exception as exc:
                    raise ValidationError(
                        self.env._(
                            "%(field)s of rule %(rule)s is not a valid domain: %(error)s",
                            field=rule._fields[name].string,
                            rule=rule.name,
                            error=exc,
                        )
                    ) from exc

    def _domain(self, field_name):
        return safe_eval(
            self[field_name] or "[]",
            domains.eval_context(self.env.uid, self.env.context.get("tz") or self.env.user.tz),
        )

    @property
    def category(self):
        return CATEGORY_OF_TYPE[self.rule_type]

    def _applicable(self, orders):
        """The orders of ``orders`` this rule applies to (in memory, except the extra domain)."""
        self.ensure_one()
        result = orders.filtered(lambda o: o.company_id == self.company_id)
        if self.partner_category_ids:
            result = result.filtered(
                lambda o: o.partner_id.commercial_partner_id.category_id & self.partner_category_ids
                or o.partner_id.category_id & self.partner_category_ids
            )
        if self.warehouse_ids:
            result = result.filtered(lambda o: o.warehouse_id in self.warehouse_ids)
        if self.amount_min or self.amount_max:
            result = result.filtered(
                lambda o: (not self.amount_min or o._distribution_company_amount() >= self.amount_min)
                and (not self.amount_max or o._distribution_company_amount() <= self.amount_max)
            )
        domain = self._domain("apply_domain")
        if domain and result:
            result = result.filtered_domain(domain)
        return result

    def _lines(self, order):
        """Order lines the rule looks at: products of its categories (all when none)."""
        lines = order.order_line.filtered(lambda line: line.product_id and not line.display_type)
        if self.product_category_ids:
            lines = lines.filtered(lambda line: line.product_id.categ_id in self.product_category_ids)
        return lines
