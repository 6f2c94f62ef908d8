from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo.tools import SQL

CYCLE_WINDOW_DAYS = 7
REQUEST_ACTION = "distribution_approvals.distribution_approval_request_action"


class DistributionWorkflowRun(models.Model):
    """Approval figures in the observability dashboard and metrics: how long a decision takes (request
    to decision, over the last days), how many requests wait and how many tiers are past their SLA."""

    _inherit = "distribution.workflow.run"

    @api.model
    def _approval_figures(self, days=CYCLE_WINDOW_DAYS):
        """Approval KPIs over the companies of the context, in one query: the median and 95th percentile
        of the cycle time (hours from request to decision) of the requests decided in the last ``days``
        days by people (auto-approvals and cancellations left out), the decisions of that window, the
        pending requests and the pending tiers past their deadline."""
        now = fields.Datetime.now()
        self.env["distribution.approval.request"].flush_model(
            ["state", "decided_at", "cycle_hours", "auto_approved", "company_id"]
        )
        self.env["distribution.approval.request.tier"].flush_model(["state", "deadline", "company_id"])
        decided = SQL(
            "request.state IN ('approved', 'rejected') AND NOT coalesce(request.auto_approved, false)"
            " AND request.decided_at >= %s",
            now - timedelta(days=days),
        )
        companies = tuple(self._company_ids()) or (0,)
        # Raw SQL: percentiles are not available through _read_group, and one statement gives every
        # figure. Aggregates only, limited to the companies of the context like the other figures.
        self.env.cr.execute(
            SQL(
                """
                SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY request.cycle_hours) FILTER (WHERE %(decided)s),
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY request.cycle_hours) FILTER (WHERE %(decided)s),
                       count(*) FILTER (WHERE %(decided)s AND request.state = 'approved'),
                       count(*) FILTER (WHERE %(decided)s AND request.state = 'rejected'),
                       count(*) FILTER (WHERE request.state = 'pending'),
                       (SELECT count(*)
                          FROM distribution_approval_request_tier tier
                         WHERE tier.state = 'pending' AND tier.deadline < %(now)s AND tier.company_id IN %(companies)s)
                  FROM distribution_approval_request request
                 WHERE request.company_id IN %(companies)s
                   AND (request.state = 'pending' OR request.decided_at >= %(since)s)
                """,
                decided=decided,
                now=now,
                since=now - timedelta(days=days),
                companies=companies,
            )
        )
        p50, p95, approved, rejected, pending, overdue = self.env.cr.fetchone()
        return {
            "window_days": days,
            "cycle_hours_p50": round(p50, 2) if p50 is not None else None,
            "cycle_hours_p95": round(p95, 2) if p95 is not None else None,
            "decided": approved + rejected,
            "approved": approved,
            "rejected": rejected,
            "pending": pending,
            "overdue_tiers": overdue,
        }

    @api.model
    @api.readonly
    def get_dashboard_data(self, period="24h"):
        """The dashboard's figures, with the approval KPIs under ``approvals`` and as tiles under
        ``extra_tiles`` (label, value, unit, detail, level, and the action a click opens). The approval
        figures keep their own window (``CYCLE_WINDOW_DAYS``), whatever the dashboard's period."""
        data = super().get_dashboard_data(period=period)
        figures = self._approval_figures()
        data["approvals"] = figures
        data.setdefault("extra_tiles", []).extend(self._approval_tiles(figures))
        data["extra_tiles"].append(self._audit_key_tile())
        return data

    @api.model
    def _audit_key_tile(self):
        """Whether the audit trail is signed with a key of the server configuration: an unkeyed chain is
        one that someone with database access could recompute (a warning)."""
        keyed = bool(self.env["distribution.audit.entry"]._audit_keyring()[0])
        return {
            "key": "audit_key",
            "label": self.env._("Audit trail"),
            "value": self.env._("keyed") if keyed else self.env._("unkeyed"),
            "unit": "",
            "detail": ""
            if keyed
            else self.env._("Set distribution_audit_key in the server configuration to sign the chain."),
            "level": "ok" if keyed else "warning",
            "action": "distribution_approvals.distribution_audit_entry_action",
            "context": {},
        }

    @api.model
    def _approval_tiles(self, figures):
        """Two tiles: the median approval cycle time (with the 95th percentile) and the pending requests
        (with the overdue tiers)."""
        p95 = figures["cycle_hours_p95"]
        overdue = figures["overdue_tiers"]
        return [
            {
                "key": "approval_cycle_hours_p50",
                "label": self.env._("Approval cycle (median, %s days)", figures["window_days"]),
                "value": figures["cycle_hours_p50"],
                "unit": "h",
                "detail": self.env._("p95: %s h", p95) if p95 is not None else "",
                "level": "ok",
                "action": REQUEST_ACTION,
                "context": {"search_default_approved": 1, "search_default_rejected": 1},
            },
            {
                "key": "pending_approvals",
                "label": self.env._("Pending approvals"),
                "value": figures["pending"],
                "unit": "",
                "detail": self.env._("%s overdue", overdue) if overdue else "",
                "level": "warning" if overdue else "ok",
                "action": REQUEST_ACTION,
                "context": {"search_default_pending": 1},
            },
        ]

    @api.model
    def _metric_families(self):
        """The metric families, with the approval cycle time, pending requests and overdue tiers."""
        figures = self._approval_figures()
        days = figures["window_days"]
        return [
            *super()._metric_families(),
            (
                "distribution_approval_cycle_hours",
                "gauge",
                f"Hours from request to decision of the approvals decided in the last {days} days "
                "(auto-approvals excluded).",
                [
                    ({"quantile": "0.5"}, figures["cycle_hours_p50"]),
                    ({"quantile": "0.95"}, figures["cycle_hours_p95"]),
                ],
            ),
            (
                "distribution_approvals_decided",
                "gauge",
                f"Approval requests decided in the last {days} days (auto-approvals excluded), by decision.",
                [({"decision": "approved"}, figures["approved"]), ({"decision": "rejected"}, figures["rejected"])],
            ),
            (
                "distribution_approvals_pending",
                "gauge",
                "Approval requests waiting for a decision.",
                [({}, figures["pending"])],
            ),
            (
                "distribution_approval_tiers_overdue",
                "gauge",
                "Pending approval tiers past their SLA.",
                [({}, figures["overdue_tiers"])],
            ),
            (
                "distribution_audit_keyed",
                "gauge",
                "1 when the audit trail is signed with a key of the server configuration, 0 when unkeyed.",
                [({}, 1 if self.env["distribution.audit.entry"]._audit_keyring()[0] else 0)],
            ),
        ]
