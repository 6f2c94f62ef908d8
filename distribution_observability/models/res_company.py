import logging

from odoo import SUPERUSER_ID
from odoo import api
from odoo import models
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)


class ResCompany(models.Model):
    """A new company starts with the starter policy, as the main company has it now."""

    _inherit = "res.company"

    @api.model_create_multi
    def create(self, vals_list):
        companies = super().create(vals_list)
        companies._distribution_copy_starter_policy()
        return companies

    def _distribution_copy_starter_policy(self, module=None):
        """Copy into these companies the records of the starter policy (data of the Distribution addons
        named ``starter_*`` that belong to a company: validation, approval and alert rules), as the main
        company has them now: a rule switched off there is not copied, a tuned threshold is copied tuned.
        A record that cannot hold in the new company (an approval tier whose group has no member there
        yet) is left out and logged: the company's approval matrix then shows what to add. ``module``: only
        the starter records of that addon (its install hook copies them into the companies already there)."""
        main = self.env.ref("base.main_company", raise_if_not_found=False)
        # As the superuser: the starter policy is copied by the system when a company is made, whoever
        # makes it (an administrator without a Distribution role creates companies too), and the copies
        # are the system's, like the shipped records (no person "changed" them: the getting-started
        # checklist reads that from their authors).
        env = self.env(user=SUPERUSER_ID, su=True)
        data = env["ir.model.data"].search(
            [("module", "=like", module or "distribution\\_%"), ("name", "=like", "starter\\_%")], order="id"
        )
        targets = self - main
        if not main or not targets:
            return
        for item in data:
            if item.model not in env:
                continue
            Model = env[item.model]
            field = Model._fields.get("company_id")
            if not field or not field.store or field.related:
                continue
            record = Model.browse(item.res_id).exists()
            if not record or record.company_id != main or ("active" in record._fields and not record.active):
                continue
            for company in targets:
                try:
                    with env.cr.savepoint():
                        record.copy({"company_id": company.id})
                except UserError as exc:  # a record that cannot hold in the new company does not stop the others
                    _logger.info(
                        "Starter policy: %s not copied into company %s: %s", item.complete_name, company.id, exc
                    )
