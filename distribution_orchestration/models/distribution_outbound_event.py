import logging
import time
import uuid
from collections import Counter
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import psycopg2
import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.connectionpool import HTTPSConnectionPool

import odoo
from odoo import api
from odoo import fields
from odoo import models
from odoo import tools
from odoo.addons.distribution_observability.services import netguard
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..services import backoff
from ..services import signature
from ..services import sync

_logger = logging.getLogger(__name__)
MANAGER_GROUP = "distribution_observability.group_distribution_manager"

STATES = [
    ("pending", "Pending"),
    ("sending", "Sending"),
    ("delivered", "Delivered"),
    ("dead", "Dead"),
]
CRON_XMLID = "distribution_orchestration.ir_cron_distribution_outbox_deliver"
WORKFLOW_CODE = "outbox_delivery"
# A 'sending' event whose worker died (crash, kill) is claimed again after this lease; a batch stops
# taking new HTTP calls after BATCH_TIME_BUDGET (a third of the lease when that is shorter), so a live
# worker never holds one that long (budget + the longest timeout, 120 s, is well under the default).
# The lease is the system parameter LEASE_PARAM (seconds, at least MIN_LEASE_SECONDS): a shorter one
# brings a killed worker's events back sooner, but must stay above a third of it plus the endpoints'
# timeout, or a second worker takes events a live one is still posting (delivered twice).
STALE_SENDING_SECONDS = 15 * 60
LEASE_PARAM = "distribution_orchestration.outbox_lease_seconds"
MIN_LEASE_SECONDS = 10
BATCH_TIME_BUDGET = 5 * 60
OUTCOME_COMMIT_SECONDS = 0.5
MAX_ERROR_LENGTH = 1000
CLAIM_ATTEMPTS = 3
USER_AGENT = "Odoo-Distribution-Outbox/1.0"
# Errors of the request itself (not of the receiver): retrying the same request cannot succeed.
PERMANENT_REQUEST_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
)


class BlockedPeer(OSError):
    """The connection reached a loopback, private or reserved address although the host name resolved to a
    public one when it was checked: a DNS rebinding (or a race with the resolver). Nothing was sent."""


class _PublicPeerMixin:
    """A connection that checks the address it actually connected to, before TLS and before any byte of
    the request: the last word against DNS rebinding, whatever the name resolved to a moment before."""

    def _new_conn(self):
        sock = super()._new_conn()
        peer = sock.getpeername()[0]
        kind = netguard.address_kind(peer)
        if kind:
            sock.close()
            raise BlockedPeer(f"{self.host} connected to {peer}, {kind} address")
        return sock


class _PublicHTTPConnection(_PublicPeerMixin, HTTPConnection):
    pass


class _PublicHTTPSConnection(_PublicPeerMixin, HTTPSConnection):
    pass


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class PublicOnlyAdapter(HTTPAdapter):
    """The transport of the outbox when private addresses are not allowed: every connection is checked."""

    def init_poolmanager(self, *args, **kwargs):
        result = super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PublicHTTPPool, "https": _PublicHTTPSPool}
        return result


def _blocked_peer(error, depth=0):
    """The BlockedPeer behind a requests/urllib3 error (they wrap it in several layers), or None."""
    if isinstance(error, BlockedPeer):
        return error
    if error is None or depth > 6:
        return None
    nested = [getattr(error, "reason", None), error.__cause__, error.__context__]
    nested += [arg for arg in getattr(error, "args", ()) if isinstance(arg, BaseException)]
    for inner in nested:
        found = _blocked_peer(inner, depth + 1) if isinstance(inner, BaseException) else None
        if found:
            return found
    return None


def _utcnow():
    """Naive UTC now with microseconds (fields.Datetime.now() drops them), for latencies."""
    return datetime.now(UTC).replace(tzinfo=None)


class DistributionOutboundEvent(models.Model):
    """One event for one endpoint: the signed body, serialised once when the business change happened
    (in its transaction), and its delivery: state, attempts, next attempt, last answer, latency.

    Emit with ``_emit()``; the scheduled action ``ir_cron_distribution_outbox_deliver`` (also triggered
    by every emit) delivers the due events with ``_cron_deliver()``.
    """

    _name = "distribution.outbound.event"
    _description = "Outbound Event"
    _order = "id desc"
    _rec_name = "event_id"

    event_id = fields.Char("Event ID", required=True, readonly=True, copy=False, default=lambda self: str(uuid.uuid4()))
    event_type = fields.Char("Type", required=True, readonly=True, index=True)
    payload = fields.Text(required=True, readonly=True, help="The exact JSON body that is signed and sent.")
    correlation_id = fields.Char(readonly=True, index="btree_not_null")
    endpoint_id = fields.Many2one("distribution.outbound.endpoint", required=True, readonly=True, ondelete="cascade")
    res_model = fields.Char("Document Model", readonly=True)
    res_id = fields.Many2oneReference("Document ID", model_field="res_model", readonly=True)
    record_ref = fields.Reference(selection="_selection_record_ref", string="Document", compute="_compute_record_ref")
    state = fields.Selection(STATES, required=True, default="pending", readonly=True, index=True)
    attempts = fields.Integer(readonly=True)
    max_attempts = fields.Integer(related="endpoint_id.max_attempts")
    next_attempt_at = fields.Datetime(readonly=True, default=fields.Datetime.now)
    sending_started_at = fields.Datetime(readonly=True)
    last_attempt_at = fields.Datetime(readonly=True)
    last_status_code = fields.Integer(readonly=True, aggregator=False)
    # The receiver's answer (and the network's: "connection refused") is for those who configure the
    # endpoints only: shown to every user it would turn a URL into a probe of whatever answers it.
    last_error = fields.Text(readonly=True, groups=MANAGER_GROUP)
    delivered_at = fields.Datetime(readonly=True)
    latency_ms = fields.Integer("Latency (ms)", readonly=True, aggregator="avg", help="From emission to delivery.")
    discarded = fields.Boolean(readonly=True, help="A dead letter somebody decided not to replay.")
    discard_reason = fields.Text(readonly=True)
    discarded_by_id = fields.Many2one("res.users", readonly=True)
    discarded_at = fields.Datetime(readonly=True)
    replay_count = fields.Integer(readonly=True)
    sync_line_ids = fields.One2many("distribution.sync.line", "event_id", "Sync Log")
    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, index=True, default=lambda self: self.env.company
    )

    _sql_constraints = [("event_id_unique", "unique(event_id)", "An event ID must be unique.")]

    def init(self):
        # The claim of due events (the cron's first query).
        tools.create_index(
            self._cr,
            "distribution_outbound_event_due_idx",
            self._table,
            ["next_attempt_at", "id"],
            where="state = 'pending'",
        )
        # The earlier undelivered events of a document (delivery in creation order per endpoint and document).
        tools.create_index(
            self._cr,
            "distribution_outbound_event_chain_idx",
            self._table,
            ["endpoint_id", "res_model", "res_id", "id"],
            where="state IN ('pending', 'sending')",
        )
        # Stale 'sending' events and the dead-letter queue.
        tools.create_index(
            self._cr,
            "distribution_outbound_event_state_idx",
            self._table,
            ["state", "create_date"],
            where="state IN ('sending', 'dead')",
        )

    @api.model
    def _selection_record_ref(self):
        return [(model.model, model.name) for model in self.env["ir.model"].sudo().search([])]

    @api.depends("res_model", "res_id")
    def _compute_record_ref(self):
        for event in self:
            valid = event.res_model in self.env and event.res_id
            event.record_ref = f"{event.res_model},{event.res_id}" if valid else False

    # -- emission ---------------------------------------------------------------------------------
    @api.model
    def _emit(self, event_type, record, data, correlation_id=None):
        """Queue ``event_type`` about ``record`` for every subscribed endpoint of its company.

        The events are written in the current transaction: they leave only if it commits (a rolled
        back business change sends nothing). The body is serialised here, once, and is what gets signed
        and sent (``data`` must be JSON-serialisable; dates and decimals become strings). The delivery
        cron is triggered for right after the commit. Returns the events (one per endpoint, each with its
        own event id; they share the correlation id).
        """
        return self._emit_many(event_type, [(record, data)], correlation_id=correlation_id)

    @api.model
    def _emit_many(self, event_type, items, correlation_id=None):
        """``_emit`` for several records at once, ``items`` being (record, data) pairs: the endpoints are
        read once and the events created in one batch, whatever the number of records."""
        items = [(record[:1] if record else record, data) for record, data in items]
        companies = {
            id(record): (record.company_id if record and "company_id" in record._fields else None) or self.env.company
            for record, _data in items
        }
        # sudo: emitting is a side effect of any user's business action (a salesperson confirming an order);
        # endpoints are manager-only configuration (they hold the secret, which is not read here).
        endpoints = (
            self.env["distribution.outbound.endpoint"]
            .sudo()
            .search([("company_id", "in", list({company.id for company in companies.values()}))])
            .filtered(lambda endpoint: endpoint._subscribes(event_type))
        )
        if not endpoints:
            return self.browse()
        occurred_at = _utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        vals_list = []
        for record, data in items:
            company = companies[id(record)]
            shared_correlation = correlation_id or uuid.uuid4().hex
            for endpoint in endpoints.filtered(lambda e, c=company: e.company_id == c):
                event_id = str(uuid.uuid4())
                body = signature.envelope(event_id, event_type, occurred_at, company.name, data or {})
                vals_list.append(
                    {
                        "event_id": event_id,
                        "event_type": event_type,
                        "payload": body.decode(),
                        "correlation_id": shared_correlation,
                        "endpoint_id": endpoint.id,
                        "res_model": record._name if record else False,
                        "res_id": record.id if record else False,
                        "company_id": company.id,
                    }
                )
        if not vals_list:
            return self.browse()
        # sudo: the outbox is written as the system, whatever the rights of the user whose action emits.
        events = self.sudo().create(vals_list)
        self.env["distribution.sync.line"]._sync_log_emitted(events)
        self._trigger_delivery()
        return events.with_env(self.env)

    @api.model
    def _outbox_lease_seconds(self):
        """How long a 'sending' event belongs to the worker that claimed it (see LEASE_PARAM): after that
        it is claimed again (and the reconciliation re-queues it)."""
        # sudo: a system setting read by the scheduled job.
        value = self.env["ir.config_parameter"].sudo().get_param(LEASE_PARAM)
        try:
            return max(int(value), MIN_LEASE_SECONDS) if value else STALE_SENDING_SECONDS
        except ValueError:
            return STALE_SENDING_SECONDS

    @api.model
    def _outbox_batch_budget(self):
        """Seconds a batch may keep taking new HTTP calls: well within the lease of its events."""
        return min(BATCH_TIME_BUDGET, self._outbox_lease_seconds() / 3)

    @api.model
    def _trigger_delivery(self, at=None):
        """Ask the cron to run (a trigger row written in this transaction: it only exists, and the
        cron only wakes up, once the transaction commits)."""
        if at is None:
            # One trigger per transaction is enough, however many events it emits.
            transaction = self.env.cr.precommit.data
            if transaction.get("distribution_outbox_triggered"):
                return
            transaction["distribution_outbox_triggered"] = True
        # sudo: a trigger is technical data any emitting user creates.
        cron = self.env.ref(CRON_XMLID, raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger(at)

    # -- delivery ---------------------------------------------------------------------------------
    @api.model
    def _cron_deliver(self, batch_size=100):
        """Deliver one batch of due events; returns the number of events handled.

        Claims the batch with FOR UPDATE SKIP LOCKED (several workers share the outbox, an event is
        never taken twice), marks it 'sending' and commits before any HTTP call, then posts each event
        with one keep-alive session and commits the outcomes every half second (a failure at once). Commits
        are skipped on a test transaction
        (see ``_outbox_may_commit``). The cron is told that more remain when the batch was full.
        """
        events = self._outbox_claim(batch_size)
        if events:
            self._outbox_commit()
            # One run per company, each with its own summary: a company's users never read another's figures.
            # The time budget is the batch's, shared by its companies (see STALE_SENDING_SECONDS).
            deadline = time.monotonic() + self._outbox_batch_budget()
            for company in events.company_id:
                company_events = events.filtered(lambda event, c=company: event.company_id == c)
                with self.env["distribution.workflow.run"].track(WORKFLOW_CODE, company_events) as run:
                    company_events._outbox_deliver(run, deadline=deadline)
            self._outbox_trigger_next_retry()
            self._outbox_commit()
        self.env["ir.cron"]._notify_progress(done=len(events), remaining=1 if len(events) >= batch_size else 0)
        return len(events)

    @api.model
    def _outbox_trigger_next_retry(self):
        """Ask the scheduled action to run when the earliest retry falls due. Without it a retry waits for the
        action's next run (every minute) or the next emit: after an outage, deliveries would resume up to a
        minute late. One trigger row at most per retry time: none when one already falls due by then."""
        self.flush_model(["state", "next_attempt_at"])
        now = fields.Datetime.now()
        # Raw SQL: one aggregate on the pending events, then one look at the scheduler's own trigger table.
        self.env.cr.execute(
            SQL(
                "SELECT min(next_attempt_at) FROM %s WHERE state = 'pending' AND next_attempt_at > %s",
                SQL.identifier(self._table),
                now,
            )
        )
        due = self.env.cr.fetchone()[0]
        cron = self.env.ref(CRON_XMLID, raise_if_not_found=False)
        if not due or not cron:
            return
        self.env.cr.execute(
            SQL(
                "SELECT 1 FROM ir_cron_trigger WHERE cron_id = %s AND call_at > %s AND call_at <= %s LIMIT 1",
                cron.id,
                now,
                due,
            )
        )
        if not self.env.cr.fetchone():
            self._trigger_delivery(at=due)

    def _outbox_may_commit(self):
        """Whether the delivery may commit its transaction: not on the transaction of a test (its commit is
        forbidden, and would break the test's rollback), nor when the caller says so with the context key
        ``distribution_outbox_no_commit``. A cursor a test opens itself (``registry.cursor()``) commits."""
        # Harmless to forge: the key can only withhold the intermediate commits (the outcomes are then committed
        # with the caller's transaction); it opens no gate, and the private delivery is not reachable over RPC.
        if self.env.context.get("distribution_outbox_no_commit") or self.env.registry.in_test_mode():
            return False
        test = odoo.modules.module.current_test
        return not (test and self.env.cr is getattr(test, "cr", None))

    def _outbox_commit(self):
        if self._outbox_may_commit():
            self.env.cr.commit()  # pylint: disable=invalid-commit

    @api.model
    def _outbox_claim(self, batch_size):
        """Lock and mark 'sending' a batch of due events that may go now, oldest first.

        Due: pending with its next attempt passed, or 'sending' for too long (its worker died). An event
        only goes after the earlier undelivered events of its endpoint and document: every such earlier
        event must be due too and end up in the same batch (it is then sent first); a dead earlier event
        does not hold the later ones back.
        """
        self.flush_model()
        for attempt in range(CLAIM_ATTEMPTS):
            now = fields.Datetime.now()
            try:
                with self.env.cr.savepoint(flush=False):
                    self.env.cr.execute(self._outbox_claim_query(now, batch_size), log_exceptions=False)
                    ids = [row[0] for row in self.env.cr.fetchall()]
                break
            except psycopg2.errors.SerializationFailure:
                # Odoo transactions are REPEATABLE READ: another worker updated a candidate after this
                # transaction's snapshot. A new transaction sees its change (and SKIP LOCKED its locks).
                if attempt + 1 == CLAIM_ATTEMPTS or not self._outbox_may_commit():
                    raise
                self.env.cr.commit()  # pylint: disable=invalid-commit
        events = self.browse(ids)
        if events:
            events.write({"state": "sending", "sending_started_at": now})
            events.flush_recordset()
        return events

    @api.model
    def _outbox_claim_query(self, now, batch_size):
        # Raw SQL: FOR UPDATE SKIP LOCKED and the per-document ordering condition have no ORM equivalent.
        # The candidates are locked in a materialized CTE (a LIMIT subquery must not be evaluated twice).
        return SQL(
            """
            WITH candidate AS MATERIALIZED (
                SELECT event.id, event.endpoint_id, event.res_model, event.res_id
                  FROM distribution_outbound_event event
                  JOIN distribution_outbound_endpoint endpoint ON endpoint.id = event.endpoint_id
                 WHERE endpoint.active
                   AND ((event.state = 'pending' AND event.next_attempt_at <= %(now)s)
                        OR (event.state = 'sending' AND event.sending_started_at < %(stale)s))
                   AND NOT EXISTS (
                        SELECT 1 FROM distribution_outbound_event earlier
                         WHERE earlier.endpoint_id = event.endpoint_id
                           AND earlier.res_model = event.res_model
                           AND earlier.res_id = event.res_id
                           AND earlier.id < event.id
                           AND ((earlier.state = 'pending' AND earlier.next_attempt_at > %(now)s)
                                OR (earlier.state = 'sending' AND earlier.sending_started_at >= %(stale)s)))
              ORDER BY event.id
                 LIMIT %(limit)s
                   FOR UPDATE OF event SKIP LOCKED
            )
            SELECT candidate.id
              FROM candidate
             WHERE NOT EXISTS (
                    SELECT 1 FROM distribution_outbound_event earlier
                     WHERE earlier.endpoint_id = candidate.endpoint_id
                       AND earlier.res_model = candidate.res_model
                       AND earlier.res_id = candidate.res_id
                       AND earlier.id < candidate.id
                       AND earlier.state IN ('pending', 'sending')
                       AND earlier.id NOT IN (SELECT id FROM candidate))
          ORDER BY candidate.id
            """,
            now=now,
            stale=now - timedelta(seconds=self._outbox_lease_seconds()),
            limit=batch_size,
        )

    def _outbox_deliver(self, run, deadline=None):
        """Post the claimed events in order, record each outcome (committed every half second, and at once
        for a failure) and summarise the batch on its run. Later events of a document whose event failed
        wait for the next batch, like the events left when ``deadline`` (time.monotonic()) has passed."""
        tally = Counter()
        latencies = []
        held_chains = set()
        deadline = deadline or time.monotonic() + self._outbox_batch_budget()
        self._outbox_commit()  # the 'running' row of the batch run: no transaction stays open during HTTP
        last_commit = time.monotonic()
        with requests.Session() as session:
            session.headers["User-Agent"] = USER_AGENT
            if not self.env["distribution.outbound.endpoint"]._outbound_allow_private():
                adapter = PublicOnlyAdapter()
                session.mount("http://", adapter)
                session.mount("https://", adapter)
            for event in self.sorted("id"):
                chain = (event.endpoint_id.id, event.res_model, event.res_id) if event.res_model else None
                if (chain and chain in held_chains) or time.monotonic() > deadline:
                    event.write({"state": "pending", "sending_started_at": False})
                    tally["postponed"] += 1
                    continue
                status, error, wait, *answer = event._outbox_post(session)
                event._outbox_record(status, error, wait, run, answer=answer[0] if answer else None)
                tally[event.state] += 1
                if event.state == "delivered":
                    latencies.append(event.latency_ms)
                elif event.state == "pending" and chain:
                    held_chains.add(chain)
                # Outcomes are committed at least every OUTCOME_COMMIT_SECONDS, not one by one: a commit waits
                # for a disk flush. A worker killed in between leaves those events 'sending'; they are sent again
                # later (at least once, same event id: receivers deduplicate on it).
                if event.state != "delivered" or time.monotonic() - last_commit > OUTCOME_COMMIT_SECONDS:
                    self._outbox_commit()
                    last_commit = time.monotonic()
            self._outbox_commit()
        summary = self._outbox_summary(tally, latencies)
        _logger.info("Outbox batch of %s events: %s", len(self), summary)
        if tally["dead"]:
            run.fail("dead_letter", summary, kind="technical")
        else:
            run.reason = "retrying" if tally["pending"] else None
            run.message = summary

    @api.model
    def _outbox_summary(self, tally, latencies):
        parts = [f"{tally['delivered']} delivered"]
        if latencies:
            ordered = sorted(latencies)
            p50 = ordered[(len(ordered) - 1) // 2]
            p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
            parts[0] += f" (latency p50 {p50} ms, p95 {p95} ms, max {ordered[-1]} ms)"
        parts.append(f"{tally['pending']} to retry")
        parts.append(f"{tally['dead']} dead")
        if tally["postponed"]:
            parts.append(f"{tally['postponed']} postponed")
        return ", ".join(parts)

    def _outbox_post(self, session):
        """Post the event; returns (HTTP status or None, error text or None, seconds the receiver asks to
        wait, the answer's text when a system of record acknowledged it, for its reference). Never raises for
        a network problem. The secret only goes into the signature header."""
        self.ensure_one()
        # sudo: the secret and extra headers are manager-only fields; the delivery signs with them, whoever
        # runs the cron. Neither is logged nor stored on the event.
        endpoint = self.endpoint_id.sudo()
        body = self.payload.encode()
        try:
            headers = endpoint._get_extra_headers()
        except UserError as exc:
            return None, f"invalid extra headers: {exc}", 0.0
        headers["Content-Type"] = "application/json"
        headers.update(signature.headers(endpoint.secret, self.event_type, self.event_id, int(time.time()), body))
        # Checked again at each delivery, not only when the URL was saved: the name may resolve elsewhere
        # by now (DNS rebinding). A blocked address is a dead letter (retrying cannot make it public).
        try:
            blocked = endpoint._outbound_blocked_reason()
        except netguard.UnresolvedHost as exc:
            return None, f"connection error: {exc}", 0.0
        if blocked:
            return 0, f"blocked address: {blocked}", 0.0
        try:
            response = session.post(
                endpoint.url, data=body, headers=headers, timeout=endpoint.timeout, allow_redirects=False
            )
        except PERMANENT_REQUEST_ERRORS as exc:
            return 0, f"invalid request: {type(exc).__name__}", 0.0
        except requests.Timeout:
            return None, f"timeout after {endpoint.timeout} s", 0.0
        except requests.ConnectionError as exc:
            blocked_peer = _blocked_peer(exc)
            if blocked_peer:
                return 0, f"blocked address: {blocked_peer}", 0.0
            return None, f"connection error: {self._outbox_scrub(exc, endpoint)}", 0.0
        except requests.RequestException as exc:
            return None, f"{type(exc).__name__}: {self._outbox_scrub(exc, endpoint)}", 0.0
        status = response.status_code
        if 200 <= status < 300:
            answer = None
            if endpoint.sync_of_record and endpoint.sync_reference_path:
                answer = response.content[: sync.MAX_ANSWER_LENGTH].decode(errors="replace")
            return status, None, 0.0, answer
        text = self._outbox_scrub(response.text[:300], endpoint)
        return (
            status,
            f"HTTP {status} {response.reason or ''}: {text}".strip(),
            backoff.retry_after(response.headers.get("Retry-After")),
        )

    @api.model
    def _outbox_scrub(self, value, endpoint):
        """An error text fit to store and log: bounded, without the endpoint's secret."""
        text = str(value)
        secret = endpoint.secret
        if secret:
            text = text.replace(secret, "***")
        return text[:MAX_ERROR_LENGTH]

    def _outbox_record(self, status, error, wait, run, answer=None):
        """Store the outcome of one attempt: delivered, retried later (backoff), or dead; and on the sync log
        when the endpoint is a system of record (with the receiver's reference read from ``answer``)."""
        self.ensure_one()
        self._outbox_record_event(status, error, wait, run)
        if self.endpoint_id.sync_of_record:
            self.sync_line_ids._sync_log_attempt(self, answer)

    def _outbox_record_event(self, status, error, wait, run):
        self.ensure_one()
        now = fields.Datetime.now()
        attempts = self.attempts + 1
        outcome = backoff.DEAD if status == 0 else backoff.outcome(status)
        vals = {
            "attempts": attempts,
            "last_attempt_at": now,
            "last_status_code": status or 0,
            "sending_started_at": False,
        }
        if outcome == backoff.DELIVERED:
            latency = max(0, round((_utcnow() - self.create_date).total_seconds() * 1000))
            vals.update(state="delivered", delivered_at=now, latency_ms=latency, last_error=False)
            self.write(vals)
            return
        vals["last_error"] = error
        if status:
            reason = f"http_{status}"
        elif status == 0:
            reason = "blocked_address" if (error or "").startswith("blocked address") else "invalid_request"
        else:
            reason = "timeout" if error.startswith("timeout") else "no_answer"
        # The run log is read by every Distribution user: it gets the reason code, never the answer's text
        # (last_error, manager-only, and the server log keep it).
        if outcome == backoff.RETRY and attempts < self.endpoint_id.max_attempts:
            delay = max(backoff.delay(attempts), wait)
            vals.update(state="pending", next_attempt_at=now + timedelta(seconds=delay))
            message = f"attempt {attempts}/{self.endpoint_id.max_attempts} failed, next in {round(delay)} s"
        else:
            vals.update(state="dead", next_attempt_at=False)
            message = f"dead after {attempts} attempt(s)"
        self.write(vals)
        _logger.warning(
            "Outbox event %s (%s) to endpoint %s: %s: %s",
            self.event_id,
            self.event_type,
            self.endpoint_id.name,
            message,
            error,
        )
        message = f"{message}: {reason}"
        run.fail_item(self, reason, message, kind="technical")

    # -- dead letters -----------------------------------------------------------------------------
    def action_replay(self):
        """Send dead (or discarded) events again from scratch: pending, attempts reset, due now."""
        dead = self.filtered(lambda event: event.state == "dead")
        if not dead:
            raise UserError(self.env._("Only dead events can be replayed."))
        for event in dead:
            event.write(
                {
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": fields.Datetime.now(),
                    "discarded": False,
                    "discard_reason": False,
                    "discarded_by_id": False,
                    "discarded_at": False,
                    "replay_count": event.replay_count + 1,
                }
            )
        dead.sync_line_ids._sync_log_requeued()
        self._trigger_delivery()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._("%(count)s event(s) queued again.", count=len(dead)),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def _discard(self, reason):
        """Close dead letters for good, with the reason; they stay dead (and replayable)."""
        if not (reason or "").strip():
            raise UserError(self.env._("Say why these events are discarded."))
        if any(event.state != "dead" for event in self):
            raise UserError(self.env._("Only dead events can be discarded."))
        self.write(
            {
                "discarded": True,
                "discard_reason": reason.strip(),
                "discarded_by_id": self.env.uid,
                "discarded_at": fields.Datetime.now(),
            }
        )

    def action_discard(self):
        """Open the discard wizard on the selected dead events."""
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Discard Dead Letters"),
            "res_model": "distribution.outbound.discard.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_event_ids": self.filtered(lambda event: event.state == "dead").ids},
        }
