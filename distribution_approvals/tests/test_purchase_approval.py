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
        self.company.distribution_purchase_approval_amount = 500.0
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
