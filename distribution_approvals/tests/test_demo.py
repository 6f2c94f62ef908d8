from odoo import fields
from odoo.addons.distribution_observability.tests.test_demo import demo_installed
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

MODULE = "distribution_approvals"
ORCHESTRATION = "distribution_orchestration"
# Queues whose items the demo makes at install time and that count only recent ones: (code, hours).
RECENT_QUEUES = {"inbound_rejections_1h": 1}
# Queues whose items are outages: a demo whose classifier servers are up leaves them empty.
EMPTY_WHEN_HEALTHY = {"ai_breaker_open"}


@tagged("post_install", "-at_install")
class TestApprovalsDemo(TransactionCase):
    """The approvals' demo was made through the pipeline and the request's own buttons: each request has the
    audit entries of what was done to it and the chain verifies; and with the demo of the three addons the
    dashboard has something in every tile and every queue."""

    def setUp(self):
        super().setUp()
        demo_installed(self, MODULE, f"{MODULE}.demo_request_escalated")
        self.director = self.env.ref(f"{MODULE}.user_demo_sales_director")
        self.sales_rep = self.env.ref(f"{ORCHESTRATION}.user_demo_sales_rep")

    def _request(self, name):
        return self.env.ref(f"{MODULE}.demo_request_{name}")

    def _audit_actions(self, request):
        entries = self.env["distribution.audit.entry"].search(
            [("res_model", "=", request._name), ("res_id", "=", request.id)], order="sequence"
        )
        return entries.mapped("action")

    def test_approved_request_released_its_order(self):
        request = self._request("approved")
        self.assertEqual(request.state, "approved")
        self.assertEqual(request.requested_by_id, self.sales_rep)
        self.assertFalse(request.auto_approved)
        self.assertEqual(len(request.tier_ids), 2, "an order from 10,000: approver, then manager")
        self.assertEqual(request.decision_ids.user_id, self.director | self.env.ref("base.user_admin"))
        self.assertEqual(self._audit_actions(request), ["requested", "approved", "approved"])
        self.assertGreater(request.cycle_hours, 4)
        order = self.env.ref(f"{MODULE}.demo_order_discount_approved")
        self.assertEqual((order.state, order.distribution_validation_state), ("sale", "released"))
        exception = order.distribution_exception_ids.filtered(lambda e: e.category == "discount")
        self.assertEqual((exception.state, exception.approval_request_id), ("resolved", request))
        check = order.distribution_check_ids.filtered(lambda c: c.reason_code == "discount_ceiling")
        self.assertEqual(check.outcome, "approval")

    def test_rejected_request_keeps_its_order_held(self):
        request = self._request("rejected")
        self.assertEqual(request.state, "rejected")
        self.assertEqual(self._audit_actions(request), ["requested", "rejected"])
        self.assertTrue(request.decision_comment)
        order = self.env.ref(f"{MODULE}.demo_order_discount_rejected")
        self.assertEqual((order.state, order.distribution_validation_state), ("draft", "on_hold"))
        exception = order.distribution_exception_ids.filtered(lambda e: e.category == "discount")
        self.assertEqual(exception.state, "in_progress", "back to work with the rejection's comment")

    def test_pending_and_escalated_requests(self):
        pending = self._request("pending")
        self.assertEqual(pending.state, "pending")
        self.assertEqual(pending.current_tier_id.state, "pending")
        self.assertIn(self.director, pending.current_approver_ids)
        exception = self.env.ref(f"{MODULE}.demo_order_discount_pending").distribution_exception_ids
        self.assertEqual(exception.filtered(lambda e: e.category == "discount").state, "waiting_approval")
        escalated = self._request("escalated")
        self.assertEqual(escalated.state, "pending")
        self.assertEqual(escalated.rule_id, self.env.ref(f"{MODULE}.distribution_approval_rule_demo_key_accounts"))
        self.assertIn(self.env.ref(f"{MODULE}.user_demo_head_of_sales"), escalated.current_approver_ids)
        self.assertEqual(escalated.current_tier_id.escalation_level, 1)
        self.assertEqual(self._audit_actions(escalated), ["requested", "escalated"])

    def test_audit_chain_verifies(self):
        result = self.env["distribution.audit.entry"]._verify_chain(self.env.company)
        self.assertIsNone(result["reason"], result)
        self.assertGreater(result["checked"], 5)

    def test_cycle_time_figures(self):
        figures = self.env["distribution.workflow.run"]._approval_figures()
        self.assertGreaterEqual(figures["decided"], 3)
        self.assertGreater(figures["cycle_hours_p50"], 1)
        self.assertGreaterEqual(figures["pending"], 2)
        self.assertGreaterEqual(figures["overdue_tiers"], 1, "the escalated tier is past its SLA")

    def test_every_tile_and_queue_of_the_dashboard(self):
        """With the demo of the three addons installed, the dashboard shows something everywhere. Windows
        shorter than the demo's age (a database copied from an older template) are left out."""
        Run = self.env["distribution.workflow.run"]
        age = fields.Datetime.now() - self._request("escalated").create_date
        try:
            data = Run.get_dashboard_data(period="7d")
        except TypeError:  # a dashboard without periods: its tiles count the last 24 hours
            data = Run.get_dashboard_data()
        if age.total_seconds() < 23 * 3600 or data.get("period") == "7d":
            for key, value in data["tiles"].items():
                self.assertTrue(value, f"tile {key} is empty")
            self.assertTrue(any(data["chart"]["runs"]), "the chart has runs")
            for row in data["workflows"]:
                self.assertTrue(row["runs"], f"workflow {row['code']} has no runs")
        for tile in data.get("extra_tiles", []):
            self.assertTrue(tile["value"], f"tile {tile['key']} is empty")
        for queue in data["queues"]:
            hours = RECENT_QUEUES.get(queue["code"])
            if (hours and age.total_seconds() > hours * 3600 * 0.9) or queue["code"] in EMPTY_WHEN_HEALTHY:
                continue
            self.assertTrue(queue["backlog"], f"queue {queue['code']} is empty")
