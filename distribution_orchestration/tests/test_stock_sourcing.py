from odoo.tests import tagged

from .common import OrchestrationCase


@tagged("post_install", "-at_install")
class TestStockSourcing(OrchestrationCase):
    """Stock availability: alternate warehouse, backorder policies, procurement, auto-resolution."""

    def test_enough_stock_passes(self):
        self._rule("stock_availability")
        self._stock(self.widget, 5)
        order = self._order([(self.widget, 5)])
        order.action_confirm()
        self.assertEqual(order.state, "sale")

    def test_reserved_stock_is_not_free(self):
        self._rule("stock_availability")
        self._stock(self.widget, 5)
        first = self._order([(self.widget, 4)])
        first.action_confirm()  # reserves 4 of 5
        second = self._order([(self.widget, 2)])
        second.action_confirm()
        self.assertEqual(second.distribution_hold_reason, "stock_shortage")
        self.assertEqual(second.distribution_check_ids.values["shortages"], {"[WID] Widget": 1.0})

    def test_alternate_warehouse_is_proposed_with_quantities(self):
        self._rule("stock_availability")
        self._stock(self.widget, 2)
        self._stock(self.widget, 10, self.wh_east)
        order = self._order([(self.widget, 5)])
        order.action_confirm()
        values = order.distribution_check_ids.values
        self.assertEqual(values["proposal"], "alternate_warehouse")
        self.assertEqual(values["alternate_warehouse"], self.wh_east.id)
        self.assertEqual(values["free_here"], {"[WID] Widget": 2.0})
        self.assertIn("East", order.distribution_check_ids.message)
        self.assertEqual(order.warehouse_id, self.wh_main, "propose only: nothing changed")

    def test_alternate_warehouse_applied_automatically(self):
        self._rule("stock_availability", shortage_action="apply")
        self._stock(self.widget, 10, self.wh_east)
        self._stock(self.gadget, 10, self.wh_east)
        order = self._order([(self.widget, 5), (self.gadget, 1)])
        order.action_confirm()
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.warehouse_id, self.wh_east)
        self.assertEqual(order.picking_ids.picking_type_id.warehouse_id, self.wh_east)
        check = order.distribution_check_ids
        self.assertEqual(check.outcome, "note")
        self.assertIn("sourced from East", check.message)

    def test_backorder_policies(self):
        self._rule("stock_availability", shortage_action="apply")
        self._stock(self.widget, 2)
        self.customer.distribution_backorder_policy = "ship_partial"
        partial = self._order([(self.widget, 5)])
        partial.action_confirm()
        self.assertEqual((partial.state, partial.picking_policy), ("sale", "direct"))

        self._stock(self.widget, 5)  # the partial order reserved what was here
        complete_customer = self.customer.copy({"distribution_backorder_policy": "ship_complete"})
        complete = self._order([(self.gadget, 1), (self.widget, 1)], partner=complete_customer)
        complete.action_confirm()
        self.assertEqual((complete.state, complete.picking_policy), ("sale", "one"))

        asking_customer = self.customer.copy({"distribution_backorder_policy": "ask"})
        ask = self._order([(self.widget, 5)], partner=asking_customer)
        ask.action_confirm()
        self.assertEqual(ask.state, "draft")
        self.assertEqual(ask.distribution_check_ids.values["proposal"], "ask")

    def test_nothing_anywhere_proposes_procurement(self):
        self._rule("stock_availability", shortage_action="apply")
        order = self._order([(self.gadget, 3)])
        order.action_confirm()
        self.assertEqual(order.state, "draft")
        values = order.distribution_check_ids.values
        self.assertEqual((values["proposal"], values["to_procure"]), ("procure", ["[GAD] Gadget"]))

    def test_held_order_confirms_itself_when_stock_arrives(self):
        self._rule("stock_availability")
        order = self._order([(self.widget, 3)])
        order.action_confirm()
        exception = order.distribution_exception_ids
        self.assertEqual(order.state, "draft")
        self.env["sale.order"]._cron_revalidate_held_orders()
        self.assertEqual(order.state, "draft", "still short")
        self._stock(self.widget, 3)
        self.env["sale.order"]._cron_revalidate_held_orders()
        self.assertEqual(exception.state, "resolved")
        self.assertFalse(exception.resolved_by_id, "resolved by the system")
        self.assertEqual(order.state, "sale")
