from odoo.addons.distribution_orchestration.tests.test_replenishment import ReplenishmentFixtures
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

APPROVER = "distribution_approvals.group_distribution_approver"


@tagged("post_install", "-at_install")
class TestReorderRuleApproval(ReplenishmentFixtures, TransactionCase):
    """A reorder suggestion beyond the tolerance becomes a request for approval; approved, it writes the
    min and max it showed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.approver = new_test_user(cls.env, "replen_approver", groups=f"{APPROVER},stock.group_stock_user")
        cls.Request = cls.env["distribution.approval.request"]

    def _decide(self, request, user, decision, comment):
        action = getattr(request.with_user(user), f"action_{decision}")()
        self.env[action["res_model"]].with_user(user).with_context(**action["context"]).create(
            {"comment": comment}
        ).action_confirm()

    def _far_rule(self, compute=True):
        self._history()
        rule = self._rule(self.bolt, 5, 10)  # suggestion 25 / 60: far beyond 20%
        if compute:
            rule._distribution_compute_suggestions()
            self.assertEqual(rule.distribution_suggestion_state, "above")
        return rule

    def test_a_change_beyond_the_tolerance_waits_for_approval_and_applies_what_was_approved(self):
        rule = self._far_rule()
        # Even a Distribution Manager asks: the matrix decides, not the requester.
        rule.with_user(self.manager).action_distribution_apply_suggestion()
        request = rule.distribution_approval_request_id
        self.assertRecordValues(
            request, [{"state": "pending", "request_type": "reorder_rule_change", "requested_by_id": self.manager.id}]
        )
        self.assertEqual(request.payload["new_min"], 25)
        self.assertEqual((rule.product_min_qty, rule.product_max_qty), (5, 10), "nothing written while pending")
        with self.assertRaises(UserError):
            rule.with_user(self.planner).action_distribution_apply_suggestion()
        # The link is the approval's own: not written by a user, even with sudo.
        with self.assertRaises(AccessError):
            rule.with_user(self.planner).sudo().write({"distribution_approval_request_id": False})
        self._decide(request, self.approver, "approve", "New customer in the east, ok.")
        self.assertEqual((rule.product_min_qty, rule.product_max_qty), (25, 60))
        self.assertRecordValues(
            rule.distribution_change_ids,
            [{"old_min": 5, "new_min": 25, "old_max": 10, "new_max": 60, "mode": "approved", "adu": 2.5}],
        )

    def test_an_approval_does_not_apply_to_a_rule_changed_since(self):
        rule = self._far_rule()
        rule.with_user(self.planner).action_distribution_apply_suggestion()
        request = rule.distribution_approval_request_id
        rule.write({"product_min_qty": 8})  # an Inventory administrator edits the rule meanwhile
        self._decide(request, self.approver, "approve", "Ok.")
        self.assertEqual((rule.product_min_qty, rule.product_max_qty), (8, 10))
        self.assertFalse(rule.distribution_change_ids)

    def test_the_nightly_run_asks_once_and_not_again_after_a_refusal(self):
        rule = self._far_rule(compute=False)
        self.Orderpoint._cron_distribution_suggestions()
        self.assertEqual(rule.distribution_suggestion_state, "above")
        request = rule.distribution_approval_request_id
        self.assertEqual(request.state, "pending")
        self.assertEqual(request.requested_by_id, self.env.ref("base.user_root"))
        self._decide(request, self.approver, "reject", "Promotion ends next week: keep the rule.")
        self.assertEqual(rule.product_min_qty, 5)
        # The next night, the same suggestion is not asked for again.
        rule._distribution_compute_suggestions()
        self.assertFalse(rule._distribution_left_above_tolerance())
        self.assertEqual(self.Request.search_count([("res_model", "=", rule._name), ("res_id", "=", rule.id)]), 1)
