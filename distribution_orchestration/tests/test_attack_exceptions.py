"""The exception queue, attacked through the doors a Distribution User has: writes of the fields that
say where an exception stands, the buttons called directly, a forged context."""

from odoo.tests import tagged

from .common import OrchestrationHttpCase

FORGED = {"distribution_release": True, "distribution_validating": True, "active_test": False}


@tagged("post_install", "-at_install")
class TestAttackExceptions(OrchestrationHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["distribution.validation.rule"].create(
            [
                {"name": "Credit limit", "rule_type": "credit_limit", "outcome": "hold"},
                {"name": "Margin", "rule_type": "margin_floor", "outcome": "hold", "margin_floor_pct": 60},
            ]
        )

    def _held(self):
        order = self._order([(self.widget, 120)])
        order.with_user(self.salesman).action_confirm()
        exceptions = order.distribution_exception_ids
        self.assertEqual(len(exceptions), 2)
        return order, exceptions

    def test_the_state_and_the_gate_fields_are_refused(self):
        order, exceptions = self._held()
        self.rpc_login(self.dist_user)
        attempts = {
            "state": "resolved",
            "blocking": False,
            "resolved_at": "2030-01-01 00:00:00",
            "resolved_by_id": self.dist_user.id,
            "sale_order_id": False,
            "res_id": 0,
            "source_key": "other",
            "rule_id": False,
        }
        for name, value in attempts.items():
            with self.subTest(field=name):
                self.assertRpcRefused("distribution.exception", "write", exceptions.ids, {name: value}, context=FORGED)
        self.assertEqual(set(exceptions.mapped("state")), {"new"})
        self.assertTrue(all(exceptions.mapped("blocking")))
        self.assertEqual(order.state, "draft")
        # What a Distribution User works with stays editable.
        _result, error = self.rpc(
            "distribution.exception", "write", exceptions.ids, {"user_id": self.dist_user.id, "severity": "high"}
        )
        self.assertIsNone(error)
        self.assertEqual(exceptions.user_id, self.dist_user)

    def test_dismissal_is_for_managers_on_the_server(self):
        _order, exceptions = self._held()
        self.rpc_login(self.dist_user)
        self.rpc("distribution.exception", "write", exceptions.ids, {"resolution_note": "not my problem"})
        message = self.assertRpcRefused("distribution.exception", "action_dismiss", exceptions.ids, context=FORGED)
        self.assertIn("Distribution Manager", message)
        self.assertEqual(set(exceptions.mapped("state")), {"new"})

    def test_a_salesperson_cannot_resolve_their_own_hold(self):
        _order, exceptions = self._held()
        self.rpc_login(self.salesman)
        self.assertRpcRefused("distribution.exception", "write", exceptions.ids, {"resolution_note": "fine"})
        self.assertRpcRefused("distribution.exception", "action_resolve", exceptions.ids, context=FORGED)
        self.assertRpcRefused("distribution.exception", "_mark_resolved", exceptions.ids, "done")
        self.assertEqual(set(exceptions.mapped("state")), {"new"})

    def test_exceptions_are_not_created_or_deleted_by_hand(self):
        order, exceptions = self._held()
        self.rpc_login(self.manager)
        self.assertRpcRefused(
            "distribution.exception",
            "create",
            {"source_key": "x", "category": "other", "res_model": "sale.order", "res_id": order.id},
        )
        message = self.assertRpcRefused("distribution.exception", "unlink", exceptions.ids)
        self.assertIn("cannot be deleted", message)
        self.assertEqual(len(exceptions.exists()), 2)

    def test_resolving_several_keeps_each_note_and_releases_the_order(self):
        order, exceptions = self._held()
        first, second = exceptions.sorted("id")
        self.rpc_login(self.dist_user)
        self.rpc("distribution.exception", "write", first.ids, {"resolution_note": "Paid by wire"})
        self.rpc("distribution.exception", "write", second.ids, {"resolution_note": "Launch price agreed"})
        _result, error = self.rpc("distribution.exception", "action_resolve", exceptions.ids)
        self.assertIsNone(error, error)
        self.assertEqual(first.resolution_note, "Paid by wire")
        self.assertEqual(second.resolution_note, "Launch price agreed")
        self.assertEqual(set(exceptions.mapped("state")), {"resolved"})
        self.assertEqual(exceptions.resolved_by_id, self.dist_user)
        # The holds were resolved by the person in charge: the order releases through its own path.
        self.assertEqual((order.state, order.distribution_validation_state), ("sale", "released"))

    def test_a_resolved_exception_cannot_be_resolved_again(self):
        _order, exceptions = self._held()
        first = exceptions[:1]
        self.rpc_login(self.dist_user)
        self.rpc("distribution.exception", "write", first.ids, {"resolution_note": "done"})
        self.rpc("distribution.exception", "action_resolve", first.ids)
        message = self.assertRpcRefused("distribution.exception", "action_resolve", first.ids)
        self.assertIn("closed already", message)
