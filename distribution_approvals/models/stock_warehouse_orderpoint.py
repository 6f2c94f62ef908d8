from odoo import fields
from odoo import models
from odoo.addons.distribution_observability.services import verbs
from odoo.exceptions import AccessError
from odoo.exceptions import UserError

# Server verb: the request link of a reordering rule is the approval's bookkeeping.
REQUEST_VERB = "reorder_change_request"
USER_GROUP = "distribution_observability.group_distribution_user"


class StockWarehouseOrderpoint(models.Model):
    """A reorder suggestion beyond the tolerance of its replenishment profile becomes a ``reorder_rule_change``
    request, made by the nightly run or by the person who applies it (a manager too: the approval matrix
    decides, never the requester). The request binds to the min and max it shows: approved, it writes
    exactly those, and only if the rule still holds the min and max it was asked against."""

    _inherit = "stock.warehouse.orderpoint"

    distribution_approval_request_id = fields.Many2one(
        "distribution.approval.request", "Approval Request", readonly=True, copy=False, index="btree_not_null"
    )
    distribution_approval_state = fields.Selection(
        related="distribution_approval_request_id.state", string="Approval Status"
    )

    def write(self, vals):
        if "distribution_approval_request_id" in vals and not verbs.inside(REQUEST_VERB, self):
            raise AccessError(self.env._("The approval request of a reordering rule is linked by its approval only."))
        return super().write(vals)

    def _distribution_apply_above_tolerance(self):
        """A person applies changes beyond the tolerance: each becomes a request for approval."""
        if not self.env.user.has_group(USER_GROUP):
            raise AccessError(self.env._("Only Distribution Users work with reorder suggestions."))
        waiting = self.filtered(lambda rule: rule.distribution_approval_state == "pending")
        if waiting:
            raise UserError(
                self.env._(
                    "%(rule)s: a change of its min and max already waits for approval (%(request)s).",
                    rule=waiting[0].display_name,
                    request=waiting[0].distribution_approval_request_id.name,
                )
            )
        for rule in self:
            rule._distribution_request_reorder_change()
        return True

    def _distribution_left_above_tolerance(self):
        """The nightly run asks for an approval of each change beyond the tolerance: one pending per rule, and
        never again for the min and max a request was refused for."""
        asked = self.filtered(lambda rule: not rule._distribution_already_asked())
        for rule in asked:
            rule._distribution_request_reorder_change()
        return asked

    def _distribution_already_asked(self):
        """Whether the current suggestion waits for approval, or was refused as it is."""
        self.ensure_one()
        request = self.distribution_approval_request_id
        if request.state == "pending":
            return True
        payload = request.payload or {}
        return request.state == "rejected" and (payload.get("new_min"), payload.get("new_max")) == (
            self.distribution_suggested_min,
            self.distribution_suggested_max,
        )

    def _distribution_reorder_payload(self):
        self.ensure_one()
        return {
            "orderpoint_id": self.id,
            "old_min": self.product_min_qty,
            "old_max": self.product_max_qty,
            "new_min": self.distribution_suggested_min,
            "new_max": self.distribution_suggested_max,
            **self._distribution_figures(),
        }

    def _distribution_request_reorder_change(self):
        """Ask for an approval of the current suggestion of this rule; amount: the value of the stock the new
        max adds (or removes), at cost."""
        self.ensure_one()
        payload = self._distribution_reorder_payload()
        cost = self.product_id.with_company(self.company_id).standard_price
        amount = abs(payload["new_max"] - payload["old_max"]) * cost
        reason = self.env._(
            "Reordering rule %(rule)s: min %(old_min)s -> %(new_min)s, max %(old_max)s -> %(new_max)s "
            "(%(change)s%% change; average daily usage %(adu)s, lead time %(lead)s days).",
            rule=self.display_name,
            old_min=format(payload["old_min"], "g"),
            new_min=format(payload["new_min"], "g"),
            old_max=format(payload["old_max"], "g"),
            new_max=format(payload["new_max"], "g"),
            change=format(min(payload["change_pct"], 9999), ".0f"),
            adu=format(payload["adu"], ".4g"),
            lead=format(payload["lead_days"], "g"),
        )
        request = self.env["distribution.approval.request"]._request(
            self,
            "reorder_rule_change",
            amount=amount,
            reason=reason,
            payload=dict(payload, product=self.product_id.display_name, warehouse=self.warehouse_id.name),
        )
        # sudo: the link is the system's bookkeeping, written inside its verb.
        with verbs.server_verb(REQUEST_VERB, self):
            self.sudo().distribution_approval_request_id = request
        return request

    def _distribution_approval_context(self):
        """The rule as it is and the demand behind the suggestion."""
        self.ensure_one()
        return [
            {
                "key": "rule",
                "label": self.env._("Min / max now"),
                "value": {"min": self.product_min_qty, "max": self.product_max_qty},
                "display": f"{self.product_min_qty:g} / {self.product_max_qty:g} {self.product_uom_name or ''}",
            },
            {
                "key": "on_hand",
                "label": self.env._("On hand"),
                "value": self.qty_on_hand,
                "display": f"{self.qty_on_hand:g}",
            },
        ]

    # -- decisions (called back by the request, as the system) ---------------------------------------
    def _distribution_approval_approved(self, request):
        """The approval's callback: apply it."""
        self.ensure_one()
        self._apply_approved_reorder_change(request)

    def _apply_approved_reorder_change(self, request):
        """Write exactly the min and max ``request`` approved, if the rule still holds the min and max the change
        was asked against (otherwise nothing changes: the nightly run suggests again)."""
        self.ensure_one()
        payload = request.payload or {}
        if payload.get("orderpoint_id") != self.id:
            return self.env["distribution.replenishment.change"]
        rounding = self.product_uom.rounding or 0.0001
        unchanged = all(
            abs(current - payload.get(name, 0.0)) < rounding
            for current, name in ((self.product_min_qty, "old_min"), (self.product_max_qty, "old_max"))
        )
        if not unchanged:
            return self.env["distribution.replenishment.change"]
        figures = {name: payload.get(name) for name in ("adu", "lead_days", "method", "change_pct")}
        return self._distribution_write_levels(payload["new_min"], payload["new_max"], "approved", figures)
