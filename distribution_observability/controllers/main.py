import json
import logging

from odoo import http
from odoo.http import request

from ..services import health
from ..services import prometheus

_logger = logging.getLogger(__name__)
MANAGER_GROUP = "distribution_observability.group_distribution_manager"
# The API key scope of a monitoring system: such a key opens /distribution/health and /distribution/metrics
# and nothing else (Odoo's RPC accepts only keys without a scope). A key without a scope (a full RPC key)
# is accepted too: res.users.apikeys matches "scope IS NULL OR scope = <scope>".
METRICS_SCOPE = "distribution_metrics"


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
