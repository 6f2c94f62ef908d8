"""The pure layer of the AI triage (distribution_ai_triage/services/classify.py): what each provider
is sent, how its answer is judged, the rules, the embeddings comparison, the breaker and the budget."""

import doctest
import json
from datetime import datetime
from datetime import timedelta

import pytest

from .services import load_service

classify = load_service("distribution_ai_triage", "classify")
ProviderError = classify.ProviderError
CODES = [code for code, _description in classify.DEFAULT_LABELS]


def test_doctests():
    failures, tried = doctest.testmod(classify)
    assert tried > 40 and failures == 0


def reason_of(call, *args, **kwargs):
    with pytest.raises(ProviderError) as info:
        call(*args, **kwargs)
    return info.value.reason


def chat_answer(content, **extra):
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}], **extra}


# -- Suggestion and ProviderError ------------------------------------------------------------------
def test_suggestion_refuses_a_confidence_out_of_range():
    with pytest.raises(ValueError):
        classify.Suggestion("other", 1.2)
    assert classify.Suggestion("other", 1).confidence == 1


def test_provider_error_reasons():
    assert ProviderError("timeout").reason == "timeout"
    assert str(ProviderError("timeout")) == "timeout"
    assert ProviderError.for_status(503, "busy").reason == "http_503"
    assert set(classify.REASONS) >= {"timeout", "connection", "bad_json", "unknown_label", "bad_confidence", "empty"}


# -- rules -----------------------------------------------------------------------------------------
RULES = {
    "shortage_escalation": [
        ("rupture", 2, False),
        ("out of stock", 2, False),
        (r"short\s*(shipped|delivery)", 2, True),
    ],
    "invoice_dispute": [
        ("facture", 1, False),
        ("invoice", 1, False),
        ("overcharged", 2, False),
        ("credit note", 1, False),
    ],
    "order_status": [("where is my order", 2, False), ("tracking", 1, False)],
    "delivery_reschedule": [("reschedule", 2, False), ("not on friday", -1, False), ("friday", 1, False)],
}


def test_rules_ignore_case_and_accents():
    suggestion = classify.rules_classify("RUPTURE de stock sur la référence 4411", RULES)
    assert suggestion.label == "shortage_escalation"
    assert suggestion.provider == "rules"
    assert suggestion.evidence == ("rupture",)
    accented = classify.rules_classify("Réclamation", {"invoice_dispute": [("reclamation", 1, False)]})
    unaccented_rule = classify.rules_classify("reclamation", {"invoice_dispute": [("Réclamation", 1, False)]})
    assert accented.label == unaccented_rule.label == "invoice_dispute"


def test_keywords_match_whole_words_only():
    rules = {"invoice_dispute": [("invoice", 1, False)], "order_status": [("late delivery", 1, False)]}
    assert classify.rules_classify("see the invoices attached", rules).label == "other"
    assert classify.rules_classify("reinvoice", rules).label == "other"
    assert classify.rules_classify("chocolate delivery", rules).label == "other"
    assert classify.rules_classify("Invoice: #88", rules).label == "invoice_dispute"
    assert classify.rules_classify("a LATE\n  delivery again", rules).label == "order_status"


def test_regular_expressions_ignore_case_and_accents():
    rules = {
        "shortage_escalation": [(r"short\s*(shipped|delivery)", 2, True)],
        "invoice_dispute": [(r"factur[ée]", 1, True)],
    }
    assert classify.rules_classify("We were SHORT-shipped? no: short shipped", rules).label == "shortage_escalation"
    assert classify.rules_classify("FACTURÉ deux fois", rules).label == "invoice_dispute"
    # A regular expression is not casefolded: \D stays "not a digit".
    digits = classify.rules_classify("PO 12", {"order_status": [(r"PO \D", 1, True)]})
    assert digits.label == "other"


def test_a_pattern_counts_once_and_weights_add_up():
    once = classify.rules_classify("invoice invoice invoice", RULES)
    assert once.label == "invoice_dispute"
    assert once.confidence == pytest.approx(classify.rules_confidence(1))
    many = classify.rules_classify("The invoice shows we were overcharged; please send a credit note", RULES)
    assert many.label == "invoice_dispute"
    assert many.confidence == pytest.approx(classify.rules_confidence(4))
    assert "invoice_dispute scored 4" in many.rationale


def test_a_negative_weight_lowers_a_label():
    assert classify.rules_classify("deliver on friday please", RULES).label == "delivery_reschedule"
    assert classify.rules_classify("not on friday please", RULES).label == "other"


def test_nothing_matches_gives_the_fallback_with_no_confidence():
    suggestion = classify.rules_classify("Thank you!", RULES)
    assert (suggestion.label, suggestion.confidence, suggestion.evidence) == ("other", 0.0, ())
    assert classify.rules_classify("Thank you!", RULES, fallback="unsorted").label == "unsorted"
    assert classify.rules_classify("", {}).label == "other"
    assert classify.rules_classify(None, RULES).label == "other"


def test_a_tie_goes_to_the_first_label_with_no_confidence():
    suggestion = classify.rules_classify("out of stock, where is my order?", RULES)
    assert suggestion.label == "shortage_escalation"
    assert suggestion.confidence == 0.0


def test_the_runner_up_lowers_the_confidence():
    alone = classify.rules_classify("out of stock", RULES)
    contested = classify.rules_classify("out of stock; tracking?", RULES)
    assert alone.label == contested.label == "shortage_escalation"
    assert contested.confidence < alone.confidence


def test_rules_confidence_is_monotonic_and_bounded():
    values = [classify.rules_confidence(best) for best in (0.5, 1, 2, 3, 5, 10, 100)]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert all(0 < value < 1 for value in values)
    for best in (1, 2, 5):
        falling = [classify.rules_confidence(best, second) for second in (0, 0.5, 1, best)]
        assert falling == sorted(falling, reverse=True) and falling[-1] == 0.0
    assert classify.rules_confidence(-2) == classify.rules_confidence(0) == 0.0
    assert classify.rules_confidence(2, 5) == 0.0


def test_a_broken_rule_is_reported_and_skipped():
    assert classify.rule_error("inv(oice", True)
    assert classify.rule_error("", False) == "empty keyword"
    assert classify.rule_error(r"inv(oice)?", True) is None
    rules = {"invoice_dispute": [("inv(oice", 5, True), ("invoice", 1, False)]}
    suggestion = classify.rules_classify("invoice", rules)
    assert suggestion.label == "invoice_dispute" and suggestion.evidence == ("invoice",)


# -- chat ------------------------------------------------------------------------------------------
def test_chat_request_lists_the_labels_and_asks_for_json():
    body = classify.chat_request("Where is PO 4411?", classify.DEFAULT_LABELS, "gpt-4o-mini")
    assert body["model"] == "gpt-4o-mini" and body["temperature"] == 0
    system, user = body["messages"]
    assert user == {"role": "user", "content": "Where is PO 4411?"}
    for code, description in classify.DEFAULT_LABELS:
        assert f"- {code}: {description}" in system["content"]
    assert "JSON" in system["content"]
    schema = body["response_format"]["json_schema"]["schema"]
    assert body["response_format"]["type"] == "json_schema"
    assert schema["properties"]["label"]["enum"] == CODES
    assert set(schema["required"]) == {"label", "confidence", "rationale"}
    json.dumps(body)  # serialisable as is


def test_chat_request_json_object_fallback():
    body = classify.chat_request_json_object("x", {"other": "Anything"}, "llama3")
    assert body["response_format"] == {"type": "json_object"}
    assert body == classify.chat_request("x", {"other": "Anything"}, "llama3", json_schema=False)
    assert classify.retry_with_json_object(ProviderError.for_status(400))
    assert not classify.retry_with_json_object(ProviderError("connection"))


def test_chat_request_cuts_a_long_text():
    content = classify.chat_request("a" * 20000, CODES, "m", max_chars=100)["messages"][1]["content"]
    assert len(content) == 100 and content.endswith("…")
    assert len(classify.chat_request("a" * 20000, CODES, "m", max_chars=None)["messages"][1]["content"]) == 20000


@pytest.mark.parametrize(
    "content",
    [
        '{"label": "invoice_dispute", "confidence": 0.9, "rationale": "Wrong price."}',
        '```json\n{"label": "invoice_dispute", "confidence": 0.9, "rationale": "Wrong price."}\n```',
        '```\n{"label": "invoice_dispute", "confidence": "0.9", "rationale": "Wrong price."}\n```',
        'Here is my answer: {"label": "invoice_dispute", "confidence": "90%", "rationale": "Wrong price."} Done.',
        '{"label": "Invoice Dispute", "confidence": 0.9, "rationale": "Wrong price."}',
        '{"label": "invoice-dispute", "confidence": 0.9, "rationale": "Wrong price."}',
        ' {not json} {"label": "invoice_dispute", "confidence": 0.9, "rationale": "Wrong price."}',
    ],
)
def test_parse_chat_response_good(content):
    suggestion = classify.parse_chat_response(chat_answer(content), CODES)
    assert suggestion == classify.Suggestion("invoice_dispute", 0.9, "Wrong price.", "openai_chat")


def test_parse_chat_response_from_text_and_bytes():
    payload = json.dumps(chat_answer('{"label": "other", "confidence": 0, "rationale": "Spam"}'))
    assert classify.parse_chat_response(payload, CODES).label == "other"
    assert classify.parse_chat_response(payload.encode(), CODES).confidence == 0.0


def test_parse_chat_response_content_parts_and_long_rationale():
    parts = [
        {"type": "text", "text": '{"label": "other", "confidence": 1, '},
        {"type": "text", "text": '"rationale": "'},
    ]
    parts.append({"type": "text", "text": "x" * 1000 + '"}'})
    suggestion = classify.parse_chat_response(chat_answer(parts), CODES)
    assert suggestion.confidence == 1.0 and len(suggestion.rationale) == classify.RATIONALE_MAX
    no_rationale = classify.parse_chat_response(chat_answer('{"label": "other", "confidence": 0.5}'), CODES)
    assert no_rationale.rationale == ""


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("", "empty"),
        ("<html>502 Bad Gateway</html>", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        ([1, 2], "bad_json"),
        ({}, "empty"),
        ({"choices": []}, "empty"),
        ({"choices": None}, "empty"),
        ({"choices": ["text"]}, "empty"),
        ({"error": {"message": "model not found"}}, "empty"),
        (chat_answer(None), "empty"),
        (chat_answer("   "), "empty"),
        ({"choices": [{"message": {"content": None, "refusal": "I cannot help"}}]}, "empty"),
        (chat_answer("The label is order_status."), "bad_json"),
        (chat_answer('["order_status", 0.9]'), "bad_json"),
        (chat_answer('{"label": "order_status", "confidence": 0.9'), "bad_json"),
        (chat_answer('{"confidence": 0.9}'), "unknown_label"),
        (chat_answer('{"label": "", "confidence": 0.9}'), "unknown_label"),
        (chat_answer('{"label": 3, "confidence": 0.9}'), "unknown_label"),
        (chat_answer('{"label": "refund_request", "confidence": 0.9}'), "unknown_label"),
        (chat_answer('{"label": "order_status"}'), "bad_confidence"),
        (chat_answer('{"label": "order_status", "confidence": null}'), "bad_confidence"),
        (chat_answer('{"label": "order_status", "confidence": 1.01}'), "bad_confidence"),
        (chat_answer('{"label": "order_status", "confidence": -0.1}'), "bad_confidence"),
        (chat_answer('{"label": "order_status", "confidence": 90}'), "bad_confidence"),
        (chat_answer('{"label": "order_status", "confidence": "high"}'), "bad_confidence"),
        (chat_answer('{"label": "order_status", "confidence": "1.5"}'), "bad_confidence"),
        (chat_answer('{"label": "order_status", "confidence": "NaN"}'), "bad_confidence"),
        (chat_answer('{"label": "order_status", "confidence": true}'), "bad_confidence"),
        (chat_answer('{"label": "order_status", "confidence": [0.9]}'), "bad_confidence"),
    ],
)
def test_parse_chat_response_bad(payload, reason):
    assert reason_of(classify.parse_chat_response, payload, CODES) == reason


def test_usage_tokens():
    assert classify.usage_tokens(chat_answer("x", usage={"total_tokens": 42})) == 42
    assert classify.usage_tokens({"usage": {"prompt_tokens": 10, "completion_tokens": 5}}) == 15
    assert classify.usage_tokens({"usage": {"prompt_tokens": 7, "total_tokens": 7}}) == 7  # embeddings
    for payload in (
        {},
        {"usage": None},
        {"usage": {"total_tokens": "many"}},
        None,
        [],
        {"usage": {"total_tokens": -3}},
    ):
        assert classify.usage_tokens(payload) == 0


# -- http_json -------------------------------------------------------------------------------------
def test_http_json_request_follows_the_contract():
    body = classify.http_json_request("Invoice 88 is wrong", classify.DEFAULT_LABELS)
    assert body["text"] == "Invoice 88 is wrong"
    assert [label["code"] for label in body["labels"]] == CODES
    assert all(set(label) == {"code", "description"} and label["description"] for label in body["labels"])
    same = classify.http_json_request("x", [{"code": "a", "description": "A"}])
    assert (
        same
        == classify.http_json_request("x", {"a": "A"})
        == {"text": "x", "labels": [{"code": "a", "description": "A"}]}
    )


def test_parse_http_json_response_good():
    suggestion = classify.parse_http_json_response(
        {"label": "delivery_reschedule", "confidence": "0.75", "rationale": "Asks for Tuesday"}, CODES
    )
    assert suggestion == classify.Suggestion("delivery_reschedule", 0.75, "Asks for Tuesday", "http_json")
    assert classify.parse_http_json_response(b'{"label": "other", "confidence": 1}', CODES).label == "other"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("garbage", "bad_json"),
        ("", "empty"),
        ('["other"]', "bad_json"),
        ("null", "bad_json"),
        ({"label": "nope", "confidence": 0.5}, "unknown_label"),
        ({"confidence": 0.5}, "unknown_label"),
        ({"label": "other", "confidence": "2"}, "bad_confidence"),
        ({"label": "other"}, "bad_confidence"),
    ],
)
def test_parse_http_json_response_bad(payload, reason):
    assert reason_of(classify.parse_http_json_response, payload, CODES) == reason


# -- embeddings ------------------------------------------------------------------------------------
def test_embeddings_request_is_a_list_of_inputs():
    assert classify.embeddings_request(["a", "b"], "m") == {"model": "m", "input": ["a", "b"]}
    assert classify.embeddings_request("a", "m") == {"model": "m", "input": ["a"]}
    assert classify.embeddings_request(["x" * 50], "m", max_chars=10)["input"][0] == "x" * 9 + "…"


def test_parse_embeddings_response_orders_by_index():
    payload = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 2, "embedding": [0.0, 3.0]},
            {"object": "embedding", "index": 0, "embedding": [1, 0]},
            {"object": "embedding", "index": 1, "embedding": [0.5, 0.5]},
        ],
        "usage": {"prompt_tokens": 9, "total_tokens": 9},
    }
    assert classify.parse_embeddings_response(payload, 3) == [[1.0, 0.0], [0.5, 0.5], [0.0, 3.0]]
    assert classify.parse_embeddings_response(json.dumps(payload), 3)[2] == [0.0, 3.0]
    no_index = {"data": [{"embedding": [1, 2]}, {"embedding": [3, 4]}]}
    assert classify.parse_embeddings_response(no_index, 2) == [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize(
    ("payload", "n", "reason"),
    [
        ("garbage", 1, "bad_json"),
        ({}, 1, "empty"),
        ({"data": []}, 1, "empty"),
        ({"data": [{"index": 0, "embedding": [1]}]}, 2, "bad_json"),
        ({"data": [{"index": 0, "embedding": [1]}, {"index": 0, "embedding": [1]}]}, 2, "bad_json"),
        ({"data": [{"index": 5, "embedding": [1]}]}, 1, "bad_json"),
        ({"data": [{"index": "0", "embedding": [1]}]}, 1, "bad_json"),
        ({"data": ["vector"]}, 1, "bad_json"),
        ({"data": [{"index": 0, "embedding": "AAAAAA=="}]}, 1, "bad_json"),
        ({"data": [{"index": 0, "embedding": []}]}, 1, "bad_json"),
        ({"data": [{"index": 0, "embedding": [1, "x"]}]}, 1, "bad_json"),
        ({"data": [{"index": 0, "embedding": [1, float("nan")]}]}, 1, "bad_json"),
        ({"data": [{"index": 0, "embedding": [1, 2]}, {"index": 1, "embedding": [1]}]}, 2, "bad_json"),
    ],
)
def test_parse_embeddings_response_bad(payload, n, reason):
    assert reason_of(classify.parse_embeddings_response, payload, n) == reason


def test_cosine():
    assert classify.cosine([3, 4], [6, 8]) == pytest.approx(1.0)
    assert classify.cosine([1, 0], [1, 1]) == pytest.approx(0.7071067811865476)
    assert classify.cosine([0, 0], [0, 0]) == 0.0
    with pytest.raises(ValueError):
        classify.cosine([1, 0], [1, 0, 0])


def test_centroids_average_unit_vectors():
    result = classify.centroids([("a", [10, 0]), ("a", [0, 1]), ("b", [0, 0])])
    assert result["a"] == pytest.approx([0.5, 0.5])
    assert result["b"] == [0.0, 0.0]
    assert classify.centroids([]) == {}
    with pytest.raises(ValueError):
        classify.centroids([("a", [1, 0]), ("a", [1, 0, 0])])


EXAMPLES = [
    ("order_status", [1.0, 0.0, 0.0]),  # 0
    ("order_status", [0.9, 0.2, 0.0]),  # 1
    ("invoice_dispute", [0.0, 1.0, 0.0]),  # 2
    ("invoice_dispute", [0.1, 0.9, 0.1]),  # 3
    ("delivery_reschedule", [0.0, 0.0, 1.0]),  # 4
    ("delivery_reschedule", [0.0, 0.3, 0.9]),  # 5
]


def test_nearest_centroid():
    suggestion = classify.nearest([0.8, 0.1, 0.05], EXAMPLES)
    assert suggestion.label == "order_status"
    assert suggestion.provider == "openai_embeddings"
    assert suggestion.confidence > 0.9
    assert suggestion.evidence == (1, 0)  # the winning label's examples, nearest first
    assert suggestion.rationale.startswith("nearest centroid: order_status")
    assert classify.nearest([0.05, 0.1, 1.0], EXAMPLES).label == "delivery_reschedule"


def test_nearest_centroid_between_two_labels_is_unsure():
    halfway = classify.nearest([0.5, 0.5, 0.0], EXAMPLES[:4])
    assert halfway.confidence < 0.2
    clear = classify.nearest([0.9, 0.3, 0.0], EXAMPLES[:4])
    assert clear.label == "order_status"
    assert clear.confidence > halfway.confidence


def test_nearest_evidence_is_capped():
    many = [("order_status", [1.0, 0.01 * i]) for i in range(10)] + [("other", [0.0, 1.0])]
    suggestion = classify.nearest([1.0, 0.0], many, evidence=3)
    assert suggestion.evidence == (0, 1, 2)


def test_nearest_k_neighbours_vote_with_their_similarity():
    # Two order_status examples close to the message, one invoice_dispute example closer still.
    examples = [
        ("order_status", [1.0, 0.3]),  # 0
        ("order_status", [1.0, 0.35]),  # 1
        ("invoice_dispute", [1.0, 0.2]),  # 2
        ("invoice_dispute", [0.6, 1.0]),  # 3
        ("invoice_dispute", [0.5, 1.0]),  # 4
    ]
    vote = classify.nearest([1.0, 0.22], examples, k=3)
    assert vote.label == "order_status"  # two votes beat one, nearest as it is
    assert vote.evidence == (0, 1)
    one = classify.nearest([1.0, 0.22], examples, k=1)
    assert one.label == "invoice_dispute" and one.evidence == (2,)
    assert one.rationale.startswith("1 nearest examples: invoice_dispute")
    # With every example voting, the two farther invoice_dispute examples tip it over.
    assert classify.nearest([1.0, 0.22], examples, k=5).label == "invoice_dispute"


def test_nearest_k_neighbours_all_agreeing_is_sure():
    suggestion = classify.nearest([0.8, 0.1, 0.05], EXAMPLES, k=2)
    assert suggestion.label == "order_status" and suggestion.evidence == (1, 0)
    assert suggestion.confidence > 0.99


def test_nearest_k_larger_than_the_examples():
    assert classify.nearest([0.8, 0.1, 0.05], EXAMPLES, k=50).label == "order_status"
    with pytest.raises(ValueError):
        classify.nearest([1.0, 0.0, 0.0], EXAMPLES, k=0)


def test_nearest_a_tie_has_no_confidence():
    examples = [("b", [1.0, 0.0]), ("a", [0.0, 1.0])]
    suggestion = classify.nearest([1.0, 1.0], examples)
    assert suggestion.label == "a" and suggestion.confidence == 0.0


def test_nearest_needs_examples_of_two_labels_of_the_right_dimension():
    assert reason_of(classify.nearest, [1.0, 0.0], []) == "empty"
    assert reason_of(classify.nearest, [1.0, 0.0], [("a", [1.0, 0.0]), ("a", [0.5, 0.5])]) == "empty"
    assert reason_of(classify.nearest, [], EXAMPLES) == "empty"
    # Examples embedded by another model (another dimension) are left out.
    mixed = [("a", [1.0, 0.0]), ("b", [0.0, 1.0]), ("b", [1.0, 0.0, 0.0])]
    assert classify.nearest([1.0, 0.1], mixed).label == "a"
    assert reason_of(classify.nearest, [1.0, 0.0, 0.0], mixed) == "empty"


def test_margin_confidence_mapping():
    mc = classify.margin_confidence
    assert mc(0) == 0.0 and mc(-0.1) == 0.0
    assert mc(0.05) == pytest.approx(0.1)
    assert mc(0.125) == pytest.approx(0.5)
    assert mc(0.2) == pytest.approx(0.9)
    assert mc(0.02) < 0.1 < mc(0.1) < 0.5 < mc(0.15) < 0.9 < mc(0.3) <= 1.0
    margins = [i / 100 for i in range(0, 101)]
    values = [mc(m) for m in margins]
    assert values == sorted(values) and all(0.0 <= v <= 1.0 for v in values)
    # The parameters move the curve: with low=0.1 and high=0.4, 0.2 is below one half.
    assert mc(0.1, low=0.1, high=0.4) == pytest.approx(0.1)
    assert mc(0.4, low=0.1, high=0.4) == pytest.approx(0.9)
    assert mc(0.2, low=0.1, high=0.4) < 0.5
    assert mc(5.0) == pytest.approx(1.0)
    for low, high in ((0.2, 0.1), (0.1, 0.1), (-0.1, 0.2)):
        with pytest.raises(ValueError):
            mc(0.1, low=low, high=high)


def test_nearest_passes_the_mapping_parameters():
    strict = classify.nearest([0.9, 0.3, 0.0], EXAMPLES[:4], low=0.5, high=0.9)
    lenient = classify.nearest([0.9, 0.3, 0.0], EXAMPLES[:4])
    assert strict.label == lenient.label and strict.confidence < lenient.confidence


# -- breaker ---------------------------------------------------------------------------------------
T0 = datetime(2026, 3, 2, 8, 0)
THRESHOLD = 3
OPEN_MINUTES = 10


def test_breaker_opens_after_threshold_consecutive_failures():
    state, failures, opened_at = "closed", 0, None
    for attempt in range(1, THRESHOLD):
        assert classify.breaker_decide(state, failures, opened_at, T0, THRESHOLD, OPEN_MINUTES) == (True, False)
        state, failures, opened_at = classify.breaker_after(False, state, failures, opened_at, T0, THRESHOLD)
        assert (state, failures, opened_at) == ("closed", attempt, None)
    state, failures, opened_at = classify.breaker_after(False, state, failures, opened_at, T0, THRESHOLD)
    assert (state, failures, opened_at) == ("open", THRESHOLD, T0)


def test_a_success_resets_the_count():
    state = classify.breaker_after(False, "closed", 0, None, T0, THRESHOLD)
    state = classify.breaker_after(False, *state, T0, THRESHOLD)
    state = classify.breaker_after(True, *state, T0, THRESHOLD)
    assert state == ("closed", 0, None)
    state = classify.breaker_after(False, *state, T0, THRESHOLD)
    assert state == ("closed", 1, None)


def test_breaker_stays_open_then_lets_one_probe():
    decide = classify.breaker_decide
    for minutes in (0, 1, 9, 9.99):
        assert decide("open", 3, T0, T0 + timedelta(minutes=minutes), THRESHOLD, OPEN_MINUTES) == (False, False)
    now = T0 + timedelta(minutes=OPEN_MINUTES)
    assert decide("open", 3, T0, now, THRESHOLD, OPEN_MINUTES) == (True, True)
    assert decide("open", 3, T0, now + timedelta(hours=5), THRESHOLD, OPEN_MINUTES) == (True, True)
    # The probe is recorded as half-open: other workers keep off while it runs.
    half = classify.breaker_probe_started(3, now)
    assert half == ("half_open", 3, now)
    assert decide(*half, now + timedelta(seconds=30), THRESHOLD, OPEN_MINUTES) == (False, False)
    # A probe that never reported (its worker died) is retried after another period.
    assert decide(*half, now + timedelta(minutes=OPEN_MINUTES), THRESHOLD, OPEN_MINUTES) == (True, True)


def test_a_successful_probe_closes_the_breaker():
    now = T0 + timedelta(minutes=OPEN_MINUTES)
    half = classify.breaker_probe_started(3, now)
    closed = classify.breaker_after(True, *half, now, THRESHOLD)
    assert closed == ("closed", 0, None)
    assert classify.breaker_decide(*closed, now, THRESHOLD, OPEN_MINUTES) == (True, False)


def test_a_failed_probe_reopens_the_breaker_for_another_period():
    now = T0 + timedelta(minutes=OPEN_MINUTES)
    half = classify.breaker_probe_started(3, now)
    reopened = classify.breaker_after(False, *half, now, THRESHOLD)
    assert reopened == ("open", 4, now)
    decide = classify.breaker_decide
    assert decide(*reopened, now + timedelta(minutes=5), THRESHOLD, OPEN_MINUTES) == (False, False)
    assert decide(*reopened, now + timedelta(minutes=OPEN_MINUTES), THRESHOLD, OPEN_MINUTES) == (True, True)


def test_a_late_failure_does_not_extend_an_open_breaker():
    assert classify.breaker_after(False, "open", 3, T0, T0 + timedelta(minutes=2), THRESHOLD) == ("open", 4, T0)


def test_breaker_threshold_zero_is_off_and_odd_states_are_closed():
    assert classify.breaker_decide("open", 9, T0, T0, 0, OPEN_MINUTES) == (True, False)
    assert classify.breaker_after(False, "closed", 99, None, T0, 0) == ("closed", 100, None)
    assert classify.breaker_decide(False, 0, None, T0, THRESHOLD, OPEN_MINUTES) == (True, False)
    assert classify.breaker_decide("open", 3, None, T0, THRESHOLD, OPEN_MINUTES) == (True, True)
    assert classify.breaker_after(False, "closed", None, None, T0, 1) == ("open", 1, T0)


@pytest.mark.parametrize(
    ("used", "budget", "allowed"),
    [(0, 0, True), (10**9, 0, True), (5, None, True), (0, 1, True), (1, 1, False), (99, 100, True), (100, 100, False)],
)
def test_budget(used, budget, allowed):
    assert classify.budget_allows(used, budget) is allowed


def test_budget_with_nothing_used_yet():
    assert classify.budget_allows(None, 1) is True


# -- loopback --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:11434/v1",
        "http://127.0.0.1",
        "https://127.255.255.254/x",
        "http://localhost:8080/v1/chat/completions",
        "http://LocalHost.:1234",
        "http://ollama.localhost/v1",
        "http://[::1]:8000/v1",
        "http://[0:0:0:0:0:0:0:1]/",
        "http://[::ffff:127.0.0.1]:80/",
        "localhost:11434",
        "http://user:secret@127.0.0.1:5000/",
    ],
)
def test_loopback_urls(url):
    assert classify.is_loopback_url(url) is True


@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com/v1",
        "http://192.168.1.10:11434",
        "http://10.0.0.1",
        "http://0.0.0.0:8000",
        "http://[::]:8000",
        "http://128.0.0.1",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
        "http://evil.example/?next=http://127.0.0.1",
        "http://[::1",
        "",
        None,
        42,
    ],
)
def test_non_loopback_urls(url):
    assert classify.is_loopback_url(url) is False
