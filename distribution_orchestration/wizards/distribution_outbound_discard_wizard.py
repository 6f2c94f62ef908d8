from odoo import fields
from odoo import models


class DistributionOutboundDiscardWizard(models.TransientModel):
    """A Distribution Manager closes dead letters for good, with a written reason."""

    _name = "distribution.outbound.discard.wizard"
    _description = "Discard Dead Letters"

    event_ids = fields.Many2many(
        "distribution.outbound.event",
        "distribution_outbound_discard_event_rel",
        "wizard_id",
        "event_id",
        string="Events",
        required=True,
        domain=[("state", "=", "dead")],
    )
    reason = fields.Text(required=True, help="Why these events will not be sent: kept on each event.")

    def action_discard(self):
        self.ensure_one()
        self.event_ids._discard(self.reason)
        return {"type": "ir.actions.act_window_close"}
