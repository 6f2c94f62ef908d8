from odoo import api
from odoo import fields
from odoo import models

from .distribution_workflow_run import DEFAULT_RETENTION_DAYS
from .distribution_workflow_run import RETENTION_PARAM


class ResConfigSettings(models.TransientModel):
    """Run retention and the default alert channel, and what is in force: the active alert rules of the
    company (with a link to them)."""

    _inherit = "res.config.settings"

    distribution_run_retention_days = fields.Integer(
        "Run Retention (days)",
        config_parameter=RETENTION_PARAM,
        default=DEFAULT_RETENTION_DAYS,
        help="Successful runs older than this are deleted; failed runs are kept twice as long.",
    )
    distribution_alert_channel_id = fields.Many2one(
        "discuss.channel",
        "Default Alert Channel",
        config_parameter="distribution_observability.alert_channel_id",
        help="Alert rules without a channel of their own post here.",
    )
    distribution_alert_rule_count = fields.Integer(compute="_compute_distribution_alert_rule_count")

    @api.depends("company_id")
    def _compute_distribution_alert_rule_count(self):
        # sudo: a count shown to the administrator, whatever their Distribution role; nothing else is read.
        Rule = self.env["distribution.alert.rule"].sudo()
        for settings in self:
            settings.distribution_alert_rule_count = Rule.search_count([("company_id", "=", settings.company_id.id)])
