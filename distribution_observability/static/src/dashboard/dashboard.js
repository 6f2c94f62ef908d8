import { Component, markup, onWillStart, onWillUnmount, useEffect, useRef, useState } from "@odoo/owl";
import { loadBundle } from "@web/core/assets";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { useSetupAction } from "@web/search/action_hook";
import { Layout } from "@web/search/layout";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";

const { DateTime } = luxon;

const INCIDENT_ACTION = "distribution_observability.distribution_alert_incident_action";
const DEFAULT_PERIOD = "24h";
const LEVEL_CLASSES = {
    ok: "text-bg-success",
    warning: "text-bg-warning",
    critical: "text-bg-danger",
};

/**
 * The Distribution dashboard: tiles, runs and failures over time, workflow health and queue
 * backlogs for the period of the switch (last hour, 24 hours, 7 days), and the getting-started
 * checklist while the company is setting up; all from
 * distribution.workflow.run.get_dashboard_data(period). Every tile and row drills down to the
 * records behind its figure, every checklist step opens the screen where it is done.
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
        this.state = useState({
            data: null,
            loading: false,
            period: this.props.state?.period || DEFAULT_PERIOD,
        });
        // Coming back through the breadcrumb shows the period that was chosen.
        useSetupAction({ getLocalState: () => ({ period: this.state.period }) });

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
            this.state.data = await this.orm.call("distribution.workflow.run", "get_dashboard_data", [], {
                period: this.state.period,
            });
        } finally {
            this.state.loading = false;
        }
    }

    onRefresh() {
        return this.loadData();
    }

    get periods() {
        return [
            { key: "1h", label: _t("Last hour"), title: _t("Last hour, in slots of 5 minutes") },
            { key: "24h", label: _t("24 hours"), title: _t("Last 24 hours, hour by hour") },
            { key: "7d", label: _t("7 days"), title: _t("Last 7 days, day by day") },
        ];
    }

    /** The period in words, for the chart's header. */
    get periodLabel() {
        const period = this.state.data?.period || this.state.period;
        return (
            {
                "1h": _t("Last hour"),
                "24h": _t("Last 24 hours"),
                "7d": _t("Last 7 days"),
            }[period] || period
        );
    }

    /** The period inside a sentence, for the titles of the drill-down lists. */
    get periodName() {
        const period = this.state.data?.period || this.state.period;
        return (
            {
                "1h": _t("last hour"),
                "24h": _t("last 24 hours"),
                "7d": _t("last 7 days"),
            }[period] || period
        );
    }

    get chartTitle() {
        return (
            {
                minute: _t("Runs and failures per 5 minutes"),
                hour: _t("Runs and failures per hour"),
                day: _t("Runs and failures per day"),
            }[this.state.data?.chart.granularity] || _t("Runs and failures")
        );
    }

    onPeriod(period) {
        if (period === this.state.period && this.state.data) {
            return;
        }
        this.state.period = period;
        return this.loadData();
    }

    // -- getting started -------------------------------------------------------------------
    get checklist() {
        return this.state.data?.checklist || [];
    }

    get checklistDone() {
        return this.checklist.filter((step) => step.done).length;
    }

    /** The screen where a step is done; the step is ticked from the data, not from this click. */
    async openStep(step) {
        const action = await this.orm.call("distribution.onboarding", "action_open_step", [step.key]);
        if (action.help) {
            // The empty-list help of the action record is HTML, as /web/action/load would mark it.
            action.help = markup(action.help);
        }
        return this.action.doAction(action);
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
            // A detail is a figure's context, red only when the tile is critical.
            detailClassName: tile.level === "critical" ? "text-danger" : "text-muted",
            onClick: () => this.action.doAction(tile.action, { additionalContext: tile.context || {} }),
        }));
    }

    get coreTiles() {
        const tiles = this.state.data.tiles;
        return [
            {
                key: "runs",
                label: _t("Runs"),
                value: this.formatInt(tiles.runs),
                onClick: () => this.openRuns({ name: _t("Runs (%s)", this.periodName) }),
            },
            {
                key: "success_rate",
                label: _t("Success rate"),
                value: this.formatPercent(tiles.success_rate),
                onClick: () => this.openRuns({ name: _t("Runs (%s)", this.periodName) }),
            },
            {
                key: "business_failures",
                label: _t("Business failures"),
                value: this.formatInt(tiles.business_failures),
                className: tiles.business_failures ? "text-warning" : "",
                onClick: () => this.openFailures("business"),
            },
            {
                key: "technical_failures",
                label: _t("Technical failures"),
                value: this.formatInt(tiles.technical_failures),
                className: tiles.technical_failures ? "text-danger" : "",
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
    /**
     * Slot labels in the user's time: the server gives the UTC start of each slot, and for day
     * slots the user's date (days are cut at the user's midnight on the server).
     */
    chartLabels(chartData) {
        if (chartData.granularity === "day") {
            return chartData.days.map((day) => DateTime.fromISO(day).toFormat("ccc d"));
        }
        return chartData.slots.map((slot) =>
            DateTime.fromSQL(slot, { zone: "utc" }).toLocal().toFormat("HH:mm")
        );
    }

    renderChart() {
        const canvas = this.canvasRef.el;
        const chartData = this.state.data?.chart;
        if (!canvas || !chartData) {
            return;
        }
        const labels = this.chartLabels(chartData);
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
    /** Top-level runs of the dashboard's period (since its first slot) matching a domain. */
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
            domain: [["started_at", ">=", this.state.data.since], ["parent_id", "=", false], ...domain],
            context: { create: false },
            target: "current",
        });
    }

    openWorkflow(workflow) {
        return this.openRuns({ name: workflow.name, domain: [["workflow_id", "=", workflow.id]] });
    }

    openFailures(kind) {
        return this.openRuns({
            name:
                kind === "business"
                    ? _t("Business failures (%s)", this.periodName)
                    : _t("Technical failures (%s)", this.periodName),
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
