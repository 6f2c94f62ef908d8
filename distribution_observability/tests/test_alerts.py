from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import ObservabilityCase


@tagged("post_install", "-at_install")
class TestAlerts(ObservabilityCase):
    """Alert rules trip once, stay quiet inside the cooldown, and resolve when the metric recovers."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.channel = cls.env["discuss.channel"].create({"name": "ops-alerts"})
        cls.owner = cls.manager
        cls.rule = cls.env["distribution.alert.rule"].create(
            {
                "name": "Test flow failing",
                "metric": "workflow_failure_rate",
                "workflow_id": cls.workflow.id,
                "threshold": 50.0,
                "window": "1h",
                "severity": "critical",
                "cooldown_minutes": 60,
                "owner_id": cls.owner.id,
                "user_ids": [(6, 0, cls.user.ids)],
                "channel_id": cls.channel.id,
            }
        )

    def _channel_posts(self):
        return self.channel.message_ids.filtered(lambda m: "Test flow failing" in (m.body or ""))

    def _incidents(self):
        return self.env["distribution.alert.incident"].search([("rule_id", "=", self.rule.id)], order="id")

    def test_trip_notifies_once_then_recovers(self):
        now = fields.Datetime.now()
        with freeze_time(now):
            runs = self._runs([("failed", 0.1, 10, "technical"), ("failed", 0.2, 10, "technical"), ("success", 0.3, 5)])
            self.rule._evaluate()
            incident = self._incidents()
            self.assertEqual(len(incident), 1)
            self.assertEqual((incident.state, incident.severity), ("open", "critical"))
            self.assertAlmostEqual(incident.value, 66.67, places=2)
            self.assertEqual(len(self._channel_posts()), 1)
            self.assertEqual(incident.activity_ids.user_id, self.owner)
            self.assertIn(self.user.partner_id, incident.message_ids.partner_ids)
            self.assertEqual(self.rule.state, "tripped")

        with freeze_time(now + timedelta(minutes=5)):
            self.rule._evaluate()  # still breached: nothing new
            self.assertEqual(len(self._incidents()), 1)
            self.assertEqual(len(self._channel_posts()), 1)
            self.assertEqual(len(self._incidents().activity_ids), 1)

        runs.filtered(lambda r: r.state == "failed").write({"state": "success", "error_kind": False})
        with freeze_time(now + timedelta(minutes=10)):
            self.rule._evaluate()
            incident = self._incidents()
            self.assertEqual(incident.state, "resolved")
            self.assertTrue(incident.resolved_at)
            self.assertFalse(incident.activity_ids, "the owner's activity is closed on recovery")
            self.assertEqual(self.rule.state, "ok")

    def test_no_second_notification_inside_the_cooldown(self):
        now = fields.Datetime.now()
        with freeze_time(now):
            failed = self._runs([("failed", 0.1, 10, "business")])
            self.rule._evaluate()
        failed.state = "success"
        with freeze_time(now + timedelta(minutes=10)):
            self.rule._evaluate()  # recovered
        failed.state = "failed"
        with freeze_time(now + timedelta(minutes=20)):
            self.rule._evaluate()  # trips again inside the 60 minutes cooldown
            self.assertEqual(self._incidents().mapped("state"), ["resolved", "open"])
            self.assertEqual(len(self._channel_posts()), 1, "no second post inside the cooldown")
            self.assertFalse(self._incidents()[-1].activity_ids)
        failed.state = "success"
        with freeze_time(now + timedelta(minutes=30)):
            self.rule._evaluate()
        failed.write({"state": "failed", "started_at": now + timedelta(minutes=80)})
        with freeze_time(now + timedelta(minutes=90)):
            self.rule._evaluate()  # past the cooldown: notified again
            self.assertEqual(len(self._channel_posts()), 2)

    def test_default_channel_from_settings(self):
        self.rule.channel_id = False
        self.env["res.config.settings"].create({"distribution_alert_channel_id": self.channel.id}).execute()
        self._runs([("failed", 0.1, 10, "technical")])
        self.rule._evaluate()
        self.assertEqual(len(self._channel_posts()), 1)

    def test_queue_backlog_rule(self):
        monitor = self.env.ref("distribution_observability.distribution_queue_monitor_open_incidents")
        rule = self.env["distribution.alert.rule"].create(
            {
                "name": "Incidents piling up",
                "metric": "queue_backlog",
                "queue_id": monitor.id,
                "threshold": monitor._figures()["backlog"] + 1,
            }
        )
        rule._evaluate()
        self.assertEqual(rule.state, "ok")
        self.rule.cooldown_minutes = 0
        self._runs([("failed", 0.1, 10, "technical")])
        self.rule._evaluate()  # one more open incident in the monitored queue
        rule._evaluate()
        self.assertEqual(rule.state, "tripped")

    def test_failing_or_deactivated_scheduled_action(self):
        cron = self.env.ref("distribution_observability.ir_cron_distribution_metric_snapshot")
        rule = self.env["distribution.alert.rule"].create(
            {
                "name": "Snapshots failing",
                "metric": "cron_failing",
                "cron_id": cron.id,
                "threshold": 2,
            }
        )
        cron.write({"failure_count": 1})
        rule._evaluate()
        self.assertEqual(rule.state, "ok")
        cron.write({"failure_count": 2})
        rule._evaluate()
        self.assertEqual(rule.state, "tripped")
        cron.write({"failure_count": 0})
        rule._evaluate()
        self.assertEqual(rule.state, "ok")
        cron.active = False
        rule._evaluate()
        self.assertEqual(rule.state, "tripped")

    def test_cron_entry_point_evaluates_active_rules_and_logs_a_run(self):
        self._runs([("failed", 0.1, 10, "technical")])
        self.env["distribution.alert.rule"]._cron_evaluate()
        self.assertEqual(self.rule.state, "tripped")
        run = self.Run.search([("workflow_id.code", "=", "alert_evaluation")], limit=1)
        self.assertEqual(run.state, "success")
        self.assertGreaterEqual(run.record_count, 1)

    def test_rule_without_workflow_watches_the_worst_workflow_with_enough_runs(self):
        other = self.env["distribution.workflow"].create({"code": "test_other_flow", "name": "Other flow"})
        # A company of its own: the runs of every workflow count, only those of this test.
        company = self.env["res.company"].create({"name": "Alerting Co"})
        rule = self.env["distribution.alert.rule"].create(
            {
                "name": "Any flow failing",
                "company_id": company.id,
                "metric": "workflow_failure_rate",
                "threshold": 20.0,
                "min_runs": 5,
                "window": "1h",
                "channel_id": self.channel.id,
            }
        )
        # Other flow: 2 failures in 2 runs (100%), but under the minimum of 5 runs: it does not count.
        self._runs(
            [("failed", 0.1, 10, "technical"), ("failed", 0.2, 10, "technical")], workflow=other, company=company
        )
        # Test flow: 1 failure in 5 runs (20%), at the threshold.
        self._runs([("success", 0.1, 5)] * 4 + [("failed", 0.3, 10, "business")], company=company)
        rule._evaluate()
        incident = self.env["distribution.alert.incident"].search([("rule_id", "=", rule.id)])
        self.assertEqual(len(incident), 1)
        self.assertEqual(incident.value, 20.0, "the worst workflow with enough runs is the test flow, at 20%")
        self.assertTrue(self.channel.message_ids.filtered(lambda m: "Any flow failing" in (m.body or "")))
        rule.min_runs = 6
        rule._evaluate()
        self.assertEqual(incident.state, "resolved", "no workflow has 6 runs: nothing counts any more")

    def test_rule_needs_its_subject(self):
        with self.assertRaisesRegex(ValidationError, "choose the queue"):
            self.env["distribution.alert.rule"].create({"name": "No queue", "metric": "queue_backlog"})

    def test_user_reads_but_cannot_configure_alerts_manager_can(self):
        self.assertTrue(self.env["distribution.alert.rule"].with_user(self.user).search([("id", "=", self.rule.id)]))
        with self.assertRaises(AccessError):
            self.rule.with_user(self.user).threshold = 10
        with self.assertRaises(AccessError):
            self.env["distribution.alert.rule"].with_user(self.user).create(
                {
                    "name": "Mine",
                    "metric": "workflow_failures",
                    "workflow_id": self.workflow.id,
                }
            )
        self.rule.with_user(self.manager).threshold = 10
        self.assertEqual(self.rule.threshold, 10)
        self.assertTrue(self.Run.with_user(self.user).search_count([]) >= 0)
        with self.assertRaises(AccessError):
            self.workflow.with_user(self.user).name = "Renamed"
