from odoo import api
from odoo import models
from odoo.addons.distribution_observability.services import verbs

from .res_users import MEMBERSHIP_VERB


class ResGroups(models.Model):
    """Changing a group's members or implied groups can make people approvers or Distribution Managers:
    the change is recorded in the audit trail like a change made on the user (see ``res_users.py``)."""

    _inherit = "res.groups"

    @api.model_create_multi
    def create(self, vals_list):
        if verbs.inside(MEMBERSHIP_VERB, self.env["res.users"]) or not any(
            "users" in vals or "implied_ids" in vals for vals in vals_list
        ):
            return super().create(vals_list)
        with self.env["res.users"]._membership_audit():
            return super().create(vals_list)

    def write(self, vals):
        if verbs.inside(MEMBERSHIP_VERB, self.env["res.users"]) or not ("users" in vals or "implied_ids" in vals):
            return super().write(vals)
        with self.env["res.users"]._membership_audit():
            return super().write(vals)
