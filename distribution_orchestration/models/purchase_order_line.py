from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo.addons.distribution_observability.services import verbs
from odoo.exceptions import AccessError

RISK = "distribution_supply_risk"
RISK_FIELDS = ("distribution_expected_date", "distribution_at_risk", "distribution_risk_sale_ids")
SOURCE = "supply_at_risk"
# A learned lead time counts once learned from this many receipts (as in the reorder suggestions).
LEARNED_MIN_RECEIPTS = 3


class PurchaseOrderLine(models.Model):
    """An open purchase line's expected receipt date from the vendor's learned lead time (not only its
    promise), and the customer orders whose need date it misses: those waiting on its moves (make to order,
    the moves Odoo links), and those of the same product in the same warehouse waiting for stock (not
    reserved) when the link is indirect. Refreshed by a scheduled action; the figures are the system's."""

    _inherit = "purchase.order.line"

    distribution_expected_date = fields.Datetime(
        "Expected Receipt",
        readonly=True,
        help="The later of the vendor's promise and confirmation + learned lead time.",
    )
    distribution_at_risk = fields.Boolean("Supply at Risk", readonly=True, index=True)
    distribution_risk_sale_ids = fields.Many2many(
        "sale.order", string="Customer Orders at Risk", readonly=True, copy=False
    )

    def write(self, vals):
        if self and any(name in vals for name in RISK_FIELDS) and not verbs.inside(RISK, self):
            raise AccessError(self.env._("The supply risk of a purchase line is computed, not written."))
        return super().write(vals)

    # -- the scheduled action ---------------------------------------------------------------------
    @api.model
    def _cron_supply_risk(self, batch_size=200):
        """Check the open purchase orders not checked in the last 50 minutes, a batch of orders per call (the
        least recently checked first), each a tracked run per company: flag the lines at risk, raise a
        supply_risk exception on each customer order they threaten (resolved when the threat is gone), and
        emit ``purchase.at_risk`` when a line becomes at risk."""
        Order = self.env["purchase.order"]
        orders = Order.search(
            [
                ("state", "=", "purchase"),
                "|",
                ("distribution_risk_checked_at", "=", False),
                ("distribution_risk_checked_at", "<", fields.Datetime.now() - timedelta(minutes=50)),
            ],
            order="distribution_risk_checked_at asc nulls first, id",
            limit=batch_size,
        )
        for company in orders.company_id:
            company_orders = orders.filtered(lambda o, c=company: o.company_id == c)
            with self.env["distribution.workflow.run"].with_company(company).track("supply_risk") as run:
                flagged = company_orders.with_company(company)._distribution_check_supply_risk()
                run.message = self.env._(
                    "%(count)s purchase orders checked, %(lines)s lines at risk.",
                    count=len(company_orders),
                    lines=len(flagged),
                )
        self.env["ir.cron"]._notify_progress(done=len(orders), remaining=batch_size if len(orders) >= batch_size else 0)
        return orders

    @api.model
    def _distribution_learned_days(self, company, pairs):
        """{(vendor id, product id or None): median days} learned from enough receipts."""
        vendors = list({vendor for vendor, _product in pairs})
        lines = (
            self.env["distribution.vendor.lead.time"]
            .sudo()
            .search(
                [
                    ("company_id", "=", company.id),
                    ("partner_id", "in", vendors),
                    ("receipt_count", ">=", LEARNED_MIN_RECEIPTS),
                ]
            )
        )
        return {(line.partner_id.id, line.product_id.id or None): line.median_days for line in lines}

    def _distribution_expected(self, learned):
        """The expected receipt date of this line."""
        self.ensure_one()
        vendor = self.order_id.partner_id.commercial_partner_id.id
        days = learned.get((vendor, self.product_id.id), learned.get((vendor, None)))
        promise = self.date_planned
        if days is None:
            return promise
        confirmed = self.order_id.date_approve or self.order_id.date_order
        return max(promise, confirmed + timedelta(days=days)) if promise else confirmed + timedelta(days=days)

    def _distribution_waiting_orders(self):
        """{sale order: need date} of the customer orders waiting on this line: through its moves (make to
        order), or, indirect, the open deliveries of the product from the same warehouse still waiting for
        stock."""
        self.ensure_one()
        waiting = {}
        moves = self.move_ids.filtered(lambda m: m.state not in ("done", "cancel"))
        linked = moves.move_dest_ids | moves.move_dest_ids.move_dest_ids
        for move in linked.filtered(lambda m: m.sale_line_id and m.state not in ("done", "cancel")):
            order = move.sale_line_id.order_id
            waiting[order] = order.commitment_date or move.date
        warehouse = self.order_id.picking_type_id.warehouse_id
        if warehouse:
            # sudo: the deliveries of the warehouse are read for the check, whoever runs it.
            indirect = (
                self.env["stock.move"]
                .sudo()
                .search(
                    [
                        ("product_id", "=", self.product_id.id),
                        ("state", "in", ("confirmed", "partially_available")),
                        ("sale_line_id", "!=", False),
                        ("picking_type_id.code", "=", "outgoing"),
                        ("picking_type_id.warehouse_id", "=", warehouse.id),
                        ("procure_method", "=", "make_to_stock"),
                    ]
                )
            )
            for move in indirect:
                order = move.sale_line_id.order_id.with_env(self.env)
                waiting.setdefault(order, order.commitment_date or move.date)
        return waiting

    def _distribution_emit_at_risk(self, expected, orders):
        """``purchase.at_risk`` for the orchestration layer: the line, its promise, its expected date and the
        customer orders it threatens."""
        self.ensure_one()
        return self.env["distribution.outbound.event"]._emit(
            "purchase.at_risk",
            self.order_id,
            {
                "purchase_order": self.order_id.name,
                "vendor": self.order_id.partner_id.display_name,
                "product": self.product_id.default_code or self.product_id.display_name,
                "quantity": self.product_qty - self.qty_received,
                "promised_date": fields.Datetime.to_string(self.date_planned),
                "expected_date": fields.Datetime.to_string(expected),
                "sale_orders": [
                    {
                        "name": order.name,
                        "need_date": fields.Datetime.to_string(order.commitment_date or order.expected_date),
                    }
                    for order in orders
                ],
            },
        )

    def _distribution_flag(self, expected, orders):
        with verbs.server_verb(RISK, self):
            # sudo: the system's figures, written by the check whoever runs it.
            self.sudo().write(
                {
                    "distribution_expected_date": expected,
                    "distribution_at_risk": bool(orders),
                    "distribution_risk_sale_ids": [fields.Command.set(orders.ids)],
                }
            )


class PurchaseOrder(models.Model):
    _inherit = "purchase.order"

    distribution_risk_checked_at = fields.Datetime(readonly=True, copy=False)
    distribution_at_risk = fields.Boolean(
        "Supply at Risk", compute="_compute_distribution_at_risk", search="_search_distribution_at_risk"
    )

    @api.depends("order_line.distribution_at_risk")
    def _compute_distribution_at_risk(self):
        for order in self:
            order.distribution_at_risk = any(order.order_line.mapped("distribution_at_risk"))

    def _search_distribution_at_risk(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise NotImplementedError(self.env._("Search on Supply at Risk with = True or = False."))
        positive = (operator == "=") == value
        return (
            [("order_line.distribution_at_risk", "=", True)]
            if positive
            else [("order_line.distribution_at_risk", "!=", True)]
        )

    def _distribution_check_supply_risk(self):
        """Check these open purchase orders (one company): answers the lines found at risk."""
        Line = self.env["purchase.order.line"]
        Exception_ = self.env["distribution.exception"]
        company = self.company_id[:1]
        lines = self.order_line.filtered(
            lambda line: not line.display_type and line.product_id.is_storable and line.qty_received < line.product_qty
        )
        learned = Line._distribution_learned_days(
            company, {(line.order_id.partner_id.commercial_partner_id.id, line.product_id.id) for line in lines}
        )
        at_risk = Line
        for order in self:
            threatened = {}
            for line in lines.filtered(lambda pol, o=order: pol.order_id == o):
                expected = line._distribution_expected(learned)
                orders = self.env["sale.order"]
                for sale, need in line._distribution_waiting_orders().items():
                    if expected and need and expected > need:
                        orders |= sale
                        threatened.setdefault(sale, []).append((line, expected, need))
                was_at_risk = line.distribution_at_risk
                line._distribution_flag(expected, orders)
                if orders:
                    at_risk |= line
                    if not was_at_risk:
                        line._distribution_emit_at_risk(expected, orders)
            source_key = f"{SOURCE}:{order.id}"
            for sale, items in threatened.items():
                latest = max(expected for _line, expected, _need in items)
                Exception_._raise_for(
                    sale,
                    source_key,
                    "supply_risk",
                    self.env._(
                        "Needed by %(need)s, but purchase order %(po)s of %(vendor)s is expected on %(expected)s "
                        "(%(products)s; the vendor's learned lead time, not only its promise). Expedite the "
                        "purchase, source elsewhere or agree a new date with the customer.",
                        need=fields.Datetime.to_string(min(need for _l, _e, need in items)),
                        po=order.name,
                        vendor=order.partner_id.display_name,
                        expected=fields.Datetime.to_string(latest),
                        products=", ".join(sorted({line.product_id.display_name for line, _e, _n in items})),
                    ),
                    severity="high",
                    values={
                        "purchase_order": order.name,
                        "expected_date": fields.Datetime.to_string(latest),
                        "need_date": fields.Datetime.to_string(min(need for _l, _e, need in items)),
                    },
                )
            # The customer orders this purchase order no longer threatens.
            stale = Exception_.sudo().search(
                [
                    ("source_key", "=", source_key),
                    ("res_model", "=", "sale.order"),
                    ("res_id", "not in", [sale.id for sale in threatened]),
                    ("state", "not in", ("resolved", "dismissed")),
                ]
            )
            stale._mark_resolved(self.env._("Purchase order %s no longer threatens this order.", order.name), auto=True)
        # sudo: the check's own bookkeeping.
        self.sudo().write({"distribution_risk_checked_at": fields.Datetime.now()})
        return at_risk
