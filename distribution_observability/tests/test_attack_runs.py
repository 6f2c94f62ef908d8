from odoo import Command
from odoo.tests import HttpCase
from odoo.tests import new_test_user
from odoo.tests import tagged

from .rpc import JsonRpcMixin


@tagged("post_install", "-at_install")
class TestAttackRuns(JsonRpcMixin, HttpCase):
    """The run log through JSON-RPC: a batch tracked over two companies leaves each company's users only
    their own runs, document names, reasons and messages, whatever context they send."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Attack Runs Company B"})
        role = "distribution_observability.group_distribution_user"
        cls.user_a = new_test_user(
            cls.env,
            "runs_attacker_a",
            groups=role,
            company_id=cls.company_a.id,
            company_ids=[Command.set(cls.company_a.ids)],
        )
        cls.user_b = new_test_user(
            cls.env,
            "runs_attacker_b",
            groups=role,
            company_id=cls.company_b.id,
            company_ids=[Command.set(cls.company_b.ids)],
        )
        Partner = cls.env["res.partner"]
        cls.secret_a = Partner.create({"name": "Confidential Customer of A", "company_id": cls.company_a.id})
        cls.customer_b = Partner.create({"name": "Customer of B", "company_id": cls.company_b.id})
        Run = cls.env["distribution.workflow.run"]
        with Run.track("alert_evaluation", cls.secret_a | cls.customer_b) as run:
            run.fail_item(cls.secret_a, "credit_limit", "Confidential Customer of A is over its limit by 9,999")
            run.fail_item(cls.customer_b, "missing_vat", "Customer of B has no VAT number")
        cls.handle = run

    def _read_runs(self, context=None):
        return self.rpc(
            "distribution.workflow.run",
            "search_read",
            [("correlation_id", "=", self.handle.correlation_id)],
            fields=["company_id", "message", "reason", "res_id", "res_model", "record_count"],
            context=context,
        )

    def test_company_b_user_reads_only_company_b_runs(self):
        self.rpc_login(self.user_b)
        runs, error = self._read_runs()
        self.assertIsNone(error)
        self.assertEqual({r["company_id"][0] for r in runs}, {self.company_b.id})
        self.assertEqual(sorted(r["reason"] or "" for r in runs), ["", "missing_vat"])
        self.assertNotIn("Confidential", str(runs))
        self.assertNotIn(self.secret_a.id, [r["res_id"] for r in runs if r["reason"]])

    def test_forged_company_context_does_not_widen_the_log(self):
        self.rpc_login(self.user_b)
        for context in (
            {"allowed_company_ids": [self.company_a.id, self.company_b.id]},
            {"allowed_company_ids": [self.company_a.id]},
            {"active_test": False},
        ):
            runs, error = self._read_runs(context=context)
            if error is None:  # a forged company is refused, or ignored: never A's runs
                self.assertNotIn(self.company_a.id, [r["company_id"][0] for r in runs], context)
                self.assertNotIn("Confidential", str(runs), context)
        # Another door: grouped figures and counts.
        count, error = self.rpc("distribution.workflow.run", "search_count", [("message", "ilike", "Confidential")])
        self.assertEqual((count, error), (0, None))
        groups, error = self.rpc(
            "distribution.workflow.run",
            "read_group",
            [("correlation_id", "=", self.handle.correlation_id)],
            ["reason"],
            ["company_id"],
        )
        self.assertIsNone(error)
        self.assertEqual([g["company_id"][0] for g in groups], [self.company_b.id])

    def test_company_a_user_reads_company_a_runs_and_not_b(self):
        self.rpc_login(self.user_a)
        runs, error = self._read_runs()
        self.assertIsNone(error)
        self.assertEqual({r["company_id"][0] for r in runs}, {self.company_a.id})
        self.assertIn("credit_limit", [r["reason"] for r in runs])
        self.assertNotIn("Customer of B", str(runs))

    def test_run_log_is_not_writable_over_rpc(self):
        self.rpc_login(self.user_b)
        own = self.handle.run_for(self.company_b)
        self.assertRpcRefused("distribution.workflow.run", "write", own.ids, {"company_id": self.company_a.id})
        self.assertRpcRefused(
            "distribution.workflow.run",
            "create",
            {
                "workflow_id": own.workflow_id.id,
                "company_id": self.company_a.id,
                "state": "success",
            },
        )
        self.assertEqual(own.company_id, self.company_b)
