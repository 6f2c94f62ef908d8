from collections import defaultdict

from odoo import fields
from odoo import models
from odoo.exceptions import UserError

# Context keys: the counts applied are the approved ones; quants are being deleted.
APPLY_KEY = "distribution_inventory_approved"
UNLINK_KEY = "distribution_quant_unlink"
# Context key: the quants of one request, for its context snapshot.
QUANTS_KEY = "distribution_inventory_quant_ids"


class StockQuant(models.Model):
    """Inventory counts whose value change is over the company's threshold wait for approval.

    The value change of an apply is the sum of |counted - on hand| x cost of its quants, per company.
    Over the threshold, the counts stay as counted (not applied) and an ``inventory_adjustment``
    request carries them; the approval applies the approved difference of each quant (so that moves
    done meanwhile are kept), as the system. A rejection applies nothing. Under the threshold, counts
    apply as usual. The gate is ``_apply_inventory``, which every way of applying a count goes through."""

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

    def unlink(self):
        return super(StockQuant, self.with_context(**{UNLINK_KEY: True})).unlink()

    def action_apply_inventory(self):
        if self.env.context.get(APPLY_KEY):
            return super().action_apply_inventory()
        result = super().action_apply_inventory()
        waiting = self.exists().filtered(lambda q: q.sudo().distribution_approval_request_id.state == "pending")
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
        if self.env.context.get(APPLY_KEY):
            return super()._apply_inventory()
        # Counts already waiting for a decision are applied by it, not now.
        waiting = self.filtered(lambda q: q.sudo().distribution_approval_request_id.state == "pending")
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

    def _distribution_hold_for_approval(self, quants):
        """Make a request for the counts of each company whose value change is over its threshold;
        answer the quants it covers (applied already when the request was approved at once)."""
        by_company = defaultdict(lambda: self.browse())
        for quant in quants:
            rounding = quant.product_uom_id.rounding
            if not fields.Float.is_zero(quant.inventory_diff_quantity, precision_rounding=rounding):
                by_company[quant.company_id or self.env.company] |= quant
        gated = self.browse()
        for company, company_quants in by_company.items():
            threshold = company.distribution_inventory_approval_amount
            value = company_quants._distribution_value_change(company)
            if not threshold or company.currency_id.compare_amounts(value, threshold) <= 0:
                continue
            if self.env.context.get(UNLINK_KEY):
                raise UserError(
                    self.env._(
                        "Deleting these quants writes off %(value)s of stock, over the approval threshold of "
                        "%(threshold)s: count them at zero and apply the count instead (it waits for approval).",
                        value=company.currency_id.format(value),
                        threshold=company.currency_id.format(threshold),
                    )
                )
            company_quants._distribution_request_approval(company, value, threshold)
            gated |= company_quants
        return gated

    def _distribution_request_approval(self, company, value, threshold):
        currency = company.currency_id
        payload = {
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
        source = self.sorted(lambda q: -q.quantity)[:1].with_context(**{QUANTS_KEY: self.ids})
        request = self.env["distribution.approval.request"]._request(
            source,
            "inventory_adjustment",
            amount=value,
            reason=self.env._(
                "Inventory count of %(count)s lines changes the stock value by %(value)s (threshold %(threshold)s).",
                count=len(self),
                value=currency.format(value),
                threshold=currency.format(threshold),
            ),
            payload=payload,
            facts={"categories": self.product_id.categ_id, "warehouse": self.location_id.warehouse_id[:1]},
        )
        if request.state == "pending":
            # sudo: the link is the system's bookkeeping (stock users may not write it otherwise).
            self.sudo().write({"distribution_approval_request_id": request.id})
        return request

    def _distribution_approval_context(self):
        """The counted lines: on hand, counted, difference and value."""
        quants = self.browse(self.env.context.get(QUANTS_KEY) or self.ids)
        company = self.company_id or self.env.company
        lines = [
            self.env._(
                "%(product)s in %(location)s: %(on_hand)s on hand, %(counted)s counted (%(diff)s)",
                product=quant.product_id.display_name,
                location=quant.location_id.display_name,
                on_hand=f"{quant.quantity:g}",
                counted=f"{quant.inventory_quantity:g}",
                diff=f"{quant.inventory_diff_quantity:+g}",
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
        """Apply the approved difference of each count."""
        quants = self.env["stock.quant"]
        for quant, item in self._distribution_payload_pairs(request):
            quant.write(
                {
                    "inventory_quantity": quant.quantity + item["difference"],
                    "inventory_diff_quantity": item["difference"],
                    "user_id": item.get("counted_by") or False,
                }
            )
            quants |= quant
        name = (request.payload or {}).get("inventory_name") or self.env._("Approved in %s", request.name)
        quants.with_context(**{APPLY_KEY: True}, inventory_name=name)._apply_inventory()
        quants.write({"inventory_quantity_set": False, "distribution_approval_request_id": False})

    def _distribution_approval_rejected(self, request):
        """Nothing applies; the counts stay as counted, for the counter to check."""
        self._distribution_request_quants(request).write({"distribution_approval_request_id": False})
        request.message_post(
            body=self.env._(
                "Not applied (%s). The counted quantities stay set: count again, or clear them.",
                request.decision_comment,
            ),
            subtype_xmlid="mail.mt_note",
            partner_ids=request.requested_by_id.partner_id.ids,
        )

    def _distribution_approval_cancelled(self, request):
        self._distribution_request_quants(request).write({"distribution_approval_request_id": False})
