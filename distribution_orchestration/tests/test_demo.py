from datetime import timedelta

from odoo import fields
from odoo.addons.distribution_observability.tests.test_demo import demo_installed
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

MODULE = "distribution_orchestration"


@tagged("post_install", "-at_install")
class TestOrchestrationDemo(TransactionCase):
    """The orchestration's demo was made through the pipeline and the exceptions' own verbs: each demo
    order has the checks, exceptions and runs of its validation; each exception the owner and deadline of
    its routing and the state its verbs gave it; the inbox and outbox hold what their code paths left."""

    def setUp(self):
        super().setUp()
        demo_installed(self, MODULE, f"{MODULE}.demo_order_credit_hold")
        self.users = {
            key: self.env.ref(f"{MODULE}.user_demo_{key}")
            for key in ("sales_rep", "credit_controller", "warehouse_lead")
        }

    def _order(self, name):
        return self.env.ref(f"{MODULE}.demo_order_{name}")

    def _validation_runs(self, order):
        workflow = self.env["distribution.workflow"]._get_by_code("order_validation")
        return self.env["distribution.workflow.run"].search(
            [("workflow_id", "=", workflow.id), ("res_model", "=", "sale.order"), ("res_id", "=", order.id)]
        )

    def test_service_levels_and_second_warehouse(self):
        tiers = self.env["res.partner"].search([("distribution_sla_tier_id", "!=", False)]).distribution_sla_tier_id
        self.assertEqual(
            set(tiers.ids),
            {self.env.ref(f"{MODULE}.starter_sla_{key}").id for key in ("standard", "priority", "critical")},
        )
        east = self.env.ref(f"{MODULE}.stock_warehouse_demo_east")
        quants = self.env["stock.quant"].search([("location_id", "child_of", east.lot_stock_id.id)])
        self.assertGreater(sum(quants.mapped("quantity")), 0, "the East warehouse holds stock")
        # Counted through inventory mode: the stock came in by applied inventory moves.
        moves = self.env["stock.move"].search(
            [("location_dest_id", "=", east.lot_stock_id.id), ("is_inventory", "=", True)]
        )
        self.assertTrue(moves and all(move.state == "done" for move in moves))

    def test_credit_hold(self):
        order = self._order("credit_hold")
        self.assertEqual((order.state, order.distribution_validation_state), ("draft", "on_hold"))
        self.assertIn("credit_limit", order.distribution_hold_reason)
        check = order.distribution_check_ids.filtered(lambda c: c.reason_code == "credit_limit")
        self.assertEqual(check.outcome, "hold")
        exception = order.distribution_exception_ids.filtered(lambda e: e.category == "credit")
        self.assertTrue(exception.blocking)
        self.assertEqual(exception.state, "new")
        self.assertEqual(exception.user_id, self.users["credit_controller"], "routed to the credit controller")
        self.assertTrue(exception.is_overdue, "raised 30 hours ago with a deadline of 8 hours")
        self.assertEqual(exception.deadline, exception.create_date + timedelta(hours=8))
        self.assertTrue(exception.activity_ids, "the owner has an activity")
        runs = self._validation_runs(order)
        self.assertEqual(runs.mapped("state"), ["failed"])
        self.assertEqual(runs.error_kind, "business")

    def test_credit_granted_releases_the_order(self):
        order = self._order("credit_released")
        self.assertEqual((order.state, order.distribution_validation_state), ("sale", "released"))
        exception = order.distribution_exception_ids.filtered(lambda e: e.category == "credit")
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(exception.resolved_by_id, self.users["credit_controller"])
        workflow = self.env["distribution.workflow"]._get_by_code("hold_release")
        self.assertTrue(
            self.env["distribution.workflow.run"].search_count(
                [("workflow_id", "=", workflow.id), ("res_model", "=", "sale.order"), ("res_id", "=", order.id)]
            )
        )

    def test_stock_warning_and_stock_hold(self):
        warned = self._order("stock_warning")
        self.assertEqual((warned.state, warned.distribution_validation_state), ("sale", "warning"))
        shortage = warned.distribution_exception_ids.filtered(lambda e: e.category == "stock_shortage")
        self.assertEqual(shortage.state, "in_progress", "taken in hand by the warehouse lead")
        self.assertFalse(shortage.blocking)
        self.assertEqual(shortage.values["proposal"], "alternate_warehouse")
        held = self._order("stock_hold")
        self.assertEqual((held.state, held.distribution_validation_state), ("draft", "on_hold"))
        hold = held.distribution_exception_ids.filtered("blocking")
        self.assertEqual(hold.rule_id, self.env.ref(f"{MODULE}.distribution_validation_rule_demo_key_accounts"))
        self.assertTrue(hold.is_overdue)
        self.assertEqual(hold.user_id, self.users["warehouse_lead"])

    def test_dismissed_hold_and_validated_order(self):
        order = self._order("hold_dismissed")
        self.assertEqual((order.state, order.distribution_validation_state), ("sale", "released"))
        hold = order.distribution_exception_ids.filtered("blocking")
        self.assertEqual(hold.state, "dismissed")
        self.assertEqual(hold.resolved_by_id, self.env.ref("base.user_admin"))
        validated = self._order("validated")
        self.assertEqual((validated.state, validated.distribution_validation_state), ("sale", "validated"))
        self.assertTrue(validated.distribution_check_ids)
        self.assertTrue(all(check.outcome == "pass" for check in validated.distribution_check_ids))

    def test_every_exception_state_with_owners_and_deadlines(self):
        Exception_ = self.env["distribution.exception"]
        states = set(Exception_.search([]).mapped("state"))
        self.assertLessEqual({"new", "in_progress", "resolved", "dismissed"}, states)
        for exception in Exception_.search([]):
            self.assertTrue(exception.user_id and exception.deadline, f"{exception.name} has an owner and a deadline")
        self.assertTrue(Exception_.search_count([("is_overdue", "=", True)]))

    def test_inbox(self):
        Event = self.env["distribution.inbound.event"]
        carrier = self.env.ref(f"{MODULE}.distribution_inbound_endpoint_demo_carrier")
        states = set(Event.search([("endpoint_id", "=", carrier.id)]).mapped("state"))
        self.assertLessEqual({"done", "exception", "received"}, states)
        late = self._order("stock_warning").picking_ids.filtered(lambda p: p.distribution_carrier_status == "delayed")
        exception = self.env["distribution.exception"].search(
            [("res_model", "=", "stock.picking"), ("res_id", "in", late.ids), ("category", "=", "late_transfer")]
        )
        self.assertEqual(exception.user_id, self.users["warehouse_lead"])
        unknown = Event.search([("endpoint_id", "=", carrier.id), ("state", "=", "exception")])
        self.assertEqual(unknown.exception_id.category, "integration")
        rejections = self.env["distribution.inbound.rejection"].search([("endpoint_id", "=", carrier.id)])
        self.assertEqual(len(rejections), 24)
        self.assertTrue(all(rejection.status == 401 for rejection in rejections))
        self.assertEqual(self.env.ref(f"{MODULE}.demo_inbound_event_waiting").state, "received")

    def test_outbox(self):
        Event = self.env["distribution.outbound.event"]
        edi = self.env.ref(f"{MODULE}.demo_outbound_endpoint_edi")
        dead = Event.search([("endpoint_id", "=", edi.id)])
        self.assertTrue(dead)
        self.assertTrue(all(event.state == "dead" and event.attempts == 1 for event in dead), "dead after its attempt")
        connector = self.env.ref(f"{MODULE}.demo_outbound_endpoint_3pl")
        waiting = Event.search([("endpoint_id", "=", connector.id)])
        self.assertTrue(waiting and all(event.state == "pending" for event in waiting))
        self.assertTrue(any(event.attempts == 1 and event.last_error for event in waiting), "tried once, to retry")
        self.assertFalse((edi | connector).filtered("active"), "paused while their receivers are down")
        workflow = self.env["distribution.workflow"]._get_by_code("outbox_delivery")
        failed = self.env["distribution.workflow.run"].search(
            [("workflow_id", "=", workflow.id), ("reason", "=", "dead_letter"), ("child_ids", "!=", False)]
        )
        self.assertTrue(failed, "the delivery batch recorded its failed events")
        # The finance ledger (a system of record) has a sync line per event, none acknowledged: the reconciliation
        # lists every order it was sent.
        ledger = self.env.ref(f"{MODULE}.demo_outbound_endpoint_ledger")
        lines = self.env["distribution.sync.line"].search([("endpoint_id", "=", ledger.id)])
        self.assertEqual(len(lines), Event.search_count([("endpoint_id", "=", ledger.id)]))
        self.assertTrue(lines and all(line.state == "sent" and line.res_model == "sale.order" for line in lines))
        listed = lines.filtered("reconcile_reason")
        self.assertEqual(set(listed.mapped("res_id")), set(lines.mapped("res_id")), "one line per order to reconcile")
        self.assertEqual(set(listed.mapped("reconcile_reason")), {"unacknowledged"})

    def test_alerts_and_history(self):
        Incident = self.env["distribution.alert.incident"]
        for xmlid in ("starter_alert_dead_letters", "starter_alert_overdue_exceptions"):
            rule = self.env.ref(f"{MODULE}.{xmlid}")
            self.assertTrue(Incident.search_count([("rule_id", "=", rule.id), ("state", "=", "open")]), xmlid)
        Run = self.env["distribution.workflow.run"]
        week_ago = fields.Datetime.now() - timedelta(days=7)
        for code in ("order_validation", "outbox_delivery", "inbox_processing"):
            workflow = self.env["distribution.workflow"]._get_by_code(code)
            runs = Run.search([("workflow_id", "=", workflow.id), ("parent_id", "=", False)])
            self.assertGreater(len(runs), 20, code)
            self.assertLess(min(runs.mapped("started_at")), week_ago + timedelta(days=2), code)
        validation = self.env["distribution.workflow"]._get_by_code("order_validation")
        kinds = set(Run.search([("workflow_id", "=", validation.id), ("state", "=", "failed")]).mapped("error_kind"))
        self.assertEqual(kinds, {"business", "technical"})

    def test_supply_history_teaches_the_replenishment(self):
        """Two months of deliveries and receipts: the reorder rules have a demand and a days of cover, the
        late vendor drifts (with its exception routed to an owner), the punctual one does not, and the
        dashboard's replenishment tiles have something to show."""
        LeadTime = self.env["distribution.vendor.lead.time"]
        vendors = [self.env.ref(f"base.res_partner_{n}") for n in (1, 3)]
        wood, gemini = (LeadTime.search([("partner_id", "=", v.id), ("product_id", "=", False)]) for v in vendors)
        self.assertRecordValues(wood, [{"receipt_count": 6, "median_days": 8.5, "planned_days": 3.0, "drifting": True}])
        self.assertRecordValues(gemini, [{"receipt_count": 5, "median_days": 1.0, "drifting": False}])
        self.assertIn("Wood Corner", wood.risk_summary)
        drift = self.env["distribution.exception"].search(
            [
                ("source_key", "=", "lead_time_drift"),
                ("res_model", "=", "res.partner"),
                ("res_id", "=", wood.partner_id.id),
            ]
        )
        self.assertTrue(drift.user_id and drift.deadline, "routed to an owner with a deadline")
        main = self.env.ref("stock.warehouse0")
        box = self.env["stock.warehouse.orderpoint"].search(
            [("product_id", "=", self.env.ref("product.product_product_7").id), ("warehouse_id", "=", main.id)]
        )
        self.assertGreater(box.distribution_adu, 2, "24 boxes every third day, blended with the open orders")
        self.assertGreater(box.distribution_cover_days, 0)
        cabinet = self.env["stock.warehouse.orderpoint"].search(
            [("product_id", "=", self.env.ref("product.product_product_6").id), ("warehouse_id", "=", main.id)]
        )
        self.assertRecordValues(
            cabinet, [{"distribution_proposed": True, "trigger": "manual", "distribution_suggestion_state": "above"}]
        )
        chair = self.env["stock.warehouse.orderpoint"].search(
            [("product_id", "=", self.env.ref("product.product_product_12").id), ("warehouse_id", "=", main.id)]
        )
        self.assertTrue(chair.distribution_under_min, "four chairs free for a min of six")
        low = self.env["distribution.exception"].search(
            [("source_key", "=", "low_stock_monitor"), ("res_model", "=", chair._name), ("res_id", "=", chair.id)]
        )
        self.assertEqual(low.category, "low_stock")
        figures = self.env["distribution.workflow.run"]._replenishment_figures()
        self.assertGreaterEqual(figures["under_min"], 2, "the chairs, and the desks of the East warehouse")
        self.assertGreater(figures["cover_days_p50"], 0)
        self.assertGreaterEqual(figures["vendors_drifting"], 1)

    def test_web_shop_orders_through_the_inbox(self):
        """The shop sent order #1001 twice under two event ids: one sale order, confirmed through the pipeline;
        #1002 names a SKU nobody knows: no order, one exception listing it."""
        channel = self.env.ref(f"{MODULE}.distribution_sales_channel_demo_shop")
        orders = self.env["sale.order"].search([("distribution_channel_id", "=", channel.id)])
        self.assertEqual(orders.mapped("distribution_channel_ref"), ["#1001"])
        self.assertEqual(orders.partner_id, self.env.ref("base.res_partner_3"))
        self.assertEqual(orders.state, "sale")
        self.assertEqual(sorted(orders.order_line.mapped("product_uom_qty")), [2, 6])
        events = self.env["distribution.inbound.event"].search(
            [("endpoint_id", "=", self.env.ref(f"{MODULE}.distribution_inbound_endpoint_demo_shop").id)]
        )
        self.assertEqual(len(events), 3)
        invalid = self.env["distribution.exception"].search([("category", "=", "channel_order_invalid")])
        self.assertEqual(len(invalid), 1)
        self.assertIn("SHOP-LAMP-99", invalid.message)
