from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

from .test_replenishment import ReplenishmentFixtures


@tagged("post_install", "-at_install")
class TestLeadTimeLearning(ReplenishmentFixtures, TransactionCase):
    """Lead times learned from done receipts of the Bolt vendor, who promises (and is planned at) 7 days."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.LeadTime = cls.env["distribution.vendor.lead.time"]
        cls.company.write(
            {
                "distribution_lead_time_receipts": 10,
                "distribution_lead_time_drift_pct": 25,
                "distribution_lead_time_drift_days": 3,
                "distribution_lead_time_tolerance_pct": 20,
            }
        )

    def _lines(self):
        vendor_line = self.LeadTime.search([("partner_id", "=", self.vendor.id), ("product_id", "=", False)])
        product_line = self.LeadTime.search([("partner_id", "=", self.vendor.id), ("product_id", "=", self.bolt.id)])
        return vendor_line, product_line

    def _drift_exception(self):
        return self.env["distribution.exception"].search(
            [("source_key", "=", "lead_time_drift"), ("res_model", "=", "res.partner"), ("res_id", "=", self.vendor.id)]
        )

    def test_learned_from_the_last_receipts(self):
        for index, days in enumerate((5, 7, 9, 6, 14)):
            self._receipt(self.bolt, days, 60 - index * 5)
        self._receipt(self.nut, 30, 90)  # another product of the vendor, the oldest receipt
        self.LeadTime._cron_learn()
        vendor_line, bolt_line = self._lines()
        self.assertRecordValues(
            bolt_line,
            [{"receipt_count": 5, "median_days": 7, "p90_days": 12, "on_time_rate": 60, "planned_days": 7}],
        )
        self.assertFalse(bolt_line.drifting)
        # The vendor overall: six receipts, the nut's included.
        self.assertEqual(vendor_line.receipt_count, 6)
        self.assertEqual(vendor_line.median_days, 8)
        self.assertFalse(self._drift_exception())
        # Only the last N receipts count.
        self.company.distribution_lead_time_receipts = 2
        self.LeadTime._learn(self.company, self.vendor)
        self.assertEqual((bolt_line.receipt_count, bolt_line.median_days), (2, 10))
        run = self.env["distribution.workflow.run"].search(
            [("workflow_id.code", "=", "lead_time_learning")], order="id desc", limit=1
        )
        self.assertEqual(run.state, "success")

    def test_a_drifting_vendor_raises_an_exception_listing_the_orders_at_stake_until_its_plan_is_applied(self):
        for index, days in enumerate((12, 13, 14, 12, 15)):
            self._receipt(self.bolt, days, 80 - index * 5)
        # A customer order waiting on an open purchase order of the vendor (make to order).
        mto = self.env.ref("stock.route_warehouse0_mto")
        mto.active = True
        self.bolt.route_ids = [Command.link(mto.id)]
        customer = self.env["res.partner"].create({"name": "Waiting Customer"})
        sale = self.env["sale.order"].create(
            {
                "partner_id": customer.id,
                "order_line": [Command.create({"product_id": self.bolt.id, "product_uom_qty": 3})],
            }
        )
        sale.action_confirm()
        purchase = self.env["purchase.order"].search([("partner_id", "=", self.vendor.id), ("state", "=", "draft")])
        self.assertTrue(purchase, "Odoo's make-to-order route bought for the customer order")
        purchase.button_confirm()
        buyer = new_test_user(self.env, "replen_buyer", groups="purchase.group_purchase_user")
        self.vendor.buyer_id = buyer

        self.LeadTime._cron_learn()
        vendor_line, bolt_line = self._lines()
        self.assertRecordValues(
            vendor_line, [{"median_days": 13, "planned_days": 7, "drift_days": 6, "drifting": True}]
        )
        self.assertEqual(vendor_line.open_purchase_count, 1)
        exception = self._drift_exception()
        self.assertRecordValues(exception, [{"category": "lead_time_drift", "state": "new", "severity": "high"}])
        self.assertEqual(exception.values["purchase_orders"], [purchase.name])
        self.assertEqual(exception.values["sale_orders"], [sale.name])
        # The shipped automation rule told the vendor's buyer.
        self.assertIn(buyer, exception.activity_ids.user_id)
        # A second pass updates the same exception.
        self.LeadTime._learn(self.company, self.vendor)
        self.assertEqual(self._drift_exception(), exception)

        # 7 -> 13 days is beyond the 20% tolerance: not for a Distribution User.
        if "distribution.approval.request" in self.env:
            # With distribution_approvals anyone asks for an approval (the matrix decides; see
            # distribution_approvals/tests/test_reorder_approval.py), applied here as the approval does.
            vendor_line.with_user(self.planner).action_apply_learned_lead_time()
            request = vendor_line.distribution_approval_request_id
            self.assertEqual((request.state, request.payload["days"]), ("pending", 13))
            self.assertEqual(self.bolt.seller_ids.delay, 7, "nothing written while pending")
            vendor_line._apply_approved_lead_time(request)
        else:
            with self.assertRaises(AccessError):
                vendor_line.with_user(self.planner).action_apply_learned_lead_time()
            self.assertEqual(self.bolt.seller_ids.delay, 7)
            vendor_line.with_user(self.manager).action_apply_learned_lead_time()
        self.assertEqual(self.bolt.seller_ids.delay, 13)
        self.assertEqual(exception.state, "resolved")
        # The reorder suggestion plans with the learned lead time (the vendor's delay replaced).
        rule = self._rule(self.bolt, 0, 0)
        self.bolt.seller_ids.delay = 7
        rule._distribution_compute_suggestions()
        self.assertEqual(rule.distribution_lead_days, 13)
        self.bolt.seller_ids.delay = 13
        # The next learning agrees with the new plan.
        self.LeadTime._learn(self.company, self.vendor)
        self.assertFalse(vendor_line.drifting)
        self.assertFalse(self._drift_exception().filtered("is_open"))

    def test_a_small_correction_is_applied_by_a_distribution_user(self):
        for index, days in enumerate((8, 8, 7, 8)):
            self._receipt(self.bolt, days, 40 - index * 5)
        self.LeadTime._cron_learn()
        _vendor_line, bolt_line = self._lines()
        self.assertEqual(bolt_line.median_days, 8)
        bolt_line.with_user(self.planner).action_apply_learned_lead_time()  # 7 -> 8: +14%
        self.assertEqual(self.bolt.seller_ids.delay, 8)
        with self.assertRaises(AccessError):
            bolt_line.with_user(self.planner).write({"median_days": 30})
