import math
import statistics
from datetime import timedelta

from freezegun import freeze_time

from odoo import Command
from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

from .common import isolate_from_shipped_policy


class ReplenishmentFixtures:
    """A bought product with a 7-day vendor, a reordering rule in the main warehouse, a profile measuring the
    last 10 days, and a planner of each role (all with Inventory user rights, to read the rules)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        isolate_from_shipped_policy(cls.env)
        cls.company = cls.env.company
        cls.company.write({"po_lead": 0, "days_to_purchase": 0})
        cls.wh = cls.env["stock.warehouse"].search([("company_id", "=", cls.company.id)], limit=1)
        cls.wh_east = cls.env["stock.warehouse"].create({"name": "Replen East", "code": "REPE"})
        cls.customers = cls.env.ref("stock.stock_location_customers")
        cls.vendor = cls.env["res.partner"].create({"name": "Bolt Supplier"})
        cls.bolt = cls._product("Bolt")
        cls.nut = cls._product("Nut")
        cls.env["distribution.replenishment.profile"].search([]).action_archive()
        cls.profile = cls.env["distribution.replenishment.profile"].create(
            {"name": "Test", "horizon_days": 10, "safety_days": 3, "cycle_days": 14, "tolerance_pct": 20}
        )
        cls.Orderpoint = cls.env["stock.warehouse.orderpoint"]
        cls.planner = new_test_user(
            cls.env,
            "replen_planner",
            groups="distribution_observability.group_distribution_user,stock.group_stock_user",
        )
        cls.manager = new_test_user(
            cls.env,
            "replen_manager",
            groups="distribution_observability.group_distribution_manager,stock.group_stock_user",
        )

    @classmethod
    def _product(cls, name):
        return cls.env["product.product"].create(
            {
                "name": name,
                "is_storable": True,
                "type": "consu",
                "standard_price": 2.0,
                "route_ids": [Command.link(cls.env.ref("purchase_stock.route_warehouse0_buy").id)],
                "seller_ids": [Command.create({"partner_id": cls.vendor.id, "delay": 7, "min_qty": 0})],
            }
        )

    def _move(self, product, qty, source, destination, days_ago):
        """A done move of ``qty`` from ``source`` to ``destination`` (stock put in place first when the
        source is internal), dated ``days_ago`` days back at noon."""
        if source.usage == "internal":
            self.env["stock.quant"]._update_available_quantity(product, source, qty)
        move = self.env["stock.move"].create(
            {
                "name": product.name,
                "product_id": product.id,
                "product_uom_qty": qty,
                "product_uom": product.uom_id.id,
                "location_id": source.id,
                "location_dest_id": destination.id,
            }
        )
        move._action_confirm()
        move._action_assign()
        move.quantity = qty
        move.picked = True
        move._action_done()
        noon = fields.Datetime.to_datetime(fields.Date.today() - timedelta(days=days_ago)) + timedelta(hours=12)
        move.write({"date": noon})
        move.move_line_ids.write({"date": noon})
        return move

    def _purchase(self, product, qty=10):
        """A purchase order of ``product`` confirmed now, promised in 7 days."""
        order = self.env["purchase.order"].create(
            {
                "partner_id": self.vendor.id,
                "order_line": [
                    Command.create(
                        {
                            "product_id": product.id,
                            "product_qty": qty,
                            "price_unit": 2.0,
                            "date_planned": fields.Datetime.now() + timedelta(days=7),
                        }
                    )
                ],
            }
        )
        order.button_confirm()
        return order

    def _receipt(self, product, days, confirmed_days_ago):
        """A purchase order confirmed ``confirmed_days_ago`` days back, received ``days`` days later (the
        clock moved, so that Odoo dates the confirmation and the receipt itself)."""
        confirmed = fields.Datetime.now().replace(microsecond=0) - timedelta(days=confirmed_days_ago)
        with freeze_time(confirmed):
            order = self._purchase(product)
        with freeze_time(confirmed + timedelta(days=days)):
            picking = order.picking_ids
            picking.move_ids.write({"quantity": 10, "picked": True})
            picking.button_validate()
        return order

    def _rule(self, product, minimum=0.0, maximum=0.0, warehouse=None, **vals):
        warehouse = warehouse or self.wh
        return self.Orderpoint.create(
            dict(
                {
                    "product_id": product.id,
                    "warehouse_id": warehouse.id,
                    "location_id": warehouse.lot_stock_id.id,
                    "product_min_qty": minimum,
                    "product_max_qty": maximum,
                    "trigger": "auto",
                },
                **vals,
            )
        )

    def _history(self):
        """Bolt: 10 delivered yesterday, 20 delivered three days ago with 5 returned that day (net 15). What
        must not count: an internal move, a scrap, an inventory loss, a delivery from another warehouse,
        and a delivery older than the horizon."""
        stock = self.wh.lot_stock_id
        self._move(self.bolt, 10, stock, self.customers, 1)
        self._move(self.bolt, 20, stock, self.customers, 3)
        self._move(self.bolt, 5, self.customers, stock, 3)
        shelf = self.env["stock.location"].create({"name": "Staging", "location_id": self.wh.view_location_id.id})
        self._move(self.bolt, 50, stock, shelf, 2)
        scrap = self.env["stock.location"].search([("scrap_location", "=", True)], limit=1)
        self._move(self.bolt, 30, stock, scrap, 2)
        loss = self.bolt.with_company(self.company).property_stock_inventory
        self._move(self.bolt, 7, stock, loss, 2)
        self._move(self.bolt, 40, self.wh_east.lot_stock_id, self.customers, 2)
        self._move(self.bolt, 99, stock, self.customers, 12)


@tagged("post_install", "-at_install")
class TestReplenishmentSuggestions(ReplenishmentFixtures, TransactionCase):
    def test_adu_from_customer_deliveries_net_of_returns(self):
        self._history()
        bolt = self._rule(self.bolt)
        bolt._distribution_compute_suggestions()
        # (10 + 20 - 5) over the 10 days of the horizon, the other moves left out.
        self.assertAlmostEqual(bolt.distribution_adu, 2.5)
        series = [0] * 10
        series[9], series[7] = 10, 15
        self.assertAlmostEqual(bolt.distribution_demand_sigma, round(statistics.pstdev(series), 2))
        east = self._rule(self.bolt, warehouse=self.wh_east)
        east._distribution_compute_suggestions()
        self.assertAlmostEqual(east.distribution_adu, 4.0, msg="the east warehouse has its own demand")
        # A new product without history: no demand measured, nothing suggested, the rule kept as it is.
        nut_rule = self._rule(self.nut, 10, 30)
        nut_rule._distribution_compute_suggestions()
        self.assertEqual(nut_rule.distribution_adu, 0)
        self.assertEqual((nut_rule.distribution_suggested_min, nut_rule.distribution_suggested_max), (10, 30))
        self.assertEqual(nut_rule.distribution_suggestion_state, "none")
        self.Orderpoint._cron_distribution_suggestions()
        self.assertEqual((nut_rule.product_min_qty, nut_rule.product_max_qty), (10, 30))

    def test_open_orders_blend_into_the_demand(self):
        self._history()
        rule = self._rule(self.bolt)
        # 30 still to deliver (10 overdue, 20 in a week), 100 beyond the future horizon of 10 days.
        stock = self.wh.lot_stock_id
        Move = self.env["stock.move"]
        for qty, days in ((10, -2), (20, 7), (100, 20)):
            move = Move.create(
                {
                    "name": "open demand",
                    "product_id": self.bolt.id,
                    "product_uom_qty": qty,
                    "product_uom": self.bolt.uom_id.id,
                    "location_id": stock.id,
                    "location_dest_id": self.customers.id,
                    "date": fields.Datetime.now() + timedelta(days=days),
                }
            )
            move._action_confirm()
        self.profile.write({"future_days": 10, "future_weight": 0.5})
        rule._distribution_compute_suggestions()
        # 0.5 x 2.5 (past) + 0.5 x 30 / 10 (open orders) = 2.75
        self.assertAlmostEqual(rule.distribution_adu, 2.75)

    def _proposed(self, product):
        return self.Orderpoint.with_context(active_test=False).search(
            [("product_id", "=", product.id), ("distribution_proposed", "=", True)], order="warehouse_id"
        )

    def test_a_product_delivered_without_a_rule_gets_a_proposed_one(self):
        self._history()  # Bolt delivered from both warehouses, Nut never
        self.Orderpoint._cron_distribution_suggestions()
        main, east = self._proposed(self.bolt).sorted(lambda rule: rule.warehouse_id != self.wh)
        self.assertRecordValues(
            main | east,
            [
                {"warehouse_id": self.wh.id, "trigger": "manual", "product_min_qty": 0, "product_max_qty": 0},
                {"warehouse_id": self.wh_east.id, "trigger": "manual", "product_min_qty": 0, "product_max_qty": 0},
            ],
        )
        self.assertRecordValues(
            main,
            [
                {
                    "distribution_adu": 2.5,
                    "distribution_suggested_min": 25,
                    "distribution_suggested_max": 60,
                    "distribution_suggestion_state": "above",
                }
            ],
        )
        self.assertFalse(self._proposed(self.nut), "never delivered: nothing proposed")
        # The low stock check covers it too: its cover is known before anyone adopts it.
        self.env["distribution.stock.monitor"]._cron_low_stock()
        self.assertEqual((main.distribution_free_qty, main.distribution_cover_days), (55, 22))
        self.assertFalse(main.distribution_under_min)
        self.assertFalse(main.distribution_change_ids, "a proposed rule waits for a person")
        run = self.env["distribution.workflow.run"].search(
            [("workflow_id.code", "=", "replenishment_suggestions"), ("message", "ilike", "proposed")],
            order="id desc",
            limit=1,
        )
        self.assertEqual(run.state, "success")
        # Odoo's replenishment report cleans up the manual rules it made with nothing to order: not these.
        self.Orderpoint._unlink_processed_orderpoints()
        self.assertTrue(main.exists() and east.exists())
        # Proposed once: a second pass, or an archived proposal (a decision), proposes nothing more.
        east.action_archive()
        self.Orderpoint._cron_distribution_suggestions()
        self.assertEqual(self._proposed(self.bolt), main | east)
        if "distribution.approval.request" in self.env:
            # With distribution_approvals, applying it is a request for approval like any change from zero.
            main.with_user(self.planner).action_distribution_apply_suggestion()
            self.assertEqual(main.distribution_approval_request_id.state, "pending")
            self.assertEqual(main.trigger, "manual")
            return
        main.with_user(self.manager).action_distribution_apply_suggestion()
        self.assertRecordValues(
            main,
            [{"trigger": "auto", "distribution_proposed": False, "product_min_qty": 25, "product_max_qty": 60}],
        )
        self.assertRecordValues(main.distribution_change_ids, [{"old_min": 0, "new_min": 25, "mode": "manual"}])

    def test_nobody_makes_or_unmakes_a_proposed_rule_by_hand(self):
        self._history()
        self.Orderpoint._cron_distribution_suggestions()
        main = self._proposed(self.bolt).filtered(lambda rule: rule.warehouse_id == self.wh)
        for user in (self.planner, self.manager):
            for context in ({}, {"distribution_verb": "distribution_replenishment_propose"}):
                with self.assertRaises(AccessError):
                    self.Orderpoint.with_user(user).with_context(**context).sudo().create(
                        {
                            "product_id": self.nut.id,
                            "warehouse_id": self.wh.id,
                            "location_id": self.wh.lot_stock_id.id,
                            "distribution_proposed": True,
                        }
                    )
                with self.assertRaises(AccessError):
                    main.with_user(user).with_context(**context).sudo().write({"distribution_proposed": False})
        self.assertTrue(main.distribution_proposed)

    def test_min_and_max_by_days_of_cover_and_by_service_level(self):
        self._history()
        rule = self._rule(self.bolt, qty_multiple=4)
        rule._distribution_compute_suggestions()
        self.assertEqual(rule.distribution_lead_days, 7, "the vendor's 7 days Odoo plans with")
        # min = 2.5 x (7 + 3) = 25 -> 28 (multiple of 4); max = 25 + 2.5 x 14 = 60.
        self.assertEqual((rule.distribution_suggested_min, rule.distribution_suggested_max), (28, 60))
        self.assertEqual(rule.distribution_suggestion_method, "days")
        self.profile.service_level = 0.95
        rule._distribution_compute_suggestions()
        minimum = 2.5 * 7 + 1.6449 * rule.distribution_demand_sigma * math.sqrt(7)
        self.assertEqual(rule.distribution_suggested_min, math.ceil(minimum / 4) * 4)
        self.assertEqual(rule.distribution_suggestion_method, "service")
        self.assertEqual(rule.distribution_profile_id, self.profile)

    def test_a_warehouse_profile_beats_the_company_one(self):
        self._history()
        self.env["distribution.replenishment.profile"].create(
            {"name": "Main, slow vendor", "warehouse_id": self.wh.id, "horizon_days": 10, "safety_days": 13}
        )
        rule = self._rule(self.bolt)
        rule._distribution_compute_suggestions()
        self.assertEqual(rule.distribution_suggested_min, 50, "2.5 x (7 + 13)")

    def test_the_nightly_run_applies_within_the_tolerance_and_leaves_the_rest(self):
        self._history()
        close = self._rule(self.bolt, 22, 55)  # suggestion 25 / 60: +13.6% / +9.1%
        far = self._rule(self.bolt, 5, 10, warehouse=self.wh_east)  # suggestion 40 / 96
        self.Orderpoint._cron_distribution_suggestions()
        self.assertEqual((close.product_min_qty, close.product_max_qty), (25, 60))
        self.assertEqual(close.distribution_suggestion_state, "applied")
        change = close.distribution_change_ids
        self.assertRecordValues(
            change,
            [{"old_min": 22, "old_max": 55, "new_min": 25, "new_max": 60, "mode": "auto", "adu": 2.5, "lead_days": 7}],
        )
        self.assertEqual((far.product_min_qty, far.product_max_qty), (5, 10), "beyond the tolerance: left for a person")
        self.assertEqual(far.distribution_suggestion_state, "above")
        self.assertFalse(far.distribution_change_ids)
        run = self.env["distribution.workflow.run"].search(
            [("workflow_id.code", "=", "replenishment_suggestions")], order="id desc", limit=1
        )
        self.assertEqual(run.state, "success")
        self.assertIn("1 applied", run.message)
        # Computed today: the next run of the day has nothing left to do.
        self.assertFalse(self.Orderpoint._cron_distribution_suggestions() & (close | far))

    def test_the_lead_time_is_odoos_whatever_the_users_time_zone(self):
        """Late in the evening (UTC), a user east of UTC is already in the next day: the lead time stays the one
        Odoo plans with, and a rule computed then counts as computed today for the nightly run."""
        self._history()
        rule = self._rule(self.bolt, 22, 55)
        late = fields.Datetime.to_datetime(fields.Date.today()) + timedelta(hours=23, minutes=30)
        with freeze_time(late):
            self.Orderpoint.with_context(tz="Asia/Tokyo")._cron_distribution_suggestions()
            self.assertEqual((rule.distribution_lead_days, rule.distribution_suggested_min), (7, 25))
            again = self.Orderpoint.with_context(tz="Asia/Tokyo")._cron_distribution_suggestions()
            self.assertFalse(again & rule, "computed today: not again")

    def test_a_distribution_user_cannot_apply_beyond_the_tolerance(self):
        self._history()
        close = self._rule(self.bolt, 22, 55)
        far = self._rule(self.bolt, 5, 10, warehouse=self.wh_east)
        (close | far)._distribution_compute_suggestions()
        planner_far = far.with_user(self.planner).with_context(distribution_approved=True, force=True)
        approvals = "distribution.approval.request" in self.env
        if approvals:
            # With distribution_approvals, the change becomes a request for approval: nothing written yet.
            planner_far.action_distribution_apply_suggestion()
            self.assertEqual(far.distribution_approval_request_id.state, "pending")
        else:
            with self.assertRaises(AccessError):
                planner_far.action_distribution_apply_suggestion()
        self.assertEqual((far.product_min_qty, far.product_max_qty), (5, 10))
        # Nor by writing the suggestion to walk it inside the tolerance, even as a manager.
        for user in (self.planner, self.manager):
            with self.assertRaises(AccessError):
                far.with_user(user).write({"distribution_suggestion_state": "within"})
            with self.assertRaises(AccessError):
                far.with_user(user).sudo().write({"distribution_suggested_min": 6})
        # Within the tolerance, the planner applies it: logged as theirs.
        close.with_user(self.planner).action_distribution_apply_suggestion()
        self.assertEqual(close.product_min_qty, 25)
        self.assertRecordValues(close.distribution_change_ids, [{"mode": "manual", "user_id": self.planner.id}])
        if approvals:
            return  # a manager asks for an approval too (distribution_approvals/tests/test_reorder_approval.py)
        # Without the approvals addon, a manager applies the large one.
        far.with_user(self.manager).action_distribution_apply_suggestion()
        self.assertEqual((far.product_min_qty, far.product_max_qty), (40, 96))
        self.assertRecordValues(
            far.distribution_change_ids, [{"old_min": 5, "new_min": 40, "mode": "manual", "user_id": self.manager.id}]
        )

    def test_odoo_buys_after_a_min_change(self):
        self._history()
        rule = self._rule(self.bolt, 22, 55)
        self.Orderpoint._cron_distribution_suggestions()
        self.assertEqual(rule.product_min_qty, 25)
        # Odoo's own engine, from the new min and max: 60 minus what the main warehouse holds.
        rule._procure_orderpoint_confirm(company_id=self.company, raise_user_error=False)
        line = self.env["purchase.order.line"].search([("product_id", "=", self.bolt.id)])
        self.assertEqual(line.order_id.partner_id, self.vendor)
        on_hand = self.bolt.with_context(location=self.wh.lot_stock_id.id).qty_available
        self.assertEqual(line.product_qty, 60 - on_hand)

    def test_a_second_company_sees_nothing_of_the_first(self):
        self._history()
        rule = self._rule(self.bolt, 22, 55)
        self.Orderpoint._cron_distribution_suggestions()
        other = self.env["res.company"].create({"name": "Other Distribution Co"})
        outsider = new_test_user(
            self.env,
            "replen_outsider",
            groups="distribution_observability.group_distribution_manager,stock.group_stock_user",
            company_id=other.id,
            company_ids=[Command.set(other.ids)],
        )
        self.assertTrue(rule.distribution_change_ids)
        self.assertFalse(self.env["distribution.replenishment.change"].with_user(outsider).search([]))
        self.assertFalse(self.env["distribution.replenishment.profile"].with_user(outsider).search([]))
        # The other company's rule on the same product measures the other company's deliveries only: none.
        other_wh = self.env["stock.warehouse"].search([("company_id", "=", other.id)], limit=1)
        their_rule = self._rule(self.bolt, warehouse=other_wh, company_id=other.id)
        their_rule._distribution_compute_suggestions()
        self.assertEqual(their_rule.distribution_adu, 0)

    def test_the_replenishment_run_prefers_a_warehouse_with_a_surplus(self):
        main = self._rule(self.bolt, 10, 20)
        east = self._rule(self.bolt, 5, 10, warehouse=self.wh_east)
        self.env["stock.quant"]._update_available_quantity(self.bolt, self.wh_east.lot_stock_id, 50)  # 40 above max
        self.env["stock.quant"]._update_available_quantity(self.nut, self.wh_east.lot_stock_id, 12)  # 2 above max
        nut_main = self._rule(self.nut, 10, 20)
        self._rule(self.nut, 5, 10, warehouse=self.wh_east)
        self.Orderpoint._cron_distribution_replenishment_run()
        moves = self.env["stock.move"].search([("location_id", "=", self.wh_east.lot_stock_id.id)])
        self.assertEqual(
            {(move.product_id, move.product_uom_qty, move.location_dest_id) for move in moves},
            {(self.bolt, 20, self.wh.lot_stock_id), (self.nut, 2, self.wh.lot_stock_id)},
        )
        purchase_lines = self.env["purchase.order.line"].search([("product_id", "in", (self.bolt | self.nut).ids)])
        # The bolts came from the east warehouse: nothing bought; the nuts it could spare were 2, Odoo buys 18.
        self.assertEqual(purchase_lines.product_id, self.nut)
        self.assertEqual(purchase_lines.product_qty, 18)
        self.assertEqual((main.qty_to_order, nut_main.qty_to_order), (0, 0))
        self.assertFalse(east.qty_to_order)
        run = self.env["distribution.workflow.run"].search(
            [("workflow_id.code", "=", "replenishment_run")], order="id desc", limit=1
        )
        self.assertEqual(run.state, "success")
        self.assertIn("internal transfers from warehouses with a surplus", run.message)
