from odoo import fields
from odoo import models

from .distribution_audit_mixin import CONFIG_ACTIONS


class DistributionInboundEndpoint(models.Model):
    """Who may send events in, and what they do, is governance configuration: webhook endpoints enter
    the audit trail. The secret is recorded as set or changed, never its value.

    The handler ``approval_decision``: a collaboration tool (Slack through n8n) posts an approver's decision
    (see ``distribution.inbound.event._handle_approval_decision``)."""

    _name = "distribution.inbound.endpoint"
    _inherit = ["distribution.inbound.endpoint", "distribution.audit.mixin"]
    _audit_actions = CONFIG_ACTIONS
    _audit_secret_fields = ("secret",)

    handler = fields.Selection(
        selection_add=[("approval_decision", "Approval decision")],
        ondelete={"approval_decision": lambda endpoints: endpoints._approval_decision_uninstalled()},
    )

    def _approval_decision_uninstalled(self):
        """Without this addon nobody applies a decision: the endpoints are archived (their events are kept),
        on a handler that exists, so that a forgotten sender is answered 404."""
        self.write({"active": False, "handler": "exception_report"})
