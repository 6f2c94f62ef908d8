from datetime import datetime
from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

from ..models.distribution_demo import HISTORY


def demo_installed(case, module, marker=None):
    """Skip ``case`` unless ``module`` was installed with its demo data, and its demo flows ran (``marker``,
    an XML id a flow gives one of its records: a database whose template was built before the demo existed,
    then updated, has the demo's XML records without its flows)."""
    if not case.env.ref(f"base.module_{module}").demo:
        case.skipTest(f"{module} was installed without demo data")
    if marker and not case.env.ref(marker, raise_if_not_found=False):
        case.skipTest(f"the demo flows of {module} did not run: the database was built before they existed")


@tagged("post_install", "-at_install")
class TestObservabilityDemo(TransactionCase):
    """The demo's week of runs, made by the tracking API and spread over the last days."""

    def setUp(self):
        super().setUp()
        demo_installed(self, "distribution_observability", "distribution_observability.demo_run_history")
        self.Run = self.env["distribution.workflow.run"]

    def _demo_runs(self, code):
        workflow = self.env["distribution.workflow"]._get_by_code(code)
        return self.Run.search(
            [("workflow_id", "=", workflow.id), ("create_uid", "=", self.env.ref("base.user_root").id)]
        )

    def test_a_week_of_alert_evaluations(self):
        runs = self._demo_runs("alert_evaluation")
        self.assertGreater(len(runs), 50)
        oldest = min(runs.mapped("started_at"))
        newest = max(runs.mapped("create_date"))
        self.assertGreater(newest - oldest, timedelta(days=5), "the runs are spread over the week before the install")
        self.assertTrue(runs.filtered(lambda run: run.state == "failed" and run.error_kind == "technical"))
        self.assertTrue(all(run.duration_ms > 0 for run in runs))
        # Finished through the tracking API: no run is left running.
        self.assertFalse(runs.filtered(lambda run: run.state == "running"))

    def test_demo_flows_refuse_outside_a_demo_install(self):
        Demo = self.env["distribution.demo"]
        user = new_test_user(self.env, "demo_probe", groups="distribution_observability.group_distribution_manager")
        with self.assertRaises(AccessError):
            Demo.with_user(user)._distribution_demo_observability()
        # A module without its demo data (its flag off) refuses, even for an administrator.
        self.env.ref("base.module_distribution_observability").demo = False
        self.env.ref("base.module_base").demo = False
        with self.assertRaises(UserError):
            Demo._distribution_demo_observability()

    def test_demo_history_only_moves_creation_dates(self):
        run = self._demo_runs("alert_evaluation")[:1]
        with self.assertRaises(UserError):
            self.env["distribution.demo"]._distribution_demo_backdate(run, "started_at", fields.Datetime.now())

    def test_demo_history_is_the_same_at_any_hour_of_the_install(self):
        """The demo history does not depend on the hour the database is installed: the same number of runs
        and of each outcome (at least one of every kind with a share), all in the past week."""
        Demo = self.env["distribution.demo"]
        profile = {"alert_evaluation": dict(HISTORY["alert_evaluation"], last_hour=0)}
        seen = set()
        for hour in (1, 9, 16, 23):
            now = datetime(2026, 3, 10, hour, 30)
            with freeze_time(now):
                runs = Demo._distribution_demo_history(profile)
            self.assertTrue(all(now - timedelta(days=7, hours=1) <= run.started_at < now for run in runs))
            seen.add((len(runs), len(runs.filtered(lambda run: run.error_kind == "technical"))))
        self.assertEqual(len(seen), 1, seen)
        self.assertEqual(seen.pop(), (84, 2))
