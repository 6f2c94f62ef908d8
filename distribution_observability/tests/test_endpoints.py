from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from odoo import fields
from odoo.tests import HttpCase
from odoo.tests import new_test_user
from odoo.tests import tagged


@tagged("post_install", "-at_install")
class TestEndpoints(HttpCase):
    """/distribution/health and /distribution/metrics: API key auth, format, company isolation."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Second Distribution Co"})
        cls.manager_a = new_test_user(
            cls.env,
            "metrics_manager_a",
            groups="distribution_observability.group_distribution_manager",
            company_id=cls.company_a.id,
            company_ids=[(6, 0, cls.company_a.ids)],
        )
        cls.manager_ab = new_test_user(
            cls.env,
            "metrics_manager_ab",
            groups="distribution_observability.group_distribution_manager",
            company_id=cls.company_a.id,
            company_ids=[(6, 0, (cls.company_a | cls.company_b).ids)],
        )
        cls.user = new_test_user(cls.env, "metrics_user", groups="distribution_observability.group_distribution_user")
        cls.key_a = cls._key(cls.manager_a)
        cls.key_ab = cls._key(cls.manager_ab)
        cls.key_user = cls._key(cls.user)
        Workflow = cls.env["distribution.workflow"]
        cls.flow_a = Workflow.create({"code": "flow_in_a", "name": "Flow in A"})
        cls.flow_b = Workflow.create({"code": "flow_in_b", "name": "Flow in B"})
        # The health is the worst of every check: the other workflows and queues of the database (the demo's)
        # are left out, so that the status is the one of this test's runs.
        Workflow.search([("id", "not in", (cls.flow_a | cls.flow_b).ids)]).action_archive()
        cls.env["distribution.queue.monitor"].search([]).write(
            dict.fromkeys(("backlog_warning", "backlog_critical", "age_warning_hours", "age_critical_hours"), 0)
        )
        now = fields.Datetime.now()
        cls.env["distribution.workflow.run"].create(
            [
                {
                    "workflow_id": cls.flow_a.id,
                    "state": "success",
                    "duration_ms": 100,
                    "company_id": cls.company_a.id,
                    "started_at": now - timedelta(minutes=i),
                }
                for i in range(3)
            ]
            + [
                {
                    "workflow_id": cls.flow_a.id,
                    "state": "failed",
                    "error_kind": "technical",
                    "duration_ms": 300,
                    "company_id": cls.company_a.id,
                    "started_at": now,
                }
            ]
            + [
                {
                    "workflow_id": cls.flow_b.id,
                    "state": "failed",
                    "error_kind": "business",
                    "duration_ms": 50,
                    "company_id": cls.company_b.id,
                    "started_at": now,
                }
            ]
        )

    @classmethod
    def _key(cls, user, scope=None):
        expires = fields.Datetime.now() + timedelta(days=1)
        return cls.env["res.users.apikeys"].with_user(user)._generate(scope, "monitoring", expires)

    def _get(self, path, key=None, **kwargs):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return self.url_open(path, headers=headers, **kwargs)

    def test_no_key_or_wrong_key_is_401(self):
        for key in (None, "not-a-key"):
            for path in ("/distribution/health", "/distribution/metrics"):
                response = self._get(path, key)
                self.assertEqual(response.status_code, 401, (path, key))
                self.assertIn("Bearer", response.json()["reason"])
        response = self.url_open("/distribution/health", headers={"Authorization": f"Basic {self.key_a}"})
        self.assertEqual(response.status_code, 401)

    def test_key_of_a_non_manager_is_403(self):
        self.assertEqual(self._get("/distribution/metrics", self.key_user).status_code, 403)

    def test_health_ok_then_failing(self):
        response = self._get("/distribution/health", self.key_a)
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertIn(body["status"], ("ok", "degraded"))
        types = {check["type"] for check in body["checks"]}
        self.assertEqual(types, {"queue", "workflow", "scheduled_action"})
        flow_a = next(c for c in body["checks"] if c["type"] == "workflow" and c["code"] == "flow_in_a")
        self.assertEqual((flow_a["runs_1h"], flow_a["failure_rate_1h"], flow_a["level"]), (4, 25.0, "warning"))
        self.assertEqual(body["status"], "degraded")

        # 2 failures out of 5 in the last hour is over a 30 % critical threshold: failing, 503.
        self.flow_a.failure_rate_critical = 20.0
        response = self._get("/distribution/health", self.key_a)
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response.json()["status"], "failing")

    def test_health_reports_a_deactivated_scheduled_action(self):
        self.env.ref("distribution_observability.ir_cron_distribution_run_purge").active = False
        body = self._get("/distribution/health", self.key_a).json()
        check = next(c for c in body["checks"] if c["code"].endswith("ir_cron_distribution_run_purge"))
        self.assertEqual((check["level"], check["active"]), ("critical", False))
        self.assertEqual(body["status"], "failing")

    def test_metrics_format_and_values(self):
        response = self._get("/distribution/metrics", self.key_a)
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }
        runs = "distribution_workflow_runs"
        self.assertEqual(samples[(runs, (("state", "success"), ("workflow", "flow_in_a")))], 3)
        self.assertEqual(samples[(runs, (("state", "failed"), ("workflow", "flow_in_a")))], 1)
        self.assertEqual(
            samples[("distribution_workflow_failures", (("kind", "technical"), ("workflow", "flow_in_a")))], 1
        )
        self.assertEqual(
            samples[("distribution_workflow_duration_ms", (("quantile", "0.5"), ("workflow", "flow_in_a")))], 100
        )
        self.assertIn(("distribution_queue_backlog", (("queue", "open_alert_incidents"),)), samples)
        self.assertIn(("distribution_alerts_open", (("severity", "critical"),)), samples)

    def test_metrics_only_show_the_companies_of_the_key_user(self):
        only_a = self._get("/distribution/metrics", self.key_a).text
        self.assertIn('workflow="flow_in_a"', only_a)
        self.assertNotIn('workflow="flow_in_b"', only_a)
        both = self._get("/distribution/metrics", self.key_ab).text
        self.assertIn('workflow="flow_in_b"', both)

    def test_a_read_only_metrics_key_opens_the_endpoints_and_nothing_else(self):
        key = self._key(self.manager_a, "distribution_metrics")
        self.assertEqual(self._get("/distribution/health", key).status_code, 200)
        metrics = self._get("/distribution/metrics", key)
        self.assertEqual(metrics.status_code, 200)
        self.assertIn('workflow="flow_in_a"', metrics.text)
        self.assertNotIn('workflow="flow_in_b"', metrics.text)
        Keys = self.env["res.users.apikeys"]
        self.assertFalse(Keys._check_credentials(scope="rpc", key=key), "no RPC with a metrics key")
        other_scope = self._key(self.manager_a, "some_other_tool")
        self.assertEqual(self._get("/distribution/metrics", other_scope).status_code, 401)
        self.assertEqual(
            self._get("/distribution/metrics", self._key(self.user, "distribution_metrics")).status_code, 403
        )

    def test_only_get_is_served(self):
        response = self.url_open("/distribution/health", data=b"{}", headers={"Authorization": f"Bearer {self.key_a}"})
        self.assertEqual(response.status_code, 405)
