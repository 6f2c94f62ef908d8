from odoo import api
from odoo import fields
from odoo import models


class DistributionValidationCheck(models.Model):
    """The result of one rule on one order at its last validation pass."""

    _name = "distribution.validation.check"
    _description = "Order Validation Check"
    _order = "order_id, sequence, id"

    order_id = fields.Many2one("sale.order", required=True, ondelete="cascade", index=True)
    rule_id = fields.Many2one("distribution.validation.rule", required=True, ondelete="cascade")
    sequence = fields.Integer()
    outcome = fields.Selection(
        [("pass", "Passed"), ("note", "Note"), ("warn", "Warning"), ("hold", "Hold")], required=True
    )
    reason_code = fields.Char()
    message = fields.Text()
    values = fields.Json(help="The values the rule saw.")
    company_id = fields.Many2one(related="order_id.company_id", store=True)
    blocks = fields.Boolean(
        compute="_compute_blocks", help="The check holds its order (a hold, or an outcome another addon adds)."
    )

    @api.depends("outcome")
    def _compute_blocks(self):
        for check in self:
            check.blocks = check.order_id._distribution_outcome_blocks(check.outcome)
