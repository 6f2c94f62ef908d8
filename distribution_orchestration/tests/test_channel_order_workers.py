import json
import uuid

from odoo import SUPERUSER_ID
from odoo import api
from odoo.tests import TransactionCase
from odoo.tests import tagged
from odoo.tools import mute_logger

EVENT_LOGGER = "odoo.addons.distribution_orchestration.models.distribution_inbound_event"


@tagged("post_install", "-at_install")
class TestChannelOrderWorkers(TransactionCase):
    """Two workers apply two resends of one channel order at the same instant, each on its own connection
    (two cursors, as two cron workers would hold; the suite has no harness of server workers): one sale
    order results, the loser's event is applied again as the resend it is. The data is committed (both
    connections must see it), under codes made for the test, and removed at the end."""

    def _committed(self):
        registry = self.env.registry
        tag = uuid.uuid4().hex[:8]
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            company = env.ref("base.main_company")
            partner = env["res.partner"].create({"name": f"Workers Customer {tag}", "ref": f"WK-{tag}"})
            product = env["product.product"].create(
                {"name": f"Workers Widget {tag}", "default_code": f"WKW-{tag}", "list_price": 10.0}
            )
            channel = env["distribution.sales.channel"].create(
                {"name": f"Workers Shop {tag}", "code": f"wk-{tag}", "company_id": company.id}
            )
            endpoint = env["distribution.inbound.endpoint"].create(
                {"name": f"Workers {tag}", "code": f"wk-{tag}", "handler": "channel_order", "company_id": company.id}
            )
            Event = env["distribution.inbound.event"]
            events = {}
            for ref in ("LOCK", "INDEX"):
                data = {
                    "channel": channel.code,
                    "order_ref": ref,
                    "customer": {"ref": partner.ref},
                    "lines": [{"sku": product.default_code, "quantity": 3}],
                }
                events[ref] = []
                for _worker in range(2):
                    event_id = str(uuid.uuid4())
                    body = json.dumps(
                        {
                            "event_id": event_id,
                            "type": "order.created",
                            "occurred_at": "2026-11-30T10:00:00Z",
                            "data": data,
                        }
                    )
                    events[ref].append(Event._accept(endpoint, event_id, "order.created", body, {}))
            ids = {"partner": partner.id, "product": product.id, "channel": channel.id, "endpoint": endpoint.id}
        return ids, events

    def _cleanup(self, ids):
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            orders = env["sale.order"].search([("distribution_channel_id", "=", ids["channel"])])
            env["distribution.exception"].search([("sale_order_id", "in", orders.ids)]).unlink()
            orders.unlink()
            events = env["distribution.inbound.event"].search([("endpoint_id", "=", ids["endpoint"])])
            env["distribution.workflow.run"].search(
                [("res_model", "=", events._name), ("res_id", "in", events.ids)]
            ).unlink()
            events.unlink()
            env["distribution.inbound.endpoint"].browse(ids["endpoint"]).unlink()
            env["distribution.sales.channel"].browse(ids["channel"]).unlink()
            env["res.partner"].browse(ids["partner"]).child_ids.unlink()
            env["res.partner"].browse(ids["partner"]).unlink()
            env["product.product"].browse(ids["product"]).unlink()

    def _apply(self, cr, event_id):
        """What one worker does with one event it claimed: apply it in its transaction (not committed)."""
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        event = env["distribution.inbound.event"].browse(event_id)
        with env["distribution.workflow.run"].track("inbox_processing", event) as run:
            return event._process(run)

    def _state(self, ids, event_ids):
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            events = env["distribution.inbound.event"].browse(event_ids)
            return (
                env["sale.order"].search_count([("distribution_channel_id", "=", ids["channel"])]),
                [(event.state, event.result or event.error) for event in events],
            )

    @mute_logger(EVENT_LOGGER, "odoo.sql_db")
    def test_two_workers_at_the_same_instant_leave_one_order(self):
        registry = self.env.registry
        ids, events = self._committed()
        try:
            # 1. Both work at once: the second meets the first's lock on the business key (its order is not
            #    committed yet) and defers its event instead of creating a second order.
            first_cr, second_cr = registry.cursor(), registry.cursor()
            try:
                self.assertEqual(self._apply(first_cr, events["LOCK"][0]), "done")
                self.assertEqual(self._apply(second_cr, events["LOCK"][1]), "deferred")
                first_cr.commit()
                second_cr.commit()
            finally:
                first_cr.close()
                second_cr.close()
            # 2. The first commits after the second began (its snapshot does not show the order) but before
            #    it creates it: the unique index refuses the second order, the event is deferred likewise.
            first_cr, second_cr = registry.cursor(), registry.cursor()
            try:
                second_cr.execute("SELECT 1")  # the second worker's transaction (and snapshot) begins
                self.assertEqual(self._apply(first_cr, events["INDEX"][0]), "done")
                first_cr.commit()
                self.assertEqual(self._apply(second_cr, events["INDEX"][1]), "deferred")
                second_cr.commit()
            finally:
                first_cr.close()
                second_cr.close()
            count, states = self._state(ids, [events["LOCK"][1], events["INDEX"][1]])
            self.assertEqual(count, 2, "one order per business key")
            self.assertEqual([state for state, _text in states], ["failed", "failed"], states)
            # 3. The deferred events are applied again in a new transaction: identical resends.
            for event_id in (events["LOCK"][1], events["INDEX"][1]):
                with registry.cursor() as cr:
                    self.assertEqual(self._apply(cr, event_id), "done")
            count, states = self._state(ids, [events["LOCK"][1], events["INDEX"][1]])
            self.assertEqual(count, 2)
            for state, text in states:
                self.assertEqual(state, "done")
                self.assertIn("identical resend", text)
        finally:
            self._cleanup(ids)
