"""A small real HTTP server that speaks the classifiers' wire formats, for tests and benchmarks.

Plain Python (standard library only, no odoo import), so that it is importable both as
``odoo.addons.distribution_ai_triage.tests.classifier_server`` and by path from the root tests or a
benchmark. It serves, on a free port of 127.0.0.1 in a daemon thread:

- ``POST /v1/chat/completions``: an OpenAI chat-completions answer whose content is the JSON string
  ``{label, confidence, rationale}``; a request without ``response_format`` (a text to word, such as a
  vendor's risk facts) is answered in plain text by ``wording`` (see ``word_facts``);
- ``POST /v1/embeddings``: OpenAI embeddings, deterministic bag-of-words hashing vectors;
- ``POST /classify``: the ``http_json`` contract ``{text, labels}`` -> ``{label, confidence, rationale}``;
- ``GET /health`` and ``GET /v1/models``.

The label is chosen by a deterministic oracle, not a language model: the ``answers`` table first
(case-insensitive substring of the text), else the seed rules of the addon, else ``other``.

``mode`` says how the POST endpoints behave and may be changed at any time (the GET endpoints always
answer, so that a test can tell a misbehaving server from a missing one):

- ``good``: a well-formed answer;
- ``slow``: sleeps ``delay`` seconds, then answers well;
- ``error``: HTTP 500;
- ``broken``: HTTP 200 with a body that is not JSON;
- ``unknown_label``: a label that is not among those asked (chat and /classify; embeddings answer well);
- ``no_schema``: chat refuses ``response_format`` of type ``json_schema`` with a 400, as servers without
  structured output do, and answers ``json_object`` requests well (the other endpoints answer well);
- ``drop``: the connection is closed without an answer.

>>> with ClassifierServer() as server:
...     server.url.startswith("http://127.0.0.1:")
True
"""

import importlib.util
import json
import math
import re
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

try:
    from ..services import classify
except ImportError:
    # Loaded by path (root tests, benchmarks): no parent package. The module name is the one the root
    # tests' loader gives it, so that both share one module (one ProviderError class).
    _name = "_services_distribution_ai_triage_classify"
    classify = sys.modules.get(_name)
    if classify is None:
        _source = Path(__file__).resolve().parent.parent / "services" / "classify.py"
        _spec = importlib.util.spec_from_file_location(_name, _source)
        classify = importlib.util.module_from_spec(_spec)
        sys.modules[_name] = classify
        _spec.loader.exec_module(classify)

SEED_PATH = Path(__file__).resolve().parent.parent / "data" / "triage_seed.json"
MODES = ("good", "slow", "error", "broken", "unknown_label", "no_schema", "drop")
CHAT_MODEL = "fake-classifier"
EMBEDDINGS_MODEL = "fake-embeddings"
UNKNOWN_LABEL = "refund_request"
DIMENSION = 64
_WORD = re.compile(r"\w+")
_LABEL_LINE = re.compile(r"^- ([A-Za-z0-9_.-]+)(?::|$)")


def load_seed_rules(path=SEED_PATH):
    """``{label: [(pattern, weight, is_regex)]}`` of the seed file, as ``rules_classify`` takes them."""
    seed = json.loads(Path(path).read_text(encoding="utf-8"))
    return {
        label["code"]: [(rule["pattern"], rule.get("weight", 1), bool(rule.get("regex"))) for rule in label["rules"]]
        for label in seed["labels"]
    }


def hashing_vector(text, dimension=DIMENSION):
    """A deterministic bag-of-words vector of ``text``: each lowercase word adds +1 or -1 (a second bit of
    its CRC-32 picks the sign, so that collisions cancel out rather than pile up) at ``crc32 % dimension``;
    scaled to length 1. Texts sharing words are near each other; a text without words is all zeros.

    >>> a, b, c = (hashing_vector(t) for t in ("where is my order", "Where is my ORDER?", "invoice price wrong"))
    >>> a == b, len(a), round(math.fsum(x * x for x in a), 6)
    (True, 64, 1.0)
    """
    vector = [0.0] * dimension
    for word in _WORD.findall((text or "").lower()):
        digest = zlib.crc32(word.encode("utf-8"))
        vector[digest % dimension] += 1.0 if (digest >> 16) & 1 else -1.0
    norm = math.sqrt(math.fsum(x * x for x in vector))
    return [x / norm for x in vector] if norm else vector


def _words(text):
    return len(_WORD.findall(text or ""))


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a "slow" answer still sleeping must not hold up stop()
    owner = None

    def handle_error(self, request, client_address):
        # A client that gave up (the timeout tests) is expected: no traceback on stderr.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real providers do: a session reuses its connection

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Quiet: the tests' output is not the place for an access log."""

    # -- helpers -------------------------------------------------------------------------------------
    def _send(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status, message):
        self._send(status, {"error": {"message": message, "type": "invalid_request_error", "code": None}})

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            return json.loads(raw.decode("utf-8")) if raw else None, raw
        except (UnicodeDecodeError, ValueError):
            return None, raw

    # -- routes --------------------------------------------------------------------------------------
    def do_GET(self):
        """``/health`` and ``/v1/models``; they answer whatever the mode."""
        owner = self.server.owner
        owner._record(self.path, dict(self.headers.items()), None)
        if self.path in ("/health", "/"):
            self._send(200, {"status": "ok"})
        elif self.path == "/v1/models":
            models = [{"id": name, "object": "model", "owned_by": "tests"} for name in (CHAT_MODEL, EMBEDDINGS_MODEL)]
            self._send(200, {"object": "list", "data": models})
        else:
            self._error(404, f"unknown route {self.path}")

    def do_POST(self):
        """The three classifier endpoints, in the behaviour of the current mode."""
        owner = self.server.owner
        body, raw = self._read_body()
        path = self.path.split("?", 1)[0]
        owner._record(path, dict(self.headers.items()), body)
        if path == "/v1/embeddings":
            with owner._lock:
                owner.embedding_calls += 1
        routes = {"/v1/chat/completions": self._chat, "/v1/embeddings": self._embeddings, "/classify": self._classify}
        if path not in routes:
            self._error(404, f"unknown route {path}")
            return
        mode = owner.mode
        if mode == "drop":
            # No status line at all: the client sees the connection closed under it.
            self.close_connection = True
            return
        if mode == "slow":
            # An Event rather than time.sleep: stop() wakes the sleepers, so a test does not wait them out.
            owner._stopping.wait(owner.delay)
        if mode == "error":
            self._error(500, "the fake classifier was told to fail (mode error)")
            return
        if mode == "broken":
            self._send(200, b"<html><body>502 Bad Gateway</body></html>", "text/html")
            return
        if raw and body is None:
            self._error(400, "the body is not JSON")
            return
        if not isinstance(body, dict):
            self._error(400, "the body must be a JSON object")
            return
        routes[path](body, mode)

    def _chat(self, body, mode):
        owner = self.server.owner
        response_format = body.get("response_format") or {}
        if mode == "no_schema" and response_format.get("type") == "json_schema":
            self._send(400, {"error": {"message": "response_format json_schema is not supported"}})
            return
        messages = [m for m in body.get("messages") or () if isinstance(m, dict)]
        text = _content([m for m in messages if m.get("role") == "user"][-1:])
        if "response_format" not in body:
            content = (owner.wording or word_facts)(text)
        else:
            codes = _chat_label_codes(response_format, _content([m for m in messages if m.get("role") == "system"]))
            label, confidence, rationale = owner.oracle(text, codes)
            if mode == "unknown_label":
                label = UNKNOWN_LABEL
            content = json.dumps({"label": label, "confidence": confidence, "rationale": rationale})
        prompt_tokens = sum(_words(_content([m])) for m in messages)
        completion_tokens = _words(content)
        with owner._lock:
            owner._served += 1
            serial = owner._served
        self._send(
            200,
            {
                "id": f"chatcmpl-fake-{serial}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model") or CHAT_MODEL,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )

    def _embeddings(self, body, _mode):
        owner = self.server.owner
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or not all(isinstance(x, str) for x in inputs):
            self._error(400, "'input' must be a string or a non-empty list of strings")
            return
        data = [
            {"object": "embedding", "index": i, "embedding": hashing_vector(text, owner.dimension)}
            for i, text in enumerate(inputs)
        ]
        tokens = sum(_words(text) for text in inputs)
        self._send(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model") or EMBEDDINGS_MODEL,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    def _classify(self, body, mode):
        owner = self.server.owner
        codes = [code for code, _description in classify.label_pairs(body.get("labels") or ())]
        label, confidence, rationale = owner.oracle(str(body.get("text") or ""), codes)
        if mode == "unknown_label":
            label = UNKNOWN_LABEL
        self._send(200, {"label": label, "confidence": confidence, "rationale": rationale})


def _content(messages):
    """The text of chat messages: a string content, or the text parts of a list content."""
    texts = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if isinstance(content, str):
            texts.append(content)
    return "\n".join(texts)


def word_facts(text):
    """A plain-text wording of a vendor's risk facts (the JSON the risk summary sends), as a chat model
    would word them: the vendor placeholder, its figures and each purchase order at risk by name.

    >>> word_facts('{"vendor": "[VENDOR]", "median_days": 13.0, "planned_days": 7.0, "p90_days": 15.0,'
    ...            ' "late_purchases": [{"name": "P00042", "customers": ["S00007"]}]}').split(". ")[1]
    'P00042 will arrive too late for S00007.'
    """
    try:
        facts = json.loads(text)
    except ValueError:
        return "I could not read the facts."
    sentences = [
        f"{facts.get('vendor')} takes about {facts.get('median_days', 0):g} days where "
        f"{facts.get('planned_days', 0):g} are planned (9 in 10 orders within {facts.get('p90_days', 0):g})."
    ]
    for late in facts.get("late_purchases") or ():
        customers = ", ".join(late.get("customers") or ()) or "its customers"
        sentences.append(f"{late.get('name')} will arrive too late for {customers}.")
    if not facts.get("late_purchases"):
        sentences.append("No open purchase order threatens a customer.")
    return " ".join(sentences)


def _chat_label_codes(response_format, system_prompt):
    """The label codes a chat request asks for: the enum of its JSON schema, else the ``- code: ...``
    lines of the system prompt (``json_object`` mode has no schema), else the default labels."""
    schema = (response_format.get("json_schema") or {}).get("schema") or {}
    enum = ((schema.get("properties") or {}).get("label") or {}).get("enum")
    if isinstance(enum, list) and enum:
        return [str(code) for code in enum]
    codes = [m.group(1) for m in map(_LABEL_LINE.match, system_prompt.splitlines()) if m]
    return codes or [code for code, _description in classify.DEFAULT_LABELS]


class ClassifierServer:
    """A fake classifier served over real HTTP on 127.0.0.1; a context manager (or ``start``/``stop``).

    ``url`` is the base URL (``http://127.0.0.1:PORT``), ``api_url`` the same with ``/v1``.
    ``requests`` is a copy of the ``(path, headers, body)`` received (headers as sent, so the
    ``Authorization`` header can be checked; body the parsed JSON, None for a GET or a body that is not
    JSON), ``embedding_calls`` the count of requests to ``/v1/embeddings``. ``answers`` is
    ``{substring: (label, confidence)}`` checked before the rules; its label is answered even when it is
    not among those asked, so that a test can provoke ``unknown_label`` for one text. ``wording`` is a
    function of the user text giving the plain-text answer to a chat request without ``response_format``
    (None: ``word_facts``).
    """

    def __init__(self, mode="good", delay=5.0, answers=None, rules=None, dimension=DIMENSION):
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {MODES}")
        self._mode = mode
        self.delay = delay
        self.answers = dict(answers or {})
        self.rules = load_seed_rules() if rules is None else rules
        self.dimension = dimension
        self.wording = None
        self.embedding_calls = 0
        self._requests = []
        self._served = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = None
        self._thread = None

    # -- state ---------------------------------------------------------------------------------------
    @property
    def mode(self):
        """How the POST endpoints answer now: one of ``MODES``."""
        return self._mode

    @mode.setter
    def mode(self, value):
        if value not in MODES:
            raise ValueError(f"mode {value!r} is not one of {MODES}")
        self._mode = value

    @property
    def requests(self):
        """The requests received so far, oldest first: a list of ``(path, headers, body)``."""
        with self._lock:
            return list(self._requests)

    def _record(self, path, headers, body):
        with self._lock:
            self._requests.append((path, headers, body))

    def reset(self):
        """Forget the requests received and the embeddings call count (the mode is kept)."""
        with self._lock:
            self._requests.clear()
            self.embedding_calls = 0

    def oracle(self, text, label_codes):
        """``(label, confidence, rationale)`` for ``text``: the ``answers`` table, else the seed rules
        (confidence at least 0.9 when they match), else ``("other", 0.5)``."""
        folded = (text or "").casefold()
        for substring, answer in self.answers.items():
            if substring.casefold() in folded:
                label, confidence = (answer, 0.95) if isinstance(answer, str) else answer
                return label, confidence, f"the answers table matched {substring!r}"
        codes = list(label_codes)
        suggestion = classify.rules_classify(text, self.rules)
        if suggestion.confidence > 0 and (not codes or suggestion.label in codes):
            return suggestion.label, max(0.9, suggestion.confidence), suggestion.rationale
        fallback = classify.FALLBACK_LABEL if classify.FALLBACK_LABEL in codes or not codes else codes[-1]
        return fallback, 0.5, "no rule matched"

    # -- life ----------------------------------------------------------------------------------------
    @property
    def url(self):
        """The base URL, ``http://127.0.0.1:PORT``."""
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def api_url(self):
        """The base URL of the OpenAI-compatible endpoints, ``http://127.0.0.1:PORT/v1``."""
        return self.url + "/v1"

    def start(self):
        """Bind a free port of 127.0.0.1 and serve in a daemon thread; returns self."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="classifier-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self):
        """Stop serving and close the port; ``slow`` answers still sleeping are woken and answer at once."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
