import hashlib
import json

from odoo import api
from odoo import fields
from odoo import models
from odoo.addons.distribution_orchestration.services import validation
from odoo.exceptions import UserError

REJECTION_TEMPLATE = "distribution_approvals.mail_template_distribution_approval_rejected"


class SaleOrder(models.Model):
    """Orders held by a validation rule that requires approval: the hold makes an approval request with
    the order's context; the approval resolves the exception and the order releases through the usual
    release path; a rejection keeps it held and tells the salesperson why."""

    _name = "sale.order"
    _inherit = ["sale.order", "distribution.approval.document"]

    distribution_approval_can_ask_again = fields.Boolean(compute="_compute_distribution_approval_can_ask_again")

    @api.depends_context("uid")
    def _compute_distribution_approval_can_ask_again(self):
        for order in self:
            order.distribution_approval_can_ask_again = (
                order.distribution_approval_state in ("rejected", "cancelled")
                and order.state in ("draft", "sent")
                and order.distribution_validation_state == "on_hold"
            )

    def _action_cancel(self):
        # A cancelled order needs no approval any more.
        self._distribution_cancel_approvals(self.env._("The order was cancelled."))
        return super()._action_cancel()

    # -- validation hooks ----------------------------------------------------------------------------
    def _distribution_outcome_blocks(self, outcome):
        return outcome == "approval" or super()._distribution_outcome_blocks(outcome)

    def _distribution_after_validation(self):
        result = super()._distribution_after_validation()
        # The approval requests are made once the whole pass is over, from the open exceptions of rules
        # that require approval: an approval granted at once (auto-approve threshold) then releases an
        # order whose checks are all done. Asking again is a no-op while a request covers the order.
        # sudo: exceptions and requests are the system's records, written for whoever confirms.
        exceptions = (
            self.env["distribution.exception"]
            .sudo()
            .search(
                [
                    ("sale_order_id", "in", self.ids),
                    ("is_open", "=", True),
                    ("rule_id.outcome", "=", "approval"),
                ]
            )
        )
        for exception in exceptions:
            exception.sale_order_id.with_env(self.env)._distribution_request_approval(exception, exception.message)
        return result

    def _distribution_review_finding(self, rule, finding):
        finding = super()._distribution_review_finding(rule, finding)
        if finding.passed or rule.outcome != "approval":
            return finding
        # Validated again while held for another reason: an approval given to the order as it is stands.
        approved = self._distribution_approval_covering(rule)
        if not approved:
            return finding
        return validation.Finding(
            True,
            "approved",
            self.env._(
                "%(message)s Approved in %(request)s by %(approver)s.",
                message=finding.message,
                request=approved.name,
                approver=", ".join(approved.decision_ids.user_id.mapped("name")) or self.env._("the system"),
            ),
            dict(finding.values, approval_request=approved.name),
        )

    # -- requesting --------------------------------------------------------------------------------
    def _distribution_request_approval(self, exception, reason, again=False):
        """Ask for the approval that settles ``exception`` (held by a rule that requires approval).
        Never a second request while one is pending or approved for the order as it is; after a
        rejection or a withdrawal, only when asked ``again`` (the salesperson's button)."""
        self.ensure_one()
        # sudo: exceptions and requests are the system's records, written for whoever confirms.
        exception = exception.sudo()
        current = exception.approval_request_id
        fingerprint = self._distribution_approval_fingerprint()
        same_order = (current.payload or {}).get("fingerprint") == fingerprint
        if current.state in ("pending", "approved") and same_order:
            return current
        if current.state in ("rejected", "cancelled") and not again:
            return current
        if current.state == "pending":
            current._finish("cancelled", self.env._("%s changed: a new request replaces this one.", self.name))
        rule = exception.rule_id
        exception._set_waiting_approval()
        user = self.env.user
        # A validation pass run by a scheduled action, or by the system after a decision, asks on behalf
        # of the salesperson.
        requester = self.user_id if (self.env.su or user._is_superuser()) and self.user_id else user
        request = self.env["distribution.approval.request"]._request(
            self,
            rule._approval_request_type() if rule else "custom",
            amount=self._distribution_company_amount(),
            reason=reason or exception.message,
            payload={
                "order": self.name,
                "exception_id": exception.id,
                "exception": exception.name,
                "rule_id": rule.id,
                "reason_code": exception.reason_code,
                "fingerprint": fingerprint,
            },
            requester=requester,
        )
        exception._link_approval_request(request)
        return request

    def _distribution_approval_fingerprint(self):
        """What an approval of the order is given for: company, customer, addresses, pricelist, currency,
        payment terms, fiscal position, warehouse, dates, lines (with their taxes) and total. An approval
        no longer covers an order whose fingerprint changed."""
        self.ensure_one()
        lines = sorted(
            (
                line.product_id.id,
                line.product_uom.id,
                line.product_uom_qty,
                line.price_unit,
                line.discount,
                sorted(line.tax_id.ids),
            )
            for line in self.order_line
            if not line.display_type
        )
        data = {
            "company": self.company_id.id,
            "partner": self.partner_id.id,
            "invoice_address": self.partner_invoice_id.id,
            "shipping": self.partner_shipping_id.id,
            "pricelist": self.pricelist_id.id,
            "currency": self.currency_id.id,
            "payment_term": self.payment_term_id.id,
            "fiscal_position": self.fiscal_position_id.id,
            "warehouse": self.warehouse_id.id,
            "commitment_date": fields.Datetime.to_string(self.commitment_date) if self.commitment_date else None,
            "lines": lines,
            "amount_total": self.currency_id.round(self.amount_total),
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()

    def _distribution_approval_covering(self, rule):
        """The approved request of ``rule`` given to this order as it is now, if any."""
        self.ensure_one()
        fingerprint = self._distribution_approval_fingerprint()
        # sudo: see _distribution_request_approval.
        approved = (
            self.env["distribution.approval.request"]
            .sudo()
            .search([("res_model", "=", "sale.order"), ("res_id", "=", self.id), ("state", "=", "approved")])
        )
        wanted = {"rule_id": rule.id, "fingerprint": fingerprint}
        return approved.filtered(lambda r: {key: (r.payload or {}).get(key) for key in wanted} == wanted)[:1]

    def _distribution_approval_context(self):
        """Margin %, weighted discount % and stock position (free quantity against the demand of each
        product in the order's warehouse), for the approvers."""
        self.ensure_one()
        lines = self.order_line.filtered(lambda line: line.product_id and not line.display_type)
        revenue = sum(lines.mapped("price_subtotal"))
        cost = sum(self._distribution_line_cost(line) for line in lines)
        margin_pct = round((revenue - cost) / revenue * 100.0, 1) if revenue else None
        gross = sum(line.price_unit * line.product_uom_qty for line in lines)
        discounted = sum(line.price_unit * line.product_uom_qty * line.discount / 100.0 for line in lines)
        discount_pct = round(discounted / gross * 100.0, 1) if gross else 0.0
        free = self._distribution_free_stock().get(self.warehouse_id.id, {})
        position = [
            {"product": product.display_name, "demand": qty, "free": round(free.get(product.id, 0.0), 4)}
            for product, qty in self._distribution_demand().items()
        ]
        return [
            {
                "key": "margin_pct",
                "label": self.env._("Margin"),
                "value": margin_pct,
                "display": f"{margin_pct:.1f} %" if margin_pct is not None else self.env._("no revenue"),
            },
            {
                "key": "discount_pct",
                "label": self.env._("Discount (weighted)"),
                "value": discount_pct,
                "display": f"{discount_pct:.1f} %",
            },
            {
                "key": "stock_position",
                "label": self.env._("Stock in %s", self.warehouse_id.name),
                "value": position,
                "display": "; ".join(
                    self.env._(
                        "%(product)s: %(free)s free for %(demand)s ordered",
                        product=item["product"],
                        free=format(item["free"], "g"),
                        demand=format(item["demand"], "g"),
                    )
                    for item in position
                )
                or self.env._("no stocked product"),
            },
        ]

    # -- decisions (called back by the request, as the system) ---------------------------------------
    def _distribution_approval_exception(self, request):
        exception_id = (request.payload or {}).get("exception_id")
        return self.env["distribution.exception"].sudo().browse(exception_id).exists() if exception_id else None

    def _distribution_approval_approved(self, request):
        """The approval resolves the exception it was asked for; the order then releases through the
        usual path when nothing else holds it."""
        self.ensure_one()
        exception = self._distribution_approval_exception(request)
        if not exception or not exception.is_open or self.state not in ("draft", "sent"):
            return
        if (request.payload or {}).get("fingerprint") != self._distribution_approval_fingerprint():
            self.message_post(
                body=self.env._(
                    "%s was approved, but the order changed since it was requested: its checks run again.",
                    request.name,
                ),
                subtype_xmlid="mail.mt_note",
            )
            self._distribution_validate()
            return
        approver = ", ".join(request.decision_ids.user_id.mapped("name")) or self.env._("the system")
        note = self.env._(
            "Approved in %(request)s by %(approver)s: %(comment)s",
            request=request.name,
            approver=approver,
            comment=request.decision_comment or "-",
        )
        self.message_post(body=note, subtype_xmlid="mail.mt_note")
        exception._mark_resolved(note, auto=request.auto_approved)

    def _distribution_approval_rejected(self, request):
        """The order stays held; its exception goes back to work with the comment, and the salesperson
        is told."""
        self.ensure_one()
        exception = self._distribution_approval_exception(request)
        if exception is None:
            # Not asked for by a validation rule: whoever asked for it handles the answer.
            return
        approver = ", ".join(request.decision_ids.filtered(lambda d: d.decision == "reject").user_id.mapped("name"))
        if exception.is_open:
            exception._reopen(
                self.env._(
                    "%(request)s rejected by %(approver)s: %(comment)s",
                    request=request.name,
                    approver=approver,
                    comment=request.decision_comment,
                )
            )
        template = self.env.ref(REJECTION_TEMPLATE, raise_if_not_found=False)
        partners = self.user_id.partner_id
        if template and partners:
            self.with_context(
                distribution_approval_request=request.name,
                distribution_approval_comment=request.decision_comment,
                distribution_approval_approver=approver,
                distribution_approval_reason=request.reason,
            ).message_post_with_source(template, subtype_xmlid="mail.mt_note", partner_ids=partners.ids)
        else:
            self.message_post(
                body=self.env._(
                    "%(request)s rejected: %(comment)s", request=request.name, comment=request.decision_comment
                ),
                subtype_xmlid="mail.mt_note",
                partner_ids=partners.ids,
            )

    def _distribution_approval_cancelled(self, request):
        """A withdrawn request sends its exception back to work (the order stays held)."""
        self.ensure_one()
        exception = self._distribution_approval_exception(request)
        if exception and exception.state == "waiting_approval" and exception.approval_request_id == request:
            exception._reopen()

    def _distribution_cancel_approvals(self, comment):
        # sudo: pending requests of the order are withdrawn by the system whoever acts on the order.
        pending = (
            self.env["distribution.approval.request"]
            .sudo()
            .search([("res_model", "=", "sale.order"), ("res_id", "in", self.ids), ("state", "=", "pending")])
        )
        for request in pending:
            request._finish("cancelled", comment)

    # -- release ---------------------------------------------------------------------------------------
    def _distribution_on_forced_release(self, closed, reason):
        """A forced release is audited: who, why, and the exceptions it closed; its pending requests are
        withdrawn."""
        result = super()._distribution_on_forced_release(closed, reason)
        Audit = self.env["distribution.audit.entry"]
        for order in self:
            exceptions = closed.get(order) or self.env["distribution.exception"]
            Audit._append(
                "forced_release",
                order,
                {
                    "order": order.name,
                    "reason": reason,
                    "exceptions": [
                        {
                            "reference": exception.name,
                            "category": exception.category,
                            "reason_code": exception.reason_code,
                            "approval_request": exception.approval_request_id.name or None,
                        }
                        for exception in exceptions
                    ],
                },
            )
        self._distribution_cancel_approvals(
            self.env._("The order was released by %(user)s: %(reason)s", user=self.env.user.name, reason=reason)
        )
        return result

    def _distribution_hold_notice(self):
        """Orders waiting for an approval say so, and who decides."""
        kind, text = super()._distribution_hold_notice()
        if "approval" not in self.distribution_check_ids.mapped("outcome"):
            return kind, text
        # sudo: see _compute_distribution_approvals.
        pending = self.sudo().distribution_approval_request_ids.filtered(lambda r: r.state == "pending")
        rejected = self.sudo().distribution_approval_last_id.filtered(lambda r: r.state == "rejected")
        line = ""
        if pending:
            line = self.env._(
                "%(order)s waits for approval (%(requests)s), decided by %(who)s.",
                order=self.name,
                requests=", ".join(pending.mapped("name")),
                who=", ".join(sorted(set(pending.current_approver_ids.mapped("name"))))
                or self.env._("a Distribution Approver"),
            )
        elif rejected:
            line = self.env._(
                "%(order)s: approval %(request)s was rejected (%(comment)s). Change the order or ask again.",
                order=self.name,
                request=rejected.name,
                comment=rejected.decision_comment,
            )
        return (kind if kind == "hold" else "approval"), " ".join(part for part in (text, line) if part)

    # -- buttons ------------------------------------------------------------------------------------
    def action_distribution_request_approval(self):
        """Button: the salesperson asks again after a rejection (or a withdrawal)."""
        self.ensure_one()
        self.check_access("write")
        if self.state not in ("draft", "sent") or self.distribution_validation_state != "on_hold":
            raise UserError(self.env._("%s is not on hold: there is nothing to approve.", self.name))
        # sudo: the salesperson may not read the exception queue; the request is made for them.
        exceptions = self.sudo().distribution_exception_ids.filtered(
            lambda e: e.is_open and e.approval_request_id.state in ("rejected", "cancelled")
        )
        if not exceptions:
            raise UserError(self.env._("Nothing on %s waits for a new approval request.", self.name))
        requests = self.env["distribution.approval.request"]
        for exception in exceptions:
            requests |= self._distribution_request_approval(exception, exception.message, again=True)
        if self.state == "sale":
            return True
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Approval requested"),
                "message": self.env._(
                    "%(requests)s sent for %(order)s: the order confirms once approved.",
                    requests=", ".join(requests.mapped("name")),
                    order=self.name,
                ),
                "type": "info",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }
