from odoo import fields
from odoo import models
from odoo.exceptions import UserError


class DistributionException(models.Model):
    """An exception raised by a rule that requires approval is settled by its approval request: the
    approval resolves it, a rejection sends it back to work. Nobody resolves or dismisses it by hand (a
    Distribution Manager may still release the order, which is audited), except a vendor's announced lead
    time once its request is decided: there is no order to release."""

    _inherit = "distribution.exception"

    state = fields.Selection(
        selection_add=[("waiting_approval", "Waiting Approval"), ("resolved",)],
        ondelete={"waiting_approval": lambda exceptions: exceptions._reopen()},
    )
    approval_request_id = fields.Many2one(
        "distribution.approval.request",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        help="The last approval request made for this exception.",
    )
    approval_state = fields.Selection(related="approval_request_id.state", string="Approval")

    def _distribution_guarded_fields(self):
        # The link to the request is what settles the exception: only the approval's own code writes it.
        return dict(super()._distribution_guarded_fields(), approval_request_id="distribution_exception")

    def _check_closable_by_hand(self):
        result = super()._check_closable_by_hand()
        for exception in self:
            if exception._closable_after_decision():
                continue
            if exception.approval_request_id or exception.rule_id.outcome == "approval":
                raise UserError(
                    self.env._(
                        "%(exception)s is settled by its approval request %(request)s: decide the request, ask for "
                        "approval again from the order, or have a Distribution Manager release the order.",
                        exception=exception.name,
                        request=exception.approval_request_id.name or "-",
                    )
                )
        return result

    def _closable_after_decision(self):
        """Whether a person may close the exception by hand although a request is linked: a vendor's
        announced lead time, once its request is decided (rejected, withdrawn, or approved on a plan that
        changed since) has no other way out; while the request is pending, the request settles it."""
        self.ensure_one()
        # sudo: the request's type and state decide, whoever closes the exception.
        request = self.sudo().approval_request_id
        return (
            self.reason_code == "supplier_lead_time_announced"
            and request.request_type == "lead_time_change"
            and request.state != "pending"
        )

    def _link_approval_request(self, request, note=None):
        """Verb: ``request`` is the one that settles the exception; ``note`` (what the request asks) is added
        to the exception's message."""
        vals = {"approval_request_id": request.id}
        for exception in self:
            if note:
                vals["message"] = "\n\n".join(part for part in (exception.message, note) if part)
            exception._write_as_system(vals)

    def _on_closed_by_hand(self, state):
        result = super()._on_closed_by_hand(state)
        Audit = self.env["distribution.audit.entry"]
        for exception in self.filtered("blocking"):
            Audit._append(
                "exception_closed",
                exception,
                {
                    "exception": exception.name,
                    "state": state,
                    "category": exception.category,
                    "document": exception.record_ref.display_name if exception.record_ref else None,
                    "note": exception.resolution_note,
                },
                company=exception.company_id,
            )
        return result

    def _on_resolved(self):
        # A request whose exception closed (its condition cleared, the order was released) has nothing
        # left to decide: withdraw it, so approvers are not asked for nothing.
        pending = self.approval_request_id.filtered(lambda r: r.state == "pending")
        for request in pending:
            request._finish("cancelled", self.env._("The exception it was asked for is closed."))
        return super()._on_resolved()
