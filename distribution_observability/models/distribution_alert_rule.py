import logging

from markupsafe import Markup

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..services import alerting

_logger = logging.getLogger(__name__)

METRICS = [
    ("workflow_failure_rate", "Workflow failure rate (%)"),
    ("workflow_failures", "Workflow failures (count)"),
    ("queue_backlog", "Queue backlog (items)"),
    ("queue_oldest_age", "Queue oldest item age (h)"),
    ("cron_failing", "Scheduled action failing or deactivated"),
]


class DistributionAlertRule(models.Model):
    """A threshold on a metric: when breached, an incident opens and its recipients hear of it once."""

    _name = "distribution.alert.rule"
    _description = "Alert Rule"
    _order = "name"

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    description = fields.Text(translate=True, help="What the rule watches and why, for whoever tunes it.")
    metric = fields.Selection(METRICS, required=True, default="workflow_failure_rate")
    workflow_id = fields.Many2one(
        "distribution.workflow",
        ondelete="cascade",
        help="Workflow metrics: the workflow watched. Empty: every workflow, the worst one counts.",
    )
    min_runs = fields.Integer(
        "Minimum Runs",
        default=1,
        help="Workflow failure rate: only a workflow with at least this many finished runs in the window "
        "counts, so that one failure out of one run does not page anyone.",
    )
    queue_id = fields.Many2one("distribution.queue.monitor", ondelete="cascade")
    cron_id = fields.Many2one("ir.cron", "Scheduled Action", ondelete="cascade")
    threshold = fields.Float(
        required=True,
        default=1.0,
        help="Trips at or above this value (for a scheduled action: this many consecutive failures).",
    )
    window = fields.Selection(
        [("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days")],
        default="1h",
        required=True,
        help="Period over which workflow metrics are computed.",
    )
    severity = fields.Selection([("warning", "Warning"), ("critical", "Critical")], default="warning", required=True)
    cooldown_minutes = fields.Integer(default=60, help="No second notification of this rule within this delay.")
    owner_id = fields.Many2one("res.users", help="Gets an activity on each incident.")
    user_ids = fields.Many2many("res.users", string="Recipients", help="Notified of each incident.")
    channel_id = fields.Many2one(
        "discuss.channel", "Discuss Channel", help="Each incident is posted here (default: the one set in Settings)."
    )
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company)
    last_value = fields.Float(readonly=True)
    last_evaluated_at = fields.Datetime(readonly=True)
    last_notified_at = fields.Datetime(readonly=True)
    incident_ids = fields.One2many("distribution.alert.incident", "rule_id")
    state = fields.Selection([("ok", "OK"), ("tripped", "Tripped")], compute="_compute_state")

    @api.depends("incident_ids.state")
    def _compute_state(self):
        open_rules = {
            rule.id
            for (rule,) in self.env["distribution.alert.incident"]._read_group(
                [("rule_id", "in", self.ids), ("state", "=", "open")], ["rule_id"]
            )
        }
        for rule in self:
            rule.state = "tripped" if rule.id in open_rules else "ok"

    @api.constrains("metric", "workflow_id", "queue_id", "cron_id")
    def _check_subject(self):
        for rule in self:
            # A workflow rule without a workflow watches them all.
            needed = {"workflow": True, "queue": rule.queue_id, "cron": rule.cron_id}[rule.metric.split("_")[0]]
            if not needed:
                raise ValidationError(
                    self.env._(
                        "Alert rule %(name)s watches %(metric)s: choose the %(subject)s it watches.",
                        name=rule.name,
                        metric=rule.metric,
                        subject=rule.metric.split("_")[0],
                    )
                )

    # -- evaluation -------------------------------------------------------------------------------
    def _measure(self):
        """Current value of the rule's metric, and whether it breaches the threshold."""
        self.ensure_one()
        if self.metric == "cron_failing":
            cron = self.cron_id.sudo().with_context(active_test=False)
            value = cron.failure_count
            return value, (not cron.active) or alerting.breached(value, self.threshold)
        if self.metric.startswith("workflow_"):
            runs = self.env["distribution.workflow.run"].with_context(allowed_company_ids=self.company_id.ids)
            kpis = runs._kpis(self.window, workflow_ids=self.workflow_id.ids if self.workflow_id else None)
            values = [
                figures.get("failure_rate") if self.metric == "workflow_failure_rate" else figures.get("failed", 0)
                for figures in kpis.values()
                if self.metric != "workflow_failure_rate"
                or figures["success"] + figures["failed"] >= max(self.min_runs, 1)
            ]
            value = max((v for v in values if v is not None), default=None)
            return value, alerting.breached(value, self.threshold)
        queue = self.queue_id.with_context(allowed_company_ids=self.company_id.ids)
        figures = queue._figures()
        value = figures["backlog"] if self.metric == "queue_backlog" else figures["oldest_age_hours"]
        if self.metric == "queue_oldest_age" and not figures["backlog"]:
            value = 0.0
        return value, alerting.breached(value, self.threshold)

    def _evaluate(self):
        """Evaluate rules: open, keep or resolve their incident, notify once outside the cooldown."""
        now = fields.Datetime.now()
        Incident = self.env["distribution.alert.incident"]
        for rule in self:
            value, is_breached = rule._measure()
            incident = Incident.search([("rule_id", "=", rule.id), ("state", "=", "open")], limit=1)
            action = alerting.decide(is_breached, bool(incident), rule.last_notified_at, rule.cooldown_minutes, now)
            rule.write({"last_value": value or 0.0, "last_evaluated_at": now})
            if action in (alerting.OPEN_AND_NOTIFY, alerting.OPEN_SILENTLY):
                incident = Incident.create(
                    {
                        "rule_id": rule.id,
                        "value": value or 0.0,
                        "threshold": rule.threshold,
                        "severity": rule.severity,
                        "company_id": rule.company_id.id,
                    }
                )
                if action == alerting.OPEN_AND_NOTIFY:
                    incident._notify()
                    rule.last_notified_at = now
            elif action == alerting.KEEP:
                incident.value = value or 0.0
            elif action == alerting.RESOLVE:
                incident._resolve(value)

    @api.model
    def _cron_evaluate(self):
        """Evaluate every active rule. Rules are locked with SKIP LOCKED, so a rule is never evaluated
        twice at once (two workers, or the button while the job runs)."""
        # Raw SQL: row locks with SKIP LOCKED are not available through the ORM.
        self.env.cr.execute(
            SQL("SELECT id FROM distribution_alert_rule WHERE active ORDER BY id FOR NO KEY UPDATE SKIP LOCKED")
        )
        rules = self.browse([row[0] for row in self.env.cr.fetchall()])
        with self.env["distribution.workflow.run"].track("alert_evaluation", rules) as run:
            rules._evaluate()
            run.message = self.env._("%s rules evaluated", len(rules))
        self.env["ir.cron"]._notify_progress(done=len(rules), remaining=0)

    def action_evaluate(self):
        """Button: evaluate these rules now."""
        self._evaluate()
        return True

    def _channel(self):
        self.ensure_one()
        if self.channel_id:
            return self.channel_id
        # sudo: the default channel is a system setting every rule may use.
        param = self.env["ir.config_parameter"].sudo().get_param("distribution_observability.alert_channel_id")
        return self.env["discuss.channel"].browse(int(param)).exists() if param and param.isdigit() else None

    def _message(self, value):
        self.ensure_one()
        subject = self.workflow_id.name or self.queue_id.name or self.cron_id.name
        if not subject and self.metric.startswith("workflow_"):
            subject = self.env._("worst workflow")
        return Markup("<b>%s</b> (%s): %s = %s, threshold %s") % (
            self.name,
            dict(self._fields["severity"].selection)[self.severity],
            subject,
            round(value or 0.0, 2),
            self.threshold,
        )
