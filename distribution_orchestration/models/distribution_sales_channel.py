import psycopg2

from odoo import Command
from odoo import api
from odoo import fields
from odoo import models
from odoo.addons.distribution_observability.services import verbs
from odoo.exceptions import ValidationError
from odoo.tools import SQL
from odoo.tools import plaintext2html

from ..services import channel as channel_service
from ..services import inbound
from .distribution_inbound_endpoint import CODE_PATTERN
from .sale_order import CHANNEL_INTAKE
from .sale_order import CHANNEL_KEY_INDEX

# The advisory lock space of channel orders being applied: two workers never apply one business key at once.
LOCK_SPACE = 5_120_215
QUOTATION_STATES = ("draft", "sent")
# Source key of the open exception on the order created on hold, or of a changed resend after confirmation.
SOURCE_INVALID = "channel_order_invalid"
SOURCE_CHANGED = "channel_order_changed"


class DistributionSalesChannel(models.Model):
    """A channel customer orders come from (a web shop, a marketplace, an EDI feed), posting them signed
    to an inbound endpoint with the ``channel_order`` handler: how its orders become sale orders."""

    _name = "distribution.sales.channel"
    _description = "Sales Channel"
    _order = "name, id"
    _check_company_auto = True

    name = fields.Char(required=True)
    code = fields.Char(required=True, copy=False, help="What the channel's orders name it by (the payload's channel).")
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    warehouse_id = fields.Many2one(
        "stock.warehouse", "Default Warehouse", check_company=True, help="Empty: the company's default."
    )
    pricelist_id = fields.Many2one(
        "product.pricelist",
        check_company=True,
        help="The prices the channel's prices are checked against (empty: the customer's pricelist).",
    )
    user_id = fields.Many2one("res.users", "Salesperson", check_company=True)
    team_id = fields.Many2one("crm.team", "Sales Team", check_company=True)
    auto_confirm = fields.Boolean(
        help="Confirm the orders at once: they go through the validation pipeline and may be put on hold."
    )
    price_tolerance_pct = fields.Float(
        "Price Tolerance (%)",
        default=5.0,
        help="How far a price the channel sends may be from the pricelist's before the order is refused.",
    )
    hold_instead_of_reject = fields.Boolean(
        "Create on Hold",
        help="An order with problems (unknown SKU, price out of tolerance...) is created as a quotation with the "
        "lines that could be read, never confirmed, with an exception that lists the problems; otherwise it "
        "is not created. An unknown customer is refused either way.",
    )
    sku_ids = fields.One2many("distribution.sales.channel.sku", "channel_id", "SKU Mapping", copy=True)
    order_ids = fields.One2many("sale.order", "distribution_channel_id", "Sales Orders")
    order_count = fields.Integer("Orders", compute="_compute_order_count")

    _sql_constraints = [
        ("code_company_unique", "unique(company_id, code)", "The code of a sales channel is unique in a company."),
        ("tolerance_positive", "check(price_tolerance_pct >= 0)", "The price tolerance cannot be negative."),
    ]

    @api.constrains("code")
    def _check_code(self):
        for channel in self:
            if not CODE_PATTERN.match(channel.code or ""):
                raise ValidationError(
                    self.env._("The code %s may only hold letters, digits, '-' and '_' (at most 64).", channel.code)
                )

    def _compute_order_count(self):
        counts = dict(
            self.env["sale.order"]._read_group(
                [("distribution_channel_id", "in", self.ids)], ["distribution_channel_id"], ["__count"]
            )
        )
        for channel in self:
            channel.order_count = counts.get(channel, 0)

    def action_view_orders(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("sale.action_orders")
        action["domain"] = [("distribution_channel_id", "=", self.id)]
        action["context"] = {"create": False}
        return action

    # -- intake ----------------------------------------------------------------------------------
    @api.model
    def _intake_event(self, event, data):
        """Apply a ``channel_order`` event (the inbox handler): the channel of the event's company named by the
        payload takes it. Answers (exceptions raised, text of what changed) like every handler."""
        channel = self.search([("code", "=", data["channel"]), ("company_id", "=", event.company_id.id)], limit=1)
        if not channel:
            raise inbound.BusinessProblem(
                "unknown_channel",
                self.env._(
                    "no sales channel has the code %(code)s in %(company)s.",
                    code=data["channel"],
                    company=event.company_id.name,
                ),
            )
        return channel._intake(data, event)

    def _intake(self, data, event):
        """One channel order, known by its business key (this channel and its order reference), never by the
        event id: a new key becomes a sale order, an identical resend changes nothing, a changed resend updates
        the quotation or, once the order is confirmed, raises ``channel_order_changed`` and leaves it. Every
        problem of the content is found before anything is written (see ``_intake_plan``)."""
        self.ensure_one()
        ref = data["order_ref"].strip()
        key = channel_service.business_key(self.code, ref)
        # Raw SQL: a transaction-scoped advisory lock, which the ORM has no word for. Held by another worker: it
        # is applying a resend of this very order; this event is applied again once that one is committed.
        self.env.cr.execute(SQL("SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", LOCK_SPACE, f"{self.id}:{ref}"))
        if not self.env.cr.fetchone()[0]:
            raise inbound.RetryLater(self.env._("Order %s is being applied by another worker.", key))
        SaleOrder = self.env["sale.order"]
        order = SaleOrder.search([("distribution_channel_id", "=", self.id), ("distribution_channel_ref", "=", ref)])
        print_ = channel_service.fingerprint(data)
        if order and order.distribution_channel_fingerprint == print_:
            return self.env["distribution.exception"], self.env._(
                "%(order)s: identical resend of %(key)s, nothing changed", order=order.name, key=key
            )
        if order and order.state not in QUOTATION_STATES:
            exception = self.env["distribution.exception"]._raise_for(
                order,
                SOURCE_CHANGED,
                "channel_order_changed",
                self.env._(
                    "Channel %(channel)s sent order %(ref)s again with changes (event %(event)s), but %(order)s is "
                    "no longer a quotation: it was left as it is. Agree the change with the channel or the customer "
                    "and make it on the order by hand.",
                    channel=self.name,
                    ref=ref,
                    event=event.event_id,
                    order=order.name,
                ),
                severity="high",
                reason_code="channel_order_changed",
                values={"channel": self.code, "channel_ref": ref, "event_id": event.event_id, "payload": data},
            )
            return exception, self.env._(
                "%(order)s: changed resend of %(key)s after confirmation, left as it is", order=order.name, key=key
            )
        plan, problems = self._intake_plan(data)
        # Translated words computed first: a _() nested in the arguments of another does not reach the .pot.
        done = self.env._("updated") if order else self.env._("created")
        if problems and not (plan["partner"] and self.hold_instead_of_reject):
            raise inbound.BusinessProblem(
                "channel_order_invalid",
                self.env._(
                    "Order %(ref)s of channel %(channel)s was not %(done)s: %(count)s problem(s).\n%(problems)s",
                    ref=ref,
                    channel=self.name,
                    done=done,
                    count=len(problems),
                    problems=channel_service.summarize(problems),
                ),
                on={
                    "record": self,
                    "category": "channel_order_invalid",
                    "source_key": f"channel_order:{ref}",
                    "values": {"channel": self.code, "channel_ref": ref, "problems": problems},
                },
            )
        vals = self._intake_order_vals(plan, ref, print_, data)
        try:
            with self.env.cr.savepoint():
                if order:
                    vals["order_line"] = [Command.delete(line.id) for line in order.order_line] + vals["order_line"]
                    with verbs.server_verb(CHANNEL_INTAKE, order):
                        order.write(vals)
                else:
                    with verbs.server_verb(CHANNEL_INTAKE, SaleOrder):
                        order = SaleOrder.create(vals)
        except psycopg2.errors.UniqueViolation as error:
            if error.diag.constraint_name != CHANNEL_KEY_INDEX:
                raise
            # Another worker created it since this transaction began (invisible to it): applied again, as a resend.
            raise inbound.RetryLater(self.env._("Order %s was created by another worker meanwhile.", key)) from error
        self.env["distribution.exception"]._resolve_for(
            self, [f"channel_order:{ref}"], self.env._("Order %s was received without problems.", order.name)
        )
        exceptions = self.env["distribution.exception"]
        if problems:
            exceptions = self.env["distribution.exception"]._raise_for(
                order,
                SOURCE_INVALID,
                "channel_order_invalid",
                self.env._(
                    "Order %(ref)s of channel %(channel)s was created on hold, without the lines it could not read; "
                    "fix these %(count)s problem(s) before confirming it:\n%(problems)s",
                    ref=ref,
                    channel=self.name,
                    count=len(problems),
                    problems=channel_service.summarize(problems),
                ),
                severity="high",
                reason_code="channel_order_invalid",
                values={"channel": self.code, "channel_ref": ref, "problems": problems},
            )
            outcome = self.env._("on hold with %s problem(s)", len(problems))
        else:
            self.env["distribution.exception"]._resolve_for(
                order, [SOURCE_INVALID], self.env._("The channel sent the order again without problems.")
            )
            outcome = self._intake_pipeline(order)
        return exceptions, self.env._(
            "%(order)s %(done)s from %(key)s: %(outcome)s",
            order=order.name,
            done=done,
            key=key,
            outcome=outcome,
        )

    def _intake_pipeline(self, order):
        """The order goes through the validation pipeline like one typed in: confirmed (and checked) when the
        channel confirms at once, else checked as a quotation (Re-run Validation). Answers what happened."""
        if self.auto_confirm:
            order.action_confirm()
        else:
            order._distribution_validate(release=False)
        if order.state == "sale":
            return self.env._("confirmed")
        if order.distribution_validation_state == "on_hold":
            return self.env._("on hold (%s)", order.distribution_hold_reason)
        return self.env._("quotation (%s)", order.distribution_validation_state)

    def _intake_plan(self, data):
        """What the channel's order means in our data, and every problem of it at once (so that the desk fixes
        them in one go): ``({"partner", "shipping", "lines": [(product, qty, price)]}, [problems])``. Nothing is
        written here."""
        problems = []
        partner = self._intake_customer(data["customer"])
        if not partner:
            customer = data["customer"]
            problems.append(
                self.env._(
                    "unknown customer: no customer of %(company)s has the reference %(ref)s, the VAT number %(vat)s "
                    "or the e-mail %(email)s",
                    company=self.company_id.name,
                    ref=customer.get("ref") or "-",
                    vat=customer.get("vat") or "-",
                    email=customer.get("email") or "-",
                )
            )
        address = dict(data.get("delivery_address") or {})
        country = self.env["res.country"]
        if address.get("country_code"):
            pattern = channel_service.like_literal(address["country_code"])
            country = country.search([("code", "=ilike", pattern)], limit=1)
            if not country:
                problems.append(self.env._("delivery address: unknown country code %s", address["country_code"]))
        products = self._intake_products([line["sku"] for line in data["lines"]])
        pricelist = self.pricelist_id or (
            partner.property_product_pricelist if partner else self.env["product.pricelist"]
        )
        lines = []
        for number, line in enumerate(data["lines"], start=1):
            sku, qty, price = line["sku"], line["quantity"], line.get("price")
            product = products.get(sku)
            found = len(problems)
            if not product:
                problems.append(self.env._("line %(n)s: unknown SKU %(sku)s", n=number, sku=sku))
            elif not product.active:
                problems.append(
                    self.env._(
                        "line %(n)s: %(product)s (SKU %(sku)s) is archived",
                        n=number,
                        product=product.display_name,
                        sku=sku,
                    )
                )
            elif not product.sale_ok:
                problems.append(
                    self.env._(
                        "line %(n)s: %(product)s (SKU %(sku)s) may not be sold",
                        n=number,
                        product=product.display_name,
                        sku=sku,
                    )
                )
            if qty <= 0:
                problems.append(self.env._("line %(n)s: quantity %(qty)s is not positive", n=number, qty=qty))
            elif product and price is not None:
                reference = (
                    pricelist._get_product_price(product, qty, currency=pricelist.currency_id)
                    if pricelist
                    else product.lst_price
                )
                if not channel_service.price_within(price, reference, self.price_tolerance_pct):
                    problems.append(
                        self.env._(
                            "line %(n)s: price %(price)s for %(product)s is %(deviation)s%% from the pricelist's "
                            "%(reference)s, beyond the tolerance of %(tolerance)s%%",
                            n=number,
                            price=price,
                            product=product.display_name,
                            deviation=format(channel_service.price_deviation_pct(price, reference), "g"),
                            reference=format(reference, "g"),
                            tolerance=format(self.price_tolerance_pct, "g"),
                        )
                    )
            if len(problems) == found:
                lines.append((product, qty, price))
        return {"partner": partner, "address": address, "country": country, "lines": lines}, problems

    def _intake_customer(self, customer):
        """The customer the channel names: by our reference, else its VAT number, else its e-mail (both compared
        whole, whatever their case: a ``%`` is no wildcard); in this channel's company (or shared). Empty when none
        is known."""
        like = channel_service.like_literal
        Partner = self.env["res.partner"]
        company = ["|", ("company_id", "=", False), ("company_id", "=", self.company_id.id)]
        for key, domain in (
            ("ref", lambda value: [("ref", "=", value)]),
            ("vat", lambda value: [("vat", "=ilike", like(value.replace(" ", "")))]),
            ("email", lambda value: [("email", "=ilike", like(value.strip()))]),
        ):
            value = customer.get(key)
            if value:
                partner = Partner.search([*domain(value), *company], order="parent_id desc, id", limit=1)
                if partner:
                    return partner.commercial_partner_id if key != "email" else partner
        return Partner

    def _intake_products(self, skus):
        """{sku: product} for the SKUs of an order, archived products included (so that the problem says so):
        the channel's mapping first, then our internal reference, then the barcode. One search."""
        mapped = {line.channel_sku: line.product_id for line in self.sku_ids.with_context(active_test=False)}
        rest = [sku for sku in set(skus) if sku not in mapped]
        found = {}
        if rest:
            products = (
                self.env["product.product"]
                .with_context(active_test=False)
                .search(
                    [
                        "|",
                        ("default_code", "in", rest),
                        ("barcode", "in", rest),
                        "|",
                        ("company_id", "=", False),
                        ("company_id", "=", self.company_id.id),
                    ],
                    order="active desc, id",
                )
            )
            for product in products[::-1]:  # the active first product wins: written last
                found[product.barcode] = product
            for product in products[::-1]:
                found[product.default_code] = product
        return {sku: mapped.get(sku) or found.get(sku) for sku in skus}

    def _intake_order_vals(self, plan, ref, print_, data):
        """The values of the sale order of a plan (its lines as commands to create them)."""
        partner = plan["partner"]
        vals = {
            "partner_id": partner.id,
            "partner_shipping_id": self._intake_shipping(partner, plan["address"], plan["country"]).id,
            "company_id": self.company_id.id,
            "client_order_ref": ref,
            "origin": self.name,
            "commitment_date": inbound.parse_datetime(data.get("requested_date")) or False,
            "note": plaintext2html(data["notes"]) if data.get("notes") else False,
            "distribution_channel_id": self.id,
            "distribution_channel_ref": ref,
            "distribution_channel_fingerprint": print_,
            "order_line": [
                Command.create(
                    {
                        "product_id": product.id,
                        "product_uom_qty": qty,
                        **({"price_unit": price} if price is not None else {}),
                    }
                )
                for product, qty, price in plan["lines"]
            ],
        }
        for name, record in (
            ("warehouse_id", self.warehouse_id),
            ("pricelist_id", self.pricelist_id),
            ("user_id", self.user_id),
            ("team_id", self.team_id),
        ):
            if record:
                vals[name] = record.id
        return vals

    def _intake_shipping(self, partner, address, country):
        """The delivery contact of the address the channel gives: the customer's own when it gives none or
        the same, else a delivery contact of the customer with that address (found again on a resend)."""
        if not address or not any(address.get(key) for key in ("street", "city", "zip")):
            return partner
        values = {
            "name": address.get("name") or partner.name,
            "street": address.get("street") or False,
            "street2": address.get("street2") or False,
            "zip": address.get("zip") or False,
            "city": address.get("city") or False,
            "country_id": country.id or False,
        }
        for contact in partner | partner.child_ids:
            if all(
                (contact[name].id if name == "country_id" else contact[name]) == value for name, value in values.items()
            ):
                return contact
        return self.env["res.partner"].create(
            dict(
                values,
                type="delivery",
                parent_id=partner.id,
                phone=address.get("phone") or False,
                email=address.get("email") or False,
            )
        )


class DistributionSalesChannelSku(models.Model):
    """One of our products under the SKU a channel knows it by, when the channel's differs from our internal
    reference and barcode."""

    _name = "distribution.sales.channel.sku"
    _description = "Sales Channel SKU"
    _order = "channel_id, channel_sku"

    channel_id = fields.Many2one("distribution.sales.channel", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="channel_id.company_id", store=True, index=True)
    channel_sku = fields.Char("Channel SKU", required=True)
    product_id = fields.Many2one(
        "product.product",
        required=True,
        ondelete="cascade",
        domain="[('sale_ok', '=', True), '|', ('company_id', '=', False), ('company_id', '=', company_id)]",
    )

    _sql_constraints = [
        ("sku_unique", "unique(channel_id, channel_sku)", "A channel SKU maps to one product of ours."),
    ]
