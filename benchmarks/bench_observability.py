"""Benchmark of distribution_observability: the cost of tracking a unit of work, and of the dashboard data.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_observability.py [--db bench_obs] [--sizes 10000,100000,1000000]
                                                       [--units 500] [--fresh] [--no-update] [--keep-rows]
                                                       [--tz Europe/Brussels]

The script works on its own database (``bench_obs`` by default): it creates it and installs the addon when
missing (``--fresh`` drops and recreates it), updates the addon otherwise (so that the indexes of the current
code exist; ``--no-update`` skips that), and deletes every row it generated before it ends.

What it prints, each figure next to its baseline measured in the same run:

1. Tracking overhead per unit. ``--units`` units of trivial work are run untracked (baseline) and wrapped one by
   one in ``with Run.track("bench_workflow", partner):`` (tracked). Per unit: SQL queries of the transaction's
   cursor (``cr.sql_log_count`` after ``env.flush_all()``), the delta by statement (INSERT, UPDATE ...), the
   statements of other cursors (the failure path writes through a cursor of its own), microseconds (median of
   ``--repeats`` loops), tracked minus baseline, and how much of that delta is spent waiting for PostgreSQL
   (the rest is Python: the ORM's create/write). Without a flush per unit, the ORM batches the closing UPDATEs
   of all runs into one statement at the final flush: "flush per unit" shows what a unit committed on its own
   costs. The last row is the batch form, one ``track()`` around the whole loop. Target: tracking a unit costs
   at most one INSERT and one UPDATE, i.e. a query delta of at most 2 per unit.
2. Dashboard data. ``get_dashboard_data()`` (median and first of 5 calls, each with an empty record cache, and
   queries per call) with 10k, 100k and 1M generated rows in distribution_workflow_run (spread over 90 days, so
   ~1.1% of them fall in the last 24 h), next to the naive approach: ``search()`` of the last 24 h and the same
   per-workflow/per-hour figures computed in Python (queries, ms). The calls carry the context of the web
   client (language, ``--tz``, company). "runs 24h" of both and the sum of the chart's hourly runs are printed
   as a sanity check (the chart shows 24 whole hours, so its sum may be slightly lower). Target: under 300 ms
   at 1M rows.
3. EXPLAIN (ANALYZE, BUFFERS) at the largest size of every query the dashboard sends to distribution_workflow_run
   (the KPI query of ``_kpis`` for 24 h and 1 h, the per-hour ``_read_group``), captured while it runs, with the
   indexes each plan uses. A "Seq Scan on distribution_workflow_run" there means a missing or unused index.

The rows are generated in SQL (``generate_series``) in increasing steps, followed by VACUUM ANALYZE, so that
statistics are fresh and autovacuum does not start in the middle of a measure. They are inserted in random time
order, the worst case for heap locality (real runs arrive in time order). Timings depend on the machine: compare
the columns of one run, not runs of different machines.
"""

import argparse
import contextlib
import re
import statistics
import threading
import time
from collections import Counter
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from benchlib import fmt
from benchlib import prepare_database
from benchlib import print_table
from benchlib import record
from benchlib import say

import odoo
import odoo.sql_db
from odoo import SUPERUSER_ID
from odoo import api
from odoo import fields
from odoo.exceptions import UserError
from odoo.modules.registry import Registry
from odoo.tools import SQL
from odoo.tools import config

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONF = REPO / ".local" / "odoo-local.conf"
MODULE = "distribution_observability"
RUN_TABLE = "distribution_workflow_run"
BENCH_PREFIX = "bench_"
TRACK_CODE = "bench_workflow"
GENERATED_WORKFLOWS = 5
DASHBOARD_CALLS = 5
TARGET_DASHBOARD_MS = 300
TARGET_TRACKING_QUERIES = 2


# -- output ---------------------------------------------------------------------------------------------
# -- database -------------------------------------------------------------------------------------------
def vacuum_analyze(db):
    """VACUUM ANALYZE the run table through an autocommit connection (VACUUM cannot run in a transaction):
    dead index entries of rolled-back or deleted runs are gone, the statistics and visibility map are fresh,
    and autovacuum has no reason to start in the middle of a measure."""
    with contextlib.closing(odoo.sql_db.db_connect(db).cursor()) as cr:
        cr._cnx.autocommit = True
        try:
            cr.execute(SQL("VACUUM ANALYZE %s", SQL.identifier(RUN_TABLE)))
        finally:
            cr._cnx.autocommit = False


def remove_bench_data(env):
    """Delete the bench workflows and their runs (including committed leftovers of an interrupted run)."""
    workflows = (
        env["distribution.workflow"].with_context(active_test=False).search([("code", "=like", f"{BENCH_PREFIX}%")])
    )
    if not workflows:
        return 0
    # Raw SQL: a bulk delete of up to millions of generated rows.
    env.cr.execute(SQL("DELETE FROM %s WHERE workflow_id IN %s", SQL.identifier(RUN_TABLE), tuple(workflows.ids)))
    deleted = env.cr.rowcount
    workflows.unlink()
    env.cr.commit()
    return deleted


# -- measuring ------------------------------------------------------------------------------------------
class Measure:
    """Wall time of a block, queries of the environment's cursor (``cr.sql_log_count``), queries of other
    cursors, the statements of both by kind (``kinds["INSERT"]``, ``other_kinds["SELECT"]`` ...), and the time
    spent waiting for PostgreSQL on all cursors (``sql_seconds``)."""

    def __init__(self, env):
        self.env = env
        self.queries = self.other_queries = 0
        self.kinds, self.other_kinds = Counter(), Counter()
        self.seconds = self.sql_seconds = 0.0

    def _hook(self, cursor, query, params, start, delay):
        kind = query.lstrip().split(None, 1)[0].upper() if query.strip() else "?"
        (self.kinds if cursor is self.env.cr else self.other_kinds)[kind] += 1
        self.sql_seconds += delay

    def __enter__(self):
        self.env.flush_all()
        self._thread = threading.current_thread()
        self._hooks = getattr(self._thread, "query_hooks", ())
        self._thread.query_hooks = (*self._hooks, self._hook)
        self._queries = self.env.cr.sql_log_count
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.env.flush_all()
        self.seconds = time.perf_counter() - self._start
        self.queries = self.env.cr.sql_log_count - self._queries
        self._thread.query_hooks = self._hooks
        self.other_queries = self.other_kinds.total()


@contextlib.contextmanager
def capture_queries(cr):
    """The SQL (parameters inlined) and duration of every query ``cr`` executes in the block."""
    captured = []

    def hook(cursor, query, params, start, delay):
        if cursor is cr:
            captured.append((cursor.mogrify(query, params).decode(), delay))

    thread = threading.current_thread()
    previous = getattr(thread, "query_hooks", ())
    thread.query_hooks = (*previous, hook)
    try:
        yield captured
    finally:
        thread.query_hooks = previous


def percentile_cont(values, fraction):
    """PostgreSQL's percentile_cont over a sorted list (linear interpolation)."""
    if not values:
        return None
    position = fraction * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


# -- 1. tracking overhead -------------------------------------------------------------------------------
def bench_tracking(env, units, repeats):
    Run = env["distribution.workflow.run"]
    partners = env["res.partner"].create([{"name": f"Bench partner {i}"} for i in range(units)])
    savepoint = env.cr.savepoint()

    def noop(_partner, _i):
        pass

    def write(partner, i):
        partner.ref = f"bench-{i}"

    def raise_error(_partner, _i):
        raise UserError("bench failure")

    def untracked(work, flush=False):
        def loop():
            for i, partner in enumerate(partners):
                with contextlib.suppress(UserError):
                    work(partner, i)
                if flush:
                    env.flush_all()

        return loop

    def tracked(work, flush=False):
        def loop():
            for i, partner in enumerate(partners):
                with contextlib.suppress(UserError), Run.track(TRACK_CODE, partner):
                    work(partner, i)
                if flush:
                    env.flush_all()

        return loop

    def batch(work):
        def loop():
            with Run.track(TRACK_CODE, partners):
                for i, partner in enumerate(partners):
                    work(partner, i)

        return loop

    # (label, baseline loop, tracked loop, whether the target applies: the failure path writes through its own
    # cursor by design, and the batch form is one run for the whole loop)
    scenarios = [
        ("no-op", untracked(noop), tracked(noop), True),
        ("write partner.ref", untracked(write), tracked(write), True),
        ("write partner.ref, flush per unit", untracked(write, flush=True), tracked(write, flush=True), True),
        ("unit raising UserError (failure path)", untracked(raise_error), tracked(raise_error), False),
        (f"batch: one track() around {units} writes", untracked(write), batch(write), False),
    ]

    def measure(loop):
        with Measure(env) as measure:
            loop()
        savepoint.rollback()  # drop the runs and the writes: every loop starts from the same state
        return measure

    def kind_delta(base, tracked_, units):
        deltas = {kind: (tracked_[kind] - base[kind]) / units for kind in sorted(set(base) | set(tracked_))}
        return " ".join(f"{kind} {delta:+.2f}" for kind, delta in deltas.items() if delta) or "-"

    rows, checked = [], []
    for label, baseline, candidate, target in scenarios:
        for loop in (baseline, candidate):  # warm the caches
            loop()
            savepoint.rollback()
        base_runs, cand_runs = [], []
        for _ in range(repeats):
            base_runs.append(measure(baseline))
            cand_runs.append(measure(candidate))
        base, cand = base_runs[-1], cand_runs[-1]
        base_q, cand_q = base.queries / units, cand.queries / units
        base_us = statistics.median(m.seconds for m in base_runs) * 1e6 / units
        cand_us = statistics.median(m.seconds for m in cand_runs) * 1e6 / units
        sql_us = (
            (statistics.median(m.sql_seconds for m in cand_runs) - statistics.median(m.sql_seconds for m in base_runs))
            * 1e6
            / units
        )
        if target:
            checked.append((label, cand_q - base_q))
        rows.append(
            [
                label,
                fmt(base_q),
                fmt(cand_q),
                fmt(cand_q - base_q, signed=True),
                kind_delta(base.kinds, cand.kinds, units),
                kind_delta(base.other_kinds, cand.other_kinds, units),
                fmt(base_us, 1),
                fmt(cand_us, 1),
                fmt(cand_us - base_us, 1, signed=True),
                fmt(sql_us, 1, signed=True),
            ]
        )
    savepoint.close(rollback=True)
    env.cr.rollback()  # the partners go too
    say(f"\n== 1. Tracking overhead per unit ({units} units, median of {repeats} loops) ==")
    print_table(
        [
            "scenario",
            "base q/unit",
            "tracked q/unit",
            "delta q",
            "delta by statement",
            "other cursors",
            "base us/unit",
            "tracked us/unit",
            "delta us",
            "of which SQL us",
        ],
        rows,
    )
    label, worst = max(checked, key=lambda item: item[1])
    record(
        "observability",
        f"run tracking, extra queries per unit ({label})",
        worst,
        0,
        "the same work untracked",
        "queries",
        target=("+", TARGET_TRACKING_QUERIES),
        higher_is_better=False,
    )
    verdict = "met" if round(worst, 1) <= TARGET_TRACKING_QUERIES else "NOT MET"
    say(
        f"Target: at most {TARGET_TRACKING_QUERIES} queries (one INSERT, one UPDATE) per tracked unit: worst delta "
        f"{worst:.2f} ({label}) -> {verdict}"
    )
    say("(The failure path is outside the target: its failed run is written and committed through a cursor of its")
    say(" own, and the 'running' row of the failing transaction is deleted.)")


# -- 2. dashboard data ----------------------------------------------------------------------------------
def load_runs(env, workflow_ids, count, company_id):
    """Insert ``count`` generated runs: 90 % success, 5 % business and 2 % technical failures, 2 % retrying
    (technical, second attempt), 1 % skipped; started over the last 90 days; durations skewed to short."""
    # Raw SQL: generating up to a million rows through the ORM would measure the ORM, not the dashboard.
    env.cr.execute(
        SQL(
            """
        WITH src AS MATERIALIZED (
            SELECT g, random() AS r, random() AS d, random() AS t FROM generate_series(1, %(count)s) AS g
        )
        INSERT INTO distribution_workflow_run
               (workflow_id, state, error_kind, reason, res_model, res_id, record_count, started_at, duration_ms,
                attempt, correlation_id, company_id, create_uid, write_uid, create_date, write_date)
        SELECT (%(workflows)s::int[])[1 + mod(g, %(nb_workflows)s)],
               CASE WHEN r < 0.90 THEN 'success' WHEN r < 0.97 THEN 'failed'
                    WHEN r < 0.99 THEN 'retrying' ELSE 'skipped' END,
               CASE WHEN r >= 0.90 AND r < 0.95 THEN 'business' WHEN r >= 0.95 AND r < 0.99 THEN 'technical' END,
               CASE WHEN r >= 0.90 AND r < 0.95 THEN 'BENCH_BUSINESS'
                    WHEN r >= 0.95 AND r < 0.99 THEN 'BENCH_TECHNICAL' END,
               'res.partner', g, 1,
               (now() AT TIME ZONE 'UTC') - t * interval '90 days',
               (20 + 4000 * d * d * d)::int,
               CASE WHEN r >= 0.97 AND r < 0.99 THEN 2 ELSE 1 END,
               md5(g::text || r::text),
               %(company)s, %(uid)s, %(uid)s, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
          FROM src
        """,
            count=count,
            workflows=list(workflow_ids),
            nb_workflows=len(workflow_ids),
            company=company_id,
            uid=SUPERUSER_ID,
        )
    )
    env.cr.commit()
    vacuum_analyze(env.cr.dbname)


def naive_dashboard(env):
    """The baseline: the runs of the last 24 h as records, and the dashboard's figures computed in Python."""
    since = fields.Datetime.now() - timedelta(hours=24)
    runs = env["distribution.workflow.run"].search([("started_at", ">=", since)])
    per_workflow = defaultdict(
        lambda: {"runs": 0, "success": 0, "failed": 0, "retries": 0, "business": 0, "technical": 0, "durations": []}
    )
    per_hour = defaultdict(lambda: {"runs": 0, "failures": 0})
    for run in runs:
        if run.parent_id:
            continue
        figures = per_workflow[run.workflow_id.id]
        state = run.state
        figures["runs"] += 1
        figures["success"] += state == "success"
        figures["failed"] += state == "failed"
        figures["retries"] += state == "retrying" or run.attempt > 1
        if state in ("failed", "retrying"):
            figures[run.error_kind or "technical"] += 1
        if state != "running":
            figures["durations"].append(run.duration_ms or 0)
        slot = per_hour[run.started_at.replace(minute=0, second=0, microsecond=0)]
        slot["runs"] += 1
        slot["failures"] += state in ("failed", "retrying")
    for figures in per_workflow.values():
        durations = sorted(figures.pop("durations"))
        figures["p50"], figures["p95"] = percentile_cont(durations, 0.5), percentile_cont(durations, 0.95)
    return {
        "runs_24h": sum(f["runs"] for f in per_workflow.values()),
        "workflows": dict(per_workflow),
        "per_hour": dict(per_hour),
    }


def time_calls(env, function, calls=DASHBOARD_CALLS):
    """Median and first duration (ms), queries per call and the last result of ``calls`` cold-cache calls."""
    durations, queries, result = [], 0, None
    for _ in range(calls):
        env.invalidate_all()  # every call starts with an empty record cache, as a new request would
        with Measure(env) as measure:
            result = function()
        durations.append(measure.seconds * 1000)
        queries = measure.queries
    return statistics.median(durations), durations[0], queries, result


def bench_dashboard(env, sizes, company_id):
    Workflow = env["distribution.workflow"]
    Run = env["distribution.workflow.run"]
    workflows = Workflow.create(
        [{"code": f"{BENCH_PREFIX}generated_{i}", "name": f"Bench generated {i}"} for i in range(GENERATED_WORKFLOWS)]
    )
    env.cr.commit()
    say(f"\n== 2. Dashboard data (get_dashboard_data vs naive search + Python, {DASHBOARD_CALLS} calls each) ==")
    rows, loaded, largest = [], 0, None
    for size in sorted(sizes):
        started = time.perf_counter()
        load_runs(env, workflows.ids, size - loaded, company_id)
        loaded = size
        env.cr.execute(SQL("SELECT count(*) FROM %s", SQL.identifier(RUN_TABLE)))
        total = env.cr.fetchone()[0]
        say(
            f"  loaded {size:,} generated rows ({total:,} in the table) + VACUUM ANALYZE in "
            f"{time.perf_counter() - started:.1f} s"
        )
        dash_ms, dash_first, dash_q, data = time_calls(env, Run.get_dashboard_data)
        naive_ms, naive_first, naive_q, naive = time_calls(env, lambda: naive_dashboard(env))
        env.invalidate_all()
        rows.append(
            [
                f"{size:,}",
                f"{total:,}",
                f"{data['tiles']['runs']:,}",
                f"{sum(data['chart']['runs']):,}",
                f"{naive['runs_24h']:,}",
                fmt(dash_ms, 1),
                fmt(dash_first, 1),
                dash_q,
                fmt(naive_ms, 1),
                fmt(naive_first, 1),
                naive_q,
                f"{naive_ms / dash_ms:.1f}x",
            ]
        )
        largest = (size, dash_ms)
        record(
            "observability",
            f"dashboard data over {total:,} run rows, median ms",
            dash_ms,
            naive_ms,
            "search the runs and count in Python",
            "ms",
            higher_is_better=False,
        )
    print_table(
        [
            "generated rows",
            "rows in table",
            "runs 24h (dash)",
            "chart sum (dash)",
            "runs 24h (naive)",
            "dash median ms",
            "dash first ms",
            "dash queries",
            "naive median ms",
            "naive first ms",
            "naive queries",
            "naive/dash",
        ],
        rows,
    )
    size, dash_ms = largest
    if size >= 1_000_000:
        verdict = "met" if dash_ms < TARGET_DASHBOARD_MS else "NOT MET"
        say(
            f"Target: dashboard data over 1M rows under {TARGET_DASHBOARD_MS} ms: {dash_ms:.1f} ms at {size:,} "
            f"rows -> {verdict}"
        )
    else:
        say(f"Target (1M rows, < {TARGET_DASHBOARD_MS} ms) not checked: the largest size is {size:,} rows.")
    return size


# -- 3. query plans -------------------------------------------------------------------------------------
def explain_dashboard(env, size):
    Run = env["distribution.workflow.run"]
    env.invalidate_all()
    with capture_queries(env.cr) as captured:
        Run.get_dashboard_data()
    queries = [(sql, delay) for sql, delay in captured if re.search(rf"\b{RUN_TABLE}\b", sql)]
    say(f"\n== 3. Plans of the dashboard's queries on {RUN_TABLE} at {size:,} generated rows ==")
    say(f"({len(captured)} queries in get_dashboard_data, {len(queries)} on {RUN_TABLE})")
    for number, (sql, delay) in enumerate(queries, 1):
        kind = (
            "KPI query (_kpis)"
            if "percentile_cont" in sql
            else "per-hour _read_group"
            if "date_trunc" in sql
            else "other query"
        )
        env.cr.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        plan = "\n".join(row[0] for row in env.cr.fetchall())
        indexes = sorted(
            set(
                re.findall(
                    r"(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)?" r"(?: using| on) (\S+)", plan
                )
            )
        )
        seq_scan = re.search(rf"Seq Scan on {RUN_TABLE}\b", plan)
        say(f"\n-- {number}. {kind}, {delay * 1000:.1f} ms in the dashboard call --")
        say(" ".join(sql.split()))
        say(plan)
        say(
            f"Indexes used: {', '.join(indexes) or 'none'}"
            + (f"; SEQUENTIAL SCAN of {RUN_TABLE}" if seq_scan else "; no sequential scan of the run table")
        )
    env.cr.rollback()


# -- main -----------------------------------------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", default="bench_obs", help="the benchmark's own database (default: bench_obs)")
    parser.add_argument("--conf", default=str(DEFAULT_CONF), help="Odoo configuration file")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="generated run rows, comma-separated")
    parser.add_argument("--units", type=int, default=500, help="units of work per tracking loop")
    parser.add_argument("--repeats", type=int, default=3, help="loops per tracking scenario (the median counts)")
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database first")
    parser.add_argument("--no-update", dest="update", action="store_false", help="do not update the addon")
    parser.add_argument(
        "--tz",
        default="Europe/Brussels",
        help="time zone of the dashboard's context, as the web client sends it ('' for none)",
    )
    parser.add_argument("--keep-rows", action="store_true", help="keep the generated rows (to inspect them)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]

    config.parse_config(["-c", args.conf, "-d", args.db, "--log-level=warn"])
    prepare_database(args.conf, args.db, args.fresh, args.update, MODULE)
    registry = Registry(args.db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        leftovers = remove_bench_data(env)
        if leftovers:
            say(f"Removed {leftovers} runs left by a previous, interrupted benchmark.")
        env.cr.execute("SELECT version()")
        say(f"Database {args.db}: {env.cr.fetchone()[0].split(',')[0]}; Odoo {odoo.release.version}")
        company_id = env.ref("base.main_company").id
        try:
            env["distribution.workflow"].create({"code": TRACK_CODE, "name": "Bench workflow"})
            env.cr.commit()  # the failure path writes through a cursor of its own: the workflow must be committed
            bench_tracking(env, args.units, args.repeats)
            remove_bench_data(env)  # the failed runs the failure path committed would show on the dashboard
            vacuum_analyze(args.db)  # and the rolled-back runs of the loops leave dead entries in the indexes
            if sizes:
                # The context of a call from the web client: the user's language, time zone and company.
                web_env = env(context={"lang": "en_US", "tz": args.tz or False, "allowed_company_ids": [company_id]})
                size = bench_dashboard(web_env, sizes, company_id)
                explain_dashboard(web_env, size)
        finally:
            env.cr.rollback()
            if args.keep_rows:
                say("\nGenerated rows kept (--keep-rows): the next run of the script deletes them.")
            else:
                started = time.perf_counter()
                deleted = remove_bench_data(env)
                say(
                    f"\nCleanup: deleted {deleted} generated runs and the bench workflows in "
                    f"{time.perf_counter() - started:.1f} s"
                )


if __name__ == "__main__":
    main()
