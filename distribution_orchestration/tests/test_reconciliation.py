from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged
from odoo.tools import SQL

from .common import OrchestrationCase


@tagged("post_install", "-at_install")
class TestReconciliation(OrchestrationCase):
    """What events missed: crashed workers' leftovers and carriers gone silent."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Reconciliation = cls.env["distribution.integration.reconciliation"]
        # The receiver below is on 127.0.0.1, as on a development server (distribution_outbound_allow_private).
        cls.startClassPatcher(
            patch.object(type(cls.env["distribution.outbound.endpoint"]), "_outbound_allow_private", return_value=True)
        )
        cls.outbound = cls.env["distribution.outbound.endpoint"].create(
            {
                "name": "Receiver",
                "url": "http://127.0.0.1:9/hook",
                "secret": "outbound-secret",
            }
        )
        cls.inbound = cls.env["distribution.inbound.endpoint"].create(
            {
                "name": "Carrier",
                "code": "carrier-reco",
                "secret": "inbound-secret",
                "handler": "carrier_status",
            }
        )

    def _age(self, record, column, hours):
        record.flush_recordset()
        self.env.cr.execute(
            SQL(
                "UPDATE %s SET %s = %s WHERE id = %s",
                SQL.identifier(record._table),
                SQL.identifier(column),
                fields.Datetime.now() - timedelta(hours=hours),
                record.id,
            )
        )
        record.invalidate_recordset()

    def test_outbox_event_left_sending_by_a_killed_worker_is_requeued(self):
        stuck, fresh = self.env["distribution.outbound.event"].create(
            [
                {"event_type": "order.held", "payload": "{}", "endpoint_id": self.outbound.id, "state": "sending"},
                {"event_type": "order.held", "payload": "{}", "endpoint_id": self.outbound.id, "state": "sending"},
            ]
        )
        self._age(stuck, "sending_started_at", 1)
        fresh.sending_started_at = fields.Datetime.now()
        result = self.Reconciliation._cron_reconcile()
        self.assertEqual(result["outbox"], stuck)
        self.assertEqual((stuck.state, fresh.state), ("pending", "sending"), "a live worker's event is left alone")

    def test_outbox_lease_is_a_system_parameter(self):
        """A shortened lease brings a killed worker's events back sooner, to the claim and the reconciliation
        alike; the live worker's batch budget shrinks with it; nonsense falls back to 15 minutes."""
        Event = self.env["distribution.outbound.event"]
        Param = self.env["ir.config_parameter"].sudo()
        stuck, fresh = Event.create(
            [
                {"event_type": "order.held", "payload": "{}", "endpoint_id": self.outbound.id, "state": "sending"},
                {"event_type": "order.held", "payload": "{}", "endpoint_id": self.outbound.id, "state": "sending"},
            ]
        )
        self._age(stuck, "sending_started_at", 1 / 60)  # a minute ago: within the default lease
        fresh.sending_started_at = fields.Datetime.now()
        self.assertEqual(Event._outbox_lease_seconds(), 15 * 60)
        self.assertFalse(Event._outbox_claim(10), "within the 15-minute lease nobody takes it")
        Param.set_param("distribution_orchestration.outbox_lease_seconds", "30")
        self.assertEqual((Event._outbox_lease_seconds(), Event._outbox_batch_budget()), (30, 10))
        result = self.Reconciliation._cron_reconcile()
        self.assertEqual(result["outbox"], stuck)
        self.assertEqual((stuck.state, fresh.state), ("pending", "sending"), "a live worker's event is left alone")
        self._age(stuck, "sending_started_at", 1 / 60)
        stuck.state = "sending"
        self.assertEqual(Event._outbox_claim(10), stuck, "the claim takes it again after the shortened lease")
        Param.set_param("distribution_orchestration.outbox_lease_seconds", "1")
        self.assertEqual(Event._outbox_lease_seconds(), 10, "never shorter than 10 s")
        Param.set_param("distribution_orchestration.outbox_lease_seconds", "soon")
        self.assertEqual(Event._outbox_lease_seconds(), 15 * 60)

    def test_inbox_event_stuck_in_processing_is_requeued(self):
        stuck = self.env["distribution.inbound.event"].create(
            {
                "endpoint_id": self.inbound.id,
                "event_id": "evt-stuck",
                "state": "processing",
                "company_id": self.env.company.id,
                "body": "{}",
            }
        )
        self._age(stuck, "write_date", 1)
        self.Reconciliation._cron_reconcile()
        self.assertEqual(stuck.state, "received")

    def test_delivery_without_carrier_news_raises_one_exception(self):
        self._stock(self.widget, 5)
        order = self._order([(self.widget, 1)])
        order.action_confirm()
        picking = order.picking_ids
        picking.write({"distribution_carrier_status": "in_transit"})
        self._age(picking, "distribution_carrier_event_at", 30)
        self.Reconciliation._cron_reconcile()
        self.Reconciliation._cron_reconcile()
        exception = self.Exception.search([("res_model", "=", "stock.picking"), ("res_id", "=", picking.id)])
        self.assertEqual(len(exception), 1)
        self.assertEqual((exception.category, exception.reason_code), ("late_transfer", "carrier_silent"))
        run = self.env["distribution.workflow.run"].search([("workflow_id.code", "=", "reconciliation")], limit=1)
        self.assertEqual(run.state, "success")
        self.assertIn("1 deliveries without carrier news", run.message)

    def test_recent_carrier_news_is_not_flagged(self):
        self._stock(self.widget, 5)
        order = self._order([(self.widget, 1)])
        order.action_confirm()
        order.picking_ids.write({"distribution_carrier_status": "in_transit"})
        self._age(order.picking_ids, "distribution_carrier_event_at", 2)
        self.assertFalse(self.Reconciliation._cron_reconcile()["silent"])
