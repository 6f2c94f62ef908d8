# Copyright 2026 Distribution Control
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Distribution Observability",
    "summary": "Workflow run log, monitored queues, KPIs, alert rules, dashboard, health and metrics endpoints",
    "version": "18.0.1.0.0",
    "category": "Distribution Control",
    "author": "Distribution Control",
    "website": "https://github.com/distribution-control/distribution-control",
    "license": "LGPL-3",
    "depends": [
        "base",
        "mail",
        "web",
    ],
    "post_init_hook": "post_init_hook",
    "data": [
        "security/distribution_observability_security.xml",
        "security/ir.model.access.csv",
        "data/distribution_workflow_data.xml",
        "data/distribution_queue_monitor_data.xml",
        "data/ir_cron_data.xml",
        "data/distribution_starter_policy_data.xml",
        "views/distribution_workflow_views.xml",
        "views/distribution_workflow_run_views.xml",
        "views/distribution_queue_monitor_views.xml",
        "views/distribution_metric_snapshot_views.xml",
        "views/distribution_alert_rule_views.xml",
        "views/distribution_alert_incident_views.xml",
        "views/res_config_settings_views.xml",
        "views/distribution_dashboard_views.xml",
        "views/distribution_observability_menus.xml",
    ],
    "demo": [
        "demo/distribution_observability_demo.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "distribution_observability/static/src/dashboard/**/*",
        ],
        "web.assets_tests": [
            "distribution_observability/static/tests/tours/**/*",
        ],
    },
    "application": True,
}
