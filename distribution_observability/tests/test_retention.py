from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged

from .common import ObservabilityCase


@tagged("post_install", "-at_install")
class TestRetention(ObservabilityCase):
    """Old successful runs go after the retention; failures are kept twice as long."""

    def test_purge_keeps_failures_twice_as_long(self):
        self.env["ir.config_parameter"].sudo().set_param("distribution_observability.run_retention_days", 10)
        runs = self._runs(
            [
                ("success", 24 * 11, 5),  # older than 10 days: purged
                ("skipped", 24 * 11, 5),  # purged too
                ("success", 24 * 9, 5),  # kept
                ("failed", 24 * 11, 5, "technical"),  # failure younger than 20 days: kept
                ("failed", 24 * 21, 5, "business"),  # failure older than 20 days: purged
            ]
        )
        deleted = self.Run._cron_purge_runs()
        self.assertEqual(deleted, 3)
        kept = runs.exists()
        self.assertEqual(sorted(kept.mapped("state")), ["failed", "success"])
        self.assertEqual(kept.filtered(lambda r: r.state == "failed").error_kind, "technical")

    def test_purge_works_in_batches(self):
        # Longer than the week of runs a demo database holds: only the runs below are old enough.
        self.env["ir.config_parameter"].sudo().set_param("distribution_observability.run_retention_days", 10)
        runs = self._runs([("success", 24 * 11, 1)] * 7)
        self.assertEqual(self.Run._cron_purge_runs(batch_size=5), 5)
        self.assertEqual(self.Run._cron_purge_runs(batch_size=5), 2)
        self.assertEqual(self.Run._cron_purge_runs(batch_size=5), 0)
        self.assertFalse(runs.exists())

    def test_retention_setting_is_a_setting(self):
        settings = self.env["res.config.settings"].create({"distribution_run_retention_days": 30})
        settings.execute()
        self.assertEqual(self.Run._retention_days(), 30)
        with freeze_time(fields.Datetime.now() + timedelta(days=31)):
            run = self._runs([("success", 0, 1)])
        self.assertTrue(run.exists())

    def test_a_bad_setting_falls_back_to_the_default(self):
        self.env["ir.config_parameter"].sudo().set_param("distribution_observability.run_retention_days", "abc")
        self.assertEqual(self.Run._retention_days(), 90)
