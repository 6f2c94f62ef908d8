from datetime import timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import HttpCase
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

from .rpc import JsonRpcMixin

PERIODS = ("1h", "24h", "7d")


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
            key: (after[key] or 0) - (before[key] or 0) for key in ("runs", "business_failures", "technical_failures")
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
                "runs": 7,
                "business_failures": 1,
                "technical_failures": 1,
            },
        )
        if before["tiles"]["runs"] == 0:
            # 3 successes out of 4 + 1 finished runs (retrying and skipped runs are not finished).
            self.assertEqual(data["tiles"]["success_rate"], 60.0)

        chart = data["chart"]
        self.assertEqual(data["period"], "24h")
        self.assertEqual(chart["granularity"], "hour")
        self.assertEqual(len(chart["slots"]), 24)
        self.assertEqual(len(chart["runs"]), 24)
        self.assertEqual(len(chart["failures"]), 24)
        # UTC hours, whatever the user's time zone: the last slot is the current UTC hour.
        self.assertEqual(chart["slots"][-1], data["generated_at"][:13] + ":00:00")
        self.assertEqual(data["since"], chart["slots"][0])
        self.assertEqual(sum(chart["runs"]) - sum(before["chart"]["runs"]), 7)
        # failed runs are the failures on the chart, as in the tiles.
        self.assertEqual(sum(chart["failures"]) - sum(before["chart"]["failures"]), 2)

    def test_period_switch(self):
        """Tiles, chart and table follow the period: the same runs count in 7 days, partly in 24 hours,
        less in the last hour. Time is frozen so that no slot boundary passes between the two reads."""
        now = fields.Datetime.now()
        with freeze_time(now):
            before = {period: self.Run.get_dashboard_data(period=period) for period in PERIODS}
            _create_runs(
                self.env,
                self.workflow,
                [
                    # 15 minutes ago: in every period.
                    ("success", False, 0.25, 100),
                    ("failed", "technical", 0.25, 100),
                    # 5 hours ago: 24 hours and 7 days.
                    ("success", False, 5, 100),
                    ("failed", "business", 5, 100),
                    # 3 days ago: 7 days only.
                    ("success", False, 72, 100),
                    ("failed", "business", 72, 100),
                    ("failed", "technical", 72, 100),
                    # 10 days ago: in none.
                    ("success", False, 240, 100),
                ],
                now=now,
            )
            after = {period: self.Run.get_dashboard_data(period=period) for period in PERIODS}

        expected = {  # runs, business failures, technical failures, success rate of the workflow
            "1h": (2, 0, 1, 50.0),
            "24h": (4, 1, 1, 50.0),
            "7d": (7, 2, 2, round(300 / 7, 2)),
        }
        for period, (runs, business, technical, rate) in expected.items():
            with self.subTest(period=period):
                data = after[period]
                self.assertEqual(data["period"], period)
                row = _workflow_row(data, self.workflow)
                self.assertEqual((row["runs"], row["business"], row["technical"]), (runs, business, technical))
                self.assertEqual(row["success_rate"], rate)
                self.assertEqual(
                    self._tiles_delta(before[period]["tiles"], data["tiles"]),
                    {"runs": runs, "business_failures": business, "technical_failures": technical},
                )
                # The bars add up to the tiles: both count since the start of the first slot.
                chart, chart_before = data["chart"], before[period]["chart"]
                self.assertEqual(sum(chart["runs"]) - sum(chart_before["runs"]), runs)
                self.assertEqual(sum(chart["failures"]) - sum(chart_before["failures"]), business + technical)
                self.assertEqual(data["since"], chart["slots"][0])
        self.assertNotEqual(after["1h"]["tiles"], after["7d"]["tiles"])

        # 1 hour: 12 slots of 5 minutes; the runs of 15 minutes ago are in the 9th (55 - 15 = 40 minutes
        # after the first slot starts, plus the minutes of the current slot already gone: under 5).
        hour = after["1h"]["chart"]
        self.assertEqual((hour["granularity"], len(hour["slots"]), len(hour["runs"])), ("minute", 12, 12))
        starts = [fields.Datetime.from_string(slot) for slot in hour["slots"]]
        self.assertEqual({b - a for a, b in pairwise(starts)}, {timedelta(minutes=5)})
        self.assertLessEqual(starts[-1], now)
        self.assertGreater(starts[-1] + timedelta(minutes=5), now)
        deltas = [a - b for a, b in zip(hour["runs"], before["1h"]["chart"]["runs"], strict=True)]
        self.assertEqual(deltas[8], 2)
        self.assertEqual(hour["days"], [])

        # 24 hours: 24 UTC hours (the user is in UTC+14), the current one last.
        day = after["24h"]["chart"]
        self.assertEqual((day["granularity"], len(day["slots"])), ("hour", 24))
        self.assertEqual(day["slots"][-1], fields.Datetime.to_string(now.replace(minute=0, second=0)))

        # 7 days: the days of the user (Pacific/Kiritimati), today last; the runs of 3 days ago are on their
        # local day.
        week = after["7d"]["chart"]
        self.assertEqual((week["granularity"], len(week["slots"]), len(week["days"])), ("day", 7, 7))
        zone = ZoneInfo("Pacific/Kiritimati")

        def local(value):
            return value.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)

        self.assertEqual(week["days"][-1], local(now).date().isoformat())
        first = local(fields.Datetime.from_string(week["slots"][0]))
        self.assertEqual((first.hour, first.minute, first.date().isoformat()), (0, 0, week["days"][0]))
        index = week["days"].index(local(now - timedelta(hours=72)).date().isoformat())
        self.assertEqual(week["runs"][index] - before["7d"]["chart"]["runs"][index], 3)
        self.assertEqual(week["failures"][index] - before["7d"]["chart"]["failures"][index], 2)

    def test_unknown_period_is_refused(self):
        for period in ("30d", "", "24H", None, 24, ["24h"], {"period": "24h"}):
            with self.subTest(period=period), self.assertRaises(UserError) as caught:
                self.Run.get_dashboard_data(period=period)
            self.assertIn("choose one of 1h, 24h, 7d", str(caught.exception))
        self.assertEqual(self.Run.get_dashboard_data()["period"], "24h", "24 hours by default")

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
        # The time zone in the context, as the web client sends it.
        Run = self.env["distribution.workflow.run"].with_user(self.user).with_context(tz="UTC")
        Run.get_dashboard_data()  # warm-up: access rights, record rules and registry caches
        monitors = self.env["distribution.queue.monitor"].search_count([])
        # The other addons of the suite add their figures in one query each (replenishment, approvals,
        # triage).
        figures = self.env["ir.module.module"].search_count(
            [
                ("name", "in", ("distribution_orchestration", "distribution_approvals", "distribution_ai_triage")),
                ("state", "=", "installed"),
            ]
        )
        bound = 10 + monitors + figures
        # Measured with an empty record cache: 9 queries with the one shipped queue monitor
        # (2 KPI queries, workflow search and read, the chart's slot query, alert read_group, queue
        # search and read, 1 figure query per queue); bound 10 + queues + the addons' figure queries =
        # measured + 2 of margin. The same for every period (a Distribution User gets no checklist: see
        # test_onboarding).
        for period in PERIODS:
            self.env.invalidate_all()
            with self.subTest(period=period), self.assertQueryCount(bound):
                Run.get_dashboard_data(period=period)
        # Five times more workflows and runs: the same queries, whatever the period.
        self._create_workflows(self.env, "b", 20)
        Run.get_dashboard_data()  # warm-up again: creating workflows clears the registry caches
        for period in PERIODS:
            self.env.invalidate_all()
            with self.subTest(period=period), self.assertQueryCount(bound):
                data = Run.get_dashboard_data(period=period)
            self.assertGreaterEqual(len(data["workflows"]), 25)


@tagged("post_install", "-at_install")
class TestDashboardRpc(JsonRpcMixin, HttpCase):
    """The period arrives from the browser: over JSON-RPC an unknown one is refused with a message, a known
    one answers, for a Distribution User."""

    def test_period_over_rpc(self):
        user = new_test_user(
            self.env, "dist_dashboard_rpc", groups="distribution_observability.group_distribution_user"
        )
        self.rpc_login(user)
        result, error = self.rpc("distribution.workflow.run", "get_dashboard_data", period="7d")
        self.assertIsNone(error)
        self.assertEqual((result["period"], len(result["chart"]["slots"])), ("7d", 7))
        self.assertEqual(result["checklist"], [], "a Distribution User does not set up")
        message = self.assertRpcRefused("distribution.workflow.run", "get_dashboard_data", period="1y")
        self.assertIn("choose one of 1h, 24h, 7d", message)
        message = self.assertRpcRefused("distribution.workflow.run", "get_dashboard_data", period={"x": 1})
        self.assertIn("choose one of", message)
