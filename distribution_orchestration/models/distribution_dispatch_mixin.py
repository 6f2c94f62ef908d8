import logging

import psycopg2

from odoo import api
from odoo import fields
from odoo import models
from odoo.tools import SQL

from ..services import dispatch

_logger = logging.getLogger(__name__)

DISPATCH_FIELDS = ("dispatch_score", "dispatch_breakdown", "dispatch_scored_at")
WORKFLOW_CODE = "dispatch_scoring"


class DistributionDispatchMixin(models.AbstractModel):
    """A dispatch score on a document (sale order, delivery): how urgently it should ship.

    The score is a stored computed field: the ORM refreshes it when an input of the document changes
    (see ``_dispatch_depends``). Time passing changes it too (hours left to the promise), which no field
    tracks: ``_recompute_dispatch_score`` rescores a batch now, as one tracked ``dispatch_scoring`` run,
    for the scheduled action and the *Recompute dispatch score* action.

    Inheriting models implement ``_get_dispatch_inputs`` (and ``_dispatch_depends``,
    ``_dispatch_open_domain``); the formula itself is ``services.dispatch.dispatch_score``.
    """

    _name = "distribution.dispatch.mixin"
    _description = "Dispatch Score"
    _dispatch_batch_size = 1000
    _dispatch_stale_minutes = 30  # the scheduled action rescores what was scored longer ago

    dispatch_score = fields.Float(
        compute="_compute_dispatch_score",
        store=True,
        index=True,
        copy=False,
        digits=(16, 2),
        help="How urgently this should ship (higher first): SLA of the customer, hours left to the promise "
        "date, order value and customer tier. Refreshed when the document changes and by a scheduled action.",
    )
    dispatch_breakdown = fields.Text(
        "Score Breakdown",
        compute="_compute_dispatch_score",
        store=True,
        copy=False,
        help="The points of each component of the dispatch score; they add up to the score.",
    )
    dispatch_scored_at = fields.Datetime("Scored At", compute="_compute_dispatch_score", store=True, copy=False)

    # -- hooks for the inheriting models -------------------------------------------------------
    def _dispatch_depends(self):
        """Field paths that change the inputs of the score (the clock aside)."""
        return []

    @api.model
    def _dispatch_open_domain(self):
        """The documents still to ship, rescored by the scheduled action."""
        return []

    def _get_dispatch_inputs(self, now):
        """Inputs of ``services.dispatch.dispatch_score`` per record id: a dict with ``sla_target_hours``,
        ``hours_to_promise`` (from ``now``), ``order_value`` (company currency) and ``tier_weight``,
        or None for a record that is not to be scored (its score is 0). Read in batch: no query per record.
        """
        return dict.fromkeys(self.ids)

    def _dispatch_after_scoring(self, run):
        """Act on fresh scores inside the tracked run (raise priorities ...)."""

    # -- computation ---------------------------------------------------------------------------
    @api.depends(lambda self: self._dispatch_depends())
    def _compute_dispatch_score(self):
        now = fields.Datetime.now()
        all_inputs = self._get_dispatch_inputs(now)
        for record in self:
            inputs = all_inputs.get(record.id)
            record.dispatch_scored_at = now
            if inputs is None:
                record.dispatch_score = 0.0
                record.dispatch_breakdown = False
                continue
            score, breakdown = dispatch.dispatch_score(**inputs)
            record.dispatch_score = score
            record.dispatch_breakdown = dispatch.explain(
                breakdown,
                record._dispatch_labels(inputs),
                total_label=self.env._("Dispatch score"),
            )

    def _dispatch_labels(self, inputs):
        """Translated label of each component, with the input that explains it."""
        target = inputs.get("sla_target_hours")
        hours = inputs.get("hours_to_promise")
        weight = inputs.get("tier_weight")
        if hours is None:
            time_label = self.env._("No promise date")
        elif hours >= 0:
            time_label = self.env._("Promise in %(hours).1f h", hours=hours)
        else:
            time_label = self.env._("Promise overdue by %(hours).1f h", hours=-hours)
        if target is None:
            sla_label = self.env._("No SLA tier")
        else:
            sla_label = self.env._("SLA target %(hours)s h", hours=format(target, "g"))
        return {
            "sla": sla_label,
            "time": time_label,
            "value": self.env._("Order value %(value).2f", value=inputs.get("order_value") or 0.0),
            "tier": self.env._("Tier weight x%(weight)s", weight=format(1.0 if weight is None else weight, "g")),
        }

    def _recompute_dispatch_score(self):
        """Rescore these records now, as one tracked ``dispatch_scoring`` run: a constant number of
        queries whatever the size of the batch (one UPDATE for the scores)."""
        if not self:
            return
        with self.env["distribution.workflow.run"].track(WORKFLOW_CODE, self) as run:
            for fname in DISPATCH_FIELDS:
                self.env.add_to_compute(self._fields[fname], self)
            self.flush_recordset(DISPATCH_FIELDS)
            run.message = self.env._("%(count)s records scored.", count=len(self))
            self._dispatch_after_scoring(run)

    def action_recompute_dispatch_score(self):
        """Rescore the selected records now (the *Recompute dispatch score* action)."""
        self.check_access("write")
        self._recompute_dispatch_score()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._("Dispatch score recomputed for %(count)s records.", count=len(self)),
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    @api.model
    def _cron_recompute_dispatch_scores(self):
        """Scheduled action: rescore the open documents scored longer ago than ``_dispatch_stale_minutes``,
        oldest score first, by batches of ``_dispatch_batch_size`` (each one tracked run, progress reported
        to the scheduler, which calls again while some remain)."""
        stale_before = fields.Datetime.subtract(fields.Datetime.now(), minutes=self._dispatch_stale_minutes)
        domain = [
            *self._dispatch_open_domain(),
            "|",
            ("dispatch_scored_at", "=", False),
            ("dispatch_scored_at", "<", stale_before),
        ]
        found = self.search(domain, order="dispatch_scored_at asc nulls first, id", limit=self._dispatch_batch_size)
        remaining = self.search_count(domain) - len(found) if len(found) == self._dispatch_batch_size else 0
        todo = found._dispatch_claim()
        todo._recompute_dispatch_score()
        self.env["ir.cron"]._notify_progress(done=len(todo), remaining=remaining)
        return todo

    def _dispatch_claim(self):
        """The records of ``self`` this transaction may rescore, row-locked. The scheduled action runs next to
        users and other workers (another server releasing orders, reserving stock, writing the same
        documents): a document another transaction holds is skipped (SKIP LOCKED) and scored at the next run,
        and when one of them was changed after this transaction's snapshot (Odoo's REPEATABLE READ refuses to
        lock it), the batch is left to the next run, which sees the change. Never a failed job."""
        if not self:
            return self
        self.flush_recordset()
        # Raw SQL: row locks with SKIP LOCKED are not available through the ORM.
        query = SQL(
            "SELECT id FROM %s WHERE id IN %s ORDER BY id FOR NO KEY UPDATE SKIP LOCKED",
            SQL.identifier(self._table),
            tuple(self.ids),
        )
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(query, log_exceptions=False)
                return self.browse([row[0] for row in self.env.cr.fetchall()])
        except psycopg2.errors.SerializationFailure:
            _logger.info("Dispatch scores of %s: a document changed concurrently, left to the next run.", self._name)
            return self.browse()
