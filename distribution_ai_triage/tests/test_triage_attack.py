"""The triage attacked through the doors a Distribution User has, over JSON-RPC with a forged context: the
decision and review fields, the private verbs, another company's label, the providers' secrets."""

from odoo.addons.distribution_observability.tests.rpc import JsonRpcMixin
from odoo.tests import HttpCase
from odoo.tests import tagged

from .common import TriageCase

FORGED = {"distribution_triage": True, "active_test": False, "install_mode": True}


@tagged("post_install", "-at_install")
class TestTriageAttack(JsonRpcMixin, HttpCase, TriageCase):
    def _waiting(self):
        self._provider("openai_chat", api_key="sk-attack-secret")
        self.server.mode = "good"
        self.server.answers = {"quick question": ("order_status", 0.4)}
        message = self._message("Quick question about ACME-PO-7781")
        self._classify()
        self.assertEqual(message.state, "needs_review")
        return message

    def test_the_decision_and_the_review_are_the_triage_s_own(self):
        message = self._waiting()
        self.rpc_login(self.desk)
        attempts = {
            "state": "reviewed",
            "review_outcome": "accepted",
            "reviewed_by_id": self.manager.id,
            "suggested_label_id": self.label_other.id,
            "label_id": self.label_other.id,
            "confidence": 1.0,
            "decision_reason": "auto_routed",
            "company_id": self.company.id,
            "commercial_partner_id": self.other_customer.id,
        }
        for name, value in attempts.items():
            with self.subTest(field=name):
                self.assertRpcRefused(
                    "distribution.triage.message", "write", message.ids, {name: value}, context=FORGED
                )
        self.assertEqual((message.state, message.review_outcome), ("needs_review", False))
        for method in ("_write_as_system", "_route", "_triage_create", "_classify"):
            with self.subTest(method=method):
                self.assertRpcRefused("distribution.triage.message", method, message.ids, context=FORGED)
        self.assertRpcRefused(
            "distribution.triage.message", "create", [{"name": "forged", "state": "reviewed"}], context=FORGED
        )
        # The desk's own verbs and fields work.
        _result, error = self.rpc("distribution.triage.message", "write", message.ids, {"user_id": self.desk.id})
        self.assertIsNone(error)
        _result, error = self.rpc("distribution.triage.message", "action_accept", message.ids, context=FORGED)
        self.assertIsNone(error)
        self.assertEqual((message.state, message.reviewed_by_id), ("reviewed", self.desk))

    def test_another_company_s_label_and_the_secrets(self):
        message = self._waiting()
        other = self.env["res.company"].create({"name": "Attack Other Co"})
        foreign = self.Label.create(
            {"code": "foreign_label", "name": "Foreign", "description": "x", "company_id": other.id}
        )
        self.desk.write({"company_ids": [(4, other.id)]})
        self.rpc_login(self.desk)
        self.assertRpcRefused("distribution.triage.message", "action_correct", message.ids, foreign.id, context=FORGED)
        self.assertEqual(message.state, "needs_review")
        provider = self.Provider.search([("kind", "=", "openai_chat")], limit=1)
        self.assertRpcRefused("distribution.ai.provider", "read", provider.ids, ["api_key"], context=FORGED)
        self.assertRpcRefused("distribution.ai.call", "search_read", [], ["input_excerpt"], context=FORGED)
        self.assertRpcRefused("distribution.triage.example", "create", [{"label_id": self.label_other.id, "text": "x"}])
        self.rpc_login(self.manager)
        self.assertRpcRefused("distribution.ai.provider", "read", provider.ids, ["api_key"], context=FORGED)
        self.assertRpcRefused(
            "distribution.ai.provider", "write", provider.ids, {"breaker_state": "closed"}, context=FORGED
        )
        self.assertRpcRefused("distribution.ai.provider", "action_test_connection", provider.ids, context=FORGED)
