from odoo import fields
from odoo import models


class DistributionReleaseWizard(models.TransientModel):
    """A Distribution Manager releases held orders with a written reason."""

    _name = "distribution.release.wizard"
    _description = "Release Held Orders"

    order_ids = fields.Many2many("sale.order", string="Orders", required=True)
    reason = fields.Text(
        required=True, help="Why the hold is released: kept on the order, its exceptions and the run log."
    )

    def action_release(self):
        self.ensure_one()
        self.order_ids._distribution_force_release(self.reason)
        return {"type": "ir.actions.act_window_close"}
