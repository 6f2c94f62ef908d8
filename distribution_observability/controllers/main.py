import json
import logging

import psycopg2

from odoo import http
from odoo.http import request
from odoo.service import db as db_service

from ..services import health
from ..services import prometheus

_logger = logging.getLogger(__name__)
MANAGER_GROUP = "distribution_observability.group_distribution_manager"
# The API key scope of a monitoring system: such a key opens /distribution/health and /distribution/metrics
# and nothing else (Odoo's RPC accepts only keys without a scope). A key without a scope (a full RPC key)
# is accepted too: res.users.apikeys matches "scope IS NULL OR scope = <scope>".
METRICS_SCOPE = "distribution_metrics"
# The suite's HTTP doors for other systems (webhooks, health, metrics) all live under this prefix.
SUITE_PREFIX = "/distribution/"
RETRY_AFTER_SECONDS = 10


def _database_unusable():
    """Why a request for the suite's routes came without a database, when that is the database server's
    fault: it cannot be reached now, or it can and a database serves this server now (it could not be used
    a moment ago: PostgreSQL was starting). None when no database is meant for this server at all."""
    try:
        # Not http.db_list(): it answers an empty list when the server cannot be reached. Exactly one: Odoo serves
        # that one database to a request without a session; with several, it picks none (its 404 is right).
        if len(http.db_filter(db_service.list_dbs(force=True))) == 1:
            return "the database could not be used (the database server was restarting)"
    except psycopg2.Error as error:
        return error
    return None


def _connection_lost(error):
    """A database error that is the connection's (lost, refused, the server shutting down or starting), not
    the request's: class 08 and 57P of PostgreSQL, or no code at all (the socket closed under the query)."""
    return isinstance(error, psycopg2.OperationalError) and (
        error.pgcode is None or error.pgcode.startswith(("08", "57P"))
    )


def _unavailable(req, error):
    _logger.warning("Database unusable, %s answered 503: %s", req.httprequest.path, str(error).strip()[:200])
    return req.make_json_response(
        {"status": "unavailable", "error": "database_unavailable", "reason": "the database cannot be reached"},
        headers=[("Retry-After", str(RETRY_AFTER_SECONDS))],
        status=503,
    )


def _patch_unavailable():
    """While PostgreSQL cannot be used (restarting, its connection limit reached), Odoo answers the suite's
    routes 404 (it serves the request without a database, where they do not exist: a sender takes that for a
    final refusal and drops the event, a monitoring system for a removed endpoint) or 500 (the connection
    lost under the request). For the suite's routes, answer what it is: 503 with Retry-After, JSON, no
    traceback. Odoo has no hook for either case: Request._serve_nodb and _serve_db are wrapped, once per
    process (the server imports this module when it loads a database with the addon; in prefork mode before
    it forks its workers)."""
    serve_nodb, serve_db = http.Request._serve_nodb, http.Request._serve_db
    if getattr(serve_db, "distribution_unavailable", False):
        return

    def _serve_nodb(self):
        reason = _database_unusable() if self.httprequest.path.startswith(SUITE_PREFIX) else None
        if reason:
            return _unavailable(self, reason)
        return serve_nodb(self)

    def _serve_db(self):
        try:
            return serve_db(self)
        except psycopg2.Error as error:
            if not (self.httprequest.path.startswith(SUITE_PREFIX) and _connection_lost(error)):
                raise
            return _unavailable(self, error)

    _serve_db.distribution_unavailable = True
    http.Request._serve_nodb, http.Request._serve_db = _serve_nodb, _serve_db


_patch_unavailable()


class DistributionObservabilityController(http.Controller):
    """Health and metrics for monitoring systems, behind an Odoo API key of a Distribution Manager: a
    read-only key of scope ``distribution_metrics`` (see the readme), or a full RPC key."""

    # Both routes are read-only (readonly=True, also Odoo's default for auth='none', stated so that nobody
    # drops it by accident): with db_replica_host in the server configuration their cursor is on the
    # streaming replica. Nothing they call writes (the API key check is a SELECT, the checks and metric
    # families are grouped reads); a write would be refused there and the whole request retried on the
    # primary, which tests/test_read_replica.py of this addon would report.

    def _authenticated_env(self):
        """The environment of the API key's user, limited to that user's companies; None when the
        Authorization header is missing or wrong, False for a valid key of a non-manager."""
        header = request.httprequest.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None
        # sudo: API keys are checked by the system before any user is known; the key is never logged.
        uid = request.env["res.users.apikeys"].sudo()._check_credentials(scope=METRICS_SCOPE, key=key.strip())
        if not uid:
            return None
        user = request.env["res.users"].sudo().browse(uid)
        if not user.active or not user.has_group(MANAGER_GROUP):
            return False
        request.update_env(user=uid, context={"allowed_company_ids": user.company_ids.ids})
        return request.env

    def _refuse(self, env):
        if env is None:
            return request.make_json_response(
                {"error": "unauthorized", "reason": "send Authorization: Bearer <API key of a Distribution Manager>"},
                status=401,
                headers=[("WWW-Authenticate", 'Bearer realm="distribution"')],
            )
        return request.make_json_response(
            {"error": "forbidden", "reason": "the API key's user is not a Distribution Manager"}, status=403
        )

    @http.route(
        "/distribution/health", type="http", auth="none", methods=["GET"], csrf=False, save_session=False, readonly=True
    )
    def health(self):
        env = self._authenticated_env()
        if not env:
            return self._refuse(env)
        checks = env["distribution.workflow.run"]._health_checks()
        status = health.overall_status(checks)
        body = json.dumps({"status": status, "checks": checks}, default=str)
        return request.make_response(
            body, status=503 if status == "failing" else 200, headers=[("Content-Type", "application/json")]
        )

    @http.route(
        "/distribution/metrics",
        type="http",
        auth="none",
        methods=["GET"],
        csrf=False,
        save_session=False,
        readonly=True,
    )
    def metrics(self):
        env = self._authenticated_env()
        if not env:
            return self._refuse(env)
        text = prometheus.render(env["distribution.workflow.run"]._metric_families())
        return request.make_response(text, headers=[("Content-Type", prometheus.CONTENT_TYPE)])
