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
    tunable in Automation Rules), and the list of the validation rules in force."""

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
    distribution_active_rule_count = fields.Integer(compute="_compute_distribution_active_rule_count")

    @api.depends("company_id")
    def _compute_distribution_active_rule_count(self):
        for settings in self:
            settings.distribution_active_rule_count = self.env["distribution.validation.rule"].search_count(
                [("company_id", "=", settings.company_id.id)]
            )

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

    def action_distribution_open_validation_rules(self):
        return self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_orchestration.distribution_validation_rule_action"
        )
