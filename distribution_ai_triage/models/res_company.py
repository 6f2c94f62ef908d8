from odoo import fields
from odoo import models
from odoo.exceptions import UserError


class ResCompany(models.Model):
    """The company's triage settings: whether message content may leave for external AI services, and the
    mail alias whose e-mails land in the triage inbox."""

    _inherit = "res.company"

    distribution_triage_send_external = fields.Boolean(
        "Send Message Content to External AI Services",
        help="Off: only local providers (a loopback address, or marked as running in-house) and the rules "
        "see the e-mails. Even on, what is sent is redacted (addresses, phones, IBANs, card numbers, names).",
    )
    distribution_triage_alias_id = fields.Many2one("mail.alias", "Triage Mail Alias", copy=False)

    def _distribution_set_triage_alias(self, alias_name):
        """Create, rename or remove the company's triage alias: e-mails to it become triage messages of
        this company."""
        self.ensure_one()
        alias = self.distribution_triage_alias_id
        alias_name = (alias_name or "").strip()
        if not alias_name:
            if alias:
                self.distribution_triage_alias_id = False
                alias.sudo().unlink()  # sudo: aliases are system records; settings are for administrators
            return
        if alias and alias.alias_name == alias_name:
            return
        vals = {
            "alias_name": alias_name,
            "alias_model_id": self.env["ir.model"]._get_id("distribution.triage.message"),
            "alias_defaults": repr({"company_id": self.id}),
            "alias_contact": "everyone",
            "alias_domain_id": self.alias_domain_id.id or False,
        }
        try:
            if alias:
                alias.sudo().write(vals)  # sudo: as above
            else:
                self.distribution_triage_alias_id = self.env["mail.alias"].sudo().create(vals)
        except Exception as exc:  # the alias is taken, or not a valid address part
            raise UserError(
                self.env._("The triage alias %(alias)s cannot be used: %(error)s", alias=alias_name, error=exc)
            ) from exc
