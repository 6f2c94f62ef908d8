import json
import time
import uuid

from odoo import Command
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..controllers import webhook
from ..services import signature
from .common import OrchestrationHttpCase

EVENT_LOGGER = "odoo.addons.distribution_orchestration.models.distribution_inbound_event"


class ChannelOrderFixtures:
    """A web shop posting its orders signed to a ``channel_order`` endpoint, products known by internal
    reference, barcode or the shop's own SKU, and a customer the shop names by reference or e-mail."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Event = cls.env["distribution.inbound.event"]
        cls.Event._cron_process()  # events already waiting (a demo database has some) go first
        cls.endpoint = cls.env["distribution.inbound.endpoint"].create(
            {"name": "Shop orders", "code": "test-shop-orders", "handler": "channel_order", "secret": "shop-secret-9Xa"}
        )
        cls.outbox = cls.env["distribution.outbound.endpoint"].create(
            {"name": "Shop feedback", "url": "http://127.0.0.1:9/hook", "secret": "shop-feedback-secret"}
        )
        cls.customer.write({"ref": "KA-1", "email": "buyer@key-account.example"})
        cls.gadget.barcode = "4006381333931"
        Product = cls.env["product.product"]
        cls.archived = Product.create({"name": "Old Widget", "default_code": "OLD", "list_price": 10.0})
        cls.archived.action_archive()
        cls.not_for_sale = Product.create(
            {"name": "Spare Part", "default_code": "SPARE", "list_price": 10.0, "sale_ok": False}
        )
        cls.channel = cls.env["distribution.sales.channel"].create(
            {
                "name": "Web Shop",
                "code": "shop",
                "warehouse_id": cls.wh_main.id,
                "user_id": cls.salesman.id,
                "price_tolerance_pct": 5.0,
                "sku_ids": [Command.create({"channel_sku": "SHOP-WID-RED", "product_id": cls.widget.id})],
            }
        )

    def setUp(self):
        super().setUp()
        webhook._last_rejection_log.clear()

    def _data(self, ref="1001", **values):
        return {
            "channel": "shop",
            "order_ref": ref,
            "customer": {"ref": "KA-1"},
            "delivery_address": {
                "name": "Key Account Warehouse",
                "street": "1 Dock Road",
                "zip": "1000",
                "city": "Brussels",
                "country_code": "BE",
            },
            "lines": [{"sku": "SHOP-WID-RED", "quantity": 2, "price": 98.0}, {"sku": "4006381333931", "quantity": 1}],
            "requested_date": "2026-12-20",
            "notes": "Leave at the dock.",
            **values,
        }

    def _post(self, data, event_id=None):
        """Post one signed event through real HTTP; the request is accepted (202)."""
        event_id = event_id or str(uuid.uuid4())
        body = signature.envelope(event_id, "order.created", "2026-11-30T10:00:00Z", self.company.name, data)
        headers = signature.headers(self.endpoint.secret, "order.created", event_id, int(time.time()), body)
        headers["Content-Type"] = "application/json"
        response = self.opener.post(
            f"{self.base_url()}/distribution/webhook/{self.endpoint.code}", data=body, headers=headers, timeout=12
        )
        self.assertEqual(response.status_code, 202, response.text[:300])
        return event_id

    def _process(self):
        with mute_logger(EVENT_LOGGER):
            self.Event._cron_process(batch_size=100)
        self.env.invalidate_all()

    def _event(self, event_id):
        return self.Event.search([("endpoint_id", "=", self.endpoint.id), ("event_id", "=", event_id)])

    def _orders(self, ref="1001"):
        return self.env["sale.order"].search(
            [("distribution_channel_id", "=", self.channel.id), ("distribution_channel_ref", "=", ref)]
        )

    def _outbound(self, event_type, order):
        events = self.env["distribution.outbound.event"].search(
            [("endpoint_id", "=", self.outbox.id), ("event_type", "=", event_type)]
        )
        return [
            json.loads(event.payload)["data"]
            for event in events
            if json.loads(event.payload)["data"]["order"] == order.name
        ]

    def _channel_exception(self, ref):
        return self.Exception.search(
            [
                ("res_model", "=", self.channel._name),
                ("res_id", "=", self.channel.id),
                ("source_key", "=", f"channel_order:{ref}"),
                ("state", "not in", ("resolved", "dismissed")),
            ]
        )


@tagged("post_install", "-at_install")
class TestChannelOrders(ChannelOrderFixtures, OrchestrationHttpCase):
    """Customer-channel orders through the signed inbox: one sale order per business key, checked before
    anything is written, through the validation pipeline."""

    def test_same_order_three_times_under_new_event_ids_gives_one_order(self):
        event_ids = [self._post(self._data()) for _attempt in range(3)]
        self._process()
        order = self._orders()
        self.assertEqual(len(order), 1)
        self.assertEqual((order.partner_id, order.client_order_ref), (self.customer, "1001"))
        self.assertEqual(order.warehouse_id, self.wh_main)
        self.assertEqual(order.user_id, self.salesman)
        self.assertEqual(str(order.commitment_date), "2026-12-20 00:00:00")
        self.assertIn("Leave at the dock.", str(order.note))
        shipping = order.partner_shipping_id
        self.assertEqual((shipping.parent_id, shipping.type, shipping.city), (self.customer, "delivery", "Brussels"))
        lines = {line.product_id: (line.product_uom_qty, line.price_unit) for line in order.order_line}
        self.assertEqual(lines, {self.widget: (2.0, 98.0), self.gadget: (1.0, 50.0)})
        events = self.Event.browse(self._event(event_id).id for event_id in event_ids)
        self.assertEqual(events.mapped("state"), ["done"] * 3)
        self.assertEqual(sum("identical resend" in event.result for event in events), 2)
        # The same delivery contact on every resend, not one per message.
        self.assertEqual(len(self.customer.child_ids.filtered(lambda p: p.type == "delivery")), 1)

    def test_changed_resend_of_a_quotation_updates_it(self):
        self._post(self._data())
        self._process()
        order = self._orders()
        changed = self._data(
            lines=[{"sku": "WID", "quantity": 5}], requested_date="2026-12-24", notes="Call before delivery."
        )
        event_id = self._post(changed)
        self._process()
        self.assertEqual(self._orders(), order, "updated, not a second order")
        self.assertEqual(order.state, "draft")
        self.assertEqual([(line.product_id, line.product_uom_qty) for line in order.order_line], [(self.widget, 5.0)])
        self.assertEqual(str(order.commitment_date), "2026-12-24 00:00:00")
        self.assertIn("Call before delivery.", str(order.note))
        self.assertIn("updated", self._event(event_id).result)

    def test_changed_resend_of_a_confirmed_order_raises_and_leaves_it(self):
        self.channel.auto_confirm = True
        self._post(self._data())
        self._process()
        order = self._orders()
        self.assertEqual(order.state, "sale")
        # order.confirmed carries the channel's reference back.
        confirmed = self._outbound("order.confirmed", order)
        self.assertEqual([(data["channel"], data["channel_ref"]) for data in confirmed], [("shop", "1001")])
        before = [(line.product_id, line.product_uom_qty, line.price_unit) for line in order.order_line]
        event_id = self._post(self._data(lines=[{"sku": "WID", "quantity": 9}]))
        self._process()
        self.assertEqual(self._orders(), order)
        self.assertEqual(
            [(line.product_id, line.product_uom_qty, line.price_unit) for line in order.order_line], before
        )
        exception = order.distribution_exception_ids.filtered(lambda e: e.category == "channel_order_changed")
        self.assertEqual(len(exception), 1)
        self.assertEqual(exception.state, "new")
        self.assertIn(event_id, exception.message)
        self.assertEqual(self._event(event_id).exception_id, exception)
        # An identical resend of what was confirmed changes nothing and raises nothing more.
        self._post(self._data())
        self._process()
        self.assertEqual(
            len(order.distribution_exception_ids.filtered(lambda e: e.category == "channel_order_changed")), 1
        )

    def test_each_validation_failure_gives_its_exception_and_no_order(self):
        cases = {
            "unknown customer": {"customer": {"email": "nobody@nowhere.example"}},
            "unknown SKU NOPE": {"lines": [{"sku": "NOPE", "quantity": 1}]},
            "is archived": {"lines": [{"sku": "OLD", "quantity": 1}]},
            "may not be sold": {"lines": [{"sku": "SPARE", "quantity": 1}]},
            "quantity 0 is not positive": {"lines": [{"sku": "WID", "quantity": 0}]},
            "beyond the tolerance": {"lines": [{"sku": "WID", "quantity": 1, "price": 80.0}]},
        }
        for number, (problem, values) in enumerate(cases.items()):
            with self.subTest(problem=problem):
                ref = f"BAD-{number}"
                event_id = self._post(self._data(ref=ref, **values))
                self._process()
                self.assertFalse(self._orders(ref), "no order")
                event = self._event(event_id)
                self.assertEqual(event.state, "exception")
                exception = self._channel_exception(ref)
                self.assertEqual(len(exception), 1)
                self.assertEqual((exception.category, exception.kind), ("channel_order_invalid", "business"))
                self.assertIn(problem, exception.message)
                self.assertEqual(event.exception_id, exception)

    def test_every_problem_in_one_exception_fixed_by_a_corrected_resend(self):
        data = self._data(
            ref="BAD-ALL",
            customer={"ref": "NO-SUCH", "email": "nobody@nowhere.example"},
            lines=[
                {"sku": "NOPE", "quantity": 1},
                {"sku": "OLD", "quantity": 1},
                {"sku": "SPARE", "quantity": 1},
                {"sku": "WID", "quantity": -2},
                {"sku": "GAD", "quantity": 1, "price": 10.0},
            ],
        )
        self._post(data)
        self._post(data)  # resent: the same exception, not a second one
        self._process()
        self.assertFalse(self._orders("BAD-ALL"))
        exception = self._channel_exception("BAD-ALL")
        self.assertEqual(len(exception), 1)
        self.assertEqual(len(exception.values["problems"]), 6, exception.message)
        for text in ("unknown customer", "line 1", "line 2", "line 3", "line 4", "line 5"):
            self.assertIn(text, exception.message)
        self.assertFalse(self.env["res.partner"].search([("name", "=", "Key Account Warehouse")]), "nothing created")
        # The channel sends it again, corrected: the order is created and the exception resolved.
        self._post(self._data(ref="BAD-ALL"))
        self._process()
        self.assertEqual(len(self._orders("BAD-ALL")), 1)
        self.assertEqual(exception.state, "resolved")

    def test_price_tolerance_holds(self):
        self._post(self._data(ref="P-IN", lines=[{"sku": "WID", "quantity": 1, "price": 95.0}]))
        self._post(self._data(ref="P-UP", lines=[{"sku": "WID", "quantity": 1, "price": 105.0}]))
        self._post(self._data(ref="P-OUT", lines=[{"sku": "WID", "quantity": 1, "price": 94.9}]))
        self._process()
        self.assertEqual(self._orders("P-IN").order_line.price_unit, 95.0)
        self.assertEqual(self._orders("P-UP").order_line.price_unit, 105.0)
        self.assertFalse(self._orders("P-OUT"))
        self.assertIn("beyond the tolerance of 5%", self._channel_exception("P-OUT").message)
        self.channel.price_tolerance_pct = 10.0
        self._post(self._data(ref="P-OUT", lines=[{"sku": "WID", "quantity": 1, "price": 94.9}]))
        self._process()
        self.assertEqual(self._orders("P-OUT").order_line.price_unit, 94.9)

    def test_created_on_hold_per_channel_setting(self):
        self.channel.write({"hold_instead_of_reject": True, "auto_confirm": True})
        event_id = self._post(
            self._data(ref="HOLD-1", lines=[{"sku": "WID", "quantity": 2}, {"sku": "NOPE", "quantity": 1}])
        )
        self._process()
        order = self._orders("HOLD-1")
        self.assertEqual(order.state, "draft", "never confirmed with a problem")
        self.assertEqual([(line.product_id, line.product_uom_qty) for line in order.order_line], [(self.widget, 2.0)])
        exception = order.distribution_exception_ids.filtered(lambda e: e.category == "channel_order_invalid")
        self.assertEqual(len(exception), 1)
        self.assertIn("unknown SKU NOPE", exception.message)
        self.assertEqual(self._event(event_id).exception_id, exception)
        # Corrected: the quotation is updated, the exception resolved, the order confirmed.
        self._post(self._data(ref="HOLD-1", lines=[{"sku": "WID", "quantity": 2}, {"sku": "GAD", "quantity": 1}]))
        self._process()
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(order.state, "sale")

    def test_a_pattern_names_no_customer(self):
        """Found by the fuzz suite: the VAT number and e-mail were compared with =ilike as sent, so that "%" or
        "_%" named whichever customer came first, and a channel creating on hold made that customer an order."""
        self.channel.write({"hold_instead_of_reject": True})
        self.customer.vat = "BE0477472701"
        for number, customer in enumerate(({"email": "%"}, {"vat": "_%"}, {"email": "%@key-account.example"})):
            with self.subTest(customer=customer):
                ref = f"LIKE-{number}"
                event_id = self._post(self._data(ref=ref, customer=customer))
                self._process()
                self.assertFalse(self._orders(ref), "no order for a customer the channel did not name")
                self.assertEqual(self._event(event_id).state, "exception")
                self.assertIn("unknown customer", self._channel_exception(ref).message)
        # The same values, named whole (another case), still find the customer.
        self._post(self._data(ref="LIKE-OK", customer={"email": "Buyer@Key-Account.example"}))
        self._process()
        self.assertEqual(self._orders("LIKE-OK").partner_id, self.customer)

    def test_channel_order_goes_through_the_pipeline_credit_hold(self):
        self._rule("credit_limit")
        self.channel.auto_confirm = True
        event_id = self._post(self._data(ref="BIG-1", lines=[{"sku": "WID", "quantity": 200}]))
        self._process()
        order = self._orders("BIG-1")
        self.assertEqual(order.state, "draft")
        self.assertEqual(
            (order.distribution_validation_state, order.distribution_hold_reason), ("on_hold", "credit_limit")
        )
        credit = order.distribution_exception_ids.filtered(lambda e: e.category == "credit")
        self.assertEqual((len(credit), credit.blocking), (1, True))
        self.assertIn("on hold (credit_limit)", self._event(event_id).result)
        held = self._outbound("order.held", order)
        self.assertEqual([(data["channel"], data["channel_ref"]) for data in held], [("shop", "BIG-1")])
        self.assertFalse(self._outbound("order.confirmed", order))
        # Without auto-confirm, the quotation is checked like one typed in (Re-run Validation).
        self.channel.auto_confirm = False
        self._post(self._data(ref="BIG-2", lines=[{"sku": "WID", "quantity": 200}]))
        self._process()
        self.assertEqual(self._orders("BIG-2").distribution_validation_state, "on_hold")

    def test_unknown_channel_is_an_integration_exception_on_the_event(self):
        event_id = self._post(self._data(channel="elsewhere"))
        self._process()
        event = self._event(event_id)
        self.assertEqual((event.state, event.exception_id.category), ("exception", "integration"))
        self.assertIn("no sales channel has the code elsewhere", event.error)

    def test_malformed_order_is_refused_at_the_door(self):
        event_id = str(uuid.uuid4())
        body = signature.envelope(event_id, "order.created", "2026-11-30T10:00:00Z", self.company.name, {"lines": []})
        headers = signature.headers(self.endpoint.secret, "order.created", event_id, int(time.time()), body)
        headers["Content-Type"] = "application/json"
        with mute_logger("odoo.addons.distribution_orchestration.controllers.webhook"):
            response = self.opener.post(
                f"{self.base_url()}/distribution/webhook/{self.endpoint.code}", data=body, headers=headers, timeout=12
            )
        self.assertEqual(response.status_code, 400)
        self.assertIn("data.order_ref is required", response.text)
        self.assertFalse(self._event(event_id))

    # -- attacks -----------------------------------------------------------------------------------
    def test_attack_a_distribution_user_cannot_forge_the_business_key(self):
        self.channel.user_id = self.dist_user  # the order is the user's own: only the guard stands in the way
        self._post(self._data())
        self._process()
        order = self._orders()
        typed = self._order([(self.widget, 1)], user=self.dist_user)
        self.rpc_login(self.dist_user)
        # Taking over a channel's key (a later resend would update the wrong order) or freeing it.
        for vals in (
            {"distribution_channel_id": self.channel.id, "distribution_channel_ref": "1002"},
            {"distribution_channel_fingerprint": "x"},
        ):
            self.assertRpcRefused("sale.order", "write", [typed.id], vals)
        self.assertRpcRefused("sale.order", "write", [order.id], {"distribution_channel_ref": False})
        self.assertRpcRefused(
            "sale.order",
            "create",
            {
                "partner_id": self.customer.id,
                "distribution_channel_id": self.channel.id,
                "distribution_channel_ref": "7",
            },
        )
        # Nor configure channels.
        self.assertRpcRefused("distribution.sales.channel", "create", {"name": "Mine", "code": "mine"})
        self.assertRpcRefused("distribution.sales.channel", "write", [self.channel.id], {"price_tolerance_pct": 100})
        self.assertRpcRefused(
            "distribution.sales.channel.sku",
            "create",
            {"channel_id": self.channel.id, "channel_sku": "X", "product_id": self.widget.id},
        )
        self.assertRpcRefused("sale.order", "copy", [order.id], {"distribution_channel_ref": "1001"})
        self.assertEqual((order.distribution_channel_id, order.distribution_channel_ref), (self.channel, "1001"))
        self.assertFalse(typed.distribution_channel_id)
        self.assertEqual(self.channel.price_tolerance_pct, 5.0)
        # A copy does not take the key along.
        copy, error = self.rpc("sale.order", "copy", [order.id])
        self.assertIsNone(error)
        self.assertFalse(self.env["sale.order"].browse(copy).distribution_channel_id)
