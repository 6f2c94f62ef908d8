from odoo import fields
from odoo import models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    distribution_purchase_approval_amount = fields.Monetary(
        related="company_id.distribution_purchase_approval_amount", readonly=False, currency_field="company_currency_id"
    )
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
