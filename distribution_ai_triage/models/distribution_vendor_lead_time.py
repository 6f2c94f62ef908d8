import time
from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo.addons.distribution_observability.services import verbs
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ..services import classify
from ..services import redaction
from ..services import risk_wording

VERB = "distribution_risk_wording"
WORDING_GROUPS = ("distribution_observability.group_distribution_manager", "purchase.group_purchase_manager")
AI_FIELDS = (
    "ai_summary",
    "ai_summary_author",
    "ai_summary_hash",
    "ai_summary_at",
    "ai_summary_error",
    "ai_summary_checked_at",
)
# Errors of a wording that count against the provider's circuit breaker: it is down or talks nonsense. A
# wording refused by the checks (a purchase order left out) is an answer, not an outage.
BREAKER_REASONS = ("timeout", "connection", "bad_json", "empty")
# One advisory lock space for the vendor lines being worded: two workers never word one line at once.
LOCK_SPACE = 5_140_201
RECHECK_HOURS = 4


class DistributionVendorLeadTime(models.Model):
    """The supplier scorecard's risk summary worded by the company's chat provider. The provider is asked
    outside any read (the button Word with AI, or the scheduled action), from the facts of the data; its text
    is stored with the fingerprint of those facts and shown, with its author, only while the facts are the
    same. Otherwise, and whenever no provider answers usably, the template of distribution_orchestration."""

    _inherit = "distribution.vendor.lead.time"

    ai_summary = fields.Text("AI-Worded Summary", readonly=True, help="The last summary a chat provider worded.")
    ai_summary_author = fields.Char("AI Summary Author", readonly=True)
    ai_summary_hash = fields.Char("Worded From (fingerprint)", readonly=True, help="Of the facts it was worded from.")
    ai_summary_at = fields.Datetime("Worded On", readonly=True)
    ai_summary_error = fields.Char("Last Wording Failure", readonly=True)
    ai_summary_checked_at = fields.Datetime("Wording Checked On", readonly=True)

    # -- the hook ---------------------------------------------------------------------------------
    def _risk_summary(self, facts):
        """The stored AI wording while the facts it was worded from are still the data's; else the template."""
        self.ensure_one()
        if self.ai_summary and self.ai_summary_hash == risk_wording.facts_hash(facts):
            return self.ai_summary, self.ai_summary_author
        return super()._risk_summary(facts)

    # -- guards -----------------------------------------------------------------------------------
    def _check_ai_fields(self, vals):
        refused = verbs.refused_fields(self, vals, dict.fromkeys(AI_FIELDS, VERB))
        if refused:
            raise AccessError(
                self.env._(
                    "These fields of the supplier scorecard are written by the AI wording itself: %s. "
                    "Use Word with AI.",
                    ", ".join(refused),
                )
            )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self.browse()._check_ai_fields(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._check_ai_fields(vals)
        return super().write(vals)

    def _write_wording(self, vals):
        """Verb: store what the wording gave (or why it failed)."""
        with verbs.server_verb(VERB, self):
            # sudo: the scorecard is read-only for everyone (the learning writes it); the wording is the system's.
            self.sudo().write(vals)
        self.invalidate_recordset(["risk_summary", "risk_summary_author"])

    # -- actions ----------------------------------------------------------------------------------
    def action_word_risk_summary(self):
        """Button and server action: have the company's chat provider word the risk summary of these vendors
        now (Distribution Managers and Purchase Administrators). The template stays when no provider may be
        asked, none answers or the answer is refused; the notification says which."""
        if not any(self.env.user.has_group(group) for group in WORDING_GROUPS):
            raise AccessError(
                self.env._("Only Distribution Managers and Purchase Administrators have a risk summary worded.")
            )
        self.check_access("read")
        counts = self.filtered(lambda line: not line.product_id)._word_risk_summaries()
        failures = ", ".join(
            {error for error in self.filtered(lambda line: not line.product_id).mapped("ai_summary_error") if error}
        )
        message = self.env._(
            "%(worded)s worded, %(unchanged)s unchanged, %(failed)s kept the template.",
            worded=counts["worded"],
            unchanged=counts["unchanged"],
            failed=counts["failed"] + counts["no_provider"] + counts["busy"],
        )
        if failures:
            message = f"{message} {failures}"
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success" if counts["worded"] or counts["unchanged"] else "warning",
                "title": self.env._("Risk summary"),
                "message": message,
                "sticky": False,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    # -- wording ----------------------------------------------------------------------------------
    @api.model
    def _wording_providers(self, company):
        """The chat providers that may word ``company``'s summaries, in order: local ones only while the
        company does not send content to external AI services."""
        # sudo: the providers are configured by administrators; the wording uses them for every reader.
        providers = (
            self.env["distribution.ai.provider"]
            .sudo()
            .search([("company_id", "=", company.id), ("kind", "=", classify.CHAT)])
        )
        if not company.distribution_triage_send_external:
            providers = providers.filtered(lambda provider: provider._is_local())
        return providers

    def _word_risk_summaries(self):
        """Verb: word the summary of each vendor line whose facts changed since it was last worded, a tracked
        run per company. Returns the counts: worded, unchanged, failed, no_provider, busy."""
        counts = dict.fromkeys(("worded", "unchanged", "failed", "no_provider", "busy"), 0)
        for company in self.company_id:
            lines = self.filtered(lambda line, company=company: line.company_id == company and not line.product_id)
            if not lines:
                continue
            Run = self.env["distribution.workflow.run"].with_company(company)
            with Run.track("ai_risk_summary", lines) as run:
                providers = self._wording_providers(company)
                calls_today = providers._calls_today()
                mine = dict.fromkeys(counts, 0)
                for line in lines:
                    mine[line._word_with(providers, calls_today)] += 1
                run.message = self.env._(
                    "%(worded)s worded, %(unchanged)s unchanged, %(failed)s failed, %(none)s without a provider, "
                    "%(busy)s being worded elsewhere",
                    worded=mine["worded"],
                    unchanged=mine["unchanged"],
                    failed=mine["failed"],
                    none=mine["no_provider"],
                    busy=mine["busy"],
                )
                if mine["failed"] and not mine["worded"]:
                    run.fail("provider_failed", run.message)
                elif mine["no_provider"] and not mine["worded"]:
                    run.skip("no_provider", run.message)
                for key, value in mine.items():
                    counts[key] += value
        return counts

    def _word_with(self, providers, calls_today):
        """Word this vendor line's summary with the first of ``providers`` that answers usably; store it
        with its author and the fingerprint of its facts. Returns worded, unchanged, failed, no_provider
        or busy."""
        self.ensure_one()
        self.env.cr.execute(SQL("SELECT pg_try_advisory_xact_lock(%s, %s)", LOCK_SPACE, self.id))
        if not self.env.cr.fetchone()[0]:
            return "busy"
        now = fields.Datetime.now()
        facts = self._risk_facts()
        digest = risk_wording.facts_hash(facts)
        if self.ai_summary and self.ai_summary_hash == digest:
            self._write_wording({"ai_summary_checked_at": now})
            return "unchanged"
        if not providers:
            self._write_wording(
                {
                    "ai_summary_checked_at": now,
                    "ai_summary_error": self.env._("No chat provider may word it (Settings > AI providers)."),
                }
            )
            return "no_provider"
        company = self.company_id
        language = self.env["res.lang"]._lang_get(company.partner_id.lang or self.env.lang or "en_US").name
        region = (company.country_id.code or "US").upper()
        error = None
        for provider in providers:
            if not classify.budget_allows(calls_today.get(provider.id, 0), provider.daily_budget):
                error = classify.ProviderError("budget", f"{provider.name}: the daily budget is used")
                continue
            allowed, reason = provider._breaker_acquire()
            if not allowed:
                error = classify.ProviderError(reason or "breaker_open", f"{provider.name}: circuit breaker open")
                continue
            body = risk_wording.chat_request(facts, provider.model, language)
            # Redacted as the triage's messages are: addresses, phones, IBANs, card numbers, the vendor's name.
            sent = redaction.redact(body["messages"][1]["content"], names=[facts["vendor"]], region=region).text
            body["messages"][1]["content"] = sent
            start = time.perf_counter()
            content, tokens, text, attempt_error = None, 0, None, None
            try:
                content, tokens = provider._word(body)
                text = risk_wording.check_wording(content, facts)
            except classify.ProviderError as exc:
                attempt_error = exc
            except risk_wording.WordingRejected as exc:
                attempt_error = classify.ProviderError(exc.reason, exc.detail)
            latency = round((time.perf_counter() - start) * 1000)
            calls_today[provider.id] = calls_today.get(provider.id, 0) + 1
            provider._log_wording(self, sent, text or content, attempt_error, latency, tokens)
            down = bool(attempt_error) and (
                attempt_error.reason in BREAKER_REASONS or attempt_error.reason.startswith("http_5")
            )
            provider._breaker_report(not down, attempt_error if down else None)
            if text:
                self._write_wording(
                    {
                        "ai_summary": text,
                        "ai_summary_author": self.env._(
                            "AI: %(provider)s (%(model)s)", provider=provider.name, model=provider.model
                        ),
                        "ai_summary_hash": digest,
                        "ai_summary_at": now,
                        "ai_summary_error": False,
                        "ai_summary_checked_at": now,
                    }
                )
                return "worded"
            error = attempt_error
        self._write_wording(
            {
                "ai_summary_checked_at": now,
                "ai_summary_error": self.env._(
                    "The template stays: %(error)s", error=str(error)[:200] if error else "-"
                ),
            }
        )
        return "failed"

    @api.model
    def _cron_word_risk_summaries(self, batch_size=20):
        """Scheduled action: word the summaries of the vendor lines learned again or not checked for a few
        hours, of the companies with a chat provider, a batch per call; each line is taken under an advisory
        lock (two workers never word one line, and the learning is never blocked), a full batch asks for the
        next one. A line whose facts did not change costs no call."""
        self.env["distribution.ai.provider"].flush_model(["company_id", "kind", "active"])
        self.flush_model(["product_id", "computed_at", "ai_summary_checked_at", "company_id"])
        # Raw SQL: the batch is claimed with transaction-scoped advisory locks, which the ORM has no word for.
        self.env.cr.execute(
            SQL(
                """
                SELECT id FROM (
                    SELECT lt.id FROM distribution_vendor_lead_time lt
                     WHERE lt.product_id IS NULL
                       AND (lt.ai_summary_checked_at IS NULL OR lt.ai_summary_checked_at < lt.computed_at
                            OR lt.ai_summary_checked_at < %(since)s)
                       AND EXISTS (SELECT 1 FROM distribution_ai_provider p
                                    WHERE p.company_id = lt.company_id AND p.kind = %(chat)s AND p.active)
                     ORDER BY lt.ai_summary_checked_at NULLS FIRST, lt.id
                ) candidates
                WHERE pg_try_advisory_xact_lock(%(space)s, id)
                LIMIT %(limit)s
                """,
                since=fields.Datetime.now() - timedelta(hours=RECHECK_HOURS),
                chat=classify.CHAT,
                space=LOCK_SPACE,
                limit=batch_size,
            )
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        counts = self.browse(ids)._word_risk_summaries() if ids else {}
        self.env["ir.cron"]._notify_progress(done=len(ids), remaining=1 if len(ids) >= batch_size else 0)
        return counts
