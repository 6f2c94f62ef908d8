from odoo import fields
from odoo import models
from odoo.exceptions import UserError

# Context key: the scrap done is the approved one.
APPLY_KEY = "distribution_scrap_approved"


class StockScrap(models.Model):
    """Scraps worth more than the company's threshold (quantity x cost) wait for a ``scrap_write_off``
    approval; the approval does them (as the system), a rejection leaves them in draft. The gate is
    ``do_scrap``, which validating a scrap goes through (with or without the insufficient quantity
    warning)."""

    _inherit = "stock.scrap"

    distribution_approval_request_id = fields.Many2one(
        "distribution.approval.request", "Approval Request", readonly=True, copy=False, index="btree_not_null"
    )
    distribution_approval_request_name = fields.Char(
        related="distribution_approval_request_id.name", string="Approval Request Reference"
    )
    distribution_approval_state = fields.Selection(
        related="distribution_approval_request_id.state", string="Approval Status"
    )
    distribution_approval_comment = fields.Text(
        related="distribution_approval_request_id.decision_comment", string="Approval Comment"
    )
    distribution_value = fields.Monetary(
        "Scrap Value",
        compute="_compute_distribution_value",
        currency_field="distribution_currency_id",
        help="Quantity x cost, in the company currency.",
    )
    distribution_currency_id = fields.Many2one(related="company_id.currency_id", string="Company Currency")

    def _compute_distribution_value(self):
        for scrap in self:
            qty = scrap.product_uom_id._compute_quantity(scrap.scrap_qty, scrap.product_id.uom_id, round=False)
            scrap.distribution_value = qty * scrap.product_id.with_company(scrap.company_id).standard_price

    def do_scrap(self):
        if self.env.context.get(APPLY_KEY):
            return super().do_scrap()
        waiting = self.filtered(lambda s: s.distribution_approval_state == "pending")
        if waiting:
            raise UserError(
                self.env._(
                    "Scrap of %(product)s waits for approval (%(request)s): it is done once approved.",
                    product=waiting[0].product_id.display_name,
                    request=waiting[0].distribution_approval_request_name,
                )
            )
        gated = self.filtered(lambda s: s._distribution_over_threshold())
        for scrap in gated:
            scrap._distribution_request_approval()
        rest = self - gated
        result = super(StockScrap, rest).do_scrap() if rest else True
        held = gated.filtered(lambda s: s.state == "draft")
        if held:
            return held._distribution_approval_notification()
        return result

    def _distribution_over_threshold(self):
        self.ensure_one()
        threshold = self.company_id.distribution_scrap_approval_amount
        return bool(threshold) and self.company_id.currency_id.compare_amounts(self.distribution_value, threshold) > 0

    def _distribution_request_approval(self):
        self.ensure_one()
        currency = self.company_id.currency_id
        request = self.env["distribution.approval.request"]._request(
            self,
            "scrap_write_off",
            amount=self.distribution_value,
            reason=self.env._(
                "Scrap of %(qty)s %(uom)s %(product)s from %(location)s, worth %(value)s (threshold %(threshold)s).",
                qty=f"{self.scrap_qty:g}",
                uom=self.product_uom_id.name,
                product=self.product_id.display_name,
                location=self.location_id.display_name,
                value=currency.format(self.distribution_value),
                threshold=currency.format(self.company_id.distribution_scrap_approval_amount),
            ),
            payload={
                "product_id": self.product_id.id,
                "product": self.product_id.display_name,
                "quantity": self.scrap_qty,
                "uom": self.product_uom_id.name,
                "location": self.location_id.display_name,
                "lot": self.lot_id.name or None,
                "value": self.distribution_value,
                "reasons": self.scrap_reason_tag_ids.mapped("name"),
            },
        )
        # sudo: the link is the system's bookkeeping.
        self.sudo().distribution_approval_request_id = request
        return request

    def _distribution_approval_context(self):
        """What is scrapped, from where, why, and the stock left there."""
        self.ensure_one()
        available = self.product_id.with_context(location=self.location_id.id).qty_available
        return [
            {
                "key": "scrap",
                "label": self.env._("Scrap"),
                "value": {"product": self.product_id.display_name, "quantity": self.scrap_qty},
                "display": f"{self.scrap_qty:g} {self.product_uom_id.name} {self.product_id.display_name}",
            },
            {
                "key": "reasons",
                "label": self.env._("Reasons"),
                "value": self.scrap_reason_tag_ids.mapped("name"),
                "display": ", ".join(self.scrap_reason_tag_ids.mapped("name")) or self.env._("none given"),
            },
            {
                "key": "on_hand",
                "label": self.env._("On hand in %s", self.location_id.display_name),
                "value": available,
                "display": f"{available:g} {self.product_id.uom_id.name}",
            },
        ]

    def _distribution_approval_notification(self):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Waiting for approval"),
                "message": "\n".join(
                    self.env._(
                        "%(product)s: a scrap worth %(value)s needs an approval (%(request)s); it is done once "
                        "approved.",
                        product=scrap.product_id.display_name,
                        value=scrap.distribution_currency_id.format(scrap.distribution_value),
                        request=scrap.distribution_approval_request_name,
                    )
                    for scrap in self
                ),
                "type": "warning",
                "sticky": True,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    # -- decisions (called back by the request, as the system) ---------------------------------------
    def _distribution_approval_approved(self, request):
        self.ensure_one()
        if self.state != "draft":
            return
        self.message_post(
            body=self.env._(
                "Approved in %(request)s: %(comment)s", request=request.name, comment=request.decision_comment or "-"
            ),
            subtype_xmlid="mail.mt_note",
        )
        self.with_context(**{APPLY_KEY: True}).do_scrap()

    def _distribution_approval_rejected(self, request):
        self.ensure_one()
        self.message_post(
            body=self.env._(
                "%(request)s rejected: %(comment)s. The scrap stays in draft.",
                request=request.name,
                comment=request.decision_comment,
            ),
            subtype_xmlid="mail.mt_note",
            partner_ids=request.requested_by_id.partner_id.ids,
        )
