import logging
from collections import defaultdict

from markupsafe import Markup

from odoo import api
from odoo import fields
from odoo import models
from odoo.addons.distribution_observability.services import verbs
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..services import dispatch
from ..services import validation
from .distribution_validation_rule import CATEGORY_OF_TYPE

# Fields whose change re-runs the checks of an order on hold.
REVALIDATE_FIELDS = {
    "order_line",
    "partner_id",
    "commitment_date",
    "warehouse_id",
    "pricelist_id",
    "partner_shipping_id",
}
MANAGER_GROUP = "distribution_observability.group_distribution_manager"
_logger = logging.getLogger(__name__)
# The server verbs of the pipeline. Their guard fields (see _distribution_guarded_fields) are written only
# inside them: no context key, no direct write, no sudo() opens them.
VALIDATION = "distribution_validation"
RELEASE = "distribution_release"
CONFIRM = "distribution_confirm"
# Around the validation that saving a held quotation runs: a hold that clears then never confirms.
SAVING = "distribution_saving"
# The intake of customer-channel orders (distribution.sales.channel): the only writer of the business key.
CHANNEL_INTAKE = "distribution_channel_intake"
CHANNEL_KEY_INDEX = "sale_order_distribution_channel_ref_uniq"


class SaleOrder(models.Model):
    _name = "sale.order"
    _inherit = ["sale.order", "distribution.dispatch.mixin"]

    distribution_validation_state = fields.Selection(
        [
            ("not_checked", "Not checked"),
            ("validated", "Validated"),
            ("warning", "Warning"),
            ("on_hold", "On hold"),
            ("released", "Released"),
        ],
        string="Validation",
        default="not_checked",
        copy=False,
        tracking=True,
        index=True,
    )
    distribution_hold_reason = fields.Char("Hold Reason", copy=False, readonly=True)
    distribution_check_ids = fields.One2many("distribution.validation.check", "order_id", "Checks", copy=False)
    distribution_exception_ids = fields.One2many("distribution.exception", "sale_order_id", "Exceptions")
    distribution_exception_count = fields.Integer(compute="_compute_distribution_exception_count")
    distribution_validated_at = fields.Datetime("Last Validation", copy=False, readonly=True)
    distribution_released_at = fields.Datetime("Released At", copy=False, readonly=True)
    distribution_release_reason = fields.Text("Release Reason", copy=False, readonly=True)
    # The business key of an order that came from a customer channel (unique, see init), and the fingerprint of
    # what the channel last said about it: a resend is recognised by the key, an identical one by the print.
    distribution_channel_id = fields.Many2one(
        "distribution.sales.channel", "Sales Channel", copy=False, readonly=True, index="btree_not_null"
    )
    distribution_channel_ref = fields.Char("Channel Order Reference", copy=False, readonly=True)
    distribution_channel_fingerprint = fields.Char("Channel Fingerprint", copy=False, readonly=True)

    @api.depends("distribution_exception_ids.state")
    def _compute_distribution_exception_count(self):
        counts = dict(
            self.env["distribution.exception"]._read_group(
                [("sale_order_id", "in", self.ids), ("is_open", "=", True)],
                ["sale_order_id"],
                ["__count"],
            )
        )
        for order in self:
            order.distribution_exception_count = counts.get(order, 0)

    # -- dispatch priority (distribution.dispatch.mixin) ----------------------------------------------
    def _dispatch_depends(self):
        return [
            *super()._dispatch_depends(),
            "state",
            "delivery_status",
            "commitment_date",
            "expected_date",
            "amount_total",
            "currency_rate",
            "partner_id",
        ]

    @api.model
    def _dispatch_open_domain(self):
        return [("state", "=", "sale"), ("delivery_status", "in", (False, "pending", "started", "partial"))]

    def _get_dispatch_inputs(self, now):
        """Confirmed orders not fully delivered: SLA tier of the commercial partner, promise =
        commitment date (else the expected date), value = total in company currency."""
        inputs = dict.fromkeys(self.ids)
        for order in self:
            if order.state != "sale" or order.delivery_status == "full":
                continue
            tier = order.partner_id.commercial_partner_id.distribution_sla_tier_id
            inputs[order.id] = {
                "sla_target_hours": tier.target_hours if tier else None,
                "hours_to_promise": dispatch.hours_between(now, order._distribution_promise_date()),
                "order_value": order.amount_total / order.currency_rate if order.currency_rate else 0.0,
                "tier_weight": tier.weight if tier else 1.0,
            }
        return inputs

    def _distribution_promise_date(self):
        """What the customer was promised: the commitment date when one was given, else the date Odoo
        expects to deliver. The one definition used by the checks, dispatch priority, carrier ETAs and
        notifications."""
        self.ensure_one()
        return self.commitment_date or self.expected_date

    # -- guard fields ---------------------------------------------------------------------------
    @api.model
    def _distribution_guarded_fields(self):
        """Hook: the fields that record whether an order passed its checks, and the verbs that write them."""
        return {
            "distribution_validation_state": (VALIDATION, RELEASE),
            "distribution_hold_reason": (VALIDATION, RELEASE),
            "distribution_validated_at": (VALIDATION,),
            "distribution_check_ids": (VALIDATION,),
            "distribution_released_at": (RELEASE, VALIDATION),
            "distribution_release_reason": (RELEASE, VALIDATION),
            "distribution_channel_id": (CHANNEL_INTAKE,),
            "distribution_channel_ref": (CHANNEL_INTAKE,),
            "distribution_channel_fingerprint": (CHANNEL_INTAKE,),
        }

    def init(self):
        result = super().init()
        # One order per business key, also between two workers applying two resends at the same instant:
        # the database settles it (the loser's insert fails and its event is applied again as a resend).
        self.env.cr.execute(
            SQL(
                "CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s (distribution_channel_id, distribution_channel_ref)"
                " WHERE distribution_channel_id IS NOT NULL",
                SQL.identifier(CHANNEL_KEY_INDEX),
                SQL.identifier(self._table),
            )
        )
        return result

    def _distribution_refuse_guarded(self, vals):
        """Refuse a write of the pipeline's guard fields, and a confirmation (state 'sale'), that does
        not come from the pipeline's own verbs."""
        refused = verbs.refused_fields(self, vals, self._distribution_guarded_fields())
        if vals.get("state") == "sale" and not verbs.inside(CONFIRM, self):
            refused.append("state")
        channel = [name for name in refused if name.startswith("distribution_channel_")]
        if channel:
            raise AccessError(
                self.env._(
                    "%(fields)s of a sales order are set by the order intake of its sales channel, not written "
                    "directly.",
                    fields=", ".join(self._fields[name].string for name in channel),
                )
            )
        if refused:
            raise AccessError(
                self.env._(
                    "%(fields)s of a sales order are set by its Confirm and Release actions and by its checks, "
                    "not written directly.",
                    fields=", ".join(self._fields[name].string for name in refused),
                )
            )

    @api.model_create_multi
    def create(self, vals_list):
        guarded = self._distribution_guarded_fields()
        for vals in vals_list:
            # A form sends the default of every field it shows ('not checked', empty): that is no claim
            # that a gate was passed. Any other value is.
            claimed = {
                name: value
                for name, value in vals.items()
                if not (name in guarded and (not value or value == "not_checked" or value == [(5, 0, 0)]))
            }
            self.browse()._distribution_refuse_guarded(claimed)
        return super().create(vals_list)

    def write(self, vals):
        if self:
            self._distribution_refuse_guarded(vals)
        result = super().write(vals)
        if vals.get("state") in ("draft", "cancel"):
            # A release is given to the order as it was: once it leaves confirmation (cancelled, set back
            # to quotation), its next confirmation runs every check again.
            self._distribution_forget_release()
        if REVALIDATE_FIELDS & set(vals):
            held = self.filtered(
                lambda o: o.distribution_validation_state == "on_hold" and o.state in ("draft", "sent")
            )
            # Not during a validation pass (a switch of warehouse by a stock proposal): the pass is
            # running the checks already.
            if held and not verbs.inside(VALIDATION, held):
                # Saving a quotation may clear its hold, but never confirms it: confirming stays an act.
                with verbs.server_verb(SAVING, held):
                    held._distribution_validate(release=False)
        return result

    def _distribution_forget_release(self):
        released = self.filtered(lambda o: o.distribution_validation_state in ("released", "validated", "warning"))
        if released:
            with verbs.server_verb(VALIDATION, released):
                released.write(
                    {
                        "distribution_validation_state": "not_checked",
                        "distribution_released_at": False,
                        "distribution_release_reason": False,
                    }
                )

    # -- confirmation ---------------------------------------------------------------------------
    def action_confirm(self):
        """Confirm the orders that pass their checks; orders with a failing hold rule stay
        unconfirmed, on hold, with one exception per failing rule. Only an order released by its own
        release verb (the holds resolved, a Distribution Manager's release) confirms without its checks."""
        to_check = self.filtered(
            lambda o: o.state in ("draft", "sent") and o.distribution_validation_state != "released"
        )
        held = to_check._distribution_validate(release=False) if to_check else self.browse()
        # Orders confirmed during the pass (an approval granted at once released them) are done already.
        to_confirm = self - held - to_check.filtered(lambda o: o.state == "sale")
        result = True
        if to_confirm:
            with verbs.server_verb(CONFIRM, to_confirm):
                result = super(SaleOrder, to_confirm).action_confirm()
        if held:
            return held._distribution_hold_notification()
        return result

    def _action_confirm(self):
        result = super()._action_confirm()
        Outbox = self.env["distribution.outbound.event"]
        for order in self:
            Outbox._emit("order.confirmed", order, order._distribution_event_data())
        return result

    def _distribution_event_data(self):
        """What the outbound order events say about an order."""
        self.ensure_one()
        return {
            "order": self.name,
            "customer": self.partner_id.commercial_partner_id.display_name,
            "customer_ref": self.client_order_ref or None,
            "amount_total": self.amount_total,
            "currency": self.currency_id.name,
            "commitment_date": self.commitment_date and fields.Datetime.to_string(self.commitment_date),
            "warehouse": self.warehouse_id.name,
            "validation_state": self.distribution_validation_state,
            "hold_reasons": [code for code in (self.distribution_hold_reason or "").split(", ") if code],
            "salesperson": self.user_id.name or None,
            # The channel's own reference, so that the channel can be told (absent for orders typed in).
            **(
                {"channel": self.distribution_channel_id.code, "channel_ref": self.distribution_channel_ref}
                if self.distribution_channel_id
                else {}
            ),
        }

    def _distribution_company_amount(self):
        """API for other addons: the order's total in its company's currency."""
        self.ensure_one()
        return self.currency_id._convert(
            self.amount_total, self.company_id.currency_id, self.company_id, self.date_order or fields.Date.today()
        )

    # -- the pipeline ------------------------------------------------------------------------------
    def _distribution_validate(self, release=True):
        """Run every applicable rule on these orders, one batched pass per company; store the checks,
        raise or resolve exceptions, set the validation state. Answer the orders put on hold.

        With ``release``, an order whose holds all cleared in this pass confirms (the scheduled
        re-validation); without, it stays a quotation that its salesperson confirms."""
        held = self.browse()
        for company in self.company_id:
            held |= self.filtered(lambda o, c=company: o.company_id == c)._distribution_validate_company(release)
        self._distribution_after_validation()
        return self.browse(held.ids).filtered(
            lambda o: o.state in ("draft", "sent") and o.distribution_validation_state == "on_hold"
        )

    def _distribution_validate_company(self, release):
        """One pass over orders of one company: its rules, its credit settings, its warehouses."""
        was_held = self.filtered(
            lambda o: o.distribution_validation_state == "on_hold" and o.state in ("draft", "sent")
        )
        rules = self.env["distribution.validation.rule"].search([("company_id", "=", self.company_id.id)])
        Run = self.env["distribution.workflow.run"]
        with verbs.server_verb(VALIDATION, self), Run.track("order_validation", self) as run:
            data = self._distribution_gather(rules)
            findings = defaultdict(list)
            for rule in rules:
                for order in rule._applicable(self):
                    finding = self._distribution_check(rule, order, data)
                    if not finding.passed:
                        finding.message = order._distribution_finding_message(finding)
                    findings[order.id].append((rule, order._distribution_review_finding(rule, finding)))
            held = self._distribution_apply(findings)
            if held:
                reasons = sorted(
                    {code for o in held for code in (o.distribution_hold_reason or "").split(", ") if code}
                )
                if len(self) == 1:
                    run.fail(", ".join(reasons), held.distribution_hold_reason, kind="business")
                else:
                    for order in held:
                        run.fail_item(order, order.distribution_hold_reason, kind="business")
                    run.reason = "batch"
            else:
                run.reason = "validated"
        cleared = was_held - held
        if cleared and release:
            # sudo: see _distribution_exceptions_cleared.
            cleared.sudo()._distribution_release(
                self.env._("The holds cleared when the order was validated again."), reason_code="holds_cleared"
            )
        return held

    def _distribution_after_validation(self):
        """Hook: called once a validation pass over these orders is over (another addon asks for the
        approvals the pass found necessary)."""

    def _distribution_finding_message(self, finding):
        """A failing finding in plain words, in the reader's language: the checks (services/validation.py)
        answer a reason code and the values they saw, the model words them. A reason this method does not
        know keeps the service's own text."""
        self.ensure_one()
        values = finding.values

        def num(value):
            return f"{value:,.2f}"

        reason = finding.reason
        if reason == "credit_limit":
            return self.env._(
                "Credit limit exceeded: open receivables %(receivable)s + orders not invoiced %(to_invoice)s + "
                "this order %(order)s = %(exposure)s %(currency)s, over the limit of %(limit)s by %(over)s. Ask "
                "the customer for a payment or a credit manager for an exception.",
                receivable=num(values["receivable"]),
                to_invoice=num(values["to_invoice"]),
                order=num(values["order_amount"]),
                exposure=num(values["exposure"]),
                currency=self.company_id.currency_id.name,
                limit=num(values["limit"]),
                over=num(values["over_by"]),
            )
        if reason == "stock_shortage":
            return self._distribution_shortage_message(values)
        if reason == "margin_floor":
            return self.env._(
                "Margin %(margin)s %% is under the floor of %(floor)s %%: raise the prices or get a pricing approval.",
                margin=format(values["margin_pct"], "g"),
                floor=format(values["floor_pct"], "g"),
            )
        if reason == "discount_ceiling":
            return self.env._(
                "Discount over the ceiling of %(ceiling)s %% (%(detail)s): reduce it or get a discount approval.",
                ceiling=format(values["ceiling_pct"], "g"),
                # No f-string among the arguments of _(): Odoo's term extraction (babel) cannot read them.
                detail=", ".join(
                    "{} {:g} %".format(label, discount)  # noqa: UP032
                    for label, discount in values["over"].items()
                ),
            )
        if reason == "price_below_pricelist":
            # Worded apart: a _() among the arguments of another is not seen by the term extraction.
            detail = ", ".join(
                self.env._(
                    "%(product)s at %(price)s instead of %(list_price)s",
                    product=label,
                    price=format(price, "g"),
                    list_price=format(list_price, "g"),
                )
                for label, (price, list_price) in values["below"].items()
            )
            return self.env._(
                "Prices under the pricelist (%(detail)s): use the pricelist price or get a price approval.",
                detail=detail,
            )
        if reason == "date_infeasible":
            return self.env._(
                "The promised date %(requested)s cannot be met: the earliest possible delivery is %(earliest)s "
                "(%(late)s days later). Agree a new date with the customer.",
                requested=values["requested"][:10],
                earliest=values["earliest"][:10],
                late=format(values["late_by_days"], "g"),
            )
        if reason == "rush_shipment":
            return self.env._(
                "Rush order: promised in %(hours)s hours (under %(limit)s). The warehouse must ship it first.",
                hours=format(values["hours_left"], "g"),
                limit=format(values["rush_hours"], "g"),
            )
        return finding.message

    def _distribution_shortage_message(self, values):
        proposal = values.get("proposal")
        if proposal == "alternate_warehouse":
            warehouse = self.env["stock.warehouse"].browse(values["alternate_warehouse"])
            text = self.env._(
                "ship the whole order from %s, which has everything in stock",
                warehouse.name or values["alternate_warehouse"],
            )
        elif proposal == "procure":
            text = self.env._("nothing can ship from here: replenish (purchase or transfer) before promising a date")
        elif proposal == "partial":
            text = self.env._(
                "ship what is in stock now and deliver the rest as a backorder (the customer accepts partial "
                "deliveries)"
            )
        elif proposal == "wait":
            text = self.env._("wait for the missing quantities: the customer wants complete deliveries")
        else:
            text = self.env._("ask the customer whether to ship partially: their backorder policy is to be asked")
        if values.get("to_procure") and proposal != "procure":
            text = self.env._(
                "%(proposal)s; replenish %(products)s",
                proposal=text,
                products=", ".join(map(str, values["to_procure"])),
            )
        shortages = ", ".join(
            self.env._("%(product)s: %(qty)s short", product=product, qty=format(qty, "g"))
            for product, qty in values["shortages"].items()
        )
        return self.env._(
            "Not enough free stock in this warehouse (%(shortages)s). Proposal: %(proposal)s.",
            shortages=shortages,
            proposal=text,
        )

    def _distribution_review_finding(self, rule, finding):
        """Hook: the finding of ``rule`` on this order, as it stands once what was already granted to the
        order is taken into account (another addon turns a failure covered by an approval into a pass)."""
        self.ensure_one()
        return finding

    def _distribution_gather(self, rules):
        """What the rules need, read for every order of one company at once (a handful of queries,
        whatever the number of lines)."""
        company = self.company_id
        company.ensure_one()
        types = set(rules.mapped("rule_type"))
        data = {"now": fields.Datetime.now()}
        if "credit_limit" in types:
            partners = self.partner_id.commercial_partner_id
            # sudo: receivables are accounting data a salesperson may not read; only totals are used.
            partners_sudo = partners.sudo().with_company(company)
            # Not stored and without dependencies on orders: read them fresh, not from this transaction's cache.
            partners_sudo.invalidate_recordset(["credit", "debit", "credit_to_invoice"])
            data["credit"] = {
                p.id: {
                    "receivable": p.credit,
                    "to_invoice": p.credit_to_invoice,
                    # Company-dependent: the partner's own limit in this company, else the company's default.
                    "limit": p.credit_limit,
                }
                for p in partners_sudo
            }
        if types & {"stock_availability", "date_feasibility"}:
            data["free"] = self._distribution_free_stock()
        return data

    def _distribution_free_stock(self):
        """API for other addons: free quantity (on hand minus reserved) per warehouse and product, for the
        products of these orders, in every warehouse of their companies: one grouped read."""
        products = self.order_line.product_id.filtered("is_storable")
        warehouses = self.env["stock.warehouse"].search([("company_id", "in", self.company_id.ids)])
        free = {wh.id: defaultdict(float) for wh in warehouses}
        if not products:
            return free
        # sudo: stock levels are read for the check, whatever the salesperson's stock rights.
        groups = (
            self.env["stock.quant"]
            .sudo()
            ._read_group(
                [
                    ("product_id", "in", products.ids),
                    ("location_id.usage", "=", "internal"),
                    ("location_id.warehouse_id", "in", warehouses.ids),
                ],
                ["product_id", "location_id"],
                ["quantity:sum", "reserved_quantity:sum"],
            )
        )
        for product, location, quantity, reserved in groups:
            if location.warehouse_id.id in free:
                free[location.warehouse_id.id][product.id] += quantity - reserved
        return free

    def _distribution_check(self, rule, order, data):
        """The finding of one rule on one order, from the gathered data: the method
        ``_distribution_check_<rule type>`` (another addon adds a rule type with its own method)."""
        return getattr(self, f"_distribution_check_{rule.rule_type}")(rule, order, data)

    def _distribution_check_credit_limit(self, rule, order, data):
        partner = order.partner_id.commercial_partner_id
        figures = data["credit"][partner.id]
        # Orders of the same customer confirmed in this pass count for the next ones.
        pending = data.setdefault("credit_pending", defaultdict(float))
        amount = order._distribution_company_amount()
        finding = validation.credit_limit(
            figures["limit"],
            figures["receivable"],
            figures["to_invoice"] + pending[partner.id],
            amount,
            currency=order.company_id.currency_id.name,
            enabled=order.company_id.account_use_credit_limit,
        )
        if finding.passed or not order._distribution_outcome_blocks(rule.outcome):
            pending[partner.id] += amount
        return finding

    def _distribution_check_stock_availability(self, rule, order, data):
        demand = self._distribution_demand_of(order, data)
        free = data["free"]
        here = free.get(order.warehouse_id.id, {})
        # Alternates are the warehouses of the order's company only (data is gathered per company).
        others = {wh: stock for wh, stock in free.items() if wh != order.warehouse_id.id}
        names = {wh.id: wh.name for wh in self.env["stock.warehouse"].browse(list(free))}
        policy = order.partner_id.commercial_partner_id.distribution_backorder_policy or "ship_partial"
        finding = validation.stock_availability(
            {p.display_name: q for p, q in demand.items()},
            {p.display_name: here.get(p.id, 0.0) for p in demand},
            {wh: {p.display_name: stock.get(p.id, 0.0) for p in demand} for wh, stock in others.items()},
            names,
            backorder_policy=policy,
        )
        finding.values["warehouse"] = order.warehouse_id.name
        return finding

    def _distribution_check_margin_floor(self, rule, order, data):
        lines = rule._lines(order)
        return validation.margin_floor(
            [(line.price_subtotal, order._distribution_line_cost(line)) for line in lines], rule.margin_floor_pct
        )

    def _distribution_check_discount_ceiling(self, rule, order, data):
        lines = rule._lines(order)
        return validation.discount_ceiling(
            [(line.product_id.display_name, line.discount) for line in lines], rule.discount_ceiling_pct
        )

    def _distribution_check_price_below_pricelist(self, rule, order, data):
        lines = rule._lines(order)
        list_prices = order._distribution_pricelist_prices(lines)
        # The price the customer pays is the unit price less the line's discount.
        return validation.price_below_pricelist(
            [
                (
                    line.product_id.display_name,
                    line.price_unit * (1.0 - (line.discount or 0.0) / 100.0),
                    list_prices[line.id],
                )
                for line in lines
            ],
            rule.pricelist_tolerance_pct,
        )

    def _distribution_check_date_feasibility(self, rule, order, data):
        here = data["free"].get(order.warehouse_id.id, {})
        lines = []
        for product, qty in self._distribution_demand_of(order, data).items():
            seller = product.seller_ids[:1]
            lines.append((here.get(product.id, 0.0) >= qty, product.sale_delay, seller.delay if seller else 0.0))
        for line in order.order_line.filtered(lambda ln: ln.product_id and not ln.product_id.is_storable):
            lines.append((True, line.product_id.sale_delay, 0.0))
        earliest = validation.earliest_date(
            data["now"], lines, order.company_id.security_lead, order.company_id.po_lead
        )
        # Only a date given to the customer is checked: the expected date is Odoo's own estimate.
        return validation.date_feasibility(order.commitment_date, earliest)

    def _distribution_check_rush_shipment(self, rule, order, data):
        return validation.rush_shipment(order.commitment_date, data["now"], rule.rush_hours)

    def _distribution_check_custom(self, rule, order, data):
        """The order fails when it matches the rule's condition."""
        matches = (
            bool(order.filtered_domain(rule._domain("custom_domain")))
            if rule.custom_domain not in (False, "", "[]")
            else False
        )
        if not matches:
            return validation.Finding(True, "custom_ok")
        return validation.Finding(
            False,
            "custom",
            self.env._("The order matches the condition of rule %s.", rule.name),
            {"domain": rule.custom_domain},
        )

    @api.model
    def _distribution_demand_of(self, order, data):
        """The order's demand, computed once per validation pass for all the checks that use it."""
        demands = data.setdefault("demand", {})
        if order.id not in demands:
            demands[order.id] = order._distribution_demand()
        return demands[order.id]

    def _distribution_demand(self):
        """API for other addons: quantity per storable product, in the product's unit."""
        self.ensure_one()
        demand = defaultdict(float)
        for line in self.order_line.filtered(lambda ln: ln.product_id.is_storable):
            demand[line.product_id] += line.product_uom._compute_quantity(line.product_uom_qty, line.product_id.uom_id)
        return demand

    def _distribution_line_cost(self, line):
        """API for other addons: the cost of ``line`` (product cost times quantity), in the order's currency."""
        cost = line.product_id.standard_price * line.product_uom._compute_quantity(
            line.product_uom_qty, line.product_id.uom_id
        )
        return self.company_id.currency_id._convert(
            cost, self.currency_id, self.company_id, self.date_order or fields.Date.today()
        )

    def _distribution_pricelist_prices(self, lines):
        """Pricelist price per line; one pricelist computation per distinct quantity, not per line."""
        self.ensure_one()
        prices = {}
        if not self.pricelist_id:
            return {line.id: line.product_id.lst_price for line in lines}
        by_qty = defaultdict(lambda: self.env["sale.order.line"])
        for line in lines:
            by_qty[(line.product_uom_qty, line.product_uom.id)] |= line
        for (qty, _uom), group in by_qty.items():
            rules = self.pricelist_id._compute_price_rule(
                group.product_id, qty, currency=self.currency_id, uom=group.product_uom[:1], date=self.date_order
            )
            for line in group:
                prices[line.id] = rules[line.product_id.id][0]
        return prices

    def _distribution_apply(self, findings):
        """Store the checks, apply stock proposals when the rule says so, raise and resolve
        exceptions, set the state. Answer the orders on hold."""
        already_held = self.filtered(lambda o: o.distribution_validation_state == "on_hold")
        Exception_ = self.env["distribution.exception"]
        # sudo: check lines and exceptions are written by the system for whoever confirms.
        self.sudo().distribution_check_ids.unlink()
        check_vals, held = [], self.browse()
        open_rule_exceptions = Exception_.sudo().search(
            [
                ("res_model", "=", "sale.order"),
                ("res_id", "in", self.ids),
                ("source_key", "=like", "rule:%"),
                ("is_open", "=", True),
            ]
        )
        for order in self:
            outcomes, failing_keys, reasons = defaultdict(int), set(), []
            for rule, finding in findings.get(order.id, []):
                outcome = "pass" if finding.passed else rule.outcome
                message = finding.message
                if not finding.passed and rule.rule_type == "stock_availability" and rule.shortage_action == "apply":
                    applied = order._distribution_apply_stock_proposal(finding)
                    if applied:
                        outcome, message = "note", applied
                check_vals.append(
                    {
                        "order_id": order.id,
                        "rule_id": rule.id,
                        "sequence": rule.sequence,
                        "outcome": outcome,
                        "reason_code": finding.reason,
                        "message": message,
                        "values": finding.values,
                    }
                )
                blocks = order._distribution_outcome_blocks(outcome)
                outcomes["hold" if blocks else outcome] += 1
                if blocks or outcome == "warn":
                    key = f"rule:{rule.id}"
                    failing_keys.add(key)
                    Exception_._raise_for(
                        order,
                        key,
                        CATEGORY_OF_TYPE[rule.rule_type],
                        message,
                        severity=rule.severity,
                        reason_code=finding.reason,
                        rule=rule,
                        values=finding.values,
                        blocking=blocks,
                    )
                    if blocks:
                        reasons.append(finding.reason)
            cleared = open_rule_exceptions.filtered(
                lambda e, o=order, k=failing_keys: e.res_id == o.id and e.source_key not in k
            )
            state = validation.summarize(outcomes)
            order.write(
                {
                    "distribution_validation_state": state,
                    "distribution_hold_reason": ", ".join(reasons) or False,
                    "distribution_validated_at": fields.Datetime.now(),
                }
            )
            if cleared:
                cleared._mark_resolved(
                    self.env._("The condition cleared at the validation of %s.", order.name), auto=True
                )
            if state == "on_hold":
                held |= order
        self.env["distribution.validation.check"].sudo().create(check_vals)
        newly_held = held - already_held
        template = newly_held and self.env.ref(
            "distribution_orchestration.mail_template_distribution_hold_notice", raise_if_not_found=False
        )
        for order in newly_held:
            self.env["distribution.outbound.event"]._emit("order.held", order, order._distribution_event_data())
        # The salesperson hears of a hold once, when the order goes on hold, not at every re-validation.
        for order in newly_held.filtered(lambda o: o.user_id):
            if template:
                order.message_post_with_source(
                    template, subtype_xmlid="mail.mt_note", partner_ids=order.user_id.partner_id.ids
                )
        return held

    def _distribution_outcome_blocks(self, outcome):
        """Hook: whether a failing check with this outcome holds the order (another addon may add
        outcomes that hold, such as one waiting for an approval)."""
        return outcome == "hold"

    def _distribution_apply_stock_proposal(self, finding):
        """Apply a stock proposal: switch to the alternate warehouse, or set the delivery policy from
        the customer's backorder policy. Answer what was done, or None when a person must decide."""
        self.ensure_one()
        proposal = finding.values.get("proposal")
        if proposal == "alternate_warehouse":
            warehouse = self.env["stock.warehouse"].browse(finding.values["alternate_warehouse"])
            previous = self.warehouse_id.name
            self.warehouse_id = warehouse
            return self.env._(
                "Short in %(old)s: sourced from %(new)s, which has every line in stock (automatic).",
                old=previous,
                new=warehouse.name,
            )
        if proposal == "partial":
            self.picking_policy = "direct"
            return self.env._(
                "Short: ships what is in stock now, the rest follows as a backorder (customer "
                "accepts partial deliveries)."
            )
        if proposal == "wait":
            self.picking_policy = "one"
            return self.env._(
                "Short: ships complete once everything is in stock (customer wants complete " "deliveries)."
            )
        return None

    def _distribution_hold_notification(self):
        """Tell the salesperson in plain words: what failed, what to do, who resolves it (one line per
        order, from the hook _distribution_hold_notice)."""
        notices = [order._distribution_hold_notice() for order in self]
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Not confirmed: on hold")
                if any(kind == "hold" for kind, _text in notices)
                else self.env._("Not confirmed: waiting for a decision"),
                "message": "\n".join(text for _kind, text in notices if text),
                "type": "warning",
                "sticky": True,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def _distribution_hold_notice(self):
        """Hook: ``(kind, text)`` saying why this order is held, for the notification of a refused
        confirmation; kind is "hold" for the holds of this addon (another addon says "approval")."""
        self.ensure_one()
        holds = self.distribution_check_ids.filtered(lambda c: c.outcome == "hold")
        if not holds:
            return "other", ""
        owners = self.distribution_exception_ids.filtered(lambda e: e.blocking and e.is_open)
        who = ", ".join(sorted(set(owners.user_id.mapped("name")) | set(owners.group_id.mapped("name")))) or self.env._(
            "the Distribution team"
        )
        lines = " ".join(holds.mapped("message"))
        return "hold", self.env._(
            "%(order)s is on hold. %(lines)s Resolved by: %(who)s.", order=self.name, lines=lines, who=who
        )

    # -- release ------------------------------------------------------------------------------------
    def _distribution_exceptions_cleared(self):
        """Held orders whose blocking exceptions are all closed confirm themselves (except while a
        quotation is being saved: saving never confirms, the order is then only validated)."""
        waiting = self.filtered(lambda o: o.distribution_validation_state == "on_hold" and o.state in ("draft", "sent"))
        if not waiting:
            return
        still_blocked = {
            order.id
            for (order,) in self.env["distribution.exception"]
            .sudo()
            ._read_group(
                [
                    ("sale_order_id", "in", waiting.ids),
                    ("blocking", "=", True),
                    ("is_open", "=", True),
                ],
                ["sale_order_id"],
            )
        }
        ready = waiting.filtered(lambda o: o.id not in still_blocked)
        saving = ready.filtered(lambda o: verbs.inside(SAVING, o))
        if saving:
            with verbs.server_verb(VALIDATION, saving):
                saving.write({"distribution_validation_state": "validated", "distribution_hold_reason": False})
        if ready - saving:
            # sudo: whoever resolved the last hold (a credit controller, the system) releases the order even
            # without rights on sales orders; the release is logged with its reason.
            (ready - saving).sudo()._distribution_release(
                self.env._("Every hold was resolved."), reason_code="holds_resolved"
            )

    def _distribution_release(self, reason, reason_code="forced"):
        """Verb: confirm held orders without their checks, with the reason logged. For the server's own
        code only (the holds resolved, a Distribution Manager's release): callers check who acts."""
        with self.env["distribution.workflow.run"].track("hold_release", self) as run:
            run.reason = reason_code
            run.message = reason
            with verbs.server_verb(RELEASE, self):
                self.write(
                    {
                        "distribution_validation_state": "released",
                        "distribution_released_at": fields.Datetime.now(),
                        "distribution_release_reason": reason,
                    }
                )
            # A released order confirms without its checks: they were settled (action_confirm skips them).
            self.action_confirm()
            for order in self:
                data = dict(order._distribution_event_data(), release_reason=reason, release_code=reason_code)
                self.env["distribution.outbound.event"]._emit("order.released", order, data)

    def action_distribution_release(self):
        """Button: a Distribution Manager releases a hold with a written reason (wizard)."""
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(self.env._("Only a Distribution Manager may release a hold."))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Release hold"),
            "res_model": "distribution.release.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_order_ids": self.ids},
        }

    def _distribution_force_release(self, reason):
        """A Distribution Manager releases held orders: their blocking exceptions are dismissed with the
        reason, the orders confirm, and _distribution_on_forced_release hears of it."""
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(self.env._("Only a Distribution Manager may release a hold."))
        if not (reason or "").strip():
            raise UserError(self.env._("Write why the hold is released."))
        held = self.filtered(lambda o: o.distribution_validation_state == "on_hold" and o.state in ("draft", "sent"))
        if held != self:
            raise UserError(
                self.env._("%s is not on hold: there is nothing to release.", ", ".join((self - held).mapped("name")))
            )
        # sudo: the manager closes the exceptions that hold the order, whoever owns them.
        closing = {
            order: order.sudo().distribution_exception_ids.filtered(lambda e: e.blocking and e.is_open)
            for order in self
        }
        blocking = self.env["distribution.exception"].sudo().union(*closing.values())
        blocking._close("dismissed", dict.fromkeys(blocking, reason), settle=False)
        self._distribution_release(reason, reason_code="forced")
        self._distribution_on_forced_release(closing, reason)

    def _distribution_on_forced_release(self, closed, reason):
        """Hook: held orders were released by a Distribution Manager with ``reason``; ``closed`` maps each
        order to the blocking exceptions that release dismissed (an audit trail records it)."""

    def _distribution_log_release(self):
        """Called by the shipped automation rule 'order released': a note in the chatter."""
        for order in self:
            order.message_post(
                body=Markup("<p>%s</p><p>%s</p>")
                % (self.env._("Released from hold."), order.distribution_release_reason or ""),
                subtype_xmlid="mail.mt_note",
            )

    def action_distribution_validate(self):
        """Button: run the checks again (the order is not confirmed by this)."""
        self.check_access("write")
        with verbs.server_verb(SAVING, self):
            self._distribution_validate(release=False)
        return True

    def action_open_distribution_exceptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_orchestration.distribution_exception_action"
        )
        action["domain"] = [("sale_order_id", "=", self.id)]
        action["context"] = {}
        return action

    @api.model
    def _cron_revalidate_held_orders(self, batch_size=200):
        """Run the checks again on orders on hold: stock may have arrived, a payment been made; an order
        whose holds cleared confirms (the documented automatic release). Rows are locked with SKIP
        LOCKED, so several workers share the work. Each company's batch runs in a savepoint and, when it
        fails, its orders one by one: a failing order is recorded as a failed run, goes to the back of
        the queue, and never stops the others. A full batch asks for the next one at once."""
        self.flush_model(["distribution_validation_state", "state", "distribution_validated_at"])
        # Raw SQL: row locks with SKIP LOCKED are not available through the ORM.
        self.env.cr.execute(
            SQL(
                """SELECT id FROM sale_order
                WHERE distribution_validation_state = 'on_hold' AND state IN ('draft', 'sent')
                ORDER BY distribution_validated_at NULLS FIRST, id
                LIMIT %s FOR NO KEY UPDATE SKIP LOCKED""",
                batch_size,
            )
        )
        orders = self.browse([row[0] for row in self.env.cr.fetchall()])
        failed = self.browse()
        for company in orders.company_id:
            batch = orders.filtered(lambda o, c=company: o.company_id == c)
            if not batch._distribution_validate_isolated():
                for order in batch:
                    if not order._distribution_validate_isolated():
                        failed |= order
        if failed:
            # The failure is in the run log (track() writes it outside the rolled back savepoint); the
            # order waits behind the others for its next try.
            with verbs.server_verb(VALIDATION, failed):
                failed.write({"distribution_validated_at": fields.Datetime.now()})
        remaining = (
            self.search_count(
                [
                    ("distribution_validation_state", "=", "on_hold"),
                    ("state", "in", ("draft", "sent")),
                    ("id", "not in", orders.ids),
                ]
            )
            if len(orders) >= batch_size
            else 0
        )
        self.env["ir.cron"]._notify_progress(done=len(orders), remaining=remaining)
        return orders - failed

    def _distribution_validate_isolated(self):
        """Validate (and release) these orders in a savepoint; answer False when it failed (rolled back)."""
        try:
            with self.env.cr.savepoint():
                self._distribution_validate(release=True)
        except Exception:  # pylint: disable=broad-except
            # Whatever one order raises (bad data, a failing rule), the others must go on: the failure is
            # logged and recorded as a failed run by track().
            _logger.warning("Re-validation of %s failed", ", ".join(self.mapped("name")), exc_info=True)
            return False
        return True
