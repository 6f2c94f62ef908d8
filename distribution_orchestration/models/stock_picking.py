from markupsafe import Markup

from odoo import api
from odoo import fields
from odoo import models

from ..services import dispatch

URGENT_SCORE_PARAM = "distribution_orchestration.urgent_score"
URGENT_PRIORITY = "1"


class StockPicking(models.Model):
    """Outgoing deliveries carry a dispatch score; the most urgent get the urgent priority (the star).

    Priority policy: the scoring only **raises** a priority, never lowers one, and raises it once per
    picking. A star may have been set by a person, or by an earlier scoring that a supervisor relies on;
    a delivery whose score falls back below the threshold keeps its star until someone removes it. And a
    star a person removed after the scoring set it stays removed: the scoring does not set it again.
    Each raise is recorded: ``dispatch_priority_raised`` on the picking, a note in its chatter and the
    pickings in the message of the ``dispatch_scoring`` run.
    """

    _name = "stock.picking"
    _inherit = ["stock.picking", "distribution.dispatch.mixin"]

    dispatch_priority_raised = fields.Boolean(
        "Starred by Dispatch Score", readonly=True, copy=False,
        help="The urgent priority was set by the dispatch scoring, its score having reached the urgent threshold.",
    )

    def _dispatch_depends(self):
        return [
            *super()._dispatch_depends(),
            "state", "picking_type_id", "scheduled_date", "partner_id",
            "sale_id.commitment_date", "sale_id.amount_total", "sale_id.currency_rate",
        ]

    @api.model
    def _dispatch_open_domain(self):
        return [("picking_type_code", "=", "outgoing"), ("state", "not in", ("done", "cancel"))]

    def _get_dispatch_inputs(self, now):
        """Outgoing and not done: SLA tier of the commercial partner, promise = scheduled date (else the
        order's commitment date), value = the sale order's total in company currency."""
        inputs = dict.fromkeys(self.ids)
        for picking in self:
            if picking.picking_type_code != "outgoing" or picking.state in ("done", "cancel"):
                continue
            order = picking.sale_id
            tier = picking.partner_id.commercial_partner_id.distribution_sla_tier_id
            value = order.amount_total / order.currency_rate if order and order.currency_rate else 0.0
            inputs[picking.id] = {
                "sla_target_hours": tier.target_hours if tier else None,
                "hours_to_promise": dispatch.hours_between(now, picking.scheduled_date or order.commitment_date),
                "order_value": value,
                "tier_weight": tier.weight if tier else 1.0,
            }
        return inputs

    @api.model
    def _cron_recompute_dispatch_scores(self):
        """Also star the deliveries that the ORM scored urgent since the last run (a new delivery, a date
        moved earlier): fresh, so not rescored by the stale pass, but not starred yet."""
        scored = super()._cron_recompute_dispatch_scores()
        pending = self.search([
            *self._dispatch_open_domain(),
            ("dispatch_score", ">=", self._dispatch_urgent_score()), ("priority", "!=", URGENT_PRIORITY),
            ("dispatch_priority_raised", "=", False), ("id", "not in", scored.ids),
        ], limit=self._dispatch_batch_size)
        pending._recompute_dispatch_score()
        return scored | pending

    def _dispatch_urgent_score(self):
        param = self.env["ir.config_parameter"].sudo().get_param(URGENT_SCORE_PARAM)
        try:
            return float(param) if param else dispatch.DEFAULT_URGENT_SCORE
        except ValueError:
            return dispatch.DEFAULT_URGENT_SCORE

    def _dispatch_after_scoring(self, run):
        """Star the open outgoing pickings whose score reached the urgent threshold (only raise, once)."""
        super()._dispatch_after_scoring(run)
        threshold = self._dispatch_urgent_score()
        to_raise = self.filtered(
            lambda p: p.picking_type_code == "outgoing" and p.state not in ("done", "cancel")
            and p.priority != URGENT_PRIORITY and not p.dispatch_priority_raised
            and dispatch.is_urgent(p.dispatch_score, threshold)
        )
        if not to_raise:
            return
        to_raise.write({"priority": URGENT_PRIORITY, "dispatch_priority_raised": True})
        to_raise._message_log_batch({
            picking.id: Markup("%s") % self.env._(
                "Priority raised to urgent: dispatch score %(score).2f reached the threshold %(threshold).2f.",
                score=picking.dispatch_score, threshold=threshold,
            )
            for picking in to_raise
        })
        run.message = self.env._(
            "%(count)s records scored, %(raised)s raised to urgent: %(names)s",
            count=len(self), raised=len(to_raise), names=", ".join(to_raise.mapped("name"))[:1000],
        )
