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
    "data": [
        "views/distribution_approvals_menus.xml",
    ],
    "application": True,
}
