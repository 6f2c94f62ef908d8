import contextlib
import contextvars
import logging
import time
import uuid
from datetime import timedelta

import psycopg2
from psycopg2.extensions import TRANSACTION_STATUS_INERROR

from odoo import SUPERUSER_ID
from odoo import api
from odoo import fields
from odoo import models
from odoo import tools
from odoo.exceptions import UserError
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..services import dashboard
from ..services import health
from .distribution_workflow import WINDOWS

_logger = logging.getLogger(__name__)

STATES = [
    ("running", "Running"),
    ("success", "Success"),
    ("failed", "Failed"),
    ("retrying", "Retrying"),
    ("skipped", "Skipped"),
]
# The handle of the innermost tracked unit of this call stack: a nested track() becomes its child and
# shares its correlation id. A context variable, so threads and workers never see each other's.
_CURRENT_RUN = contextvars.ContextVar("distribution_current_run", default=None)
RETENTION_PARAM = "distribution_observability.run_retention_days"
DEFAULT_RETENTION_DAYS = 90


class RunHandle:
    """What a tracked block sees and may set before it ends.

    - ``reason``, ``message``: reason code and text stored on the run (on success as on failure);
    - ``error_kind``: 'business' or 'technical' for a failure (guessed from the exception otherwise);
    - ``fail(reason, message, kind)``: the unit failed without raising (an order put on hold);
    - ``skip(reason)``: nothing had to be done;
    - ``retrying = True``: the failure will be retried (state 'retrying' instead of 'failed');
    - ``fail_item(record, reason, message, kind)``: in a batch run, one record failed.

    A batch over records of several companies is tracked as one run per company (``runs``), so that
    the users of one company never read the runs, record names or messages of another; ``run`` is
    the run of the context's company when the batch has one, else the first. ``reason`` and
    ``message`` go on every run of the batch: a block tracking several companies at once keeps them
    free of any one record's data (counts, codes), or tracks each company's records on their own.
    """

    __slots__ = ("_outcome", "correlation_id", "error_kind", "message", "reason", "retrying", "run", "runs")

    def __init__(self, runs, correlation_id, primary=None):
        self.runs = runs
        self.run = primary or runs[:1]
        self.correlation_id = correlation_id
        self.reason = None
        self.message = None
        self.error_kind = None
        self.retrying = False
        self._outcome = "success"

    def fail(self, reason, message=None, kind="business"):
        self._outcome, self.reason, self.message, self.error_kind = "failed", reason, message, kind

    def skip(self, reason=None, message=None):
        self._outcome, self.reason, self.message = "skipped", reason, message

    def run_for(self, company):
        """The run of the batch that belongs to ``company`` (the main run when it has none)."""
        return self.runs.filtered(lambda run: run.company_id == company)[:1] or self.run

    def fail_item(self, record, reason, message=None, kind="business"):
        """Record the failure of one record of a batch run, as a child run pointing at it, in the record's
        own company (a batch of several companies must not stamp one company's failures on another)."""
        company = record.company_id[:1] if "company_id" in record._fields else record.env["res.company"]
        parent = self.run_for(company) if company else self.run
        return parent.create(
            {
                "workflow_id": parent.workflow_id.id,
                "parent_id": parent.id,
                "res_model": record._name,
                "res_id": record.id,
                "state": "failed",
                "error_kind": kind,
                "reason": reason,
                "message": message,
                "started_at": fields.Datetime.now(),
                "duration_ms": 0,
                "correlation_id": self.correlation_id,
                "company_id": (company or parent.company_id).id,
            }
        )


class DistributionWorkflowRun(models.Model):
    """One execution of a workflow on a record (or a batch of records): state, timing, reason code."""

    _name = "distribution.workflow.run"
    _description = "Workflow Run"
    _order = "started_at desc, id desc"

    # Indexes: see init(); the composite ones serve workflow and state lookups too, and every extra
    # index is paid on each tracked unit.
    workflow_id = fields.Many2one("distribution.workflow", required=True, ondelete="cascade")
    state = fields.Selection(STATES, required=True, default="running")
    error_kind = fields.Selection([("business", "Business"), ("technical", "Technical")])
    reason = fields.Char("Reason Code")
    message = fields.Text()
    res_model = fields.Char("Document Model")
    res_id = fields.Many2oneReference("Document ID", model_field="res_model")
    record_ref = fields.Reference(selection="_selection_record_ref", string="Document", compute="_compute_record_ref")
    record_count = fields.Integer(default=1, help="Records handled by this run (batch runs handle several).")
    started_at = fields.Datetime(required=True, default=fields.Datetime.now)
    duration_ms = fields.Integer("Duration (ms)")
    attempt = fields.Integer(default=1)
    correlation_id = fields.Char(index=True, help="Shared by the runs of one business flow, across workflows.")
    parent_id = fields.Many2one("distribution.workflow.run", "Parent Run", index="btree_not_null", ondelete="cascade")
    child_ids = fields.One2many("distribution.workflow.run", "parent_id", "Nested Runs")
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)

    def init(self):
        # The dashboard, KPIs and retention read time windows: one index per access path.
        tools.create_index(
            self._cr, "distribution_workflow_run_started_wf_idx", self._table, ["started_at", "workflow_id", "state"]
        )
        tools.create_index(
            self._cr, "distribution_workflow_run_wf_started_idx", self._table, ["workflow_id", "started_at"]
        )
        # The runs of a document (its smart button, the links from other addons).
        tools.create_index(
            self._cr,
            "distribution_workflow_run_document_idx",
            self._table,
            ["res_model", "res_id"],
            where="res_model IS NOT NULL",
        )

    @api.model
    def _selection_record_ref(self):
        return [(model.model, model.name) for model in self.env["ir.model"].sudo().search([])]

    @api.depends("res_model", "res_id")
    def _compute_record_ref(self):
        for run in self:
            valid = run.res_model in self.env and run.res_id
            run.record_ref = f"{run.res_model},{run.res_id}" if valid else False

    @api.depends("workflow_id", "started_at")
    def _compute_display_name(self):
        for run in self:
            run.display_name = f"{run.workflow_id.name or ''} #{run.id or ''}"

    # -- tracking API --------------------------------------------------------------------------
    @api.model
    @contextlib.contextmanager
    def track(self, workflow_code, records=None, correlation_id=None, attempt=1):
        """Track one unit of work of a workflow: ``with Run.track("order_validation", order) as run:``.

        One INSERT when the block starts (the run is 'running') and one UPDATE when it ends
        (success, skipped, or failed through ``run.fail()``). When the block raises, the failure is
        written through a separate cursor, so that it survives the rollback of the business
        transaction, and the exception is re-raised. ``records`` may hold several records: that is
        the batch form, one run for the batch of each company (see ``RunHandle.fail_item`` for the
        failing ones, which carry their own record's company).
        A track() inside another becomes its child and shares its correlation id.
        """
        workflow = self.env["distribution.workflow"]._get_by_code(workflow_code)
        parent = _CURRENT_RUN.get()
        if parent is not None and parent.run.env.cr is not self.env.cr:
            parent = None  # a run of another transaction (a cursor opened inside the block) is no parent
        correlation_id = correlation_id or (parent and parent.correlation_id) or uuid.uuid4().hex
        groups = self._track_groups(records)
        vals_list = []
        for company, group in groups:
            parent_run = parent.run_for(company) if parent else None
            vals_list.append(
                {
                    "workflow_id": workflow.id,
                    "state": "running",
                    "res_model": records._name if records is not None else False,
                    "res_id": group.id if group is not None and len(group) == 1 else False,
                    "record_count": len(group) if group is not None else 1,
                    "started_at": fields.Datetime.now(),
                    "attempt": attempt,
                    "correlation_id": correlation_id,
                    "parent_id": parent_run.id if parent_run else False,
                    "company_id": company.id,
                }
            )
        # sudo: the run log belongs to the system; every user's business action is tracked, whatever
        # their rights on the log (they may only read it when they hold a Distribution role).
        runs = self.sudo().create(vals_list)
        primary = runs.filtered(lambda run: run.company_id == self.env.company)[:1] or runs[:1]
        handle = RunHandle(runs, correlation_id, primary)
        token = _CURRENT_RUN.set(handle)
        start = time.perf_counter()
        try:
            yield handle
        except Exception as exc:
            duration = round((time.perf_counter() - start) * 1000)
            business = isinstance(exc, UserError | ValidationError)
            failure = {
                "state": "retrying" if handle.retrying else "failed",
                "error_kind": handle.error_kind or ("business" if business else "technical"),
                "reason": handle.reason or type(exc).__name__,
                "message": handle.message or str(exc)[:2000],
                "duration_ms": duration,
            }
            self._record_failure_outside_transaction([dict(vals, **failure) for vals in vals_list], runs)
            raise
        else:
            runs.write(
                {
                    "state": handle._outcome,
                    "reason": handle.reason,
                    "message": handle.message,
                    "error_kind": handle.error_kind if handle._outcome == "failed" else False,
                    "duration_ms": round((time.perf_counter() - start) * 1000),
                }
            )
        finally:
            _CURRENT_RUN.reset(token)

    @api.model
    def _track_groups(self, records):
        """(company, records of that company) pairs of a tracked unit, one per company: the run of a
        batch that spans several companies is split so that each company's users see only their own.
        Records without a company (or none at all) are tracked in the company of the context."""
        if records is None or "company_id" not in records._fields or len(records.company_id) <= 1:
            company = records.company_id[:1] if records is not None and "company_id" in records._fields else None
            return [(company or self.env.company, records)]
        groups = {}
        for record in records:
            groups.setdefault(record.company_id or self.env.company, []).append(record.id)
        return [(company, records.browse(ids)) for company, ids in groups.items()]

    def _record_failure_outside_transaction(self, vals_list, runs):
        """Write the failed runs (one per company of the unit) through their own cursor, then drop the
        'running' rows of the failing transaction when that one can still take a query (else its
        rollback drops them)."""
        alive = self.env.cr._cnx.info.transaction_status != TRANSACTION_STATUS_INERROR
        try:
            with self.env.registry.cursor() as cr:
                # The user may have been created by the failing transaction, unknown to other connections.
                cr.execute(SQL("SELECT id FROM res_users WHERE id = %s", self.env.uid))
                uid = self.env.uid if cr.fetchone() else SUPERUSER_ID
                for vals in vals_list:
                    row = dict(vals, parent_id=None)  # the parent may be uncommitted: the correlation id links them
                    columns = list(row)
                    # Raw SQL: a single INSERT on a fresh cursor, without the ORM's defaults and caches that
                    # would read the (possibly uncommitted) records of the failing transaction.
                    cr.execute(
                        SQL(
                            "INSERT INTO %s (%s, create_uid, write_uid, create_date, write_date)"
                            " VALUES (%s, %s, %s, now() at time zone 'UTC', now() at time zone 'UTC')",
                            SQL.identifier(self._table),
                            SQL(", ").join(SQL.identifier(column) for column in columns),
                            SQL(", ").join(None if row[column] is False else row[column] for column in columns),
                            uid,
                            uid,
                        )
                    )
        except psycopg2.Error as exc:
            # Never hide the business error behind a logging error; the server log keeps the failure.
            _logger.warning(
                "Could not record the failed run of workflow %s (%s) outside the transaction: %s",
                vals_list[0]["workflow_id"],
                vals_list[0].get("reason"),
                exc.pgerror,
            )
        if alive:
            # Raw SQL: one statement, no ORM bookkeeping on a transaction that is failing anyway.
            self.env.cr.execute(SQL("DELETE FROM %s WHERE id IN %s", SQL.identifier(self._table), tuple(runs.ids)))
            runs.invalidate_recordset()

    # -- figures ------------------------------------------------------------------------------
    @api.model
    def _company_ids(self):
        return self.env.companies.ids

    @api.model
    def _kpis(self, window="24h", workflow_ids=None, since=None):
        """Per workflow over a window (or since a given time): runs, success/failure counts, success
        rate, retries, business and technical failures, p50/p95 duration. One grouped query."""
        since = since or fields.Datetime.now() - timedelta(hours=WINDOWS[window])
        # Raw SQL: percentiles are not available through _read_group.
        query = SQL(
            """
            SELECT workflow_id,
                   count(*) AS runs,
                   count(*) FILTER (WHERE state = 'success') AS success,
                   count(*) FILTER (WHERE state = 'failed') AS failed,
                   count(*) FILTER (WHERE state = 'retrying' OR attempt > 1) AS retries,
                   count(*) FILTER (WHERE state = 'failed' AND error_kind = 'business') AS business,
                   count(*) FILTER (WHERE state = 'failed' AND error_kind = 'technical') AS technical,
                   count(*) FILTER (WHERE state = 'skipped') AS skipped,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)
                       FILTER (WHERE state != 'running') AS p50,
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)
                       FILTER (WHERE state != 'running') AS p95
              FROM distribution_workflow_run
             WHERE started_at >= %s AND company_id IN %s AND parent_id IS NULL %s
          GROUP BY workflow_id
            """,
            since,
            tuple(self._company_ids()) or (0,),
            SQL("AND workflow_id IN %s", tuple(workflow_ids) or (0,)) if workflow_ids is not None else SQL(),
        )
        self.env["distribution.workflow.run"].flush_model()
        self.env.cr.execute(query)
        result = {}
        for row in self.env.cr.dictfetchall():
            finished = row["success"] + row["failed"]
            row["success_rate"] = round(100.0 * row["success"] / finished, 2) if finished else None
            row["failure_rate"] = round(100.0 * row["failed"] / finished, 2) if finished else None
            result[row.pop("workflow_id")] = row
        return result

    @api.model
    @api.readonly
    def get_dashboard_data(self, period=dashboard.DEFAULT_PERIOD):
        """Everything the dashboard shows for a period ('1h', '24h' or '7d'), from grouped reads over the
        companies of the context: tiles, chart, workflow table (runs since the start of the chart's first
        slot, see services/dashboard), the health of each workflow (its failure rate over the last hour,
        whatever the period), queues, and the getting-started checklist of the current company.

        Read-only (``@api.readonly``): the web client's call runs on the streaming replica when the server
        has one, so neither this method nor an override may write (a write would be retried on the primary)."""
        try:
            spec = dashboard.get_period(period)
        except ValueError:
            raise UserError(
                self.env._(
                    "The dashboard has no period %(period)s: choose one of %(periods)s.",
                    period=str(period)[:20],
                    periods=", ".join(dashboard.PERIODS),
                )
            ) from None
        self.check_access("read")  # the figures below are read with SQL, which checks no access right
        now = fields.Datetime.now()
        # Days are cut at the user's midnight (the web client sends its time zone in the context).
        tz = (self.env.context.get("tz") or self.env.user.tz or "UTC") if spec.granularity == "day" else "UTC"
        slots = dashboard.slot_starts(spec, now, tz)
        since = slots[0]
        kpis = self._kpis(since=since)
        kpis_1h = self._kpis("1h")
        workflows = []
        for workflow in self.env["distribution.workflow"].search([]):
            figures = kpis.get(workflow.id, {})
            recent = kpis_1h.get(workflow.id, {})
            workflows.append(
                {
                    "id": workflow.id,
                    "code": workflow.code,
                    "name": workflow.name,
                    "runs": figures.get("runs", 0),
                    "success_rate": figures.get("success_rate"),
                    "failed": figures.get("failed", 0),
                    "business": figures.get("business", 0),
                    "technical": figures.get("technical", 0),
                    "retries": figures.get("retries", 0),
                    "p50_ms": figures.get("p50"),
                    "p95_ms": figures.get("p95"),
                    "expected_ms": workflow.expected_duration_ms,
                    "level": health.level(
                        recent.get("failure_rate"), workflow.failure_rate_warning, workflow.failure_rate_critical
                    ),
                }
            )
        per_slot = self._dashboard_slot_counts(slots)
        alerts = dict(
            self.env["distribution.alert.incident"]._read_group([("state", "=", "open")], ["severity"], ["__count"])
        )
        # Tiles add up every workflow's runs, archived ones included, like the success rate.
        runs = sum(f["runs"] for f in kpis.values())
        finished = sum(f["success"] + f["failed"] for f in kpis.values())
        success = sum(f["success"] for f in kpis.values())
        return {
            "generated_at": fields.Datetime.to_string(now),
            "period": spec.key,
            "since": fields.Datetime.to_string(since),
            "tiles": {
                "runs": runs,
                "success_rate": round(100.0 * success / finished, 2) if finished else None,
                "business_failures": sum(f["business"] for f in kpis.values()),
                "technical_failures": sum(f["technical"] for f in kpis.values()),
                "open_alerts": sum(alerts.values()),
                "open_critical_alerts": alerts.get("critical", 0),
            },
            "chart": {
                # Slot starts in UTC: the client labels them in the user's time zone.
                "granularity": spec.granularity,
                "slots": [fields.Datetime.to_string(start) for start in slots],
                "days": dashboard.local_dates(slots, tz) if spec.granularity == "day" else [],
                "runs": [per_slot.get(index, (0, 0))[0] for index in range(len(slots))],
                "failures": [per_slot.get(index, (0, 0))[1] for index in range(len(slots))],
            },
            "workflows": workflows,
            "queues": self.env["distribution.queue.monitor"].search([])._summary(),
            "checklist": self.env["distribution.onboarding"]._get_checklist(),
        }

    @api.model
    def _dashboard_slot_counts(self, slots):
        """{slot index: (runs, failed runs)} of the top-level runs started since ``slots[0]`` in the
        companies of the context, ``slots`` being the sorted starts of the chart's slots (UTC)."""
        self.flush_model(["started_at", "state", "parent_id", "company_id"])
        # Raw SQL: slots of five minutes, or days of the user's time zone, are no _read_group granularity;
        # width_bucket() puts each run in its slot (1 for the first) in the same statement.
        self.env.cr.execute(
            SQL(
                """
                SELECT width_bucket(started_at, %s::timestamp[]) AS slot,
                       count(*),
                       count(*) FILTER (WHERE state = 'failed')
                  FROM distribution_workflow_run
                 WHERE started_at >= %s AND company_id IN %s AND parent_id IS NULL
              GROUP BY 1
                """,
                list(slots),
                slots[0],
                tuple(self._company_ids()) or (0,),
            )
        )
        return {slot - 1: (runs, failures) for slot, runs, failures in self.env.cr.fetchall()}

    @api.model
    def _distribution_crons(self):
        """Scheduled actions shipped by the Distribution addons, as (xml id, cron) pairs."""
        # sudo: the list of scheduled actions is technical data the health check reports on.
        data = (
            self.env["ir.model.data"].sudo().search([("model", "=", "ir.cron"), ("module", "=like", "distribution_%")])
        )
        crons = self.env["ir.cron"].sudo().with_context(active_test=False).browse(data.mapped("res_id")).exists()
        by_id = {cron.id: cron for cron in crons}
        return [(d.complete_name, by_id[d.res_id]) for d in data if d.res_id in by_id]

    @api.model
    def _health_checks(self):
        """One check per monitored queue, workflow (failure rate in the last hour) and scheduled action."""
        checks = []
        for queue in self.env["distribution.queue.monitor"].search([])._summary():
            checks.append(
                {
                    "type": "queue",
                    "code": queue["code"],
                    "name": queue["name"],
                    "level": queue["level"],
                    "backlog": queue["backlog"],
                    "oldest_age_hours": queue["oldest_age_hours"],
                }
            )
        kpis = self._kpis("1h")
        for workflow in self.env["distribution.workflow"].search([]):
            figures = kpis.get(workflow.id, {})
            rate = figures.get("failure_rate")
            checks.append(
                {
                    "type": "workflow",
                    "code": workflow.code,
                    "name": workflow.name,
                    "level": health.level(rate, workflow.failure_rate_warning, workflow.failure_rate_critical),
                    "runs_1h": figures.get("runs", 0),
                    "failure_rate_1h": rate,
                }
            )
        for xmlid, cron in self._distribution_crons():
            level = health.CRITICAL if not cron.active else health.level(cron.failure_count, 1, 3)
            checks.append(
                {
                    "type": "scheduled_action",
                    "code": xmlid,
                    "name": cron.name,
                    "level": level,
                    "active": cron.active,
                    "failure_count": cron.failure_count,
                }
            )
        return checks

    @api.model
    def _metric_families(self):
        """Prometheus metric families over the companies of the context."""
        since = fields.Datetime.now() - timedelta(hours=24)
        workflows = {w.id: w.code for w in self.env["distribution.workflow"].with_context(active_test=False).search([])}
        runs = self._read_group(
            [("started_at", ">=", since), ("parent_id", "=", False), ("company_id", "in", self._company_ids())],
            ["workflow_id", "state"],
            ["__count"],
        )
        kpis = self._kpis("24h")
        queues = self.env["distribution.queue.monitor"].search([])._summary()
        alerts = dict(
            self.env["distribution.alert.incident"]._read_group([("state", "=", "open")], ["severity"], ["__count"])
        )
        return [
            (
                "distribution_workflow_runs",
                "gauge",
                "Workflow runs started in the last 24 hours, by state.",
                [({"workflow": workflow.code, "state": state}, count) for workflow, state, count in runs],
            ),
            (
                "distribution_workflow_failures",
                "gauge",
                "Failed workflow runs in the last 24 hours, by kind.",
                [
                    ({"workflow": workflows.get(wid, str(wid)), "kind": kind}, figures[kind])
                    for wid, figures in kpis.items()
                    for kind in ("business", "technical")
                ],
            ),
            (
                "distribution_workflow_duration_ms",
                "gauge",
                "Duration of workflow runs in the last 24 hours.",
                [
                    ({"workflow": workflows.get(wid, str(wid)), "quantile": q}, figures[key] or 0.0)
                    for wid, figures in kpis.items()
                    for q, key in (("0.5", "p50"), ("0.95", "p95"))
                ],
            ),
            (
                "distribution_queue_backlog",
                "gauge",
                "Items waiting in a monitored queue.",
                [({"queue": q["code"]}, q["backlog"]) for q in queues],
            ),
            (
                "distribution_queue_oldest_age_seconds",
                "gauge",
                "Age of the oldest item of a monitored queue.",
                [({"queue": q["code"]}, round(q["oldest_age_hours"] * 3600)) for q in queues],
            ),
            (
                "distribution_alerts_open",
                "gauge",
                "Open alert incidents, by severity.",
                [({"severity": severity}, alerts.get(severity, 0)) for severity in ("warning", "critical")],
            ),
        ]

    # -- retention ------------------------------------------------------------------------------
    @api.model
    def _retention_days(self):
        value = self.env["ir.config_parameter"].sudo().get_param(RETENTION_PARAM, DEFAULT_RETENTION_DAYS)
        try:
            return max(int(value), 1)
        except ValueError:
            return DEFAULT_RETENTION_DAYS

    @api.model
    def _cron_purge_runs(self, batch_size=10000):
        """Delete one batch of successful (and skipped) runs older than the retention, failures after
        twice as long. Rows are locked with SKIP LOCKED, so several workers may share the work; the
        cron runner calls again while a full batch tells that more remain."""
        days = self._retention_days()
        now = fields.Datetime.now()
        # Raw SQL: a bounded DELETE of locked rows has no ORM equivalent; runs own nothing that Python
        # would have to cascade (nested runs go with ON DELETE CASCADE). The batch is a materialized CTE:
        # as an IN (subquery) the planner may scan the LIMIT subquery again and delete more than a batch.
        self.env.cr.execute(
            SQL(
                """
            WITH batch AS MATERIALIZED (
                SELECT id FROM distribution_workflow_run
                 WHERE (state IN ('success', 'skipped') AND started_at < %s)
                    OR (state IN ('failed', 'retrying', 'running') AND started_at < %s)
                 LIMIT %s FOR UPDATE SKIP LOCKED
            )
            DELETE FROM distribution_workflow_run run USING batch WHERE run.id = batch.id
            """,
                now - timedelta(days=days),
                now - timedelta(days=2 * days),
                batch_size,
            )
        )
        deleted = self.env.cr.rowcount
        self.invalidate_model()
        self.env["ir.cron"]._notify_progress(done=deleted, remaining=1 if deleted == batch_size else 0)
        return deleted
