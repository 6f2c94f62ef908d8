import re

from odoo.tests import tagged

from .common_gates import GateAttackCase

# Context keys of the old code and likely-looking ones: none may decide, skip a check or open a door.
FORGED = {
    "distribution_audit_creating": ["distribution.approval.request"],
    "distribution_audit_append": True,
    "distribution_purchase_approved": True,
    "default_manager": True,
    "default_decision": "approve",
}


@tagged("post_install", "-at_install")
class TestAttackDecisions(GateAttackCase):
    """The decision door as the people who would abuse it, over JSON-RPC with forged contexts: the
    requester deciding their own request through every public method (buttons, wizard, the document's
    buttons, the one-click link), someone who is no approver, an approver deciding twice, the manager's
    way out used by a non-manager, and the requester reading the customer's financial figures."""

    def setUp(self):
        super().setUp()
        # The requester is named in the tier: the request must still never be theirs to decide.
        self._rule(tiers=[self._users_tier("Pair", self.requester | self.approver_1 | self.approver_2, 2)])
        self.request = self._request()
        self.assertEqual(self.request.state, "pending")

    def _decisions(self):
        self.request.invalidate_recordset()
        return self.request.decision_ids

    def _assert_nothing_decided(self):
        self.assertEqual(self.request.state, "pending")
        self.assertFalse(self._decisions())
        self.assertEqual(self._audit_actions(self.request)[-1], "requested")

    def _every_public_door(self, user):
        """Each public way to decide ``self.request``, tried as ``user`` with a forged context."""
        self.rpc_login(user)
        request_id = self.request.id
        self.assertRpcRefused("distribution.approval.request", "action_approve", [request_id], context=FORGED)
        self.assertRpcRefused("distribution.approval.request", "action_reject", [request_id], context=FORGED)
        for decision in ("approve", "reject"):
            wizard_id, error = self.rpc(
                "distribution.approval.decision.wizard",
                "create",
                {"request_id": request_id, "decision": decision, "comment": "Mine"},
                context=FORGED,
            )
            self.assertIsNone(error)
            self.assertRpcRefused(
                "distribution.approval.decision.wizard", "action_confirm", [wizard_id], context=FORGED
            )
        order = self.request._source()
        self.assertRpcRefused("sale.order", "action_distribution_approve", [order.id], context=FORGED)
        # Private verbs are no door: JSON-RPC refuses a method starting with an underscore.
        self.assertRpcRefused("distribution.approval.request", "_decide", [request_id], "approve", context=FORGED)
        self.assertRpcRefused("distribution.approval.request", "_finish", [request_id], "approved", "x", context=FORGED)
        # Writing the outcome directly.
        self.assertRpcRefused("distribution.approval.request", "write", [request_id], {"state": "approved"})
        self.assertRpcRefused(
            "distribution.approval.decision",
            "create",
            {"request_id": request_id, "user_id": user.id, "decision": "approve"},
        )

    def test_requester_cannot_decide_through_any_door(self):
        self.assertNotIn(self.requester, self.request.current_tier_id.approver_ids)
        self._every_public_door(self.requester)
        self._assert_nothing_decided()

    def test_requester_link_is_refused(self):
        """A link signed for the requester (the system never sends one) still decides nothing."""
        tier = self.request.current_tier_id
        path = tier._decision_path(self.requester)
        self.rpc_login(self.requester)
        page = self.url_open(path)
        self.assertEqual(page.status_code, 403)
        csrf_token = re.search(r'csrf_token: "([^"]+)"', page.text).group(1)
        response = self.url_open(f"{path}/decide", data={"decision": "approve", "csrf_token": csrf_token})
        self.assertEqual(response.status_code, 403)
        self._assert_nothing_decided()

    def test_non_approver_cannot_decide(self):
        self._every_public_door(self.approver_3)
        self._assert_nothing_decided()

    def test_deciding_twice_counts_once(self):
        self.rpc_login(self.approver_1)
        action, error = self.rpc("distribution.approval.request", "action_approve", [self.request.id])
        self.assertIsNone(error)
        wizard_id, _error = self.rpc(
            "distribution.approval.decision.wizard", "create", {"request_id": self.request.id, "decision": "approve"}
        )
        _result, error = self.rpc("distribution.approval.decision.wizard", "action_confirm", [wizard_id])
        self.assertIsNone(error)
        self.assertEqual(len(self._decisions()), 1)
        # The same wizard again, a new one, and the buttons: refused, the quorum of two is not reached by one.
        self.assertRpcRefused("distribution.approval.decision.wizard", "action_confirm", [wizard_id], context=FORGED)
        self.assertRpcRefused("distribution.approval.request", "action_approve", [self.request.id], context=FORGED)
        self.assertEqual(len(self._decisions()), 1)
        self.assertEqual(self.request.state, "pending")
        self.assertEqual(self._audit_actions(self.request), ["requested", "approved"])

    def test_managers_way_out_is_not_for_others(self):
        # Approver 2 leaves the tier's possible approvers: approver 1 approves, then nobody else can.
        self._decide(self.request, self.approver_1, "approve", "Fine")
        self.request.current_tier_id.sudo().write({"approver_ids": [(3, self.approver_2.id)]})
        self.request.invalidate_recordset()
        self.assertTrue(self.request._is_stuck())
        for user in (self.requester, self.approver_2, self.approver_3):
            with self.subTest(user=user.login):
                self.rpc_login(user)
                self.assertRpcRefused("distribution.approval.request", "action_manager_decide", [self.request.id])
                wizard_id, error = self.rpc(
                    "distribution.approval.decision.wizard",
                    "create",
                    {"request_id": self.request.id, "decision": "approve", "manager": True, "comment": "Let me"},
                    context=FORGED,
                )
                self.assertIsNone(error)
                self.assertRpcRefused("distribution.approval.decision.wizard", "action_confirm", [wizard_id])
        self.assertEqual(self.request.state, "pending")

        self.rpc_login(self.manager)
        action, error = self.rpc("distribution.approval.request", "action_manager_decide", [self.request.id])
        self.assertIsNone(error)
        wizard_id, _error = self.rpc(
            "distribution.approval.decision.wizard",
            "create",
            {"request_id": self.request.id, "decision": "reject", "manager": True, "comment": "Too risky"},
        )
        _result, error = self.rpc("distribution.approval.decision.wizard", "action_confirm", [wizard_id])
        self.assertIsNone(error)
        self.assertEqual(self.request.state, "rejected")
        self.assertEqual(self._audit_actions(self.request), ["requested", "approved", "manager_decided"])

    def test_requester_does_not_read_the_financial_snapshot(self):
        self.rpc_login(self.requester)
        self.assertRpcRefused("distribution.approval.request", "read", [self.request.id], ["context_snapshot"])
        rows, error = self.rpc("distribution.approval.request", "read", [self.request.id], ["context_html", "name"])
        self.assertIsNone(error)
        self.assertNotIn("Open receivables", rows[0]["context_html"] or "")
        rows, error = self.rpc("distribution.approval.request", "search_read", [("id", "=", self.request.id)])
        self.assertIsNone(error)
        self.assertNotIn("context_snapshot", rows[0])
        self.assertNotIn("Open receivables", rows[0]["context_html"] or "")

        self.rpc_login(self.approver_1)
        rows, error = self.rpc("distribution.approval.request", "read", [self.request.id], ["context_html"])
        self.assertIsNone(error)
        self.assertIn("Open receivables", rows[0]["context_html"])

    def test_unrelated_employee_reads_no_tier_or_decision(self):
        self._decide(self.request, self.approver_1, "approve", "Fine")
        self.rpc_login(self.stock_user)
        for model in (
            "distribution.approval.request",
            "distribution.approval.request.tier",
            "distribution.approval.decision",
        ):
            with self.subTest(model=model):
                ids, error = self.rpc(model, "search", [])
                self.assertIsNone(error)
                self.assertFalse(ids)
