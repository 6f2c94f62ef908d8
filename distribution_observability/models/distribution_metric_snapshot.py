from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo import tools

METRICS = [
    ("workflow_runs", "Workflow runs"),
    ("workflow_failures", "Workflow failures"),
    ("workflow_success_rate", "Workflow success rate (%)"),
    ("workflow_p95_ms", "Workflow p95 duration (ms)"),
    ("queue_backlog", "Queue backlog"),
    ("queue_oldest_age_hours", "Queue oldest age (h)"),
    ("alerts_open", "Open alerts"),
]


class DistributionMetricSnapshot(models.Model):
    """One value of one metric for one hour: the compact history behind trends."""

    _name = "distribution.metric.snapshot"
    _description = "Metric Snapshot"
    _order = "period_start desc, metric"
    _rec_name = "metric"

    metric = fields.Selection(METRICS, required=True, index=True)
    period_start = fields.Datetime(required=True, index=True, help="Start of the hour the value covers.")
    value = fields.Float(required=True, aggregator="avg")
    workflow_id = fields.Many2one("distribution.workflow", ondelete="cascade", index="btree_not_null")
    queue_id = fields.Many2one("distribution.queue.monitor", ondelete="cascade", index="btree_not_null")
    company_id = fields.Many2one("res.company", index=True, help="Empty for figures over every company.")

    def init(self):
        # One row per metric, subject and hour: a second run of the hourly job changes nothing.
        tools.create_unique_index(
            self._cr,
            "distribution_metric_snapshot_unique_idx",
            self._table,
            ["metric", "period_start", "COALESCE(workflow_id, 0)", "COALESCE(queue_id, 0)", "COALESCE(company_id, 0)"],
        )

    @api.model
    def _cron_take_snapshots(self):
        """Store the figures of the last complete hour (idempotent: an hour already taken is skipped)."""
        now = fields.Datetime.now()
        hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        if self.search_count([("period_start", "=", hour)], limit=1):
            return 0
        # Raw SQL: runs of one hour grouped by workflow and company, with a percentile.
        self.env["distribution.workflow.run"].flush_model()
        self.env.cr.execute(
            tools.SQL(
                """
            SELECT workflow_id, company_id, count(*),
                   count(*) FILTER (WHERE state = 'failed'),
                   count(*) FILTER (WHERE state = 'success'),
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE state != 'running')
              FROM distribution_workflow_run
             WHERE started_at >= %s AND started_at < %s AND parent_id IS NULL
          GROUP BY workflow_id, company_id
            """,
                hour,
                hour + timedelta(hours=1),
            )
        )
        vals_list = []
        for workflow_id, company_id, runs, failed, success, p95 in self.env.cr.fetchall():
            common = {"period_start": hour, "workflow_id": workflow_id, "company_id": company_id}
            vals_list += [
                dict(common, metric="workflow_runs", value=runs),
                dict(common, metric="workflow_failures", value=failed),
                dict(common, metric="workflow_p95_ms", value=p95 or 0.0),
            ]
            if success + failed:
                rate = 100.0 * success / (success + failed)
                vals_list.append(dict(common, metric="workflow_success_rate", value=rate))
        # A queue is counted per company and stored with it: a shared monitor's figures over every company
        # would show one company's backlog to another's users (the snapshots' record rule is per company).
        all_companies = self.env["res.company"].search([])
        for monitor in self.env["distribution.queue.monitor"].search([]):
            for company in monitor.company_id or all_companies:
                queue = monitor.with_context(allowed_company_ids=company.ids)._summary()[0]
                common = {"period_start": hour, "queue_id": queue["id"], "company_id": company.id}
                vals_list += [
                    dict(common, metric="queue_backlog", value=queue["backlog"]),
                    dict(common, metric="queue_oldest_age_hours", value=queue["oldest_age_hours"]),
                ]
        open_alerts = self.env["distribution.alert.incident"]._read_group(
            [("state", "=", "open")], ["company_id"], ["__count"]
        )
        vals_list += [
            {"period_start": hour, "company_id": company.id, "metric": "alerts_open", "value": count}
            for company, count in open_alerts
        ]
        self.create(vals_list)
        return len(vals_list)
