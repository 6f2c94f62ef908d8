import uuid

from odoo import SUPERUSER_ID
from odoo import Command
from odoo import api
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tests import tagged
from odoo.tests.common import TransactionCase
from odoo.tools import mute_logger

from .common_gates import GateAttackCase
from .common_gates import TwoConnectionsMixin

OLD_KEY = "distribution_purchase_approved"


@tagged("post_install", "-at_install")
class TestAttackPurchase(GateAttackCase):
    """The purchase approval as a buyer (Purchase User) attacks it over JSON-RPC: a forged context key,
    a direct write of the order's state, an order changed after its request or after its approval,
    and one purchase split into small orders."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.vendor = cls.env["res.partner"].create({"name": "Gate Supplies Ltd"})
        cls.company.write(
            {"distribution_purchase_approval_amount": 500.0, "distribution_approval_split_window_hours": 24}
        )

    def setUp(self):
        super().setUp()
        self.rpc_login(self.buyer)

    def _create(self, qty, price=60.0, emergency=False, context=None, **vals):
        order_id, error = self.rpc(
            "purchase.order",
            "create",
            dict(
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
                },
                **vals,
            ),
            context=context,
        )
        self.assertIsNone(error)
        return self.env["purchase.order"].browse(order_id)

    def test_forged_context_key_confirms_nothing(self):
        forged = {OLD_KEY: True}
        order = self._create(10, emergency=True)  # 600, emergency
        result, error = self.rpc("purchase.order", "button_confirm", [order.id], context=forged)
        self.assertIsNone(error)
        self.assertEqual(result["params"]["title"], "Not confirmed: waiting for approval")
        self.assertEqual(order.state, "draft")
        request = self._requests(order)
        self.assertEqual(request.state, "pending")
        # The second step of a double validation, the key forged: refused.
        self.assertRpcRefused("purchase.order", "button_approve", [order.id], context=forged)
        self.assertEqual(order.state, "draft")
        # Writing the state directly, with or without the key: refused.
        for state in ("purchase", "done"):
            self.assertRpcRefused("purchase.order", "write", [order.id], {"state": state}, context=forged)
            self.assertEqual(order.state, "draft")
        # An order created confirmed: refused.
        result, error = self.rpc(
            "purchase.order",
            "create",
            {"partner_id": self.vendor.id, "state": "purchase"},
            context=forged,
        )
        self.assertIsNotNone(error, result)
        # The approval's own callback is private: no door from outside.
        self.assertRpcRefused("purchase.order", "_distribution_approval_approved", [order.id], request.id)
        self.assertRpcRefused("purchase.order", "_apply_approved_purchase", [order.id], request.id)
        self.assertEqual(order.state, "draft")
        self.assertEqual(self._audit_actions(request), ["requested"])
        self._decide(request, self.approver_1, "approve", "Needed today.")
        self.assertEqual(order.state, "purchase")
        self.assertEqual(self._audit_actions(request), ["requested", "approved"])

    def test_order_changed_after_the_request_is_not_confirmed_by_the_approval(self):
        order = self._create(10, emergency=True)
        self.rpc("purchase.order", "button_confirm", [order.id])
        request = self._requests(order)
        line = order.order_line
        # Same total, twice the quantity at half the price: not what the approver sees.
        _result, error = self.rpc(
            "purchase.order",
            "write",
            [order.id],
            {"order_line": [Command.update(line.id, {"product_qty": 20, "price_unit": 30.0})]},
            context={OLD_KEY: True},
        )
        self.assertIsNone(error)
        self._decide(request, self.approver_1, "approve", "Ok for 10 at 60.")
        self.assertEqual(request.state, "approved")
        self.assertEqual(order.state, "draft", "the approval does not apply to the changed order")
        # Confirming now asks for the order as it is.
        self.rpc("purchase.order", "button_confirm", [order.id], context={OLD_KEY: True})
        self.assertEqual(order.state, "draft")
        second = self._requests(order) - request
        self.assertEqual(second.state, "pending")
        self.assertIn("requested", self._audit_actions(second))

    def test_redraft_and_edit_after_the_approval_asks_again(self):
        order = self._create(10, emergency=True)
        self.rpc("purchase.order", "button_confirm", [order.id])
        request = self._requests(order)
        self._decide(request, self.approver_1, "approve", "Ok.")
        self.assertEqual(order.state, "purchase")
        for method in ("button_cancel", "button_draft"):
            _result, error = self.rpc("purchase.order", method, [order.id])
            self.assertIsNone(error, error)
        self.assertEqual(order.state, "draft")
        _result, error = self.rpc(
            "purchase.order",
            "write",
            [order.id],
            {"order_line": [Command.update(order.order_line.id, {"product_qty": 100})]},
        )
        self.assertIsNone(error)
        self.rpc("purchase.order", "button_confirm", [order.id], context={OLD_KEY: True})
        self.assertEqual(order.state, "draft", "ten times the amount is not covered by the old approval")
        self.assertEqual((self._requests(order) - request).state, "pending")
        # The same order as approved (back to 10) is covered again.
        self.rpc(
            "purchase.order",
            "write",
            [order.id],
            {"order_line": [Command.update(order.order_line.id, {"product_qty": 10})]},
        )
        self.rpc("purchase.order", "button_confirm", [order.id])
        self.assertEqual(order.state, "purchase")

    def test_splitting_a_purchase_into_small_orders_asks_for_approval(self):
        orders = [self._create(3) for _i in range(3)]  # 180 each: 540 over the window
        for order in orders:
            self.rpc("purchase.order", "button_confirm", [order.id], context={OLD_KEY: True})
        self.assertEqual([order.state for order in orders], ["purchase", "purchase", "draft"])
        request = self._requests(orders[2])
        self.assertEqual(request.state, "pending")
        self.assertIn("last 24 hours", request.reason)
        # Writing the held one confirmed is refused; so is moving it to another vendor's count and back.
        self.assertRpcRefused("purchase.order", "write", [orders[2].id], {"state": "purchase"})
        self.assertEqual(orders[2].state, "draft")
        self._decide(request, self.approver_1, "approve", "One delivery, three orders.")
        self.assertEqual(orders[2].state, "purchase")
        self.assertEqual(self._audit_actions(request), ["requested", "approved"])

    def test_confirmed_order_is_no_way_around_the_gate(self):
        order = self._create(5)  # 300: under the threshold, confirmed at once
        self.rpc("purchase.order", "button_confirm", [order.id])
        self.assertEqual(order.state, "purchase")
        line = order.order_line
        # Raising it over the threshold afterwards: refused, through the order or the line.
        self.assertRpcRefused(
            "purchase.order",
            "write",
            [order.id],
            {"order_line": [Command.update(line.id, {"product_qty": 50})]},
            context={OLD_KEY: True},
        )
        self.assertRpcRefused("purchase.order.line", "write", [line.id], {"price_unit": 600.0})
        self.assertRpcRefused(
            "purchase.order.line",
            "create",
            {"order_id": order.id, "product_id": self.product.id, "product_qty": 50, "price_unit": 60.0},
        )
        self.assertEqual((line.product_qty, line.price_unit, len(order.order_line)), (5, 60.0, 1))
        # A raise that stays under the threshold is an ordinary edit.
        self.assertIsNone(self.rpc("purchase.order.line", "write", [line.id], {"product_qty": 6})[1])
        self.assertEqual(line.product_qty, 6)
        # Moving it out of the vendor's window: the vendor and the confirmation date are fixed.
        other_vendor = self.env["res.partner"].create({"name": "Elsewhere Ltd"})
        self.assertRpcRefused("purchase.order", "write", [order.id], {"partner_id": other_vendor.id})
        self.assertRpcRefused("purchase.order", "write", [order.id], {"date_approve": "2020-01-01 00:00:00"})
        self.assertEqual(order.partner_id, self.vendor)


@tagged("post_install", "-at_install")
class TestAttackPurchaseConcurrency(TwoConnectionsMixin, TransactionCase):
    """Two buyers confirm two halves of one purchase at the same time, on two connections: the second
    sums the window with the first one's order (after Odoo's retry), never from a snapshot without it.
    The data is committed in a company made for the test."""

    def test_two_halves_confirmed_at_once_are_summed(self):
        suffix = uuid.uuid4().hex[:8]
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env["res.company"].create(
                {
                    "name": f"Split Concurrency {suffix}",
                    "distribution_purchase_approval_amount": 500.0,
                    "distribution_approval_split_window_hours": 24,
                }
            )
            env = env(context={"allowed_company_ids": company.ids})
            vendor = env["res.partner"].create({"name": f"Split Vendor {suffix}", "company_id": company.id})
            product = env["product.product"].create({"name": f"Split Widget {suffix}", "type": "consu"})
            orders = env["purchase.order"].create(
                [
                    {
                        "company_id": company.id,
                        "partner_id": vendor.id,
                        "order_line": [
                            Command.create(
                                {
                                    "product_id": product.id,
                                    "product_qty": 5,
                                    "price_unit": 60.0,
                                    "taxes_id": [Command.clear()],
                                }
                            )
                        ],
                    }
                    for _half in (1, 2)
                ]
            )
            ids = orders.ids
            company_id = company.id

        def confirm(index):
            def run(env):
                env = env(context={"allowed_company_ids": [company_id]})
                env["purchase.order"].browse(ids[index]).button_confirm()

            return run

        # The second's failed update is logged by the database layer before Odoo retries it.
        with mute_logger("odoo.sql_db"):
            attempts, retried = self._run_concurrently(confirm(0), confirm(1))
        self.assertEqual(attempts, {"first": 1, "second": 2}, "the second waited, failed to serialize, was retried")
        self.assertIsInstance(retried[0], PG_CONCURRENCY_EXCEPTIONS_TO_RETRY)
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"allowed_company_ids": [company_id]})
            orders = env["purchase.order"].browse(ids)
            self.assertEqual(orders.mapped("state"), ["purchase", "draft"])
            request = env["distribution.approval.request"].search(
                [("res_model", "=", "purchase.order"), ("res_id", "=", ids[1])]
            )
            self.assertEqual(request.state, "pending")
            self.assertIn("last 24 hours", request.reason)
