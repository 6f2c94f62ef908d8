# Copyright 2026 Distribution Control
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Distribution AI Triage",
    "summary": "Classify inbound e-mails and exceptions with an external classifier, with a rule-based fallback",
    "version": "18.0.1.0.0",
    "category": "Distribution Control",
    "author": "Distribution Control",
    "website": "https://github.com/distribution-control/distribution-control",
    "license": "LGPL-3",
    "depends": [
        "distribution_orchestration",
    ],
    "external_dependencies": {"python": ["requests", "phonenumbers"]},
    "post_init_hook": "post_init_hook",
    "data": [
        "security/distribution_ai_triage_security.xml",
        "security/ir.model.access.csv",
        "data/distribution_workflow_data.xml",
        "data/mail_template_data.xml",
        "data/distribution_triage_label_data.xml",
        "data/ir_cron_data.xml",
        "data/distribution_queue_monitor_data.xml",
        "data/distribution_starter_policy_data.xml",
        "data/ir_actions_server_data.xml",
        "data/base_automation_data.xml",
        "views/distribution_triage_message_views.xml",
        "views/distribution_triage_label_views.xml",
        "views/distribution_ai_provider_views.xml",
        "views/distribution_exception_views.xml",
        "views/distribution_vendor_lead_time_views.xml",
        "views/res_config_settings_views.xml",
        "views/distribution_ai_triage_menus.xml",
    ],
    "demo": [
        "demo/distribution_ai_triage_demo.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "distribution_ai_triage/static/tests/tours/**/*",
        ],
    },
}
