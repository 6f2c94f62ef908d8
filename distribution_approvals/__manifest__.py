# Copyright 2026 Distribution Control
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Distribution Approvals",
    "summary": "Approval matrix, tiers, activities, escalation, no self-approval, tamper-evident audit trail",
    "version": "18.0.1.0.0",
    "category": "Distribution Control",
    "author": "Distribution Control",
    "website": "https://github.com/distribution-control/distribution-control",
    "license": "LGPL-3",
    "depends": [
        "distribution_orchestration",
    ],
    "post_init_hook": "post_init_hook",
    "data": [
        "security/distribution_approvals_security.xml",
        "security/ir.model.access.csv",
        "data/ir_sequence_data.xml",
        "data/mail_activity_type_data.xml",
        "data/distribution_workflow_data.xml",
        "data/distribution_queue_monitor_data.xml",
        "data/ir_cron_data.xml",
        "data/distribution_starter_policy_data.xml",
        "data/ir_actions_server_data.xml",
        "data/mail_template_data.xml",
        "views/distribution_approval_rule_views.xml",
        "views/distribution_approval_request_views.xml",
        "wizards/distribution_audit_verify_wizard_views.xml",
        "views/distribution_audit_entry_views.xml",
        "views/approval_link_templates.xml",
        "views/sale_order_views.xml",
        "views/purchase_order_views.xml",
        "views/res_partner_bank_views.xml",
        "views/stock_views.xml",
        "views/res_config_settings_views.xml",
        "wizards/distribution_approval_decision_wizard_views.xml",
        "views/distribution_approvals_menus.xml",
    ],
    "demo": [
        "demo/distribution_approvals_demo.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "distribution_approvals/static/src/tours/*.js",
        ],
    },
}
