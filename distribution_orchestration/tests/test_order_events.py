import json

from odoo.tests import tagged

from .common import OrchestrationCase


@tagged("post_install", "-at_install")
class TestOrderEvents(OrchestrationCase):
    """Business changes queue their outbound events in the same transaction."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.endpoint = cls.env["distribution.outbound.endpoint"].create(
            {
                "name": "n8n",
                "url": "http://127.0.0.1:9/hook",
                "secret": "s3cret-events",
            }
        )

    def _events(self, event_type):
        return self.env["distribution.outbound.event"].search(
            [("endpoint_id", "=", self.endpoint.id), ("event_type", "=", event_type)], order="id"
        )

    def test_hold_release_confirm_and_exception_events(self):
        self._rule("discount_ceiling", discount_ceiling_pct=5)
        order = self._order([(self.widget, 1, {"discount": 10})])
        order.action_confirm()
        held = self._events("order.held")
        self.assertEqual(len(held), 1)
        body = json.loads(held.payload)
        self.assertEqual((body["type"], body["data"]["order"]), ("order.held", order.name))
        self.assertEqual(body["data"]["hold_reasons"], ["discount_ceiling"])
        self.assertNotIn("s3cret-events", held.payload)
        created = self._events("exception.created")
        self.assertEqual(json.loads(created.payload)["data"]["category"], "discount")
        order.action_distribution_validate()
        self.assertEqual(len(self._events("order.held")), 1, "still held: no second order.held")

        order.with_user(self.manager)._distribution_force_release("Approved by phone")
        self.assertEqual(
            json.loads(self._events("order.released").payload)["data"]["release_reason"], "Approved by phone"
        )
        self.assertEqual(json.loads(self._events("order.confirmed").payload)["data"]["order"], order.name)
        self.assertEqual((held.res_model, held.res_id), ("sale.order", order.id))

    def test_resolved_exception_event(self):
        exception = self.Exception._raise_for(self._order([(self.widget, 1)]), "k", "other", "Check this")
        exception.write({"resolution_note": "Checked"})
        exception.action_resolve()
        data = json.loads(self._events("exception.resolved").payload)["data"]
        self.assertEqual(
            (data["reference"], data["state"], data["resolution_note"]), (exception.name, "resolved", "Checked")
        )

    def test_priority_change_of_a_delivery(self):
        self._stock(self.widget, 5)
        order = self._order([(self.widget, 1)])
        order.action_confirm()
        picking = order.picking_ids
        picking.priority = "1"
        data = json.loads(self._events("picking.priority_changed").payload)["data"]
        self.assertEqual((data["picking"], data["priority"], data["previous_priority"]), (picking.name, "1", "0"))
        picking.priority = "1"
        self.assertEqual(len(self._events("picking.priority_changed")), 1, "no change, no event")

    def test_rolled_back_change_emits_nothing(self):
        order = self._order([(self.widget, 1)])
        with self.assertRaises(ZeroDivisionError), self.cr.savepoint():
            order.action_confirm()
            _ = 1 / 0
        self.assertFalse(self._events("order.confirmed"))
