"""The order hold, attacked through the doors a salesperson has: JSON-RPC over HTTP with a context of
their choosing, direct writes of every field that records the gate, confirm/cancel/redraft cycles."""

from odoo.tests import tagged

from .common import OrchestrationHttpCase

# Context keys that opened the gate in earlier versions, and others an attacker would try.
FORGED = {
    "distribution_skip_validation": True,
    "distribution_validating": True,
    "distribution_release": True,
    "install_mode": True,
}


@tagged("post_install", "-at_install")
class TestAttackOrderHold(OrchestrationHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._rule_credit = cls.env["distribution.validation.rule"].create(
            {"name": "Credit limit", "rule_type": "credit_limit", "outcome": "hold"}
        )

    def _held_order(self, qty=120):
        """12,000 against a 10,000 limit: held at its confirmation by the salesperson."""
        order = self._order([(self.widget, qty)])
        self.rpc_login(self.salesman)
        self.rpc("sale.order", "action_confirm", [order.id])
        self.assertEqual((order.state, order.distribution_validation_state), ("draft", "on_hold"))
        return order

    def test_forged_context_does_not_skip_the_checks(self):
        order = self._held_order()
        result, error = self.rpc("sale.order", "action_confirm", [order.id], context=FORGED)
        self.assertIsNone(error)
        self.assertEqual(result["tag"], "display_notification", "the salesperson is told why")
        self.assertEqual((order.state, order.distribution_validation_state), ("draft", "on_hold"))
        self.assertEqual(len(order.distribution_exception_ids.filtered("is_open")), 1)

    def test_every_guard_field_is_refused(self):
        order = self._held_order()
        attempts = {
            "distribution_validation_state": "released",
            "distribution_hold_reason": False,
            "distribution_validated_at": "2030-01-01 00:00:00",
            "distribution_released_at": "2030-01-01 00:00:00",
            "distribution_release_reason": "I say so",
            "distribution_check_ids": [(5, 0, 0)],
            "state": "sale",
        }
        for name, value in attempts.items():
            with self.subTest(field=name):
                message = self.assertRpcRefused("sale.order", "write", [order.id], {name: value}, context=FORGED)
                self.assertIn("not written directly", message)
        self.assertEqual((order.state, order.distribution_validation_state), ("draft", "on_hold"))
        self.assertTrue(order.distribution_check_ids)
        # After all that, a confirmation still runs the checks.
        self.rpc("sale.order", "action_confirm", [order.id], context=FORGED)
        self.assertEqual(order.state, "draft")

    def test_an_order_cannot_be_created_confirmed(self):
        self.rpc_login(self.salesman)
        self.assertRpcRefused(
            "sale.order",
            "create",
            [{"partner_id": self.customer.id, "state": "sale", "distribution_validation_state": "released"}],
        )
        self.assertFalse(self.env["sale.order"].search([("partner_id", "=", self.customer.id)]))

    def test_release_is_not_sticky_across_cancel_redraft_edit(self):
        order = self._held_order()
        self.rpc_login(self.manager)
        wizard, error = self.rpc(
            "distribution.release.wizard", "create", {"order_ids": [(6, 0, order.ids)], "reason": "Paid by wire"}
        )
        self.assertIsNone(error)
        self.rpc("distribution.release.wizard", "action_release", [wizard])
        self.assertEqual((order.state, order.distribution_validation_state), ("sale", "released"))
        # The salesperson takes the released order back to quotation and makes it ten times larger.
        self.rpc_login(self.salesman)
        for method in ("action_cancel", "action_draft"):
            _result, error = self.rpc("sale.order", method, [order.id], context={"disable_cancel_warning": True})
            self.assertIsNone(error, error)
        self.assertEqual((order.state, order.distribution_validation_state), ("draft", "not_checked"))
        line = order.order_line
        self.rpc("sale.order", "write", [order.id], {"order_line": [(1, line.id, {"product_uom_qty": 1200})]})
        self.rpc("sale.order", "action_confirm", [order.id], context=FORGED)
        self.assertEqual((order.state, order.distribution_validation_state), ("draft", "on_hold"))
        self.assertIn("credit_limit", order.distribution_hold_reason)

    def test_saving_a_held_quotation_never_confirms_it(self):
        order = self._held_order()
        line = order.order_line
        _result, error = self.rpc(
            "sale.order", "write", [order.id], {"order_line": [(1, line.id, {"product_uom_qty": 50})]}
        )
        self.assertIsNone(error)
        self.assertEqual((order.state, order.distribution_validation_state), ("draft", "validated"))
        self.assertFalse(order.distribution_exception_ids.filtered("is_open"), "the hold cleared")
        self.rpc("sale.order", "action_confirm", [order.id])
        self.assertEqual(order.state, "sale")

    def test_release_doors_are_for_managers_only(self):
        order = self._held_order()
        for user in (self.salesman, self.dist_user):
            with self.subTest(user=user.login):
                self.rpc_login(user)
                self.assertRpcRefused("sale.order", "action_distribution_release", [order.id], context=FORGED)
                self.assertRpcRefused("sale.order", "_distribution_force_release", [order.id], "because")
                self.assertRpcRefused("sale.order", "_distribution_release", [order.id], "because")
                self.assertRpcRefused(
                    "distribution.release.wizard", "create", {"order_ids": [(6, 0, order.ids)], "reason": "x"}
                )
        self.assertEqual((order.state, order.distribution_validation_state), ("draft", "on_hold"))

    def test_a_manager_release_needs_a_held_order_and_a_reason(self):
        order = self._order([(self.widget, 1)])
        self.rpc_login(self.manager)
        wizard, _error = self.rpc(
            "distribution.release.wizard", "create", {"order_ids": [(6, 0, order.ids)], "reason": "no hold"}
        )
        message = self.assertRpcRefused("distribution.release.wizard", "action_release", [wizard])
        self.assertIn("not on hold", message)
        self.assertEqual(order.state, "draft", "a release is no way to confirm an order that was never checked")
