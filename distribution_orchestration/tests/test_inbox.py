import json
import logging
import time
import uuid
from datetime import timedelta
from unittest.mock import patch

from odoo import Command
from odoo import fields
from odoo.tests import HttpCase
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..controllers import webhook
from ..services import signature
from .common import isolate_from_shipped_policy

WEBHOOK_LOGGER = "odoo.addons.distribution_orchestration.controllers.webhook"
EVENT_LOGGER = "odoo.addons.distribution_orchestration.models.distribution_inbound_event"


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@tagged("post_install", "-at_install")
class TestInbox(HttpCase):
    """Signed inbound webhooks: real HTTP requests on /distribution/webhook/<code>, then the processing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env.company
        isolate_from_shipped_policy(cls.env)
        Endpoint = cls.env["distribution.inbound.endpoint"]
        cls.carrier = Endpoint.create(
            {"name": "Carrier", "code": "test-carrier", "handler": "carrier_status", "secret": "carrier-secret-Zq81"}
        )
        cls.supplier = Endpoint.create(
            {
                "name": "Supplier",
                "code": "test-supplier",
                "handler": "supplier_update",
                "secret": "supplier-secret-Kp02",
            }
        )
        cls.reporter = Endpoint.create(
            {"name": "Reports", "code": "test-reports", "handler": "exception_report", "secret": "reports-secret-Lm33"}
        )
        cls.Event = cls.env["distribution.inbound.event"]
        # Events already waiting (a demo database has one) are processed first: each test processes its own.
        cls.Event._cron_process()
        cls.Exception = cls.env["distribution.exception"]
        cls.customer = cls.env["res.partner"].create({"name": "Inbox Customer"})
        cls.vendor = cls.env["res.partner"].create({"name": "Inbox Vendor"})
        cls.product = cls.env["product.product"].create(
            {
                "name": "Inbox Widget",
                "default_code": "INB-W",
                "is_storable": True,
                "type": "consu",
                "list_price": 10.0,
                "standard_price": 5.0,
                "taxes_id": [Command.clear()],
                "seller_ids": [Command.create({"partner_id": cls.vendor.id, "delay": 3, "price": 5.0})],
            }
        )

    def setUp(self):
        super().setUp()
        # The rejection warning is rate-limited per endpoint and process: each test starts with a fresh limit.
        webhook._last_rejection_log.clear()

    # -- helpers ---------------------------------------------------------------------------------
    def _body(self, data, event_id=None, event_type="test.event"):
        return signature.envelope(
            event_id or str(uuid.uuid4()), event_type, "2026-11-30T10:00:00Z", self.company.name, data
        )

    def _post(self, endpoint, data=None, body=None, event_id=None, timestamp=None, secret=None, headers=None):
        event_id = event_id or str(uuid.uuid4())
        body = body if body is not None else self._body(data, event_id)
        request_headers = signature.headers(
            secret or endpoint.secret, "test.event", event_id, timestamp or int(time.time()), body
        )
        request_headers["Content-Type"] = "application/json"
        request_headers.update(headers or {})
        return self.opener.post(
            f"{self.base_url()}/distribution/webhook/{endpoint.code}", data=body, headers=request_headers, timeout=12
        )

    def _events(self, endpoint):
        return self.Event.search([("endpoint_id", "=", endpoint.id)])

    def _process(self):
        return self.Event._cron_process(batch_size=100)

    def _carrier_data(self, **values):
        return {"tracking_ref": "1Z-INBOX-1", "status": "in_transit", "occurred_at": "2026-11-30T09:00:00Z", **values}

    def _confirmed_order(self, commitment_date, qty=5):
        order = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "commitment_date": commitment_date,
                "order_line": [Command.create({"product_id": self.product.id, "product_uom_qty": qty})],
            }
        )
        order.action_confirm()
        self.assertEqual(order.state, "sale")
        return order

    # -- rejections ------------------------------------------------------------------------------
    @mute_logger(WEBHOOK_LOGGER)
    def test_rejections(self):
        cases = [
            ("missing signature", {"X-Distribution-Signature": ""}, 401, "missing X-Distribution-Signature"),
            ("wrong signature", {"X-Distribution-Signature": "sha256=" + "0" * 64}, 401, "does not match"),
            ("wrong secret", {}, 401, "does not match"),
        ]
        for label, headers, status, reason in cases:
            with self.subTest(label):
                secret = "not-the-secret" if label == "wrong secret" else None
                response = self._post(self.carrier, self._carrier_data(), headers=headers, secret=secret)
                self.assertEqual(response.status_code, status)
                self.assertIn(reason, response.json()["reason"])
        stale = self._post(self.carrier, self._carrier_data(), timestamp=int(time.time()) - 1000)
        self.assertEqual(stale.status_code, 401)
        self.assertIn("away from the server clock (limit 300 s)", stale.json()["reason"])
        self.assertFalse(self._events(self.carrier))
        self.carrier.invalidate_recordset()
        self.assertEqual(self.carrier.rejected_count, 4)
        self.assertIn("401", self.carrier.last_rejection_reason)

    @mute_logger(WEBHOOK_LOGGER)
    def test_unknown_and_inactive_code(self):
        unknown = self.opener.post(f"{self.base_url()}/distribution/webhook/no-such-code", data=b"{}", timeout=12)
        self.assertEqual(unknown.status_code, 404)
        self.assertEqual(unknown.json()["error"], "not_found")
        self.carrier.active = False
        inactive = self._post(self.carrier, self._carrier_data())
        self.assertEqual(inactive.status_code, 404)

    @mute_logger(WEBHOOK_LOGGER)
    def test_too_large(self):
        big = self._body({"padding": "x" * (1024 * 1024)})
        response = self._post(self.carrier, body=big)
        self.assertEqual(response.status_code, 413)
        self.assertIn("over the limit", response.json()["reason"])

        def chunks():  # no Content-Length: the size actually read decides
            yield big[: len(big) // 2]
            yield big[len(big) // 2 :]

        headers = signature.headers(self.carrier.secret, "t", str(uuid.uuid4()), int(time.time()), big)
        chunked = self.opener.post(
            f"{self.base_url()}/distribution/webhook/{self.carrier.code}", data=chunks(), headers=headers, timeout=12
        )
        self.assertEqual(chunked.status_code, 413)
        self.assertFalse(self._events(self.carrier))

    @mute_logger(WEBHOOK_LOGGER)
    def test_bad_json_and_schema(self):
        not_json = self._post(self.carrier, body=b"{not json")
        self.assertEqual(not_json.status_code, 400)
        self.assertIn("not JSON", not_json.json()["problems"][0])
        invalid = self._post(self.carrier, {"status": "lost", "eta": "soon"})
        self.assertEqual(invalid.status_code, 400)
        problems = invalid.json()["problems"]
        self.assertIn("data.tracking_ref or data.picking is required", problems)
        self.assertTrue(any("data.status must be one of" in problem for problem in problems))
        self.assertTrue(any("data.eta must be an ISO 8601" in problem for problem in problems))
        bad_id = self._post(self.carrier, self._carrier_data(), headers={"X-Distribution-Event-Id": "42"})
        self.assertEqual(bad_id.status_code, 400)
        self.assertFalse(self._events(self.carrier))

    @mute_logger(WEBHOOK_LOGGER)
    def test_what_postgresql_cannot_store_is_refused_not_a_500(self):
        """Found by the fuzz suite (tests/test_fuzz_webhook.py): each of these was a 500 with a traceback, or an
        event accepted that no attempt could ever apply."""
        event_id = str(uuid.uuid4())
        data = {"category": "other", "severity": "low", "message": "Dock 3", "record": "nowhere"}
        envelope = {"event_id": event_id, "type": "t", "occurred_at": "2026-11-30T10:00:00Z", "data": data}
        cases = [
            ("nested past the parser", b"[" * 100000 + b"]" * 100000, "nests too deeply"),
            ("NUL in the type", json.dumps(dict(envelope, type="a\u0000b")).encode(), "NUL character"),
            ("NUL in the data", json.dumps(dict(envelope, data=dict(data, message="a\u0000"))).encode(), "NUL"),
            ("lone surrogate", json.dumps(dict(envelope, data=dict(data, record="\ud800"))).encode(), "surrogate"),
            (
                "past the calendar in UTC",
                json.dumps(dict(envelope, occurred_at="9999-12-31T23:59:59-23:59")).encode(),
                "body.occurred_at must be an ISO 8601",
            ),
            ("NaN", json.dumps(dict(envelope, data=dict(data, n=float("nan")))).encode(), "NaN is not JSON"),
            ("UTF-16", json.dumps(envelope).encode("utf-16"), "must be UTF-8"),
        ]
        for label, body, problem in cases:
            with self.subTest(label):
                # No X-Distribution-Event: the body's type is the event's type.
                response = self._post(self.reporter, body=body, event_id=event_id, headers={"X-Distribution-Event": ""})
                self.assertEqual(response.status_code, 400, response.text)
                self.assertIn(problem, response.json()["reason"])
        self.assertFalse(self._events(self.reporter))
        # A NUL in a stored header (jsonb cannot hold \u0000) is replaced, the event accepted.
        response = self._post(self.reporter, data, headers={"User-Agent": b"fuzz\x00agent"})
        self.assertEqual(response.status_code, 202, response.text)
        self.assertEqual(self._events(self.reporter).headers["User-Agent"], "fuzz\ufffdagent")

    def test_other_methods_405(self):
        url = f"{self.base_url()}/distribution/webhook/{self.carrier.code}"
        for method in ("GET", "PUT", "DELETE"):
            with self.subTest(method):
                response = self.opener.request(method, url, data=self._body(self._carrier_data()), timeout=12)
                self.assertEqual(response.status_code, 405)
                self.assertEqual(response.headers.get("Allow"), "POST")
                self.assertEqual(response.json()["error"], "method_not_allowed")
        self.assertFalse(self._events(self.carrier))
        # Each is a refusal of the endpoint: counted, with its reason.
        self.carrier.invalidate_recordset()
        self.assertEqual(self.carrier.rejected_count, 3)
        self.assertEqual(self.carrier.last_rejection_reason, "405 use POST, not DELETE")
        # Another verb on an unknown code: 405 all the same, counted nowhere.
        response = self.opener.get(f"{self.base_url()}/distribution/webhook/no-such-endpoint", timeout=12)
        self.assertEqual(response.status_code, 405)

    # -- accepting -------------------------------------------------------------------------------
    def test_accept_then_duplicate(self):
        event_id = str(uuid.uuid4())
        body = self._body(self._carrier_data(), event_id)
        first = self._post(self.carrier, body=body, event_id=event_id)
        self.assertEqual(first.status_code, 202, first.text)
        self.assertEqual(first.json()["status"], "accepted")
        event = self._events(self.carrier)
        self.assertEqual(len(event), 1)
        self.assertEqual((event.state, event.event_id, event.body), ("received", event_id, body.decode()))
        self.assertEqual(event.headers["X-Distribution-Event-Id"], event_id)
        self.assertNotIn("X-Distribution-Signature", event.headers)
        second = self._post(self.carrier, body=body, event_id=event_id)
        self.assertEqual(second.status_code, 200)
        self.assertEqual(second.json()["status"], "duplicate")
        self.assertEqual(len(self._events(self.carrier)), 1)
        # The database settles it, whoever asks: a second insert of the same id inserts nothing.
        self.assertIsNone(self.Event._accept(self.carrier, event_id, "t", "{}", {}))

    def test_accept_cost(self):
        """The cost of accepting one request (the whole request, Odoo's HTTP stack included)."""
        self._post(self.carrier, self._carrier_data())  # warm the caches (routing, registry, xmlid)
        before = self.cr.sql_log_count
        response = self._post(self.carrier, self._carrier_data())
        queries = self.cr.sql_log_count - before
        self.assertEqual(response.status_code, 202)
        logging.getLogger(__name__).info("accepting one inbound webhook request: %s queries", queries)
        self.assertLessEqual(queries, 12)

    # -- processing ------------------------------------------------------------------------------
    def test_carrier_eta_beyond_promise(self):
        order = self._confirmed_order(fields.Datetime.now() + timedelta(days=2))
        picking = order.picking_ids
        picking.distribution_tracking_ref = "1Z-INBOX-1"
        eta = (fields.Datetime.now() + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual(self._post(self.carrier, self._carrier_data(status="delayed", eta=eta)).status_code, 202)
        self._process()
        event = self._events(self.carrier)
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(picking.distribution_carrier_status, "delayed")
        self.assertTrue(picking.distribution_carrier_eta)
        exception = self.Exception.search([("res_model", "=", "stock.picking"), ("res_id", "=", picking.id)])
        self.assertEqual(exception.category, "late_transfer")
        self.assertEqual(event.exception_id, exception)
        self.assertNotEqual(picking.state, "done", "a carrier event never validates a picking")
        # Delivered: recorded, still not validated, the late exception resolves itself.
        self._post(self.carrier, self._carrier_data(status="delivered", occurred_at="2030-01-01T00:00:00Z"))
        self._process()
        self.assertEqual(picking.distribution_carrier_status, "delivered")
        self.assertNotEqual(picking.state, "done")
        self.assertEqual(exception.state, "resolved")

    def test_carrier_exception_or_delay_without_eta_raises_late_transfer(self):
        order = self._confirmed_order(fields.Datetime.now() + timedelta(days=2))
        picking = order.picking_ids
        picking.distribution_tracking_ref = "1Z-INBOX-1"
        self._post(self.carrier, self._carrier_data(status="exception", occurred_at="2026-11-30T10:00:00Z"))
        self._process()
        exception = self.Exception.search([("res_model", "=", "stock.picking"), ("res_id", "=", picking.id)])
        self.assertEqual((exception.category, exception.reason_code), ("late_transfer", "carrier_exception"))
        self.assertEqual(exception.severity, "high")
        self.assertIn("no new delivery date", exception.message)
        # A delay, still without a date: the same open exception, now saying so.
        self._post(self.carrier, self._carrier_data(status="delayed", occurred_at="2026-11-30T11:00:00Z"))
        self._process()
        self.assertEqual(exception.reason_code, "carrier_delayed")
        self.assertEqual(
            len(self.Exception.search([("res_model", "=", "stock.picking"), ("res_id", "=", picking.id)])), 1
        )
        # Back in transit with an ETA within the promise: resolved.
        eta = (fields.Datetime.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._post(self.carrier, self._carrier_data(eta=eta, occurred_at="2026-11-30T12:00:00Z"))
        self._process()
        self.assertEqual(exception.state, "resolved")

    def test_carrier_unknown_tracking_number(self):
        self._post(self.carrier, self._carrier_data(tracking_ref="NO-SUCH-REF"))
        self._process()
        event = self._events(self.carrier)
        self.assertEqual(event.state, "exception")
        self.assertEqual((event.exception_id.category, event.exception_id.kind), ("integration", "business"))
        self.assertIn("NO-SUCH-REF", event.exception_id.message)
        self.assertEqual(event.attempts, 0, "a business problem is not retried")

    def test_supplier_update(self):
        purchase = self.env["purchase.order"].create(
            {
                "partner_id": self.vendor.id,
                "order_line": [Command.create({"product_id": self.product.id, "product_qty": 20, "price_unit": 5.0})],
            }
        )
        purchase.button_confirm()
        late_order = self._confirmed_order(fields.Datetime.now() + timedelta(days=3))
        safe_order = self._confirmed_order(fields.Datetime.now() + timedelta(days=30))
        planned = (fields.Datetime.now() + timedelta(days=10)).replace(microsecond=0)
        data = {
            "purchase_order": purchase.name,
            "lead_time_days": 14,
            "lines": [
                {"product_code": "INB-W", "planned_date": planned.strftime("%Y-%m-%dT%H:%M:%SZ"), "quantity": 20}
            ],
        }
        self.assertEqual(self._post(self.supplier, data).status_code, 202)
        self._process()
        event = self._events(self.supplier)
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(purchase.order_line.date_planned, planned)
        # 3 -> 14 days is beyond the lead time tolerance: not written, the vendor flagged for a manager.
        info = self.product.seller_ids.filtered(lambda info: info.partner_id == self.vendor)
        self.assertEqual(info.delay, 3)
        announced = self.Exception.search([("source_key", "=", f"supplier_lead_time:{self.vendor.id}")])
        self.assertRecordValues(announced, [{"category": "lead_time_drift", "res_model": "res.partner"}])
        self.assertEqual(announced.values["announced_days"], 14)
        self.assertIn("Supplier update received", purchase.message_ids[0].body)
        exceptions = self.Exception.search([("category", "=", "date_infeasible"), ("res_model", "=", "sale.order")])
        self.assertEqual(exceptions.sale_order_id, late_order)
        self.assertNotIn(safe_order, exceptions.sale_order_id)
        self.assertEqual(event.exception_id, exceptions)

    def test_supplier_lead_time_within_the_tolerance_is_written(self):
        purchase = self.env["purchase.order"].create(
            {
                "partner_id": self.vendor.id,
                "order_line": [Command.create({"product_id": self.product.id, "product_qty": 2, "price_unit": 5.0})],
            }
        )
        purchase.button_confirm()
        self.env.company.distribution_lead_time_tolerance_pct = 50
        self._post(self.supplier, {"purchase_order": purchase.name, "lead_time_days": 4, "lines": []})
        self._process()
        self.assertEqual(self._events(self.supplier).state, "done")
        self.assertEqual(self.product.seller_ids.filtered(lambda info: info.partner_id == self.vendor).delay, 4)
        self.assertFalse(self.Exception.search([("source_key", "=", f"supplier_lead_time:{self.vendor.id}")]))

    def test_supplier_update_unknown_order(self):
        data = {"purchase_order": "P-NOPE", "lines": [{"product_code": "INB-W", "planned_date": "2030-01-01"}]}
        self._post(self.supplier, data)
        self._process()
        event = self._events(self.supplier)
        self.assertEqual(event.state, "exception")
        self.assertEqual(event.exception_id.reason_code, "unknown_purchase_order")

    def test_exception_report(self):
        order = self.env["sale.order"].create({"partner_id": self.customer.id})
        data = {
            "category": "other",
            "severity": "high",
            "message": "Dock 3 flooded",
            "record": f"sale.order,{order.id}",
        }
        event_id = str(uuid.uuid4())
        self._post(self.reporter, data, event_id=event_id)
        self._process()
        exception = self.Exception.search([("source_key", "=", f"inbox:{event_id}")])
        self.assertEqual((exception.res_model, exception.res_id), ("sale.order", order.id))
        self.assertEqual(
            (exception.category, exception.severity, exception.message), ("other", "high", "Dock 3 flooded")
        )
        self.assertEqual(self._events(self.reporter).state, "done")

    def test_exception_report_on_an_id_no_record_can_have(self):
        """Found by the fuzz suite: "sale.order,\u00b2" (a digit to str.isdigit, not to int) and an id past
        PostgreSQL's integer failed the handler (retried five times, then a technical exception)."""
        for reference in ("sale.order,\u00b2", "sale.order,99999999999"):
            with self.subTest(reference):
                event_id = str(uuid.uuid4())
                data = {"category": "other", "severity": "low", "message": "Dock 3", "record": reference}
                self.assertEqual(self._post(self.reporter, data, event_id=event_id).status_code, 202)
                self._process()
                event = self._events(self.reporter).filtered(lambda e, event_id=event_id: e.event_id == event_id)
                self.assertEqual((event.state, event.error), ("done", False))
                exception = self.Exception.search([("source_key", "=", f"inbox:{event_id}")])
                self.assertEqual((exception.res_model, exception.res_id), (event._name, event.id))

    @mute_logger(EVENT_LOGGER)
    def test_handler_failure_retried_then_technical_exception(self):
        self._post(self.carrier, self._carrier_data())
        event = self._events(self.carrier)
        Event = self.registry["distribution.inbound.event"]
        with patch.object(Event, "_handle_carrier_status", side_effect=RuntimeError("carrier API down")):
            self._process()
            self.assertEqual((event.state, event.attempts), ("failed", 1))
            self.assertGreater(event.next_attempt_at, fields.Datetime.now())
            self.assertFalse(self._process(), "not due yet")
            for attempt in range(2, 6):
                event.next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
                self._process()
                self.assertEqual(event.attempts, attempt)
        self.assertEqual(event.state, "exception")
        self.assertEqual((event.exception_id.category, event.exception_id.kind), ("integration", "technical"))
        self.assertIn("carrier API down", event.exception_id.message)
        # Fixed: Retry processes it again (an unknown tracking number now: a business exception, no crash).
        event.action_retry()
        self.assertEqual(event.state, "received")
        self._process()
        self.assertEqual(event.state, "exception")
        self.assertEqual(event.exception_id.kind, "business")

    def test_secret_never_logged(self):
        capture = _Capture()
        loggers = [logging.getLogger(name) for name in (WEBHOOK_LOGGER, EVENT_LOGGER, "odoo.http", "werkzeug")]
        for logger in loggers:
            logger.addHandler(capture)
        try:
            self._post(self.carrier, self._carrier_data(), secret="wrong")
            self._post(self.carrier, self._carrier_data(), timestamp=1)
            self._post(self.carrier, body=b"[not json")
            self._post(self.carrier, self._carrier_data(tracking_ref="UNKNOWN"))
            with patch.object(
                self.registry["distribution.inbound.event"], "_handle_carrier_status", side_effect=RuntimeError("boom")
            ):
                self._process()
        finally:
            for logger in loggers:
                logger.removeHandler(capture)
        self.assertTrue(any("rejected with 401" in line for line in capture.lines), capture.lines)
        self.assertFalse([line for line in capture.lines if self.carrier.secret in line])
        self.assertFalse(
            json.dumps(self.carrier.read(["rejected_count", "last_rejection_reason"])).count(self.carrier.secret)
        )

    # -- rejections under attack, the 'processing' state -------------------------------------------
    def test_rejections_are_appended_not_counted_on_the_endpoint_row(self):
        self.carrier.flush_recordset()
        self.env.cr.execute("SELECT write_date FROM distribution_inbound_endpoint WHERE id = %s", [self.carrier.id])
        before = self.env.cr.fetchone()[0]
        capture = _Capture()
        logger = logging.getLogger(WEBHOOK_LOGGER)
        logger.addHandler(capture)
        try:
            for _attempt in range(5):
                response = self._post(self.carrier, self._carrier_data(), secret="forged")
                self.assertEqual(response.status_code, 401)
        finally:
            logger.removeHandler(capture)
        self.env.cr.execute("SELECT write_date FROM distribution_inbound_endpoint WHERE id = %s", [self.carrier.id])
        self.assertEqual(self.env.cr.fetchone()[0], before, "a rejection never updates the endpoint row")
        rejections = self.env["distribution.inbound.rejection"].search([("endpoint_id", "=", self.carrier.id)])
        self.assertEqual((len(rejections), set(rejections.mapped("status"))), (5, {401}))
        self.carrier.invalidate_recordset()
        self.assertEqual(self.carrier.rejected_count, 5)
        since = fields.Datetime.now() - timedelta(minutes=5)
        self.assertEqual(
            self.env["distribution.inbound.rejection"]._count_since(since, self.carrier), {self.carrier.id: 5}
        )
        lines = [line for line in capture.lines if "rejected with 401" in line]
        self.assertEqual(len(lines), 1, "at most one warning per endpoint and minute")
        # Old rejections go with the reconciliation.
        self.env.cr.execute(
            "UPDATE distribution_inbound_rejection SET rejected_at = rejected_at - interval '40 days'" " WHERE id = %s",
            [rejections[0].id],
        )
        self.env["distribution.integration.reconciliation"]._cron_reconcile()
        self.assertEqual(
            self.env["distribution.inbound.rejection"].search_count([("endpoint_id", "=", self.carrier.id)]), 4
        )

    def test_an_event_is_processing_while_a_worker_applies_it(self):
        response = self._post(self.carrier, self._carrier_data(tracking_ref="UNKNOWN-REF"))
        self.assertEqual(response.status_code, 202)
        event = self._events(self.carrier)
        seen = []
        Event = type(self.Event)
        original = Event._apply

        def spy(records):
            seen.append(records.state)
            return original(records)

        with patch.object(Event, "_apply", spy):
            self._process()
        self.assertEqual(seen, ["processing"])
        self.assertIn(event.state, ("done", "exception"))

    def test_a_crashed_worker_leaves_processing_and_the_reconciliation_requeues(self):
        response = self._post(self.carrier, self._carrier_data())
        self.assertEqual(response.status_code, 202)
        event = self._events(self.carrier)
        claimed = self.Event._inbox_claim(100)  # the worker claims the batch, then dies before applying it
        self.assertIn(event, claimed)
        self.assertEqual(event.state, "processing")
        self.assertNotIn(event, self.Event._inbox_claim(100), "another worker does not take it again")
        Reconciliation = self.env["distribution.integration.reconciliation"]
        self.assertNotIn(event, Reconciliation._cron_reconcile()["inbox"], "a live worker is given time")
        event.flush_recordset()
        self.env.cr.execute(
            "UPDATE distribution_inbound_event SET write_date = write_date - interval '1 hour'" " WHERE id = %s",
            [event.id],
        )
        event.invalidate_recordset()
        self.assertIn(event, Reconciliation._cron_reconcile()["inbox"])
        self.assertEqual(event.state, "received")
        self._process()
        self.assertIn(event.state, ("done", "exception"))
