from odoo import fields
from odoo import models
from odoo.addons.distribution_observability.services import verbs
from odoo.exceptions import AccessError
from odoo.exceptions import UserError

REQUEST_VERB = "lead_time_change_request"
USER_GROUP = "distribution_observability.group_distribution_user"


class DistributionVendorLeadTime(models.Model):
    """A learned lead time beyond the tolerance becomes a ``lead_time_change`` request (whoever applies it, a
    manager too: the approval matrix decides). The request binds to the delay it shows and to the delay
    planned when it was asked: approved, it writes that delay, only if the plan did not change since."""

    _inherit = "distribution.vendor.lead.time"

    distribution_approval_request_id = fields.Many2one(
        "distribution.approval.request", "Approval Request", readonly=True, copy=False, index="btree_not_null"
    )
    distribution_approval_state = fields.Selection(
        related="distribution_approval_request_id.state", string="Approval Status"
    )

    def write(self, vals):
        if "distribution_approval_request_id" in vals and not verbs.inside(REQUEST_VERB, self):
            raise AccessError(self.env._("The approval request of a lead time is linked by its approval only."))
        return super().write(vals)

    def _apply_above_tolerance(self, days):
        """Ask for an approval of ``days`` as the vendor's delay."""
        self.ensure_one()
        if not self.env.user.has_group(USER_GROUP):
            raise AccessError(self.env._("Only Distribution Users apply learned lead times."))
        if self.distribution_approval_state == "pending":
            raise UserError(
                self.env._(
                    "%(vendor)s: a change of its lead time already waits for approval (%(request)s).",
                    vendor=self.partner_id.display_name,
                    request=self.distribution_approval_request_id.name,
                )
            )
        payload = {
            "lead_time_id": self.id,
            "partner_id": self.partner_id.id,
            "product_id": self.product_id.id or False,
            "days": days,
            "planned_days": self.planned_days,
            "median_days": self.median_days,
            "p90_days": self.p90_days,
            "receipts": self.receipt_count,
        }
        product = f" ({self.product_id.display_name})" if self.product_id else ""
        request = self.env["distribution.approval.request"]._request(
            self,
            "lead_time_change",
            reason=self.env._(
                "Vendor lead time of %(vendor)s%(product)s: %(planned)s -> %(days)s days (median of the last "
                "%(count)s receipts; 90%% within %(p90)s days).",
                vendor=self.partner_id.display_name,
                product=product,
                planned=format(self.planned_days, "g"),
                days=days,
                count=self.receipt_count,
                p90=format(self.p90_days, "g"),
            ),
            payload=payload,
        )
        # sudo: the link is the system's bookkeeping, written inside its verb.
        with verbs.server_verb(REQUEST_VERB, self):
            self.sudo().distribution_approval_request_id = request
        return request

    def _distribution_approval_context(self):
        self.ensure_one()
        return [
            {
                "key": "lead_time",
                "label": self.env._("Learned / planned"),
                "value": {"median": self.median_days, "p90": self.p90_days, "planned": self.planned_days},
                "display": self.env._(
                    "median %(median)s, p90 %(p90)s, planned %(planned)s days, on time %(on_time)s%%",
                    median=format(self.median_days, "g"),
                    p90=format(self.p90_days, "g"),
                    planned=format(self.planned_days, "g"),
                    on_time=format(self.on_time_rate, ".0f"),
                ),
            }
        ]

    def _distribution_approval_approved(self, request):
        """The approval's callback: apply it."""
        self.ensure_one()
        self._apply_approved_lead_time(request)

    def _apply_approved_lead_time(self, request):
        """Write the approved delay if the plan is still the one it was asked against."""
        self.ensure_one()
        payload = request.payload or {}
        if payload.get("lead_time_id") != self.id or payload.get("planned_days") != self.planned_days:
            return False
        return self._apply_days(payload["days"])
