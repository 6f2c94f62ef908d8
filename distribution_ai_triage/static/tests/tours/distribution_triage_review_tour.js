import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

// Run by tests/test_tour.py as a reviewer with the Distribution User group (not an administrator). The
// test receives the e-mail "Tour triage: pallets from last Tuesday" from a customer; the rules find no clue
// in it, so it waits in Needs Review with the suggestion Other; the reviewer corrects it to
// "Shortage / delivery problem". The test then checks the correction on the server.

const SUBJECT = "Tour triage: pallets from last Tuesday";

registry.category("web_tour.tours").add("distribution_triage_review_tour", {
    url: "/odoo",
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the Distribution app",
            trigger: ".o_app[data-menu-xmlid='distribution_observability.distribution_root_menu']",
            run: "click",
        },
        {
            content: "Open the Triage menu",
            trigger: ".o_menu_sections [data-menu-xmlid='distribution_ai_triage.distribution_triage_menu']",
            run: "click",
        },
        {
            content: "Open Needs Review",
            trigger: ".o-dropdown--menu [data-menu-xmlid='distribution_ai_triage.distribution_triage_review_menu']",
            run: "click",
        },
        {
            content: "The review queue is shown",
            trigger: ".o_breadcrumb .active:contains(Needs Review)",
        },
        {
            content: "Open the message waiting for review",
            trigger: `.o_list_view .o_data_row td[name='name']:contains(${SUBJECT})`,
            run: "click",
        },
        {
            content: "The form says it needs review and what the triage suggests",
            trigger: ".o_form_view .alert-warning:contains(Needs review):contains(Other)",
        },
        {
            content: "The message's text is shown",
            trigger: ".o_form_view .o_field_widget[name='body_text']:contains(in a sorry state)",
        },
        {
            content: "The state is Needs Review",
            trigger: ".o_form_view .o_statusbar_status button[aria-checked='true']:contains(Needs Review)",
        },
        {
            content: "Pick the right label in Correct To",
            trigger: ".o_form_view .o_field_widget[name='correction_label_id'] input",
            run: "edit Shortage",
        },
        {
            content: "Choose it in the list",
            trigger: ".o-autocomplete--dropdown-item a:contains(Shortage / delivery problem)",
            run: "click",
        },
        {
            content: "Correct",
            trigger: ".o_form_view button[name='action_correct']:contains(Correct)",
            run: "click",
        },
        {
            content: "The state is Reviewed",
            trigger: ".o_form_view .o_statusbar_status button[aria-checked='true']:contains(Reviewed)",
        },
        {
            content: "The label is the corrected one",
            trigger: ".o_form_view .o_field_widget[name='label_id']:contains(Shortage / delivery problem)",
        },
        {
            content: "The review outcome says corrected",
            trigger: ".o_form_view .o_field_widget[name='review_outcome']:contains(Corrected)",
        },
        {
            content: "The correction is in the chatter",
            trigger: ".o-mail-Chatter .o-mail-Message:contains(Label corrected from Other to Shortage / delivery problem)",
        },
    ],
});
