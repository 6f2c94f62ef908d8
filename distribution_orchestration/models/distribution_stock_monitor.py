from collections import defaultdict
from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo.tools import SQL

from ..services import replenishment
from ..services import validation
from .stock_picking import URGENT_PRIORITY

LOW_STOCK = "low_stock_monitor"
AGING = "aging_stock_monitor"
LATE = "late_transfer_monitor"
LOTS = "lot_monitor"
BACKORDERS = "backorder_pattern"
RUSH_MARGIN = "rush_margin_erosion"
# One advisory lock space for the aging monitor's batches: two workers never work one company at once.
AGING_LOCK_SPACE = 5_120_207


class DistributionStockMonitor(models.AbstractModel):
    """The stock monitors, each a scheduled action: low stock (days of cover under the profile's threshold),
    aging stock, late transfers and lots near or past their expiry. Each raises its exceptions through the
    exception API (one open per source and document, updated on each pass) and resolves them when their
    condition clears. Each pass works a batch and is a tracked run; a full batch asks for the next one,
    so a pass is resumable and committed batch by batch. Odoo runs one scheduled action on one worker at a
    time (its job row is locked), and raising is idempotent (a unique index on the open exceptions)."""

    _name = "distribution.stock.monitor"
    _description = "Distribution Stock Monitors"

    def _profiles(self, company):
        Profile = self.env["distribution.replenishment.profile"]
        return Profile, Profile.search([("company_id", "=", company.id)])

    # -- low stock ----------------------------------------------------------------------------------
    @api.model
    def _cron_low_stock(self, batch_size=500):
        """Days of cover (free quantity in the warehouse / ADU) of the automatic and proposed rules, the least
        recently checked first, each rule's free quantity and whether it is under its min written on it (the
        dashboard counts them); for a rule with a demand under the profile's threshold, a low_stock exception
        with its suggested replenishment; back above it, resolved."""
        Orderpoint = self.env["stock.warehouse.orderpoint"]
        rules = Orderpoint.search(
            [
                "|",
                ("trigger", "=", "auto"),
                ("distribution_proposed", "=", True),
                "|",
                ("distribution_cover_checked_at", "=", False),
                ("distribution_cover_checked_at", "<", fields.Datetime.now() - timedelta(minutes=50)),
            ],
            order="distribution_cover_checked_at asc nulls first, id",
            limit=batch_size,
        )
        Exception_ = self.env["distribution.exception"]
        raised = 0
        for company in rules.company_id:
            Profile, profiles = self._profiles(company)
            company_rules = rules.filtered(lambda rule, c=company: rule.company_id == c)
            with self.env["distribution.workflow.run"].with_company(company).track("stock_monitor") as run:
                free = company_rules._distribution_free_quantities()
                to_raise, to_resolve = [], defaultdict(list)  # the batch's, raised and resolved at once
                for rule in company_rules:
                    settings = Profile._profile_for(company, rule.warehouse_id, rule.product_id.categ_id, profiles)
                    threshold = settings._settings()["cover_days_threshold"]
                    quantity = free[(rule.product_id.id, rule.warehouse_id.id)]
                    cover = replenishment.days_of_cover(quantity, rule.distribution_adu)
                    rule._distribution_write_cover(cover, quantity)
                    if cover is not None and cover < threshold:
                        raised += 1
                        to_raise.append(
                            {
                                "record": rule,
                                "source_key": LOW_STOCK,
                                "category": "low_stock",
                                "message": self.env._(
                                    "%(product)s in %(warehouse)s: %(cover)s days of cover (free %(free)s, %(adu)s "
                                    "a day), under %(threshold)s days. Suggested: min %(min)s, max %(max)s; on "
                                    "order or on its way, see Replenishment.",
                                    product=rule.product_id.display_name,
                                    warehouse=rule.warehouse_id.name,
                                    cover=cover,
                                    free=quantity,
                                    adu=round(rule.distribution_adu, 2),
                                    threshold=threshold,
                                    min=rule.distribution_suggested_min,
                                    max=rule.distribution_suggested_max,
                                ),
                                "severity": "high" if cover < threshold / 2 else "medium",
                                "values": {
                                    "days_of_cover": cover,
                                    "free_qty": quantity,
                                    "adu": rule.distribution_adu,
                                    "suggested_min": rule.distribution_suggested_min,
                                    "suggested_max": rule.distribution_suggested_max,
                                },
                            }
                        )
                    else:
                        to_resolve[threshold].append(rule.id)
                Exception_.with_company(company)._raise_many(to_raise)
                for threshold, rule_ids in to_resolve.items():
                    Exception_._resolve_for(
                        rules.browse(rule_ids), [LOW_STOCK], self.env._("Back to %s days of cover or more.", threshold)
                    )
                run.message = self.env._(
                    "Low stock: %(count)s rules checked, %(raised)s under their cover.",
                    count=len(company_rules),
                    raised=raised,
                )
        self._notify(rules, batch_size)
        return rules

    # -- aging stock --------------------------------------------------------------------------------
    @api.model
    def _cron_aging_stock(self, batch_size=500):
        """Stock received longer ago than the profile's aging days, per product and warehouse, with its value
        at cost: one aging_stock exception per product of a warehouse, resolved when that stock is gone.
        A batch of ``batch_size`` products per company and call, in product id order from the company's cursor
        (the last product worked, 0 when no pass is under way), in one grouped query: a full batch asks for the
        next one, so a pass is resumable and committed batch by batch; the exceptions of the products of the
        batch's id range (past the last product, at the end of the pass) whose aging stock is gone are resolved
        with it. A company's batch is taken under an advisory lock: two workers never work one company at
        once. Answers the products worked."""
        Exception_ = self.env["distribution.exception"]
        self.env["stock.quant"].flush_model(["quantity", "in_date", "location_id", "product_id", "company_id"])
        self.env["stock.location"].flush_model(["usage", "warehouse_id"])
        now = fields.Datetime.now()
        worked = self.env["product.product"]
        more = False
        for company in self.env["res.company"].search([]):
            # Raw SQL: a transaction-scoped advisory lock, which the ORM has no word for.
            self.env.cr.execute(SQL("SELECT pg_try_advisory_xact_lock(%s, %s)", AGING_LOCK_SPACE, company.id))
            if not self.env.cr.fetchone()[0]:
                continue  # another worker is on this company's batch
            Profile, profiles = self._profiles(company)
            oldest = min([p.aging_days for p in profiles if p.aging_days] or [180])
            # sudo: the monitor's own cursor, a technical field of the company.
            cursor = company.sudo().distribution_aging_cursor
            aged = SQL(
                """
                loc.usage = 'internal' AND loc.warehouse_id IS NOT NULL AND quant.company_id = %s
                AND quant.quantity > 0 AND quant.in_date < %s
                """,
                company.id,
                now - timedelta(days=oldest),
            )
            # Raw SQL: the next batch of products with old stock, then their quantities and oldest incoming
            # dates per product and warehouse, in one grouped query.
            self.env.cr.execute(
                SQL(
                    """
                    WITH batch AS (
                        SELECT DISTINCT quant.product_id
                          FROM stock_quant quant JOIN stock_location loc ON loc.id = quant.location_id
                         WHERE %(aged)s AND quant.product_id > %(cursor)s
                         ORDER BY quant.product_id
                         LIMIT %(limit)s
                    )
                    SELECT quant.product_id, loc.warehouse_id, SUM(quant.quantity), MIN(quant.in_date)
                      FROM stock_quant quant JOIN stock_location loc ON loc.id = quant.location_id
                     WHERE %(aged)s AND quant.product_id IN (SELECT product_id FROM batch)
                     GROUP BY 1, 2
                     ORDER BY 1, 2
                    """,
                    aged=aged,
                    cursor=cursor,
                    limit=batch_size,
                )
            )
            rows = self.env.cr.fetchall()
            Product = self.env["product.product"].with_company(company)
            Warehouse = self.env["stock.warehouse"]
            products = Product.browse(list(dict.fromkeys(row[0] for row in rows)))
            # The last product of a full batch: the next batch starts after it. None: the pass ends here.
            last = products[-1].id if len(products) >= batch_size else None
            aging = {}
            # A product may be shared by the companies: each company has its own aging exception of it.
            source_key = f"{AGING}:{company.id}"
            with self.env["distribution.workflow.run"].with_company(company).track("stock_monitor") as run:
                for product_id, warehouse_id, quantity, in_date in rows:
                    product, warehouse = products.browse(product_id), Warehouse.browse(warehouse_id)
                    days = Profile._profile_for(company, warehouse, product.categ_id, profiles)._settings()[
                        "aging_days"
                    ]
                    if not days or in_date >= now - timedelta(days=days):
                        continue
                    aging.setdefault(product_id, []).append((warehouse, quantity, in_date))
                to_raise = []
                for product in products:
                    lots = aging.get(product.id)
                    if not lots:
                        continue
                    value = sum(quantity for _w, quantity, _d in lots) * product.standard_price
                    to_raise.append(
                        {
                            "record": product,
                            "source_key": source_key,
                            "category": "aging_stock",
                            "message": self.env._(
                                "%(product)s: stock received before %(since)s is still on hand (%(where)s), worth "
                                "%(value)s at cost. Promote it, move it or return it to the vendor.",
                                product=product.display_name,
                                since=fields.Date.to_string(min(d for _w, _q, d in lots).date()),
                                where=", ".join(f"{w.name} {q:g}" for w, q, _d in lots),
                                value=company.currency_id.format(value),
                            ),
                            "severity": "low",
                            "values": {
                                "value": value,
                                "warehouses": {w.name: q for w, q, _d in lots},
                            },
                        }
                    )
                Exception_.with_company(company)._raise_many(to_raise)
                # Those of the batch's range whose aging stock is gone.
                open_ones = Exception_.sudo().search(
                    [
                        ("source_key", "=", source_key),
                        ("company_id", "=", company.id),
                        ("state", "not in", ("resolved", "dismissed")),
                        ("res_id", ">", cursor),
                        *([("res_id", "<=", last)] if last else []),
                    ]
                )
                open_ones.filtered(lambda e, a=aging: e.res_id not in a)._mark_resolved(
                    self.env._("The aging stock is gone."), auto=True
                )
                company.sudo().distribution_aging_cursor = last or 0
                more = more or bool(last)
                run.message = self.env._("Aging stock: %s products.", len(aging))
            worked |= products
        self.env["ir.cron"]._notify_progress(done=len(worked), remaining=1 if more else 0)
        return worked

    # -- late transfers -----------------------------------------------------------------------------
    @api.model
    def _cron_late_transfers(self, batch_size=500):
        """Receipts and deliveries past their scheduled date and not done: a late_transfer exception on each
        (the category the carrier events use), resolved once it is done, cancelled or rescheduled."""
        Picking = self.env["stock.picking"]
        Exception_ = self.env["distribution.exception"]
        now = fields.Datetime.now()
        flagged = Exception_.sudo().search(
            [
                ("source_key", "=", LATE),
                ("res_model", "=", "stock.picking"),
                ("state", "not in", ("resolved", "dismissed")),
            ]
        )
        late = Picking.search(
            [
                ("picking_type_code", "in", ("incoming", "outgoing")),
                ("state", "not in", ("draft", "done", "cancel")),
                ("scheduled_date", "<", now),
                ("id", "not in", flagged.mapped("res_id")),
            ],
            order="scheduled_date, id",
            limit=batch_size,
        )
        cleared = (
            Picking.browse(flagged.mapped("res_id"))
            .exists()
            .filtered(lambda p: p.state in ("done", "cancel") or p.scheduled_date >= now)
        )
        for company in (late | cleared).company_id:
            with self.env["distribution.workflow.run"].with_company(company).track("stock_monitor") as run:
                company_late = late.filtered(lambda p, c=company: p.company_id == c)
                for picking in company_late:
                    hours = round((now - picking.scheduled_date).total_seconds() / 3600, 1)
                    Exception_.with_company(company)._raise_for(
                        picking,
                        LATE,
                        "late_transfer",
                        self.env._(
                            "%(picking)s (%(kind)s) was scheduled for %(date)s: %(hours)s hours late and not done.",
                            picking=picking.name,
                            kind=picking.picking_type_id.name,
                            date=fields.Datetime.to_string(picking.scheduled_date),
                            hours=hours,
                        ),
                        severity="high" if picking.picking_type_code == "outgoing" else "medium",
                        values={
                            "scheduled_date": fields.Datetime.to_string(picking.scheduled_date),
                            "hours_late": hours,
                        },
                    )
                for picking in cleared.filtered(lambda p, c=company: p.company_id == c):
                    Exception_._resolve_for(picking, [LATE], self.env._("Done, cancelled or rescheduled."))
                run.message = self.env._("Late transfers: %s flagged.", len(company_late))
        self._notify(late, batch_size)
        return late

    # -- patterns ---------------------------------------------------------------------------------
    @api.model
    def _cron_backorder_patterns(self):
        """Repeated backorders of one product category: N customer backorders (company settings) created
        within D days raise one stock_shortage exception on the category, listing the orders, not one per
        order; it resolves itself when the count falls under N. One grouped query per company."""
        Exception_ = self.env["distribution.exception"]
        self.env.flush_all()  # the query reads pickings, moves, products and their categories
        for company in self.env["res.company"].search([]):
            threshold = company.distribution_backorder_pattern_count
            since = fields.Datetime.now() - timedelta(days=company.distribution_backorder_pattern_days)
            # Raw SQL: backorders per product category over the window in one grouped query.
            self.env.cr.execute(
                SQL(
                    """
                    SELECT template.categ_id, ARRAY_AGG(DISTINCT picking.id)
                      FROM stock_picking picking
                      JOIN stock_picking_type ptype ON ptype.id = picking.picking_type_id
                      JOIN stock_move move ON move.picking_id = picking.id
                      JOIN product_product product ON product.id = move.product_id
                      JOIN product_template template ON template.id = product.product_tmpl_id
                     WHERE picking.backorder_id IS NOT NULL AND ptype.code = 'outgoing'
                       AND picking.company_id = %s AND picking.create_date >= %s
                     GROUP BY template.categ_id
                    """,
                    company.id,
                    since,
                )
            )
            counts = dict(self.env.cr.fetchall())
            source_key = f"{BACKORDERS}:{company.id}"
            raised = set()
            with self.env["distribution.workflow.run"].with_company(company).track("stock_monitor") as run:
                for categ_id, picking_ids in counts.items():
                    if len(picking_ids) < threshold:
                        continue
                    category = self.env["product.category"].browse(categ_id)
                    pickings = self.env["stock.picking"].sudo().browse(picking_ids)
                    orders = pickings.sale_id
                    raised.add(categ_id)
                    Exception_.with_company(company)._raise_for(
                        category,
                        source_key,
                        "stock_shortage",
                        self.env._(
                            "%(count)s customer backorders of %(category)s in %(days)s days: %(orders)s. A "
                            "pattern, not bad luck: review the reorder levels of the category (Reorder "
                            "Suggestions) and its vendors' lead times.",
                            count=len(pickings),
                            category=category.display_name,
                            days=company.distribution_backorder_pattern_days,
                            orders=", ".join(orders.mapped("name")) or ", ".join(pickings.mapped("name")),
                        ),
                        reason_code="repeated_backorders",
                        values={"backorders": pickings.mapped("name"), "sale_orders": orders.mapped("name")},
                    )
                stale = Exception_.sudo().search(
                    [
                        ("source_key", "=", source_key),
                        ("res_model", "=", "product.category"),
                        ("res_id", "not in", list(raised)),
                        ("state", "not in", ("resolved", "dismissed")),
                    ]
                )
                stale._mark_resolved(self.env._("Fewer backorders in the window."), auto=True)
                run.message = self.env._("Backorder patterns: %s product categories.", len(raised))

    @api.model
    def _cron_rush_margin_erosion(self):
        """Margin erosion from rush shipments: the orders of a customer (its commercial partner) with an urgent
        delivery (the star) in a month whose margin, once the rush is counted, is under the floor of the margin
        floor rule that applies to them. From N such orders in one customer-month (company settings), one
        margin exception on the customer for that month, listing the orders with their margin before and
        after the rush, the floor and the rush cost; it resolves itself when fewer orders remain under the
        floor. The margin is the validation pipeline's (services/validation.py): the goods the rule covers
        at their price after discount, less their cost, less the rush: the delivery lines (Odoo's delivery
        module; without it there are none) at their price less their cost, and the shipping cost recorded on
        the urgent deliveries (Odoo's shipping connectors). A rush belongs to the month of its delivery (done,
        else scheduled), the earliest urgent one of the order; the current and the previous month are
        watched, an older month's exception stays as it is. One grouped query per company; without an active
        margin floor rule the company's run is skipped and says why."""
        Exception_ = self.env["distribution.exception"]
        Run = self.env["distribution.workflow.run"]
        self.env.flush_all()  # the query reads pickings, their types, orders and partners
        since = fields.Date.today().replace(day=1) - relativedelta(months=1)
        for company in self.env["res.company"].search([]):
            rules = self.env["distribution.validation.rule"].search(
                [("company_id", "=", company.id), ("rule_type", "=", "margin_floor")]
            )
            with Run.with_company(company).track("stock_monitor") as run:
                if not rules:
                    run.skip(
                        "no_margin_rule",
                        self.env._(
                            "Margin erosion from rush shipments: %(company)s has no active margin floor rule "
                            "(Distribution > Configuration > Orchestration > Validation Rules), so there is no "
                            "floor to compare with.",
                            company=company.name,
                        ),
                    )
                    continue
                patterns, found = self._rush_margin_patterns(company, rules, since)
                source_prefix = f"{RUSH_MARGIN}:{company.id}:"
                raised = set()
                for (customer, month), orders in patterns.items():
                    raised.add((f"{source_prefix}{month:%Y-%m}", customer.id))
                    self._raise_rush_margin(company, customer, month, orders, found)
                # The patterns of the watched months that no longer hold.
                open_ones = Exception_.sudo().search(  # sudo: the queue of every team, as the other monitors
                    [
                        ("source_key", "=like", f"{source_prefix}%"),
                        ("res_model", "=", "res.partner"),
                        ("company_id", "=", company.id),
                        ("state", "not in", ("resolved", "dismissed")),
                    ]
                )
                watched = f"{source_prefix}{since:%Y-%m}"
                open_ones.filtered(
                    lambda e, r=raised, w=watched: e.source_key >= w and (e.source_key, e.res_id) not in r
                )._mark_resolved(self.env._("Fewer rush orders of the customer under the margin floor."), auto=True)
                run.message = self.env._(
                    "Margin erosion from rush shipments: %(orders)s rush orders since %(since)s, %(count)s "
                    "customer-months under the margin floor.",
                    orders=len(found),
                    since=fields.Date.to_string(since),
                    count=len(patterns),
                )

    def _rush_margin_patterns(self, company, rules, since):
        """The rush orders of ``company`` since ``since`` and their margin findings; answers the patterns
        {(customer, month): [order, ...]} and {order: (finding, rule, month)}."""
        # Raw SQL: the orders with an urgent delivery, their customer and month, in one grouped query.
        self.env.cr.execute(
            SQL(
                """
                SELECT sale.id, partner.commercial_partner_id,
                       DATE_TRUNC('month', MIN(COALESCE(picking.date_done, picking.scheduled_date)))::date,
                       ARRAY_AGG(picking.id ORDER BY picking.id)
                  FROM stock_picking picking
                  JOIN stock_picking_type ptype ON ptype.id = picking.picking_type_id
                  JOIN sale_order sale ON sale.id = picking.sale_id
                  JOIN res_partner partner ON partner.id = sale.partner_id
                 WHERE ptype.code = 'outgoing' AND picking.priority = %s AND picking.state != 'cancel'
                   AND sale.state = 'sale' AND sale.company_id = %s
                 GROUP BY sale.id, partner.commercial_partner_id
                HAVING MIN(COALESCE(picking.date_done, picking.scheduled_date)) >= %s
                """,
                URGENT_PRIORITY,
                company.id,
                since,
            )
        )
        rows = self.env.cr.fetchall()
        Order = self.env["sale.order"].with_company(company)
        orders = Order.browse([row[0] for row in rows])
        # The rule that applies to each order: the first of the company's margin floor rules, by sequence.
        rule_of = {}
        for rule in rules:
            for order in rule._applicable(orders.filtered(lambda o, r=rule_of: o.id not in r)):
                rule_of[order.id] = rule
        pickings = self.env["stock.picking"].browse([pid for row in rows for pid in row[3]])
        # The shipping cost recorded on the deliveries: with Odoo's shipping connectors only (stock_delivery).
        shipping = defaultdict(float)
        if "carrier_price" in pickings._fields:
            for picking in pickings:
                shipping[picking.sale_id.id] += picking.carrier_price or 0.0
        found, grouped = {}, []
        for order_id, customer_id, month, _picking_ids in rows:
            rule = rule_of.get(order_id)
            if not rule:
                continue
            order = orders.browse(order_id)
            delivery = order.order_line.filtered(lambda line: not line.display_type and line._is_delivery())
            goods = rule._lines(order) - delivery
            finding = validation.rush_margin(
                [(line.price_subtotal, order._distribution_line_cost(line)) for line in goods],
                [(line.price_subtotal, order._distribution_line_cost(line)) for line in delivery],
                shipping[order_id],
                rule.margin_floor_pct,
            )
            finding.values["discount"] = round(
                sum(line.price_unit * line.product_uom_qty * (line.discount or 0.0) / 100.0 for line in goods), 2
            )
            found[order] = (finding, rule, month)
            grouped.append(((customer_id, month), order, finding))
        patterns = validation.rush_margin_patterns(grouped, company.distribution_rush_margin_pattern_count)
        Partner = self.env["res.partner"]
        return {(Partner.browse(cid), month): Order.union(*o) for (cid, month), o in patterns.items()}, found

    def _raise_rush_margin(self, company, customer, month, orders, found):
        """The one exception of a customer-month, listing its orders under the floor."""
        details, lines = [], []
        for order in orders:
            finding, rule, _month = found[order]
            values = finding.values
            currency = order.currency_id
            details.append(
                {
                    "order": order.name,
                    "margin_pct": values["margin_pct"],
                    "margin_before_rush_pct": values["margin_before_rush_pct"],
                    "floor_pct": values["floor_pct"],
                    "rush_cost": values["rush_cost"],
                    "rush_charged": values["rush_charged"],
                    "discount": values["discount"],
                    "currency": currency.name,
                    "rule": rule.name,
                }
            )
            lines.append(
                self.env._(
                    "%(order)s: margin %(margin)s %% (%(before)s %% before the rush), rush cost %(cost)s, "
                    "discount %(discount)s, floor %(floor)s %%",
                    order=order.name,
                    margin=format(values["margin_pct"], "g"),
                    before=format(values["margin_before_rush_pct"], "g"),
                    cost=currency.format(values["rush_cost"]),
                    discount=currency.format(values["discount"]),
                    floor=format(values["floor_pct"], "g"),
                )
            )
        floors = sorted({d["floor_pct"] for d in details})
        period = month.strftime("%Y-%m")  # computed first: an f-string inside _() stops the .pot extraction
        return (
            self.env["distribution.exception"]
            .with_company(company)
            ._raise_for(
                customer,
                f"{RUSH_MARGIN}:{company.id}:{period}",
                "margin",
                self.env._(
                    "%(customer)s, %(month)s: %(count)s rush orders under the margin floor once the rush is counted. "
                    "%(orders)s. A pattern, not a one-off: agree the rush terms with the customer (charge the express "
                    "shipping) or stop discounting rush orders.",
                    customer=customer.display_name,
                    month=period,
                    count=len(orders),
                    orders="; ".join(lines),
                ),
                severity="medium",
                reason_code=RUSH_MARGIN,
                values={
                    "month": period,
                    "floor_pct": floors[0] if len(floors) == 1 else floors,
                    "sale_orders": orders.mapped("name"),
                    "orders": details,
                },
            )
        )

    # -- lots -------------------------------------------------------------------------------------
    @api.model
    def _cron_lot_issues(self):
        """Lots on hand (or reserved for a customer) past or near their expiry date: one lot_issue exception
        per lot, resolved when the lot is no longer on hand. Only with Odoo's expiry dates (product_expiry):
        without it the run says so and does nothing."""
        Lot = self.env["stock.lot"]
        Run = self.env["distribution.workflow.run"]
        if "expiration_date" not in Lot._fields:
            with Run.track("stock_monitor") as run:
                run.skip(
                    "module_missing",
                    self.env._("The lot monitor needs Odoo's expiry dates (install Product Expiry Date)."),
                )
            return Lot
        Exception_ = self.env["distribution.exception"]
        now = fields.Datetime.now()
        touched = Lot
        for company in self.env["res.company"].search([]):
            _Profile, profiles = self._profiles(company)
            horizon = max([p.expiry_days for p in profiles] or [30])
            quants = self.env["stock.quant"].search(
                [
                    ("company_id", "=", company.id),
                    ("location_id.usage", "=", "internal"),
                    ("quantity", ">", 0),
                    ("lot_id.expiration_date", "!=", False),
                    ("lot_id.expiration_date", "<", now + timedelta(days=horizon)),
                ]
            )
            by_lot = defaultdict(float)
            reserved = defaultdict(float)
            for quant in quants:
                by_lot[quant.lot_id] += quant.quantity
                reserved[quant.lot_id] += quant.reserved_quantity
            with Run.with_company(company).track("stock_monitor") as run:
                for lot, quantity in by_lot.items():
                    expired = lot.expiration_date < now
                    Exception_.with_company(company)._raise_for(
                        lot,
                        LOTS,
                        "lot_issue",
                        self.env._(
                            "Lot %(lot)s of %(product)s %(state)s on %(date)s: %(qty)s on hand, %(reserved)s reserved.",
                            lot=lot.name,
                            product=lot.product_id.display_name,
                            state=self.env._("expired") if expired else self.env._("expires"),
                            date=fields.Date.to_string(lot.expiration_date.date()),
                            qty=quantity,
                            reserved=reserved[lot],
                        ),
                        severity="high" if expired or reserved[lot] else "medium",
                        values={"quantity": quantity, "reserved": reserved[lot], "expired": expired},
                    )
                open_ones = Exception_.sudo().search(
                    [
                        ("source_key", "=", LOTS),
                        ("company_id", "=", company.id),
                        ("state", "not in", ("resolved", "dismissed")),
                    ]
                )
                on_hand = {lot.id for lot in by_lot}
                for exception in open_ones.filtered(lambda e, ids=on_hand: e.res_id not in ids):
                    exception._mark_resolved(self.env._("The lot is no longer on hand."), auto=True)
                run.message = self.env._("Lots: %s near or past their expiry.", len(by_lot))
            touched |= Lot.union(*by_lot)
        return touched

    def _notify(self, done, batch_size):
        self.env["ir.cron"]._notify_progress(done=len(done), remaining=batch_size if len(done) >= batch_size else 0)
