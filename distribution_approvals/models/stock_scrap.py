from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo.addons.distribution_observability.services import verbs
from odoo.exceptions import AccessError
from odoo.exceptions import UserError

from .purchase_order import _serialize_window

# Server verbs: the scrap is done (by the gate or by the approval); its request is linked.
DO_VERB = "scrap_do"
REQUEST_VERB = "scrap_request"
# What a request approves: frozen while it is pending, and once the scrap is done.
LOCKED_FIELDS = (
    "product_id",
    "scrap_qty",
    "product_uom_id",
    "location_id",
    "scrap_location_id",
    "lot_id",
    "package_id",
    "owner_id",
    "company_id",
)
# Written only by the server's own verbs.
GUARDS = {"distribution_approval_request_id": REQUEST_VERB, "state": DO_VERB, "date_done": DO_VERB}


class StockScrap(models.Model):
    """Scraps worth more than the company's threshold (quantity x cost), or that take the value scrapped
    of one product in one location over the split window above it, wait for a ``scrap_write_off``
    approval; the approval does exactly what it approved (as the system), a rejection leaves them in
    draft. The gate is ``do_scrap``, which validating a scrap goes through (with or without the
    insufficient quantity warning). While its request is pending, and once it is done, what the scrap
    scraps (product, quantity, unit, locations, lot, package, owner) cannot change; its status, its date
    and its request link are written only by the gate and the approval."""

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

    # -- CRUD: what a request approves, and its bookkeeping ------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            # A new scrap is a draft without a request: anything else is the verbs' to write.
            given = {name: v for name, v in vals.items() if v and not (name == "state" and v == "draft")}
            refused = verbs.refused_fields(self, given, GUARDS)
            if refused:
                raise AccessError(self._distribution_guard_refusal(refused))
        return super().create(vals_list)

    def write(self, vals):
        refused = verbs.refused_fields(self, vals, GUARDS)
        if refused:
            raise AccessError(self._distribution_guard_refusal(refused))
        if any(name in vals for name in LOCKED_FIELDS) and not verbs.inside(DO_VERB, self):
            # A done scrap is history: rewriting it would also take it out of the split window.
            done = self.filtered(lambda s: s.state == "done")
            if done:
                raise UserError(self.env._("Scrap %s is done: what it scrapped cannot change.", done[0].name))
            waiting = self.filtered(lambda s: s.distribution_approval_state == "pending")
            if waiting:
                raise UserError(
                    self.env._(
                        "Scrap of %(product)s waits for approval (%(request)s): what it scraps cannot change "
                        "until then. Withdraw the request to change it.",
                        product=waiting[0].product_id.display_name,
                        request=waiting[0].distribution_approval_request_name,
                    )
                )
        return super().write(vals)

    def _distribution_guard_refusal(self, names):
        return self.env._(
            "%s of a scrap is written by its Validate button and its approval only.",
            ", ".join(self._fields[name].string for name in names),
        )

    # -- the gate ------------------------------------------------------------------------------------
    def do_scrap(self):
        """Scraps waiting for approval are refused; those over the threshold (alone or summed over the
        split window) make a request and stay in draft; the others are done."""
        if verbs.inside(DO_VERB, self):
            # The gate was passed (below) or the approval applies what it approved.
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
        gated = self.browse()
        # Scraps of one call count towards each other's window.
        in_call = {}
        for scrap in self:
            key = scrap._distribution_window_key()
            window = scrap._distribution_window_value() + in_call.get(key, 0.0)
            if scrap._distribution_over_threshold(window):
                scrap._distribution_request_approval(window)
                gated |= scrap
            else:
                in_call[key] = in_call.get(key, 0.0) + scrap.distribution_value
        rest = self - gated
        result = rest._distribution_do_scrap() if rest else True
        held = gated.filtered(lambda s: s.state == "draft")
        if held:
            return held._distribution_approval_notification()
        return result

    def _distribution_do_scrap(self):
        """Do the scraps inside the gate's verb (they passed it, or their approval is applied)."""
        with verbs.server_verb(DO_VERB, self):
            return self.do_scrap()

    def _distribution_window_key(self):
        self.ensure_one()
        return (self.company_id.id, self.product_id.id, self.location_id.id)

    def _distribution_window_value(self):
        """The value of the other scraps of this product from this location in the split window: done
        ones and ones waiting for approval (company currency)."""
        self.ensure_one()
        hours = self.company_id.distribution_approval_split_window_hours
        if hours <= 0:
            return 0.0
        since = fields.Datetime.now() - timedelta(hours=hours)
        _serialize_window(self.env.cr, "product_product", self.product_id.ids)
        # sudo: every user's scraps count, whatever this one may read.
        others = self.sudo().search(
            [
                ("id", "!=", self._origin.id),
                ("company_id", "=", self.company_id.id),
                ("product_id", "=", self.product_id.id),
                ("location_id", "=", self.location_id.id),
                "|",
                "&",
                ("state", "=", "done"),
                ("date_done", ">=", since),
                "&",
                ("state", "=", "draft"),
                ("distribution_approval_request_id.state", "=", "pending"),
            ]
        )
        return sum(others.mapped("distribution_value"))

    def _distribution_over_threshold(self, window=0.0):
        self.ensure_one()
        threshold = self.company_id.distribution_scrap_approval_amount
        currency = self.company_id.currency_id
        return (
            self.company_id.distribution_scrap_approval
            and bool(threshold)
            and currency.compare_amounts(self.distribution_value + window, threshold) > 0
        )

    def _distribution_payload(self):
        """What a request approves: the scrap as it is now."""
        self.ensure_one()
        return {
            "scrap_id": self.id,
            "product_id": self.product_id.id,
            "quantity": self.scrap_qty,
            "uom_id": self.product_uom_id.id,
            "location_id": self.location_id.id,
            "scrap_location_id": self.scrap_location_id.id,
            "lot_id": self.lot_id.id or False,
            "package_id": self.package_id.id or False,
            "owner_id": self.owner_id.id or False,
        }

    def _distribution_request_approval(self, window=0.0):
        self.ensure_one()
        currency = self.company_id.currency_id
        threshold = self.company_id.distribution_scrap_approval_amount
        if window:
            reason = self.env._(
                "Scrap of %(qty)s %(uom)s %(product)s from %(location)s, worth %(value)s: with the other scraps "
                "of it there in the last %(hours)s hours (%(window)s), over the threshold of %(threshold)s.",
                qty=format(self.scrap_qty, "g"),
                uom=self.product_uom_id.name,
                product=self.product_id.display_name,
                location=self.location_id.display_name,
                value=currency.format(self.distribution_value),
                hours=self.company_id.distribution_approval_split_window_hours,
                window=currency.format(window),
                threshold=currency.format(threshold),
            )
        else:
            reason = self.env._(
                "Scrap of %(qty)s %(uom)s %(product)s from %(location)s, worth %(value)s (threshold %(threshold)s).",
                qty=format(self.scrap_qty, "g"),
                uom=self.product_uom_id.name,
                product=self.product_id.display_name,
                location=self.location_id.display_name,
                value=currency.format(self.distribution_value),
                threshold=currency.format(threshold),
            )
        request = self.env["distribution.approval.request"]._request(
            self,
            "scrap_write_off",
            amount=self.distribution_value,
            reason=reason,
            payload=dict(
                self._distribution_payload(),
                product=self.product_id.display_name,
                uom=self.product_uom_id.name,
                location=self.location_id.display_name,
                lot=self.lot_id.name or None,
                value=self.distribution_value,
                window_value=window,
                reasons=self.scrap_reason_tag_ids.mapped("name"),
            ),
        )
        # sudo: the link is the system's bookkeeping, written inside its verb.
        with verbs.server_verb(REQUEST_VERB, self):
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
        """The approval's callback: apply it."""
        self.ensure_one()
        self._apply_approved_scrap(request)

    def _apply_approved_scrap(self, request):
        """Do exactly the scrap ``request`` approved, inside the gate's verb: a scrap that no longer
        matches the approved payload (it cannot change while pending; this is the last check) is not
        done, and its requester is told."""
        self.ensure_one()
        if self.state != "draft":
            return
        payload = request.payload or {}
        current = self._distribution_payload()
        if any(payload.get(name) != value for name, value in current.items()):
            self.message_post(
                body=self.env._(
                    "%s was approved, but the scrap changed since: it was not done. Validate it again to ask "
                    "for an approval of what it is now.",
                    request.name,
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
        self._distribution_do_scrap()

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
