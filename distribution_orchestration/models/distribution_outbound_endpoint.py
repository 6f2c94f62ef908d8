import json
import secrets
import uuid

from odoo import api
from odoo import fields
from odoo import models
from odoo import tools
from odoo.addons.distribution_observability.services import netguard
from odoo.exceptions import AccessError
from odoo.exceptions import ValidationError

from ..services import signature
from ..services import sync
from .distribution_outbound_event import WORKFLOW_CODE
from .distribution_outbound_event import _utcnow

MANAGER_GROUP = "distribution_observability.group_distribution_manager"
# Headers the outbox sets itself: extra headers may not replace them.
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        signature.HEADER_EVENT,
        signature.HEADER_EVENT_ID,
        signature.HEADER_TIMESTAMP,
        signature.HEADER_SIGNATURE,
        "Content-Type",
        "Content-Length",
        "Host",
    )
)
MAX_TIMEOUT = 120
TEST_EVENT_TYPE = "endpoint.test"


class DistributionOutboundEndpoint(models.Model):
    """A receiver of signed events: where the outbox posts them, which types it wants, how long to
    wait for it and how often to retry. Its secret keys the HMAC signature of every request; it is
    only readable by Distribution managers, never shown in lists, never logged nor sent."""

    _name = "distribution.outbound.endpoint"
    _description = "Outbound Event Endpoint"
    _order = "name, id"

    name = fields.Char(required=True)
    url = fields.Char("URL", required=True, help="HTTPS address the events are posted to.")
    secret = fields.Char(
        required=True,
        copy=False,
        groups=MANAGER_GROUP,
        default=lambda self: secrets.token_urlsafe(32),
        help="Shared secret keying the X-Distribution-Signature HMAC; give it to the receiver.",
    )
    event_types = fields.Char(
        help="Comma-separated event types this endpoint receives (e.g. 'order.held, order.released', or "
        "'order.*' for a family); empty: every event.",
    )
    timeout = fields.Integer("Timeout (s)", default=10, required=True)
    max_attempts = fields.Integer(default=8, required=True, help="Attempts before an event becomes a dead letter.")
    extra_headers = fields.Text(
        help='JSON object of additional HTTP headers, e.g. {"Authorization": "Bearer ..."}; never logged.',
        groups=MANAGER_GROUP,
    )
    sync_of_record = fields.Boolean(
        "System of Record Sync",
        help="A finance or reporting system that must hold every version of the documents it is sent: each event "
        "it receives gets a line in the Sync Log (document, version hash, sent and acknowledged times, the "
        "receiver's reference), and the Sync Reconciliation lists the documents changed since their last "
        "acknowledged sync.",
    )
    sync_reference_path = fields.Char(
        "Receiver Reference Path",
        help="Where the receiver's own reference is in its JSON answer, e.g. 'id', 'data.entry.number' or "
        "'results[0].id'. Empty: no reference is read.",
    )
    sync_line_ids = fields.One2many("distribution.sync.line", "endpoint_id", "Sync Log")
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    event_ids = fields.One2many("distribution.outbound.event", "endpoint_id", "Events")
    pending_count = fields.Integer(compute="_compute_event_counts")
    dead_count = fields.Integer(compute="_compute_event_counts")

    @api.constrains("timeout", "max_attempts")
    def _check_limits(self):
        for endpoint in self:
            if not 1 <= endpoint.timeout <= MAX_TIMEOUT:
                raise ValidationError(self.env._("The timeout must be between 1 and %(max)s seconds.", max=MAX_TIMEOUT))
            if endpoint.max_attempts < 1:
                raise ValidationError(self.env._("An event needs at least one attempt."))

    @api.constrains("url")
    def _check_url(self):
        for endpoint in self:
            if not (endpoint.url or "").lower().startswith(("https://", "http://")):
                raise ValidationError(
                    self.env._("The URL of %(name)s must start with https:// (or http://).", name=endpoint.name)
                )
            try:
                blocked = endpoint._outbound_blocked_reason()
            except netguard.UnresolvedHost:
                blocked = None  # a name that does not resolve yet: checked again before every delivery
            if blocked:
                raise ValidationError(
                    self.env._(
                        "The URL of %(name)s points inside the network (%(reason)s): the outbox only posts to "
                        "public addresses.",
                        name=endpoint.name,
                        reason=blocked,
                    )
                )

    @api.constrains("sync_reference_path")
    def _check_sync_reference_path(self):
        for endpoint in self.filtered("sync_reference_path"):
            try:
                sync.parse_path(endpoint.sync_reference_path)
            except sync.PathError as error:
                raise ValidationError(
                    self.env._(
                        "The receiver reference path of %(name)s cannot be read (%(error)s): write keys separated "
                        "by dots and list positions in brackets, e.g. data.entries[0].id.",
                        name=endpoint.name,
                        error=error,
                    )
                ) from error

    @api.model
    def _outbound_allow_private(self):
        """Whether the server lets the outbox post to loopback and private addresses: development and
        tests only (their receivers listen on 127.0.0.1), set in the server configuration
        (``distribution_outbound_allow_private = True``) or the environment
        (``DISTRIBUTION_OUTBOUND_ALLOW_PRIVATE=1``), never by a user."""
        return netguard.allow_private(tools.config.get(netguard.CONFIG_ALLOW_PRIVATE))

    def _outbound_blocked_reason(self):
        """Why the outbox must not post to this endpoint's URL (loopback, private, link-local, reserved
        address, resolved now), or None. Raises ``netguard.UnresolvedHost`` when the name does not resolve."""
        self.ensure_one()
        if self._outbound_allow_private():
            return None
        return netguard.blocked_reason(self.url)

    @api.constrains("extra_headers")
    def _check_extra_headers(self):
        for endpoint in self.sudo():  # sudo: the constraint reads a manager-only field of the record being saved
            endpoint._get_extra_headers()

    def _compute_event_counts(self):
        counts = {
            (endpoint.id, state): count
            for endpoint, state, count in self.env["distribution.outbound.event"]._read_group(
                [("endpoint_id", "in", self.ids), ("state", "in", ("pending", "dead")), ("discarded", "=", False)],
                ["endpoint_id", "state"],
                ["__count"],
            )
        }
        for endpoint in self:
            endpoint.pending_count = counts.get((endpoint.id, "pending"), 0)
            endpoint.dead_count = counts.get((endpoint.id, "dead"), 0)

    def _get_extra_headers(self):
        """The extra headers as a dict of strings; raises ValidationError on a malformed value."""
        self.ensure_one()
        if not (self.extra_headers or "").strip():
            return {}
        try:
            headers = json.loads(self.extra_headers)
        except ValueError as exc:
            raise ValidationError(
                self.env._("The extra headers of %(name)s are not valid JSON: %(error)s", name=self.name, error=exc)
            ) from exc
        if not isinstance(headers, dict) or not all(isinstance(v, str | int | float) for v in headers.values()):
            raise ValidationError(self.env._("Extra headers must be a JSON object of names to text values."))
        reserved = sorted(name for name in headers if name.lower() in RESERVED_HEADERS)
        if reserved:
            raise ValidationError(
                self.env._("These headers are set by the outbox itself: %(names)s", names=", ".join(reserved))
            )
        return {str(name): str(value) for name, value in headers.items()}

    def _subscribes(self, event_type):
        """Whether this endpoint receives events of ``event_type`` (exact type, 'family.*', or all)."""
        self.ensure_one()
        wanted = [t.strip() for t in (self.event_types or "").split(",") if t.strip()]
        if not wanted or "*" in wanted:
            return True
        return any(t == event_type or (t.endswith(".*") and event_type.startswith(t[:-1])) for t in wanted)

    def action_view_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_orchestration.distribution_outbound_event_action"
        )
        action["domain"] = [("endpoint_id", "=", self.id)]
        action["context"] = {"search_default_group_state": 1}
        return action

    def action_view_dead_letters(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_orchestration.distribution_outbound_event_dead_action"
        )
        action["domain"] = [("state", "=", "dead"), ("endpoint_id", "=", self.id)]
        return action

    def action_view_sync_log(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_orchestration.distribution_sync_line_action"
        )
        action["domain"] = [("endpoint_id", "=", self.id)]
        return action

    def action_regenerate_secret(self):
        """Replace the secret (the receiver must be given the new one)."""
        for endpoint in self:
            endpoint.secret = secrets.token_urlsafe(32)

    def action_test_delivery(self):
        """Send a signed test event (type ``endpoint.test``) to this endpoint now, through the outbox's own
        delivery (signature, extra headers, address checks, the attempt recorded on the event and on the
        outbox's run), and tell the user how it went. A delivered test event is what a delivered business
        event is (it ticks "Connect an outbound endpoint" on the dashboard). A failed one is not retried: it
        is closed as a discarded dead letter, and the endpoint is tested again once the receiver is fixed.
        The user is waiting for the answer, so the attempt is made in their request, for at most the
        endpoint's timeout, like the cron's with intermediate commits withheld (the event commits with the
        request)."""
        self.ensure_one()
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(self.env._("Only Distribution managers test the delivery to an endpoint."))
        event_id = str(uuid.uuid4())
        occurred_at = _utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        data = {"test": True, "endpoint": self.name}
        body = signature.envelope(event_id, TEST_EVENT_TYPE, occurred_at, self.company_id.name, data)
        # sudo: the outbox is written as the system, as for every emitted event; 'sending' like a claimed event.
        event = (
            self.env["distribution.outbound.event"]
            .sudo()
            .create(
                {
                    "event_id": event_id,
                    "event_type": TEST_EVENT_TYPE,
                    "payload": body.decode(),
                    "endpoint_id": self.id,
                    "res_model": self._name,
                    "res_id": self.id,
                    "state": "sending",
                    "sending_started_at": fields.Datetime.now(),
                    "company_id": self.company_id.id,
                }
            )
        )
        with self.env["distribution.workflow.run"].track(WORKFLOW_CODE, event) as run:
            event.with_context(distribution_outbox_no_commit=True)._outbox_deliver(run)
        if event.state == "delivered":
            return self._notify_test_delivery(
                "success",
                self.env._(
                    "The test event reached %(name)s: HTTP %(status)s in %(latency)s ms.",
                    name=self.name,
                    status=event.last_status_code,
                    latency=event.latency_ms,
                ),
            )
        error = event.last_error or ""
        if event.state != "dead":
            event.write({"state": "dead", "next_attempt_at": False})
        event._discard(self.env._("Test delivery: not retried."))
        return self._notify_test_delivery(
            "danger",
            self.env._("The test event did not reach %(name)s: %(error)s", name=self.name, error=error),
        )

    def _notify_test_delivery(self, kind, message):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": kind, "message": message, "sticky": kind != "success"},
        }
