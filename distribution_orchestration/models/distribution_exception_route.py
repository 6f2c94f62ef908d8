from odoo import api
from odoo import fields
from odoo import models

from .distribution_exception import CATEGORIES


class DistributionExceptionRoute(models.Model):
    """Who works the exceptions of a category in a company: a user, or the members of a group."""

    _name = "distribution.exception.route"
    _description = "Exception Routing"
    _order = "sequence, id"

    sequence = fields.Integer(default=10)
    category = fields.Selection(CATEGORIES, required=True)
    company_id = fields.Many2one("res.company", help="Empty: every company.")
    user_id = fields.Many2one("res.users", "Owner")
    group_id = fields.Many2one(
        "res.groups", "Team", help="Without an owner, the member with the fewest open exceptions."
    )
    sla_hours = fields.Float("Hours to Resolve", default=24.0)
    active = fields.Boolean(default=True)

    @api.model
    def _find(self, category, company):
        return self.search(
            [
                ("category", "=", category),
                "|",
                ("company_id", "=", False),
                ("company_id", "=", company.id),
            ],
            order="company_id asc nulls last, sequence, id",
            limit=1,
        )

    def _pick_user(self, exception):
        self.ensure_one()
        if self.user_id:
            return self.user_id
        members = self.group_id.users.filtered(lambda u: exception.company_id in u.company_ids)
        if not members:
            return self.env["res.users"]
        counts = dict(
            self.env["distribution.exception"]._read_group(
                [("user_id", "in", members.ids), ("state", "in", ("new", "in_progress"))], ["user_id"], ["__count"]
            )
        )
        return min(members, key=lambda user: (counts.get(user, 0), user.id))
