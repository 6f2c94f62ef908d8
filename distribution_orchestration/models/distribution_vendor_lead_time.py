from collections import defaultdict

from markupsafe import Markup

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..services import replenishment

MANAGER_GROUP = "distribution_observability.group_distribution_manager"
USER_GROUP = "distribution_observability.group_distribution_user"
DRIFT_SOURCE = "lead_time_drift"
# One advisory lock space for the vendors being learned: two workers never learn one vendor at once.
LOCK_SPACE = 5_120_114


class DistributionVendorLeadTime(models.Model):
    """The lead time a vendor really delivers in, learned from its done receipts: days from the purchase
    order's confirmation to the receipt, median and 90th percentile over its last receipts, the on-time rate
    against the promised date, beside the delay Odoo plans with. One line per vendor (all products) and one
    per vendor and product. The scheduled action writes it; nobody edits it."""

    _name = "distribution.vendor.lead.time"
    _description = "Supplier Lead Time"
    _order = "drifting desc, partner_id, product_id nulls first"
    _rec_name = "partner_id"

    partner_id = fields.Many2one("res.partner", "Vendor", required=True, index=True, ondelete="cascade")
    product_id = fields.Many2one(
        "product.product", index="btree_not_null", ondelete="cascade", help="Empty: all products."
    )
    company_id = fields.Many2one("res.company", required=True, index=True)
    receipt_count = fields.Integer("Receipts")
    median_days = fields.Float("Median (days)", digits=(16, 1))
    p90_days = fields.Float("90th Percentile (days)", digits=(16, 1))
    on_time_rate = fields.Float("On Time (%)", digits=(16, 1), help="Receipts done by their promised date.")
    planned_days = fields.Float("Planned (days)", digits=(16, 1), help="The vendor delay Odoo plans with.")
    drift_days = fields.Float("Drift (days)", digits=(16, 1), help="Learned median minus planned delay.")
    drifting = fields.Boolean(index=True)
    open_purchase_count = fields.Integer("Open Purchase Orders")
    computed_at = fields.Datetime(required=True)
    risk_summary = fields.Text(compute="_compute_risk_summary", help="The vendor's risk in plain words.")
    risk_summary_author = fields.Char("Summary Written By", compute="_compute_risk_summary")

    def init(self):
        # One line per company, vendor and product (the vendor line has no product), even with two workers.
        self.env.cr.execute("""
            CREATE UNIQUE INDEX IF NOT EXISTS distribution_vendor_lead_time_one_idx
                ON distribution_vendor_lead_time (company_id, partner_id, COALESCE(product_id, 0))
        """)

    def _compute_risk_summary(self):
        for line in self:
            if line.product_id:
                line.risk_summary, line.risk_summary_author = False, False
                continue
            facts = line._risk_facts()
            line.risk_summary, line.risk_summary_author = line._risk_summary(facts)

    def _risk_facts(self):
        """The figures and the lists a vendor's risk summary is made of, all from the data."""
        self.ensure_one()
        # sudo: the summary names the purchase lines at risk for whoever reads the scorecard.
        lines = (
            self.env["purchase.order.line"]
            .sudo()
            .search(
                [
                    ("order_id.partner_id", "=", self.partner_id.id),
                    ("company_id", "=", self.company_id.id),
                    ("distribution_at_risk", "=", True),
                ]
            )
        )
        return {
            "vendor": self.partner_id.display_name,
            "median_days": self.median_days,
            "p90_days": self.p90_days,
            "planned_days": self.planned_days,
            "on_time_rate": self.on_time_rate,
            "receipts": self.receipt_count,
            "drifting": self.drifting,
            "late_purchases": [
                {
                    "name": line.order_id.name,
                    "product": line.product_id.display_name,
                    "expected": fields.Date.to_string(line.distribution_expected_date.date())
                    if line.distribution_expected_date
                    else None,
                    "customers": line.distribution_risk_sale_ids.mapped("name"),
                }
                for line in lines
            ],
        }

    def _risk_summary(self, facts):
        """Hook: the vendor's risk in plain words from ``facts`` (see _risk_facts), and who wrote it. Here a
        template; distribution_ai_triage may have its chat provider word it (the facts stay the data's)."""
        self.ensure_one()
        parts = [
            self.env._(
                "%(vendor)s delivers in %(median)s days (median of %(count)s receipts, 90%% within %(p90)s days) "
                "where Odoo plans %(planned)s days; %(on_time)s%% on time.",
                vendor=facts["vendor"],
                median=format(facts["median_days"], "g"),
                count=facts["receipts"],
                p90=format(facts["p90_days"], "g"),
                planned=format(facts["planned_days"], "g"),
                on_time=format(facts["on_time_rate"], ".0f"),
            )
        ]
        if facts["late_purchases"]:
            for late in facts["late_purchases"]:
                parts.append(
                    self.env._(
                        "%(po)s (%(product)s) is expected on %(expected)s, too late for %(customers)s.",
                        po=late["name"],
                        product=late["product"],
                        expected=late["expected"] or "-",
                        customers=", ".join(late["customers"]) or "-",
                    )
                )
        else:
            parts.append(self.env._("No open purchase order of this vendor threatens a customer promise."))
        return " ".join(parts), self.env._("template")

    # -- learning ---------------------------------------------------------------------------------
    @api.model
    def _receipts(self, company, vendors, per_product):
        """{(vendor id, product id or None): [(confirmed_at, done_at, promised_at)]}: the last receipts of
        ``vendors`` in ``company``, per vendor and product (``per_product``) or per vendor (one receipt per
        transfer), newest first, at most the company's number of receipts each."""
        last = max(company.distribution_lead_time_receipts, 1)
        if per_product:
            partition, product, unit = SQL("po.partner_id, move.product_id"), SQL("move.product_id"), SQL("move.id")
        else:
            partition, product, unit = SQL("po.partner_id"), SQL("NULL::integer"), SQL("move.picking_id")
        # Raw SQL: the last N receipts of each vendor (and product) is a window function the ORM has no word for;
        # one query for the whole batch of vendors.
        self.env.cr.execute(
            SQL(
                """
                SELECT vendor, product, confirmed, done, promised FROM (
                    SELECT po.partner_id AS vendor, %(product)s AS product,
                           MIN(po.date_approve) AS confirmed, MAX(move.date) AS done,
                           MIN(line.date_planned) AS promised,
                           ROW_NUMBER() OVER (PARTITION BY %(partition)s ORDER BY MAX(move.date) DESC) AS rank
                      FROM stock_move move
                      JOIN purchase_order_line line ON line.id = move.purchase_line_id
                      JOIN purchase_order po ON po.id = line.order_id
                      JOIN stock_location src ON src.id = move.location_id
                     WHERE move.state = 'done' AND src.usage = 'supplier'
                       AND po.company_id = %(company)s AND po.partner_id = ANY(%(vendors)s)
                       AND po.date_approve IS NOT NULL
                     GROUP BY %(partition)s, %(unit)s
                ) receipts
                WHERE rank <= %(last)s
                """,
                product=product,
                partition=partition,
                unit=unit,
                company=company.id,
                vendors=list(vendors.ids),
                last=last,
            )
        )
        receipts = defaultdict(list)
        for vendor, product, confirmed, done, promised in self.env.cr.fetchall():
            receipts[(vendor, product)].append((confirmed, done, promised))
        return receipts

    @api.model
    def _planned_days(self, company, vendors):
        """{(vendor id, product id or None): delay}: the vendor delay Odoo plans with, per product (its first
        price list line of that vendor) and for the vendor overall (the median of its lines)."""
        # sudo: the planned delays are read for the learning, whoever runs it.
        infos = (
            self.env["product.supplierinfo"]
            .sudo()
            .search(
                [("partner_id", "in", vendors.ids), ("company_id", "in", (company.id, False))], order="sequence, id"
            )
        )
        planned, per_vendor = {}, defaultdict(list)
        for info in infos:
            per_vendor[info.partner_id.id].append(info.delay)
            for product in info.product_id or info.product_tmpl_id.product_variant_ids:
                planned.setdefault((info.partner_id.id, product.id), float(info.delay))
        for vendor_id, delays in per_vendor.items():
            planned[(vendor_id, None)] = float(sorted(delays)[len(delays) // 2])
        return planned

    @api.model
    def _learn(self, company, vendors):
        """Learn the lead times of ``vendors`` in ``company``, write them, and raise or resolve each vendor's
        drift exception. Answers the vendor lines."""
        now = fields.Datetime.now()
        self.env.flush_all()  # _receipts reads purchase orders, lines and moves with raw SQL
        receipts = self._receipts(company, vendors, per_product=True)
        receipts.update(self._receipts(company, vendors, per_product=False))
        planned = self._planned_days(company, vendors)
        existing = {
            (line.partner_id.id, line.product_id.id or None): line
            for line in self.search([("company_id", "=", company.id), ("partner_id", "in", vendors.ids)])
        }
        open_counts = dict(
            self.env["purchase.order"]
            .sudo()
            ._read_group(
                [
                    ("company_id", "=", company.id),
                    ("partner_id", "in", vendors.ids),
                    ("state", "=", "purchase"),
                    ("receipt_status", "!=", "full"),
                ],
                ["partner_id"],
                ["__count"],
            )
        )
        to_create = []
        for (vendor_id, product_id), vendor_receipts in receipts.items():
            learned = replenishment.learn_lead_time(vendor_receipts, last=company.distribution_lead_time_receipts)
            plan = planned.get((vendor_id, product_id), 0.0)
            vals = {
                "receipt_count": learned.receipts,
                "median_days": learned.median_days,
                "p90_days": learned.p90_days,
                "on_time_rate": learned.on_time_rate * 100 if learned.on_time_rate is not None else 0.0,
                "planned_days": plan,
                "drift_days": round(learned.median_days - plan, 2),
                "drifting": replenishment.drifts(
                    learned.median_days,
                    plan,
                    company.distribution_lead_time_drift_pct,
                    company.distribution_lead_time_drift_days,
                ),
                "open_purchase_count": open_counts.get(self.env["res.partner"].browse(vendor_id), 0)
                if product_id is None
                else 0,
                "computed_at": now,
            }
            line = existing.get((vendor_id, product_id))
            if line:
                line.write(vals)
            else:
                to_create.append(dict(vals, partner_id=vendor_id, product_id=product_id, company_id=company.id))
        self.create(to_create)
        lines = self.search(
            [("company_id", "=", company.id), ("partner_id", "in", vendors.ids), ("product_id", "=", False)]
        )
        lines._raise_or_resolve_drift()
        return lines

    def _raise_or_resolve_drift(self):
        """A drifting vendor has one open lead_time_drift exception (updated on each pass), listing its open
        purchase orders and the customer orders waiting on them; it resolves itself when the drift clears."""
        Exception_ = self.env["distribution.exception"]
        for line in self:
            vendor = line.partner_id.with_company(line.company_id)
            exceptions = Exception_.with_company(line.company_id)
            if not line.drifting:
                exceptions._resolve_for(
                    vendor,
                    [DRIFT_SOURCE],
                    self.env._("The learned lead time (%s days) is back in line with the plan.", line.median_days),
                )
                continue
            purchases, sales = line._orders_at_stake()
            message = self.env._(
                "%(vendor)s delivers in %(learned)s days (median of the last %(count)s receipts, 90%% within "
                "%(p90)s days) where Odoo plans %(planned)s days. Open purchase orders: %(purchases)s. Customer "
                "orders depending on them: %(sales)s. Check the promised dates, then apply the learned lead "
                "time (Supplier Lead Times) or talk to the vendor.",
                vendor=vendor.display_name,
                learned=line.median_days,
                count=line.receipt_count,
                p90=line.p90_days,
                planned=line.planned_days,
                purchases=", ".join(purchases.mapped("name")) or self.env._("none"),
                sales=", ".join(sales.mapped("name")) or self.env._("none"),
            )
            exceptions._raise_for(
                vendor,
                DRIFT_SOURCE,
                "lead_time_drift",
                message,
                severity="high" if sales else "medium",
                values={
                    "learned_days": line.median_days,
                    "p90_days": line.p90_days,
                    "planned_days": line.planned_days,
                    "receipts": line.receipt_count,
                    "purchase_orders": purchases.mapped("name"),
                    "sale_orders": sales.mapped("name"),
                },
            )

    def _orders_at_stake(self):
        """The vendor's open purchase orders in this company, and the customer orders whose deliveries wait on
        them (through the moves Odoo links)."""
        self.ensure_one()
        # sudo: the exception names the orders for the purchasing team, whoever runs the learning.
        purchases = (
            self.env["purchase.order"]
            .sudo()
            .search(
                [
                    ("company_id", "=", self.company_id.id),
                    ("partner_id", "=", self.partner_id.id),
                    ("state", "=", "purchase"),
                    ("receipt_status", "!=", "full"),
                ]
            )
        )
        moves = purchases.order_line.move_ids.filtered(lambda m: m.state not in ("done", "cancel"))
        sales = moves.move_dest_ids.sale_line_id.order_id | moves.move_dest_ids.move_dest_ids.sale_line_id.order_id
        return purchases, sales

    @api.model
    def _cron_learn(self, batch_size=200):
        """Scheduled action (nightly): learn the lead times of the vendors not learned today, a batch of vendors
        per call (each taken under an advisory lock, so that several workers share the work), each batch a
        tracked run; a full batch asks for the next one."""
        # The start of the server's day (UTC, as the computed_at it is compared with; not the user's day).
        today = fields.Datetime.to_datetime(fields.Date.today())
        # The raw queries below read orders, moves and lines: everything pending is written first.
        self.env.flush_all()
        # Raw SQL: the vendors with receipts not learned today, claimed with a transaction-scoped advisory lock
        # (the rows to write may not exist yet, so there is no row to lock with SKIP LOCKED).
        self.env.cr.execute(
            SQL(
                """
                SELECT company_id, partner_id FROM (
                    SELECT DISTINCT po.company_id, po.partner_id
                      FROM purchase_order po
                     WHERE po.state IN ('purchase', 'done') AND po.date_approve IS NOT NULL
                       AND NOT EXISTS (
                           SELECT 1 FROM distribution_vendor_lead_time lt
                            WHERE lt.company_id = po.company_id AND lt.partner_id = po.partner_id
                              AND lt.product_id IS NULL AND lt.computed_at >= %(today)s)
                     ORDER BY po.company_id, po.partner_id
                ) vendors
                WHERE pg_try_advisory_xact_lock(%(space)s, partner_id)
                LIMIT %(limit)s
                """,
                today=today,
                space=LOCK_SPACE,
                limit=batch_size,
            )
        )
        by_company = defaultdict(list)
        rows = self.env.cr.fetchall()
        for company_id, partner_id in rows:
            by_company[company_id].append(partner_id)
        learned = self.browse()
        for company_id, partner_ids in by_company.items():
            company = self.env["res.company"].browse(company_id)
            vendors = self.env["res.partner"].browse(partner_ids)
            Run = self.env["distribution.workflow.run"].with_company(company)
            with Run.track("lead_time_learning") as run:
                lines = self.with_company(company)._learn(company, vendors)
                learned |= lines
                run.message = self.env._(
                    "%(count)s vendors learned, %(drifting)s drifting: %(names)s",
                    count=len(lines),
                    drifting=len(lines.filtered("drifting")),
                    names=", ".join(lines.filtered("drifting").partner_id.mapped("display_name"))[:500],
                )
        self.env["ir.cron"]._notify_progress(done=len(rows), remaining=len(rows) if len(rows) >= batch_size else 0)
        return learned

    # -- applying ---------------------------------------------------------------------------------
    def action_apply_learned_lead_time(self):
        """Button and server action: write the learned median (rounded up to whole days) as the vendor delay
        Odoo plans with, on the vendor's price list lines (of the product, for a product line). Within the
        company's tolerance any Distribution User applies it; beyond it, a Distribution Manager."""
        if not self.env.user.has_group(USER_GROUP):
            raise AccessError(self.env._("Only Distribution Users apply learned lead times."))
        for line in self:
            days = int(-(-line.median_days // 1))
            change = replenishment.change_pct(line.planned_days, days)
            if change > line.company_id.distribution_lead_time_tolerance_pct:
                line._apply_above_tolerance(days)
            else:
                line._apply_days(days)
        return True

    def _apply_above_tolerance(self, days):
        """Hook: a learned lead time beyond the tolerance, for a Distribution Manager only."""
        self.ensure_one()
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(
                self.env._(
                    "%(vendor)s: %(days)s days moves the planned delay (%(planned)s days) beyond the tolerance; a "
                    "Distribution Manager applies it.",
                    vendor=self.partner_id.display_name,
                    days=days,
                    planned=self.planned_days,
                )
            )
        self._apply_days(days)

    def _apply_days(self, days):
        """Verb: write ``days`` as the delay of the vendor's price list lines (of this line's product, or all of
        them for the vendor line), and say so in the vendor's chatter."""
        self.ensure_one()
        domain = [("partner_id", "=", self.partner_id.id), ("company_id", "in", (self.company_id.id, False))]
        if self.product_id:
            domain += [
                "|",
                ("product_id", "=", self.product_id.id),
                "&",
                ("product_id", "=", False),
                ("product_tmpl_id", "=", self.product_id.product_tmpl_id.id),
            ]
        # sudo: applying is the Distribution verb checked above; the planner needs no purchase rights.
        infos = self.env["product.supplierinfo"].sudo().search(domain)
        if not infos:
            raise UserError(
                self.env._("%s has no price list line to write the lead time on.", self.partner_id.display_name)
            )
        infos.write({"delay": days})
        # sudo: the learned figures are the system's; the verb updates the plan they are compared with.
        self.sudo().write({"planned_days": days, "drift_days": round(self.median_days - days, 2), "drifting": False})
        self.partner_id.sudo().message_post(
            body=Markup("%s")
            % self.env._(
                "Vendor lead time set to %(days)s days (learned median %(median)s over %(count)s receipts) "
                "by %(user)s.",
                days=days,
                median=self.median_days,
                count=self.receipt_count,
                user=self.env.user.name,
            ),
            subtype_xmlid="mail.mt_note",
        )
        if not self.product_id:
            self._raise_or_resolve_drift()
        return infos
