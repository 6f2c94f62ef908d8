from odoo import fields
from odoo import models

# The governance settings of the approval gates: a change of one of them enters the audit trail.
AUDITED_SETTINGS = (
    "distribution_purchase_approval_amount",
    "distribution_inventory_approval",
    "distribution_inventory_approval_amount",
    "distribution_scrap_approval",
    "distribution_scrap_approval_amount",
    "distribution_approval_split_window_hours",
)


class ResCompany(models.Model):
    """The amounts over which purchases, inventory count adjustments and scraps wait for an approval
    (company currency; 0 turns the control off), and the window over which small changes are summed so
    that splitting one change into several does not dodge a threshold. A change of these settings is
    appended to the company's audit chain with its old and new values."""

    _inherit = "res.company"

    distribution_purchase_approval_amount = fields.Monetary(
        "Purchase Approval Threshold",
        currency_field="currency_id",
        help="Purchase orders over this amount (company currency) are confirmed only once approved; so is an "
        "order that takes the vendor's unapproved purchases of the split window over it. 0: off.",
    )
    # Inventory and scrap approvals ship switched off with their threshold filled in (the starter policy):
    # counting and scrapping are daily work that an installation must not stop on day one.
    distribution_inventory_approval = fields.Boolean(
        "Approve Inventory Adjustments",
        help="Inventory counts whose value change is over the threshold below apply only once approved.",
    )
    distribution_inventory_approval_amount = fields.Monetary(
        "Inventory Adjustment Approval Threshold",
        currency_field="currency_id",
        default=2500.0,
        help="Inventory counts whose value change (|counted - on hand| x cost, summed over what is applied at "
        "once, or per product and location over the split window) is over this amount apply only once "
        "approved. 0: off.",
    )
    distribution_scrap_approval = fields.Boolean(
        "Approve Scraps", help="Scraps worth more than the threshold below are done only once approved."
    )
    distribution_scrap_approval_amount = fields.Monetary(
        "Scrap Approval Threshold",
        currency_field="currency_id",
        default=1000.0,
        help="Scraps worth more than this (quantity x cost, alone or summed per product and location over the "
        "split window) are done only once approved, when scrap approvals are on.",
    )
    distribution_approval_split_window_hours = fields.Integer(
        "Approval Split Window (hours)",
        default=24,
        help="Purchases of one vendor, and count adjustments and scraps of one product in one location, are "
        "summed over this many hours (applied and waiting for approval alike): a change that takes the sum "
        "over the threshold waits for approval. 0: each change counts alone.",
    )
    # The head of the company's audit chain, kept apart from the chain: removing its newest entries
    # leaves a chain that holds on its own, but no longer reaches this head.
    distribution_audit_head_sequence = fields.Integer("Audit Chain Length", readonly=True, copy=False)
    distribution_audit_head_hash = fields.Char("Audit Chain Head", readonly=True, copy=False)

    def write(self, vals):
        """Append the changes of the approval thresholds and of the split window to the audit chain."""
        audited = [name for name in AUDITED_SETTINGS if name in vals]
        before = {company.id: {name: company[name] for name in audited} for company in self} if audited else {}
        result = super().write(vals)
        for company in self if audited else ():
            changes = {
                name: {"old": before[company.id][name], "new": company[name]}
                for name in audited
                if before[company.id][name] != company[name]
            }
            if changes:
                self.env["distribution.audit.entry"]._append(
                    "config_changed", company, {"setting": "approval_thresholds", "changes": changes}, company=company
                )
        return result
