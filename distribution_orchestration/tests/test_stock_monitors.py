from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

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
