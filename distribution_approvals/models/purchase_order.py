from odoo import fields
from odoo import models
from odoo.exceptions import UserError

# Context key: the confirmation is the approved one (the gate lets it through).
APPROVED_KEY = "distribution_purchase_approved"


class PurchaseOrder(models.Model):
    """Emergency purchases, and purchases over the company's threshold, are confirmed only once an
    ``emergency_purchase`` approval request is approved; the approval confirms them."""

    _name = "purchase.order"
    _inherit = ["purchase.order", "distribution.approval.document"]

    distribution_emergency = fields.Boolean(
        "Emergency",
        copy=False,
        tracking=True,
        help="An emergency purchase (outside the usual procurement) is confirmed only once approved.",
    )

    # -- the gate ------------------------------------------------------------------------------------
    def button_confirm(self):
        """Orders that need an approval and have none make a request (once) and stay unconfirmed."""
        if self.env.context.get(APPROVED_KEY):
            return super().button_confirm()
        gated = self.filtered(lambda o: o.state in ("draft", "sent") and o._distribution_approval_reason())
        held = self.browse()
        for order in gated:
            if order._distribution_approval_covering():
                continue
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
        # The second step of a purchase validation is no way around an approval still missing.
        if not self.env.context.get(APPROVED_KEY):
            missing = self.filtered(
                lambda o: o.state in ("draft", "sent")
                and o._distribution_approval_reason()
                and not o._distribution_approval_covering()
            )
            if missing:
                raise UserError(
                    self.env._(
                        "%s needs an approval first: confirm it to request one.",
                        ", ".join(missing.mapped("name")),
                    )
                )
        return super().button_approve(force=force)

    def _distribution_company_amount(self):
        self.ensure_one()
        return self.amount_total_cc

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
        return None

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
        self.ensure_one()
        return self._distribution_requests(("pending",))[:1]

    def _distribution_approval_covering(self):
        """An approved request for at least the order's current amount (an order raised after its
        approval asks again)."""
        self.ensure_one()
        amount = self._distribution_company_amount()
        currency = self.company_id.currency_id
        return self._distribution_requests(("approved",)).filtered(
            lambda r: currency.compare_amounts(amount, r.amount) <= 0
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
                "value": [{"product": line.product_id.display_name, "qty": line.product_qty} for line in lines],
                "display": "; ".join(f"{line.product_id.display_name} x {line.product_qty:g}" for line in lines),
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
        """The approval confirms the order, unless it was raised above the approved amount since."""
        self.ensure_one()
        if self.state not in ("draft", "sent"):
            return
        currency = self.company_id.currency_id
        if currency.compare_amounts(self._distribution_company_amount(), request.amount) > 0:
            self.message_post(
                body=self.env._(
                    "%(request)s approved %(approved)s, but the order is now %(amount)s: confirm it again to "
                    "request an approval of the new amount.",
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
        self.with_context(**{APPROVED_KEY: True}).button_confirm()

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
