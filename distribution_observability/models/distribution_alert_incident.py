from odoo import api
from odoo import fields
from odoo import models


class DistributionAlertIncident(models.Model):
    """An alert rule that tripped: open while the metric breaches, resolved when it recovers."""

    _name = "distribution.alert.incident"
    _description = "Alert Incident"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "opened_at desc, id desc"

    name = fields.Char(related="rule_id.name")
    rule_id = fields.Many2one("distribution.alert.rule", required=True, index=True, ondelete="cascade")
    metric = fields.Selection(related="rule_id.metric", store=True)
    severity = fields.Selection([("warning", "Warning"), ("critical", "Critical")], required=True, tracking=True)
    state = fields.Selection(
        [("open", "Open"), ("resolved", "Resolved")], default="open", required=True, index=True, tracking=True
    )
    opened_at = fields.Datetime(default=fields.Datetime.now, required=True)
    resolved_at = fields.Datetime()
    value = fields.Float(help="Value of the metric when the incident opened (updated while it stays open).")
    resolved_value = fields.Float()
    threshold = fields.Float()
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)

    def init(self):
        # At most one open incident per rule, whatever the number of workers evaluating.
        self.env.cr.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS distribution_alert_incident_one_open_idx "
            "ON distribution_alert_incident (rule_id) WHERE state = 'open'"
        )

    @api.depends("rule_id", "opened_at")
    def _compute_display_name(self):
        for incident in self:
            incident.display_name = f"{incident.rule_id.name or ''} ({incident.opened_at or ''})"

    def _notify(self):
        """One post in the channel, a notification to the recipients, one activity for the owner."""
        for incident in self:
            rule = incident.rule_id
            body = rule._message(incident.value)
            incident.message_post(
                body=body,
                partner_ids=rule.user_ids.partner_id.ids,
                message_type="notification",
                subtype_xmlid="mail.mt_comment",
            )
            channel = rule._channel()
            if channel:
                # sudo: the cron posts as the system in a channel it may not be a member of.
                channel.sudo().message_post(body=body, message_type="comment", subtype_xmlid="mail.mt_comment")
            if rule.owner_id:
                incident.activity_schedule(
                    "mail.mail_activity_data_todo",
                    user_id=rule.owner_id.id,
                    summary=self.env._("Alert: %s", rule.name),
                )

    def _resolve(self, value):
        self.write({"state": "resolved", "resolved_at": fields.Datetime.now(), "resolved_value": value or 0.0})
        self.activity_ids.action_feedback(feedback=self.env._("The metric recovered."))
