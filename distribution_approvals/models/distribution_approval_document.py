from collections import defaultdict

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import UserError

from .distribution_approval_request import STATES


class DistributionApprovalDocument(models.AbstractModel):
    """What a document governed by approvals offers its users: the Approve / Reject buttons of the request
    waiting for them, and the list of its requests."""

    _name = "distribution.approval.document"
    _description = "Document with Approval Requests"

    distribution_approval_request_ids = fields.Many2many(
        "distribution.approval.request", string="Approval Requests", compute="_compute_distribution_approvals"
    )
    distribution_approval_count = fields.Integer("Approvals", compute="_compute_distribution_approvals")
    distribution_approval_last_id = fields.Many2one(
        "distribution.approval.request", "Last Approval Request", compute="_compute_distribution_approvals"
    )
    distribution_approval_state = fields.Selection(
        STATES, string="Approval Status", compute="_compute_distribution_approvals"
    )
    distribution_approval_last_name = fields.Char(
        "Approval Request Reference", compute="_compute_distribution_approvals"
    )
    distribution_approval_last_comment = fields.Text("Approval Comment", compute="_compute_distribution_approvals")
    distribution_approval_can_decide = fields.Boolean(compute="_compute_distribution_approvals")

    @api.depends_context("uid")
    def _compute_distribution_approvals(self):
        # sudo: the count and the status are shown to whoever sees the document; the list it opens honours
        # the record rules of the requests.
        Request = self.env["distribution.approval.request"].sudo()
        ids = [record_id for record_id in self._origin.ids if record_id]
        requests = Request.search([("res_model", "=", self._name), ("res_id", "in", ids)]) if ids else Request
        by_record = defaultdict(lambda: Request)
        for request in requests:
            by_record[request.res_id] |= request
        user = self.env.user
        for record in self:
            mine = by_record[record._origin.id]
            last = mine[:1]
            record.distribution_approval_request_ids = mine
            record.distribution_approval_count = len(mine)
            record.distribution_approval_last_id = last
            record.distribution_approval_state = last.state
            record.distribution_approval_last_name = last.name
            record.distribution_approval_last_comment = last.decision_comment
            record.distribution_approval_can_decide = any(
                request.state == "pending" and not request._refusal(user) for request in mine
            )

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
