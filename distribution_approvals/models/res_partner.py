from collections import defaultdict

from odoo import fields
from odoo import models

from ..services import approval

REQUEST_TYPE = "lead_time_change"
# The payload's kind of a request for a lead time a vendor announced (a learned one is on its lead time line).
ANNOUNCED = "announced_lead_time"


class ResPartner(models.Model):
    """A vendor's lead time announced by a supplier update beyond the tolerance waits for a
    ``lead_time_change`` approval on the vendor (the document the announcement's exception is on, and the
    only one an announcement for several products has). The request binds to the announced days and to
    the price list lines with the delay each had when it was asked: approved, the days are written on the
    lines whose delay is still that one, and the exception resolves; rejected, the exception goes back
    to a person with the comment. Vendors also show the changes of their bank accounts that wait for
    approval."""

    _inherit = "res.partner"

    distribution_pending_bank_changes = fields.Text(
        "Bank Changes Pending Approval", compute="_compute_distribution_pending_bank_changes"
    )

    def _compute_distribution_pending_bank_changes(self):
        commercial = self.commercial_partner_id
        # sudo + active_test: a new account waiting for approval is archived until then.
        banks = (
            self.env["res.partner.bank"]
            .sudo()
            .with_context(active_test=False)
            .search([("partner_id", "in", (self | commercial)._origin.ids)])
        )
        pending = banks._distribution_pending_requests()
        by_partner = defaultdict(list)
        for bank in banks.filtered(lambda b: b.id in pending):
            request = pending[bank.id]
            by_partner[bank.partner_id.id].append(
                f"{request.name} - {bank.acc_number}: {bank._distribution_describe(request.payload)}"
            )
        for partner in self:
            lines = by_partner[partner._origin.id] or by_partner[partner.commercial_partner_id._origin.id]
            partner.distribution_pending_bank_changes = "\n".join(lines) or False

    # -- asking ------------------------------------------------------------------------------------
    def _distribution_ask_announced_lead_time(self, company, beyond, lead_time, exception, event):
        """Ask for an approval of ``lead_time`` days on the lines ``beyond`` ({product: supplierinfo}),
        for ``exception``; once per announcement: the same days on the same plan while a request is pending,
        or after it was rejected, ask nobody again. Answers the request."""
        self.ensure_one()
        lines = [
            {"supplierinfo_id": info.id, "product_id": product.id, "planned_days": info.delay}
            for product, infos in beyond.items()
            for info in infos
        ]
        fingerprint = approval.lead_time_fingerprint(lead_time, lines)
        # sudo: the exception and its requests are the system's records, written for the webhook's user.
        exception = exception.sudo()
        current = exception.approval_request_id
        payload = current.payload or {}
        same = payload.get("kind") == ANNOUNCED and payload.get("fingerprint") == fingerprint
        if same and current.state in ("pending", "rejected"):
            exception._link_approval_request(current, note=self._announced_note(current))
            return current
        if current.state == "pending":
            current._finish(
                "cancelled",
                self.env._(
                    "%(vendor)s announced %(days)s days since (event %(event)s): a new request replaces this one.",
                    vendor=self.display_name,
                    days=lead_time,
                    event=event.event_id,
                ),
            )
        exception._set_waiting_approval()
        products = self.env["product.product"].union(*beyond)
        # Each line's text first: a translated text inside the arguments of another is not extracted.
        lines_text = ", ".join(
            self.env._(
                "%(product)s (planned %(planned)s days)",
                product=product.display_name,
                planned="/".join(str(delay) for delay in infos.mapped("delay")),
            )
            for product, infos in beyond.items()
        )
        request = (
            self.env["distribution.approval.request"]
            .with_company(company)
            ._request(
                self,
                REQUEST_TYPE,
                reason=self.env._(
                    "%(vendor)s announces a lead time of %(days)s days (supplier update %(event)s) for %(lines)s: "
                    "beyond the tolerance of %(tolerance)s%%. Approved, the days are written on these price list "
                    "lines if their delay is still the planned one.",
                    vendor=self.display_name,
                    days=lead_time,
                    event=event.event_id,
                    lines=lines_text,
                    tolerance=company.distribution_lead_time_tolerance_pct,
                ),
                payload={
                    "kind": ANNOUNCED,
                    "partner_id": self.id,
                    "company_id": company.id,
                    "days": lead_time,
                    "lines": lines,
                    "fingerprint": fingerprint,
                    "exception_id": exception.id,
                    "event_id": event.event_id,
                },
                facts={"partner": self, "categories": products.categ_id},
            )
        )
        if request.state == "pending":
            exception._link_approval_request(request, note=self._announced_note(request))
        else:
            # Approved at once (auto-approval): the callback applied it and settled the exception.
            exception._link_approval_request(request)
        return request

    def _announced_note(self, request):
        if request.state == "rejected":
            return self.env._(
                "The same announcement was rejected in %(request)s: %(comment)s",
                request=request.name,
                comment=request.decision_comment or "-",
            )
        return self.env._(
            "Approval request %(request)s asks for it: approved, the announced days are written on the price list "
            "lines still planned as they were.",
            request=request.name,
        )

    def _distribution_approval_context(self):
        """What the approvers of a vendor's lead time see beside the request: what its receipts taught."""
        self.ensure_one()
        # sudo: the learned figures are shown to the approvers, who may not read the scorecard.
        learned = (
            self.env["distribution.vendor.lead.time"]
            .sudo()
            .search(
                [
                    ("partner_id", "=", self.commercial_partner_id.id),
                    ("company_id", "=", self.env.company.id),
                    ("product_id", "=", False),
                ],
                limit=1,
            )
        )
        if not learned:
            display = self.env._("not learned yet (no receipt)")
            value = None
        else:
            display = self.env._(
                "median %(median)s days over %(count)s receipts, p90 %(p90)s, planned %(planned)s, "
                "on time %(on_time)s%%",
                median=format(learned.median_days, "g"),
                count=learned.receipt_count,
                p90=format(learned.p90_days, "g"),
                planned=format(learned.planned_days, "g"),
                on_time=format(learned.on_time_rate, ".0f"),
            )
            value = {"median": learned.median_days, "p90": learned.p90_days, "planned": learned.planned_days}
        return [{"key": "lead_time", "label": self.env._("Learned lead time"), "value": value, "display": display}]

    # -- decisions (called back by the request, as the system) ---------------------------------------
    def _distribution_announced_request(self, request):
        """Whether ``request`` is an announced lead time of this vendor (the callbacks answer no other)."""
        self.ensure_one()
        payload = request.payload or {}
        return (
            request.request_type == REQUEST_TYPE
            and request.res_model == self._name
            and request.res_id == self.id
            and payload.get("kind") == ANNOUNCED
            and payload.get("partner_id") == self.id
        )

    def _distribution_announced_exception(self, request):
        exception_id = (request.payload or {}).get("exception_id")
        # sudo: the exception is the system's record, settled for whoever decided.
        return self.env["distribution.exception"].sudo().browse(exception_id).exists() if exception_id else None

    def _distribution_approval_approved(self, request):
        """The approval's callback: write what was approved, where the plan did not change."""
        self.ensure_one()
        if self._distribution_announced_request(request):
            self._apply_announced_lead_time(request)

    def _apply_announced_lead_time(self, request):
        """Write the approved days on the price list lines whose delay is still the one planned when it was
        asked; the exception resolves when all were, else goes back to a person saying which were not."""
        self.ensure_one()
        if request.state != "approved" or not self._distribution_announced_request(request):
            return self.env["product.supplierinfo"]
        payload = request.payload
        days = payload["days"]
        # sudo: the approval is the authority; the approver needs no purchase rights on the price lists.
        Supplierinfo = self.env["product.supplierinfo"].sudo()
        infos = Supplierinfo.browse([line["supplierinfo_id"] for line in payload["lines"]]).exists()
        current = {info.id: info.delay for info in infos if info.partner_id.commercial_partner_id == self}
        to_write, changed = approval.lead_time_lines_to_write(payload["lines"], current)
        written = Supplierinfo.browse(to_write)
        written.write({"delay": days})
        approver = ", ".join(request.decision_ids.user_id.mapped("name")) or self.env._("the system")
        product_of = {line["supplierinfo_id"]: line["product_id"] for line in payload["lines"]}
        products = self.env["product.product"].sudo().browse(sorted(set(product_of.values())))
        names = {product.id: product.display_name for product in products}
        done = self.env._(
            "%(request)s approved by %(approver)s: vendor lead time set to %(days)s days on %(products)s.",
            request=request.name,
            approver=approver,
            days=days,
            products=", ".join(sorted({names.get(product_of[info.id], "-") for info in written})),
        )
        # Each line's text first: a translated text inside the arguments of another is not extracted.
        deleted = self.env._("line deleted")
        changed_lines = ", ".join(
            self.env._(
                "%(product)s (planned %(planned)s days when asked, %(now)s now)",
                product=names.get(line["product_id"], "-"),
                planned=line["planned_days"],
                now=now if now is not None else deleted,
            )
            for line, now in changed
        )
        skipped = self.env._(
            "%(request)s approved, but the plan changed since it was asked, so nothing was written on: %(lines)s. "
            "Check the vendor's lead time again.",
            request=request.name,
            lines=changed_lines,
        )
        note = " ".join(([done] if written else []) + ([skipped] if changed else []))
        self.message_post(body=note, subtype_xmlid="mail.mt_note")
        if changed:
            request.message_post(body=skipped, subtype_xmlid="mail.mt_note")
        # One request at most waits per exception (a new announcement withdraws the previous one), and an
        # auto-approval calls back before the request is linked: the exception it was asked for is the one.
        exception = self._distribution_announced_exception(request)
        if exception and exception.is_open:
            if changed:
                exception._reopen(note)
            else:
                exception._mark_resolved(note, auto=request.auto_approved)
        return written

    def _distribution_approval_rejected(self, request):
        """The lines stay as they are; the exception goes back to a person with the rejection's comment."""
        self.ensure_one()
        if not self._distribution_announced_request(request):
            return
        approver = ", ".join(request.decision_ids.filtered(lambda d: d.decision == "reject").user_id.mapped("name"))
        note = self.env._(
            "%(request)s rejected by %(approver)s: %(comment)s",
            request=request.name,
            approver=approver or "-",
            comment=request.decision_comment or "-",
        )
        self.message_post(body=note, subtype_xmlid="mail.mt_note")
        exception = self._distribution_announced_exception(request)
        if exception and exception.is_open:
            exception._reopen(note)

    def _distribution_approval_cancelled(self, request):
        """A withdrawn request sends its exception back to a person."""
        self.ensure_one()
        if not self._distribution_announced_request(request):
            return
        exception = self._distribution_announced_exception(request)
        if exception and exception.state == "waiting_approval" and exception.approval_request_id == request:
            exception._reopen()
