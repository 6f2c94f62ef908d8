"""The approval of a held order, attacked through the doors its users have: the salesperson who asked
(a forged context, confirm/cancel/redraft/edit cycles, changes the approver never saw), a Distribution
User on the exception queue, a Distribution Manager's dismissal."""

from odoo import Command
from odoo.tests import new_test_user
from odoo.tests import tagged

from .common import ApprovalHttpCase

FORGED = {
    "distribution_skip_validation": True,
    "distribution_validating": True,
    "distribution_release": True,
    "distribution_purchase_approved": True,
}


@tagged("post_install", "-at_install")
class TestAttackOrderApproval(ApprovalHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dist_user = new_test_user(
            cls.env,
            "apr_attack_dist_user",
            groups="distribution_observability.group_distribution_user,sales_team.group_sale_salesman_all_leads",
        )
        cls.env["distribution.validation.rule"].create(
            {
                "name": "Discount over 10%",
                "rule_type": "discount_ceiling",
                "outcome": "approval",
                "discount_ceiling_pct": 10.0,
            }
        )
        cls.net_60 = cls.env["account.payment.term"].create(
            {"name": "60 days", "line_ids": [Command.create({"value": "percent", "value_amount": 100, "nb_days": 60})]}
        )

    def _waiting_order(self, qty=10):
        order = (
            self.env["sale.order"]
            .with_user(self.requester)
            .create(
                {
                    "partner_id": self.customer.id,
                    "order_line": [
                        Command.create({"product_id": self.product.id, "product_uom_qty": qty, "discount": 25.0})
                    ],
                }
            )
        )
        self.rpc_login(self.requester)
        self.rpc("sale.order", "action_confirm", [order.id], context=FORGED)
        order = order.with_env(self.env)
        exception = order.distribution_exception_ids
        self.assertEqual((order.state, exception.state), ("draft", "waiting_approval"))
        return order, exception, exception.approval_request_id

    def _approve(self, request, user=None):
        action = request.with_user(user or self.approver_1).action_approve()
        wizard = (
            self.env[action["res_model"]]
            .with_user(user or self.approver_1)
            .with_context(**action["context"])
            .create({"comment": "Agreed"})
        )
        wizard.action_confirm()

    def test_the_exception_cannot_be_cut_loose_from_its_approval(self):
        order, exception, request = self._waiting_order()
        self.rpc_login(self.dist_user)
        for vals in ({"approval_request_id": False}, {"state": "in_progress"}, {"blocking": False}):
            with self.subTest(vals=vals):
                self.assertRpcRefused("distribution.exception", "write", exception.ids, vals, context=FORGED)
        self.rpc("distribution.exception", "write", exception.ids, {"resolution_note": "looks fine to me"})
        message = self.assertRpcRefused("distribution.exception", "action_resolve", exception.ids, context=FORGED)
        self.assertIn("settled by its approval request", message)
        self.rpc_login(self.manager)
        message = self.assertRpcRefused("distribution.exception", "action_dismiss", exception.ids, context=FORGED)
        self.assertIn("settled by its approval request", message)
        self.assertEqual((exception.state, exception.approval_request_id), ("waiting_approval", request))
        self.assertEqual((order.state, request.state), ("draft", "pending"))

    def test_a_forged_confirmation_asks_nothing_twice_and_confirms_nothing(self):
        order, _exception, request = self._waiting_order()
        for _attempt in range(2):
            self.rpc("sale.order", "action_confirm", [order.id], context=FORGED)
        requests = self.Request.search([("res_model", "=", "sale.order"), ("res_id", "=", order.id)])
        self.assertEqual(requests, request)
        self.assertEqual(order.state, "draft")

    def test_an_approval_covers_the_order_as_approved_not_a_changed_one(self):
        order, _exception, request = self._waiting_order()
        # Before the decision, the salesperson changes what the approver will not see: the payment terms.
        _result, error = self.rpc("sale.order", "write", [order.id], {"payment_term_id": self.net_60.id})
        self.assertIsNone(error)
        self._approve(request)
        self.assertEqual(request.state, "approved")
        self.assertEqual(order.state, "draft", "the approval was given to other terms")
        second = order.distribution_exception_ids.filtered("is_open").approval_request_id
        self.assertTrue(second and second != request and second.state == "pending")

    def test_a_released_order_redrafted_and_raised_asks_again(self):
        order, _exception, request = self._waiting_order()
        self._approve(request)
        self.assertEqual((order.state, order.distribution_validation_state), ("sale", "released"))
        self.rpc_login(self.requester)
        for method in ("action_cancel", "action_draft"):
            _result, error = self.rpc("sale.order", method, [order.id], context={"disable_cancel_warning": True})
            self.assertIsNone(error, error)
        line = order.order_line
        self.rpc("sale.order", "write", [order.id], {"order_line": [(1, line.id, {"product_uom_qty": 100})]})
        self.rpc("sale.order", "action_confirm", [order.id], context=FORGED)
        self.assertEqual((order.state, order.distribution_validation_state), ("draft", "on_hold"))
        latest = order.distribution_exception_ids.filtered("is_open").approval_request_id
        self.assertNotEqual(latest, request)
        self.assertEqual(latest.state, "pending")
        self.assertAlmostEqual(latest.amount, 7500.0)

    def test_an_unchanged_redraft_stands_on_its_approval(self):
        order, _exception, request = self._waiting_order()
        self._approve(request)
        self.rpc_login(self.requester)
        for method in ("action_cancel", "action_draft", "action_confirm"):
            self.rpc("sale.order", method, [order.id], context={"disable_cancel_warning": True})
        self.assertEqual(order.state, "sale", "the same order, the same approval")
        self.assertEqual(self.Request.search_count([("res_model", "=", "sale.order"), ("res_id", "=", order.id)]), 1)

    def test_a_forced_release_is_audited(self):
        order, exception, request = self._waiting_order()
        self.rpc_login(self.manager)
        wizard, _error = self.rpc(
            "distribution.release.wizard", "create", {"order_ids": [(6, 0, order.ids)], "reason": "CEO's call"}
        )
        _result, error = self.rpc("distribution.release.wizard", "action_release", [wizard])
        self.assertIsNone(error, error)
        self.assertEqual((order.state, exception.state, request.state), ("sale", "dismissed", "cancelled"))
        entry = self.Audit.search([("action", "=", "forced_release"), ("res_id", "=", order.id)], limit=1)
        self.assertEqual(entry.actor_id, self.manager)
        self.assertIn("CEO's call", entry.data)
        self.assertIn(exception.name, entry.data)
