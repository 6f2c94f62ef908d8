"""Batches of orders: each company's orders are checked with that company's settings and warehouses,
and the scheduled re-validation isolates an order that fails."""

from unittest.mock import patch

from odoo import Command
from odoo.tests import tagged

from .common import OrchestrationCase


@tagged("post_install", "-at_install")
class TestCompanyBatches(OrchestrationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = cls.env["res.company"].create({"name": "Second Distribution Co", "account_use_credit_limit": True})
        # The second company's default credit limit (Settings > Invoicing), none in the first.
        cls.env["ir.default"].set("res.partner", "credit_limit", 1000.0, company_id=cls.other.id)
        cls.env.user.company_ids |= cls.other
        cls.wh_other = cls.env["stock.warehouse"].search([("company_id", "=", cls.other.id)], limit=1)
        # A customer without a limit of their own: each company's default limit applies.
        cls.shared_customer = cls.env["res.partner"].create({"name": "Shared Customer"})
        for company in (cls.company, cls.other):
            cls.env["distribution.validation.rule"].create(
                [
                    {"name": "Credit", "rule_type": "credit_limit", "outcome": "hold", "company_id": company.id},
                    {
                        "name": "Stock",
                        "rule_type": "stock_availability",
                        "outcome": "warn",
                        "company_id": company.id,
                    },
                ]
            )

    def _order_in(self, company, warehouse, qty):
        return (
            self.env["sale.order"]
            .with_company(company)
            .create(
                {
                    "partner_id": self.shared_customer.id,
                    "company_id": company.id,
                    "warehouse_id": warehouse.id,
                    "order_line": [Command.create({"product_id": self.widget.id, "product_uom_qty": qty})],
                }
            )
        )

    def test_each_company_is_checked_with_its_own_credit_settings(self):
        first = self._order_in(self.company, self.wh_main, 15)  # 1,500: no default limit here
        second = self._order_in(self.other, self.wh_other, 15)  # 1,500 over the second company's 1,000
        held = (first | second)._distribution_validate()
        self.assertEqual(held, second)
        self.assertEqual(first.distribution_validation_state, "warning", "short of stock, not held for credit")
        self.assertEqual(second.distribution_hold_reason, "credit_limit")
        # The other way round in the batch: the same answer.
        (second | first)._distribution_validate()
        self.assertEqual(first.distribution_validation_state, "warning")
        self.assertEqual(second.distribution_validation_state, "on_hold")

    def test_alternate_warehouses_come_from_the_order_company_only(self):
        self._stock(self.widget, 100, self.wh_east)  # the first company has the stock
        first = self._order_in(self.company, self.wh_main, 5)
        second = self._order_in(self.other, self.wh_other, 5)
        (second | first)._distribution_validate()
        first_check = first.distribution_check_ids.filtered(lambda c: c.reason_code != "credit_ok")
        second_check = second.distribution_check_ids.filtered(lambda c: c.rule_id.rule_type == "stock_availability")
        self.assertEqual(first_check.values.get("alternate_warehouse"), self.wh_east.id)
        self.assertNotEqual(second_check.values.get("proposal"), "alternate_warehouse")
        self.assertNotIn(self.wh_east.id, [second_check.values.get("alternate_warehouse")])

    def test_each_company_has_its_own_validation_run(self):
        first = self._order_in(self.company, self.wh_main, 1)
        second = self._order_in(self.other, self.wh_other, 1)
        (first | second)._distribution_validate()
        runs = self.env["distribution.workflow.run"].search(
            [("workflow_id.code", "=", "order_validation"), ("parent_id", "=", False)], limit=2
        )
        self.assertEqual(set(runs.company_id.ids), {self.company.id, self.other.id})


@tagged("post_install", "-at_install")
class TestHeldOrderCron(OrchestrationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["distribution.validation.rule"].create(
            {"name": "Credit", "rule_type": "credit_limit", "outcome": "hold"}
        )

    def _held(self, count):
        orders = self.env["sale.order"]
        for _index in range(count):
            order = self._order([(self.widget, 120)])
            order.action_confirm()
            orders |= order
        self.assertEqual(set(orders.mapped("distribution_validation_state")), {"on_hold"})
        return orders

    def test_a_failing_order_does_not_stop_the_others(self):
        poison, *others = self._held(3)
        self.customer.credit_limit = 100000.0  # every hold clears
        SaleOrder = type(self.env["sale.order"])
        original = SaleOrder._distribution_check_credit_limit

        def failing(self_, rule, order, data):
            if order == poison:
                raise ValueError("corrupt data on this order")
            return original(self_, rule, order, data)

        Run = type(self.env["distribution.workflow.run"])
        record_failure = Run._record_failure_outside_transaction
        with (
            patch.object(SaleOrder, "_distribution_check_credit_limit", failing),
            patch.object(
                Run, "_record_failure_outside_transaction", autospec=True, side_effect=record_failure
            ) as recorded,
            self.assertLogs("odoo.addons.distribution_orchestration.models.sale_order", "WARNING"),
        ):
            done = self.env["sale.order"]._cron_revalidate_held_orders()
        for order in others:
            self.assertEqual((order.state, order.distribution_validation_state), ("sale", "released"))
        self.assertNotIn(poison, done)
        self.assertEqual((poison.state, poison.distribution_validation_state), ("draft", "on_hold"))
        # The failure goes to the run log through its own cursor, so that it outlives the rollback of the
        # order's savepoint (in a test that cursor shares the rolled back transaction: the call is what shows).
        failures = [str(call.args[1:]) for call in recorded.call_args_list]
        self.assertTrue(any("corrupt data" in text and f"'res_id': {poison.id}" in text for text in failures), failures)
        # Next time, the failing order waits behind the others instead of being picked first again.
        latest = self.env["sale.order"].search(
            [("distribution_validation_state", "=", "on_hold")], order="distribution_validated_at desc, id desc"
        )
        self.assertEqual(latest[:1], poison)

    def test_a_full_batch_reports_what_remains(self):
        held = [("distribution_validation_state", "=", "on_hold"), ("state", "in", ("draft", "sent"))]
        already = self.env["sale.order"].search_count(held)  # a demo database holds some
        self._held(3)
        with patch.object(type(self.env["ir.cron"]), "_notify_progress") as progress:
            self.env["sale.order"]._cron_revalidate_held_orders(batch_size=2)
        self.assertEqual(progress.call_args.kwargs, {"done": 2, "remaining": already + 1})
