import { registry } from "@web/core/registry";

// Run by tests/test_tour.py as an approver with the Distribution Approver group only. The test makes a
// pending request on the order "SO-TOUR-APPROVAL" whose only approver is that user, with an overdue
// activity, then checks the decision recorded on the server.
registry.category("web_tour.tours").add("distribution_approval_tour", {
    url: "/odoo",
    steps: () => [
        {
            content: "The activity menu counts the approval waiting for the approver",
            trigger: ".o_menu_systray .o-mail-ActivityMenu-counter",
            run: "click",
        },
        {
            content: "Open the approval requests to decide",
            trigger: ".o-mail-ActivityMenu .o-mail-ActivityGroup:contains('Approval Request')",
            run: "click",
        },
        {
            content: "The request of the order is listed",
            trigger: ".o_list_view .o_data_row td[name='res_name']:contains(SO-TOUR-APPROVAL)",
            run: "click",
        },
        {
            content: "The form shows the document",
            trigger: ".o_form_view .o_field_widget[name='res_name']:contains(SO-TOUR-APPROVAL)",
        },
        {
            content: "The form says why approval is needed",
            trigger: ".o_form_view .o_field_widget[name='reason']:contains(Rush shipment for a key account)",
        },
        {
            content: "The context taken at request time is shown",
            trigger: ".o_form_view .o_field_widget[name='context_html'] .o_distribution_context:contains(Open receivables)",
        },
        {
            content: "The context names the customer",
            trigger: ".o_form_view .o_field_widget[name='context_html']:contains(Tour Customer)",
        },
        {
            content: "Approve",
            trigger: ".o_form_view .o_form_statusbar button[name='action_approve']",
            run: "click",
        },
        {
            content: "Leave a comment in the confirmation dialog",
            trigger: ".modal .o_field_widget[name='comment'] textarea",
            run: "edit Context checked: receivables are fine.",
        },
        {
            content: "Confirm the approval",
            trigger: ".modal .modal-footer button[name='action_confirm']:contains(Approve)",
            run: "click",
        },
        {
            content: "The dialog is closed",
            trigger: "body:not(:has(.modal))",
        },
        {
            content: "The request is approved",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current[data-value='approved']",
        },
        {
            content: "Nothing is left to decide",
            trigger: ".o_form_view .o_form_statusbar:not(:has(button[name='action_approve']))",
        },
    ],
});
