from unittest.mock import patch

from odoo import Command
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tests import new_test_user
from odoo.tests import tagged

from .common import ObservabilityCase


@tagged("post_install", "-at_install")
class TestTracking(ObservabilityCase):
    """The tracking API: success, failure kept after rollback, nesting, correlation ids, cost."""

    def _committed_runs(self, correlation_id):
        """Runs of a correlation id as another connection sees them (what survived the transaction)."""
        with self.env.registry.cursor() as cr:
            cr.execute(
                "SELECT w.code, r.state, r.error_kind, r.reason, r.message, r.res_model, r.res_id"
                "  FROM distribution_workflow_run r JOIN distribution_workflow w ON w.id = r.workflow_id"
                " WHERE r.correlation_id = %s",
                [correlation_id],
            )
            return cr.fetchall()

    def _cleanup_committed(self, correlation_id):
        with self.env.registry.cursor() as cr:
            cr.execute("DELETE FROM distribution_workflow_run WHERE correlation_id = %s", [correlation_id])

    def test_success_records_state_timing_and_record(self):
        with self.Run.track("test_flow", self.partner, correlation_id="c-ok") as run:
            self.partner.name = "Tracked customer (checked)"
            run.reason = "all_clear"
        record = run.run
        self.assertEqual(record.state, "success")
        self.assertEqual(record.reason, "all_clear")
        self.assertEqual((record.res_model, record.res_id), ("res.partner", self.partner.id))
        self.assertEqual(record.record_ref, self.partner)
        self.assertEqual(record.correlation_id, "c-ok")
        self.assertGreaterEqual(record.duration_ms, 0)
        self.assertFalse(record.error_kind)

    def test_fail_and_skip_without_exception(self):
        with self.Run.track("test_flow", self.partner) as run:
            run.fail("credit_limit", "Over the credit limit by 1,200.00", kind="business")
        self.assertEqual((run.run.state, run.run.reason, run.run.error_kind), ("failed", "credit_limit", "business"))
        with self.Run.track("test_flow", self.partner) as run:
            run.skip("nothing_to_do")
        self.assertEqual((run.run.state, run.run.reason), ("skipped", "nothing_to_do"))

    def test_failure_survives_rollback_and_is_reraised(self):
        """The business change is rolled back; the failed run is committed through its own cursor."""
        correlation = "c-rollback-test"
        self.addCleanup(self._cleanup_committed, correlation)
        admin_env = self.env(user=self.env.ref("base.user_admin"))
        partner = admin_env["res.partner"].browse(self.partner.id)
        with self.assertRaises(UserError), self.env.cr.savepoint():
            with admin_env["distribution.workflow.run"].track("alert_evaluation", partner, correlation_id=correlation):
                partner.name = "Half-saved"
                partner.flush_recordset()
                raise UserError(self.env._("Customer is on hold"))
        self.partner.invalidate_recordset()
        self.assertEqual(self.partner.name, "Tracked customer", "the business change must be rolled back")
        self.assertEqual(
            self._committed_runs(correlation),
            [
                (
                    "alert_evaluation",
                    "failed",
                    "business",
                    "UserError",
                    "Customer is on hold",
                    "res.partner",
                    self.partner.id,
                )
            ],
        )

    def test_technical_failure_keeps_transaction_usable_and_leaves_no_running_row(self):
        """A caught failure leaves no 'running' row behind in the surviving transaction."""
        correlation = "c-technical-test"
        self.addCleanup(self._cleanup_committed, correlation)
        with self.assertRaises(ZeroDivisionError):
            with self.Run.track("alert_evaluation", correlation_id=correlation) as run:
                run.retrying = True
                _ = 1 / 0
        self.assertFalse(self.Run.search([("correlation_id", "=", correlation), ("state", "=", "running")]))
        self.assertEqual(
            self._committed_runs(correlation),
            [("alert_evaluation", "retrying", "technical", "ZeroDivisionError", "division by zero", None, None)],
        )

    def test_failure_of_a_user_created_in_the_transaction_is_still_recorded(self):
        """A user unknown to other connections: the failure is recorded as superuser."""
        correlation = "c-new-user-test"
        self.addCleanup(self._cleanup_committed, correlation)
        with self.assertRaises(ValueError):
            with self.Run.with_user(self.user).track("alert_evaluation", correlation_id=correlation):
                raise ValueError("boom")
        self.assertEqual(len(self._committed_runs(correlation)), 1)

    def test_nesting_shares_correlation_and_links_parent(self):
        with self.Run.track("test_flow", self.partner) as outer:
            with self.Run.track("test_flow", self.partner) as inner:
                pass
        self.assertEqual(inner.run.parent_id, outer.run)
        self.assertEqual(inner.correlation_id, outer.correlation_id)
        self.assertIn(inner.run, outer.run.child_ids)
        with self.Run.track("test_flow") as separate:
            pass
        self.assertFalse(separate.run.parent_id)
        self.assertNotEqual(separate.correlation_id, outer.correlation_id)

    def test_batch_form_one_run_with_failing_items(self):
        partners = self.env["res.partner"].create([{"name": f"Batch {i}"} for i in range(5)])
        with self.Run.track("test_flow", partners) as run:
            run.fail_item(partners[2], "missing_vat", "No VAT number")
        self.assertEqual(run.run.record_count, 5)
        self.assertEqual(run.run.res_model, "res.partner")
        self.assertFalse(run.run.res_id)
        self.assertEqual(run.run.state, "success")
        child = run.run.child_ids
        self.assertEqual((child.state, child.reason, child.res_id), ("failed", "missing_vat", partners[2].id))

    def test_unknown_workflow_code_is_a_clear_error(self):
        with self.assertRaisesRegex(UserError, "no_such_flow"):
            with self.Run.track("no_such_flow"):
                pass

    def test_tracking_costs_one_insert_and_one_update(self):
        with self.Run.track("test_flow", self.partner):  # warm the caches (workflow code, defaults)
            pass
        self.env.flush_all()
        with self.assertQueryCount(2):
            with self.Run.track("test_flow", self.partner) as run:
                run.reason = "counted"
            self.env.flush_all()

    def test_any_user_is_tracked_but_only_roles_read_the_log(self):
        employee = self.env["res.users"].create(
            {
                "name": "Plain employee",
                "login": "plain_employee",
                "groups_id": [Command.set(self.env.ref("base.group_user").ids)],
            }
        )
        with self.Run.with_user(employee).track("test_flow", self.partner) as run:
            pass
        self.assertEqual(run.run.state, "success")
        self.assertEqual(run.run.create_uid, employee)
        self.assertTrue(self.Run.with_user(self.user).search([("id", "=", run.run.id)]))
        with self.assertRaises(AccessError):
            self.Run.with_user(employee).search([("id", "=", run.run.id)])


@tagged("post_install", "-at_install")
class TestTrackingCompanies(ObservabilityCase):
    """A batch over several companies: one run per company, failing items in their own record's company,
    and each company's users read only their own runs."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Tracking Company B"})
        role = "distribution_observability.group_distribution_user"
        cls.user_a = new_test_user(
            cls.env,
            "track_user_a",
            groups=role,
            company_id=cls.company_a.id,
            company_ids=[Command.set(cls.company_a.ids)],
        )
        cls.user_b = new_test_user(
            cls.env,
            "track_user_b",
            groups=role,
            company_id=cls.company_b.id,
            company_ids=[Command.set(cls.company_b.ids)],
        )
        Partner = cls.env["res.partner"]
        cls.partners_a = Partner.create([{"name": f"A customer {i}", "company_id": cls.company_a.id} for i in range(3)])
        cls.partners_b = Partner.create([{"name": f"B customer {i}", "company_id": cls.company_b.id} for i in range(2)])

    def test_batch_of_two_companies_is_one_run_per_company(self):
        batch = self.partners_b[:1] | self.partners_a | self.partners_b[1:]
        with self.Run.track("test_flow", batch) as run:
            failed_b = run.fail_item(self.partners_b[1], "missing_vat", "B customer 1 has no VAT number")
            failed_a = run.fail_item(self.partners_a[0], "missing_vat", "A customer 0 has no VAT number")
            run.message = "5 checked"
        self.assertEqual(len(run.runs), 2)
        by_company = {r.company_id: r for r in run.runs}
        self.assertEqual(by_company[self.company_a].record_count, 3)
        self.assertEqual(by_company[self.company_b].record_count, 2)
        self.assertEqual(run.run, by_company[self.company_a], "the context's company's run is the main one")
        self.assertEqual(set(run.runs.mapped("correlation_id")), {run.correlation_id})
        self.assertEqual(set(run.runs.mapped("message")), {"5 checked"})
        self.assertEqual((failed_b.company_id, failed_b.parent_id), (self.company_b, by_company[self.company_b]))
        self.assertEqual((failed_a.company_id, failed_a.parent_id), (self.company_a, by_company[self.company_a]))

        seen_a = self.Run.with_user(self.user_a).search([("correlation_id", "=", run.correlation_id)])
        seen_b = self.Run.with_user(self.user_b).search([("correlation_id", "=", run.correlation_id)])
        self.assertEqual(seen_a, by_company[self.company_a] | failed_a)
        self.assertEqual(seen_b, by_company[self.company_b] | failed_b)
        self.assertNotIn("A customer", str(seen_b.read(["message", "display_name", "res_id"])))

    def test_failed_batch_of_two_companies_is_recorded_per_company(self):
        # The companies of this test are not committed, so another cursor could not insert their runs:
        # what matters is that the failure path writes one failed run per company.
        written = []
        Run = type(self.Run)
        with patch.object(
            Run, "_record_failure_outside_transaction", side_effect=lambda vals_list, runs: written.extend(vals_list)
        ):
            with self.assertRaises(UserError), self.Run.track("test_flow", self.partners_a | self.partners_b):
                raise UserError(self.env._("batch failed"))
        self.assertEqual(
            sorted((vals["company_id"], vals["record_count"], vals["state"], vals["message"]) for vals in written),
            sorted(
                [(self.company_a.id, 3, "failed", "batch failed"), (self.company_b.id, 2, "failed", "batch failed")]
            ),
        )

    def test_nested_run_of_a_company_hangs_under_that_company_run(self):
        with self.Run.track("test_flow", self.partners_a | self.partners_b) as outer:
            with self.Run.track("test_flow", self.partners_b[0]) as inner:
                pass
        self.assertEqual(inner.run.company_id, self.company_b)
        self.assertEqual(inner.run.parent_id, outer.run_for(self.company_b))
