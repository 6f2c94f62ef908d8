import json
import secrets
import time
import uuid
from urllib.parse import urlsplit

from odoo.addons.distribution_orchestration.services import signature
from odoo.tests import new_test_user
from odoo.tests import tagged

from .common import ApprovalHttpCase

CHANNEL = "slack via n8n"


@tagged("post_install", "-at_install")
class TestToolDecisions(ApprovalHttpCase):
    """Approval decisions taken in a collaboration tool (Slack through n8n): the ``approval.requested`` event
    carries each approver's link and token, and the tool posts the decision back, signed, to the inbox's
    ``approval_decision`` handler (real HTTP), which applies it through the path of a decision in Odoo, with
    its checks; every decision enters the audit chain with its channel."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.endpoint = cls.env["distribution.inbound.endpoint"].create(
            {
                "name": "Approvals from Slack",
                "code": "test-approval-decisions",
                "handler": "approval_decision",
                "secret": "decisions-secret-Qz81",
            }
        )
        cls.env["distribution.outbound.endpoint"].create(
            {"name": "n8n approvals", "url": "https://n8n.example.com/hook", "event_types": "approval.requested"}
        )
        cls.Event = cls.env["distribution.inbound.event"]
        # Events already waiting (a demo database has some) are processed first: each test processes its own.
        cls.Event._cron_process()
        cls.dist_user = new_test_user(
            cls.env, "apr_tool_dist_user", groups="distribution_observability.group_distribution_user"
        )
        cls.rule = cls._rule(
            cls,
            request_type="custom",
            tiers=[
                cls._users_tier(cls, "Sales", cls.approver_1 | cls.approver_2),
                cls._users_tier(cls, "Finance", cls.approver_3),
            ],
        )

    def setUp(self):
        super().setUp()
        self.request = self._request(request_type="custom", amount=2500.0, reason="Rush shipment").with_env(self.env)
        self.tier = self.request.current_tier_id

    # -- helpers ---------------------------------------------------------------------------------
    def _links(self, request=None):
        """{login: link} of the latest ``approval.requested`` event of the request."""
        request = request or self.request
        event = self.env["distribution.outbound.event"].search(
            [("event_type", "=", "approval.requested"), ("res_model", "=", request._name), ("res_id", "=", request.id)],
            order="id desc",
            limit=1,
        )
        self.assertTrue(event, "the request was announced")
        return {link["login"]: link for link in json.loads(event.payload)["data"]["decision_links"]}

    def _post(self, data, event_id=None, secret=None):
        event_id = event_id or str(uuid.uuid4())
        body = signature.envelope(event_id, "approval.decision", "2026-11-30T10:00:00Z", self.company.name, data)
        headers = signature.headers(
            secret or self.endpoint.secret, "approval.decision", event_id, int(time.time()), body
        )
        headers["Content-Type"] = "application/json"
        response = self.opener.post(
            f"{self.base_url()}/distribution/webhook/{self.endpoint.code}", data=body, headers=headers, timeout=12
        )
        return response, event_id

    def _send(self, user, decision, token=None, comment=None, actor=None, event_id=None):
        """Post ``user``'s decision as the tool does, process the inbox as the scheduled action does, and
        answer the inbox event."""
        token = token or self._links()[user.login]["token"]
        data = {
            "request": self.request.name,
            "token": token,
            "decision": decision,
            "comment": comment,
            "actor": actor or user.login,
            "channel": CHANNEL,
        }
        response, event_id = self._post(data, event_id)
        self.assertIn(response.status_code, (200, 202), response.text)
        self.Event._cron_process()
        self.env.invalidate_all()
        return self.Event.search([("endpoint_id", "=", self.endpoint.id), ("event_id", "=", event_id)])

    def _decision_audit(self):
        return self.Audit.search(
            [
                ("res_model", "=", self.request._name),
                ("res_id", "=", self.request.id),
                ("action", "in", ("approved", "rejected")),
            ],
            order="sequence",
        )

    def _assert_refused(self, event, reason_code, text):
        self.assertEqual(event.state, "exception", event.result)
        self.assertEqual(event.exception_id.reason_code, reason_code)
        self.assertEqual(event.exception_id.kind, "business")
        self.assertIn(text, event.error)
        self.assertRecordValues(self.request, [{"state": "pending", "current_tier_id": self.tier.id}])
        self.assertFalse(self.request.decision_ids, "nothing was decided")
        self.assertFalse(self._decision_audit())

    def _assert_chain_holds(self):
        self.assertIsNone(self.Audit._verify_chain(self.company)["reason"])

    # -- outbound --------------------------------------------------------------------------------
    def test_the_requested_event_carries_each_approvers_own_link_and_token(self):
        links = self._links()
        self.assertEqual(set(links), {self.approver_1.login, self.approver_2.login}, "the requester gets none")
        for user in (self.approver_1, self.approver_2):
            link = links[user.login]
            self.assertEqual(link["url"], self.tier._decision_url(user))
            self.assertEqual(link["token"], self.tier._decision_token(user))
            self.assertEqual((link["approver"], link["tier"]), (user.name, "Sales"))
            self.assertTrue(urlsplit(link["url"]).path.endswith(f"/{self.tier.id}/{user.id}/{link['token']}"))
        self.assertNotEqual(links[self.approver_1.login]["token"], links[self.approver_2.login]["token"])
        # The URL is the one-click link: it opens the approver's confirmation page.
        self.authenticate(self.approver_2.login, self.approver_2.login)
        page = self.url_open(urlsplit(links[self.approver_2.login]["url"]).path)
        self.assertEqual(page.status_code, 200)
        self.assertIn(self.request.name, page.text)
        self.assertEqual(self.request.state, "pending", "reading never decides")

    # -- inbound ---------------------------------------------------------------------------------
    def test_approve_through_the_tool_runs_every_tier_and_is_audited_with_its_channel(self):
        event = self._send(self.approver_1, "approve", comment="Fine by me")
        self.assertEqual(event.state, "done", event.error)
        self.assertIn("approved tier Sales", event.result)
        self.assertRecordValues(self.tier, [{"state": "approved"}])
        self.assertEqual(self.request.decision_ids.user_id, self.approver_1)
        # The next tier's approver is asked, with a link of their own, and decides the same way.
        finance = self.request.current_tier_id
        self.assertEqual(finance.name, "Finance")
        links = self._links()
        self.assertEqual(set(links), {self.approver_3.login})
        self.assertEqual(links[self.approver_3.login]["token"], finance._decision_token(self.approver_3))
        self.tier = finance
        self.assertEqual(self._send(self.approver_3, "approve").state, "done")
        self.assertEqual(self.request.state, "approved")
        entries = self._decision_audit()
        self.assertEqual(entries.actor_id.mapped("login"), [self.approver_1.login, self.approver_3.login])
        for entry, tier in zip(entries, ("Sales", "Finance"), strict=True):
            # The entry's canonical JSON (what its hash covers) holds the channel, the endpoint and the tier.
            for text in (CHANNEL, self.endpoint.code, tier):
                self.assertIn(json.dumps(text), entry.data)
        self._assert_chain_holds()

    def test_reject_needs_a_comment(self):
        token = self._links()[self.approver_1.login]["token"]
        for comment in (None, "", "   "):
            response, _event_id = self._post(
                {
                    "request": self.request.name,
                    "token": token,
                    "decision": "reject",
                    "comment": comment,
                    "actor": self.approver_1.login,
                }
            )
            self.assertEqual(response.status_code, 400, response.text)
            self.assertIn("data.comment is required to reject", response.json()["problems"])
        rejections = self.env["distribution.inbound.rejection"].search([("endpoint_id", "=", self.endpoint.id)])
        self.assertEqual(len(rejections), 3, "every refusal is recorded")
        self.Event._cron_process()
        self.assertFalse(self.Event.search([("endpoint_id", "=", self.endpoint.id)]), "nothing was stored")
        self.assertEqual(self.request.state, "pending")

        event = self._send(self.approver_1, "reject", comment="Margin too thin")
        self.assertEqual(event.state, "done", event.error)
        self.assertRecordValues(self.request, [{"state": "rejected", "decision_comment": "Margin too thin"}])
        entry = self._decision_audit()
        self.assertEqual((entry.action, entry.actor_id), ("rejected", self.approver_1))
        self.assertIn(CHANNEL, entry.data)
        self._assert_chain_holds()

    def test_a_token_of_another_approver_is_refused(self):
        # The tool says approver 1 clicked, with approver 2's token: it may not decide for someone else.
        event = self._send(self.approver_1, "approve", token=self._links()[self.approver_2.login]["token"])
        self._assert_refused(event, "approval_token_of_another_user", "was issued to")
        # A token Odoo never issued, or one of another request.
        event = self._send(self.approver_1, "approve", token=secrets.token_hex(32))
        self._assert_refused(event, "approval_invalid_token", "not one Odoo issued")
        other = self._request(request_type="custom").with_env(self.env)
        event = self._send(self.approver_1, "approve", token=self._links(other)[self.approver_1.login]["token"])
        self._assert_refused(event, "approval_invalid_token", "not one Odoo issued")
        self.assertEqual(other.state, "pending")
        # An actor Odoo does not know decides nothing either.
        event = self._send(self.approver_1, "approve", actor="nobody@example.com")
        self._assert_refused(event, "approval_unknown_actor", "nobody@example.com")
        self._assert_chain_holds()

    def test_the_requesters_own_token_is_refused(self):
        own = self.tier._decision_token(self.requester)
        event = self._send(self.requester, "approve", token=own)
        self._assert_refused(event, "approval_self_approval", "segregation of duties")
        # A valid signature for someone who is not an approver of the tier is refused as well.
        event = self._send(self.approver_3, "approve", token=self.tier._decision_token(self.approver_3))
        self._assert_refused(event, "approval_not_approver", "not an approver")

    def test_decided_twice_has_no_second_effect(self):
        self.rule.tier_ids[1].unlink()
        self.request = self._request(request_type="custom").with_env(self.env)
        self.tier = self.request.current_tier_id
        event_id = str(uuid.uuid4())
        first = self._send(self.approver_1, "approve", event_id=event_id)
        self.assertEqual(first.state, "done", first.error)
        self.assertEqual(self.request.state, "approved")
        # The same event again (the tool's retry) is a duplicate; the same click again and the other
        # approver's late rejection answer "already decided" and change nothing.
        response, _event_id = self._post(
            {
                "request": self.request.name,
                "token": self._links()[self.approver_1.login]["token"],
                "decision": "approve",
                "actor": self.approver_1.login,
            },
            event_id=event_id,
        )
        self.assertEqual((response.status_code, response.json()["status"]), (200, "duplicate"))
        again = self._send(self.approver_1, "approve")
        late = self._send(self.approver_2, "reject", comment="Too late?")
        for event in (again, late):
            self.assertEqual(event.state, "done", event.error)
            self.assertTrue(event.result.startswith("Already decided"), event.result)
            self.assertFalse(event.exception_id)
        self.assertRecordValues(self.request, [{"state": "approved", "decision_comment": False}])
        self.assertEqual(len(self.request.decision_ids), 1)
        self.assertEqual(len(self._decision_audit()), 1)
        self._assert_chain_holds()

    def test_a_quorum_tier_waits_and_a_second_click_of_the_same_approver_changes_nothing(self):
        self.rule.tier_ids[0].min_approvals = 2
        self.rule.tier_ids[1].unlink()
        self.request = self._request(request_type="custom").with_env(self.env)
        self.tier = self.request.current_tier_id
        self.assertEqual(self._send(self.approver_1, "approve").state, "done")
        again = self._send(self.approver_1, "approve")
        self.assertTrue(again.result.startswith("Already decided"), again.result)
        self.assertEqual((self.request.state, len(self.request.decision_ids)), ("pending", 1))
        self.assertEqual(self._send(self.approver_2, "approve").state, "done")
        self.assertEqual(self.request.state, "approved")
        self.assertEqual(len(self._decision_audit()), 2)
        self._assert_chain_holds()

    # -- attacks ---------------------------------------------------------------------------------
    def test_a_distribution_user_who_reads_the_tokens_cannot_decide_with_them(self):
        # The lowest user who reaches the tokens: a Distribution User reads the outbox (and the inbox).
        token = self._links()[self.approver_1.login]["token"]
        self.rpc_login(self.dist_user)
        result, error = self.rpc(
            "distribution.outbound.event",
            "search_read",
            [("event_type", "=", "approval.requested"), ("res_id", "=", self.request.id)],
            fields=["payload"],
        )
        self.assertIsNone(error)
        self.assertIn(token, result[0]["payload"])
        # Without the inbox endpoint's secret the inbox refuses the decision (and logs the refusal) ...
        response, _event_id = self._post(
            {"request": self.request.name, "token": token, "decision": "approve", "actor": self.approver_1.login},
            secret="guessed-secret",
        )
        self.assertEqual(response.status_code, 401, response.text)
        # ... the one-click link asks for the approver's own session ...
        page = self.url_open(urlsplit(self.tier._decision_url(self.approver_1)).path)
        self.assertEqual(page.status_code, 403)
        # ... and no door of theirs applies an event, an endpoint or a decision.
        event = self._send(self.approver_1, "approve", token=secrets.token_hex(32))
        self.assertEqual(event.state, "exception")
        self.rpc_login(self.dist_user)
        contexts = [{}, {"active_test": False}, {"distribution_system": True}]
        for context in contexts:
            with self.subTest(context=context):
                self.assertRpcRefused(
                    "distribution.inbound.event",
                    "_handle_approval_decision",
                    [event.id],
                    {"request": self.request.name, "token": token, "decision": "approve", "actor": "x"},
                    context=context,
                )
                self.assertRpcRefused("distribution.inbound.event", "action_retry", [event.id], context=context)
                self.assertRpcRefused(
                    "distribution.inbound.event", "write", [event.id], {"state": "received"}, context=context
                )
                self.assertRpcRefused(
                    "distribution.inbound.endpoint",
                    "create",
                    {"name": "Mine", "code": "mine", "handler": "approval_decision", "secret": "mine"},
                    context=context,
                )
                self.assertRpcRefused(
                    "distribution.approval.request", "_decide", [self.request.id], "approve", context=context
                )
        self.env.invalidate_all()
        self.assertRecordValues(self.request, [{"state": "pending", "current_tier_id": self.tier.id}])
        self.assertFalse(self.request.decision_ids)
        self.assertEqual(event.state, "exception")
        self._assert_chain_holds()
