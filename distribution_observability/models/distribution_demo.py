"""The demo data of the Distribution addons, made by the suite's own code paths.

For demo databases only: the demo XML files call these methods with ``<function>``; each refuses to run
in a database installed without demo data, and none is reachable over RPC (private methods). Each addon
extends ``distribution.demo`` with the flows of its own features.
"""

import math
import random
from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tools import SQL

# The run history of the observability addon's own workflow: the alert evaluation (a scheduled action).
HISTORY = {
    "alert_evaluation": {
        "per_day": 12,
        "technical": 0.02,
        "success_reason": None,
        "failures": {"technical": [("SerializationFailure", "could not serialize access due to concurrent update")]},
        "duration_ms": 450,
        "last_hour": 3,
    },
}


class DistributionDemo(models.AbstractModel):
    """Demo data of the Distribution addons (demo databases only): the flows that make it, run through the
    same methods users and scheduled actions go through, never by writing states or guard fields."""

    _name = "distribution.demo"
    _description = "Distribution Demo Data"

    # -- guards -------------------------------------------------------------------------------------
    @api.model
    def _distribution_demo_check(self, module):
        """Refuse to make demo data outside a demo install of ``module``: the module must hold demo data,
        or be installed right now in a database with demo data (its own demo flag is only set once its
        demo files are loaded); and only an administrator (the installer) makes it."""
        if not self.env.is_admin():
            raise AccessError(self.env._("Only an administrator loads the demo data."))
        # sudo: the module list is read whatever the caller's rights on it.
        Module = self.env["ir.module.module"].sudo()
        addon = Module.search([("name", "=", module)], limit=1)
        base = Module.search([("name", "=", "base")], limit=1)
        if not (addon.demo or (base.demo and addon.state in ("to install", "to upgrade"))):
            raise UserError(
                self.env._(
                    "The demo data of %s is made in a database with demo data only: this one was created "
                    "without it.",
                    module,
                )
            )

    @api.model
    def _distribution_demo_xmlid(self, module, name, record):
        """Give a record made by a demo flow the XML id ``module.name`` (noupdate: an upgrade keeps it,
        uninstalling the module removes it), so that the demo's records can be found again."""
        self.env["ir.model.data"]._update_xmlids([{"xml_id": f"{module}.{name}", "record": record, "noupdate": True}])

    @api.model
    def _distribution_demo_backdate(self, records, field_name, when):
        """Move the creation date of demo records to ``when``: the demo needs a history (an exception raised
        yesterday, a request made this morning) that a fresh install cannot have. Only ``create_date``,
        which no process of the suite sets: every date a process decides (deadlines, escalations, run
        states) comes from the process itself."""
        if field_name != "create_date":
            raise UserError(self.env._("The demo only moves creation dates back, not %s.", field_name))
        records.flush_recordset()
        # Raw SQL: create_date is a magic column the ORM does not write.
        self.env.cr.execute(
            SQL(
                "UPDATE %s SET create_date = %s WHERE id IN %s",
                SQL.identifier(records._table),
                when,
                tuple(records.ids),
            )
        )
        records.invalidate_recordset(["create_date"])

    # -- the run history ----------------------------------------------------------------------------
    @api.model
    def _distribution_demo_history(self, profiles, records=None, days=7):
        """A week of runs of the workflows of ``profiles`` ({code: profile}), with successes and business
        and technical failures, so that the dashboard's chart, health table and figures have something
        to show. Each run is tracked with ``distribution.workflow.run.track()`` (the tracking path of every
        workflow), its outcome set through the run handle (``fail``, ``skip``); then its start and duration
        are spread over the last ``days`` days, the history a fresh demo database cannot have had.

        A profile: ``per_day`` runs, ``business`` / ``technical`` / ``skipped`` shares, ``failures``
        ({kind: [(reason, message)]}), ``success_reason``, ``duration_ms`` (median), ``last_hour`` (runs in
        the last hour, ``last_hour_failures`` of them failing technically). ``records`` maps a workflow
        code to the documents its runs are about (one per run, in turn). Answers the runs."""
        Run = self.env["distribution.workflow.run"]
        now = fields.Datetime.now()
        made = Run.browse()
        for code, profile in profiles.items():
            rng = random.Random(f"distribution-demo-{code}")  # the same history on every install
            starts = []
            for day in range(days):
                for _index in range(profile["per_day"]):
                    # Most work happens in the working day (07:00-19:00 UTC), some through the night.
                    hour = rng.uniform(7, 19) if rng.random() < 0.8 else rng.uniform(0, 24)
                    start = now.replace(hour=0, minute=0, second=0) - timedelta(days=day) + timedelta(hours=hour)
                    if start >= now - timedelta(hours=1):
                        # Later today (or in the last hour, see ``last_hour``): the same hour a week earlier,
                        # so that the history is the same whatever the hour of the install.
                        start -= timedelta(days=days)
                    starts.append(start.replace(microsecond=0))
            plan = list(zip(starts, self._distribution_demo_outcomes(rng, profile, len(starts)), strict=True))
            for index in range(profile.get("last_hour", 0)):
                start = now - timedelta(minutes=55 - index * 50 // max(profile["last_hour"], 1))
                failing = index < profile.get("last_hour_failures", 0)
                plan.append((start, "technical" if failing else "success"))
            documents = (records or {}).get(code)
            for index, (start, outcome) in enumerate(sorted(plan)):
                document = documents[index % len(documents)] if documents else None
                with Run.track(code, document) as run:
                    if outcome == "skipped":
                        run.skip("nothing_to_do", "Nothing was due.")
                    elif outcome in ("business", "technical"):
                        reason, message = rng.choice(profile["failures"][outcome])
                        run.fail(reason, message, kind=outcome)
                    else:
                        run.reason = profile.get("success_reason")
                duration = max(5, round(rng.lognormvariate(math.log(profile["duration_ms"]), 0.6)))
                # The history the demo needs: when the run started and how long it took (see the docstring).
                run.run.write({"started_at": start, "duration_ms": duration})
                made |= run.run
        return made

    @api.model
    def _distribution_demo_outcomes(self, rng, profile, count):
        """The outcomes of ``count`` runs: each share of the profile (``business``, ``technical``,
        ``skipped``) exactly, rounded, and at least one run of every kind with a share (a week of demo
        shows each kind of failure), placed at random; the rest succeed."""
        outcomes = ["success"] * count
        free = list(range(count))
        rng.shuffle(free)
        for kind in ("business", "technical", "skipped"):
            share = profile.get(kind, 0.0)
            wanted = max(1, round(share * count)) if share else 0
            for slot in free[:wanted]:
                outcomes[slot] = kind
            free = free[wanted:]
        return outcomes

    @api.model
    def _distribution_demo_evaluate_alerts(self):
        """Evaluate every alert rule as the scheduled action does (its incidents open, or resolve)."""
        self.env["distribution.alert.rule"]._cron_evaluate()

    # -- the observability addon's demo -------------------------------------------------------------
    @api.model
    def _distribution_demo_observability(self):
        """Demo of the observability addon: a week of alert evaluations, then the alert rules evaluated."""
        self._distribution_demo_check("distribution_observability")
        runs = self._distribution_demo_history(HISTORY)
        self._distribution_demo_xmlid("distribution_observability", "demo_run_history", runs.sorted("started_at")[:1])
        self._distribution_demo_evaluate_alerts()
        return True
