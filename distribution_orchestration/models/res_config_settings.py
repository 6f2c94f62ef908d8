from odoo import api
from odoo import fields
from odoo import models

# The automation rules that e-mail customers, by setting. They ship switched off: a company turns on the
# messages its customers should get.
NOTIFICATION_RULES = {
    "distribution_notify_backorder": "distribution_orchestration.base_automation_distribution_backorder_created",
    "distribution_notify_new_date": "distribution_orchestration.base_automation_distribution_promised_date_changed",
    "distribution_notify_shipped": "distribution_orchestration.base_automation_distribution_shipped",
}


class ResConfigSettings(models.TransientModel):
    """Customer notifications: each setting switches its shipped automation rule on or off (the rule stays
    tunable in Automation Rules); and what is in force, with links to it: the active validation rules of
    the company, the SLA tiers, the active outbound endpoints of the company."""

    _inherit = "res.config.settings"

    distribution_notify_backorder = fields.Boolean(
        "Backorder notice", help="E-mail the customer what shipped and what follows when a delivery is partial."
    )
    distribution_notify_new_date = fields.Boolean(
        "New ship date", help="E-mail the customer when the promised date of a confirmed order changes."
    )
    distribution_notify_shipped = fields.Boolean(
        "Shipping confirmation",
        help="E-mail the customer when their delivery is done. Never sent when Odoo's own delivery "
        "confirmation e-mail (Inventory settings) is on: then Odoo's e-mail is the one the customer gets.",
    )
    distribution_lead_time_receipts = fields.Integer(
        related="company_id.distribution_lead_time_receipts", readonly=False
    )
    distribution_lead_time_drift_pct = fields.Float(
        related="company_id.distribution_lead_time_drift_pct", readonly=False
    )
    distribution_lead_time_drift_days = fields.Float(
        related="company_id.distribution_lead_time_drift_days", readonly=False
    )
    distribution_lead_time_tolerance_pct = fields.Float(
        related="company_id.distribution_lead_time_tolerance_pct", readonly=False
    )
    distribution_backorder_pattern_count = fields.Integer(
        related="company_id.distribution_backorder_pattern_count", readonly=False
    )
    distribution_backorder_pattern_days = fields.Integer(
        related="company_id.distribution_backorder_pattern_days", readonly=False
    )
    distribution_rush_margin_pattern_count = fields.Integer(
        related="company_id.distribution_rush_margin_pattern_count", readonly=False
    )
    # What is in force, with links to it (counts only: sudo, whatever the administrator's Distribution role).
    distribution_active_rule_count = fields.Integer(compute="_compute_distribution_counts")
    distribution_sla_tier_count = fields.Integer(compute="_compute_distribution_counts")
    distribution_outbound_endpoint_count = fields.Integer(compute="_compute_distribution_counts")

    @api.depends("company_id")
    def _compute_distribution_counts(self):
        Rule = self.env["distribution.validation.rule"].sudo()
        Tier = self.env["distribution.sla.tier"].sudo()
        Endpoint = self.env["distribution.outbound.endpoint"].sudo()
        tiers = Tier.search_count([])  # SLA tiers are shared by the companies
        for settings in self:
            company = [("company_id", "=", settings.company_id.id)]
            settings.distribution_active_rule_count = Rule.search_count(company)
            settings.distribution_sla_tier_count = tiers
            settings.distribution_outbound_endpoint_count = Endpoint.search_count(company)

    @api.model
    def get_values(self):
        values = super().get_values()
        for field_name, xmlid in NOTIFICATION_RULES.items():
            rule = self.env.ref(xmlid, raise_if_not_found=False)
            values[field_name] = bool(rule and rule.active)
        return values

    def set_values(self):
        result = super().set_values()
        for field_name, xmlid in NOTIFICATION_RULES.items():
            rule = self.env.ref(xmlid, raise_if_not_found=False)
            if rule and rule.active != self[field_name]:
                rule.active = self[field_name]
        return result
