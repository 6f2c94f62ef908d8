from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import TriageCase


@tagged("post_install", "-at_install")
class TestProviders(TriageCase):
    """Each provider over real HTTP, and the fall-through to the rules on every failure."""

    def setUp(self):
        super().setUp()
        self.server.mode = "good"
        self.server.reset()

    def test_chat_provider_classifies_with_json_schema(self):
        provider = self._provider("openai_chat", api_key="sk-test-secret")
        message = self._message("Where is my order ACME-PO-7781? We still have no tracking number.")
        self._classify()
        self.assertEqual(message.suggested_label_id, self.label_order_status)
        self.assertEqual(message.provider_id, provider)
        self.assertFalse(message.fallback_used)
        path, headers, body = next(r for r in self.server.requests if r[0] == "/v1/chat/completions")
        self.assertEqual(body["response_format"]["type"], "json_schema")
        self.assertEqual(body["temperature"], 0)
        self.assertIn("invoice_dispute", body["messages"][0]["content"], "the prompt lists the labels")
        self.assertEqual(headers.get("Authorization"), "Bearer sk-test-secret")
        call = message.call_ids
        self.assertEqual((call.label, call.provider_id, call.fallback), ("order_status", provider, False))
        self.assertGreater(call.tokens, 0)
        self.assertNotIn("sk-test-secret", str(call.read()))

    def test_chat_server_without_json_schema_is_asked_in_json_object_mode(self):
        self._provider("openai_chat")
        self.server.mode = "no_schema"
        message = self._message("Where is my order ACME-PO-7781? Please send the tracking number.")
        self._classify()
        formats = [r[2]["response_format"]["type"] for r in self.server.requests if r[0] == "/v1/chat/completions"]
        self.assertEqual(formats, ["json_schema", "json_object"])
        self.assertEqual(message.provider_kind, "openai_chat")

    def test_http_json_provider(self):
        provider = self._provider("http_json")
        message = self._message("Two cartons were missing from the pallet, we are short shipped.")
        self._classify()
        self.assertEqual(message.provider_id, provider)
        self.assertEqual(message.suggested_label_id, self.label_shortage_escalation)
        body = next(r[2] for r in self.server.requests if r[0] == "/classify")
        self.assertEqual({label["code"] for label in body["labels"]} >= {"other", "invoice_dispute"}, True)

    def test_every_failure_falls_back_to_the_rules(self):
        text = "Where is my order ACME-PO-7781? No tracking number yet."
        for mode in ("error", "broken", "unknown_label", "drop"):
            with self.subTest(mode=mode):
                provider = self._provider("openai_chat", breaker_threshold=0)
                self.server.mode = mode
                message = self._message(text)
                self._classify()
                self.assertEqual(message.state in ("routed", "needs_review"), True)
                self.assertEqual(message.provider_kind, "rules", f"{mode}: the rules answered")
                self.assertTrue(message.fallback_used)
                self.assertEqual(message.suggested_label_id, self.label_order_status)
                call = message.call_ids.filtered(lambda c, p=provider: c.provider_id == p)
                self.assertTrue(call.error, f"{mode}: the failed call is logged")
                provider.active = False

    def test_timeout_falls_back_and_is_logged(self):
        provider = self._provider("openai_chat", timeout=0.3)
        self.server.mode = "slow"
        self.server.delay = 2
        message = self._message("Please send the tracking number of order ACME-PO-7781.")
        self._classify()
        self.assertEqual(message.provider_kind, "rules")
        self.assertEqual(message.call_ids.filtered(lambda c: c.provider_id == provider).error_reason, "timeout")

    def test_embeddings_one_call_per_batch_and_examples_cached(self):
        provider = self._provider("openai_embeddings", margin_low=0.0, margin_high=0.05)
        messages = (
            self._message("Where is our order? Please send the tracking number.")
            | self._message("Can you postpone the delivery to next week?")
            | self._message("The invoice price is higher than agreed, please issue a credit note.")
        )
        self._classify()
        self.assertEqual(self.server.embedding_calls, 2, "one call for the examples, one for the whole batch")
        self.assertEqual(
            set(messages.mapped("provider_kind")),
            {"openai_embeddings", "rules"} & set(messages.mapped("provider_kind")),
        )
        examples = self.env["distribution.triage.example"].search([("source", "=", "seed")])
        self.assertTrue(all(provider._cache_key() in (e.embedding_cache or {}) for e in examples))
        self.server.reset()
        self._message("Where is my parcel?")
        self._classify()
        self.assertEqual(self.server.embedding_calls, 1, "the examples' vectors are cached")
        provider.model = "another-model"
        self.server.reset()
        self._message("Where is my parcel now?")
        self._classify()
        self.assertEqual(self.server.embedding_calls, 2, "a new model embeds the examples again")
        self.assertTrue(any(m.evidence_example_ids for m in messages), "the nearest examples are shown")

    def test_a_message_is_never_left_unclassified(self):
        self._provider("openai_chat", base_url="http://127.0.0.1:9/v1")  # nothing listens there
        message = self._message("Hello, just a note to say thanks for the quick service.")
        self._classify()
        self.assertNotEqual(message.state, "pending")
        self.assertTrue(message.suggested_label_id)


@tagged("post_install", "-at_install")
class TestBreakerAndBudget(TriageCase):
    def setUp(self):
        super().setUp()
        self.server.reset()

    def _breaker_row(self, provider):
        self.env.cr.execute(
            "SELECT breaker_state, breaker_failures FROM distribution_ai_provider WHERE id = %s", [provider.id]
        )
        return self.env.cr.fetchone()

    def test_breaker_opens_then_probes_then_closes(self):
        provider = self._provider("openai_chat", breaker_threshold=2, breaker_open_minutes=5)
        self.server.mode = "error"
        for _attempt in range(2):
            self._message("Where is my order? tracking please")
            self._classify()
        self.assertEqual(self._breaker_row(provider), ("open", 2), "the state is in the database for every worker")
        served = len(self.server.requests)
        message = self._message("Where is my order? tracking please")
        self._classify()
        self.assertEqual(len(self.server.requests), served, "an open breaker keeps the calls off the server")
        self.assertTrue(message.fallback_used)
        self.assertEqual(message.provider_kind, "rules")
        # Five minutes later one probe goes through; it succeeds and closes the breaker.
        self.env.cr.execute(
            "UPDATE distribution_ai_provider SET breaker_opened_at = %s WHERE id = %s",
            [fields.Datetime.now() - timedelta(minutes=6), provider.id],
        )
        provider.invalidate_recordset()
        self.server.mode = "good"
        message = self._message("Where is my order? tracking please")
        self._classify()
        self.assertEqual(message.provider_id, provider)
        self.assertEqual(self._breaker_row(provider), ("closed", 0))

    def test_breaker_cannot_be_closed_by_hand_over_rpc(self):
        provider = self._provider("openai_chat")
        admin = self.env.ref("base.user_admin")
        with self.assertRaises(AccessError):
            provider.with_user(admin).write({"breaker_state": "closed", "breaker_failures": 0})

    def test_daily_budget(self):
        provider = self._provider("openai_chat", daily_budget=2)
        self.server.mode = "good"
        messages = self._message("Where is my order? tracking 1") | self._message("Where is my order? tracking 2")
        self._classify()
        self.assertEqual(messages.provider_id, provider)
        third = self._message("Where is my order? tracking 3")
        served = len(self.server.requests)
        self._classify()
        self.assertEqual(len(self.server.requests), served, "the budget of the day is spent")
        self.assertEqual(third.provider_kind, "rules")
        self.assertTrue(third.fallback_used)
        self.assertEqual(provider.calls_today, 2)
