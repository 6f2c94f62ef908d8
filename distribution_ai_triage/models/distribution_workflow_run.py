from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo.tools import SQL

from ..services import policy

INBOX_ACTION = "distribution_ai_triage.distribution_triage_message_review_action"


class DistributionWorkflowRun(models.Model):
    """Triage figures in the dashboard and the metrics: share routed by itself, agreement of the reviewers
    with the suggestions, classification latency, provider error rate."""

    _inherit = "distribution.workflow.run"

    @api.model
    def _triage_figures(self, days=7):
        """Triage KPIs over the companies of the context and the last ``days`` days, in two queries."""
        since = fields.Datetime.now() - timedelta(days=days)
        companies = tuple(self._company_ids()) or (0,)
        Message = self.env["distribution.triage.message"]
        Message.flush_model(
            [
                "classified_at",
                "decision_reason",
                "review_outcome",
                "reviewed_at",
                "classification_ms",
                "state",
                "company_id",
            ]
        )
        self.env["distribution.ai.call"].flush_model(["create_date", "error", "policy", "company_id"])
        routed = SQL("decision_reason IN %s", policy.ROUTED_REASONS)
        # Raw SQL: percentiles are not available through _read_group, and one statement gives every figure
        # (the dashboard counts its queries); aggregates only, limited to the companies of the context like
        # the other figures.
        self.env.cr.execute(
            SQL(
                """
                SELECT count(*) FILTER (WHERE classified_at >= %(since)s),
                       count(*) FILTER (WHERE classified_at >= %(since)s AND %(routed)s),
                       count(*) FILTER (WHERE reviewed_at >= %(since)s),
                       count(*) FILTER (WHERE reviewed_at >= %(since)s AND review_outcome = 'accepted'),
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY classification_ms)
                           FILTER (WHERE classified_at >= %(since)s),
                       count(*) FILTER (WHERE state = 'pending'),
                       count(*) FILTER (WHERE state = 'needs_review'),
                       min(received_at) FILTER (WHERE state = 'needs_review'),
                       (SELECT count(*) FROM distribution_ai_call
                         WHERE company_id IN %(companies)s AND create_date >= %(since)s AND policy != 'test'),
                       (SELECT count(*) FROM distribution_ai_call
                         WHERE company_id IN %(companies)s AND create_date >= %(since)s AND policy != 'test'
                           AND error IS NOT NULL)
                  FROM distribution_triage_message
                 WHERE company_id IN %(companies)s
                """,
                since=since,
                routed=routed,
                companies=companies,
            )
        )
        classified, auto, reviewed, accepted, p95, pending, review, oldest, calls, errors = self.env.cr.fetchone()
        return {
            "window_days": days,
            "classified": classified,
            "auto_route_rate": round(100.0 * auto / classified, 1) if classified else None,
            "agreement_rate": policy.agreement_rate(accepted, reviewed),
            "reviewed": reviewed,
            "latency_ms_p95": round(p95) if p95 is not None else None,
            "pending": pending,
            "needs_review": review,
            "oldest_review_hours": round((fields.Datetime.now() - oldest).total_seconds() / 3600, 1)
            if oldest
            else None,
            "provider_calls": calls,
            "provider_error_rate": round(100.0 * errors / calls, 1) if calls else None,
        }

    @api.model
    @api.readonly
    def get_dashboard_data(self, period="24h"):
        """The dashboard's figures, with the triage KPIs under ``triage`` and two tiles."""
        data = super().get_dashboard_data(period=period)
        figures = self._triage_figures()
        data["triage"] = figures
        data.setdefault("extra_tiles", []).extend(
            [
                {
                    "key": "triage_needs_review",
                    "label": self.env._("Messages to review"),
                    "value": figures["needs_review"],
                    "unit": "",
                    "detail": self.env._("oldest %s h", figures["oldest_review_hours"])
                    if figures["oldest_review_hours"] is not None
                    else "",
                    "level": "warning" if (figures["oldest_review_hours"] or 0) > 4 else "ok",
                    "action": INBOX_ACTION,
                    "context": {},
                },
                {
                    "key": "triage_auto_route_rate",
                    "label": self.env._("Triage routed by itself (%s days)", figures["window_days"]),
                    "value": figures["auto_route_rate"],
                    "unit": "%",
                    "detail": self.env._("agreement %s %%", figures["agreement_rate"])
                    if figures["agreement_rate"] is not None
                    else "",
                    "level": "ok",
                    "action": "distribution_ai_triage.distribution_triage_message_action",
                    "context": {},
                },
            ]
        )
        return data

    @api.model
    def _metric_families(self):
        """The metric families, with the triage KPIs."""
        figures = self._triage_figures()
        days = figures["window_days"]
        return [
            *super()._metric_families(),
            (
                "distribution_triage_messages",
                "gauge",
                "Triage messages waiting, by queue.",
                [({"queue": "pending"}, figures["pending"]), ({"queue": "needs_review"}, figures["needs_review"])],
            ),
            (
                "distribution_triage_auto_route_ratio",
                "gauge",
                f"Share of the messages classified in the last {days} days that were routed without a person.",
                [({}, (figures["auto_route_rate"] or 0.0) / 100.0)],
            ),
            (
                "distribution_triage_agreement_ratio",
                "gauge",
                f"Suggestions accepted among those reviewed in the last {days} days.",
                [({}, (figures["agreement_rate"] or 0.0) / 100.0)],
            ),
            (
                "distribution_triage_latency_ms",
                "gauge",
                f"95th percentile of the classification latency over the last {days} days.",
                [({"quantile": "0.95"}, figures["latency_ms_p95"] or 0)],
            ),
            (
                "distribution_triage_provider_error_ratio",
                "gauge",
                f"Share of the classifier calls of the last {days} days that failed.",
                [({}, (figures["provider_error_rate"] or 0.0) / 100.0)],
            ),
        ]
