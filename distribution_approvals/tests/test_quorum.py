import json

from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import ApprovalCase


@tagged("post_install", "-at_install")
class TestUnreachableQuorum(ApprovalCase):
    """A tier that can never reach its quorum is refused where it can be known; a tier that cannot
    reach it once the requester is left out goes to the Distribution Managers; a request stuck all the
    same is decided by a Distribution Manager (never its requester), who says why, in the audit trail."""

    def _stuck_request(self, requester=None):
        """Four-eyes, two tiers: the only other approver of tier 2 approved tier 1, so tier 2 (quorum 2)
        can get one approval at most, and it has no escalation."""
        self._rule(
            tiers=[
                self._users_tier("First", self.approver_1),
                self._users_tier("Second", self.approver_1 | self.approver_2, min_approvals=2),
            ],
            four_eyes=True,
            sequence=1,
        )
        requester = requester or self.requester
        request = self._request(record=self._order(user=requester), user=requester)
        request.with_user(self.approver_1)._decide("approve")
        self.assertEqual(request.current_tier_id.name, "Second")
        return request

    def test_unreachable_tiers_are_refused(self):
        small_group = self.env["res.groups"].create(
            {"name": "Two approvers", "users": (self.approver_1 | self.approver_2).ids}
        )
        cases = [
            {"name": "Group", "approver_type": "group", "group_id": small_group.id, "min_approvals": 3},
            {"name": "Leader", "approver_type": "team_leader", "min_approvals": 2},
            self._users_tier("Named", self.approver_1 | self.approver_2, min_approvals=3),
        ]
        for tier in cases:
            with self.subTest(tier=tier["name"]), self.assertRaisesRegex(ValidationError, "could never be decided"):
                self._rule(tiers=[tier])
        rule = self._rule(
            tiers=[{"name": "Group", "approver_type": "group", "group_id": small_group.id, "min_approvals": 2}]
        )
        with self.assertRaisesRegex(ValidationError, "could never be decided"):
            rule.tier_ids.write({"min_approvals": 3})

    def test_requester_left_out_routes_the_tier_to_the_managers(self):
        self._rule(tiers=[self._users_tier("Pair", self.approver_1 | self.requester, min_approvals=2)])
        request = self._request()
        tier = request.current_tier_id
        self.assertNotIn(self.requester, tier.approver_ids)
        self.assertIn(self.approver_1, tier.approver_ids)
        self.assertIn(self.manager, tier.approver_ids, "the Distribution Managers make up for the requester")
        self.assertFalse(request._is_stuck())
        routed = self.Audit.search(
            [("res_model", "=", request._name), ("res_id", "=", request.id), ("action", "=", "escalated")]
        )
        self.assertEqual(json.loads(routed.data)["details"]["outcome"], "unreachable_quorum")
        request.with_user(self.approver_1)._decide("approve")
        request.with_user(self.manager)._decide("approve", "Checked in place of the requester")
        self.assertEqual(request.state, "approved")

    def test_an_escalation_that_can_reach_the_quorum_is_waited_for(self):
        tier = self._users_tier("Pair", self.approver_1 | self.requester, min_approvals=2, sla_hours=4.0)
        tier["escalation_ids"] = [(0, 0, {"delay_hours": 0, "user_id": self.approver_2.id})]
        self._rule(tiers=[tier])
        request = self._request()
        self.assertEqual(request.current_tier_id.approver_ids, self.approver_1)
        self.assertFalse(request._is_stuck(), "its escalation adds an approver once overdue")

    def test_a_manager_decides_a_stuck_request_saying_why(self):
        request = self._stuck_request()
        self.assertTrue(request._is_stuck())
        self.assertTrue(request.with_user(self.manager).can_manager_decide)
        self.assertFalse(request.with_user(self.approver_2).can_manager_decide)
        with self.assertRaises(AccessError):
            request.with_user(self.approver_2)._manager_decide("approve", "I am an approver")
        with self.assertRaisesRegex(UserError, "Say why"):
            request.with_user(self.manager)._manager_decide("approve", "  ")

        action = request.with_user(self.manager).action_manager_decide()
        wizard = (
            self.env[action["res_model"]]
            .with_user(self.manager)
            .with_context(**action["context"])
            .create({"comment": "Approver on leave, checked the figures"})
        )
        wizard.action_confirm()
        self.assertEqual(request.state, "approved")
        decision = request.decision_ids.filtered("manager_override")
        self.assertEqual((decision.user_id, decision.comment), (self.manager, "Approver on leave, checked the figures"))
        entry = self.Audit.search(
            [("res_model", "=", request._name), ("res_id", "=", request.id), ("action", "=", "manager_decided")]
        )
        self.assertEqual(entry.actor_id, self.manager)
        details = json.loads(entry.data)["details"]
        self.assertEqual(
            (details["decision"], details["reason"]), ("approve", "Approver on leave, checked the figures")
        )

    def test_the_way_out_is_for_stuck_requests_and_never_for_the_requester(self):
        self._rule(tiers=[self._users_tier("One", self.approver_1)])
        request = self._request()
        self.assertFalse(request._is_stuck())
        with self.assertRaisesRegex(UserError, "can still be decided by its approvers"):
            request.with_user(self.manager)._manager_decide("approve", "Faster")

        own = self._stuck_request(requester=self.manager)
        self.assertTrue(own._is_stuck())
        with self.assertRaisesRegex(AccessError, "someone else must decide"):
            own.with_user(self.manager)._manager_decide("approve", "My own request")
        self.assertEqual(own.state, "pending")
