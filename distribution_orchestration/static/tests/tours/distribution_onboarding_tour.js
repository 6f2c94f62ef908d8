import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

// Run by tests/test_tour.py as the administrator (a Distribution Manager) of the demo company. The test
// leaves the order steps to do (no customer with an SLA tier, no endpoint that took an event, validation
// rules as installed), makes the credit and approver steps done, and adds the customer
// "AAA Onboarding Customer", the SLA tier "Onboarding Gold" and the endpoint "Onboarding Receiver" whose
// receiver listens on 127.0.0.1.

const STEP = (key) => `.o_distribution_checklist_step[data-step='${key}']`;

function backToDashboard() {
    return {
        content: "Back to the dashboard through the breadcrumb",
        trigger: ".o_breadcrumb .breadcrumb-item a:contains(Distribution Dashboard)",
        run: "click",
    };
}

registry.category("web_tour.tours").add("distribution_onboarding_tour", {
    url: "/odoo",
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the Distribution app",
            trigger: ".o_app[data-menu-xmlid='distribution_observability.distribution_root_menu']",
            run: "click",
        },
        {
            content: "The dashboard shows the getting-started checklist",
            trigger: ".o_distribution_dashboard .o_distribution_checklist",
        },
        {
            content: "A done step is ticked and has no link",
            trigger: `${STEP("credit_limits")}[data-done='true'] .o_distribution_checklist_tick`,
            run() {
                if (this.anchor.closest(".o_distribution_checklist_step").querySelector(".o_distribution_checklist_link")) {
                    throw new Error("A done step still offers its link");
                }
            },
        },
        {
            content: "A step to do says what it is for",
            trigger: `${STEP("validation_rules")}[data-done='false'] .small:contains(starter rules)`,
        },
        // 1. The validation rules: the link opens their list.
        {
            content: "Open the validation rules from the checklist",
            trigger: `${STEP("validation_rules")} .o_distribution_checklist_link`,
            run: "click",
        },
        {
            content: "The rules list is shown",
            trigger: ".o_list_view .o_data_row",
        },
        {
            content: "Its breadcrumb names it",
            trigger: ".o_breadcrumb .active:contains(Validation Rules)",
        },
        backToDashboard(),
        {
            content: "Opening the screen ticked nothing",
            trigger: `${STEP("validation_rules")}[data-done='false']`,
        },
        // 2. SLA tiers: the link opens the customers; a tier given to one ticks the step.
        {
            content: "Open the customers from the SLA step",
            trigger: `${STEP("sla_tiers")}[data-done='false'] .o_distribution_checklist_link`,
            run: "click",
        },
        {
            content: "Open the onboarding customer",
            trigger: ".o_list_view .o_data_row td[name='complete_name']:contains(AAA Onboarding Customer)",
            run: "click",
        },
        {
            content: "Go to the Sales & Purchase tab",
            trigger: ".o_form_view .o_notebook a[name='sales_purchases']",
            run: "click",
        },
        {
            content: "Choose the SLA tier",
            trigger: ".o_form_view .o_field_widget[name='distribution_sla_tier_id'] input",
            run: "edit Onboarding Gold",
        },
        {
            content: "Pick it in the list",
            trigger: ".o-autocomplete--dropdown-item a:contains(Onboarding Gold)",
            run: "click",
        },
        {
            content: "Save the customer",
            trigger: ".o_form_view .o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_view .o_form_saved",
        },
        backToDashboard(),
        {
            content: "The SLA step is ticked, from the data",
            trigger: `${STEP("sla_tiers")}[data-done='true'] .o_distribution_checklist_tick`,
        },
        // 3. The outbound endpoint: the link opens the endpoints; a test delivery ticks the step.
        {
            content: "Open the endpoints from the checklist",
            trigger: `${STEP("outbound_endpoint")}[data-done='false'] .o_distribution_checklist_link`,
            run: "click",
        },
        {
            content: "Open the onboarding receiver",
            trigger: ".o_list_view .o_data_row td[name='name']:contains(Onboarding Receiver)",
            run: "click",
        },
        {
            content: "Test the delivery",
            trigger: ".o_form_view .o_form_statusbar button[name='action_test_delivery']",
            run: "click",
        },
        {
            content: "The answer of the receiver is shown",
            trigger: ".o_notification:contains(The test event reached Onboarding Receiver)",
        },
        backToDashboard(),
        {
            content: "The endpoint step is ticked",
            trigger: `${STEP("outbound_endpoint")}[data-done='true'] .o_distribution_checklist_tick`,
        },
        // 4. Review a validation rule: the last order step; with everything done the checklist goes.
        {
            content: "Open the validation rules again",
            trigger: `${STEP("validation_rules")} .o_distribution_checklist_link`,
            run: "click",
        },
        {
            content: "Open the first rule",
            trigger: ".o_list_view .o_data_row td[name='name']",
            run: "click",
        },
        {
            content: "Make it a warning",
            trigger: ".o_form_view .o_field_widget[name='outcome'] input[data-value='warn']",
            run: "click",
        },
        {
            content: "Save the rule",
            trigger: ".o_form_view .o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_view .o_form_saved",
        },
        backToDashboard(),
        {
            content: "Every order step is done: the checklist is gone, or shows only other addons' steps",
            trigger: ".o_distribution_dashboard .o_distribution_tile[data-tile='runs']",
            run() {
                for (const key of ["validation_rules", "credit_limits", "sla_tiers", "outbound_endpoint", "approvers"]) {
                    const step = document.querySelector(STEP(key));
                    if (step && step.dataset.done !== "true") {
                        throw new Error(`The step ${key} is still to do`);
                    }
                }
                const left = document.querySelectorAll(".o_distribution_checklist_step[data-done='false']");
                if (!left.length && document.querySelector(".o_distribution_checklist")) {
                    throw new Error("Every step is done but the checklist is still shown");
                }
            },
        },
    ],
});
