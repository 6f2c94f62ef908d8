from odoo import fields
from odoo import models
from odoo.exceptions import UserError

# The approval request type asked for by a failing rule of each type.
REQUEST_TYPE_OF_RULE = {
    "credit_limit": "credit_exception",
    "discount_ceiling": "discount",
    "price_below_pricelist": "price_exception",
    "margin_floor": "margin_exception",
    "rush_shipment": "rush_shipment",
}


class DistributionValidationRule(models.Model):
    """Order validation rules gain the outcome "Require approval": a failing order is held and an
    approval request of the matching type is made; its approval releases the order."""

    _inherit = "distribution.validation.rule"

    outcome = fields.Selection(
        selection_add=[("approval", "Require approval")],
        ondelete={"approval": "set hold"},
        help="Note: recorded on the order. Warn: recorded and shown, the order confirms. "
        "Hold: the order stays unconfirmed until the exception is resolved. "
        "Require approval: the order is held and an approval request is made (approval matrix); "
        "its approval releases the order, its rejection keeps it held.",
    )

    def _approval_request_type(self):
        """The approval request type this rule asks for when it fails."""
        self.ensure_one()
        return REQUEST_TYPE_OF_RULE.get(self.rule_type, "custom")


class DistributionValidationCheck(models.Model):
    _inherit = "distribution.validation.check"

    outcome = fields.Selection(selection_add=[("approval", "Approval")], ondelete={"approval": "set hold"})


class DistributionException(models.Model):
    """An exception raised by a rule that requires approval is settled by its approval request: the
    approval resolves it, a rejection sends it back to work. Nobody resolves it by hand (a Distribution
    Manager may still release the order, which is audited)."""

    _inherit = "distribution.exception"

    approval_request_id = fields.Many2one(
        "distribution.approval.request",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        help="The last approval request made for this exception.",
    )
    approval_state = fields.Selection(related="approval_request_id.state", string="Approval")

    def action_resolve(self):
        self._check_not_settled_by_approval()
        return super().action_resolve()

    def action_dismiss(self):
        self._check_not_settled_by_approval()
        return super().action_dismiss()

    def _check_not_settled_by_approval(self):
        for exception in self:
            if exception.approval_request_id and exception.is_open:
                raise UserError(
                    self.env._(
                        "%(exception)s is settled by its approval request %(request)s: decide the request, ask for "
                        "approval again from the order, or have a Distribution Manager release the order.",
                        exception=exception.name,
                        request=exception.approval_request_id.name,
                    )
                )

    def _on_resolved(self):
        # A request whose exception closed (its condition cleared, the order was released) has nothing
        # left to decide: withdraw it, so approvers are not asked for nothing.
        pending = self.approval_request_id.filtered(lambda r: r.state == "pending")
        for request in pending:
            request._finish("cancelled", self.env._("The exception it was asked for is closed."))
        return super()._on_resolved()
