from odoo import models

from .distribution_audit_mixin import CONFIG_ACTIONS


class DistributionExceptionRoute(models.Model):
    """Exception routing is governance configuration: who works which exceptions enters the audit trail
    (created, changed with old and new values, deleted)."""

    _name = "distribution.exception.route"
    _inherit = ["distribution.exception.route", "distribution.audit.mixin"]
    _audit_actions = CONFIG_ACTIONS
