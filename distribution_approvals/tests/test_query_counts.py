from odoo import Command
from odoo.tests import tagged

from .common import ApprovalCase


@tagged("post_install", "-at_install", "is_query_count")
class TestApprovalQueryCounts(ApprovalCase):
    """Queries of creating a request (one tier of a group of three approvers) as the requester and of
    approving it as an approver: mail tracking on, the commit hooks (tracking values) included, an empty
    record cache, after a warm-up request (registry caches filled, as on a running server). The source
    document is a contact: no document hook nor document context is part of the figures."""

    def setUp(self):
        super().setUp()
        # Mail tracking on; the assignment e-mails are not sent inside the transaction, as on a server (they
        # go after the commit there, while a test sends them at once).
        self.Request = self.Request.with_context(tracking_disable=False, mail_notify_force_send=False)
        approvers = self.approver_1 | self.approver_2 | self.approver_3
        group = self.env["res.groups"].create({"name": "Query count approvers", "users": [Command.set(approvers.ids)]})
        # An SLA of two days: the activities are due after today at any hour of the run. An activity due
        # today also notifies its assignee's activity counter (a bus message), so with the 8-hour default
        # the figures changed at 16:00 UTC, when the deadline moves to tomorrow.
        self._rule(tiers=[{"name": "Approvers", "approver_type": "group", "group_id": group.id, "sla_hours": 48}])
        warm_up = self._create_request("Warm-up")
        warm_up.with_user(self.approver_1)._decide("approve", "Warm-up")
        self._commit_hooks()

    def _commit_hooks(self):
        """Flush the ORM and run what a commit would run first (mail tracking)."""
        self.env.flush_all()
        self.env.cr.flush()

    def _create_request(self, name):
        partner = self.env["res.partner"].create({"name": name})
        return self.Request.with_user(self.requester)._request(partner, "discount", amount=1000.0)

    def test_create_request(self):
        partner = self.env["res.partner"].create({"name": "Measured"})
        self._commit_hooks()
        self.env.invalidate_all()
        # Measured: 89 queries, the same at every run (about 17 per approver: an activity, its assignment
        # notification and the approver's subscription; bench_approvals.py shows 1 against 3 approvers).
        with self.assertQueryCount(89):
            request = self.Request.with_user(self.requester)._request(partner, "discount", amount=1000.0)
            self._commit_hooks()
        self.assertEqual(request.state, "pending")
        self.assertEqual(len(request.activity_ids), 3)

    def test_approve_request(self):
        request = self._create_request("Measured")
        self._commit_hooks()
        self.env.invalidate_all()
        # Measured: 67 queries, the same at every run (the decision, the activity closed with the
        # feedback, the other two removed, the audit entry, the outbox, the request approved).
        with self.assertQueryCount(67):
            request.with_user(self.approver_1)._decide("approve", "Within the budget")
            self._commit_hooks()
        self.assertEqual(request.state, "approved")
        self.assertFalse(request.activity_ids)
