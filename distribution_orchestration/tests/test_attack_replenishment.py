"""The replenishment gates, attacked through JSON-RPC over HTTP as a planner (Distribution User with Inventory
user rights): the suggestion fields that decide what applies by itself, the apply verbs beyond the
tolerance, the learned lead times and the change log, with a forged context."""

from odoo.addons.distribution_observability.tests.rpc import JsonRpcMixin
from odoo.tests import tagged
from odoo.tests.common import HttpCase

from .test_replenishment import ReplenishmentFixtures

FORGED = {"distribution_approved": True, "force": True, "active_test": False, "bypass": True}


@tagged("post_install", "-at_install")
class TestAttackReplenishment(ReplenishmentFixtures, JsonRpcMixin, HttpCase):
    def _suggested(self):
        self._history()
        far = self._rule(self.bolt, 5, 10)  # suggestion 25 / 60: beyond the 20% tolerance
        far._distribution_compute_suggestions()
        self.assertEqual(far.distribution_suggestion_state, "above")
        return far

    def test_the_suggestion_cannot_be_written_nor_applied_beyond_the_tolerance(self):
        far = self._suggested()
        self.rpc_login(self.planner)
        attempts = {
            "distribution_suggestion_state": "within",
            "distribution_suggested_min": 6,
            "distribution_suggested_max": 12,
            "distribution_change_pct": 1,
            "distribution_adu": 0,
            "distribution_cover_days": 100,
        }
        for name, value in attempts.items():
            with self.subTest(field=name):
                self.assertRpcRefused("stock.warehouse.orderpoint", "write", far.ids, {name: value}, context=FORGED)
        # Odoo's own fields of the rule stay the Inventory administrator's (ACL), whatever the context.
        self.assertRpcRefused("stock.warehouse.orderpoint", "write", far.ids, {"product_min_qty": 25}, context=FORGED)
        # The private verbs are not reachable over RPC.
        for method in ("_distribution_apply", "_distribution_write_levels", "_distribution_apply_above_tolerance"):
            with self.subTest(method=method):
                _result, error = self.rpc("stock.warehouse.orderpoint", method, far.ids, context=FORGED)
                self.assertIsNotNone(error)
        _result, error = self.rpc(
            "stock.warehouse.orderpoint", "action_distribution_apply_suggestion", far.ids, context=FORGED
        )
        if "distribution.approval.request" in self.env:
            self.assertIsNone(error)  # a request for approval, nothing written
            self.assertEqual(far.distribution_approval_request_id.state, "pending")
        else:
            self.assertIsNotNone(error)
        self.assertEqual((far.product_min_qty, far.product_max_qty), (5, 10))
        self.assertFalse(far.distribution_change_ids)

    def test_the_change_log_and_the_learned_lead_times_are_the_system_s(self):
        far = self._suggested()
        far._distribution_apply("manual")
        change = far.distribution_change_ids
        lead_time = self.env["distribution.vendor.lead.time"].create(
            {
                "partner_id": self.vendor.id,
                "company_id": self.company.id,
                "receipt_count": 5,
                "median_days": 30,
                "planned_days": 7,
                "drifting": True,
                "computed_at": "2026-01-01 00:00:00",
            }
        )
        self.rpc_login(self.planner)
        self.assertRpcRefused("distribution.replenishment.change", "write", change.ids, {"new_min": 1}, context=FORGED)
        self.assertRpcRefused("distribution.replenishment.change", "unlink", change.ids, context=FORGED)
        self.assertRpcRefused(
            "distribution.replenishment.change",
            "create",
            {"product_id": self.bolt.id, "company_id": self.company.id, "mode": "auto", "user_id": self.planner.id},
            context=FORGED,
        )
        self.assertRpcRefused(
            "distribution.vendor.lead.time", "write", lead_time.ids, {"median_days": 8}, context=FORGED
        )
        # 7 -> 30 days is beyond the tolerance: a planner cannot apply it, whatever the context (with the approvals
        # addon, the call asks for an approval and writes nothing).
        if "distribution.approval.request" in self.env:
            _result, error = self.rpc(
                "distribution.vendor.lead.time", "action_apply_learned_lead_time", lead_time.ids, context=FORGED
            )
            self.assertIsNone(error)
            self.assertEqual(lead_time.distribution_approval_request_id.state, "pending")
        else:
            self.assertRpcRefused(
                "distribution.vendor.lead.time", "action_apply_learned_lead_time", lead_time.ids, context=FORGED
            )
        _result, error = self.rpc("distribution.vendor.lead.time", "_apply_days", lead_time.ids, 30, context=FORGED)
        self.assertIsNotNone(error)
        self.assertEqual(self.bolt.seller_ids.delay, 7)
        self.assertEqual(change.new_min, 25)
