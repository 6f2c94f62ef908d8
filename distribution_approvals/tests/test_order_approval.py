from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import new_test_user
from odoo.tests import tagged

from .common import APPROVER
from .common import ApprovalCase


@tagged("post_install", "-at_install")
class TestOrderApproval(ApprovalCase):
    """Validation rules that require approval: the hold asks for it, the approval releases the order
    through the usual release path, a rejection keeps it held and tells the salesperson."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # An approver who also sees every order (a sales manager's reach, not their rights).
        cls.sales_approver = new_test_user(
            cls.env, "apr_sales_approver", groups=f"{APPROVER},sales_team.group_sale_salesman_all_leads"
        )
        cls.dist_user = new_test_user(
            cls.env,
            "apr_dist_user",
            groups="distribution_observability.group_distribution_user,sales_team.group_sale_salesman_all_leads",
        )
        cls.ValidationRule = cls.env["distribution.validation.rule"]
        cls.discount_rule = cls.ValidationRule.create(
            {
                "name": "Discount over 10%",
                "rule_type": "discount_ceiling",
                "outcome": "approval",
                "discount_ceiling_pct": 10.0,
            }
        )

    def _discount_order(self, discount=25.0, qty=10):
        line = {"product_id": self.product.id, "product_uom_qty": qty, "discount": discount}
        order = (
            self.env["sale.order"]
            .with_user(self.requester)
            .create({"partner_id": self.customer.id, "order_line": [Command.create(line)]})
        )
        return order.with_env(self.env)

    def _decide(self, request, user, decision, comment):
        action = getattr(request.with_user(user), f"action_{decision}")()
        wizard = (
            self.env[action["res_model"]].with_user(user).with_context(**action["context"]).create({"comment": comment})
        )
        wizard.action_confirm()

    def _requests(self, order):
        return self.Request.search([("res_model", "=", "sale.order"), ("res_id", "=", order.id)])

    def test_hold_requests_approval_with_the_order_context(self):
        order = self._discount_order()
        action = order.with_user(self.requester).action_confirm()
        self.assertEqual(order.state, "draft")
        self.assertEqual(order.distribution_validation_state, "on_hold")
        check = order.distribution_check_ids
        self.assertEqual((check.outcome, check.reason_code), ("approval", "discount_ceiling"))
        exception = order.distribution_exception_ids
        request = exception.approval_request_id
        self.assertEqual(exception.state, "waiting_approval")
        self.assertTrue(exception.blocking)
        self.assertEqual(request.request_type, "discount")
        self.assertEqual(request.state, "pending")
        self.assertEqual(request.requested_by_id, self.requester)
        self.assertAlmostEqual(request.amount, 750.0)  # 10 x 100 less 25 %
        self.assertEqual(request.reason, check.message)
        items = {item["key"]: item for item in request.context_snapshot["items"]}
        self.assertEqual(items["discount_pct"]["value"], 25.0)
        self.assertEqual(items["margin_pct"]["value"], 20.0)  # 750 revenue, 600 cost
        self.assertEqual(
            items["stock_position"]["value"], [{"product": "Approval Widget", "demand": 10.0, "free": 0.0}]
        )
        self.assertEqual(action["params"]["title"], "Not confirmed: waiting for a decision")
        self.assertIn(request.name, action["params"]["message"])
        approvers = self._approval_activities(request).user_id
        self.assertIn(self.approver_1, approvers)
        self.assertNotIn(self.requester, approvers)
        # The salesperson sees the request; approvers (not the requester) may decide it from the order.
        self.assertEqual(order.with_user(self.requester).distribution_approval_count, 1)
        self.assertFalse(order.with_user(self.requester).distribution_approval_can_decide)
        self.assertTrue(order.with_user(self.sales_approver).distribution_approval_can_decide)

    def test_approval_releases_the_order(self):
        order = self._discount_order()
        order.with_user(self.requester).action_confirm()
        exception = order.distribution_exception_ids
        action = order.with_user(self.sales_approver).action_distribution_approve()
        wizard = (
            self.env[action["res_model"]]
            .with_user(self.sales_approver)
            .with_context(**action["context"])
            .create({"comment": "Key account, agreed with the director."})
        )
        wizard.action_confirm()
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.distribution_validation_state, "released")
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(exception.resolved_by_id, self.sales_approver)
        self.assertIn("Key account, agreed with the director.", exception.resolution_note)
        self.assertEqual(exception.approval_request_id.state, "approved")
        run = self.env["distribution.workflow.run"].search(
            [("workflow_id.code", "=", "hold_release"), ("res_id", "=", order.id)], limit=1
        )
        self.assertEqual(run.reason, "holds_resolved")

    def test_rejection_keeps_the_order_held_and_tells_the_salesperson(self):
        order = self._discount_order()
        order.with_user(self.requester).action_confirm()
        exception = order.distribution_exception_ids
        request = exception.approval_request_id
        self._decide(request, self.approver_1, "reject", "Margin too thin for a 25% discount.")
        self.assertEqual(request.state, "rejected")
        self.assertEqual(order.state, "draft")
        self.assertEqual(order.distribution_validation_state, "on_hold")
        self.assertEqual(exception.state, "in_progress")
        self.assertIn("Margin too thin for a 25% discount.", exception.resolution_note)
        notice = self.env["mail.message"].search(
            [("model", "=", "sale.order"), ("res_id", "=", order.id), ("body", "ilike", "Margin too thin")]
        )
        self.assertEqual(len(notice), 1)
        self.assertIn(self.requester.partner_id, notice.partner_ids)
        self.assertIn(request.name, notice.body)
        # Sent from the company's address when it has one: the approver is named in the text.
        self.assertIn(self.approver_1.name, notice.body)
        # Nobody resolves it by hand; the salesperson may ask again.
        exception.resolution_note = "Resolved."
        with self.assertRaises(UserError):
            exception.with_user(self.dist_user).action_resolve()
        as_requester = order.with_user(self.requester)
        self.assertTrue(as_requester.distribution_approval_can_ask_again)
        as_requester.action_distribution_request_approval()
        requests = self._requests(order)
        self.assertEqual(requests.mapped("state"), ["pending", "rejected"])
        self.assertEqual(exception.approval_request_id, requests[0])
        self.assertEqual(exception.state, "waiting_approval")
        order.invalidate_recordset()
        self.assertFalse(as_requester.distribution_approval_can_ask_again)

    def test_no_second_request_on_revalidation(self):
        order = self._discount_order()
        order.with_user(self.requester).action_confirm()
        request = order.distribution_exception_ids.approval_request_id
        order.with_user(self.requester).action_distribution_validate()
        order.with_user(self.requester).action_confirm()
        self.env["sale.order"]._cron_revalidate_held_orders()
        self.assertEqual(self._requests(order), request)
        self.assertEqual(request.state, "pending")
        # After a rejection, validation passes do not ask again by themselves.
        self._decide(request, self.approver_1, "reject", "No.")
        self.env["sale.order"]._cron_revalidate_held_orders()
        order.with_user(self.requester).action_confirm()
        self.assertEqual(self._requests(order), request)
        self.assertEqual(order.distribution_validation_state, "on_hold")

    def test_changed_order_replaces_the_pending_request(self):
        order = self._discount_order()
        order.with_user(self.requester).action_confirm()
        first = order.distribution_exception_ids.approval_request_id
        line = order.order_line
        order.with_user(self.requester).write({"order_line": [Command.update(line.id, {"discount": 40.0})]})
        second = order.distribution_exception_ids.approval_request_id
        self.assertEqual(first.state, "cancelled")
        self.assertEqual(second.state, "pending")
        self.assertNotEqual(first, second)
        items = {item["key"]: item["value"] for item in second.context_snapshot["items"]}
        self.assertEqual(items["discount_pct"], 40.0)
        # The condition clears: the pending request is withdrawn; saving does not confirm, the salesperson does.
        order.with_user(self.requester).write({"order_line": [Command.update(line.id, {"discount": 5.0})]})
        self.assertEqual(second.state, "cancelled")
        self.assertEqual(order.distribution_validation_state, "validated")
        self.assertEqual(order.state, "draft")
        order.with_user(self.requester).action_confirm()
        self.assertEqual(order.state, "sale")

    def test_auto_approved_under_the_threshold_confirms_at_once(self):
        self._rule("discount", auto_approve_below=1000.0)
        order = self._discount_order()
        result = order.with_user(self.requester).action_confirm()
        request = self._requests(order)
        self.assertEqual((request.state, request.auto_approved), ("approved", True))
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.distribution_exception_ids.state, "resolved")
        self.assertIs(result, True)

    def test_approval_stands_while_another_hold_remains(self):
        self.ValidationRule.create(
            {
                "name": "Big orders",
                "rule_type": "custom",
                "outcome": "hold",
                "custom_domain": "[('amount_total', '>', 500)]",
            }
        )
        order = self._discount_order()
        order.with_user(self.requester).action_confirm()
        approval_exception = order.distribution_exception_ids.filtered("approval_request_id")
        other = order.distribution_exception_ids - approval_exception
        request = approval_exception.approval_request_id
        self._decide(request, self.approver_1, "approve", "Fine.")
        self.assertEqual(approval_exception.state, "resolved")
        self.assertEqual(order.state, "draft")
        # Validated again while held by the other rule: the approval stands, no new request.
        order.with_user(self.requester).action_distribution_validate()
        check = order.distribution_check_ids.filtered(lambda c: c.rule_id == self.discount_rule)
        self.assertEqual((check.outcome, check.reason_code), ("pass", "approved"))
        self.assertIn(request.name, check.message)
        self.assertEqual(self._requests(order), request)
        other.resolution_note = "Checked with the customer."
        other.with_user(self.dist_user).action_resolve()
        self.assertEqual(order.state, "sale")

    def test_forced_release_is_audited(self):
        order = self._discount_order()
        order.with_user(self.requester).action_confirm()
        exception = order.distribution_exception_ids
        request = exception.approval_request_id
        wizard = (
            self.env["distribution.release.wizard"]
            .with_user(self.manager)
            .create({"order_ids": [Command.set(order.ids)], "reason": "Prepaid by wire transfer."})
        )
        wizard.action_release()
        self.assertEqual(order.state, "sale")
        self.assertEqual(exception.state, "dismissed")
        self.assertEqual(request.state, "cancelled")
        entry = self.Audit.search(
            [("action", "=", "forced_release"), ("res_model", "=", "sale.order"), ("res_id", "=", order.id)]
        )
        self.assertEqual(len(entry), 1)
        self.assertEqual(entry.actor_id, self.manager)
        self.assertIn("Prepaid by wire transfer.", entry.data)
        self.assertIn(exception.name, entry.data)
        self.assertIn(request.name, entry.data)

    def test_cancelled_order_withdraws_its_request(self):
        order = self._discount_order()
        order.with_user(self.requester).action_confirm()
        request = order.distribution_exception_ids.approval_request_id
        order.with_user(self.requester)._action_cancel()
        self.assertEqual(request.state, "cancelled")

    def test_rule_type_maps_to_the_request_type(self):
        mapping = {
            "credit_limit": "credit_exception",
            "discount_ceiling": "discount",
            "price_below_pricelist": "price_exception",
            "margin_floor": "margin_exception",
            "rush_shipment": "rush_shipment",
            "stock_availability": "custom",
            "custom": "custom",
        }
        for rule_type, request_type in mapping.items():
            self.assertEqual(self.ValidationRule.new({"rule_type": rule_type})._approval_request_type(), request_type)
