from odoo import api
from odoo import fields
from odoo import models
from odoo.addons.distribution_observability.services import domains
from odoo.exceptions import ValidationError
from odoo.tools.safe_eval import safe_eval

from ..services import approval

REQUEST_TYPES = [
    ("discount", "Discount"),
    ("price_exception", "Price exception"),
    ("margin_exception", "Margin exception"),
    ("credit_exception", "Credit exception"),
    ("rush_shipment", "Rush shipment"),
    ("emergency_purchase", "Emergency purchase"),
    ("vendor_change", "Vendor change"),
    ("inventory_adjustment", "Inventory adjustment"),
    ("scrap_write_off", "Scrap / write-off"),
    ("reorder_rule_change", "Reorder rule change"),
    ("lead_time_change", "Vendor lead time change"),
    ("custom", "Custom"),
]
APPROVER_GROUP = "distribution_approvals.group_distribution_approver"


class DistributionApprovalRule(models.Model):
    """A line of the approval matrix: for a request type and the conditions it applies under (amount band,
    categories, customer tags, warehouses, extra domain), the ordered tiers that must approve, and the
    amount under which a request is approved at once (still recorded). The first matching rule, by
    sequence, governs a request."""

    _name = "distribution.approval.rule"
    _inherit = ["distribution.audit.mixin"]
    _description = "Approval Rule"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    description = fields.Text(translate=True, help="What the rule governs and why, for whoever tunes it.")
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    request_type = fields.Selection(REQUEST_TYPES, required=True, default="discount", index=True)
    # Bounds, not quantities: never summed in a grouped list.
    amount_min = fields.Monetary(
        "Amount From",
        currency_field="currency_id",
        aggregator=False,
        help="Included, in the company currency; 0: no minimum.",
    )
    amount_max = fields.Monetary(
        "Amount To",
        currency_field="currency_id",
        aggregator=False,
        help="Excluded, in the company currency; 0: no maximum.",
    )
    product_category_ids = fields.Many2many(
        "product.category", string="Product Categories", help="Only documents with a product of these categories."
    )
    partner_category_ids = fields.Many2many(
        "res.partner.category", string="Customer Tags", help="Only partners with one of these tags (segments)."
    )
    warehouse_ids = fields.Many2many("stock.warehouse", string="Warehouses", help="Empty: all warehouses.")
    apply_domain = fields.Char(
        "Extra Condition", default="[]", help="A domain on the source document (e.g. a sales team); [] for all."
    )
    auto_approve_below = fields.Monetary(
        "Auto-approve Below",
        currency_field="currency_id",
        aggregator=False,
        help="Requests under this amount are approved at once, and recorded like the others. 0: never.",
    )
    four_eyes = fields.Boolean(default=True, help="One person may approve at most one tier of a request.")
    tier_ids = fields.One2many("distribution.approval.tier", "rule_id", "Tiers", copy=True)
    request_count = fields.Integer(compute="_compute_request_count")

    @api.constrains("amount_min", "amount_max")
    def _check_amounts(self):
        for rule in self:
            if rule.amount_max and rule.amount_max <= rule.amount_min:
                raise ValidationError(
                    self.env._("Rule %s: 'Amount To' must be above 'Amount From' (or 0 for no maximum).", rule.name)
                )

    @api.constrains("apply_domain")
    def _check_apply_domain(self):
        for rule in self:
            try:
                domain = rule._domain()
                if not isinstance(domain, list):
                    raise ValueError(self.env._("a domain is a list"))
            except Exception as exc:
                raise ValidationError(
                    self.env._(
                        "Extra condition of rule %(rule)s is not a valid domain: %(error)s", rule=rule.name, error=exc
                    )
                ) from exc

    def _compute_request_count(self):
        counts = dict(
            self.env["distribution.approval.request"]._read_group(
                [("rule_id", "in", self.ids)], ["rule_id"], ["__count"]
            )
        )
        for rule in self:
            rule.request_count = counts.get(rule, 0)

    def _domain(self):
        return safe_eval(
            self.apply_domain or "[]",
            domains.eval_context(self.env.uid, self.env.context.get("tz") or self.env.user.tz),
        )

    @api.model
    def _select(self, request_type, record, amount, company, facts=None):
        """The rule governing a request of ``request_type`` on ``record`` for ``amount`` (company
        currency): the first active rule of the company, by sequence, whose conditions all hold.
        ``facts`` may carry what the conditions look at: ``categories`` (product.category), ``partner``
        and ``warehouse``; they are read from the record when absent."""
        facts = dict(self._facts(record), **(facts or {}))
        rules = self.search([("request_type", "=", request_type), ("company_id", "=", company.id)])
        for rule in rules:
            if rule._matches(record, amount, facts):
                return rule
        return self.browse()

    def _matches(self, record, amount, facts):
        self.ensure_one()
        if not approval.amount_in_band(amount, self.amount_min, self.amount_max):
            return False
        if self.product_category_ids:
            categories = facts.get("categories") or self.env["product.category"]
            # A category rule also covers the sub-categories.
            if not any(
                categ.parent_path.startswith(tuple(self.product_category_ids.mapped("parent_path")))
                for categ in categories
            ):
                return False
        if self.partner_category_ids:
            partner = facts.get("partner") or self.env["res.partner"]
            if not (partner.category_id | partner.commercial_partner_id.category_id) & self.partner_category_ids:
                return False
        warehouse = facts.get("warehouse") or self.env["stock.warehouse"]
        if self.warehouse_ids and not warehouse & self.warehouse_ids:
            return False
        domain = self._domain()
        return not domain or bool(record.filtered_domain(domain))

    @api.model
    def _facts(self, record):
        """What the conditions look at, read from a source document of any model."""
        facts = {"categories": self.env["product.category"], "partner": self.env["res.partner"], "warehouse": None}
        if "partner_id" in record._fields:
            facts["partner"] = record.partner_id
        if "warehouse_id" in record._fields:
            facts["warehouse"] = record.warehouse_id
        elif "picking_type_id" in record._fields and record.picking_type_id:
            facts["warehouse"] = record.picking_type_id.warehouse_id
        elif "location_id" in record._fields and record.location_id:
            facts["warehouse"] = record.location_id.warehouse_id
        for lines_field in ("order_line", "move_ids"):
            if lines_field in record._fields:
                facts["categories"] = record[lines_field].product_id.categ_id
                break
        else:
            if "product_id" in record._fields:
                facts["categories"] = record.product_id.categ_id
        return facts

    def action_open_requests(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_approvals.distribution_approval_request_action"
        )
        action["domain"] = [("rule_id", "=", self.id)]
        action["context"] = {}
        return action
