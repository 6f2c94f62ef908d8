import logging
import time

from odoo import SUPERUSER_ID
from odoo import http
from odoo.http import request

from ..services import inbound
from ..services import signature

_logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024
CRON_XMLID = "distribution_orchestration.ir_cron_distribution_inbox_process"
# The processing cron is triggered at most once per this many seconds per worker process: a trigger is an
# INSERT plus a NOTIFY on a new connection after commit, too much for every request; the cron also runs
# every minute, so an event waits at most this long (usually less) before a worker takes it.
TRIGGER_INTERVAL_SECONDS = 10
_last_trigger = {}  # database name -> time.monotonic() of the last trigger of this process
# A rejection is logged at most once per endpoint per this many seconds per worker process (the others are
# counted in the rejection log and summed in the next line): a flood must not flood the server log too.
REJECTION_LOG_INTERVAL_SECONDS = 60
_last_rejection_log = {}  # (database name, endpoint id) -> [time.monotonic() of the last line, rejections since]
SIGNED_HEADERS = (
    signature.HEADER_EVENT,
    signature.HEADER_EVENT_ID,
    signature.HEADER_TIMESTAMP,
    "Content-Type",
    "User-Agent",
)


class DistributionWebhookController(http.Controller):
    """Signed inbound events: ``POST /distribution/webhook/<code>``. A request is only checked and stored
    (one INSERT, answered 202); the scheduled action applies the events later."""

    # No `methods` restriction: werkzeug would answer other verbs itself with an HTML 405 (and Odoo 18
    # with its generic error page); the contract wants a JSON 405 with Allow: POST, so the route sees them.
    # readonly=False: auth='none' routes get a read-only cursor by default in Odoo 18; accepting inserts.
    @http.route(
        "/distribution/webhook/<string:code>", type="http", auth="none", csrf=False, save_session=False, readonly=False
    )
    def receive(self, code, **_params):
        httprequest = request.httprequest
        # sudo: the caller is not an Odoo user (auth='none'); the HMAC signature of the endpoint's secret
        # authenticates it, checked below before anything is stored.
        env = request.env(user=SUPERUSER_ID, su=True)
        endpoint = env["distribution.inbound.endpoint"]._inbox_endpoint(code)
        if httprequest.method != "POST":
            # Counted on the endpoint like any refusal, so that a sender stuck on another verb shows there.
            reason = f"use POST, not {httprequest.method}"
            if endpoint:
                return self._reject(endpoint, 405, "method_not_allowed", reason, headers=[("Allow", "POST")])
            return self._answer(405, "method_not_allowed", reason, headers=[("Allow", "POST")])
        if not endpoint:
            _logger.info("Inbound webhook: unknown or inactive endpoint %r", code[:64])
            return self._answer(404, "not_found", "no active endpoint with this code")

        length = httprequest.content_length
        if length is not None and length > MAX_BODY_BYTES:
            return self._reject(
                endpoint, 413, "too_large", f"body of {length} bytes over the limit of " f"{MAX_BODY_BYTES} bytes"
            )
        body = self._read_body(httprequest)
        if len(body) > MAX_BODY_BYTES:
            return self._reject(endpoint, 413, "too_large", f"body over the limit of {MAX_BODY_BYTES} bytes")

        headers = httprequest.headers
        try:
            signature.verify(
                endpoint.secret,
                headers.get(signature.HEADER_TIMESTAMP),
                body,
                headers.get(signature.HEADER_SIGNATURE),
                now=time.time(),
            )
        except signature.SignatureError as error:
            return self._reject(endpoint, 401, "unauthorized", error.reason, body=body)
        except (TypeError, ValueError, UnicodeError) as error:
            # Whatever a header holds, the answer is a refusal with a reason, never a 500 with a traceback.
            return self._reject(
                endpoint, 400, "invalid", f"malformed signature headers ({type(error).__name__})", body=body
            )

        event_id = headers.get(signature.HEADER_EVENT_ID, "")
        event_type = headers.get(signature.HEADER_EVENT, "")
        if not inbound.is_uuid(event_id):
            return self._reject(
                endpoint,
                400,
                "invalid",
                f"{signature.HEADER_EVENT_ID} must be a UUID",
                problems=[f"{signature.HEADER_EVENT_ID} must be a UUID"],
            )
        try:
            payload = inbound.decode(body)
        except ValueError as error:
            problem = f"the body is not JSON: {error}"
            return self._reject(endpoint, 400, "invalid", problem, problems=[problem], body=body)
        problems = inbound.validate(
            endpoint.handler,
            payload,
            event_id=event_id,
            event_type=event_type,
            categories=env["distribution.inbound.event"]._valid_categories(),
        )
        if problems:
            return self._reject(endpoint, 400, "invalid", "; ".join(problems)[:200], problems=problems, body=body)

        # A header holds what the sender put there: a NUL character is one PostgreSQL cannot store (jsonb).
        stored_headers = {
            name: headers[name][:200].replace("\x00", "\ufffd") for name in SIGNED_HEADERS if name in headers
        }
        new_id = env["distribution.inbound.event"]._accept(
            endpoint, event_id, event_type or payload.get("type"), body.decode("utf-8", "replace"), stored_headers
        )
        if new_id is None:
            return request.make_json_response({"status": "duplicate", "event_id": event_id}, status=200)
        self._trigger_processing(env)
        return request.make_json_response({"status": "accepted", "event_id": event_id, "id": new_id}, status=202)

    def _read_body(self, httprequest):
        """At most MAX_BODY_BYTES + 1 bytes of the body: a chunked request has no Content-Length, and
        get_data() would read all of it into memory. Odoo's HTTPRequest wrapper does not expose the
        werkzeug request's ``stream``, hence the wrapped request (get_data() if that ever changes)."""
        wrapped = getattr(httprequest, "_HTTPRequest__wrapped", None)
        if wrapped is None:
            return httprequest.get_data()
        return wrapped.stream.read(MAX_BODY_BYTES + 1)

    def _answer(self, status, error, reason, problems=None, headers=None):
        payload = {"status": "rejected", "error": error, "reason": reason}
        if problems is not None:
            payload["problems"] = problems
        return request.make_json_response(payload, status=status, headers=headers)

    def _reject(self, endpoint, status, error, reason, problems=None, body=None, headers=None):
        """Answer a refused request, count it in the rejection log and log it (at most once a minute per
        endpoint and process): the reason and at most an excerpt of the (unauthenticated) body, never the
        secret nor the signature."""
        endpoint._count_rejection(f"{status} {reason}", status=status)
        key = (request.env.cr.dbname, endpoint.id)
        now = time.monotonic()
        last = _last_rejection_log.get(key)
        if last and now - last[0] < REJECTION_LOG_INTERVAL_SECONDS:
            last[1] += 1
        else:
            _last_rejection_log[key] = [now, 0]
            _logger.warning(
                "Inbound webhook %s rejected with %s: %s (event id %r, body excerpt %r)%s",
                endpoint.code,
                status,
                reason,
                request.httprequest.headers.get(signature.HEADER_EVENT_ID, "")[:64],
                inbound.excerpt(body) if body is not None else None,
                f"; {last[1]} more rejection(s) not logged in the last minute" if last and last[1] else "",
            )
        return self._answer(status, error, reason, problems=problems, headers=headers)

    def _trigger_processing(self, env):
        now = time.monotonic()
        dbname = env.cr.dbname
        if now - _last_trigger.get(dbname, -TRIGGER_INTERVAL_SECONDS) < TRIGGER_INTERVAL_SECONDS:
            return
        _last_trigger[dbname] = now
        env.ref(CRON_XMLID)._trigger()
