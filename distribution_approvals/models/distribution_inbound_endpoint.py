from odoo import models

from .distribution_audit_mixin import CONFIG_ACTIONS


class DistributionInboundEndpoint(models.Model):
    """Who may send events in, and what they do, is governance configuration: webhook endpoints enter
    the audit trail. The secret is recorded as set or changed, never its value."""

    _name = "distribution.inbound.endpoint"
    _inherit = ["distribution.inbound.endpoint", "distribution.audit.mixin"]
    _audit_actions = CONFIG_ACTIONS
    _audit_secret_fields = ("secret",)
