from datetime import datetime
from datetime import timedelta

from freezegun import freeze_time
from psycopg2.extensions import TRANSACTION_STATUS_INTRANS

from odoo import SUPERUSER_ID
from odoo import Command
from odoo import api
from odoo.exceptions import AccessError
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

NOW = datetime(2026, 3, 2, 8, 0, 0)  # a Monday morning


@tagged("post_install", "-at_install")
class TestDispatch(TransactionCase):
    """Dispatch scores of deliveries: ordering, priority star, breakdown, scheduled refresh, cost, run log."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("distribution_orchestration.urgent_score", "60")
        Tier = cls.env["distribution.sla.tier"]
        cls.gold = Tier.create({"name": "Gold", "target_hours": 4, "weight": 1.5})
        cls.bronze = Tier.create({"name": "Bronze", "target_hours": 72, "weight": 1.0})
        Partner = cls.env["res.partner"]
        cls.gold_customer = Partner.create({"name": "Gold customer", "distribution_sla_tier_id": cls.gold.id})
        cls.gold_contact = Partner.create({"name": "Gold buyer", "parent_id": cls.gold_customer.id})
        cls.bronze_customer = Partner.create({"name": "Bronze customer", "distribution_sla_tier_id": cls.bronze.id})
        cls.product = cls.env["product.product"].create(
            {
                "name": "Dispatch widget",
                "type": "consu",
                "is_storable": True,
                "list_price": 10.0,
            }
        )
        cls.warehouse = cls.env["stock.warehouse"].search([("company_id", "=", cls.env.company.id)], limit=1)
        cls.customer_location = cls.env.ref("stock.stock_location_customers")
        cls.Run = cls.env["distribution.workflow.run"]
        cls.last_run_id = cls.Run.search([], order="id desc", limit=1).id

    # -- helpers -------------------------------------------------------------------------------
    def _order(self, partner, amount, hours):
        """A confirmed sale order of ``amount`` promised in ``hours`` from now, and its delivery."""
        order = self.env["sale.order"].create(
            {
                "partner_id": partner.id,
                "commitment_date": NOW + timedelta(hours=hours),
                "order_line": [
                    Command.create(
                        {"product_id": self.product.id, "product_uom_qty": 1, "price_unit": amount, "tax_id": False}
                    )
                ],
            }
        )
        order.action_confirm()
        self.assertEqual(order.state, "sale")
        picking = order.picking_ids
        self.assertEqual(len(picking), 1)
        return picking

    def _deliveries(self, partner, hours_list):
        """Outgoing pickings without sale order, scheduled in the given hours from now (one create)."""
        out_type = self.warehouse.out_type_id
        return self.env["stock.picking"].create(
            [
                {
                    "partner_id": partner.id,
                    "picking_type_id": out_type.id,
                    "location_id": out_type.default_location_src_id.id,
                    "location_dest_id": self.customer_location.id,
                    "scheduled_date": NOW + timedelta(hours=hours),
                    "move_ids": [
                        Command.create(
                            {
                                "name": self.product.name,
                                "product_id": self.product.id,
                                "product_uom_qty": 1,
                                "product_uom": self.product.uom_id.id,
                                "location_id": out_type.default_location_src_id.id,
                                "location_dest_id": self.customer_location.id,
                                "date": NOW + timedelta(hours=hours),
                            }
                        )
                    ],
                }
                for hours in hours_list
            ]
        )

    def _lines(self, picking):
        """The breakdown as {label: points}, without the total line."""
        lines = picking.dispatch_breakdown.splitlines()
        return {line.rsplit(": ", 1)[0]: float(line.rsplit(": ", 1)[1]) for line in lines[:-1]}

    def _runs(self):
        # The runs of this test only: a demo database holds a week of them.
        return self.Run.search([("workflow_id.code", "=", "dispatch_scoring"), ("id", ">", self.last_run_id)])

    # -- what users rely on --------------------------------------------------------------------
    def test_gold_due_in_two_hours_outranks_bronze_due_in_three_days(self):
        with freeze_time(NOW):
            gold = self._order(self.gold_contact, 500.0, 2)
            bronze = self._order(self.bronze_customer, 50000.0, 72)
            (gold | bronze)._recompute_dispatch_score()
        self.assertEqual(gold.scheduled_date, NOW + timedelta(hours=2), "the promise is the scheduled date")
        self.assertGreater(gold.dispatch_score, bronze.dispatch_score)
        queue = self.env["stock.picking"].search([("id", "in", (gold | bronze).ids)], order="dispatch_score desc")
        self.assertEqual(queue, gold | bronze)
        self.assertEqual(queue[0], gold)

    def test_overdue_promise_outranks_everything_of_the_same_tier(self):
        with freeze_time(NOW):
            overdue = self._order(self.bronze_customer, 1.0, -1)
            due_now = self._order(self.bronze_customer, 10_000_000.0, 0.1)
            (overdue | due_now)._recompute_dispatch_score()
        self.assertGreater(overdue.dispatch_score, due_now.dispatch_score)

    def test_value_matters_but_is_bounded(self):
        with freeze_time(NOW):
            small, large, huge = (self._order(self.bronze_customer, amount, 24) for amount in (100, 100_000, 10**9))
            overdue = self._order(self.bronze_customer, 100, -0.5)
            (small | large | huge | overdue)._recompute_dispatch_score()
        self.assertGreater(large.dispatch_score, small.dispatch_score)
        self.assertEqual(huge.dispatch_score, large.dispatch_score, "value points are capped")
        self.assertLess(huge.dispatch_score - small.dispatch_score, 10)
        self.assertGreater(overdue.dispatch_score, huge.dispatch_score)

    def test_breakdown_is_visible_and_adds_up(self):
        with freeze_time(NOW):
            picking = self._order(self.gold_contact, 1000.0, 2)
            picking._recompute_dispatch_score()
        lines = self._lines(picking)
        self.assertEqual(list(lines), ["SLA target 4 h", "Promise in 2.0 h", "Order value 1000.00", "Tier weight x1.5"])
        self.assertAlmostEqual(sum(lines.values()), picking.dispatch_score, places=2)
        self.assertEqual(picking.dispatch_breakdown.splitlines()[-1], f"Dispatch score: {picking.dispatch_score:.2f}")
        self.assertEqual(picking.dispatch_score, 94.59)
        self.assertEqual(picking.dispatch_scored_at, NOW)

    def test_score_follows_the_document_without_waiting_for_the_schedule(self):
        """A new delivery is scored at once; moving its date rescores it (no run: the ORM keeps it fresh)."""
        with freeze_time(NOW):
            picking = self._deliveries(self.bronze_customer, [72])
            picking.flush_recordset()
            first = picking.dispatch_score
            self.assertGreater(first, 0)
            picking.scheduled_date = NOW - timedelta(hours=3)
            picking.flush_recordset()
        self.assertGreater(picking.dispatch_score, first)
        self.assertIn("Promise overdue by 3.0 h", picking.dispatch_breakdown)

    def test_only_outgoing_open_pickings_are_scored(self):
        in_type = self.warehouse.in_type_id
        with freeze_time(NOW):
            receipt = self.env["stock.picking"].create(
                {
                    "partner_id": self.gold_customer.id,
                    "picking_type_id": in_type.id,
                    "location_id": self.env.ref("stock.stock_location_suppliers").id,
                    "location_dest_id": in_type.default_location_dest_id.id,
                }
            )
            delivery = self._deliveries(self.gold_customer, [-5])
            delivery.action_cancel()
            (receipt | delivery)._recompute_dispatch_score()
        self.assertEqual((receipt.dispatch_score, delivery.dispatch_score), (0.0, 0.0))
        self.assertFalse(receipt.dispatch_breakdown)
        self.assertEqual((receipt.priority, delivery.priority), ("0", "0"))

    def test_priority_raised_for_the_most_urgent_only_and_never_lowered(self):
        with freeze_time(NOW):
            urgent = self._order(self.gold_contact, 500.0, 2)
            calm = self._order(self.bronze_customer, 500.0, 72)
            starred_by_hand = self._order(self.bronze_customer, 500.0, 96)
            starred_by_hand.priority = "1"
            (urgent | calm | starred_by_hand)._recompute_dispatch_score()
        self.assertEqual((urgent.priority, urgent.dispatch_priority_raised), ("1", True))
        self.assertEqual((calm.priority, calm.dispatch_priority_raised), ("0", False))
        self.assertEqual((starred_by_hand.priority, starred_by_hand.dispatch_priority_raised), ("1", False))
        self.assertIn("Priority raised to urgent", urgent.message_ids[:1].body)
        self.assertIn(urgent.name, self._runs()[:1].message)
        # The promise moves three weeks out: the score drops, the star stays.
        with freeze_time(NOW):
            urgent.sale_id.commitment_date = NOW + timedelta(days=21)
            urgent._recompute_dispatch_score()
        self.assertLess(urgent.dispatch_score, 60)
        self.assertEqual(urgent.priority, "1")
        # Back to urgent, but a supervisor removed the star: the scoring does not set it again.
        with freeze_time(NOW):
            urgent.sale_id.commitment_date = NOW - timedelta(hours=1)
            urgent.priority = "0"
            urgent._recompute_dispatch_score()
            self.env["stock.picking"]._cron_recompute_dispatch_scores()
        self.assertGreater(urgent.dispatch_score, 60)
        self.assertEqual(urgent.priority, "0")

    def test_urgent_threshold_is_a_system_parameter(self):
        self.env["ir.config_parameter"].sudo().set_param("distribution_orchestration.urgent_score", "500")
        with freeze_time(NOW):
            picking = self._order(self.gold_contact, 500.0, -10)
            picking._recompute_dispatch_score()
        self.assertEqual(picking.priority, "0")

    def test_scheduled_action_rescores_as_time_passes(self):
        cron = self.env.ref("distribution_orchestration.ir_cron_distribution_dispatch_scores")
        with freeze_time(NOW):
            picking = self._deliveries(self.bronze_customer, [48])
            picking.flush_recordset()
        score_at_creation = picking.dispatch_score
        with freeze_time(NOW + timedelta(minutes=10)):
            self.env["stock.picking"]._cron_recompute_dispatch_scores()
            self.assertEqual(picking.dispatch_scored_at, NOW, "scored 10 minutes ago: not rescored yet")
        with freeze_time(NOW + timedelta(hours=40)):
            cron.method_direct_trigger()
            picking.invalidate_recordset()
            self.assertEqual(picking.dispatch_scored_at, NOW + timedelta(hours=40))
            self.assertGreater(picking.dispatch_score, score_at_creation)
            self.assertIn("Promise in 8.0 h", picking.dispatch_breakdown)
            self.assertEqual(picking.priority, "0")
        with freeze_time(NOW + timedelta(hours=50)):
            cron.method_direct_trigger()
            picking.invalidate_recordset()
            self.assertIn("Promise overdue by 2.0 h", picking.dispatch_breakdown)
            self.assertEqual((picking.priority, picking.dispatch_priority_raised), ("1", True))

    def test_scheduled_action_stars_deliveries_scored_urgent_since_its_last_run(self):
        """A delivery created urgent just before the run is fresh (not rescored) but still starred."""
        with freeze_time(NOW):
            picking = self._deliveries(self.gold_customer, [-2])
            picking.flush_recordset()
            self.assertEqual(picking.priority, "0")
        with freeze_time(NOW + timedelta(minutes=5)):
            self.env["stock.picking"]._cron_recompute_dispatch_scores()
        self.assertEqual(picking.priority, "1")

    def test_recompute_action_needs_write_access(self):
        picking = self._deliveries(self.bronze_customer, [10])
        reader = new_test_user(self.env, "dispatch_reader", groups="base.group_user")
        with self.assertRaises(AccessError):
            picking.with_user(reader).action_recompute_dispatch_score()
        stock_user = new_test_user(self.env, "dispatch_stock_user", groups="stock.group_stock_user")
        result = picking.with_user(stock_user).action_recompute_dispatch_score()
        self.assertEqual(result["params"]["type"], "success")
        run = self._runs()[:1]
        self.assertEqual(
            (run.state, run.res_id, run.create_uid),
            ("success", picking.id, stock_user),
            "tracked for any user allowed to act, whatever their rights on the run log",
        )

    def test_scoring_runs_are_logged(self):
        with freeze_time(NOW):
            pickings = self._deliveries(self.bronze_customer, [10, 20, 30])
            pickings._recompute_dispatch_score()
        run = self._runs()[:1]
        self.assertEqual((run.state, run.record_count, run.res_model), ("success", 3, "stock.picking"))
        self.assertIn("3 records scored", run.message)

    def test_server_action_recomputes_the_selection(self):
        action = self.env.ref("distribution_orchestration.stock_picking_action_recompute_dispatch_score")
        self.assertEqual(action.binding_model_id.model, "stock.picking")
        with freeze_time(NOW):
            pickings = self._deliveries(self.bronze_customer, [10, 20])
            pickings.flush_recordset()
        with freeze_time(NOW + timedelta(hours=1)):
            result = action.with_context(active_model="stock.picking", active_ids=pickings.ids).run()
        self.assertEqual(result["tag"], "display_notification")
        self.assertEqual(set(pickings.mapped("dispatch_scored_at")), {NOW + timedelta(hours=1)})
        self.assertEqual(self._runs()[:1].record_count, 2)

    def test_recompute_is_batched(self):
        """Rescoring 20 deliveries (with their sale orders and tiers) costs the queries of 5."""
        with freeze_time(NOW):
            few, many = (
                self.env["stock.picking"].concat(
                    *(self._order(self.bronze_customer, 100.0 * i, 24 + i) for i in range(n))
                )
                for n in (5, 20)
            )
            few._recompute_dispatch_score()  # warm the caches (workflow by code, ACLs)
            counts = {}
            for name, pickings in (("few", few), ("many", many)):
                self.env.invalidate_all()
                before = self.env.cr.sql_log_count
                pickings._recompute_dispatch_score()
                self.env.flush_all()
                counts[name] = self.env.cr.sql_log_count - before
            self.assertEqual(counts["few"], counts["many"], counts)
            self.assertEqual(counts["many"], QUERIES_TO_RESCORE)
            self.env.invalidate_all()
            with self.assertQueryCount(QUERIES_TO_RESCORE):
                many._recompute_dispatch_score()

    def test_priority_raise_is_batched(self):
        """Starring 20 deliveries (with their chatter notes) costs the queries of 5."""
        with freeze_time(NOW):
            few = self._deliveries(self.gold_customer, [-1] * 5)
            many = self._deliveries(self.gold_customer, [-1] * 20)
            (few | many).flush_recordset()
            counts = {}
            self._deliveries(self.gold_customer, [-1])._recompute_dispatch_score()  # warm up
            for name, pickings in (("few", few), ("many", many)):
                self.env.invalidate_all()
                before = self.env.cr.sql_log_count
                pickings._recompute_dispatch_score()
                self.env.flush_all()
                counts[name] = self.env.cr.sql_log_count - before
            self.assertEqual(set((few | many).mapped("priority")), {"1"})
            self.assertEqual(counts["few"], counts["many"], counts)
            self.assertEqual(counts["many"], QUERIES_TO_RESCORE_AND_STAR)

    def test_sale_order_score(self):
        """sale.order carries the score once it inherits the mixin (models/sale_order.py)."""
        if "dispatch_score" not in self.env["sale.order"]._fields:
            self.skipTest("sale.order does not inherit distribution.dispatch.mixin yet")
        with freeze_time(NOW):
            gold = self._order(self.gold_contact, 500.0, 2).sale_id
            bronze = self._order(self.bronze_customer, 50000.0, 72).sale_id
            (gold | bronze)._recompute_dispatch_score()
        self.assertGreater(gold.dispatch_score, bronze.dispatch_score)
        self.assertIn("SLA target 4 h", gold.dispatch_breakdown)
        self.assertEqual(self._runs()[:1].res_model, "sale.order")

    def test_sla_tier_counts_its_customers(self):
        self.assertEqual(self.gold.partner_count, 1)
        self.assertEqual(self.gold.display_name, "Gold (4 h)")
        action = self.gold.action_open_partners()
        self.assertEqual(self.env["res.partner"].search(action["domain"]), self.gold_customer)


# Measured on a cold cache, whatever the batch size: the run INSERT and UPDATE, one read per model (pickings,
# operation types, sale orders, partners, tiers) and one UPDATE of all the scores. The customer e-mail
# automation rules ship switched off, so none of them is read for the pickings.
QUERIES_TO_RESCORE = 7
# Plus the priority write (pickings and their moves) and the chatter notes, in batch.
# Plus the one read of the outbox endpoints for the picking.priority_changed events of the batch.
QUERIES_TO_RESCORE_AND_STAR = 15


@tagged("post_install", "-at_install")
class TestDispatchScoringWorkers(TransactionCase):
    """The dispatch scoring's scheduled action runs next to other workers and servers that write the same
    deliveries (an order released on another server, stock reserved): a delivery another transaction holds is
    skipped and left to the next run, and a delivery changed after the run's snapshot leaves the batch to the
    next run, without a failed job. The deliveries are committed (both connections must see them) and removed
    at the end."""

    def test_held_or_changed_deliveries_are_left_to_the_next_run(self):
        registry = self.env.registry
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            warehouse = env["stock.warehouse"].search([("company_id", "=", env.company.id)], limit=1)
            ids = (
                env["stock.picking"]
                .create(
                    [
                        {
                            "partner_id": env.user.partner_id.id,
                            "picking_type_id": warehouse.out_type_id.id,
                            "location_id": warehouse.lot_stock_id.id,
                            "location_dest_id": env.ref("stock.stock_location_customers").id,
                        }
                        for _ in range(2)
                    ]
                )
                .ids
            )
        held_id, free_id = ids
        try:
            holder, runner = registry.cursor(), registry.cursor()
            try:
                # Another worker holds one delivery (its transaction is still open).
                holder.execute("SELECT id FROM stock_picking WHERE id = %s FOR NO KEY UPDATE", [held_id])
                pickings = api.Environment(runner, SUPERUSER_ID, {})["stock.picking"].browse(ids)
                self.assertEqual(pickings._dispatch_claim().ids, [free_id], "the held delivery is skipped")
                runner.rollback()
                # The run's snapshot is taken; the other worker then changes the delivery and commits.
                runner.execute("SELECT 1")
                holder.execute("UPDATE stock_picking SET origin = 'changed elsewhere' WHERE id = %s", [held_id])
                holder.commit()
                claimed = pickings._dispatch_claim()
                self.assertFalse(claimed, "a delivery changed since the snapshot: the batch waits for the next run")
                self.assertEqual(runner._cnx.info.transaction_status, TRANSACTION_STATUS_INTRANS, "the run goes on")
                runner.rollback()
                self.assertEqual(pickings._dispatch_claim().ids, ids, "the next run takes both")
            finally:
                runner.rollback()
                holder.rollback()
                runner.close()
                holder.close()
        finally:
            with registry.cursor() as cr:
                api.Environment(cr, SUPERUSER_ID, {})["stock.picking"].browse(ids).unlink()
