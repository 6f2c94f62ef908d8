from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo import Command
from odoo import fields
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

from .common import OrchestrationCase
from .test_replenishment import ReplenishmentFixtures


@tagged("post_install", "-at_install")
class TestStockMonitors(ReplenishmentFixtures, TransactionCase):
    """Each monitor raises its exception through the exception API and resolves it when the condition clears."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Monitor = cls.env["distribution.stock.monitor"]
        cls.Exception = cls.env["distribution.exception"]

    def _open(self, record, source_key):
        return self.Exception.search(
            [
                ("source_key", "=", source_key),
                ("res_model", "=", record._name),
                ("res_id", "=", record.id),
                ("state", "not in", ("resolved", "dismissed")),
            ]
        )

    def _last_run(self):
        return self.env["distribution.workflow.run"].search(
            [("workflow_id.code", "=", "stock_monitor")], order="id desc", limit=1
        )

    def test_low_stock_by_days_of_cover(self):
        self._history()  # ADU 2.5 in the main warehouse, which holds 55 (5 returned, 50 in staging)
        self.profile.cover_days_threshold = 30
        rule = self._rule(self.bolt, 22, 55)
        rule._distribution_compute_suggestions()
        self.Monitor._cron_low_stock()
        self.assertEqual(rule.distribution_cover_days, 22.0)
        exception = self._open(rule, "low_stock_monitor")
        self.assertRecordValues(exception, [{"category": "low_stock", "severity": "medium"}])
        self.assertEqual(exception.values["suggested_min"], 25)
        # Checked again within the hour: nothing new (the rule waits its turn).
        self.assertFalse(self.Monitor._cron_low_stock())
        self.env["stock.quant"]._update_available_quantity(self.bolt, self.wh.lot_stock_id, 100)
        with freeze_time(fields.Datetime.now() + timedelta(hours=2)):
            self.Monitor._cron_low_stock()
        self.assertEqual(rule.distribution_cover_days, 62.0)
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(self._last_run().state, "success")

    def test_late_transfers(self):
        order = self.env["purchase.order"].create(
            {"partner_id": self.vendor.id, "order_line": [(0, 0, {"product_id": self.bolt.id, "product_qty": 4})]}
        )
        order.button_confirm()
        receipt = order.picking_ids
        receipt.scheduled_date = fields.Datetime.now() - timedelta(days=2)
        self.Monitor._cron_late_transfers()
        exception = self._open(receipt, "late_transfer_monitor")
        self.assertRecordValues(exception, [{"category": "late_transfer", "severity": "medium"}])
        self.Monitor._cron_late_transfers()
        self.assertEqual(self._open(receipt, "late_transfer_monitor"), exception, "one exception per transfer")
        receipt.scheduled_date = fields.Datetime.now() + timedelta(days=1)
        self.Monitor._cron_late_transfers()
        self.assertEqual(exception.state, "resolved")

    def test_aging_stock(self):
        stock = self.wh.lot_stock_id
        old = fields.Datetime.now() - timedelta(days=400)
        self.env["stock.quant"]._update_available_quantity(self.nut, stock, 30, in_date=old)
        self.env["stock.quant"]._update_available_quantity(self.bolt, stock, 30)  # fresh stock: not aging
        self.Monitor._cron_aging_stock()
        source = f"aging_stock_monitor:{self.company.id}"
        exception = self._open(self.nut, source)
        self.assertEqual(exception.category, "aging_stock")
        self.assertEqual(exception.values["value"], 60.0, "30 at a cost of 2")
        self.assertFalse(self._open(self.bolt, source))
        self.env["stock.quant"]._update_available_quantity(self.nut, stock, -30)
        self.Monitor._cron_aging_stock()
        self.assertEqual(exception.state, "resolved")

    def test_the_lot_monitor_says_why_it_does_nothing_without_expiry_dates(self):
        if "expiration_date" in self.env["stock.lot"]._fields:
            self.skipTest("Odoo's expiry dates are installed")
        self.Monitor._cron_lot_issues()
        run = self._last_run()
        self.assertEqual((run.state, run.reason), ("skipped", "module_missing"))

    def test_repeated_backorders_of_a_category_raise_one_exception(self):
        self.company.write({"distribution_backorder_pattern_count": 2, "distribution_backorder_pattern_days": 30})
        category = self.env["product.category"].create({"name": "Fasteners"})
        (self.bolt | self.nut).categ_id = category
        customer = self.env["res.partner"].create({"name": "Backorder Customer"})
        self.env["stock.quant"]._update_available_quantity(self.bolt, self.wh.lot_stock_id, 2)
        self.env["stock.quant"]._update_available_quantity(self.nut, self.wh.lot_stock_id, 2)
        orders = self.env["sale.order"]
        for product in (self.bolt, self.nut):
            order = self.env["sale.order"].create(
                {"partner_id": customer.id, "order_line": [(0, 0, {"product_id": product.id, "product_uom_qty": 5})]}
            )
            order.action_confirm()
            picking = order.picking_ids
            picking.move_ids.write({"quantity": 2, "picked": True})
            picking.with_context(cancel_backorder=False)._action_done()
            self.assertTrue(order.picking_ids.filtered("backorder_id"), "a backorder for the 3 missing")
            orders |= order
        self.Monitor._cron_backorder_patterns()
        source = f"backorder_pattern:{self.company.id}"
        exception = self._open(category, source)
        self.assertEqual(len(exception), 1, "one exception for the pattern, not one per order")
        self.assertEqual(sorted(exception.values["sale_orders"]), sorted(orders.mapped("name")))
        self.company.distribution_backorder_pattern_count = 3
        self.Monitor._cron_backorder_patterns()
        self.assertEqual(exception.state, "resolved")


@tagged("post_install", "-at_install")
class TestRushMarginMonitor(OrchestrationCase):
    """Margin erosion from rush shipments: one exception per customer and month from N urgent orders under
    the margin floor rule once the rush is counted, listing them; resolved when the pattern no longer holds."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Monitor = cls.env["distribution.stock.monitor"]
        cls.company.distribution_rush_margin_pattern_count = 2
        cls.floor_rule = cls.Rule.create(
            {"name": "Margin floor", "rule_type": "margin_floor", "outcome": "note", "margin_floor_pct": 15}
        )
        cls.account = cls.env["res.partner"].create({"name": "Rush Account", "is_company": True})
        cls.buyer = cls.env["res.partner"].create({"name": "Rush Buyer", "parent_id": cls.account.id})
        cls.courier = cls.env["product.product"].create(
            {"name": "Express courier", "type": "service", "list_price": 0.0, "standard_price": 30.0}
        )

    def _rush(self, discount=30.0, urgent=True, when=None, partner=None, lines=None):
        """An order of one widget (100, cost 60) at ``discount`` %, confirmed, its delivery starred when
        ``urgent`` and scheduled ``when`` (now by default). At 30 % off: 70 sold, margin 14.29 %."""
        order = self._order(lines or [(self.widget, 1, {"discount": discount})], partner=partner or self.buyer)
        order = order.with_env(self.env)
        order.action_confirm()
        self.assertEqual(order.state, "sale")
        order.picking_ids.write({"priority": "1" if urgent else "0", "scheduled_date": when or fields.Datetime.now()})
        return order

    def _source(self, when=None, company=None):
        return f"rush_margin_erosion:{(company or self.company).id}:{(when or fields.Datetime.now()):%Y-%m}"

    def _open(self, source, partner=None):
        return self.Exception.search(
            [
                ("source_key", "=", source),
                ("res_model", "=", "res.partner"),
                ("res_id", "=", (partner or self.account).id),
                ("state", "not in", ("resolved", "dismissed")),
            ]
        )

    def _last_run(self, company=None):
        return self.env["distribution.workflow.run"].search(
            [("workflow_id.code", "=", "stock_monitor"), ("company_id", "=", (company or self.company).id)],
            order="id desc",
            limit=1,
        )

    def test_rush_orders_of_a_customer_in_a_month_raise_one_exception_listing_them(self):
        first, second = self._rush(), self._rush(partner=self.account)
        self._rush(discount=0)  # 40 % margin: a rush, but above the floor
        self.Monitor._cron_rush_margin_erosion()
        exception = self._open(self._source())
        self.assertEqual(len(exception), 1, "one exception for the customer's month, not one per order")
        self.assertRecordValues(
            exception,
            [
                {
                    "category": "margin",
                    "reason_code": "rush_margin_erosion",
                    "partner_id": self.account.id,
                    "company_id": self.company.id,
                }
            ],
        )
        self.assertEqual(sorted(exception.values["sale_orders"]), sorted((first | second).mapped("name")))
        self.assertEqual(exception.values["floor_pct"], 15)
        listed = {line["order"]: line for line in exception.values["orders"]}
        self.assertEqual(listed[first.name]["margin_pct"], 14.29)
        self.assertEqual(listed[first.name]["discount"], 30.0)
        self.assertIn(first.name, exception.message)
        self.assertIn("14.29 %", exception.message)
        self.assertEqual(self._last_run().state, "success")
        # A third one joins the same exception; nothing new is raised.
        third = self._rush()
        self.Monitor._cron_rush_margin_erosion()
        self.assertEqual(self._open(self._source()), exception)
        self.assertEqual(len(exception.values["sale_orders"]), 3)
        self.assertIn(third.name, exception.values["sale_orders"])
        patterns = [("source_key", "=like", "rush_margin_erosion:%"), ("res_id", "=", self.account.id)]
        self.assertEqual(self.Exception.search_count(patterns), 1)

    def test_the_same_customer_in_another_month_is_another_pattern(self):
        last_month = fields.Datetime.now().replace(day=1) - timedelta(days=1)
        long_ago = last_month.replace(day=1) - timedelta(days=1)  # before the watched months
        this_month = self._rush() | self._rush()
        previous = self._rush(when=last_month) | self._rush(when=last_month)
        self._rush(when=long_ago)
        self._rush(when=long_ago)
        self.Monitor._cron_rush_margin_erosion()
        now_exception, then_exception = self._open(self._source()), self._open(self._source(last_month))
        self.assertEqual(len(now_exception), 1)
        self.assertEqual(len(then_exception), 1)
        self.assertNotEqual(now_exception, then_exception)
        self.assertEqual(sorted(now_exception.values["sale_orders"]), sorted(this_month.mapped("name")))
        self.assertEqual(sorted(then_exception.values["sale_orders"]), sorted(previous.mapped("name")))
        self.assertFalse(self._open(self._source(long_ago)), "a month no longer watched is not raised")

    def test_orders_without_a_starred_delivery_are_not_counted(self):
        self._rush()
        self._rush(urgent=False)
        self._rush(urgent=False)
        self.Monitor._cron_rush_margin_erosion()
        self.assertFalse(self._open(self._source()))

    def test_the_delivery_cost_of_the_rush_takes_the_margin_under_the_floor(self):
        # Odoo's delivery module marks its delivery lines (sale.order.line._is_delivery); it is not installed
        # here: the courier's line plays one. 100 sold at a 40 % margin, a free courier costing 30: 10 %.
        SaleOrderLine = type(self.env["sale.order.line"])
        courier = self.courier
        with patch.object(SaleOrderLine, "_is_delivery", lambda line: line.product_id == courier):
            orders = self._rush(lines=[(self.widget, 1), (courier, 1)])
            orders |= self._rush(lines=[(self.widget, 1), (courier, 1)])
            self._rush(lines=[(self.widget, 1), (courier, 1, {"price_unit": 30.0})])  # the customer pays it
            self.Monitor._cron_rush_margin_erosion()
        exception = self._open(self._source())
        self.assertEqual(sorted(exception.values["sale_orders"]), sorted(orders.mapped("name")))
        line = exception.values["orders"][0]
        self.assertEqual(
            (line["margin_pct"], line["margin_before_rush_pct"], line["rush_cost"], line["floor_pct"]),
            (10.0, 40.0, 30.0, 15.0),
        )

    def test_the_pattern_clears_and_the_exception_resolves(self):
        first = self._rush()
        self._rush()
        self.Monitor._cron_rush_margin_erosion()
        exception = self._open(self._source())
        self.assertTrue(exception)
        first.picking_ids.priority = "0"  # the star removed: no longer a rush
        self.Monitor._cron_rush_margin_erosion()
        self.assertEqual(exception.state, "resolved")
        self.assertFalse(self._open(self._source()))

    def test_without_a_margin_floor_rule_the_run_says_why(self):
        self._rush()
        self._rush()
        self.floor_rule.action_archive()
        self.Monitor._cron_rush_margin_erosion()
        run = self._last_run()
        self.assertEqual((run.state, run.reason), ("skipped", "no_margin_rule"))
        self.assertIn("no active margin floor rule", run.message)
        self.assertFalse(self._open(self._source()))

    def test_a_second_company_sees_nothing_of_the_first(self):
        self._rush()
        self._rush()
        other = self.env["res.company"].create({"name": "Rush Other Co", "distribution_rush_margin_pattern_count": 1})
        self.env.user.company_ids |= other
        self.widget.with_company(other).standard_price = 60.0  # the cost is per company
        self.Rule.create(
            {
                "name": "Other floor",
                "rule_type": "margin_floor",
                "outcome": "note",
                "margin_floor_pct": 15,
                "company_id": other.id,
            }
        )
        other_order = (
            self.env["sale.order"]
            .with_company(other)
            .create(
                {
                    "partner_id": self.buyer.id,
                    "company_id": other.id,
                    "order_line": [
                        Command.create({"product_id": self.widget.id, "product_uom_qty": 1, "discount": 30})
                    ],
                }
            )
        )
        other_order.with_company(other).action_confirm()
        other_order.picking_ids.priority = "1"
        self.Monitor._cron_rush_margin_erosion()
        mine, theirs = self._open(self._source()), self._open(self._source(company=other))
        self.assertEqual(len(mine.values["sale_orders"]), 2, "the other company's order is not in the pattern")
        self.assertNotIn(other_order.name, mine.values["sale_orders"])
        self.assertEqual(theirs.company_id, other)
        self.assertEqual(theirs.values["sale_orders"], [other_order.name])
        outsider = new_test_user(
            self.env,
            "rush_other_manager",
            groups="distribution_observability.group_distribution_manager",
            company_id=other.id,
            company_ids=[Command.set(other.ids)],
        )
        seen = self.Exception.with_user(outsider).search([("source_key", "=like", "rush_margin_erosion:%")])
        self.assertEqual(seen, theirs)
