from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import new_test_user
from odoo.tests import tagged

from .common import ApprovalCase


@tagged("post_install", "-at_install")
class TestPurchaseApproval(ApprovalCase):
    """Emergency purchases and purchases over the company threshold are confirmed only once approved."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.buyer = new_test_user(cls.env, "apr_buyer", groups="purchase.group_purchase_user")
        cls.vendor = cls.env["res.partner"].create({"name": "Emergency Supplies Ltd"})

    def _po(self, qty=10, price=60.0, emergency=False):
        order = (
            self.env["purchase.order"]
            .with_user(self.buyer)
            .create(
                {
                    "partner_id": self.vendor.id,
                    "distribution_emergency": emergency,
                    "order_line": [
                        Command.create(
                            {
                                "product_id": self.product.id,
                                "product_qty": qty,
                                "price_unit": price,
                                "taxes_id": [Command.clear()],
                            }
                        )
                    ],
                }
            )
        )
        return order.with_env(self.env)

    def _requests(self, order):
        return self.Request.search([("res_model", "=", "purchase.order"), ("res_id", "=", order.id)])

    def _decide(self, request, user, decision, comment):
        action = getattr(request.with_user(user), f"action_{decision}")()
        self.env[action["res_model"]].with_user(user).with_context(**action["context"]).create(
            {"comment": comment}
        ).action_confirm()

    def test_emergency_purchase_is_confirmed_only_after_approval(self):
        order = self._po(emergency=True)
        action = order.with_user(self.buyer).button_confirm()
        self.assertEqual(order.state, "draft")
        request = self._requests(order)
        self.assertEqual((request.request_type, request.state), ("emergency_purchase", "pending"))
        self.assertEqual(request.requested_by_id, self.buyer)
        self.assertAlmostEqual(request.amount, 600.0)
        self.assertIn("Emergency purchase", request.reason)
        self.assertEqual(action["params"]["title"], "Not confirmed: waiting for approval")
        self.assertIn(request.name, action["params"]["message"])
        # Confirming again asks nothing new; approving the order directly is no way around it.
        order.with_user(self.buyer).button_confirm()
        self.assertEqual(self._requests(order), request)
        with self.assertRaises(UserError):
            order.with_user(self.buyer).button_approve()
        self.assertEqual(order.state, "draft")
        self._decide(request, self.approver_1, "approve", "Line stop otherwise.")
        self.assertEqual(request.state, "approved")
        self.assertEqual(order.state, "purchase")
        self.assertTrue(order.picking_ids, "the receipt is created on confirmation")

    def test_rejection_keeps_the_rfq_and_posts_the_comment(self):
        order = self._po(emergency=True)
        order.with_user(self.buyer).button_confirm()
        request = self._requests(order)
        self._decide(request, self.approver_2, "reject", "Use the framework contract supplier.")
        self.assertEqual(order.state, "draft")
        note = self.env["mail.message"].search(
            [("model", "=", "purchase.order"), ("res_id", "=", order.id), ("body", "ilike", "framework contract")]
        )
        self.assertEqual(len(note), 1)
        self.assertIn(self.buyer.partner_id, note.partner_ids)
        order.invalidate_recordset()
        as_buyer = order.with_user(self.buyer)
        self.assertEqual(as_buyer.distribution_approval_state, "rejected")
        self.assertEqual(as_buyer.distribution_approval_last_comment, "Use the framework contract supplier.")

    def test_threshold_on_the_company_amount(self):
        # Each order alone (the split window is tested below).
        self.company.write(
            {"distribution_purchase_approval_amount": 500.0, "distribution_approval_split_window_hours": 0}
        )
        small = self._po(qty=5)  # 300
        small.with_user(self.buyer).button_confirm()
        self.assertEqual(small.state, "purchase")
        self.assertFalse(self._requests(small))
        at_threshold = self._po(qty=5, price=100.0)  # 500: not over
        at_threshold.with_user(self.buyer).button_confirm()
        self.assertEqual(at_threshold.state, "purchase")
        big = self._po(qty=10)  # 600
        big.with_user(self.buyer).button_confirm()
        self.assertEqual(big.state, "draft")
        self.assertIn("over the approval threshold", self._requests(big).reason)

    def test_threshold_off_and_not_emergency_confirms_as_usual(self):
        order = self._po(qty=1000)
        order.with_user(self.buyer).button_confirm()
        self.assertEqual(order.state, "purchase")
        self.assertFalse(self._requests(order))

    def test_auto_approved_request_confirms_at_once(self):
        self._rule("emergency_purchase", auto_approve_below=1000.0)
        order = self._po(emergency=True)
        order.with_user(self.buyer).button_confirm()
        request = self._requests(order)
        self.assertEqual((request.state, request.auto_approved), ("approved", True))
        self.assertEqual(order.state, "purchase")

    def test_orders_split_within_the_window_are_summed(self):
        self.company.distribution_purchase_approval_amount = 500.0  # window: 24 hours by default
        first = self._po(qty=4)  # 240
        first.with_user(self.buyer).button_confirm()
        self.assertEqual(first.state, "purchase")
        second = self._po(qty=4)  # 240: 480 in the window
        second.with_user(self.buyer).button_confirm()
        self.assertEqual(second.state, "purchase")
        third = self._po(qty=1)  # 60: 540 in the window
        third.with_user(self.buyer).button_confirm()
        self.assertEqual(third.state, "draft")
        request = self._requests(third)
        self.assertEqual(request.state, "pending")
        self.assertIn("last 24 hours", request.reason)
        # A waiting order counts too: a fourth small one waits as well.
        fourth = self._po(qty=1)
        fourth.with_user(self.buyer).button_confirm()
        self.assertEqual(fourth.state, "draft")
        # Another vendor's orders are not summed with these.
        other_vendor = self.env["res.partner"].create({"name": "Other Supplies Ltd"})
        other = self._po(qty=4)
        other.partner_id = other_vendor
        other.with_user(self.buyer).button_confirm()
        self.assertEqual(other.state, "purchase")
        # Outside the window, the old orders no longer count.
        self.company.distribution_approval_split_window_hours = 0
        fifth = self._po(qty=1)
        fifth.with_user(self.buyer).button_confirm()
        self.assertEqual(fifth.state, "purchase")

    def test_threshold_changes_enter_the_audit_trail(self):
        self.company.distribution_purchase_approval_amount = 0.0
        self.company.write(
            {"distribution_purchase_approval_amount": 750.0, "distribution_approval_split_window_hours": 48}
        )
        entry = self.Audit.search(
            [("res_model", "=", "res.company"), ("res_id", "=", self.company.id), ("action", "=", "config_changed")],
            order="sequence desc",
            limit=1,
        )
        self.assertIn('"distribution_purchase_approval_amount"', entry.data)
        self.assertIn('"new":750.0', entry.data.replace(" ", ""))
        self.assertIn('"distribution_approval_split_window_hours"', entry.data)
        self.assertIn('"old":24', entry.data.replace(" ", ""))

    def test_approval_is_bound_to_the_lines_not_only_the_amount(self):
        order = self._po(emergency=True)  # 10 x 60
        order.with_user(self.buyer).button_confirm()
        request = self._requests(order)
        # Same total, other lines: what was approved is not what would be bought.
        order.with_user(self.buyer).write(
            {"order_line": [Command.update(order.order_line.id, {"product_qty": 20, "price_unit": 30.0})]}
        )
        self._decide(request, self.approver_1, "approve", "Ok for 10 at 60.")
        self.assertEqual(order.state, "draft")
        order.with_user(self.buyer).button_confirm()
        second = self._requests(order) - request
        self.assertEqual(second.state, "pending")
        self.assertEqual(order.state, "draft")

    def test_order_changed_while_waiting_asks_again(self):
        order = self._po(emergency=True)
        order.with_user(self.buyer).button_confirm()
        first = self._requests(order)
        order.with_user(self.buyer).write({"order_line": [Command.update(order.order_line.id, {"product_qty": 12})]})
        order.with_user(self.buyer).button_confirm()
        second = self._requests(order) - first
        self.assertEqual((first.state, second.state), ("cancelled", "pending"))
        self.assertEqual(second.amount, 720.0)
        audit = [("res_model", "=", first._name), ("res_id", "=", first.id), ("action", "=", "cancelled")]
        self.assertTrue(self.Audit.search(audit))
        self.assertEqual(order.state, "draft")

    def test_order_raised_after_the_request_asks_again(self):
        order = self._po(emergency=True)
        order.with_user(self.buyer).button_confirm()
        first = self._requests(order)
        order.with_user(self.buyer).write(
            {"order_line": [Command.update(order.order_line.id, {"product_qty": 20})]}
        )  # 1,200
        self._decide(first, self.approver_1, "approve", "Ok for 600.")
        self.assertEqual(order.state, "draft")
        order.with_user(self.buyer).button_confirm()
        second = self._requests(order) - first
        self.assertEqual((second.state, second.amount), ("pending", 1200.0))
        self.assertEqual(order.state, "draft")
