import hashlib
import json
from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo.addons.distribution_observability.services import verbs
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tools import SQL

# The server verb of a confirmation that passed the gate: only inside it does an order become confirmed.
CONFIRM_VERB = "purchase_confirm"
CONFIRMED_STATES = ("purchase", "done")
UNCONFIRMED_STATES = ("draft", "sent", "to approve")
# Written by the gated confirmation only: the confirmation date places an order in the split window.
GUARDS = {"date_approve": CONFIRM_VERB}
# What a confirmed order was confirmed for, besides its lines: fixed once confirmed.
FROZEN_ON_CONFIRMED = ("partner_id", "currency_id", "company_id")
# The line fields an approval's fingerprint covers.
FINGERPRINT_LINE_FIELDS = ("product_id", "product_qty", "product_uom", "price_unit", "discount", "taxes_id")


def _serialize_window(cr, table, ids):
    """Make two transactions that sum one split window at once conflict: each one rewrites the rows
    the window is about (unchanged), so the second fails with a serialization error that Odoo retries
    with a fresh snapshot, in which it sees the first one's change. A lock alone would not do: under
    REPEATABLE READ the second would wait, then sum from its old snapshot."""
    if ids:
        # Raw SQL: a no-op update of the rows, for its row version, not its values.
        cr.execute(SQL("UPDATE %s SET write_date = write_date WHERE id IN %s", SQL.identifier(table), tuple(ids)))


class PurchaseOrder(models.Model):
    """Emergency purchases, purchases over the company's threshold, and purchases that take the vendor's
    unapproved purchases of the split window over it, are confirmed only once an ``emergency_purchase``
    approval request is approved; the approval confirms them.

    An approval covers exactly what was approved: the request stores a fingerprint of the vendor, the
    lines (product, quantity, price, unit, taxes, discount) and the amount, and an order that changed
    since asks again. An order becomes confirmed only inside the gated confirmation (``button_approve``
    after its check): writing ``state`` to a confirmed state directly is refused, whoever asks."""

    _name = "purchase.order"
    _inherit = ["purchase.order", "distribution.approval.document"]

    distribution_emergency = fields.Boolean(
        "Emergency",
        copy=False,
        tracking=True,
        help="An emergency purchase (outside the usual procurement) is confirmed only once approved.",
    )

    # -- CRUD: the state is the gate's own ---------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        if not verbs.inside(CONFIRM_VERB, self) and any(
            vals.get("state") in CONFIRMED_STATES or vals.get("date_approve") for vals in vals_list
        ):
            raise AccessError(self._distribution_state_refusal())
        return super().create(vals_list)

    def write(self, vals):
        if verbs.refused_fields(self, vals, GUARDS):
            raise AccessError(self._distribution_state_refusal())
        if vals.get("state") in CONFIRMED_STATES:
            entering = self.filtered(lambda o: o.state not in CONFIRMED_STATES)
            if entering and not verbs.inside(CONFIRM_VERB, entering):
                raise AccessError(self._distribution_state_refusal())
        frozen = [name for name in FROZEN_ON_CONFIRMED if name in vals]
        if frozen:
            confirmed = self.filtered(lambda o: o.state in CONFIRMED_STATES)
            changed = confirmed.filtered(lambda o: any(o[name].id != (vals[name] or False) for name in frozen))
            if changed:
                raise UserError(
                    self.env._(
                        "%s is confirmed: its vendor, currency and company are those it was confirmed (and "
                        "approved) for. Cancel it and make a new order instead.",
                        changed[0].name,
                    )
                )
        before = self._distribution_confirmed_snapshot() if "order_line" in vals else {}
        result = super().write(vals)
        if before:
            self._distribution_check_confirmed_change(before)
        return result

    def _distribution_confirmed_snapshot(self):
        """{order id: (company amount, covered by an approval)} of the confirmed orders among these,
        taken before their lines change."""
        return {
            order.id: (order.amount_total_cc, bool(order._distribution_approval_covering()))
            for order in self
            if order.state in CONFIRMED_STATES
        }

    def _distribution_check_confirmed_change(self, before, products_changed=False):
        """Refuse a change of a confirmed order's lines that raises its amount, or that changes the
        products an approval approved, when the order as it is now would need an approval: raising
        a confirmed order is no way around the gate (its buyer cancels it and confirms it again)."""
        for order in self.filtered(lambda o: o.id in before):
            amount, covered = before[order.id]
            raised = order.company_id.currency_id.compare_amounts(order.amount_total_cc, amount) > 0
            if (raised or (covered and products_changed)) and order._distribution_needs_approval():
                raise UserError(
                    self.env._(
                        "%(order)s is confirmed and this change would need an approval (%(reason)s): cancel "
                        "the order, set it to draft and confirm it again to request one.",
                        order=order.name,
                        reason=order._distribution_approval_reason(),
                    )
                )

    def _distribution_state_refusal(self):
        return self.env._(
            "A purchase order is confirmed with its Confirm Order button (which asks for an approval when one "
            "is needed), never by writing its status."
        )

    # -- the gate ------------------------------------------------------------------------------------
    def button_confirm(self):
        """Orders that need an approval and have none make a request (once) and stay unconfirmed."""
        gated = self.filtered(lambda o: o.state in ("draft", "sent") and o._distribution_needs_approval())
        held = self.browse()
        for order in gated:
            request = order._distribution_approval_pending() or order._distribution_request_approval()
            if request.state == "pending":
                held |= order
        result = super(PurchaseOrder, self - held).button_confirm() if self - held else True
        # Orders approved at once (auto-approve threshold) were confirmed by the approval.
        held = held.filtered(lambda o: o.state in ("draft", "sent"))
        if held:
            return held._distribution_approval_notification()
        return result

    def button_approve(self, force=False):
        """The last step of every confirmation (Odoo's double validation included): an order that needs
        an approval it does not have is refused; the others are confirmed inside the gate's verb."""
        missing = self.filtered(lambda o: o.state in UNCONFIRMED_STATES and o._distribution_needs_approval())
        if missing:
            raise UserError(
                self.env._(
                    "%s needs an approval first: confirm it to request one.",
                    ", ".join(missing.mapped("name")),
                )
            )
        with verbs.server_verb(CONFIRM_VERB, self):
            return super().button_approve(force=force)

    def _distribution_needs_approval(self):
        """Whether the order needs an approval it does not have (none approved for what it is now)."""
        self.ensure_one()
        return bool(self._distribution_approval_reason()) and not self._distribution_approval_covering()

    def _distribution_company_amount(self):
        self.ensure_one()
        return self.amount_total_cc

    def _distribution_window_amount(self):
        """What the vendor's other orders of the split window add up to (company currency): the orders
        confirmed in the window without an approval, and those waiting for one. Orders an approver saw
        are not summed again; splitting an order into small ones is what the sum catches."""
        self.ensure_one()
        company = self.company_id
        hours = company.distribution_approval_split_window_hours
        if hours <= 0:
            return 0.0
        since = fields.Datetime.now() - timedelta(hours=hours)
        vendor = self.partner_id.commercial_partner_id
        _serialize_window(self.env.cr, "res_partner", vendor.ids)
        # sudo: the sum counts every buyer's orders of the vendor, whatever this buyer may read.
        Order = self.sudo()
        Request = self.env["distribution.approval.request"].sudo()
        confirmed = Order.search(
            [
                ("company_id", "=", company.id),
                ("partner_id", "child_of", vendor.id),
                ("state", "in", CONFIRMED_STATES),
                ("date_approve", ">=", since),
                ("id", "!=", self._origin.id),
            ]
        )
        approved_ids = set(
            Request.search(
                [
                    ("res_model", "=", self._name),
                    ("res_id", "in", confirmed.ids),
                    ("request_type", "=", "emergency_purchase"),
                    ("state", "=", "approved"),
                ]
            ).mapped("res_id")
        )
        pending_ids = Request.search(
            [
                ("res_model", "=", self._name),
                ("request_type", "=", "emergency_purchase"),
                ("state", "=", "pending"),
                ("company_id", "=", company.id),
                ("res_id", "!=", self._origin.id),
            ]
        ).mapped("res_id")
        pending = (
            Order.browse(pending_ids)
            .exists()
            .filtered(lambda o: o.state in UNCONFIRMED_STATES and o.partner_id.commercial_partner_id == vendor)
        )
        orders = confirmed.filtered(lambda o: o.id not in approved_ids) | pending
        return sum(orders.mapped("amount_total_cc"))

    def _distribution_approval_reason(self):
        """Why the order needs an approval before confirmation (plain words), or None."""
        self.ensure_one()
        threshold = self.company_id.distribution_purchase_approval_amount
        amount = self._distribution_company_amount()
        currency = self.company_id.currency_id
        over = threshold and currency.compare_amounts(amount, threshold) > 0
        if self.distribution_emergency and over:
            return self.env._(
                "Emergency purchase of %(amount)s, over the approval threshold of %(threshold)s.",
                amount=currency.format(amount),
                threshold=currency.format(threshold),
            )
        if self.distribution_emergency:
            return self.env._("Emergency purchase of %s.", currency.format(amount))
        if over:
            return self.env._(
                "Purchase of %(amount)s, over the approval threshold of %(threshold)s.",
                amount=currency.format(amount),
                threshold=currency.format(threshold),
            )
        if threshold:
            window = self._distribution_window_amount()
            if window and currency.compare_amounts(window + amount, threshold) > 0:
                return self.env._(
                    "Purchase of %(amount)s: with the other purchases from %(vendor)s of the last %(hours)s "
                    "hours not approved (%(window)s), over the approval threshold of %(threshold)s.",
                    amount=currency.format(amount),
                    vendor=self.partner_id.commercial_partner_id.display_name,
                    hours=self.company_id.distribution_approval_split_window_hours,
                    window=currency.format(window),
                    threshold=currency.format(threshold),
                )
        return None

    def _distribution_fingerprint(self):
        """A digest of what an approval approves: vendor, currency, company, emergency flag, amount and
        every line's product, quantity, unit, price, discount and taxes."""
        self.ensure_one()
        lines = sorted(
            [
                line.product_id.id,
                round(line.product_qty, 6),
                line.product_uom.id,
                round(line.price_unit, 6),
                round(line.discount, 6),
                sorted(line.taxes_id.ids),
            ]
            for line in self.order_line
            if not line.display_type
        )
        content = {
            "vendor": self.partner_id.id,
            "currency": self.currency_id.id,
            "company": self.company_id.id,
            "emergency": bool(self.distribution_emergency),
            "amount_total": round(self.amount_total, 6),
            "lines": lines,
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()

    def _distribution_requests(self, states):
        # sudo: see _compute_distribution_approvals.
        return (
            self.env["distribution.approval.request"]
            .sudo()
            .search(
                [
                    ("res_model", "=", self._name),
                    ("res_id", "=", self.id),
                    ("request_type", "=", "emergency_purchase"),
                    ("state", "in", states),
                ]
            )
        )

    def _distribution_approval_pending(self):
        """The pending request of the order, if it is still for the order as it is now: a request for an
        order changed since is withdrawn (a new one is made for what the order is now)."""
        self.ensure_one()
        pending = self._distribution_requests(("pending",))
        fingerprint = self._distribution_fingerprint()
        stale = pending.filtered(lambda r: (r.payload or {}).get("fingerprint") != fingerprint)
        for request in stale:
            request._finish("cancelled", self.env._("The order changed since the request: asked again."))
        return (pending - stale)[:1]

    def _distribution_approval_covering(self):
        """An approved request for exactly the order as it is now (same fingerprint)."""
        self.ensure_one()
        fingerprint = self._distribution_fingerprint()
        return self._distribution_requests(("approved",)).filtered(
            lambda r: (r.payload or {}).get("fingerprint") == fingerprint
        )[:1]

    def _distribution_request_approval(self):
        self.ensure_one()
        return self.env["distribution.approval.request"]._request(
            self,
            "emergency_purchase",
            amount=self._distribution_company_amount(),
            reason=self._distribution_approval_reason(),
            payload={
                "order": self.name,
                "emergency": self.distribution_emergency,
                "amount_total": self.amount_total,
                "currency": self.currency_id.name,
                "vendor_id": self.partner_id.id,
                "fingerprint": self._distribution_fingerprint(),
            },
        )

    def _distribution_approval_context(self):
        """The vendor, the lines and the order's amount for the approvers."""
        self.ensure_one()
        lines = self.order_line.filtered(lambda line: not line.display_type)
        return [
            {
                "key": "emergency",
                "label": self.env._("Emergency"),
                "value": self.distribution_emergency,
                "display": self.env._("Yes") if self.distribution_emergency else self.env._("No"),
            },
            {
                "key": "amount_total",
                "label": self.env._("Total"),
                "value": self.amount_total,
                "display": self.currency_id.format(self.amount_total),
            },
            {
                "key": "lines",
                "label": self.env._("Lines"),
                "value": [
                    {"product": line.product_id.display_name, "qty": line.product_qty, "price": line.price_unit}
                    for line in lines
                ],
                "display": "; ".join(
                    f"{line.product_id.display_name} x {line.product_qty:g} @ {line.price_unit:g}" for line in lines
                ),
            },
        ]

    def _distribution_approval_notification(self):
        parts = []
        for order in self:
            request = order._distribution_approval_pending()
            parts.append(
                self.env._(
                    "%(order)s needs an approval: %(reason)s Request %(request)s is with %(who)s; the order "
                    "confirms once it is approved.",
                    order=order.name,
                    reason=request.reason or "",
                    request=request.name,
                    who=", ".join(request.current_approver_ids.mapped("name")) or self.env._("the approvers"),
                )
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Not confirmed: waiting for approval"),
                "message": "\n".join(parts),
                "type": "warning",
                "sticky": True,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    # -- decisions (called back by the request, as the system) ---------------------------------------
    def _distribution_approval_approved(self, request):
        """The approval's callback: apply it."""
        self.ensure_one()
        self._apply_approved_purchase(request)

    def _apply_approved_purchase(self, request):
        """Confirm the order ``request`` approved, if it is still what was approved (its fingerprint);
        an order changed since stays unconfirmed and its buyer is told to confirm it again. The
        confirmation goes through the gate, which finds the approval covering the order."""
        self.ensure_one()
        if self.state not in ("draft", "sent"):
            return
        currency = self.company_id.currency_id
        if (request.payload or {}).get("fingerprint") != self._distribution_fingerprint():
            self.message_post(
                body=self.env._(
                    "%(request)s approved the order as it was (%(approved)s); it changed since (now %(amount)s): "
                    "confirm it again to request an approval of what it is now.",
                    request=request.name,
                    approved=currency.format(request.amount),
                    amount=currency.format(self._distribution_company_amount()),
                ),
                subtype_xmlid="mail.mt_note",
                partner_ids=request.requested_by_id.partner_id.ids,
            )
            return
        self.message_post(
            body=self.env._(
                "Approved in %(request)s: %(comment)s", request=request.name, comment=request.decision_comment or "-"
            ),
            subtype_xmlid="mail.mt_note",
        )
        self.button_confirm()

    def _distribution_approval_rejected(self, request):
        """The order stays a request for quotation; the buyer is told why."""
        self.ensure_one()
        self.message_post(
            body=self.env._(
                "%(request)s rejected: %(comment)s. The order stays unconfirmed.",
                request=request.name,
                comment=request.decision_comment,
            ),
            subtype_xmlid="mail.mt_note",
            partner_ids=request.requested_by_id.partner_id.ids,
        )


class PurchaseOrderLine(models.Model):
    """A confirmed order's lines are edited (Odoo allows it): an edit that raises the order, or swaps
    an approved product, is refused when the order would need an approval for what it becomes."""

    _inherit = "purchase.order.line"

    @api.model_create_multi
    def create(self, vals_list):
        orders = self.env["purchase.order"].browse({vals.get("order_id") for vals in vals_list if vals.get("order_id")})
        before = orders._distribution_confirmed_snapshot()
        lines = super().create(vals_list)
        if before:
            lines.order_id._distribution_check_confirmed_change(before, products_changed=True)
        return lines

    def write(self, vals):
        watched = any(name in vals for name in FINGERPRINT_LINE_FIELDS)
        before = self.order_id._distribution_confirmed_snapshot() if watched else {}
        result = super().write(vals)
        if before:
            self.order_id._distribution_check_confirmed_change(before, products_changed="product_id" in vals)
        return result
