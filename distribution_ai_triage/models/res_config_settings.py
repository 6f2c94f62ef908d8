from odoo import api
from odoo import fields
from odoo import models


class ResConfigSettings(models.TransientModel):
    """AI triage settings: the redaction switch, the mail alias of the triage inbox, and links to the
    providers and labels."""

    _inherit = "res.config.settings"

    distribution_triage_send_external = fields.Boolean(
        related="company_id.distribution_triage_send_external", readonly=False
    )
    distribution_triage_alias_name = fields.Char(
        "Triage Alias", help="The local part of the address whose e-mails land in the triage inbox (e.g. orders)."
    )
    distribution_triage_alias_domain = fields.Char(compute="_compute_distribution_triage_alias_domain")
    distribution_triage_provider_count = fields.Integer(compute="_compute_distribution_triage_counts")
    distribution_triage_label_count = fields.Integer(compute="_compute_distribution_triage_counts")

    @api.depends("company_id")
    def _compute_distribution_triage_alias_domain(self):
        for settings in self:
            settings.distribution_triage_alias_domain = settings.company_id.alias_domain_id.name or ""

    @api.depends("company_id")
    def _compute_distribution_triage_counts(self):
        # sudo: counts only, whatever the administrator's Distribution role
        Provider = self.env["distribution.ai.provider"].sudo()
        Label = self.env["distribution.triage.label"].sudo()
        for settings in self:
            settings.distribution_triage_provider_count = Provider.search_count(
                [("company_id", "=", settings.company_id.id)]
            )
            settings.distribution_triage_label_count = len(Label._labels_for(settings.company_id))

    @api.model
    def get_values(self):
        values = super().get_values()
        values["distribution_triage_alias_name"] = self.env.company.distribution_triage_alias_id.alias_name or False
        return values

    def set_values(self):
        result = super().set_values()
        for settings in self:
            settings.company_id._distribution_set_triage_alias(settings.distribution_triage_alias_name)
        return result
