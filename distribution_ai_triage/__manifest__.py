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
    "external_dependencies": {"python": ["requests"]},
    "data": [
        "views/distribution_ai_triage_menus.xml",
    ],
}
