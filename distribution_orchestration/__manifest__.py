# Copyright 2026 Distribution Control
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Distribution Orchestration",
    "summary": "Order validation pipeline, exception queue, shipment priorities, signed webhooks and outbox",
    "version": "18.0.1.0.0",
    "category": "Distribution Control",
    "author": "Distribution Control",
    "website": "https://github.com/distribution-control/distribution-control",
    "license": "LGPL-3",
    "depends": [
        "distribution_observability",
        "sale_stock",
        "purchase_stock",
        "base_automation",
    ],
    "external_dependencies": {"python": ["requests"]},
    "data": [
        "views/distribution_orchestration_menus.xml",
    ],
    "application": True,
}
