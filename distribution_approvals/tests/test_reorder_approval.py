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


@tagged("post_install", "-at_install")
class TestLeadTimeApproval(ReplenishmentFixtures, TransactionCase):
    """A learned lead time beyond the tolerance becomes a request; approved, it writes the delay it showed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.approver = new_test_user(cls.env, "lead_approver", groups=f"{APPROVER},stock.group_stock_user")
        cls.company.distribution_lead_time_tolerance_pct = 20

    _decide = TestReorderRuleApproval._decide

    def _learned(self, median=13):
        return self.env["distribution.vendor.lead.time"].create(
            {
                "partner_id": self.vendor.id,
                "company_id": self.company.id,
                "receipt_count": 6,
                "median_days": median,
                "p90_days": median + 2,
                "planned_days": 7,
                "drifting": True,
                "computed_at": "2026-01-01 00:00:00",
            }
        )

    def test_beyond_the_tolerance_the_learned_lead_time_waits_for_approval(self):
        line = self._learned()
        line.with_user(self.manager).action_apply_learned_lead_time()
        request = line.distribution_approval_request_id
        self.assertRecordValues(request, [{"state": "pending", "request_type": "lead_time_change"}])
        self.assertEqual(self.bolt.seller_ids.delay, 7)
        with self.assertRaises(UserError):
            line.with_user(self.planner).action_apply_learned_lead_time()
        self._decide(request, self.approver, "approve", "Confirmed with the vendor: new plant.")
        self.assertEqual((self.bolt.seller_ids.delay, self.nut.seller_ids.delay), (13, 13))
        self.assertFalse(line.drifting)

    def test_an_approval_does_not_apply_to_a_plan_changed_since(self):
        line = self._learned()
        line.with_user(self.planner).action_apply_learned_lead_time()
        request = line.distribution_approval_request_id
        line._apply_days(9)  # applied meanwhile (a smaller correction)
        self._decide(request, self.approver, "approve", "Ok.")
        self.assertEqual(self.bolt.seller_ids.delay, 9)

    def test_within_the_tolerance_no_approval_is_asked(self):
        line = self._learned(median=8)
        line.with_user(self.planner).action_apply_learned_lead_time()
        self.assertFalse(line.distribution_approval_request_id)
        self.assertEqual(self.bolt.seller_ids.delay, 8)
