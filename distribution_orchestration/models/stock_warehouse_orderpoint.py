from datetime import timedelta

from odoo import SUPERUSER_ID
from odoo import api
from odoo import fields
from odoo import models
from odoo.addons.distribution_observability.services import verbs
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..services import replenishment

MANAGER_GROUP = "distribution_observability.group_distribution_manager"
USER_GROUP = "distribution_observability.group_distribution_user"
# The server verbs inside which the suggestion fields are written.
SUGGEST = "distribution_replenishment_suggest"
APPLY = "distribution_replenishment_apply"
SUGGESTION_FIELDS = (
    "distribution_adu",
    "distribution_demand_sigma",
    "distribution_lead_days",
    "distribution_suggested_min",
    "distribution_suggested_max",
    "distribution_suggestion_method",
    "distribution_change_pct",
    "distribution_suggestion_state",
    "distribution_suggested_at",
    "distribution_profile_id",
    "distribution_cover_days",
    "distribution_cover_checked_at",
    "distribution_free_qty",
    "distribution_under_min",
    "distribution_proposed",
)
COVER = "distribution_replenishment_cover"
PROPOSE = "distribution_replenishment_propose"
# A learned lead time replaces the vendor's delay in the suggestions once learned from this many receipts.
LEARNED_MIN_RECEIPTS = 3
SUGGESTION_STATES = [
    ("none", "No demand measured"),
    ("current", "Up to date"),
    ("within", "Within tolerance"),
    ("above", "Needs a manager"),
    ("applied", "Applied"),
]


class StockWarehouseOrderpoint(models.Model):
    """Odoo's reordering rule with a demand-driven suggestion beside its min and max: the average daily
    usage of its product in its warehouse, the lead time Odoo plans with, the min and max they give, and
    whether the change may apply by itself (within the profile's tolerance) or waits for a manager. Odoo's
    own engine still creates the purchase orders and transfers from the min and max."""

    _inherit = "stock.warehouse.orderpoint"

    distribution_adu = fields.Float(
        "ADU",
        digits="Product Unit of Measure",
        readonly=True,
        aggregator=False,
        help="Average daily usage (customer deliveries).",
    )
    distribution_demand_sigma = fields.Float(
        "Demand Std. Dev.", digits="Product Unit of Measure", readonly=True, aggregator=False
    )
    distribution_lead_days = fields.Float("Lead Time (days)", readonly=True, aggregator=False)
    distribution_suggested_min = fields.Float(
        "Suggested Min", digits="Product Unit of Measure", readonly=True, aggregator=False
    )
    distribution_suggested_max = fields.Float(
        "Suggested Max", digits="Product Unit of Measure", readonly=True, aggregator=False
    )
    distribution_suggestion_method = fields.Selection(
        [("days", "Days of cover"), ("service", "Service level")], "Method", readonly=True
    )
    distribution_change_pct = fields.Float("Change (%)", readonly=True, aggregator=False)
    distribution_suggestion_state = fields.Selection(
        SUGGESTION_STATES, "Suggestion", default="none", required=True, readonly=True, index=True
    )
    distribution_suggested_at = fields.Datetime("Suggested On", readonly=True)
    distribution_profile_id = fields.Many2one("distribution.replenishment.profile", "Profile", readonly=True)
    distribution_cover_days = fields.Float(
        "Days of Cover",
        readonly=True,
        aggregator=False,
        help="Free quantity in the warehouse / ADU, at the last low stock check.",
    )
    distribution_cover_checked_at = fields.Datetime(readonly=True)
    distribution_free_qty = fields.Float(
        "Free at Last Check",
        digits="Product Unit of Measure",
        readonly=True,
        aggregator=False,
        help="Free quantity (on hand, not reserved) in the warehouse at the last low stock check.",
    )
    distribution_under_min = fields.Boolean(
        "Under Min",
        readonly=True,
        index=True,
        help="The free quantity was under the rule's min at the last low stock check.",
    )
    distribution_proposed = fields.Boolean(
        "Proposed Rule",
        readonly=True,
        index=True,
        copy=False,
        help="Proposed by the suggestions for a product delivered from this warehouse without a reordering rule: "
        "a manual rule until its suggestion is applied, then automatic.",
    )
    distribution_change_ids = fields.One2many("distribution.replenishment.change", "orderpoint_id", "Changes")

    @api.model_create_multi
    def create(self, vals_list):
        # A proposed rule is the suggestions' own (see _distribution_propose_rules), not typed in.
        if any(vals.get("distribution_proposed") for vals in vals_list) and not verbs.inside(PROPOSE, self):
            raise AccessError(self.env._("Proposed reordering rules are made by the reorder suggestions only."))
        return super().create(vals_list)

    def _unlink_processed_orderpoints(self):
        """Odoo's clean-up of the manual rules its replenishment report made, once nothing is to order (Odoo's
        own domain and filter), leaving out the proposed rules: those stay until a person applies or archives
        them. Odoo's method gives no way to narrow its search, so its three lines are here with one more term."""
        manual = self.with_context(active_test=False).search(
            [("create_uid", "=", SUPERUSER_ID), ("trigger", "=", "manual"), ("distribution_proposed", "=", False)]
        )
        removed = manual.filtered(lambda rule: rule.qty_to_order <= 0.0)
        removed.unlink()
        return removed

    def write(self, vals):
        # The suggestion decides what may apply by itself: only the suggestion's own verbs write it.
        guards = dict.fromkeys(SUGGESTION_FIELDS, (SUGGEST, APPLY, COVER))
        refused = verbs.refused_fields(self, vals, guards) if self else []
        if refused:
            raise AccessError(
                self.env._(
                    "%(fields)s of a reordering rule are computed from the demand (Compute suggestion), not written.",
                    fields=", ".join(self._fields[name].string for name in refused),
                )
            )
        return super().write(vals)

    # -- demand -----------------------------------------------------------------------------------
    @api.model
    def _distribution_flush_moves(self):
        """Write what is pending on the moves and locations the demand queries read."""
        self.env["stock.move"].flush_model(
            ["state", "date", "product_qty", "location_id", "location_dest_id", "company_id", "product_id"]
        )
        self.env["stock.location"].flush_model(["usage", "warehouse_id"])

    def _distribution_free_quantities(self):
        """{(product id, warehouse id): free quantity now} of these rules, computed one warehouse at a time for
        all its products (not a query per rule), never from a cache filled earlier in the transaction (quants
        are not a dependency of free_qty)."""
        self.product_id.invalidate_recordset(["free_qty"])
        free = {}
        for warehouse in self.warehouse_id:
            products = self.filtered(lambda rule, w=warehouse: rule.warehouse_id == w).product_id
            for product in products.with_context(warehouse_id=warehouse.id):
                free[(product.id, warehouse.id)] = product.free_qty
        return free

    @api.model
    def _distribution_daily_quantities(self, company, products, start, end):
        """{(product id, warehouse id): {date: quantity}} of done customer deliveries of ``products`` from
        the warehouses of ``company`` between ``start`` and ``end`` (datetimes), returns netted on their
        day. Internal moves, scrap, inventory adjustments and drop-ships never touch both an internal and a
        customer location, so they do not count."""
        if not products:
            return {}
        self._distribution_flush_moves()
        # Raw SQL: one grouped query for the whole batch (per day, product and warehouse), which
        # _read_group cannot express (the warehouse comes from the source or the destination).
        self.env.cr.execute(
            SQL(
                """
                SELECT move.product_id,
                       CASE WHEN dest.usage = 'customer' THEN src.warehouse_id ELSE dest.warehouse_id END,
                       (move.date AT TIME ZONE 'UTC')::date,
                       SUM(CASE WHEN dest.usage = 'customer' THEN move.product_qty ELSE -move.product_qty END)
                  FROM stock_move move
                  JOIN stock_location src ON src.id = move.location_id
                  JOIN stock_location dest ON dest.id = move.location_dest_id
                 WHERE move.state = 'done'
                   AND move.company_id = %(company)s
                   AND move.product_id = ANY(%(products)s)
                   AND move.date >= %(start)s AND move.date < %(end)s
                   AND ((src.usage = 'internal' AND dest.usage = 'customer')
                        OR (src.usage = 'customer' AND dest.usage = 'internal'))
                 GROUP BY 1, 2, 3
                """,
                company=company.id,
                products=list(products.ids),
                start=start,
                end=end,
            )
        )
        quantities = {}
        for product_id, warehouse_id, day, quantity in self.env.cr.fetchall():
            quantities.setdefault((product_id, warehouse_id), {})[day] = quantity
        return quantities

    @api.model
    def _distribution_future_quantities(self, company, products, end):
        """{(product id, warehouse id): quantity} still to deliver to customers on open moves (the confirmed
        demand of open sale orders) planned before ``end``, the overdue ones included (a backlog is demand)."""
        if not products:
            return {}
        self._distribution_flush_moves()
        # Raw SQL: see _distribution_daily_quantities.
        self.env.cr.execute(
            SQL(
                """
                SELECT move.product_id, src.warehouse_id, SUM(move.product_qty)
                  FROM stock_move move
                  JOIN stock_location src ON src.id = move.location_id
                  JOIN stock_location dest ON dest.id = move.location_dest_id
                 WHERE move.state NOT IN ('draft', 'done', 'cancel')
                   AND move.company_id = %(company)s
                   AND move.product_id = ANY(%(products)s)
                   AND move.date < %(end)s
                   AND src.usage = 'internal' AND dest.usage = 'customer'
                 GROUP BY 1, 2
                """,
                company=company.id,
                products=list(products.ids),
                end=end,
            )
        )
        return {(product_id, warehouse_id): quantity for product_id, warehouse_id, quantity in self.env.cr.fetchall()}

    def _distribution_planned_lead_days(self, learned=None):
        """The lead time of this rule, in days: the one Odoo plans with (vendor delay, purchase lead times,
        route delays), where the vendor's delay is replaced by the median learned from its receipts of the
        product when there are at least LEARNED_MIN_RECEIPTS of them. ``learned``: {(vendor id, product id):
        learned lead time line}, read once for a batch."""
        self.ensure_one()
        if not self.lead_days_date:
            return 0.0
        # Odoo dates lead_days_date from the server's today (fields.Date.today()), not the user's: counted from
        # the user's today, the lead time came a day short every evening east of UTC (in the user's new day).
        planned = float(max((self.lead_days_date - fields.Date.today()).days, 0))
        seller = self.product_id.with_company(self.company_id)._select_seller(quantity=None)[:1]
        line = (learned or {}).get((seller.partner_id.id, self.product_id.id)) if seller else None
        if line and line.receipt_count >= LEARNED_MIN_RECEIPTS and "buy" in self.rule_ids.mapped("action"):
            return max(planned - seller.delay + line.median_days, 0.0)
        return planned

    def _distribution_learned_lead_times(self, company):
        """{(vendor id, product id): learned lead time line} of these rules' products in ``company``."""
        lines = (
            self.env["distribution.vendor.lead.time"]
            .sudo()
            .search([("company_id", "=", company.id), ("product_id", "in", self.product_id.ids)])
        )
        return {(line.partner_id.id, line.product_id.id): line for line in lines}

    # -- suggestions ------------------------------------------------------------------------------
    def _distribution_compute_suggestions(self):
        """Compute the suggestion of these rules from the demand: two grouped queries per company and
        horizon, never one per rule. Answers {rule: replenishment.Levels}."""
        now = fields.Datetime.now()
        # The server's day, as Odoo's own lead_days_date and the UTC datetimes of the moves (not the user's day).
        today = fields.Date.today()
        Profile = self.env["distribution.replenishment.profile"]
        levels_by_rule = {}
        for company in self.company_id:
            rules = self.filtered(lambda rule, c=company: rule.company_id == c)
            profiles = Profile.search([("company_id", "=", company.id)])
            learned = rules._distribution_learned_lead_times(company)
            settings = {
                rule: Profile._profile_for(company, rule.warehouse_id, rule.product_id.categ_id, profiles)._settings()
                for rule in rules
            }
            for horizon in {s["horizon_days"] for s in settings.values()}:
                batch = rules.filtered(lambda rule, h=horizon, s=settings: s[rule]["horizon_days"] == h)
                start = today - timedelta(days=horizon)
                past = self._distribution_daily_quantities(
                    company, batch.product_id, fields.Datetime.to_datetime(start), fields.Datetime.to_datetime(today)
                )
                futures = {}
                for days in {settings[rule]["future_days"] for rule in batch if settings[rule]["future_weight"]}:
                    futures[days] = self._distribution_future_quantities(
                        company, batch.product_id, now + timedelta(days=days)
                    )
                for rule in batch:
                    figures = settings[rule]
                    key = (rule.product_id.id, rule.warehouse_id.id)
                    demand = replenishment.usage(replenishment.daily_demand(past.get(key, {}), start, horizon))
                    adu = demand.adu
                    if figures["future_weight"] and figures["future_days"]:
                        future_qty = futures[figures["future_days"]].get(key, 0.0)
                        adu = replenishment.blended_adu(
                            adu, future_qty, figures["future_days"], figures["future_weight"]
                        )
                    lead_days = rule._distribution_planned_lead_days(learned)
                    levels = replenishment.reorder_levels(
                        adu,
                        lead_days=lead_days,
                        safety_days=figures["safety_days"],
                        cycle_days=figures["cycle_days"],
                        sigma=demand.sigma,
                        service_level=figures["service_level"],
                        multiple=rule.qty_multiple,
                    )
                    levels_by_rule[rule] = levels
                    if not adu:
                        # No demand measured (a new product, or none sold in the horizon): nothing to suggest,
                        # never a rule brought down to zero by itself.
                        with verbs.server_verb(SUGGEST, rule):
                            # sudo: see below.
                            rule.sudo().write(
                                {
                                    "distribution_adu": 0.0,
                                    "distribution_demand_sigma": 0.0,
                                    "distribution_lead_days": lead_days,
                                    "distribution_suggested_min": rule.product_min_qty,
                                    "distribution_suggested_max": rule.product_max_qty,
                                    "distribution_suggestion_method": False,
                                    "distribution_change_pct": 0.0,
                                    "distribution_suggestion_state": "none",
                                    "distribution_suggested_at": now,
                                    "distribution_profile_id": figures["profile_id"],
                                }
                            )
                        continue
                    change = max(
                        replenishment.change_pct(rule.product_min_qty, levels.min_qty),
                        replenishment.change_pct(rule.product_max_qty, levels.max_qty),
                    )
                    if change == 0:
                        state = "current"
                    elif replenishment.within_tolerance(
                        rule.product_min_qty, rule.product_max_qty, levels, figures["tolerance_pct"]
                    ):
                        state = "within"
                    else:
                        state = "above"
                    with verbs.server_verb(SUGGEST, rule):
                        # sudo: the suggestion is the system's figure; a Distribution User who reads the rule
                        # asks for it without the Inventory rights to edit reordering rules.
                        rule.sudo().write(
                            {
                                "distribution_adu": round(adu, 4),
                                "distribution_demand_sigma": demand.sigma,
                                "distribution_lead_days": lead_days,
                                "distribution_suggested_min": levels.min_qty,
                                "distribution_suggested_max": levels.max_qty,
                                "distribution_suggestion_method": levels.method,
                                # A change from 0 is infinite: stored as 100% and more, it is never within.
                                "distribution_change_pct": min(change, 9999.0),
                                "distribution_suggestion_state": state,
                                "distribution_suggested_at": now,
                                "distribution_profile_id": figures["profile_id"],
                            }
                        )
        return levels_by_rule

    def action_distribution_compute_suggestion(self):
        """Button and server action: compute the suggestion of these rules now (Distribution Users)."""
        self._distribution_check_group(USER_GROUP)
        self._distribution_compute_suggestions()
        return True

    def action_distribution_apply_suggestion(self):
        """Button and server action: apply the suggestion of these rules. Within the profile's tolerance any
        Distribution User applies it; above it, only a Distribution Manager (with distribution_approvals,
        a request for approval is made instead, see ``_distribution_apply_above_tolerance``)."""
        self._distribution_check_group(USER_GROUP)
        pending = self.filtered(lambda rule: rule.distribution_suggestion_state in ("within", "above"))
        if not pending:
            raise UserError(self.env._("There is no suggestion to apply: compute the suggestion first."))
        # The figures may have moved since the suggestion was shown: computed again, then decided.
        pending._distribution_compute_suggestions()
        within = pending.filtered(lambda rule: rule.distribution_suggestion_state == "within")
        above = pending.filtered(lambda rule: rule.distribution_suggestion_state == "above")
        within._distribution_apply("manual")
        if above:
            above._distribution_apply_above_tolerance()
        return True

    def _distribution_apply_above_tolerance(self):
        """Hook: a person applies suggestions beyond the tolerance: a Distribution Manager only here;
        distribution_approvals makes a request for approval instead (the change applied once approved)."""
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(
                self.env._(
                    "%(rules)s: the suggested change is beyond the tolerance of the replenishment profile; a "
                    "Distribution Manager applies it.",
                    rules=", ".join(self.mapped("display_name")),
                )
            )
        self._distribution_apply("manual")

    def _distribution_left_above_tolerance(self):
        """Hook: what the nightly run does with the suggestions beyond the tolerance. Here they wait in Reorder
        Suggestions for a Distribution Manager; distribution_approvals asks for an approval of each."""
        return self.browse()

    def _distribution_apply(self, mode):
        """Verb: write the suggested min and max on these rules, each change logged. For the server's own
        code: who may apply what is checked by the callers."""
        changes = self.env["distribution.replenishment.change"]
        for rule in self:
            changes |= rule._distribution_write_levels(
                rule.distribution_suggested_min, rule.distribution_suggested_max, mode, rule._distribution_figures()
            )
        return changes

    def _distribution_figures(self):
        """What the current suggestion was made from (kept with a change, and in a request for approval)."""
        self.ensure_one()
        return {
            "adu": self.distribution_adu,
            "lead_days": self.distribution_lead_days,
            "method": self.distribution_suggestion_method or False,
            "change_pct": self.distribution_change_pct,
        }

    def _distribution_write_levels(self, new_min, new_max, mode, figures):
        """Verb: write ``new_min`` and ``new_max`` on this rule and log the change (``mode``: auto, manual,
        approved) with the ``figures`` that produced it. For the server's own code (see _distribution_apply)."""
        self.ensure_one()
        vals = {
            "orderpoint_id": self.id,
            "product_id": self.product_id.id,
            "warehouse_id": self.warehouse_id.id,
            "company_id": self.company_id.id,
            "old_min": self.product_min_qty,
            "old_max": self.product_max_qty,
            "new_min": new_min,
            "new_max": new_max,
            "mode": mode,
            "user_id": self.env.user.id,
            **figures,
        }
        levels = {"product_min_qty": new_min, "product_max_qty": new_max, "distribution_suggestion_state": "applied"}
        if self.distribution_proposed:
            # A proposed rule applied is adopted: Odoo's engine replenishes it from now on.
            levels.update(trigger="auto", distribution_proposed=False)
        with verbs.server_verb(APPLY, self):
            # sudo: a Distribution User applies a suggestion within the tolerance without the Inventory rights
            # to edit reordering rules: the verb is the right (checked by the callers).
            self.sudo().write(levels)
        # sudo: the change log is written by the system only; nobody creates or edits it.
        return self.env["distribution.replenishment.change"].sudo().create(vals)

    @api.model
    def _distribution_rules_to_propose(self, company, limit=500):
        """[(product id, warehouse id)]: the storable products delivered to customers from a warehouse of
        ``company`` within the longest horizon of its profiles and without any reordering rule there,
        archived ones included (an archived rule is a decision), the most delivered first, at most ``limit``.
        One grouped query."""
        profiles = self.env["distribution.replenishment.profile"].search([("company_id", "=", company.id)])
        horizon = max([p.horizon_days for p in profiles if p.horizon_days] or [90])
        self._distribution_flush_moves()
        self.flush_model(["product_id", "warehouse_id"])
        # Raw SQL: the pairs with deliveries and no rule, in one grouped anti-join.
        self.env.cr.execute(
            SQL(
                """
                SELECT move.product_id, src.warehouse_id
                  FROM stock_move move
                  JOIN stock_location src ON src.id = move.location_id
                  JOIN stock_location dest ON dest.id = move.location_dest_id
                  JOIN product_product product ON product.id = move.product_id
                  JOIN product_template template ON template.id = product.product_tmpl_id
                 WHERE move.state = 'done' AND move.company_id = %(company)s AND move.date >= %(since)s
                   AND src.usage = 'internal' AND dest.usage = 'customer' AND src.warehouse_id IS NOT NULL
                   AND product.active AND template.is_storable
                   AND NOT EXISTS (SELECT 1 FROM stock_warehouse_orderpoint rule
                                    WHERE rule.product_id = move.product_id AND rule.warehouse_id = src.warehouse_id)
                 GROUP BY 1, 2
                 ORDER BY SUM(move.product_qty) DESC
                 LIMIT %(limit)s
                """,
                company=company.id,
                since=fields.Datetime.now() - timedelta(days=horizon),
                limit=limit,
            )
        )
        return self.env.cr.fetchall()

    @api.model
    def _distribution_propose_rules(self, company, pairs):
        """Verb: a proposed rule (manual, min and max 0, its suggestion computed) for each (product id,
        warehouse id) of ``pairs`` (see _distribution_rules_to_propose). Answers the proposed rules."""
        Warehouse = self.env["stock.warehouse"]
        vals_list = [
            {
                "product_id": product_id,
                "warehouse_id": warehouse_id,
                "location_id": Warehouse.browse(warehouse_id).lot_stock_id.id,
                "company_id": company.id,
                "trigger": "manual",
                "product_min_qty": 0.0,
                "product_max_qty": 0.0,
                "distribution_proposed": True,
            }
            for product_id, warehouse_id in pairs
        ]
        if not vals_list:
            return self.browse()
        with verbs.server_verb(PROPOSE, self):
            # sudo: the suggestions propose rules for whoever runs them; a person applies (or archives) them.
            proposed = self.sudo().with_company(company).create(vals_list)
        proposed._distribution_compute_suggestions()
        return proposed.sudo(False)

    def _distribution_write_cover(self, cover, free):
        """Verb: the days of cover of this rule found by the low stock monitor (None: no demand) and the free
        quantity they come from."""
        self.ensure_one()
        with verbs.server_verb(COVER, self):
            # sudo: the monitor's figures, written by the system.
            self.sudo().write(
                {
                    "distribution_cover_days": cover or 0.0,
                    "distribution_cover_checked_at": fields.Datetime.now(),
                    "distribution_free_qty": free,
                    "distribution_under_min": free < self.product_min_qty,
                }
            )

    def _distribution_check_group(self, group):
        if not self.env.user.has_group(group):
            raise AccessError(self.env._("Only Distribution Users work with reorder suggestions."))

    @api.model
    def _cron_distribution_suggestions(self, batch_size=500):
        """Scheduled action (nightly): compute the suggestion of the active rules not computed today, in
        batches locked with SKIP LOCKED (several workers share the work, a rule is never computed twice at
        once), and apply those within the tolerance. Each batch is a tracked run and is committed by the
        scheduler; a full batch asks for the next one."""
        # The start of the server's day (UTC, as the computed_at it is compared with; not the user's day).
        today_start = fields.Datetime.to_datetime(fields.Date.today())
        Run = self.env["distribution.workflow.run"]
        # First the products delivered without a rule: each gets a proposed one (its suggestion computed).
        for company in self.env["res.company"].search([]):
            pairs = self._distribution_rules_to_propose(company, limit=batch_size)
            if pairs:
                with Run.with_company(company).track("replenishment_suggestions") as run:
                    proposed = self._distribution_propose_rules(company, pairs)
                    run.message = self.env._(
                        "%s reordering rules proposed for products delivered without one.", len(proposed)
                    )
        self.flush_model(["distribution_suggested_at", "active", "trigger", "distribution_proposed"])
        # Raw SQL: row locks with SKIP LOCKED are not available through the ORM.
        self.env.cr.execute(
            SQL(
                """SELECT id FROM stock_warehouse_orderpoint
                    WHERE active AND (trigger = 'auto' OR distribution_proposed)
                      AND (distribution_suggested_at IS NULL OR distribution_suggested_at < %s)
                    ORDER BY distribution_suggested_at NULLS FIRST, id
                    LIMIT %s FOR NO KEY UPDATE SKIP LOCKED""",
                today_start,
                batch_size,
            )
        )
        rules = self.browse([row[0] for row in self.env.cr.fetchall()])
        if rules:
            with Run.track("replenishment_suggestions", rules) as run:
                rules._distribution_compute_suggestions()
                within = rules.filtered(lambda rule: rule.distribution_suggestion_state == "within")
                within._distribution_apply("auto")
                above = rules.filtered(lambda rule: rule.distribution_suggestion_state == "above")
                # A proposed rule waits for a person to apply it: the night asks nobody to approve it.
                asked = above.filtered(lambda rule: not rule.distribution_proposed)
                requested = asked._distribution_left_above_tolerance()
                run.message = self.env._(
                    "%(count)s suggestions computed, %(applied)s applied within the tolerance, %(waiting)s "
                    "beyond it (%(requested)s sent for approval).",
                    count=len(rules),
                    applied=len(within),
                    waiting=len(above),
                    requested=len(requested),
                )
        remaining = (
            self.search_count(
                [
                    "|",
                    ("trigger", "=", "auto"),
                    ("distribution_proposed", "=", True),
                    "|",
                    ("distribution_suggested_at", "=", False),
                    ("distribution_suggested_at", "<", today_start),
                ]
            )
            if len(rules) >= batch_size
            else 0
        )
        self.env["ir.cron"]._notify_progress(done=len(rules), remaining=remaining)
        return rules

    # -- the replenishment run ----------------------------------------------------------------------
    @api.model
    def _cron_distribution_replenishment_run(self):
        """Scheduled action: for the automatic rules under their min, first an internal transfer from another
        warehouse of the company holding the product above its own rule's max (the largest surplus first),
        then Odoo's own engine buys what is still missing. One tracked run per company, with the counts."""
        rules = self.search([("trigger", "=", "auto"), ("qty_to_order", ">", 0)])
        for company in rules.company_id:
            company_rules = rules.filtered(lambda rule, c=company: rule.company_id == c).with_company(company)
            with self.env["distribution.workflow.run"].with_company(company).track("replenishment_run") as run:
                transfers = company_rules._distribution_transfer_surplus()
                still = company_rules.filtered(lambda rule: rule.qty_to_order > 0)
                if still:
                    still._procure_orderpoint_confirm(company_id=company, raise_user_error=False)
                run.message = self.env._(
                    "%(count)s rules under their min: %(transfers)s internal transfers from warehouses with a "
                    "surplus, %(procured)s left to Odoo's purchasing.",
                    count=len(company_rules),
                    transfers=len(transfers),
                    procured=len(still),
                )
        return rules

    def _distribution_transfer_surplus(self):
        """Internal transfers into these rules' warehouses from the company's other warehouses holding the
        product above their own rule's max. Answers the transfers (confirmed and reserved)."""
        Picking = self.env["stock.picking"]
        transfers = Picking
        # Every automatic rule of these products in the company: a warehouse's surplus is its free quantity
        # above its own max (a warehouse without a rule for the product has no known surplus).
        all_rules = self.search(
            [
                ("product_id", "in", self.product_id.ids),
                ("company_id", "in", self.company_id.ids),
                ("trigger", "=", "auto"),
            ]
        )
        free = all_rules._distribution_free_quantities()
        surplus = {
            (rule.product_id, rule.warehouse_id): free[(rule.product_id.id, rule.warehouse_id.id)]
            - rule.product_max_qty
            for rule in all_rules
        }
        for rule in self:
            need = rule.qty_to_order
            sources = {
                warehouse: quantity
                for (product, warehouse), quantity in surplus.items()
                if product == rule.product_id and warehouse != rule.warehouse_id
            }
            for warehouse, quantity in replenishment.transfer_plan(need, sources):
                picking = Picking.create(
                    {
                        "picking_type_id": rule.warehouse_id.int_type_id.id,
                        "location_id": warehouse.lot_stock_id.id,
                        "location_dest_id": rule.location_id.id,
                        "origin": self.env._(
                            "Surplus of %(from)s for %(rule)s", **{"from": warehouse.name, "rule": rule.name}
                        ),
                        "move_ids": [
                            fields.Command.create(
                                {
                                    "name": rule.product_id.display_name,
                                    "product_id": rule.product_id.id,
                                    "product_uom_qty": quantity,
                                    "product_uom": rule.product_id.uom_id.id,
                                    "location_id": warehouse.lot_stock_id.id,
                                    "location_dest_id": rule.location_id.id,
                                }
                            )
                        ],
                    }
                )
                picking.action_confirm()
                picking.action_assign()
                surplus[(rule.product_id, warehouse)] -= quantity
                transfers |= picking
        # The transfers are now incoming: Odoo's forecast of the rules counts them.
        self.invalidate_recordset(["qty_forecast", "qty_to_order"])
        return transfers
