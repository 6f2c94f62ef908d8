import json
import logging
import socket
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from unittest.mock import patch

import requests

from odoo import api
from odoo import fields
from odoo.addons.distribution_observability.services import netguard
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tests.common import TransactionCase
from odoo.tools import mute_logger

from ..services import signature

SECRET = "whsec_outbox_test_s3cr3t_value"
USER = "distribution_observability.group_distribution_user"
MANAGER = "distribution_observability.group_distribution_manager"
EVENT_LOGGER = "odoo.addons.distribution_orchestration.models.distribution_outbound_event"


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A client that gave up (timeout test) is expected: no traceback on stderr."""


class Receiver:
    """A real HTTP receiver on 127.0.0.1: scripted answers per event id (default 200), records every
    request and checks its signature against ``secret`` with services/signature.verify."""

    def __init__(self, secret, port=0):
        self.secret = secret
        self.port = port
        self.lock = threading.Lock()
        self.requests = []
        self.script = {}
        self.delay = 0.0
        self.server = None

    def answer(self, event_id, *responses):
        """Queue answers for an event: status, or (status, headers, text, delay)."""
        self.script.setdefault(event_id, []).extend(r if isinstance(r, tuple) else (r, {}, "", 0) for r in responses)

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.script.clear()
            self.delay = 0.0

    def _handle(self, handler, body):
        headers = dict(handler.headers.items())
        event_id = headers.get(signature.HEADER_EVENT_ID)
        try:
            signature.verify(
                self.secret,
                headers.get(signature.HEADER_TIMESTAMP),
                body,
                headers.get(signature.HEADER_SIGNATURE),
                now=time.time(),
            )
            verified = True
        except signature.SignatureError as error:
            verified = error.reason
        with self.lock:
            self.requests.append(
                {
                    "event_id": event_id,
                    "headers": headers,
                    "body": body,
                    "verified": verified,
                    "client": handler.client_address,
                    "path": handler.path,
                }
            )
            queue = self.script.get(event_id)
            response = queue.pop(0) if queue else (200, {}, "ok", self.delay)
        return response

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like a real receiver

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, text, delay = receiver._handle(self, body)
                if delay:
                    time.sleep(delay)
                data = text.encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = _QuietServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hooks/distribution"

    def event_ids(self):
        with self.lock:
            return [request["event_id"] for request in self.requests]


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OutboxCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = Receiver(SECRET).start()
        cls.addClassCleanup(cls.receiver.stop)
        cls.Event = cls.env["distribution.outbound.event"]
        cls.Endpoint = cls.env["distribution.outbound.endpoint"]
        # The receivers of these tests listen on 127.0.0.1: allowed here as a development server allows it
        # (distribution_outbound_allow_private), whatever the configuration the tests run with.
        cls.startClassPatcher(patch.object(type(cls.Endpoint), "_outbound_allow_private", return_value=True))
        cls.endpoint = cls.Endpoint.create(
            {
                "name": "Test receiver",
                "url": cls.receiver.url,
                "secret": SECRET,
                "timeout": 10,
                "max_attempts": 5,
                "extra_headers": json.dumps({"X-Tenant": "acme"}),
            }
        )
        cls.partners = cls.env["res.partner"].create([{"name": f"Outbox partner {i}"} for i in range(4)])

    def setUp(self):
        super().setUp()
        self.receiver.reset()

    def _emit(self, partner, event_type="order.held", data=None):
        return self.Event._emit(event_type, partner, data or {"partner": partner.name})

    def _deliver(self, batch_size=100):
        return self.Event._cron_deliver(batch_size=batch_size)

    def _make_due(self, events):
        events.write({"next_attempt_at": fields.Datetime.now() - timedelta(seconds=1)})


@tagged("post_install", "-at_install")
class TestOutbox(OutboxCase):
    """The durable signed outbox: emission in the business transaction, delivery by batches with retries,
    ordering per document, dead letters, signatures and secrets."""

    def test_emit_writes_one_signed_body_per_subscribed_endpoint_and_triggers_the_cron(self):
        other = self.Endpoint.create(
            {
                "name": "Exceptions only",
                "url": "https://example.com/x",
                "event_types": "exception.created, exception.resolved",
            }
        )
        family = self.Endpoint.create({"name": "Orders", "url": "https://example.com/o", "event_types": "order.*"})
        cron = self.env.ref("distribution_orchestration.ir_cron_distribution_outbox_deliver")
        Trigger = self.env["ir.cron.trigger"]
        triggers_before = Trigger.search_count([("cron_id", "=", cron.id)])
        partner = self.partners[0]
        events = self.Event._emit("order.held", partner, {"order": "S0001", "amount": 12.5}, correlation_id="cid-1")
        self.assertEqual(events.endpoint_id, self.endpoint | family)
        self.assertNotIn(other, events.endpoint_id)
        self.assertEqual(Trigger.search_count([("cron_id", "=", cron.id)]), triggers_before + 1)
        for event in events:
            body = json.loads(event.payload)
            self.assertEqual(
                body,
                {
                    "event_id": event.event_id,
                    "type": "order.held",
                    "occurred_at": body["occurred_at"],
                    "company": self.env.company.name,
                    "data": {"order": "S0001", "amount": 12.5},
                },
            )
            self.assertRegex(body["occurred_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertEqual(
                (event.state, event.res_model, event.res_id, event.correlation_id),
                ("pending", "res.partner", partner.id, "cid-1"),
            )
        self.assertEqual(len(set(events.mapped("event_id"))), 2, "one event id per endpoint")
        self.assertFalse(
            self.Event._emit("picking.priority_changed", partner, {}).filtered(lambda event: event.endpoint_id == other)
        )

    def test_nothing_sent_for_a_rolled_back_transaction(self):
        with self.assertRaises(ZeroDivisionError):
            with self.env.cr.savepoint():
                self._emit(self.partners[0])
                self.assertEqual(self.Event.search_count([("endpoint_id", "=", self.endpoint.id)]), 1)
                _ = 1 / 0  # the business change fails after the emit
        self.env.invalidate_all()
        self.assertEqual(self.Event.search_count([("endpoint_id", "=", self.endpoint.id)]), 0)
        self.assertEqual(self._deliver(), 0)
        self.assertEqual(self.receiver.event_ids(), [], "nothing posted")

    def test_receiver_down_then_up_delivers_every_event_once(self):
        port = _free_port()
        down = Receiver(SECRET, port=port)
        self.endpoint.url = down.url
        events = self.Event
        for partner in self.partners:
            events |= self._emit(partner)
        with mute_logger(EVENT_LOGGER):
            self.assertEqual(self._deliver(), 4)
        for event in events:
            self.assertEqual((event.state, event.attempts), ("pending", 1))
            self.assertIn("connection error", event.last_error)
            self.assertGreater(event.next_attempt_at, event.last_attempt_at)
        self.assertEqual(self._deliver(), 0, "not due yet")
        down.start()
        self.addCleanup(down.stop)
        self._make_due(events)
        self.assertEqual(self._deliver(), 4)
        self.assertEqual(set(events.mapped("state")), {"delivered"})
        self.assertEqual(events.mapped("attempts"), [2] * 4)
        received = Counter(down.event_ids())
        self.assertEqual(set(received), set(events.mapped("event_id")))
        self.assertEqual(set(received.values()), {1}, "each event delivered once")
        self.assertEqual(len({request["client"] for request in down.requests}), 1, "one keep-alive connection")
        self.assertTrue(all(event.latency_ms >= 0 and event.delivered_at for event in events))
        self.assertEqual(self._deliver(), 0)
        run = self.env["distribution.workflow.run"].search([("workflow_id.code", "=", "outbox_delivery")], limit=1)
        self.assertEqual((run.state, run.record_count), ("success", 4))
        self.assertIn("4 delivered (latency p50", run.message)

    def test_server_error_three_times_then_ok_four_attempts_with_growing_delays(self):
        last_run = self.env["distribution.workflow.run"].search([], order="id desc", limit=1)  # a demo has some
        event = self._emit(self.partners[0])
        self.receiver.answer(event.event_id, 500, 502, 503)
        delays = []
        with mute_logger(EVENT_LOGGER):
            for _attempt in range(3):
                self.assertEqual(self._deliver(), 1)
                self.assertEqual(event.state, "pending")
                delays.append((event.next_attempt_at - event.last_attempt_at).total_seconds())
                self._make_due(event)
        self.assertEqual(self._deliver(), 1)
        self.assertEqual((event.state, event.attempts, event.last_status_code), ("delivered", 4, 200))
        self.assertFalse(event.last_error)
        self.assertGreaterEqual(delays[0], 24)
        self.assertLess(delays[0], delays[1])
        self.assertLess(delays[1], delays[2])
        self.assertEqual(self.receiver.event_ids(), [event.event_id] * 4)
        runs = self.env["distribution.workflow.run"].search(
            [("workflow_id.code", "=", "outbox_delivery"), ("parent_id", "=", False), ("id", ">", last_run.id)]
        )
        self.assertEqual(len(runs), 4)
        failed_items = runs.child_ids
        self.assertEqual(len(failed_items), 3)
        self.assertEqual(set(failed_items.mapped("reason")), {"http_500", "http_502", "http_503"})
        self.assertEqual(set(failed_items.mapped("res_id")), {event.id})

    def test_a_retrying_event_is_a_warning_of_the_health_check_until_delivered(self):
        retrying = self.env.ref("distribution_orchestration.distribution_queue_monitor_outbox_retrying")
        checks = self.env["distribution.workflow.run"]._health_checks
        self.Event.search([("state", "=", "pending")]).write({"state": "dead"})  # a demo's own, not this test's
        self.assertEqual(next(c for c in checks() if c["code"] == "outbox_retrying")["level"], "ok")
        event = self._emit(self.partners[0])
        self.assertEqual(retrying._figures()["backlog"], 0, "a new event is not retrying")
        self.receiver.answer(event.event_id, 503)
        with mute_logger(EVENT_LOGGER):
            self._deliver()
        check = next(c for c in checks() if c["code"] == "outbox_retrying")
        self.assertEqual((check["backlog"], check["level"]), (1, "warning"))
        self._make_due(event)
        self._deliver()
        self.assertEqual(event.state, "delivered")
        self.assertEqual(next(c for c in checks() if c["code"] == "outbox_retrying")["level"], "ok")

    def test_out_of_attempts_is_dead(self):
        self.endpoint.max_attempts = 2
        event = self._emit(self.partners[0])
        self.receiver.answer(event.event_id, 500, 500)
        with mute_logger(EVENT_LOGGER):
            self._deliver()
            self._make_due(event)
            self._deliver()
        self.assertEqual((event.state, event.attempts), ("dead", 2))
        self.assertIn("HTTP 500", event.last_error)

    def test_client_error_is_dead_at_once(self):
        event = self._emit(self.partners[0])
        self.receiver.answer(event.event_id, (422, {}, "unknown order reference", 0))
        with mute_logger(EVENT_LOGGER):
            self._deliver()
        self.assertEqual((event.state, event.attempts, event.last_status_code), ("dead", 1, 422))
        self.assertIn("unknown order reference", event.last_error)
        run = self.env["distribution.workflow.run"].search(
            [("workflow_id.code", "=", "outbox_delivery"), ("parent_id", "=", False)], limit=1
        )
        self.assertEqual((run.state, run.reason, run.error_kind), ("failed", "dead_letter", "technical"))
        self.assertEqual(run.child_ids.reason, "http_422")
        # The run log is every Distribution user's: the reason code, never the receiver's text.
        self.assertEqual(run.child_ids.message, "dead after 1 attempt(s): http_422")

    def test_a_private_address_is_refused_at_delivery_once_the_server_forbids_it(self):
        event = self._emit(self.partners[0])
        with (
            patch.object(type(self.Endpoint), "_outbound_allow_private", return_value=False),
            mute_logger(EVENT_LOGGER),
        ):
            self._deliver()
        self.assertEqual(self.receiver.event_ids(), [], "nothing posted to 127.0.0.1")
        self.assertEqual((event.state, event.last_status_code), ("dead", 0))
        self.assertIn("blocked address: 127.0.0.1 is a loopback address", event.last_error)

    def test_a_name_rebound_to_loopback_after_the_check_is_refused_at_connect_time(self):
        # The check of the name says "public" (the attacker's DNS answered so), then the connection lands on
        # 127.0.0.1: the transport checks the address it connected to and sends nothing.
        event = self._emit(self.partners[0])
        with (
            patch.object(type(self.Endpoint), "_outbound_allow_private", return_value=False),
            patch.object(netguard, "blocked_reason", return_value=None),
            mute_logger(EVENT_LOGGER),
        ):
            self._deliver()
        self.assertEqual(self.receiver.event_ids(), [], "no request reached the receiver")
        self.assertEqual(event.state, "dead")
        self.assertIn("connected to 127.0.0.1, loopback address", event.last_error)

    def test_too_many_requests_is_retried_after_the_asked_delay(self):
        event = self._emit(self.partners[0])
        self.receiver.answer(event.event_id, (429, {"Retry-After": "900"}, "slow down", 0), (408, {}, "", 0))
        with mute_logger(EVENT_LOGGER):
            self._deliver()
            self.assertEqual((event.state, event.last_status_code), ("pending", 429))
            self.assertGreaterEqual((event.next_attempt_at - event.last_attempt_at).total_seconds(), 900)
            self._make_due(event)
            self._deliver()
            self.assertEqual((event.state, event.last_status_code), ("pending", 408))
        self._make_due(event)
        self._deliver()
        self.assertEqual((event.state, event.attempts), ("delivered", 3))

    def test_a_retry_wakes_the_scheduled_action_when_it_falls_due(self):
        """A failed delivery is retried at its time, not at the scheduled action's next minute."""
        cron = self.env.ref("distribution_orchestration.ir_cron_distribution_outbox_deliver")
        Trigger = self.env["ir.cron.trigger"].sudo()
        first, second = self._emit(self.partners[0]), self._emit(self.partners[1])
        self.receiver.answer(first.event_id, (503, {}, "down", 0))
        self.receiver.answer(second.event_id, (429, {"Retry-After": "900"}, "slow down", 0))
        before = Trigger.search([("cron_id", "=", cron.id)])
        with mute_logger(EVENT_LOGGER):
            self._deliver()
        self.assertEqual((first.state, second.state), ("pending", "pending"))
        added = Trigger.search([("cron_id", "=", cron.id)]) - before
        self.assertEqual(added.mapped("call_at"), [first.next_attempt_at], "one wake-up, at the earliest retry")
        # Retried early (by hand) and failing again: its next retry comes after the wake-up already planned,
        # which is enough (that run plans the next one).
        self._make_due(first)
        self.receiver.answer(first.event_id, (503, {}, "down", 0))
        with mute_logger(EVENT_LOGGER):
            self._deliver()
        self.assertEqual(first.attempts, 2)
        self.assertGreater(first.next_attempt_at, added.call_at)
        self.assertEqual(Trigger.search([("cron_id", "=", cron.id)]) - before, added)

    def test_timeout_is_retried(self):
        # The test framework raises every HTTP timeout under 10 s to 10 s: the timeout is simulated.
        event = self._emit(self.partners[0])
        with patch.object(requests.Session, "post", side_effect=requests.ReadTimeout("read timed out")) as post:
            with mute_logger(EVENT_LOGGER):
                self._deliver()
        self.assertEqual(post.call_args.kwargs["timeout"], 10)
        self.assertEqual((event.state, event.attempts, event.last_status_code), ("pending", 1, 0))
        self.assertEqual(event.last_error, "timeout after 10 s")
        run = self.env["distribution.workflow.run"].search(
            [("workflow_id.code", "=", "outbox_delivery"), ("parent_id", "=", False)], limit=1
        )
        self.assertEqual((run.state, run.reason, run.child_ids.reason), ("success", "retrying", "timeout"))

    def test_events_of_a_document_are_delivered_in_creation_order(self):
        first, second = self.partners[:2]
        a1, a2, a3 = (
            self._emit(first, event_type) for event_type in ("order.held", "order.released", "order.confirmed")
        )
        b1 = self._emit(second)
        self.receiver.answer(a1.event_id, 503)
        with mute_logger(EVENT_LOGGER):
            self.assertEqual(self._deliver(), 4)
        self.assertEqual((a1.state, a1.attempts), ("pending", 1))
        self.assertEqual([(e.state, e.attempts) for e in a2 | a3], [("pending", 0)] * 2, "held back, not attempted")
        self.assertEqual(b1.state, "delivered")
        self.assertEqual(self._deliver(), 0, "a2 and a3 wait for a1, which is not due")
        self._make_due(a1)
        self.assertEqual(self._deliver(), 3)
        self.assertEqual(set((a1 | a2 | a3).mapped("state")), {"delivered"})
        received = [event_id for event_id in self.receiver.event_ids() if event_id != b1.event_id]
        self.assertEqual(received, [a1.event_id, a1.event_id, a2.event_id, a3.event_id])

    def test_a_dead_event_does_not_hold_later_events_of_its_document(self):
        c1, c2 = self._emit(self.partners[2]), self._emit(self.partners[2], "order.released")
        self.receiver.answer(c1.event_id, 400)
        with mute_logger(EVENT_LOGGER):
            self._deliver()
        self.assertEqual((c1.state, c2.state), ("dead", "delivered"))
        self.assertEqual(self.receiver.event_ids(), [c1.event_id, c2.event_id])

    def test_dead_letter_replay_and_discard(self):
        dead_queue = self.env.ref("distribution_orchestration.distribution_queue_monitor_outbox_dead")
        dead_before = dead_queue._figures()["backlog"]  # a demo database holds dead letters of its own
        events = self._emit(self.partners[0]) | self._emit(self.partners[1]) | self._emit(self.partners[2])
        for event in events:
            self.receiver.answer(event.event_id, 410)
        with mute_logger(EVENT_LOGGER):
            self._deliver()
        self.assertEqual(set(events.mapped("state")), {"dead"})
        self.assertEqual(dead_queue.backlog, dead_before + 3)
        manager = new_test_user(self.env, "outbox_manager", groups=MANAGER)
        replayed, discarded = events[:2].with_user(manager), events[2:].with_user(manager)
        replayed.action_replay()
        self.assertEqual(replayed.mapped("state"), ["pending"] * 2)
        self.assertEqual(replayed.mapped("attempts"), [0, 0])
        self.assertEqual(replayed.mapped("replay_count"), [1, 1])
        self.assertTrue(all(event.next_attempt_at <= fields.Datetime.now() for event in replayed))
        self.assertEqual(self._deliver(), 2)
        self.assertEqual(replayed.mapped("state"), ["delivered"] * 2)
        with self.assertRaises(UserError):
            replayed.action_replay()

        action = discarded.action_discard()
        wizard = (
            self.env[action["res_model"]]
            .with_user(manager)
            .with_context(**action["context"])
            .create({"reason": "Order cancelled in the WMS by hand"})
        )
        self.assertEqual(wizard.event_ids, discarded)
        wizard.action_discard()
        self.assertEqual((discarded.state, discarded.discarded, discarded.discarded_by_id), ("dead", True, manager))
        self.assertEqual(discarded.discard_reason, "Order cancelled in the WMS by hand")
        dead_queue.invalidate_recordset()
        self.assertEqual(dead_queue.backlog, dead_before, "discarded dead letters leave the queue")
        with self.assertRaises(UserError):
            discarded._discard("  ")
        self.assertEqual(self._deliver(), 0, "a discarded event is not sent")
        dist_user = new_test_user(self.env, "outbox_user", groups=USER)
        with self.assertRaises(AccessError):
            events.with_user(dist_user).action_replay()

    def test_signatures_verify_with_the_endpoint_secret(self):
        events = self._emit(self.partners[0], data={"note": "Société générale, ünïcode €"})
        events |= self._emit(self.partners[1], "exception.created")
        self._deliver()
        self.assertEqual(len(self.receiver.requests), 2)
        by_id = {event.event_id: event for event in events}
        for request in self.receiver.requests:
            event = by_id[request["event_id"]]
            self.assertIs(request["verified"], True)
            self.assertEqual(request["body"], event.payload.encode(), "the body is sent as serialised at emit")
            self.assertEqual(request["headers"][signature.HEADER_EVENT], event.event_type)
            self.assertEqual(request["headers"]["Content-Type"], "application/json")
            self.assertEqual(request["headers"]["X-Tenant"], "acme")
            self.assertEqual(request["path"], "/hooks/distribution")
        # A receiver holding another secret rejects them.
        request = self.receiver.requests[0]
        with self.assertRaises(signature.SignatureError):
            signature.verify(
                "another secret",
                request["headers"][signature.HEADER_TIMESTAMP],
                request["body"],
                request["headers"][signature.HEADER_SIGNATURE],
                now=time.time(),
            )

    def test_secret_never_in_logs_payloads_or_errors(self):
        port = _free_port()
        down = Receiver(SECRET, port=port)
        down_endpoint = self.Endpoint.create({"name": "Down", "url": down.url, "secret": SECRET})
        events = self._emit(self.partners[0], data={"note": "no secret here"})
        self.assertEqual(events.endpoint_id, self.endpoint | down_endpoint)
        failing = events.filtered(lambda e: e.endpoint_id == self.endpoint)
        # A misbehaving receiver echoing the secret: it must not reach the event nor the log.
        self.receiver.answer(failing.event_id, (500, {}, f"boom {SECRET} boom", 0), 401)
        # Every record of every logger, down to DEBUG (urllib3 included), in place of the usual handlers.
        with self.assertLogs(level=logging.DEBUG) as logs:
            self._deliver()
            self._make_due(events)
            self._deliver()
        self.assertEqual(failing.state, "dead")
        messages = [record.getMessage() + str(record.args) for record in logs.records]
        self.assertTrue(any(failing.event_id in message for message in messages), "the failures are logged")
        self.assertTrue(any("urllib3" in record.name for record in logs.records), "debug logs captured too")
        for message in messages:
            self.assertNotIn(SECRET, message)
        for event in events:
            self.assertNotIn(SECRET, event.payload)
            self.assertNotIn(SECRET, event.last_error or "")
        runs = self.env["distribution.workflow.run"].search([("workflow_id.code", "=", "outbox_delivery")])
        self.assertNotIn(SECRET, json.dumps(runs.read(["message", "reason"]), default=str))
        for request in self.receiver.requests:
            headers = dict(request["headers"])
            headers.pop(signature.HEADER_SIGNATURE)
            self.assertNotIn(SECRET, json.dumps(headers))
            self.assertNotIn(SECRET.encode(), request["body"])

    def test_secret_is_for_managers_only(self):
        dist_user = new_test_user(self.env, "outbox_reader", groups=USER)
        manager = new_test_user(self.env, "outbox_admin", groups=MANAGER)
        self._emit(self.partners[0])
        with self.assertRaises(AccessError):
            self.endpoint.with_user(dist_user).read(["name"])
        self.assertEqual(self.endpoint.with_user(manager).secret, SECRET)
        rows = self.Event.with_user(dist_user).web_search_read(
            [], {"event_type": {}, "state": {}, "endpoint_id": {"fields": {"display_name": {}}}}
        )["records"]
        self.assertEqual(rows[0]["endpoint_id"]["display_name"], "Test receiver")
        with self.assertRaises(AccessError):
            self.Event.with_user(dist_user).browse(rows[0]["id"]).write({"state": "dead"})
        list_arch = self.Endpoint.get_views([(False, "list")])["views"]["list"]["arch"]
        self.assertNotIn("secret", list_arch)

    def test_emit_by_a_salesperson_without_outbox_rights(self):
        salesman = new_test_user(self.env, "outbox_salesman", groups="sales_team.group_sale_salesman")
        partner = self.partners[0].with_user(salesman)
        events = self.Event.with_user(salesman)._emit("order.confirmed", partner, {"order": "S1"})
        self.assertEqual(len(events), 1)
        self.assertEqual(self.Event.search([("id", "in", events.ids)]).state, "pending")


@tagged("post_install", "-at_install")
class TestOutboxWorkers(OutboxCase):
    """Two workers, each on its own connection, drain one committed outbox at the same time: no event is
    sent twice and the events of a document arrive in creation order."""

    def test_two_workers_never_send_an_event_twice(self):
        registry = self.env.registry
        self.receiver.delay = 0.01
        with registry.cursor() as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            cron = env.ref("distribution_orchestration.ir_cron_distribution_outbox_deliver")
            cr.execute("SELECT coalesce(max(id), 0) FROM distribution_workflow_run")
            last_run = cr.fetchone()[0]
            cr.execute("SELECT coalesce(max(id), 0) FROM ir_cron_trigger")
            last_trigger = cr.fetchone()[0]
            # Inserted in SQL: created through the ORM, a governed endpoint enters the audit chain, whose head
            # row (the company's) the test's own transaction holds since setUpClass created an endpoint; this
            # committed connection would wait for it forever.
            cr.execute(
                "INSERT INTO distribution_outbound_endpoint (name, url, secret, timeout, max_attempts, active,"
                " company_id, create_uid, write_uid, create_date, write_date)"
                " VALUES (%s, %s, %s, 10, 8, true, %s, 1, 1, now() at time zone 'UTC', now() at time zone 'UTC')"
                " RETURNING id",
                ["Workers receiver", self.receiver.url, SECRET, env.company.id],
            )
            endpoint = env["distribution.outbound.endpoint"].browse(cr.fetchone()[0])
            partners = env["res.partner"].with_context(active_test=False).search([], limit=4, order="id")
            Event = env["distribution.outbound.event"]
            events = Event
            for index in range(6):
                for partner in partners:
                    events |= Event._emit(f"order.step{index}", partner, {"step": index})
            ids = {
                "endpoint": endpoint.id,
                "events": events.ids,
                "run": last_run,
                "trigger": last_trigger,
                "cron": cron.id,
            }

        def cleanup():
            with registry.cursor() as cr:
                cr.execute("DELETE FROM distribution_outbound_event WHERE endpoint_id = %s", [ids["endpoint"]])
                cr.execute("DELETE FROM distribution_outbound_endpoint WHERE id = %s", [ids["endpoint"]])
                cr.execute("DELETE FROM distribution_workflow_run WHERE id > %s", [ids["run"]])
                cr.execute("DELETE FROM ir_cron_trigger WHERE id > %s AND cron_id = %s", [ids["trigger"], ids["cron"]])

        self.addCleanup(cleanup)
        self.assertEqual(len(ids["events"]), 24)
        errors, batches = [], Counter()

        def worker(name, env):
            try:
                deadline = time.monotonic() + 60
                cr, Event = env.cr, env["distribution.outbound.event"]
                with cr:
                    while time.monotonic() < deadline:
                        done = Event._cron_deliver(batch_size=3)
                        batches[name] += done
                        # The worker's own connection commits, like a cron worker's.
                        cr.commit()  # pylint: disable=invalid-commit
                        if not done:
                            cr.execute(
                                "SELECT count(*) FROM distribution_outbound_event WHERE id IN %s"
                                " AND state != 'delivered'",
                                [tuple(ids["events"])],
                            )
                            if not cr.fetchone()[0]:
                                return
                            time.sleep(0.02)
            except Exception as error:  # reported in the main thread
                errors.append(error)

        # The environments are made here: building one in a thread would wait for the registry lock, which
        # the test runner holds.
        threads = [
            threading.Thread(target=worker, args=(name, api.Environment(registry.cursor(), api.SUPERUSER_ID, {})))
            for name in ("A", "B")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
        self.assertFalse(errors)
        with registry.cursor() as cr:
            cr.execute(
                "SELECT id, event_id, res_id, state, attempts FROM distribution_outbound_event"
                " WHERE id IN %s ORDER BY id",
                [tuple(ids["events"])],
            )
            rows = cr.fetchall()
        self.assertEqual({row[3] for row in rows}, {"delivered"})
        self.assertEqual({row[4] for row in rows}, {1})
        received = [event_id for event_id in self.receiver.event_ids() if event_id in {row[1] for row in rows}]
        self.assertEqual(Counter(received).most_common(1)[0][1], 1, "no event sent twice")
        self.assertEqual(len(received), 24)
        self.assertGreater(batches["A"], 0)
        self.assertGreater(batches["B"], 0)
        position = {event_id: index for index, event_id in enumerate(received)}
        for res_id in {row[2] for row in rows}:
            chain = [row[1] for row in rows if row[2] == res_id]
            self.assertEqual(sorted(chain, key=position.get), chain, "creation order per document")
