import { Component, onWillStart, onWillUnmount, useEffect, useRef, useState } from "@odoo/owl";
import { loadBundle } from "@web/core/assets";
import { serializeDateTime } from "@web/core/l10n/dates";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { Layout } from "@web/search/layout";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";

const { DateTime } = luxon;

const INCIDENT_ACTION = "distribution_observability.distribution_alert_incident_action";
const LEVEL_CLASSES = {
    ok: "text-bg-success",
    warning: "text-bg-warning",
    critical: "text-bg-danger",
};

/**
 * The Distribution dashboard: tiles, runs and failures per hour, workflow health and
 * queue backlogs, all from distribution.workflow.run.get_dashboard_data(); every tile and
 * row drills down to the records behind its figure.
 */
export class DistributionDashboard extends Component {
    static template = "distribution_observability.Dashboard";
    static components = { Layout };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.canvasRef = useRef("chart");
        this.chart = null;
        this.state = useState({ data: null, loading: false });

        onWillStart(async () => {
            await Promise.all([loadBundle("web.chartjs_lib"), this.loadData()]);
        });
        useEffect(
            () => this.renderChart(),
            () => [this.state.data]
        );
        onWillUnmount(() => this.chart?.destroy());
    }

    // -- data ------------------------------------------------------------------------------
    async loadData() {
        this.state.loading = true;
        try {
            this.state.data = await this.orm.call("distribution.workflow.run", "get_dashboard_data", []);
        } finally {
            this.state.loading = false;
        }
    }

    onRefresh() {
        return this.loadData();
    }

    get tiles() {
        return [...this.coreTiles, ...this.extraTiles];
    }

    /**
     * Tiles other addons add to the dashboard data under ``extra_tiles``: key, label, value, unit,
     * detail, level (ok / warning / critical) and the action a click opens (an XML id) with its context.
     */
    get extraTiles() {
        return (this.state.data.extra_tiles || []).map((tile) => ({
            key: tile.key,
            label: tile.label,
            value:
                tile.value === null || tile.value === undefined
                    ? "–"
                    : `${tile.value.toLocaleString()}${tile.unit ? ` ${tile.unit}` : ""}`,
            detail: tile.detail,
            className: { warning: "text-warning", critical: "text-danger" }[tile.level] || "",
            onClick: () => this.action.doAction(tile.action, { additionalContext: tile.context || {} }),
        }));
    }

    get coreTiles() {
        const tiles = this.state.data.tiles;
        return [
            {
                key: "runs_24h",
                label: _t("Runs (24 h)"),
                value: this.formatInt(tiles.runs_24h),
                onClick: () => this.openRuns({ name: _t("Runs (24 h)") }),
            },
            {
                key: "success_rate_24h",
                label: _t("Success rate"),
                value: this.formatPercent(tiles.success_rate_24h),
                onClick: () => this.openRuns({ name: _t("Runs (24 h)") }),
            },
            {
                key: "business_failures_24h",
                label: _t("Business failures"),
                value: this.formatInt(tiles.business_failures_24h),
                className: tiles.business_failures_24h ? "text-warning" : "",
                onClick: () => this.openFailures("business"),
            },
            {
                key: "technical_failures_24h",
                label: _t("Technical failures"),
                value: this.formatInt(tiles.technical_failures_24h),
                className: tiles.technical_failures_24h ? "text-danger" : "",
                onClick: () => this.openFailures("technical"),
            },
            {
                key: "open_alerts",
                label: _t("Open alerts"),
                value: this.formatInt(tiles.open_alerts),
                detail: tiles.open_critical_alerts
                    ? _t("%s critical", this.formatInt(tiles.open_critical_alerts))
                    : "",
                className: tiles.open_critical_alerts
                    ? "text-danger"
                    : tiles.open_alerts
                    ? "text-warning"
                    : "",
                onClick: () => this.openAlerts(),
            },
        ];
    }

    // -- formatting ------------------------------------------------------------------------
    formatInt(value) {
        return (value || 0).toLocaleString();
    }

    formatPercent(value) {
        return value === null || value === undefined ? "–" : `${value.toFixed(1)} %`;
    }

    formatDuration(ms) {
        if (ms === null || ms === undefined || ms === false) {
            return "–";
        }
        return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
    }

    formatAge(hours, backlog) {
        if (!backlog) {
            return "–";
        }
        return hours >= 48 ? `${(hours / 24).toFixed(1)} d` : `${hours.toFixed(1)} h`;
    }

    levelClass(level) {
        return LEVEL_CLASSES[level] || "text-bg-secondary";
    }

    levelLabel(level) {
        return { ok: _t("OK"), warning: _t("Warning"), critical: _t("Critical") }[level] || level;
    }

    isSlow(workflow) {
        return Boolean(workflow.expected_ms && workflow.p95_ms && workflow.p95_ms > workflow.expected_ms);
    }

    expectedTitle(workflow) {
        return workflow.expected_ms
            ? _t("Expected: %s", this.formatDuration(workflow.expected_ms))
            : "";
    }

    get generatedAt() {
        const value = this.state.data?.generated_at;
        if (!value) {
            return "";
        }
        return DateTime.fromSQL(value, { zone: "utc" }).toLocal().toFormat("HH:mm:ss");
    }

    // -- chart -----------------------------------------------------------------------------
    renderChart() {
        const canvas = this.canvasRef.el;
        const chartData = this.state.data?.chart;
        if (!canvas || !chartData) {
            return;
        }
        // The server gives UTC hours: show them in the user's time zone.
        const labels = chartData.labels.map((label) => {
            const [hour, minute] = label.split(":").map(Number);
            return DateTime.utc().set({ hour, minute }).toLocal().toFormat("HH:mm");
        });
        const datasets = [
            {
                type: "bar",
                label: _t("Runs"),
                data: chartData.runs,
                backgroundColor: "rgba(1, 126, 132, 0.55)",
                borderColor: "rgb(1, 126, 132)",
                borderWidth: 1,
                order: 2,
            },
            {
                type: "line",
                label: _t("Failures"),
                data: chartData.failures,
                borderColor: "rgb(212, 76, 89)",
                backgroundColor: "rgba(212, 76, 89, 0.2)",
                pointRadius: 2,
                order: 1,
            },
        ];
        if (this.chart) {
            this.chart.data.labels = labels;
            this.chart.data.datasets = datasets;
            this.chart.update();
            return;
        }
        this.chart = new Chart(canvas, {
            type: "bar",
            data: { labels, datasets },
            options: {
                responsive: true,
                maintainAspectRatio: false,
                animation: false,
                interaction: { mode: "index", intersect: false },
                plugins: { legend: { position: "bottom" } },
                scales: {
                    y: { beginAtZero: true, ticks: { precision: 0 } },
                },
            },
        });
    }

    // -- drill-down ------------------------------------------------------------------------
    get since24h() {
        return serializeDateTime(DateTime.now().minus({ hours: 24 }));
    }

    /** Top-level runs of the dashboard's window (last 24 h) matching a domain. */
    openRuns({ name, domain = [] }) {
        return this.action.doAction({
            type: "ir.actions.act_window",
            name,
            res_model: "distribution.workflow.run",
            views: [
                [false, "list"],
                [false, "form"],
                [false, "pivot"],
                [false, "graph"],
            ],
            domain: [["started_at", ">=", this.since24h], ["parent_id", "=", false], ...domain],
            context: { create: false },
            target: "current",
        });
    }

    openWorkflow(workflow) {
        return this.openRuns({ name: workflow.name, domain: [["workflow_id", "=", workflow.id]] });
    }

    openFailures(kind) {
        return this.openRuns({
            name: kind === "business" ? _t("Business failures (24 h)") : _t("Technical failures (24 h)"),
            domain: [
                ["state", "in", ["failed", "retrying"]],
                ["error_kind", "=", kind],
            ],
        });
    }

    openAlerts() {
        return this.action.doAction(INCIDENT_ACTION, {
            additionalContext: { search_default_open: 1 },
        });
    }

    async openQueue(queue) {
        const action = await this.orm.call("distribution.queue.monitor", "action_open_items", [
            [queue.id],
        ]);
        return this.action.doAction(action);
    }
}

registry.category("actions").add("distribution_observability.dashboard", DistributionDashboard);
