from datetime import timedelta

from freezegun import freeze_time

from odoo import api
from odoo import fields
from odoo.tests import tagged

from .common import ObservabilityCase


@tagged("post_install", "-at_install")
class TestSnapshots(ObservabilityCase):
    """Hourly snapshots: one row per metric, subject and hour; a second run adds nothing."""

    def test_hourly_snapshot_of_last_complete_hour(self):
        now = fields.Datetime.now().replace(minute=30, second=0, microsecond=0)
        with freeze_time(now):
            # Three runs in the previous hour (2 success, 1 failed), one in the current hour (ignored).
            self._runs(
                [("success", 1.0, 100), ("success", 1.2, 300), ("failed", 0.9, 50, "technical"), ("success", 0.1, 10)]
            )
            Snapshot = self.env["distribution.metric.snapshot"]
            created = Snapshot._cron_take_snapshots()
            self.assertGreater(created, 0)
            hour = now.replace(minute=0) - timedelta(hours=1)
            values = {
                s.metric: s.value
                for s in Snapshot.search([("workflow_id", "=", self.workflow.id), ("period_start", "=", hour)])
            }
            self.assertEqual(values["workflow_runs"], 3)
            self.assertEqual(values["workflow_failures"], 1)
            self.assertAlmostEqual(values["workflow_success_rate"], 66.67, places=2)
            queue = self.env.ref("distribution_observability.distribution_queue_monitor_open_incidents")
            self.assertTrue(Snapshot.search([("queue_id", "=", queue.id), ("metric", "=", "queue_backlog")]))
            self.assertEqual(Snapshot._cron_take_snapshots(), 0, "the same hour is never stored twice")


@tagged("post_install", "-at_install")
class TestSeveralWorkers(ObservabilityCase):
    """A rule locked by one worker is skipped by another (SKIP LOCKED), never evaluated twice."""

    def test_alert_cron_skips_rules_locked_by_another_worker(self):
        registry = self.env.registry
        with registry.cursor() as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            workflow = env["distribution.workflow"].create({"code": "worker_flow", "name": "Worker flow"})
            rule = env["distribution.alert.rule"].create(
                {
                    "name": "Worker rule",
                    "metric": "workflow_failures",
                    "workflow_id": workflow.id,
                    "threshold": 1,
                }
            )
            ids = (workflow.id, rule.id)

        def cleanup():
            with registry.cursor() as cr:
                cr.execute("DELETE FROM distribution_alert_rule WHERE id = %s", [ids[1]])
                cr.execute("DELETE FROM distribution_workflow_run WHERE workflow_id = %s", [ids[0]])
                cr.execute("DELETE FROM distribution_workflow WHERE id = %s", [ids[0]])
            registry.clear_cache()

        self.addCleanup(cleanup)
        with registry.cursor() as worker_a, registry.cursor() as worker_b:
            worker_a.execute("SELECT id FROM distribution_alert_rule WHERE id = %s FOR NO KEY UPDATE", [ids[1]])
            env_b = api.Environment(worker_b, api.SUPERUSER_ID, {})
            env_b["distribution.alert.rule"]._cron_evaluate()  # must not wait for worker A, nor take its rule
            evaluated = env_b["distribution.alert.rule"].browse(ids[1]).last_evaluated_at
            self.assertFalse(evaluated)
            worker_b.rollback()
            worker_a.rollback()
            env_b.invalidate_all()
            env_b["distribution.alert.rule"]._cron_evaluate()  # lock released: now it is evaluated
            self.assertTrue(env_b["distribution.alert.rule"].browse(ids[1]).last_evaluated_at)
            worker_b.rollback()
