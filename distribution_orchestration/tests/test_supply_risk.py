from datetime import timedelta

from freezegun import freeze_time

from odoo import Command
from odoo import fields
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

from .test_replenishment import ReplenishmentFixtures


@tagged("post_install", "-at_install")
class TestSupplyRisk(ReplenishmentFixtures, TransactionCase):
    """The Bolt vendor promises 7 days but delivers in 13 (learned from five receipts). Customer orders of bolts
    bought to order: the one needed in 10 days is at risk (the promise would have hidden it), the one needed in
    20 days is not."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.endpoint = cls.env["distribution.outbound.endpoint"].create(
            {
                "name": "n8n",
                "url": "http://127.0.0.1:9/hook",
                "secret": "s3cret-risk",
                "event_types": "purchase.at_risk",
            }
        )
        mto = cls.env.ref("stock.route_warehouse0_mto")
        mto.active = True
        cls.bolt.route_ids = [Command.link(mto.id)]
        cls.customer = cls.env["res.partner"].create({"name": "Promised Customer"})

    def _sale(self, days, product=None):
        order = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "commitment_date": fields.Datetime.now() + timedelta(days=days),
                "order_line": [Command.create({"product_id": (product or self.bolt).id, "product_uom_qty": 2})],
            }
        )
        order.action_confirm()
        return order

    def _setup_schedule(self):
        for index, days in enumerate((12, 13, 14, 12, 15)):
            self._receipt(self.bolt, days, 90 - index * 5)
        self.env["distribution.vendor.lead.time"]._cron_learn()
        urgent, relaxed = self._sale(10), self._sale(20)
        purchases = self.env["purchase.order"].search([("partner_id", "=", self.vendor.id), ("state", "=", "draft")])
        purchases.button_confirm()
        return urgent, relaxed, purchases

    def _risk_exceptions(self):
        return self.env["distribution.exception"].search(
            [("category", "=", "supply_risk"), ("state", "not in", ("resolved", "dismissed"))]
        )

    def test_the_learned_lead_time_flags_exactly_the_orders_that_depend_on_it(self):
        urgent, relaxed, purchases = self._setup_schedule()
        self.env["purchase.order.line"]._cron_supply_risk()
        lines = purchases.order_line
        at_risk = lines.filtered("distribution_at_risk")
        self.assertEqual(at_risk.distribution_risk_sale_ids, urgent)
        self.assertEqual(
            at_risk.distribution_expected_date.date(), (purchases[:1].date_approve + timedelta(days=13)).date()
        )
        exception = self._risk_exceptions()
        self.assertRecordValues(exception, [{"sale_order_id": urgent.id, "severity": "high"}])
        self.assertIn(at_risk.order_id.name, exception.message)
        self.assertNotIn(relaxed, self._risk_exceptions().sale_order_id)
        self.assertTrue(purchases.filtered("distribution_at_risk"))
        # The vendor's risk in plain words, from the data, saying who wrote it.
        vendor_line = self.env["distribution.vendor.lead.time"].search(
            [("partner_id", "=", self.vendor.id), ("product_id", "=", False)]
        )
        self.assertIn(at_risk.order_id.name, vendor_line.risk_summary)
        self.assertIn(urgent.name, vendor_line.risk_summary)
        self.assertNotIn(relaxed.name, vendor_line.risk_summary)
        self.assertEqual(vendor_line.risk_summary_author, "template")
        events = self.env["distribution.outbound.event"].search([("event_type", "=", "purchase.at_risk")])
        self.assertEqual(len(events), 1)
        # Checked again later: the same exception, no second event.
        with freeze_time(fields.Datetime.now() + timedelta(hours=2)):
            self.env["purchase.order.line"]._cron_supply_risk()
        self.assertEqual(self._risk_exceptions(), exception)
        self.assertEqual(
            self.env["distribution.outbound.event"].search_count([("event_type", "=", "purchase.at_risk")]), 1
        )
        # The customer agrees to a later date: the threat is gone.
        urgent.commitment_date = fields.Datetime.now() + timedelta(days=30)
        with freeze_time(fields.Datetime.now() + timedelta(hours=4)):
            self.env["purchase.order.line"]._cron_supply_risk()
        self.assertEqual(exception.state, "resolved")
        self.assertFalse(lines.filtered("distribution_at_risk"))

    def test_without_learning_the_vendor_promise_decides(self):
        urgent = self._sale(10)
        purchases = self.env["purchase.order"].search([("partner_id", "=", self.vendor.id), ("state", "=", "draft")])
        purchases.button_confirm()
        self.env["purchase.order.line"]._cron_supply_risk()
        self.assertFalse(purchases.order_line.filtered("distribution_at_risk"), "promised in 7 days, needed in 10")
        self.assertFalse(self._risk_exceptions())
        self.assertTrue(urgent)
