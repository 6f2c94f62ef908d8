from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tests.common import TransactionCase


def _create_runs(env, workflow, specs, now=None):
    """Runs of a workflow from (state, error_kind, hours ago, duration ms) tuples."""
    now = now or fields.Datetime.now()
    return (
        env["distribution.workflow.run"]
        .sudo()
        .create(
            [
                {
                    "workflow_id": workflow.id,
                    "state": state,
                    "error_kind": kind,
                    "started_at": now - timedelta(hours=hours_ago),
                    "duration_ms": duration,
                }
                for state, kind, hours_ago, duration in specs
            ]
        )
    )


def _workflow_row(data, workflow):
    return next(row for row in data["workflows"] if row["id"] == workflow.id)


@tagged("post_install", "-at_install", "is_tour")
class TestDashboardTour(HttpCase):
    """The dashboard in the browser: tiles, chart, workflow table and drill-down to the runs."""

    def setUp(self):
        super().setUp()
        Workflow = self.env["distribution.workflow"].sudo()
        self.workflow = Workflow.create({"code": "tour_workflow", "name": "Tour Workflow"})
        self.other = Workflow.create({"code": "tour_other_workflow", "name": "Second Workflow"})
        _create_runs(
            self.env,
            self.workflow,
            [
                ("success", False, 1, 120),
                ("success", False, 2, 150),
                ("success", False, 3, 180),
                ("failed", "technical", 4, 900),
            ],
        )
        # Runs the drill-down must leave out: another workflow's, and one older than 24 hours.
        _create_runs(self.env, self.other, [("success", False, 1, 100), ("failed", "business", 2, 300)])
        _create_runs(self.env, self.workflow, [("success", False, 30, 100)])

    def test_dashboard_tour(self):
        self.start_tour("/odoo", "distribution_dashboard_tour", login="admin")


@tagged("post_install", "-at_install")
class TestDashboardData(TransactionCase):
    """get_dashboard_data() against runs whose figures are known by hand."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A user far from UTC: the chart's hourly slots must still be UTC hours (the client localises them).
        cls.env = cls.env(context=dict(cls.env.context, tz="Pacific/Kiritimati"))
        cls.Run = cls.env["distribution.workflow.run"]
        Workflow = cls.env["distribution.workflow"]
        cls.workflow = Workflow.create(
            {
                "code": "test_dashboard_workflow",
                "name": "Dashboard Workflow",
                "expected_duration_ms": 500,
            }
        )
        cls.other = Workflow.create({"code": "test_dashboard_other", "name": "Dashboard Other"})

    def _tiles_delta(self, before, after):
        return {
            key: (after[key] or 0) - (before[key] or 0)
            for key in ("runs_24h", "business_failures_24h", "technical_failures_24h")
        }

    def test_figures(self):
        before = self.Run.get_dashboard_data()
        now = fields.Datetime.now()
        _create_runs(
            self.env,
            self.workflow,
            [
                ("success", False, 0.5, 100),
                ("success", False, 2.5, 200),
                ("success", False, 5.5, 300),
                ("failed", "technical", 2.5, 1000),
                # Outside the 24-hour window: counted nowhere.
                ("failed", "business", 26, 50),
            ],
            now=now,
        )
        _create_runs(
            self.env,
            self.other,
            [
                ("failed", "business", 0.5, 10),
                ("retrying", "technical", 10.5, 20),
                ("skipped", False, 10.5, 30),
            ],
            now=now,
        )
        # A nested run (one failing item of a batch) is not a run of its own on the dashboard.
        parent = self.Run.search([("workflow_id", "=", self.workflow.id)], limit=1)
        self.Run.create(
            {
                "workflow_id": self.workflow.id,
                "parent_id": parent.id,
                "state": "failed",
                "error_kind": "business",
                "started_at": now,
                "duration_ms": 0,
            }
        )

        data = self.Run.get_dashboard_data()

        row = _workflow_row(data, self.workflow)
        self.assertEqual(row["code"], "test_dashboard_workflow")
        self.assertEqual(row["runs"], 4)
        self.assertEqual(row["success_rate"], 75.0)
        self.assertEqual(row["failed"], 1)
        self.assertEqual(row["technical"], 1)
        self.assertEqual(row["business"], 0)
        self.assertEqual(row["retries"], 0)
        self.assertEqual(row["expected_ms"], 500)
        # percentile_cont interpolates: durations 100, 200, 300, 1000.
        self.assertAlmostEqual(row["p50_ms"], 250.0)
        self.assertAlmostEqual(row["p95_ms"], 895.0)
        # The last hour holds one success only: 0 % failures.
        self.assertEqual(row["level"], "ok")

        other = _workflow_row(data, self.other)
        self.assertEqual(other["runs"], 3)
        self.assertEqual(other["success_rate"], 0.0)  # 0 success out of 1 finished (failed) run
        # A retrying run is a retry, not a failure (yet): failures count failed runs only, everywhere.
        self.assertEqual((other["business"], other["technical"], other["retries"]), (1, 0, 1))
        # The last hour holds one business failure: 100 % failures is past the 50 % critical threshold.
        self.assertEqual(other["level"], "critical")

        # Tiles and chart, relative to what the database held before (other data may exist).
        self.assertEqual(
            self._tiles_delta(before["tiles"], data["tiles"]),
            {
                "runs_24h": 7,
                "business_failures_24h": 1,
                "technical_failures_24h": 1,
            },
        )
        if before["tiles"]["runs_24h"] == 0:
            # 3 successes out of 4 + 1 finished runs (retrying and skipped runs are not finished).
            self.assertEqual(data["tiles"]["success_rate_24h"], 60.0)

        chart = data["chart"]
        self.assertEqual(len(chart["labels"]), 24)
        self.assertEqual(len(chart["runs"]), 24)
        self.assertEqual(len(chart["failures"]), 24)
        self.assertEqual(chart["labels"][-1], data["generated_at"][11:13] + ":00")
        self.assertEqual(sum(chart["runs"]) - sum(before["chart"]["runs"]), 7)
        # failed runs are the failures on the chart, as in the tiles.
        self.assertEqual(sum(chart["failures"]) - sum(before["chart"]["failures"]), 2)

    def test_queues_and_alerts(self):
        data = self.Run.get_dashboard_data()
        queue = next(q for q in data["queues"] if q["code"] == "open_alert_incidents")
        self.assertEqual(queue["model"], "distribution.alert.incident")
        self.assertEqual(set(queue["buckets"]), {"lt_1h", "h1_4", "h4_24", "gt_24h"})
        self.assertEqual(sum(queue["buckets"].values()), queue["backlog"])
        self.assertEqual(queue["backlog"], data["tiles"]["open_alerts"])
        self.assertIn(queue["level"], ("ok", "warning", "critical"))
        action = self.env["distribution.queue.monitor"].browse(queue["id"]).action_open_items()
        self.assertEqual(action["res_model"], "distribution.alert.incident")


@tagged("post_install", "-at_install", "is_query_count")
class TestDashboardQueryCount(TransactionCase):
    """get_dashboard_data() reads grouped figures: its query count does not grow with the number of
    workflows or runs (only with the number of monitored queues: one figure query each)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(
            cls.env,
            "dist_dashboard_user",
            groups="distribution_observability.group_distribution_user",
            tz="UTC",
        )
        cls._create_workflows(cls.env, "a", 5)

    @classmethod
    def _create_workflows(cls, env, prefix, count):
        workflows = env["distribution.workflow"].create(
            [
                {"code": f"test_dashboard_qc_{prefix}{index}", "name": f"Query Count {prefix}{index}"}
                for index in range(count)
            ]
        )
        for workflow in workflows:
            _create_runs(
                env,
                workflow,
                [
                    (state, "technical" if state == "failed" else False, hours, 100 * hours)
                    for hours in range(1, 21)
                    for state in ("success", "failed")
                ],
            )

    def test_query_count(self):
        Run = self.env["distribution.workflow.run"].with_user(self.user)
        Run.get_dashboard_data()  # warm-up: access rights, record rules and registry caches
        monitors = self.env["distribution.queue.monitor"].search_count([])
        # Measured with an empty record cache: 9 queries with the one shipped queue monitor
        # (2 KPI queries, workflow search and read, hourly read_group, alert read_group, queue
        # search and read, 1 figure query per queue); bound 10 + queues = measured + 2 of margin.
        self.env.invalidate_all()
        with self.assertQueryCount(10 + monitors):
            Run.get_dashboard_data()
        # Five times more workflows and runs: the same queries.
        self._create_workflows(self.env, "b", 20)
        Run.get_dashboard_data()  # warm-up again: creating workflows clears the registry caches
        self.env.invalidate_all()
        with self.assertQueryCount(10 + monitors):
            data = Run.get_dashboard_data()
        self.assertGreaterEqual(len(data["workflows"]), 25)
