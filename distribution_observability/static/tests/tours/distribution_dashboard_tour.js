import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

// Run by tests/test_dashboard.py, which creates the workflow "tour_workflow" with 4 runs in the
// last 24 hours (3 successes, 1 technical failure) and one 30 hours ago, and runs of another workflow.

/** The number shown by an element (thousands separators left out). */
function shownNumber(element) {
    return parseInt(element.textContent.replace(/\D/g, ""), 10);
}
registry.category("web_tour.tours").add("distribution_dashboard_tour", {
    url: "/odoo",
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the Distribution app",
            trigger: ".o_app[data-menu-xmlid='distribution_observability.distribution_root_menu']",
            run: "click",
        },
        {
            content: "The dashboard is shown, for the last 24 hours by default",
            trigger: ".o_distribution_dashboard .o_distribution_tile[data-tile='runs']",
        },
        {
            content: "The 24 hours button of the period switch is the active one",
            trigger: ".o_distribution_period_button[data-period='24h'].active",
        },
        {
            content: "The chart is drawn",
            trigger: ".o_distribution_dashboard .o_distribution_chart canvas",
        },
        {
            content: "The tour workflow row shows its 4 runs",
            trigger:
                ".o_distribution_workflow_row[data-code='tour_workflow'] .o_distribution_workflow_runs:contains(4)",
        },
        {
            content: "The runs tile counts at least the tour workflow's runs",
            trigger: ".o_distribution_tile[data-tile='runs'] .o_distribution_tile_value",
            run() {
                const value = shownNumber(this.anchor);
                if (!(value >= 4)) {
                    throw new Error(`The runs tile shows ${this.anchor.textContent}, expected at least 4`);
                }
            },
        },
        {
            content: "The technical failures tile counts the technical failure",
            trigger: ".o_distribution_tile[data-tile='technical_failures'] .o_distribution_tile_value",
            run() {
                const value = shownNumber(this.anchor);
                if (!(value >= 1)) {
                    throw new Error(`The technical failures tile shows ${this.anchor.textContent}`);
                }
            },
        },
        {
            content: "Open the runs of the tour workflow",
            trigger: ".o_distribution_workflow_row[data-code='tour_workflow']",
            run: "click",
        },
        {
            content: "The runs list shows the 4 runs of the workflow",
            trigger: ".o_list_view .o_data_row:nth-child(4)",
        },
        {
            content: "Only 4 rows, all of the tour workflow",
            trigger: ".o_list_view .o_data_row",
            run() {
                const rows = [...document.querySelectorAll(".o_list_view .o_data_row")];
                if (rows.length !== 4) {
                    throw new Error(`Expected 4 runs of the tour workflow, got ${rows.length}`);
                }
                for (const row of rows) {
                    const cell = row.querySelector("td[name='workflow_id']");
                    if (!cell || !cell.textContent.includes("Tour Workflow")) {
                        throw new Error(`A run of another workflow is listed: ${row.textContent}`);
                    }
                }
            },
        },
        {
            content: "Back to the dashboard through the breadcrumb",
            trigger: ".o_breadcrumb .breadcrumb-item a:contains(Distribution Dashboard)",
            run: "click",
        },
        {
            content: "The dashboard is shown again",
            trigger: ".o_distribution_dashboard .o_distribution_workflow_row[data-code='tour_workflow']",
        },
        {
            content: "Switch to the last 7 days",
            trigger: ".o_distribution_period_button[data-period='7d']",
            run: "click",
        },
        {
            content: "The tour workflow row now counts the run of 30 hours ago too",
            trigger:
                ".o_distribution_period_button[data-period='7d'].active:not(:disabled)",
        },
        {
            content: "5 runs in the last 7 days",
            trigger:
                ".o_distribution_workflow_row[data-code='tour_workflow'] .o_distribution_workflow_runs:contains(5)",
        },
        {
            content: "The chart is per day",
            trigger: ".o_distribution_chart_title:contains(per day)",
        },
        {
            content: "Open the runs of the tour workflow over 7 days",
            trigger: ".o_distribution_workflow_row[data-code='tour_workflow']",
            run: "click",
        },
        {
            content: "The runs list shows 5 runs",
            trigger: ".o_list_view .o_data_row:nth-child(5)",
        },
        {
            content: "Back to the dashboard",
            trigger: ".o_breadcrumb .breadcrumb-item a:contains(Distribution Dashboard)",
            run: "click",
        },
        {
            content: "The dashboard comes back on the period that was chosen",
            trigger: ".o_distribution_period_button[data-period='7d'].active",
        },
        {
            content: "Switch to the last hour",
            trigger: ".o_distribution_period_button[data-period='1h']",
            run: "click",
        },
        {
            content: "No run of the tour workflow in the last hour (the latest is an hour old)",
            trigger:
                ".o_distribution_period_button[data-period='1h'].active:not(:disabled)",
        },
        {
            content: "The row counts 0 runs, the chart is per 5 minutes",
            trigger:
                ".o_distribution_workflow_row[data-code='tour_workflow'] .o_distribution_workflow_runs:contains(0)",
        },
        {
            content: "The chart is per 5 minutes",
            trigger: ".o_distribution_chart_title:contains(per 5 minutes)",
        },
    ],
});
