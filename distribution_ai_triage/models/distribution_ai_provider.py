import contextlib
import hashlib
import logging
import time
from datetime import datetime
from datetime import time as dtime

import requests

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..services import classify

_logger = logging.getLogger(__name__)

KINDS = [
    (classify.CHAT, "OpenAI-compatible chat"),
    (classify.EMBEDDINGS, "OpenAI-compatible embeddings"),
    (classify.HTTP_JSON, "Generic HTTP JSON"),
    (classify.RULES, "Rules (no network)"),
]
ADMIN_GROUP = "base.group_system"
EMBED_CHUNK = 64  # inputs per embeddings request when caching examples
EXCERPT_CHARS = 300
TEST_TEXT = "Hello, where is our order S00042? We still have no tracking number. Thanks."


class ProviderAnswer:
    """What one provider answered for one text: a Suggestion or a ProviderError, the time it took and the
    tokens it cost (shared by the texts of one batch call)."""

    __slots__ = ("error", "latency_ms", "suggestion", "tokens")

    def __init__(self, suggestion=None, error=None, latency_ms=0, tokens=0):
        self.suggestion, self.error, self.latency_ms, self.tokens = suggestion, error, latency_ms, tokens


class DistributionAiProvider(models.Model):
    """A classifier the triage asks, in sequence order, the rules last. Its circuit breaker lives in the
    database, so that every worker of every server sees a provider that is down."""

    _name = "distribution.ai.provider"
    _description = "AI Classifier Provider"
    _order = "sequence, id"

    name = fields.Char(required=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    kind = fields.Selection(KINDS, required=True, default=classify.EMBEDDINGS)
    base_url = fields.Char(
        "Base URL",
        help="Chat and embeddings: the server's API root, e.g. https://api.openai.com/v1 or "
        "http://127.0.0.1:8011/v1. Generic HTTP JSON: the URL the message is posted to.",
    )
    model = fields.Char(help="The model name sent to the server (e.g. gpt-4o-mini, multilingual-e5-small).")
    api_key = fields.Char("API Key", groups=ADMIN_GROUP, copy=False, help="Sent as a Bearer token; never logged.")
    has_api_key = fields.Boolean(compute="_compute_has_api_key")
    input_prefix = fields.Char(
        help="Embeddings: put before every text (e5 models are trained with 'query: ').",
    )
    neighbours = fields.Integer(
        "Nearest Examples (k)", help="Embeddings: 0 compares with each label's centroid; k > 0 lets k examples vote."
    )
    margin_low = fields.Float(
        "Unsure Below (margin)",
        default=0.0069,
        digits=(4, 4),
        help="Embeddings: a gap between the two best labels' similarities this small gives a confidence of 0.1.",
    )
    margin_high = fields.Float(
        "Sure Above (margin)",
        default=0.0106,
        digits=(4, 4),
        help="Embeddings: a gap this large gives a confidence of 0.9. Each embeddings model has its own scale.",
    )
    timeout = fields.Float("Timeout (s)", default=10.0)
    is_local = fields.Boolean(
        "Runs In-House",
        help="The server runs on your own network: messages may go to it when sending content to external "
        "AI services is switched off. A loopback address (127.0.0.1, localhost) is always local.",
    )
    is_loopback = fields.Boolean(compute="_compute_is_loopback")
    breaker_threshold = fields.Integer(
        "Open After (failures)", default=3, help="Consecutive failures that open the breaker (0: never)."
    )
    breaker_open_minutes = fields.Integer("Open For (minutes)", default=5)
    breaker_state = fields.Selection(
        [(classify.CLOSED, "Closed"), (classify.OPEN, "Open"), (classify.HALF_OPEN, "Probing")],
        default=classify.CLOSED,
        required=True,
        readonly=True,
        copy=False,
    )
    breaker_failures = fields.Integer(readonly=True, copy=False)
    breaker_opened_at = fields.Datetime(readonly=True, copy=False)
    last_error = fields.Char(readonly=True, copy=False)
    daily_budget = fields.Integer(help="Calls a day for this company (0: unlimited).")
    calls_today = fields.Integer(compute="_compute_calls_today")
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)

    _sql_constraints = [
        ("timeout_positive", "CHECK (timeout > 0)", "The timeout must be positive."),
        (
            "margins",
            "CHECK (margin_low >= 0 AND margin_high > margin_low)",
            "The sure margin must exceed the unsure one.",
        ),
    ]

    @api.depends_context("uid")
    def _compute_has_api_key(self):
        # sudo: whether a key is set is no secret; the key itself stays readable by administrators only.
        for provider, sudo_provider in zip(self, self.sudo(), strict=True):
            provider.has_api_key = bool(sudo_provider.api_key)

    @api.depends("base_url")
    def _compute_is_loopback(self):
        for provider in self:
            provider.is_loopback = classify.is_loopback_url(provider.base_url)

    def _compute_calls_today(self):
        used = self._calls_today()
        for provider in self:
            provider.calls_today = used.get(provider.id, 0)

    @api.constrains("kind", "base_url", "model")
    def _check_endpoint(self):
        for provider in self:
            if provider.kind == classify.RULES:
                continue
            if not provider.base_url or not provider.base_url.startswith(("http://", "https://")):
                raise ValidationError(
                    self.env._("The provider %s needs a base URL starting with http:// or https://.", provider.name)
                )
            if provider.kind in (classify.CHAT, classify.EMBEDDINGS) and not provider.model:
                raise ValidationError(self.env._("The provider %s needs a model name.", provider.name))

    def write(self, vals):
        breaker = {"breaker_state", "breaker_failures", "breaker_opened_at", "last_error"} & set(vals)
        if breaker and not self.env.su:
            # The breaker is the triage's own state: set by its verbs through their own cursor, never by hand
            # (a closed breaker forged over JSON-RPC would send every message to a dead server).
            raise AccessError(self.env._("The circuit breaker of a provider is set by the triage, not by hand."))
        return super().write(vals)

    # -- breaker, budget -------------------------------------------------------------------------
    def _is_local(self):
        self.ensure_one()
        return self.kind == classify.RULES or self.is_local or classify.is_loopback_url(self.base_url)

    def _calls_today(self):
        """{provider id: calls logged since midnight (UTC)}."""
        if not self.ids:
            return {}
        midnight = datetime.combine(fields.Date.today(), dtime.min)
        groups = (
            self.env["distribution.ai.call"]
            .sudo()
            ._read_group(
                [("provider_id", "in", self.ids), ("create_date", ">=", midnight), ("policy", "!=", "test")],
                ["provider_id"],
                ["__count"],
            )
        )
        return {provider.id: count for provider, count in groups}

    @contextlib.contextmanager
    def _breaker_cursor(self):
        """A cursor of its own, committed at once, with the provider's breaker row locked: ``(cr, row)``.
        Every worker sees the breaker as soon as it changes, and a failed batch does not roll it back.
        NO KEY UPDATE: the call log rows the running transaction inserted hold a key-share lock on the
        provider (their foreign key), which a plain FOR UPDATE would wait on for ever. SKIP LOCKED: when
        the running transaction itself changed the provider (or made it and did not commit yet), the row
        is its own: it is read and written there instead of waiting on itself; a row another worker holds
        for the instant of its own update is waited for there too."""
        query = SQL(
            "SELECT breaker_state, breaker_failures, breaker_opened_at FROM distribution_ai_provider"
            " WHERE id = %s FOR NO KEY UPDATE",
            self.id,
        )
        # While the module installs (registry not ready) its table is not committed: no other cursor sees it.
        with self.env.registry.cursor() if self.env.registry.ready else contextlib.nullcontext(self.env.cr) as cr:
            cr.execute(SQL("%s SKIP LOCKED", query))
            row = cr.fetchone()
            if row:
                yield cr, row
                return
        self.flush_recordset()
        self.env.cr.execute(query)
        yield self.env.cr, self.env.cr.fetchone()

    def _breaker_acquire(self):
        """Whether the provider may be called now, decided under a row lock in a cursor of its own so that
        every worker sees the answer at once: an open breaker past its delay lets one probe through (the
        others keep off while it runs). Returns (allowed, reason)."""
        self.ensure_one()
        if not self.breaker_threshold:
            return True, None
        with self._breaker_cursor() as (cr, row):
            if not row:
                return False, "gone"
            state, failures, opened_at = row
            now = fields.Datetime.now()
            allowed, probe = classify.breaker_decide(
                state, failures, opened_at, now, self.breaker_threshold, self.breaker_open_minutes
            )
            if probe:
                state, failures, opened_at = classify.breaker_probe_started(failures, now)
                cr.execute(
                    SQL(
                        "UPDATE distribution_ai_provider SET breaker_state = %s, breaker_opened_at = %s WHERE id = %s",
                        state,
                        opened_at,
                        self.id,
                    )
                )
        self.invalidate_recordset(["breaker_state", "breaker_failures", "breaker_opened_at"])
        return allowed, None if allowed else "breaker_open"

    def _breaker_report(self, success, error=None):
        """Count a success or a failure of a call, in a cursor of its own (it must survive a rollback of the
        batch, and be seen by the other workers now)."""
        self.ensure_one()
        with self._breaker_cursor() as (cr, row):
            if not row:
                return
            state, failures, opened_at = classify.breaker_after(
                success, row[0], row[1], row[2], fields.Datetime.now(), self.breaker_threshold
            )
            cr.execute(
                SQL(
                    "UPDATE distribution_ai_provider SET breaker_state = %s, breaker_failures = %s,"
                    " breaker_opened_at = %s, last_error = %s WHERE id = %s",
                    state,
                    failures,
                    opened_at,
                    None if success else (str(error) or "")[:250],
                    self.id,
                )
            )
            if state == classify.OPEN and row[0] != classify.OPEN:
                _logger.warning(
                    "AI provider %s (id %s): circuit breaker opened after %s failures", self.name, self.id, failures
                )
        self.invalidate_recordset(["breaker_state", "breaker_failures", "breaker_opened_at", "last_error"])

    # -- HTTP --------------------------------------------------------------------------------------
    def _headers(self):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        # sudo: the key is readable by administrators only, and the triage calls for every user's message.
        key = self.sudo().api_key
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _post(self, url, body):
        """POST JSON, once more on a connection error; the parsed JSON answer, or ProviderError. The headers
        (the API key) are never logged."""
        for attempt in (1, 2):
            try:
                response = requests.post(url, json=body, headers=self._headers(), timeout=self.timeout)
            except requests.Timeout:
                raise classify.ProviderError("timeout", f"no answer within {self.timeout:g} s") from None
            except requests.ConnectionError as exc:
                if attempt == 2:
                    raise classify.ProviderError("connection", type(exc).__name__) from None
                continue
            if response.status_code >= 300:
                raise classify.ProviderError.for_status(response.status_code, (response.text or "")[:200])
            try:
                return response.json()
            except ValueError:
                raise classify.ProviderError("bad_json", "the answer is not JSON") from None
        raise classify.ProviderError("connection", "no answer")  # not reached

    def _url(self, path):
        return self.base_url.rstrip("/") + path

    # -- classification ----------------------------------------------------------------------------
    def _classify_texts(self, texts, labels, company):
        """One ProviderAnswer per text of ``texts`` (already redacted when this provider is external).
        ``labels`` are the company's labels. Embeddings are asked in one call for the whole batch."""
        self.ensure_one()
        codes = labels.mapped("code")
        if self.kind == classify.RULES:
            rules = labels._rules_map()
            answers = []
            for text in texts:
                start = time.perf_counter()
                suggestion = classify.rules_classify(text, rules)
                answers.append(ProviderAnswer(suggestion, latency_ms=round((time.perf_counter() - start) * 1000)))
            return answers
        if self.kind == classify.EMBEDDINGS:
            return self._classify_embeddings(texts, labels, company)
        answers = []
        for text in texts:
            start = time.perf_counter()
            try:
                if self.kind == classify.CHAT:
                    try:
                        payload = self._post(
                            self._url("/chat/completions"), classify.chat_request(text, labels._pairs(), self.model)
                        )
                    except classify.ProviderError as error:
                        if not classify.retry_with_json_object(error):
                            raise
                        payload = self._post(
                            self._url("/chat/completions"),
                            classify.chat_request_json_object(text, labels._pairs(), self.model),
                        )
                    suggestion = classify.parse_chat_response(payload, codes)
                else:
                    payload = self._post(self.base_url, classify.http_json_request(text, labels._pairs()))
                    suggestion = classify.parse_http_json_response(payload, codes)
                answers.append(
                    ProviderAnswer(
                        suggestion,
                        latency_ms=round((time.perf_counter() - start) * 1000),
                        tokens=classify.usage_tokens(payload),
                    )
                )
            except classify.ProviderError as error:
                answers.append(ProviderAnswer(error=error, latency_ms=round((time.perf_counter() - start) * 1000)))
        return answers

    def _cache_key(self):
        return f"{self.model}|{self.input_prefix or ''}"

    def _embed(self, texts):
        """Vectors of ``texts`` in one request per chunk; raises ProviderError."""
        prefix = self.input_prefix or ""
        vectors = []
        for start in range(0, len(texts), EMBED_CHUNK):
            chunk = [prefix + text for text in texts[start : start + EMBED_CHUNK]]
            payload = self._post(self._url("/embeddings"), classify.embeddings_request(chunk, self.model))
            vectors += classify.parse_embeddings_response(payload, len(chunk))
        return vectors

    def _example_vectors(self, labels, company):
        """``(examples, [(label code, vector)])`` of the labels' active examples of ``company`` (and the
        shipped ones), embedding those not cached for this model yet in batches, never per message."""
        # sudo: the examples are classifier data; a user whose message is classified has no right on them.
        Example = self.env["distribution.triage.example"].sudo()
        examples = Example.search([("label_id", "in", labels.ids), ("company_id", "in", (False, company.id))])
        key = self._cache_key()
        missing = examples.filtered(lambda example: key not in (example.embedding_cache or {}))
        if missing:
            vectors = self._embed([example.text for example in missing])
            for example, vector in zip(missing, vectors, strict=True):
                example.embedding_cache = dict(example.embedding_cache or {}, **{key: vector})
        return examples, [(example.label_id.code, example.embedding_cache[key]) for example in examples]

    def _classify_embeddings(self, texts, labels, company):
        start = time.perf_counter()
        try:
            examples, pairs = self._example_vectors(labels, company)
            vectors = self._embed(list(texts))
        except classify.ProviderError as error:
            latency = round((time.perf_counter() - start) * 1000)
            return [ProviderAnswer(error=error, latency_ms=latency) for _text in texts]
        latency = round((time.perf_counter() - start) * 1000)
        answers = []
        for vector in vectors:
            try:
                suggestion = classify.nearest(
                    vector, pairs, k=self.neighbours or None, low=self.margin_low, high=self.margin_high
                )
            except classify.ProviderError as error:
                answers.append(ProviderAnswer(error=error, latency_ms=latency))
                continue
            evidence = tuple(examples[index].id for index in suggestion.evidence)
            answers.append(
                ProviderAnswer(
                    classify.Suggestion(
                        suggestion.label, suggestion.confidence, suggestion.rationale, suggestion.provider, evidence
                    ),
                    latency_ms=latency,
                )
            )
        return answers

    # -- call log ------------------------------------------------------------------------------------
    def _log_calls(self, entries):
        """Write call log rows: ``entries`` are dicts with message, text (redacted), answer, fallback, policy."""
        vals_list = []
        for entry in entries:
            answer, text = entry["answer"], entry["text"] or ""
            suggestion, error = answer.suggestion, answer.error
            vals_list.append(
                {
                    "provider_id": self.id,
                    "kind": self.kind,
                    "model": self.model or False,
                    "message_id": entry.get("message_id") or False,
                    "input_hash": hashlib.sha256(text.encode()).hexdigest(),
                    "input_excerpt": text[:EXCERPT_CHARS],
                    "output": {
                        "label": suggestion.label,
                        "confidence": suggestion.confidence,
                        "rationale": suggestion.rationale,
                    }
                    if suggestion
                    else False,
                    "label": suggestion.label if suggestion else False,
                    "confidence": suggestion.confidence if suggestion else 0.0,
                    "latency_ms": answer.latency_ms,
                    "tokens": answer.tokens,
                    "error": str(error)[:500] if error else False,
                    "error_reason": error.reason if error else False,
                    "fallback": entry.get("fallback", False),
                    "policy": entry.get("policy", "triage"),
                    "company_id": entry.get("company_id") or self.company_id.id,
                }
            )
        # sudo: the call log is written for every user's message; only managers may read it.
        return self.env["distribution.ai.call"].sudo().create(vals_list)

    # -- wording ---------------------------------------------------------------------------------------
    def _word(self, body):
        """POST a chat-completions ``body`` that asks this chat provider to word a text: the answer's text.
        The classification's client (timeout, one retry on a connection error, the key never logged);
        raises ProviderError."""
        self.ensure_one()
        if self.kind != classify.CHAT:
            raise classify.ProviderError("not_chat", f"{self.kind} providers do not word texts")
        payload = self._post(self._url("/chat/completions"), body)
        return classify.chat_content(payload), classify.usage_tokens(payload)

    def _log_wording(self, lead_time, text, output, error, latency_ms, tokens=0):
        """Write the call log row of one wording: ``text`` the redacted facts sent, ``output`` the text kept
        (or the answer refused, under ``error``)."""
        self.ensure_one()
        # sudo: the call log is the system's, written whoever asked for the wording; managers read it.
        return (
            self.env["distribution.ai.call"]
            .sudo()
            .create(
                {
                    "provider_id": self.id,
                    "kind": self.kind,
                    "model": self.model or False,
                    "lead_time_id": lead_time.id,
                    "input_hash": hashlib.sha256(text.encode()).hexdigest(),
                    "input_excerpt": text[:EXCERPT_CHARS],
                    "output": {"summary": output} if output else False,
                    "latency_ms": latency_ms,
                    "tokens": tokens,
                    "error": str(error)[:500] if error else False,
                    "error_reason": error.reason if error else False,
                    "policy": "risk_summary",
                    "company_id": lead_time.company_id.id,
                }
            )
        )

    # -- actions -------------------------------------------------------------------------------------
    def action_test_connection(self):
        """Classify a sample sentence with this provider alone and say what came back (administrators)."""
        self.ensure_one()
        if not self.env.user.has_group(ADMIN_GROUP):
            raise AccessError(self.env._("Only administrators test a provider's connection."))
        labels = self.env["distribution.triage.label"]._labels_for(self.company_id)
        if not labels:
            raise UserError(self.env._("Create at least one triage label first."))
        answer = self._classify_texts([TEST_TEXT], labels, self.company_id)[0]
        self._log_calls([{"answer": answer, "text": TEST_TEXT, "policy": "test"}])
        if answer.error:
            raise UserError(
                self.env._(
                    "%(provider)s did not answer usably: %(error)s", provider=self.name, error=str(answer.error)[:300]
                )
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "title": self.env._("Connection works"),
                "message": self.env._(
                    "%(provider)s answered %(label)s (confidence %(confidence)s) in %(ms)s ms.",
                    provider=self.name,
                    label=answer.suggestion.label,
                    confidence=round(answer.suggestion.confidence, 2),
                    ms=answer.latency_ms,
                ),
                "sticky": False,
            },
        }

    def action_reset_breaker(self):
        """Close the breaker by hand once the service is back (administrators)."""
        if not self.env.user.has_group(ADMIN_GROUP):
            raise AccessError(self.env._("Only administrators reset a provider's circuit breaker."))
        for provider in self:
            provider._breaker_report(True)
        return True
