import json
import time
import uuid
from datetime import timedelta
from unittest.mock import patch

from odoo import Command
from odoo import fields
from odoo.addons.distribution_observability.services import netguard
from odoo.addons.distribution_observability.tests.rpc import JsonRpcMixin
from odoo.tests import HttpCase
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..controllers import webhook
from ..services import signature

USER = "distribution_observability.group_distribution_user"
MANAGER = "distribution_observability.group_distribution_manager"
WEBHOOK_LOGGER = "odoo.addons.distribution_orchestration.controllers.webhook"
EVENT_LOGGER = "odoo.addons.distribution_orchestration.models.distribution_outbound_event"
RECEIVER_SECRET_TEXT = "db_password=hunter2 (an internal service's banner)"
SSRF_URLS = [
    "http://127.0.0.1:8069/web/database/list",
    "https://10.1.2.3/hook",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[::1]:8069/hook",
    "https://192.168.1.1/admin",
    "https://[::ffff:127.0.0.1]/hook",
    "http://localhost:8069/hook",  # a name that resolves to loopback
    "https://intranet.receiver.example/hook",  # resolves (patched below) to a private address
]


def _resolve(host, port):
    if host == "localhost":
        return ["127.0.0.1", "::1"]
    if host == "intranet.receiver.example":
        return ["93.184.216.34", "10.20.30.40"]  # one public, one private: refused
    return ["93.184.216.34"]


@tagged("post_install", "-at_install")
class TestAttackIntegration(JsonRpcMixin, HttpCase):
    """The integration doors, tried as an attacker: outbound URLs into the network (SSRF), the receiver's
    answer shown to users, malformed signature headers on the webhook, and the monitoring endpoints."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(cls.env, "integration_user", groups=USER)
        cls.manager = new_test_user(cls.env, "integration_manager", groups=MANAGER)
        cls.Endpoint = cls.env["distribution.outbound.endpoint"]
        cls.inbound = cls.env["distribution.inbound.endpoint"].create(
            {
                "name": "Carrier",
                "code": "attack-carrier",
                "handler": "carrier_status",
                "secret": "attack-secret-91",
            }
        )

    def setUp(self):
        super().setUp()
        webhook._last_rejection_log.clear()
        # The test runner allows private addresses (its receivers listen on 127.0.0.1): these tests run as
        # a production server does, with no real DNS query either.
        self.startPatcher(patch.object(type(self.Endpoint), "_outbound_allow_private", return_value=False))
        self.startPatcher(patch.object(netguard, "system_resolve", side_effect=_resolve))

    # -- SSRF ---------------------------------------------------------------------------------------
    def test_internal_urls_are_refused_on_create_and_write(self):
        self.rpc_login(self.manager)
        for url in SSRF_URLS:
            with self.subTest(url=url):
                message = self.assertRpcRefused(
                    "distribution.outbound.endpoint",
                    "create",
                    {"name": "Probe", "url": url},
                    context={"distribution_trusted": 1},
                )
                self.assertIn("public addresses", message)
        self.assertFalse(self.Endpoint.search([("name", "=", "Probe")]))
        endpoint_id, error = self.rpc(
            "distribution.outbound.endpoint",
            "create",
            {"name": "Public receiver", "url": "https://receiver.example/hook"},
        )
        self.assertIsNone(error)
        for url in SSRF_URLS:
            self.assertRpcRefused("distribution.outbound.endpoint", "write", [endpoint_id], {"url": url})
        self.assertEqual(self.Endpoint.browse(endpoint_id).url, "https://receiver.example/hook")

    def test_a_name_that_resolves_inside_at_delivery_time_is_never_posted(self):
        endpoint = self.Endpoint.create({"name": "Rebinding", "url": "https://rebind.receiver.example/hook"})
        event = self.env["distribution.outbound.event"]._emit("order.held", self.user.partner_id, {"order": "S1"})
        self.assertEqual(event.endpoint_id, endpoint)
        with (
            patch.object(netguard, "system_resolve", return_value=["127.0.0.1"]),
            patch("requests.Session.post", side_effect=AssertionError("no request may leave")) as post,
            mute_logger(EVENT_LOGGER),
        ):
            self.env["distribution.outbound.event"]._cron_deliver()
        post.assert_not_called()
        self.assertEqual(event.state, "dead", "retrying cannot make the address public")
        self.assertIn("blocked address", event.last_error)
        item = self.env["distribution.workflow.run"].search(
            [("res_model", "=", event._name), ("res_id", "=", event.id), ("parent_id", "!=", False)]
        )
        self.assertEqual(item.reason, "blocked_address")

    # -- the receiver's answer ------------------------------------------------------------------------
    def test_a_distribution_user_never_reads_the_receivers_answer(self):
        endpoint = self.Endpoint.create({"name": "Receiver", "url": "https://receiver.example/hook"})
        event = self.env["distribution.outbound.event"]._emit("order.held", self.user.partner_id, {"order": "S1"})
        Event = type(self.env["distribution.outbound.event"])
        answer = (500, f"HTTP 500 Internal Server Error: {RECEIVER_SECRET_TEXT}", 0.0)
        with patch.object(Event, "_outbox_post", return_value=answer), mute_logger(EVENT_LOGGER):
            self.env["distribution.outbound.event"]._cron_deliver()
        self.assertEqual((event.endpoint_id, event.state), (endpoint, "pending"))

        self.rpc_login(self.user)
        self.assertRpcRefused("distribution.outbound.event", "read", event.ids, ["last_error"])
        self.assertRpcRefused(
            "distribution.outbound.event", "search_read", [("id", "=", event.id)], fields=["last_error"]
        )
        rows, error = self.rpc("distribution.outbound.event", "read", event.ids)
        self.assertIsNone(error)
        self.assertNotIn("last_error", rows[0])
        self.assertEqual(rows[0]["last_status_code"], 500, "the status code is enough to see it fails")
        self.assertNotIn(RECEIVER_SECRET_TEXT, json.dumps(rows, default=str))
        # Nor through the run log, a search on the field, or a grouping.
        runs, error = self.rpc(
            "distribution.workflow.run", "search_read", [("res_id", "=", event.id)], fields=["message", "reason"]
        )
        self.assertIsNone(error)
        self.assertTrue(runs)
        self.assertNotIn("hunter2", json.dumps(runs))
        self.assertRpcRefused("distribution.outbound.event", "search", [("last_error", "ilike", "hunter2")])

        self.rpc_login(self.manager)
        rows, error = self.rpc("distribution.outbound.event", "read", event.ids, ["last_error"])
        self.assertIsNone(error)
        self.assertIn(RECEIVER_SECRET_TEXT, rows[0]["last_error"])

    # -- the inbound webhook ------------------------------------------------------------------------
    def _post(self, headers):
        event_id = str(uuid.uuid4())
        body = signature.envelope(
            event_id,
            "carrier.status",
            "2026-11-30T10:00:00Z",
            self.env.company.name,
            {"tracking_ref": "1Z", "status": "in_transit", "occurred_at": "2026-11-30T09:00:00Z"},
        )
        request_headers = signature.headers(self.inbound.secret, "carrier.status", event_id, int(time.time()), body)
        request_headers["Content-Type"] = "application/json"
        request_headers.update(headers)
        return self.opener.post(
            f"{self.base_url()}/distribution/webhook/{self.inbound.code}",
            data=body,
            headers=request_headers,
            timeout=12,
        )

    @mute_logger(WEBHOOK_LOGGER, "odoo.http")
    def test_non_ascii_signature_headers_are_refused_with_a_reason(self):
        cases = [
            {signature.HEADER_SIGNATURE: "sha256=\u00e9t\u00e9".encode()},
            {signature.HEADER_SIGNATURE: ("sha256=" + "\u00e9" * 64).encode()},
            {signature.HEADER_SIGNATURE: "sha256=\u65e5\u672c".encode()},
            {signature.HEADER_TIMESTAMP: "\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660".encode()},
            {signature.HEADER_TIMESTAMP: "1700000000\u00e9".encode()},
            {signature.HEADER_EVENT_ID: "\uff17d0c5a9e-54a8-4c0d-9a57-3b0f1a2b3c4d".encode()},
        ]
        for headers in cases:
            with self.subTest(headers=headers):
                response = self._post(headers)
                self.assertIn(response.status_code, (400, 401), response.text[:300])
                body = response.json()
                self.assertEqual(body["status"], "rejected")
                self.assertTrue(body["reason"])
                self.assertNotIn("Traceback", response.text)
        self.assertFalse(self.env["distribution.inbound.event"].search([("endpoint_id", "=", self.inbound.id)]))
        self.assertEqual(
            self.env["distribution.inbound.rejection"].search_count([("endpoint_id", "=", self.inbound.id)]), len(cases)
        )

    # -- health and metrics -------------------------------------------------------------------------
    def _key(self, user, scope):
        return (
            self.env["res.users.apikeys"]
            .with_user(user)
            ._generate(scope, "monitoring", fields.Datetime.now() + timedelta(days=1))
        )

    def test_health_and_metrics_with_a_read_only_token_or_none(self):
        metrics_key = self._key(self.manager, "distribution_metrics")
        full_key = self._key(self.manager, None)
        user_key = self._key(self.user, "distribution_metrics")
        for path in ("/distribution/health", "/distribution/metrics"):
            with self.subTest(path=path):
                self.assertEqual(self.url_open(path).status_code, 401)
                self.assertEqual(self.url_open(path, headers={"Authorization": "Bearer forged"}).status_code, 401)
                ok = self.url_open(path, headers={"Authorization": f"Bearer {metrics_key}"})
                self.assertIn(ok.status_code, (200, 503))  # 503: the health check says failing, still answered
                self.assertIn(
                    self.url_open(path, headers={"Authorization": f"Bearer {full_key}"}).status_code, (200, 503)
                )
                self.assertEqual(self.url_open(path, headers={"Authorization": f"Bearer {user_key}"}).status_code, 403)
        # The read-only key opens nothing else: no RPC with it.
        Keys = self.env["res.users.apikeys"]
        self.assertFalse(Keys._check_credentials(scope="rpc", key=metrics_key))
        self.assertEqual(Keys._check_credentials(scope="rpc", key=full_key), self.manager.id)
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {
                "service": "object",
                "method": "execute_kw",
                "args": [self.env.cr.dbname, self.manager.id, metrics_key, "res.partner", "search_count", [[]]],
            },
        }
        with mute_logger("odoo.http"):
            response = self.url_open("/jsonrpc", data=json.dumps(payload), headers={"Content-Type": "application/json"})
        self.assertIn("error", response.json())
        self.assertNotIn("result", response.json())


@tagged("post_install", "-at_install")
class TestAttackIntegrationCompanies(JsonRpcMixin, HttpCase):
    """Outbox and inbox runs of a batch over two companies: each company reads only its own failures."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Integration Company B"})
        cls.user_b = new_test_user(
            cls.env,
            "integration_user_b",
            groups=USER,
            company_id=cls.company_b.id,
            company_ids=[Command.set(cls.company_b.ids)],
        )
        Endpoint = cls.env["distribution.outbound.endpoint"]
        cls.endpoint_a = Endpoint.create(
            {"name": "A receiver", "url": "https://93.184.216.34/a", "company_id": cls.company_a.id}
        )
        cls.endpoint_b = Endpoint.create(
            {"name": "B receiver", "url": "https://93.184.216.34/b", "company_id": cls.company_b.id}
        )

    def test_company_b_reads_only_its_own_outbox_runs(self):
        Event = self.env["distribution.outbound.event"]
        partner_a = self.env["res.partner"].create({"name": "A secret customer", "company_id": self.company_a.id})
        partner_b = self.env["res.partner"].create({"name": "B customer", "company_id": self.company_b.id})
        event_a = Event._emit("order.held", partner_a, {"order": "A-S1"})
        Event._emit("order.released", partner_a, {"order": "A-S1"})
        event_b = Event._emit("order.held", partner_b, {"order": "B-S1"})
        self.assertEqual((event_a.company_id, event_b.company_id), (self.company_a, self.company_b))
        with (
            patch.object(type(Event), "_outbox_post", return_value=(503, "HTTP 503: A-only detail", 0.0)),
            mute_logger(EVENT_LOGGER),
        ):
            Event._cron_deliver()
        self.rpc_login(self.user_b)
        runs, error = self.rpc(
            "distribution.workflow.run",
            "search_read",
            [("workflow_id.code", "=", "outbox_delivery")],
            fields=["company_id", "res_model", "res_id", "message", "record_count"],
        )
        self.assertIsNone(error)
        self.assertTrue(runs)
        self.assertEqual({run["company_id"][0] for run in runs}, {self.company_b.id})
        self.assertNotIn(event_a.id, [run["res_id"] for run in runs if run["res_model"] == Event._name])
        self.assertIn(event_b.id, [run["res_id"] for run in runs if run["res_model"] == Event._name])
        batch = [run for run in runs if run["record_count"] and not run["message"].startswith("attempt")]
        self.assertEqual([run["record_count"] for run in batch], [1], "B's batch run holds B's event only")
        self.assertIn("0 delivered, 1 to retry", batch[0]["message"], "B's figures, not A's")
        self.assertNotIn("A-only detail", json.dumps(runs))
