from odoo import api
from odoo import fields
from odoo import models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    distribution_purchase_approval_amount = fields.Monetary(
        related="company_id.distribution_purchase_approval_amount", readonly=False, currency_field="company_currency_id"
    )
    distribution_inventory_approval = fields.Boolean(
        related="company_id.distribution_inventory_approval", readonly=False
    )
    distribution_scrap_approval = fields.Boolean(related="company_id.distribution_scrap_approval", readonly=False)
    distribution_inventory_approval_amount = fields.Monetary(
        related="company_id.distribution_inventory_approval_amount",
        readonly=False,
        currency_field="company_currency_id",
    )
    distribution_scrap_approval_amount = fields.Monetary(
        related="company_id.distribution_scrap_approval_amount", readonly=False, currency_field="company_currency_id"
    )
    distribution_approval_split_window_hours = fields.Integer(
        related="company_id.distribution_approval_split_window_hours", readonly=False
    )
    # What is in force (a count: sudo, whatever the administrator's Distribution role), with a link to it.
    distribution_approval_rule_count = fields.Integer(compute="_compute_distribution_approval_rule_count")

    @api.depends("company_id")
    def _compute_distribution_approval_rule_count(self):
        Rule = self.env["distribution.approval.rule"].sudo()
        for settings in self:
            settings.distribution_approval_rule_count = Rule.search_count([("company_id", "=", settings.company_id.id)])
