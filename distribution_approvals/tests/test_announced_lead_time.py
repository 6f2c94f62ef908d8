import time
import uuid

from odoo import Command
from odoo.addons.distribution_orchestration.services import signature
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tests import new_test_user
from odoo.tests import tagged

from .common import APPROVER
from .common import ApprovalHttpCase

SOURCE = "supplier_lead_time:%s"


@tagged("post_install", "-at_install")
class TestAnnouncedLeadTimeApproval(ApprovalHttpCase):
    """A vendor's lead time announced by a supplier update (a real signed webhook) beyond the tolerance waits
    for a ``lead_time_change`` approval on the vendor; approved, it is written on the price list lines still
    planned as they were, and the announcement's exception resolves."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.distribution_lead_time_tolerance_pct = 20
        cls.endpoint = cls.env["distribution.inbound.endpoint"].create(
            {
                "name": "Supplier",
                "code": "test-announced-lead",
                "handler": "supplier_update",
                "secret": "announced-secret-Rt55",
            }
        )
        cls.Event = cls.env["distribution.inbound.event"]
        # Events already waiting (a demo database has one) are processed first: each test processes its own.
        cls.Event._cron_process()
        cls.Exception = cls.env["distribution.exception"]
        cls.vendor = cls.env["res.partner"].create({"name": "Announcing Vendor"})
        cls.bolt, cls.nut = (
            cls.env["product.product"].create(
                {
                    "name": name,
                    "default_code": code,
                    "type": "consu",
                    "standard_price": 2.0,
                    "seller_ids": [Command.create({"partner_id": cls.vendor.id, "delay": 7, "price": 2.0})],
                }
            )
            for name, code in (("Announced Bolt", "ANN-B"), ("Announced Nut", "ANN-N"))
        )
        cls.purchase = cls.env["purchase.order"].create(
            {
                "partner_id": cls.vendor.id,
                "order_line": [
                    Command.create({"product_id": product.id, "product_qty": 5, "price_unit": 2.0})
                    for product in (cls.bolt, cls.nut)
                ],
            }
        )
        cls.purchase.button_confirm()
        cls.dist_user = new_test_user(
            cls.env, "ann_dist_user", groups="distribution_observability.group_distribution_user"
        )
        cls.rule = cls.Rule.create(
            {
                "name": "Announced lead times",
                "request_type": "lead_time_change",
                "tier_ids": [
                    Command.create(
                        {
                            "name": "Buyers",
                            "approver_type": "user",
                            "user_ids": [Command.set((cls.approver_1 | cls.approver_2).ids)],
                        }
                    )
                ],
            }
        )

    # -- helpers ---------------------------------------------------------------------------------
    def _post(self, days, event_id=None):
        event_id = event_id or str(uuid.uuid4())
        body = signature.envelope(
            event_id,
            "supplier.update",
            "2026-11-30T10:00:00Z",
            self.company.name,
            {"purchase_order": self.purchase.name, "lead_time_days": days, "lines": []},
        )
        headers = signature.headers(self.endpoint.secret, "supplier.update", event_id, int(time.time()), body)
        headers["Content-Type"] = "application/json"
        response = self.opener.post(
            f"{self.base_url()}/distribution/webhook/{self.endpoint.code}", data=body, headers=headers, timeout=12
        )
        self.assertLess(response.status_code, 300, response.text)
        return event_id

    def _announce(self, days, event_id=None, user=None):
        """Send a supplier update announcing ``days`` and process the inbox (as the scheduled action does)."""
        event_id = self._post(days, event_id)
        (self.Event.with_user(user) if user else self.Event)._cron_process()
        event = self.Event.search([("endpoint_id", "=", self.endpoint.id), ("event_id", "=", event_id)])
        self.assertEqual(event.state, "done", event.error)
        return event

    def _exception(self):
        return self.Exception.search(
            [("source_key", "=", SOURCE % self.vendor.id), ("res_model", "=", "res.partner")], order="id desc"
        )

    def _requests(self):
        return self.Request.search(
            [
                ("res_model", "=", "res.partner"),
                ("res_id", "=", self.vendor.id),
                ("request_type", "=", "lead_time_change"),
            ]
        )

    def _delays(self):
        return (self.bolt.seller_ids.delay, self.nut.seller_ids.delay)

    def _decide(self, request, user, decision, comment):
        action = getattr(request.with_user(user), f"action_{decision}")()
        self.env[action["res_model"]].with_user(user).with_context(**action["context"]).create(
            {"comment": comment}
        ).action_confirm()

    # -- the flow --------------------------------------------------------------------------------
    def test_beyond_the_tolerance_waits_then_the_approval_writes_it_and_resolves_the_exception(self):
        self._announce(14)
        request = self._requests()
        self.assertRecordValues(
            request,
            [
                {
                    "state": "pending",
                    "rule_id": self.rule.id,
                    # The inbox is processed by the scheduled action's user: no person is the requester.
                    "requested_by_id": self.env.ref("base.user_root").id,
                }
            ],
        )
        self.assertEqual(self._delays(), (7, 7), "nothing written while pending")
        payload = request.payload
        self.assertEqual(payload["days"], 14)
        self.assertEqual(
            sorted((line["supplierinfo_id"], line["planned_days"]) for line in payload["lines"]),
            sorted((info.id, 7) for info in self.bolt.seller_ids | self.nut.seller_ids),
        )
        self.assertIn("14 days", request.reason)
        exception = self._exception()
        self.assertRecordValues(
            exception,
            [{"state": "waiting_approval", "approval_request_id": request.id, "category": "lead_time_drift"}],
        )
        self.assertIn(request.name, exception.message)
        self.assertEqual(exception.message.count(request.name), 1)
        # While the request is pending, it settles the exception: nobody closes it by hand.
        exception.with_user(self.manager).resolution_note = "Talked to the vendor."
        with self.assertRaises(UserError):
            exception.with_user(self.manager).action_dismiss()

        self._decide(request, self.approver_1, "approve", "Confirmed by the vendor's sales rep.")
        self.assertEqual(request.state, "approved")
        self.assertEqual(self._delays(), (14, 14))
        self.assertEqual(exception.state, "resolved")
        self.assertIn(request.name, exception.resolution_note)
        self.assertIn("14 days", self.vendor.message_ids[0].body)

    def test_an_approval_writes_nothing_on_a_plan_changed_since_and_says_so(self):
        self._announce(14)
        request = self._requests()
        # A buyer corrects the plan meanwhile.
        self.bolt.seller_ids.delay = 9
        self.nut.seller_ids.delay = 8
        self._decide(request, self.approver_1, "approve", "Ok.")
        self.assertEqual(request.state, "approved")
        self.assertEqual(self._delays(), (9, 8), "nothing written on a plan that changed")
        exception = self._exception()
        self.assertEqual(exception.state, "in_progress", "back to a person")
        self.assertIn("nothing was written", exception.resolution_note)
        self.assertIn("Announced Bolt", exception.resolution_note)
        self.assertIn("nothing was written", request.message_ids[0].body)
        # Decided: a person may now close it.
        exception.with_user(self.manager).write({"resolution_note": "The buyer's plan stands."})
        exception.with_user(self.manager).action_dismiss()
        self.assertEqual(exception.state, "dismissed")

    def test_only_the_lines_still_planned_as_asked_are_written(self):
        self._announce(14)
        request = self._requests()
        self.bolt.seller_ids.delay = 9
        self._decide(request, self.approver_1, "approve", "Ok.")
        self.assertEqual(self._delays(), (9, 14))
        self.assertEqual(self._exception().state, "in_progress")

    def test_the_same_announcement_asks_once(self):
        event_id = self._announce(14).event_id
        request = self._requests()
        # The same event sent again is not stored twice, so not applied twice.
        self._post(14, event_id=event_id)
        self.Event._cron_process()
        self.assertEqual(self.Event.search_count([("endpoint_id", "=", self.endpoint.id)]), 1)
        # The same days announced again (another update of the vendor) while the request waits: no second request.
        self._announce(14)
        self.assertEqual(self._requests(), request)
        self.assertEqual(request.state, "pending")
        exception = self._exception()
        self.assertEqual(len(exception), 1)
        self.assertEqual(exception.state, "waiting_approval")
        self.assertEqual(exception.message.count(request.name), 1)
        # Other days: they replace the request waiting.
        self._announce(21)
        requests = self._requests()
        self.assertEqual(len(requests), 2)
        newer = requests - request
        self.assertEqual((request.state, newer.state), ("cancelled", "pending"))
        self.assertEqual(newer.payload["days"], 21)
        self.assertRecordValues(exception, [{"state": "waiting_approval", "approval_request_id": newer.id}])

    def test_a_rejection_leaves_the_exception_to_a_person_and_is_not_asked_again(self):
        self._announce(14)
        request = self._requests()
        self._decide(request, self.approver_1, "reject", "The vendor's plant is back next week.")
        self.assertEqual(self._delays(), (7, 7))
        exception = self._exception()
        self.assertEqual(exception.state, "in_progress")
        self.assertIn("plant is back next week", exception.resolution_note)
        # The vendor repeats itself: the refusal stands, nobody is asked again.
        self._announce(14)
        self.assertEqual(self._requests(), request)
        self.assertEqual(exception.state, "in_progress")
        self.assertIn("plant is back next week", exception.message)
        # A person closes it.
        exception.with_user(self.manager).write({"resolution_note": "Agreed 7 days with the vendor."})
        exception.with_user(self.manager).action_dismiss()
        self.assertEqual(exception.state, "dismissed")

    def test_a_withdrawn_request_sends_the_exception_back(self):
        self._announce(14)
        request = self._requests()
        request.with_user(self.manager).action_cancel()
        self.assertEqual(self._exception().state, "in_progress")
        self.assertEqual(self._delays(), (7, 7))

    def test_within_the_tolerance_it_is_written_without_a_request(self):
        self._announce(8)  # 7 -> 8: 14% < 20%
        self.assertEqual(self._delays(), (8, 8))
        self.assertFalse(self._requests())
        self.assertFalse(self._exception())

    def test_auto_approved_under_the_matrix(self):
        # A rule that approves at once (any amount under 1: a lead time has no amount) still records the
        # request, writes the days and closes the exception.
        self.rule.auto_approve_below = 1
        self._announce(14)
        request = self._requests()
        self.assertRecordValues(request, [{"state": "approved", "auto_approved": True}])
        self.assertEqual(self._delays(), (14, 14))
        self.assertEqual(self._exception().state, "resolved")

    # -- attacks ---------------------------------------------------------------------------------
    def test_the_inbox_user_never_approves_what_it_asked(self):
        # An administrator runs the inbox as an integration user who is also a buyer approving lead times:
        # the request is theirs, and the matrix leaves them out of its approvers.
        bot = new_test_user(
            self.env,
            "ann_inbox_bot",
            groups=(
                "base.group_system,purchase.group_purchase_manager,sales_team.group_sale_manager,"
                f"stock.group_stock_manager,distribution_observability.group_distribution_manager,{APPROVER}"
            ),
        )
        self.rule.tier_ids.user_ids = [Command.link(bot.id)]
        self._announce(14, user=bot)
        request = self._requests()
        self.assertEqual(request.requested_by_id, bot)
        self.assertNotIn(bot, request.current_approver_ids)
        with self.assertRaisesRegex(AccessError, "someone else must decide"):
            request.with_user(bot)._decide("approve", "Mine.")
        with self.assertRaises(UserError):
            request.with_user(bot).action_approve()
        self.assertEqual(self._delays(), (7, 7))

    def test_a_distribution_user_cannot_approve_nor_forge_the_link_or_the_payload(self):
        self._announce(14)
        request = self._requests()
        exception = self._exception()
        self.rpc_login(self.dist_user)
        contexts = [{}, {"active_test": False}, {"distribution_approved": True, "distribution_system": True}]
        for context in contexts:
            with self.subTest(context=context):
                self.assertRpcRefused("distribution.approval.request", "action_approve", [request.id], context=context)
                self.assertRpcRefused(
                    "distribution.approval.request",
                    "write",
                    [request.id],
                    {"payload": dict(request.payload, days=1), "state": "approved"},
                    context=context,
                )
                self.assertRpcRefused(
                    "distribution.exception", "write", [exception.id], {"approval_request_id": False}, context=context
                )
                self.assertRpcRefused(
                    "distribution.exception", "write", [exception.id], {"state": "resolved"}, context=context
                )
                self.assertRpcRefused(
                    "res.partner", "_apply_announced_lead_time", [self.vendor.id], request.id, context=context
                )
                self.assertRpcRefused(
                    "res.partner", "_distribution_approval_approved", [self.vendor.id], request.id, context=context
                )
        # Not even from server code run as them: the link is the approval's own, sudo or not.
        with self.assertRaises(AccessError):
            exception.with_user(self.dist_user).sudo().write({"approval_request_id": False})
        with self.assertRaises(AccessError):
            request.with_user(self.dist_user)._decide("approve", "Looks fine.")
        self.assertEqual(request.state, "pending")
        self.assertEqual(request.payload["days"], 14)
        self.assertRecordValues(exception, [{"state": "waiting_approval", "approval_request_id": request.id}])
        self.assertEqual(self._delays(), (7, 7))
