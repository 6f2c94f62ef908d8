from odoo import fields
from odoo import models

from .distribution_workflow_run import DEFAULT_RETENTION_DAYS
from .distribution_workflow_run import RETENTION_PARAM


class ResConfigSettings(models.TransientModel):
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
