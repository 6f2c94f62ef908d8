import json
from datetime import date
from unittest.mock import patch

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import ApprovalCase

HOOKS = ("_distribution_approval_approved", "_distribution_approval_rejected", "_distribution_approval_cancelled")


@tagged("post_install", "-at_install")
class TestRequestFlow(ApprovalCase):
    """A request from the salesperson through its tiers to the decision, with the activities, the
    chatter, the audit trail and the document's call-backs."""

    def setUp(self):
        super().setUp()
        # Record the document call-backs instead of running them: what a document does on approval is
        # tested with the document; here, that it is called, once, with the request.
        self.hook_calls = []
        Order = type(self.env["sale.order"])
        for hook in HOOKS:

            def record_call(order, request, hook=hook):
                self.hook_calls.append((hook, order.id, request.id))

            patcher = patch.object(Order, hook, record_call, create=True)
            patcher.start()
            self.addCleanup(patcher.stop)

    def _activity_users(self, request):
        return self._approval_activities(request).user_id

    def _audit_actions(self, request):
        return self.Audit.search(
            [("res_model", "=", request._name), ("res_id", "=", request.id)], order="sequence"
        ).mapped("action")

    # -- tiers ---------------------------------------------------------------------------------
    def test_tiers_are_decided_in_order(self):
        self._rule(
            tiers=[
                self._users_tier("Sales manager", self.approver_1),
                self._users_tier("Finance", self.approver_2),
            ]
        )
        request = self._request()
        first, second = request.tier_ids.sorted("sequence")
        self.assertEqual((request.state, request.current_tier_id), ("pending", first))
        self.assertEqual((first.state, second.state), ("pending", "waiting"))
        self.assertEqual(self._activity_users(request), self.approver_1)
        self.assertFalse(second.approver_ids, "a waiting tier has no approvers yet")
        with self.assertRaisesRegex(AccessError, "not an approver of the current tier"):
            request.with_user(self.approver_2)._decide("approve")

        request.with_user(self.approver_1)._decide("approve", "Fine by sales")
        self.assertEqual((first.state, second.state), ("approved", "pending"))
        self.assertEqual(request.current_tier_id, second)
        self.assertEqual(self._activity_users(request), self.approver_2)
        self.assertEqual(request.state, "pending")
        self.assertFalse(self.hook_calls)

        request.with_user(self.approver_2)._decide("approve")
        self.assertEqual((request.state, second.state), ("approved", "approved"))
        self.assertFalse(request.current_tier_id)
        self.assertEqual(request.decision_ids.mapped("user_id"), self.approver_1 | self.approver_2)
        self.assertEqual(self.hook_calls, [("_distribution_approval_approved", request.res_id, request.id)])
        self.assertEqual(self._audit_actions(request), ["requested", "approved", "approved"])

    def test_quorum_two_of_three(self):
        self._rule(
            tiers=[self._users_tier("Committee", self.approver_1 | self.approver_2 | self.approver_3, min_approvals=2)]
        )
        request = self._request()
        self.assertEqual(self._activity_users(request), self.approver_1 | self.approver_2 | self.approver_3)
        request.with_user(self.approver_1)._decide("approve")
        self.assertEqual((request.state, request.tier_ids.state), ("pending", "pending"))
        self.assertEqual(self._activity_users(request), self.approver_2 | self.approver_3)
        with self.assertRaisesRegex(AccessError, "already decided"):
            request.with_user(self.approver_1)._decide("approve")

        request.with_user(self.approver_2)._decide("approve")
        self.assertEqual((request.state, request.tier_ids.state), ("approved", "approved"))
        self.assertFalse(self._approval_activities(request), "the third approver's activity is removed")
        with self.assertRaisesRegex(UserError, "not waiting for a decision"):
            request.with_user(self.approver_3)._decide("approve")

    # -- auto-approval -------------------------------------------------------------------------
    def test_under_the_threshold_approved_at_once_and_recorded(self):
        self._rule(auto_approve_below=500.0)
        request = self._request(amount=499.99)
        self.assertEqual(request.state, "approved")
        self.assertTrue(request.auto_approved)
        self.assertFalse(request.decision_ids, "nobody decided")
        self.assertFalse(self._approval_activities(request))
        self.assertEqual(self._audit_actions(request), ["requested", "auto_approved"])
        self.assertEqual(self.hook_calls, [("_distribution_approval_approved", request.res_id, request.id)])

        at_threshold = self._request(amount=500.0)
        self.assertEqual((at_threshold.state, at_threshold.auto_approved), ("pending", False))
        self.assertEqual(len(self.hook_calls), 1)

    # -- segregation of duties -----------------------------------------------------------------
    def test_requester_never_approves_own_request(self):
        self._rule(tiers=[self._users_tier("Pair", self.approver_1 | self.approver_2)])
        order = self._order(user=self.approver_1)
        request = self._request(record=order, user=self.approver_1)
        self.assertEqual(request.requested_by_id, self.approver_1)
        self.assertEqual(request.tier_ids.approver_ids, self.approver_2)
        self.assertEqual(self._activity_users(request), self.approver_2)
        self.assertFalse(request.with_user(self.approver_1).can_decide)
        with self.assertRaisesRegex(AccessError, "someone else must decide"):
            request.with_user(self.approver_1)._decide("approve")
        self.assertEqual(request.state, "pending")

    def test_requester_in_the_approver_group_is_no_approver(self):
        request = self._request(record=self._order(user=self.approver_1), user=self.approver_1)
        self.assertNotIn(self.approver_1, request.tier_ids.approver_ids)
        self.assertNotIn(self.approver_1, self._activity_users(request))
        with self.assertRaisesRegex(AccessError, "someone else must decide"):
            request.with_user(self.approver_1)._decide("approve")
        request.with_user(self.approver_2)._decide("approve")
        self.assertEqual(request.state, "approved")

    def _two_tiers_of_the_same_people(self, four_eyes):
        people = self.approver_1 | self.approver_2
        self._rule(four_eyes=four_eyes, tiers=[self._users_tier("First", people), self._users_tier("Second", people)])
        request = self._request()
        request.with_user(self.approver_1)._decide("approve")
        self.assertEqual(request.current_tier_id.name, "Second")
        return request

    def test_four_eyes_refuses_the_same_person_on_two_tiers(self):
        request = self._two_tiers_of_the_same_people(four_eyes=True)
        self.assertFalse(request.with_user(self.approver_1).can_decide)
        with self.assertRaisesRegex(AccessError, "four-eyes"):
            request.with_user(self.approver_1)._decide("approve")
        request.with_user(self.approver_2)._decide("approve")
        self.assertEqual(request.state, "approved")

    def test_without_four_eyes_one_person_may_approve_two_tiers(self):
        request = self._two_tiers_of_the_same_people(four_eyes=False)
        request.with_user(self.approver_1)._decide("approve")
        self.assertEqual(request.state, "approved")
        self.assertEqual(request.decision_ids.user_id, self.approver_1)

    # -- rejection -----------------------------------------------------------------------------
    def test_rejection_needs_a_comment_and_ends_the_request(self):
        self._rule(
            tiers=[
                self._users_tier("Sales", self.approver_1 | self.approver_2),
                self._users_tier("Finance", self.approver_3),
            ]
        )
        request = self._request()
        for comment in (None, "", "   "):
            with self.assertRaisesRegex(UserError, "comment is required"):
                request.with_user(self.approver_1)._decide("reject", comment)
        self.assertEqual(request.state, "pending")
        self.assertFalse(request.decision_ids)

        request.with_user(self.approver_1)._decide("reject", "Margin too thin")
        self.assertEqual(request.state, "rejected")
        self.assertEqual(request.decision_comment, "Margin too thin")
        self.assertEqual(request.tier_ids.sorted("sequence").mapped("state"), ["rejected", "cancelled"])
        self.assertFalse(self._approval_activities(request), "no approver is left with a reminder")
        self.assertEqual(self.hook_calls, [("_distribution_approval_rejected", request.res_id, request.id)])
        for user in (self.approver_2, self.approver_3, self.approver_1):
            with self.assertRaisesRegex(UserError, "not waiting for a decision"):
                request.with_user(user)._decide("approve")
        with self.assertRaises(UserError):
            request.with_user(self.requester).action_cancel()
        self.assertEqual(request.state, "rejected")
        self.assertEqual(self._audit_actions(request), ["requested", "rejected"])

    # -- activities ----------------------------------------------------------------------------
    def test_each_approver_sees_the_deadline_on_their_own_day(self):
        # Due at 23:30 UTC on 3 March: the 4th in Tokyo, the 3rd in New York.
        self.approver_1.tz, self.approver_2.tz = "Asia/Tokyo", "America/New_York"
        self._rule(tiers=[self._users_tier("Pair", self.approver_1 | self.approver_2, sla_hours=24.0)])
        with freeze_time("2026-03-02 23:30:00"):
            request = self._request()
        due = {activity.user_id: activity.date_deadline for activity in self._approval_activities(request)}
        self.assertEqual(due, {self.approver_1: date(2026, 3, 4), self.approver_2: date(2026, 3, 3)})

    def test_activities_per_approver_closed_with_the_comment(self):
        self._rule(tiers=[self._users_tier("Pair", self.approver_1 | self.approver_2, min_approvals=2, sla_hours=24.0)])
        with freeze_time("2026-03-02 08:00:00"):
            request = self._request()
        activities = self._approval_activities(request)
        self.assertEqual(len(activities), 2)
        self.assertEqual(activities.user_id, self.approver_1 | self.approver_2)
        self.assertEqual(set(activities.mapped("date_deadline")), {date(2026, 3, 3)})
        self.assertIn(request.name, activities[0].summary)

        request.with_user(self.approver_1)._decide("approve", "OK for me")
        self.assertEqual(self._activity_users(request), self.approver_2)
        done = request.message_ids.filtered(lambda m: m.mail_activity_type_id == request._activity_type())
        self.assertEqual(len(done), 1, "the activity is marked done, with a message in the chatter")
        self.assertIn("Approved: OK for me", done.body)
        self.assertEqual(done.author_id, self.approver_1.partner_id)

    # -- context -------------------------------------------------------------------------------
    def _invoice(self, amount, invoice_date):
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "invoice_date": invoice_date,
                "invoice_payment_term_id": self.env.ref("account.account_payment_term_30days").id,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "product_id": self.product.id,
                            "quantity": 1,
                            "price_unit": amount,
                            "tax_ids": [Command.clear()],
                        }
                    )
                ],
            }
        )
        invoice.action_post()
        return invoice

    @freeze_time("2026-06-01 09:00:00")
    def test_context_snapshot_of_the_customer(self):
        paid = self._invoice(1000.0, date(2026, 1, 10))  # due 2026-02-09
        self._invoice(400.0, date(2026, 3, 15))  # open
        self._invoice(250.0, date(2025, 4, 1))  # open, older than 12 months
        self.env["account.payment.register"].with_context(active_model="account.move", active_ids=paid.ids).create(
            {"payment_date": date(2026, 2, 19)}
        )._create_payments()
        self.assertEqual(paid.payment_state, "paid")

        request = self._request(record=self._order(partner=self.customer))
        self.assertEqual(request.sudo().context_snapshot["taken_at"], "2026-06-01 09:00:00")
        # The approver reads the figures; the requester does not, whatever the door.
        items = request.with_user(self.approver_1)._context_items()
        self.assertFalse(request.with_user(self.requester)._context_items())
        self.assertNotIn("Open receivables", request.with_user(self.requester).context_html)
        with self.assertRaises(AccessError):
            request.with_user(self.requester).read(["context_snapshot"])
        self.assertEqual(items["partner"]["value"], "Approval Customer")
        self.assertEqual(items["open_receivables"]["value"], 650.0)
        self.assertEqual(items["revenue_12m"]["value"], 1400.0)
        self.assertEqual(items["avg_payment_delay_days"]["value"], 10.0)
        self.assertIn("10.0 days (1 paid invoices)", items["avg_payment_delay_days"]["display"])
        self.assertIn("Open receivables", request.with_user(self.approver_1).context_html)

        other = self._request(record=self._order(partner=self.other_customer))
        items = {item["key"]: item for item in other.context_snapshot["items"]}
        self.assertEqual((items["open_receivables"]["value"], items["revenue_12m"]["value"]), (0.0, 0))
        self.assertIsNone(items["avg_payment_delay_days"]["value"])

    # -- cancellation --------------------------------------------------------------------------
    def test_requester_cancels_a_pending_request(self):
        self._rule(tiers=[self._users_tier("Pair", self.approver_1 | self.approver_2)])
        request = self._request()
        with self.assertRaisesRegex(AccessError, "Only the requester or a Distribution Manager"):
            request.with_user(self.approver_1).action_cancel()
        request.with_user(self.requester).action_cancel()
        self.assertEqual(request.state, "cancelled")
        self.assertEqual(request.tier_ids.state, "cancelled")
        self.assertFalse(self._approval_activities(request))
        self.assertEqual(self.hook_calls, [("_distribution_approval_cancelled", request.res_id, request.id)])
        self.assertEqual(self._audit_actions(request), ["requested", "cancelled"])
        with self.assertRaisesRegex(UserError, "already decided"):
            request.with_user(self.requester).action_cancel()
        with self.assertRaisesRegex(UserError, "not waiting for a decision"):
            request.with_user(self.approver_1)._decide("approve")

        by_manager = self._request()
        by_manager.with_user(self.manager).action_cancel()
        self.assertEqual(by_manager.state, "cancelled")

    # -- events --------------------------------------------------------------------------------
    def _events(self, request, event_type):
        return self.env["distribution.outbound.event"].search(
            [("event_type", "=", event_type), ("res_model", "=", request._name), ("res_id", "=", request.id)]
        )

    def test_requested_event_goes_to_subscribed_endpoints(self):
        self._rule(tiers=[self._users_tier("Sales", self.approver_1)])
        unheard = self._request()
        self.assertFalse(self._events(unheard, "approval.requested"), "no endpoint, no event")

        endpoint = self.env["distribution.outbound.endpoint"].create(
            {"name": "Approvals", "url": "https://approvals.example.com/hook", "event_types": "approval.requested"}
        )
        request = self._request(amount=1234.5, reason="Discount of 12% for a key account")
        event = self._events(request, "approval.requested")
        self.assertEqual((len(event), event.endpoint_id, event.state), (1, endpoint, "pending"))
        body = json.loads(event.payload)
        self.assertEqual(body["type"], "approval.requested")
        self.assertEqual(body["data"]["request"], request.name)
        self.assertEqual(body["data"]["amount"], 1234.5)
        self.assertEqual(body["data"]["approvers"], [self.approver_1.name])
        self.assertEqual(body["data"]["reason"], "Discount of 12% for a key account")

        request.with_user(self.approver_1)._decide("approve")
        self.assertFalse(self._events(request, "approval.approved"), "the endpoint did not subscribe to it")
