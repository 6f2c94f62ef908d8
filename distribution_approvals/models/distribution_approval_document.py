from odoo import models
from odoo.exceptions import UserError


class DistributionApprovalDocument(models.AbstractModel):
    """What a document governed by approvals offers its users: the Approve / Reject buttons of the request
    waiting for them, and the list of its requests."""

    _name = "distribution.approval.document"
    _description = "Document with Approval Requests"

    def _distribution_request_to_decide(self):
        """The pending request of this document the current user may decide."""
        self.ensure_one()
        requests = self.env["distribution.approval.request"].search(
            [("res_model", "=", self._name), ("res_id", "=", self.id), ("state", "=", "pending")]
        )
        for request in requests:
            if not request._refusal(self.env.user):
                return request
        raise UserError(self.env._("Nothing on %s waits for your decision.", self.display_name))

    def action_distribution_approve(self):
        """Button for approvers: approve the pending request of the document (comment wizard)."""
        return self._distribution_request_to_decide().action_approve()

    def action_distribution_reject(self):
        """Button for approvers: reject the pending request of the document (comment wizard)."""
        return self._distribution_request_to_decide().action_reject()

    def action_open_distribution_approvals(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_approvals.distribution_approval_request_action"
        )
        action["domain"] = [("res_model", "=", self._name), ("res_id", "=", self.id)]
        action["context"] = {}
        return action
