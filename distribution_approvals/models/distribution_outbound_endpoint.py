from odoo import models

from .distribution_audit_mixin import CONFIG_ACTIONS


class DistributionOutboundEndpoint(models.Model):
    """Where the events go is governance configuration: endpoints enter the audit trail. The secret and
    the extra headers (which may carry a token) are recorded as set or changed, never their value."""

    _name = "distribution.outbound.endpoint"
    _inherit = ["distribution.outbound.endpoint", "distribution.audit.mixin"]
    _audit_actions = CONFIG_ACTIONS
    _audit_secret_fields = ("secret", "extra_headers")
