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
    "data": [
        "security/distribution_observability_security.xml",
        "views/distribution_observability_menus.xml",
    ],
    "application": True,
}
