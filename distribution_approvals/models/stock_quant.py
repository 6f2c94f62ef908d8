import contextvars
from collections import defaultdict
from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo.addons.distribution_observability.services import verbs
from odoo.exceptions import AccessError
from odoo.exceptions import UserError

from .purchase_order import _serialize_window

# Server verbs: an approved count is applied; a request is linked or unlinked; quants are deleted.
APPLY_VERB = "inventory_apply"
REQUEST_VERB = "inventory_request"
UNLINK_VERB = "quant_unlink"
# Written only by the server's own verbs.
GUARDS = {"distribution_approval_request_id": (REQUEST_VERB, APPLY_VERB)}
# What a request approves: frozen while it is pending.
LOCKED_FIELDS = ("inventory_quantity", "inventory_diff_quantity", "inventory_quantity_auto_apply")
# The quants of the request being made, for its context snapshot: a variable of the running call,
# which no caller can set (a context key could show the approvers other quants than those applied).
_SNAPSHOT_QUANTS = contextvars.ContextVar("distribution_inventory_snapshot_quants", default=())


class StockQuant(models.Model):
    """Inventory counts whose value change is over the company's threshold wait for approval.

    The value change of an apply is the sum of |counted - on hand| x cost of its quants, per company;
    it is also summed per product and location over the company's split window (the count adjustments
    applied in the window and those waiting for approval), so that one adjustment split into several
    small ones waits all the same. Over the threshold, the counts stay as counted (not applied) and an
    ``inventory_adjustment`` request carries them; while it is pending, the counted quantities of its
    quants cannot change. The approval applies exactly the approved difference of each quant (so that
    moves done meanwhile are kept), as the system, inside the ``inventory_apply`` verb. A rejection
    applies nothing. Under the threshold, counts apply as usual. The gate is ``_apply_inventory``,
    which every way of applying a count goes through; no context key opens it."""

    _inherit = "stock.quant"

    distribution_approval_request_id = fields.Many2one(
        "distribution.approval.request", "Approval Request", readonly=True, copy=False, index="btree_not_null"
    )
    distribution_approval_request_name = fields.Char(
        "Waiting Approval", compute="_compute_distribution_approval_request_name"
    )

    def _compute_distribution_approval_request_name(self):
        # sudo: whoever counts sees that the count waits, whatever their rights on requests.
        for quant in self:
            request = quant.sudo().distribution_approval_request_id
            quant.distribution_approval_request_name = request.name if request.state == "pending" else False

    # -- CRUD: the request link and the counts it approved -------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            refused = verbs.refused_fields(self, {k: v for k, v in vals.items() if v}, GUARDS)
            if refused:
                raise AccessError(self._distribution_guard_refusal())
        return super().create(vals_list)

    def write(self, vals):
        if verbs.refused_fields(self, vals, GUARDS):
            raise AccessError(self._distribution_guard_refusal())
        if any(name in vals for name in LOCKED_FIELDS) and not verbs.inside(APPLY_VERB, self):
            waiting = self._distribution_waiting()
            if waiting:
                # sudo: see _compute_distribution_approval_request_name.
                request = waiting[:1].sudo().distribution_approval_request_id
                raise UserError(
                    self.env._(
                        "The count of %(product)s in %(location)s waits for approval (%(request)s): it cannot "
                        "change until the decision. Withdraw the request to count again.",
                        product=waiting[0].product_id.display_name,
                        location=waiting[0].location_id.display_name,
                        request=request.name,
                    )
                )
        return super().write(vals)

    def unlink(self):
        with verbs.server_verb(UNLINK_VERB, self):
            return super().unlink()

    def _distribution_guard_refusal(self):
        return self.env._(
            "The approval request of a count is linked by applying the count, and unlinked by the decision."
        )

    def _distribution_waiting(self):
        """The quants whose count waits for a decision."""
        # sudo: see _compute_distribution_approval_request_name.
        return self.filtered(lambda q: q.sudo().distribution_approval_request_id.state == "pending")

    # -- the gate ------------------------------------------------------------------------------------
    def action_apply_inventory(self):
        """Apply the counts; those over the threshold wait for approval (a notification says so)."""
        result = super().action_apply_inventory()
        waiting = self.exists()._distribution_waiting()
        if not waiting or isinstance(result, dict):
            return result
        # The counts waiting for approval stay counted.
        waiting.inventory_quantity_set = True
        # sudo: see _compute_distribution_approval_request_name.
        requests = waiting.sudo().distribution_approval_request_id
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Waiting for approval"),
                "message": self.env._(
                    "%(count)s counted quantities change the stock value by more than the approval threshold: "
                    "they apply once %(requests)s is approved.",
                    count=len(waiting),
                    requests=", ".join(requests.mapped("name")),
                ),
                "type": "warning",
                "sticky": True,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def _apply_inventory(self):
        if verbs.inside(APPLY_VERB, self):
            return super()._apply_inventory()
        # Counts already waiting for a decision are applied by it, not now.
        waiting = self._distribution_waiting()
        gated = self._distribution_hold_for_approval(self - waiting)
        rest = self - waiting - gated
        if rest:
            return super(StockQuant, rest)._apply_inventory()
        return None

    def _distribution_value_change(self, company):
        """|counted - on hand| x cost, summed (company currency)."""
        return sum(
            abs(quant.inventory_diff_quantity) * quant.product_id.with_company(company).standard_price for quant in self
        )

    def _distribution_window_values(self, company):
        """The value change of the count adjustments of the split window, applied or waiting for
        approval, for each (product id, location id) of these quants: {key: value}."""
        hours = company.distribution_approval_split_window_hours
        values = defaultdict(float)
        if hours <= 0 or not self:
            return values
        keys = {(quant.product_id.id, quant.location_id.id) for quant in self}
        since = fields.Datetime.now() - timedelta(hours=hours)
        _serialize_window(self.env.cr, "product_product", self.product_id.ids)
        # sudo: every user's adjustments count, whatever this one may read.
        groups = (
            self.env["stock.move"]
            .sudo()
            ._read_group(
                [
                    ("is_inventory", "=", True),
                    ("state", "=", "done"),
                    # create_date: a column no one writes (a move's date could be moved out of the window).
                    ("create_date", ">=", since),
                    ("company_id", "=", company.id),
                    ("product_id", "in", self.product_id.ids),
                    "|",
                    ("location_id", "in", self.location_id.ids),
                    ("location_dest_id", "in", self.location_id.ids),
                ],
                ["product_id", "location_id", "location_dest_id"],
                ["product_qty:sum"],
            )
        )
        for product, source, destination, qty in groups:
            value = abs(qty or 0.0) * product.with_company(company).standard_price
            for location in source | destination:
                if (product.id, location.id) in keys:
                    values[product.id, location.id] += value
        # sudo: requests are the system's; their payload says what waits.
        pending = (
            self.env["distribution.approval.request"]
            .sudo()
            .search(
                [
                    ("request_type", "=", "inventory_adjustment"),
                    ("state", "=", "pending"),
                    ("company_id", "=", company.id),
                ]
            )
        )
        for request in pending:
            for item in (request.payload or {}).get("quants", []):
                key = (item.get("product_id"), item.get("location_id"))
                if key in keys and item.get("quant_id") not in self.ids:
                    values[key] += item.get("value") or 0.0
        return values

    def _distribution_hold_for_approval(self, quants):
        """Make a request for the counts of each company whose value change is over its threshold, in
        one apply or summed per product and location over the split window; answer the quants it covers
        (applied already when the request was approved at once)."""
        by_company = defaultdict(lambda: self.browse())
        for quant in quants:
            rounding = quant.product_uom_id.rounding
            if not fields.Float.is_zero(quant.inventory_diff_quantity, precision_rounding=rounding):
                by_company[quant.company_id or self.env.company] |= quant
        gated = self.browse()
        for company, company_quants in by_company.items():
            threshold = company.distribution_inventory_approval_amount
            if not company.distribution_inventory_approval or not threshold:
                continue
            currency = company.currency_id
            value = company_quants._distribution_value_change(company)
            window = company_quants._distribution_window_values(company)
            by_key = defaultdict(float)
            for quant in company_quants:
                by_key[quant.product_id.id, quant.location_id.id] += quant._distribution_value_change(company)
            split = max((window[key] + by_key[key] for key in by_key if window.get(key)), default=0.0)
            over = currency.compare_amounts(value, threshold) > 0
            if not over and currency.compare_amounts(split, threshold) <= 0:
                continue
            if verbs.inside(UNLINK_VERB, company_quants):
                raise UserError(
                    self.env._(
                        "Deleting these quants writes off %(value)s of stock, over the approval threshold of "
                        "%(threshold)s: count them at zero and apply the count instead (it waits for approval).",
                        value=currency.format(max(value, split)),
                        threshold=currency.format(threshold),
                    )
                )
            company_quants._distribution_request_approval(company, value, threshold, split if not over else 0.0)
            gated |= company_quants
        return gated

    def _distribution_request_approval(self, company, value, threshold, split=0.0):
        currency = company.currency_id
        payload = {
            # Odoo's own label of the adjustment (the move's name): a label, harmless to forge.
            "inventory_name": self.env.context.get("inventory_name") or None,
            "quants": [
                {
                    "quant_id": quant.id,
                    "product_id": quant.product_id.id,
                    "product": quant.product_id.display_name,
                    "location_id": quant.location_id.id,
                    "location": quant.location_id.display_name,
                    "lot_id": quant.lot_id.id or None,
                    "package_id": quant.package_id.id or None,
                    "owner_id": quant.owner_id.id or None,
                    "on_hand": quant.quantity,
                    "counted": quant.inventory_quantity,
                    "difference": quant.inventory_diff_quantity,
                    "uom": quant.product_uom_id.name,
                    "value": abs(quant.inventory_diff_quantity) * quant.product_id.with_company(company).standard_price,
                    "counted_by": (quant.user_id or self.env.user).id,
                }
                for quant in self
            ],
        }
        if split:
            reason = self.env._(
                "Inventory count of %(count)s lines changes the stock value by %(value)s; with the other "
                "adjustments of the same products and locations of the last %(hours)s hours, by %(split)s "
                "(threshold %(threshold)s).",
                count=len(self),
                value=currency.format(value),
                hours=company.distribution_approval_split_window_hours,
                split=currency.format(split),
                threshold=currency.format(threshold),
            )
        else:
            reason = self.env._(
                "Inventory count of %(count)s lines changes the stock value by %(value)s (threshold %(threshold)s).",
                count=len(self),
                value=currency.format(value),
                threshold=currency.format(threshold),
            )
        source = self.sorted(lambda q: -q.quantity)[:1]
        token = _SNAPSHOT_QUANTS.set(tuple(self.ids))
        try:
            request = self.env["distribution.approval.request"]._request(
                source,
                "inventory_adjustment",
                amount=value,
                reason=reason,
                payload=payload,
                facts={"categories": self.product_id.categ_id, "warehouse": self.location_id.warehouse_id[:1]},
            )
        finally:
            _SNAPSHOT_QUANTS.reset(token)
        if request.state == "pending":
            # sudo: the link is the system's bookkeeping (stock users may not write it otherwise).
            with verbs.server_verb(REQUEST_VERB, self):
                self.sudo().write({"distribution_approval_request_id": request.id})
        return request

    def _distribution_approval_context(self):
        """The counted lines: on hand, counted, difference and value."""
        quants = self.browse(_SNAPSHOT_QUANTS.get() or self.ids)
        company = self.company_id or self.env.company
        lines = [
            self.env._(
                "%(product)s in %(location)s: %(on_hand)s on hand, %(counted)s counted (%(diff)s)",
                product=quant.product_id.display_name,
                location=quant.location_id.display_name,
                on_hand=format(quant.quantity, "g"),
                counted=format(quant.inventory_quantity, "g"),
                diff=format(quant.inventory_diff_quantity, "+g"),
            )
            for quant in quants
        ]
        return [
            {
                "key": "counts",
                "label": self.env._("Counts"),
                "value": [
                    {"product": q.product_id.display_name, "on_hand": q.quantity, "counted": q.inventory_quantity}
                    for q in quants
                ],
                "display": "; ".join(lines),
            },
            {
                "key": "value_change",
                "label": self.env._("Value change"),
                "value": quants._distribution_value_change(company),
                "display": company.currency_id.format(quants._distribution_value_change(company)),
            },
        ]

    # -- decisions (called back by the request, as the system) ---------------------------------------
    def _distribution_payload_pairs(self, request):
        """(quant, payload line) of a request, the quant found again (or made again) when it was merged
        or deleted since."""
        Quant = self.env["stock.quant"]
        pairs = []
        for item in (request.payload or {}).get("quants", []):
            quant = Quant.browse(item["quant_id"]).exists()
            if not quant or (quant.product_id.id, quant.location_id.id) != (item["product_id"], item["location_id"]):
                product = self.env["product.product"].browse(item["product_id"])
                location = self.env["stock.location"].browse(item["location_id"])
                quant = Quant._gather(
                    product,
                    location,
                    lot_id=self.env["stock.lot"].browse(item.get("lot_id")),
                    package_id=self.env["stock.quant.package"].browse(item.get("package_id")),
                    owner_id=self.env["res.partner"].browse(item.get("owner_id")),
                    strict=True,
                )[:1] or Quant.create(
                    {
                        "product_id": product.id,
                        "location_id": location.id,
                        "lot_id": item.get("lot_id") or False,
                        "package_id": item.get("package_id") or False,
                        "owner_id": item.get("owner_id") or False,
                    }
                )
            pairs.append((quant, item))
        return pairs

    def _distribution_request_quants(self, request):
        """The quants still linked to ``request``."""
        ids = [item["quant_id"] for item in (request.payload or {}).get("quants", [])]
        return (
            self.env["stock.quant"]
            .browse(ids)
            .exists()
            .filtered(lambda q: q.distribution_approval_request_id == request)
        )

    def _distribution_approval_approved(self, request):
        """The approval's callback: apply it."""
        self._apply_approved_inventory(request)

    def _apply_approved_inventory(self, request):
        """Apply exactly the approved difference of each count of ``request``, inside the
        ``inventory_apply`` verb (the counts could not change while it was pending)."""
        pairs = self._distribution_payload_pairs(request)
        quants = self.env["stock.quant"].concat(*(quant for quant, _item in pairs))
        name = (request.payload or {}).get("inventory_name") or self.env._("Approved in %s", request.name)
        with verbs.server_verb(APPLY_VERB, quants):
            for quant, item in pairs:
                quant.write(
                    {
                        "inventory_quantity": quant.quantity + item["difference"],
                        "inventory_diff_quantity": item["difference"],
                        "user_id": item.get("counted_by") or False,
                    }
                )
            quants.with_context(inventory_name=name)._apply_inventory()
            quants.write({"inventory_quantity_set": False, "distribution_approval_request_id": False})

    def _distribution_approval_rejected(self, request):
        """Nothing applies; the counts stay as counted, for the counter to check."""
        self._distribution_unlink_request(request)
        request.message_post(
            body=self.env._(
                "Not applied (%s). The counted quantities stay set: count again, or clear them.",
                request.decision_comment,
            ),
            subtype_xmlid="mail.mt_note",
            partner_ids=request.requested_by_id.partner_id.ids,
        )

    def _distribution_approval_cancelled(self, request):
        """A withdrawn request frees its counts (they can be counted again)."""
        self._distribution_unlink_request(request)

    def _distribution_unlink_request(self, request):
        quants = self._distribution_request_quants(request)
        with verbs.server_verb(REQUEST_VERB, quants):
            quants.write({"distribution_approval_request_id": False})
