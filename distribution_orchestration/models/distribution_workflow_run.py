from odoo import api
from odoo import models
from odoo.tools import SQL

SUGGESTIONS_ACTION = "distribution_orchestration.stock_warehouse_orderpoint_distribution_suggestions_action"
SCORECARD_ACTION = "distribution_orchestration.distribution_vendor_lead_time_action"
QUANTILES = (("0.1", "cover_days_p10"), ("0.5", "cover_days_p50"), ("0.9", "cover_days_p90"))


class DistributionWorkflowRun(models.Model):
    """Replenishment figures in the observability dashboard and metrics: the reordering rules under their
    min, the spread of the days of cover of the rules with a demand, and the vendors whose learned lead
    time drifts from the one Odoo plans with. All from what the monitors and the learning wrote last."""

    _inherit = "distribution.workflow.run"

    @api.model
    def _replenishment_figures(self):
        """Replenishment KPIs over the companies of the context, in one query: the automatic rules and those
        under their min at the last low stock check, the 10th, 50th and 90th percentiles of the days of
        cover of the rules with a demand, and the vendors learned and drifting."""
        self.env["stock.warehouse.orderpoint"].flush_model(
            ["active", "trigger", "company_id", "distribution_under_min", "distribution_adu", "distribution_cover_days"]
        )
        self.env["distribution.vendor.lead.time"].flush_model(["company_id", "product_id", "drifting"])
        companies = tuple(self._company_ids()) or (0,)
        # Raw SQL: percentiles are not available through _read_group, and one statement gives every figure.
        # Aggregates only, limited to the companies of the context like the other figures.
        self.env.cr.execute(
            SQL(
                """
                SELECT count(*),
                       count(*) FILTER (WHERE rule.distribution_under_min),
                       count(*) FILTER (WHERE rule.distribution_adu > 0),
                       percentile_cont(0.1) WITHIN GROUP (ORDER BY rule.distribution_cover_days)
                           FILTER (WHERE rule.distribution_adu > 0),
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY rule.distribution_cover_days)
                           FILTER (WHERE rule.distribution_adu > 0),
                       percentile_cont(0.9) WITHIN GROUP (ORDER BY rule.distribution_cover_days)
                           FILTER (WHERE rule.distribution_adu > 0),
                       (SELECT count(*) FROM distribution_vendor_lead_time line
                         WHERE line.product_id IS NULL AND line.company_id IN %(companies)s),
                       (SELECT count(*) FROM distribution_vendor_lead_time line
                         WHERE line.product_id IS NULL AND line.drifting AND line.company_id IN %(companies)s)
                  FROM stock_warehouse_orderpoint rule
                 WHERE rule.active AND rule.trigger = 'auto' AND rule.company_id IN %(companies)s
                """,
                companies=companies,
            )
        )
        rules, under_min, with_demand, p10, p50, p90, vendors, drifting = self.env.cr.fetchone()

        def days(value):
            return round(value, 1) if value is not None else None

        return {
            "rules": rules,
            "under_min": under_min,
            "with_demand": with_demand,
            "cover_days_p10": days(p10),
            "cover_days_p50": days(p50),
            "cover_days_p90": days(p90),
            "vendors": vendors,
            "vendors_drifting": drifting,
        }

    @api.model
    @api.readonly
    def get_dashboard_data(self, period="24h"):
        """The dashboard's figures, with the replenishment KPIs under ``replenishment`` and three tiles."""
        data = super().get_dashboard_data(period=period)
        figures = self._replenishment_figures()
        data["replenishment"] = figures
        data.setdefault("extra_tiles", []).extend(self._replenishment_tiles(figures))
        return data

    @api.model
    def _replenishment_tiles(self, figures):
        """Products under min (of the automatic rules), the days of cover (median, with the 10th and 90th
        percentiles) and the vendors drifting (of those learned). Each opens the list a planner works from."""
        spread = ""
        if figures["cover_days_p10"] is not None:
            spread = self.env._(
                "p10 %(p10)s to p90 %(p90)s days, %(count)s rules with a demand",
                p10=figures["cover_days_p10"],
                p90=figures["cover_days_p90"],
                count=figures["with_demand"],
            )
        return [
            {
                "key": "replenishment_under_min",
                "label": self.env._("Products under min"),
                "value": figures["under_min"],
                "unit": "",
                "detail": self.env._("of %s automatic reordering rules", figures["rules"]),
                "level": "warning" if figures["under_min"] else "ok",
                "action": SUGGESTIONS_ACTION,
                "context": {"search_default_distribution_under_min": 1},
            },
            {
                "key": "replenishment_cover_days",
                "label": self.env._("Days of cover (median)"),
                "value": figures["cover_days_p50"],
                "unit": "",
                "detail": spread,
                "level": "ok",
                "action": SUGGESTIONS_ACTION,
                "context": {"search_default_distribution_with_demand": 1},
            },
            {
                "key": "replenishment_vendors_drifting",
                "label": self.env._("Vendors drifting"),
                "value": figures["vendors_drifting"],
                "unit": "",
                "detail": self.env._("of %s vendors with learned lead times", figures["vendors"]),
                "level": "warning" if figures["vendors_drifting"] else "ok",
                "action": SCORECARD_ACTION,
                "context": {"search_default_vendors": 1, "search_default_drifting": 1},
            },
        ]

    @api.model
    def _metric_families(self):
        """The metric families, with the replenishment KPIs."""
        figures = self._replenishment_figures()
        return [
            *super()._metric_families(),
            (
                "distribution_reorder_rules_under_min",
                "gauge",
                "Automatic reordering rules whose free quantity was under their min at the last low stock check.",
                [({}, figures["under_min"])],
            ),
            (
                "distribution_days_of_cover",
                "gauge",
                "Days of cover of the reordering rules with a demand, by percentile.",
                [({"quantile": quantile}, figures[key]) for quantile, key in QUANTILES if figures[key] is not None],
            ),
            (
                "distribution_vendors_drifting",
                "gauge",
                "Vendors whose learned lead time drifts from the one Odoo plans with.",
                [({}, figures["vendors_drifting"])],
            ),
        ]
