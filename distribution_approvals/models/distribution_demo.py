"""The demo of the approvals addon: discount approvals asked for by the validation pipeline, decided by
their approvers (approved, rejected), left pending and escalated. For demo databases only (see
distribution_observability/models/distribution_demo.py)."""

import time
from datetime import timedelta

from odoo import Command
from odoo import api
from odoo import fields
from odoo import models

MODULE = "distribution_approvals"
ORCHESTRATION = "distribution_orchestration"
# The longest the demo waits for the two-second SLA of its key-account tier to pass.
MAX_ESCALATION_WAIT = 5.0
# A week of runs of the approvals' workflows (see distribution.demo._distribution_demo_history).
HISTORY = {
    "approval_request": {"per_day": 6, "success_reason": "pending", "failures": {}, "duration_ms": 180},
    "approval_escalation": {
        "per_day": 12,
        "success_reason": "nothing_due",
        "technical": 0.01,
        "failures": {"technical": [("SerializationFailure", "a tier changed concurrently, retried in a new run")]},
        "duration_ms": 120,
    },
}


class DistributionDemo(models.AbstractModel):
    """The approvals' demo flows: orders with discounts over the ceiling confirmed by the salesperson, so
    that the pipeline holds them and asks for approval; the requests decided by their approvers through
    the request's buttons, one left pending, one escalated by the escalation's scheduled action."""

    _inherit = "distribution.demo"

    @api.model
    def _distribution_demo_approvals(self):
        """Demo of the approvals addon (called by demo/distribution_approvals_demo.xml)."""
        self._distribution_demo_check(MODULE)
        ref = self.env.ref
        sales_rep = ref(f"{ORCHESTRATION}.user_demo_sales_rep")
        director = ref(f"{MODULE}.user_demo_sales_director")
        manager = ref("base.user_admin")
        now = fields.Datetime.now()
        # First the key-account order: its tier's SLA runs while the other requests are made and decided.
        escalated = self._distribution_demo_discount_order(
            "escalated", sales_rep, "base.res_partner_12", "product_product_16", 20, 22.0
        )
        pending = self._distribution_demo_discount_order(
            "pending", sales_rep, "base.res_partner_2", "product_product_7", 40, 20.0
        )
        decided = [
            # An order from 10,000: the approver, then a Distribution Manager (two tiers).
            (
                "approved",
                ("base.res_partner_3", "product_product_8", 7, 18.0),
                5,
                [
                    (director, "approve", "Gemini reorders every quarter: 18% matches their yearly agreement."),
                    (manager, "approve", "Agreed, within the yearly agreement."),
                ],
            ),
            (
                "approved_yesterday",
                ("base.res_partner_10", "product_product_16", 30, 17.0),
                26,
                [(director, "approve", "Key account, end-of-year promotion.")],
            ),
            (
                "rejected",
                ("base.res_partner_4", "product_product_9", 30, 35.0),
                3,
                [(director, "reject", "35% sells the pedal bins under cost: 20% is the most we can give.")],
            ),
        ]
        for name, (partner, product, qty, discount), hours_ago, decisions in decided:
            order, request = self._distribution_demo_discount_order(name, sales_rep, partner, product, qty, discount)
            # Asked hours ago and decided now: the cycle time the approval figures measure.
            self._distribution_demo_backdate(request, "create_date", now - timedelta(hours=hours_ago))
            for user, decision, comment in decisions:
                if request.state == "pending":  # a tier less than planned (a tuned matrix) settles it earlier
                    self._distribution_demo_decide(request, user, decision, comment)
        self._distribution_demo_escalate(escalated[1])
        self._distribution_demo_xmlid(MODULE, "demo_request_escalated", escalated[1])
        self._distribution_demo_xmlid(MODULE, "demo_request_pending", pending[1])
        self._distribution_demo_history(HISTORY, records={"approval_request": self._distribution_demo_odoo_orders(20)})
        self._distribution_demo_evaluate_alerts()
        return True

    @api.model
    def _distribution_demo_discount_order(self, name, user, partner, product, qty, discount):
        """An order with a discount over the ceiling, confirmed by ``user``: the pipeline holds it and asks
        for approval. Answers the order and its request."""
        ref = self.env.ref
        order = (
            self.env["sale.order"]
            .with_user(user)
            .create(
                {
                    "partner_id": ref(partner).id,
                    "warehouse_id": ref("stock.warehouse0").id,
                    "order_line": [
                        Command.create(
                            {"product_id": ref(f"product.{product}").id, "product_uom_qty": qty, "discount": discount}
                        )
                    ],
                }
            )
        )
        order.action_confirm()
        self._distribution_demo_assign(order.sudo().distribution_exception_ids)
        # sudo: the request is read as the system, whatever the salesperson may read of it.
        request = order.sudo().distribution_approval_request_ids[:1]
        self._distribution_demo_xmlid(MODULE, f"demo_order_discount_{name}", order)
        self._distribution_demo_xmlid(MODULE, f"demo_request_{name}", request)
        return order, request

    @api.model
    def _distribution_demo_decide(self, request, user, decision, comment):
        """``user`` decides the current tier of ``request`` as in the request's form: the Approve or Reject
        button, then the decision wizard with the comment."""
        request = request.with_user(user)
        action = request.action_approve() if decision == "approve" else request.action_reject()
        wizard = (
            self.env[action["res_model"]].with_user(user).with_context(**action["context"]).create({"comment": comment})
        )
        wizard.action_confirm()

    @api.model
    def _distribution_demo_escalate(self, request):
        """Run the escalation's scheduled action once the key-account tier of ``request`` is past its SLA (a
        couple of seconds in the demo's rule): its escalation level adds the head of sales."""
        # sudo: the tier is read as the system, whatever the demo user may read.
        tier = request.sudo().current_tier_id
        deadline = time.monotonic() + MAX_ESCALATION_WAIT
        while tier.next_escalation_at and fields.Datetime.now() < tier.next_escalation_at:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.env["distribution.approval.request.tier"]._cron_escalate()
