"""Benchmark of distribution_orchestration: the cost of the order validation pipeline.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_orchestration.py [--db bench_orch] [--lines 1,20,100]
                                                       [--batches 1000,10000] [--repeats 7] [--chunk 200]
                                                       [--fresh] [--no-update]

The script works on its own database (``bench_orch`` by default): it creates it and installs the addon without
demo data when missing (``--fresh`` drops and recreates it), updates the addon otherwise (``--no-update`` skips
that). It commits nothing: its products, customers, rules, orders, pickings, checks and exceptions are created
in one transaction, rolled back to savepoints between measures and rolled back entirely at the end (an
interrupted run leaves nothing either). Existing validation rules are switched off inside that transaction.

What it prints, each figure next to its baseline measured in the same run:

1. Confirmation of a sales order of 1, 20 and 100 lines (``--lines``), by a salesperson (record rules apply), in three
   scenarios: "skip" (the plain sale confirmation: the sale module's own ``action_confirm`` is called, inside the
   pipeline's confirmation verb, so no check runs; no context key skips the pipeline), "no rule" (the pipeline runs,
   no rule is active: the baseline of tests/test_pipeline_cost.py) and "8 rules" (one active rule of each type, all
   passing: stock on hand, a high credit limit, margin and discount within bounds, no commitment date, a custom
   domain no order matches; the rush rule has the outcome 'warn'). Each confirmation is on a fresh order, created
   before the measure, with an empty record cache (``env.invalidate_all()``). The scenarios (and plain Odoo) are
   measured in turn, one confirmation of each per round, after a round of warm-up not counted: a drift of the machine
   during the measure weighs on all alike. Columns: queries of ``action_confirm()`` + ``env.flush_all()``
   (``cr.sql_log_count``), the queries the commit hooks would add (mail tracking, run at commit: not in the target),
   median and minimum ms of ``--repeats`` confirmations, and the delta in queries and the ratio of the median to both
   baselines. Targets: the 8 rules cost at most +25 queries over "no rule", the same (within 2) for 1, 20 and 100
   lines; the wall time at 20 lines is at most 1.10x plain. Both baselines are judged; the targets are written
   against "no rule" (the test's baseline), "skip" also shows what the pipeline costs with no rule at all.
2. Batch validation (the re-validation path ``orders._distribution_validate()``, as the cron calls it) of 1,000
   and 10,000 draft orders of 3 lines each (``--batches``), in chunks of ``--chunk`` orders (200, the cron's
   batch size), each chunk with an empty record cache as in a new cron transaction. 1 order in 10 matches the
   custom rule's domain (``client_order_ref = 'BENCH-HOLD'``), so the hold path runs too (exception raised and
   routed, hold notice posted, failed child run): the "held" column counts them. Columns: total seconds, ms per
   order (all chunks, and the median of the untraced chunks), queries per order (and their min-max per chunk),
   the commit-hook queries and ms per order (mail tracking of the validation state, run at commit, outside the
   other columns), and peak Python memory of a chunk (``tracemalloc``, in three chunks of
   each batch: first, middle and last; tracing slows those chunks, so the median ms/order leaves them out).
   Flat means: ms/order and queries/order of 10,000 orders the same as of 1,000. The orders are created with
   ``sale.order.create()`` in batches of 500, the rules inactive, then the tables are ANALYZEd (inside the
   transaction: ANALYZE sees its own uncommitted rows) so that the planner sees their real size.

Timings depend on the machine: compare the columns of one run, not runs of different machines. Speed is never
asserted: the script prints figures and whether a target is met.
"""

import argparse
import contextlib
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

from benchlib import database_state
from benchlib import fmt
from benchlib import prepare_database
from benchlib import print_table
from benchlib import record
from benchlib import run_odoo
from benchlib import say

import odoo
import odoo.sql_db
from odoo import SUPERUSER_ID
from odoo import Command
from odoo import api
from odoo.modules.registry import Registry
from odoo.tools import SQL
from odoo.tools import config

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONF = REPO / ".local" / "odoo-local.conf"
MODULE = "distribution_orchestration"
# The anchor of the confirmation's cost: the Odoo modules the suite depends on, without the suite.
PLAIN_MODULES = "sale_stock,purchase_stock,base_automation"
TARGET_QUERY_OVERHEAD = 25
TARGET_FLAT_TOLERANCE = 2  # queries: "the same for 1, 20 and 100 lines", as tests/test_pipeline_cost.py
TARGET_WALL_LINES = 20
TARGET_WALL_RATIO = 1.10
PRODUCTS = 100
STOCK_PER_PRODUCT = 1000
CUSTOMERS = 20
LINES_PER_BATCH_ORDER = 3
CREATE_BATCH = 500
HOLD_EVERY = 10
HOLD_REF = "BENCH-HOLD"
PASSING_CUSTOM_DOMAIN = "[('amount_total', '>', 1e12)]"
HOLDING_CUSTOM_DOMAIN = f"[('client_order_ref', '=', '{HOLD_REF}')]"
# (rule_type, values): one rule of each type, all passing with the data below (as tests/test_pipeline_cost.py).
RULES = [
    ("credit_limit", {}),
    ("stock_availability", {}),
    ("margin_floor", {"margin_floor_pct": 10}),
    ("discount_ceiling", {"discount_ceiling_pct": 50}),
    ("price_below_pricelist", {}),
    ("date_feasibility", {}),
    ("rush_shipment", {"outcome": "warn", "rush_hours": 1}),
    ("custom", {"custom_domain": PASSING_CUSTOM_DOMAIN}),
]
ANALYZED_TABLES = [
    "sale_order",
    "sale_order_line",
    "distribution_exception",
    "distribution_validation_check",
    "distribution_workflow_run",
    "stock_quant",
    "product_product",
    "res_partner",
]


# -- output ---------------------------------------------------------------------------------------------
# -- database -------------------------------------------------------------------------------------------
def analyze(env):
    """Fresh planner statistics, including this transaction's own uncommitted rows."""
    for table in ANALYZED_TABLES:
        env.cr.execute(SQL("ANALYZE %s", SQL.identifier(table)))


# -- data -----------------------------------------------------------------------------------------------
class Data:
    """Products with stock, customers with a high credit limit, a salesperson, the eight rules (inactive)."""

    def __init__(self, env):
        self.env = env
        company = env.company
        company.account_use_credit_limit = True
        if "distribution.validation.rule" in env:
            env["distribution.validation.rule"].search([]).active = False  # rolled back at the end
        self.warehouse = env["stock.warehouse"].search([("company_id", "=", company.id)], limit=1)
        self.salesman = env["res.users"].create(
            {
                "name": "Bench salesman",
                "login": "bench_orch_salesman",
                "groups_id": [Command.set(env.ref("sales_team.group_sale_salesman").ids)],
            }
        )
        self.products = env["product.product"].create(
            [
                {
                    "name": f"Bench item {i}",
                    "default_code": f"BENCH{i:03}",
                    "is_storable": True,
                    "type": "consu",
                    "list_price": 10.0 + i,
                    "standard_price": 5.0,
                    "invoice_policy": "order",
                    "taxes_id": [Command.clear()],
                }
                for i in range(PRODUCTS)
            ]
        )
        Quant = env["stock.quant"]
        for product in self.products:
            Quant._update_available_quantity(product, self.warehouse.lot_stock_id, STOCK_PER_PRODUCT)
        self.customers = env["res.partner"].create(
            [
                {"name": f"Bench customer {i}", "use_partner_credit_limit": True, "credit_limit": 1e9}
                for i in range(CUSTOMERS)
            ]
        )
        if "distribution.validation.rule" not in env:  # plain Odoo: no rule, no pipeline
            self.rules = self.custom_rule = None
            env.flush_all()
            env.cr.flush()
            return
        self.rules = env["distribution.validation.rule"].create(
            [
                {"name": f"Bench {rule_type}", "rule_type": rule_type, "outcome": "hold", "active": False, **values}
                for rule_type, values in RULES
            ]
        )
        self.custom_rule = self.rules.filtered(lambda rule: rule.rule_type == "custom")
        env.flush_all()
        env.cr.flush()  # the commit hooks of the setup (mail tracking) are not part of any measure

    def set_rules(self, active):
        if self.rules is None:
            return
        self.rules.active = active
        self.env.flush_all()


def order_vals(data, products, customer, ref=False):
    return {
        "partner_id": customer.id,
        "warehouse_id": data.warehouse.id,
        "client_order_ref": ref,
        "order_line": [Command.create({"product_id": product.id, "product_uom_qty": 1}) for product in products],
    }


# -- 1. confirmation ------------------------------------------------------------------------------------
SCENARIOS = [
    # (key, label, rules active, whether the pipeline runs)
    ("skip", "skip (sale's own action_confirm)", False, False),
    ("none", "pipeline, no active rule", False, True),
    ("rules", "pipeline, 8 active rules", True, True),
]


def plain_confirm(order):
    """The sale module's confirmation without the pipeline's override: the baseline in process."""
    from odoo.addons.distribution_observability.services import verbs
    from odoo.addons.distribution_orchestration.models.sale_order import CONFIRM
    from odoo.addons.sale.models.sale_order import SaleOrder as PlainSaleOrder

    with verbs.server_verb(CONFIRM, order):
        return PlainSaleOrder.action_confirm(order)


def confirm_once(data, lines, pipeline):
    """Confirm a fresh order of ``lines`` lines: (queries, commit-hook queries, seconds, state, validation)."""
    env = data.env
    with contextlib.closing(env.cr.savepoint()):  # closing() rolls back: the order and its pickings go
        order = (
            env["sale.order"]
            .with_user(data.salesman)
            .create(order_vals(data, data.products[:lines], data.customers[0]))
        )
        env.flush_all()
        env.cr.flush()  # commit hooks of the creation, outside the measure
        env.invalidate_all()
        before = env.cr.sql_log_count
        started = time.perf_counter()
        order.action_confirm() if pipeline else plain_confirm(order)
        env.flush_all()
        seconds = time.perf_counter() - started
        queries = env.cr.sql_log_count - before
        env.cr.flush()  # what the commit would add: mail tracking of the changed fields
        hook_queries = env.cr.sql_log_count - before - queries
        validation = order.distribution_validation_state if "distribution_validation_state" in order else "-"
        result = (queries, hook_queries, seconds, order.state, validation)
    env.invalidate_all()
    return result


def measure_confirmations(cases, lines, repeats):
    """{key: figures} of ``repeats`` confirmations of fresh orders of ``lines`` lines for each case (key, data,
    pipeline, rules active), taken in turn, one confirmation of each case per round after a round of warm-up:
    whatever drifts during the measure (the machine's load, caches, the garbage collector) weighs on every
    case alike, which blocks of repeats one case after the other did not."""
    runs = {key: [] for key, *_ in cases}
    for round_number in range(repeats + 1):
        for key, data, pipeline, rules_active in cases:
            data.set_rules(rules_active)
            run = confirm_once(data, lines, pipeline)
            if round_number:  # the first round warms up
                runs[key].append(run)
    return {
        key: {
            "queries": runs[key][-1][0],
            "hooks": runs[key][-1][1],
            "median_ms": statistics.median(run[2] for run in runs[key]) * 1000,
            "min_ms": min(run[2] for run in runs[key]) * 1000,
            "states": sorted({f"{run[3]}/{run[4]}" for run in runs[key]}),
        }
        for key in runs
    }


@contextlib.contextmanager
def plain_odoo(conf, db, fresh):
    """The data of the benchmark in a database of plain Odoo (the modules the suite depends on, not the suite),
    in a transaction rolled back at the end: the anchor of the suite's cost, measured in turn with it."""
    if fresh:
        from benchlib import drop_database

        drop_database(db)
    if database_state(db, "base_automation") != "installed":
        say(f"Installing plain Odoo ({PLAIN_MODULES}) in {db}")
        run_odoo(conf, db, "-i", PLAIN_MODULES)
    if database_state(db, "distribution_observability") == "installed":
        sys.exit(f"{db} has the suite installed: --plain-db must name a database of plain Odoo.")
    with Registry(db).cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        try:
            yield Data(env)
        finally:
            env.cr.rollback()


def bench_confirmation(data, line_counts, repeats, plain=None):
    say(
        f"\n== 1. Confirmation of one order ({repeats} confirmations per row, each on a fresh order, "
        "empty record cache; queries of the last one) =="
    )
    results = {}
    for lines in line_counts:
        # Plain Odoo (its own database) and the suite's scenarios in turn, confirmation by confirmation.
        cases = [("plain", plain, True, False)] if plain else []
        cases += [(key, data, pipeline, rules_active) for key, _label, rules_active, pipeline in SCENARIOS]
        for key, figures in measure_confirmations(cases, lines, repeats).items():
            results[lines, key] = figures
    data.set_rules(False)
    scenarios = ([("plain", "plain Odoo (no suite)", False, True)] if plain else []) + SCENARIOS
    rows = []
    for lines in line_counts:
        skip, none = results[lines, "skip"], results[lines, "none"]
        anchor = results.get((lines, "plain"))
        for key, label, _active, _context in scenarios:
            figures = results[lines, key]
            rows.append(
                [
                    f"{lines} lines, {label}",
                    figures["queries"],
                    figures["hooks"],
                    fmt(figures["median_ms"], 1),
                    fmt(figures["min_ms"], 1),
                    f"{figures['queries'] - skip['queries']:+d}",
                    f"{figures['median_ms'] / skip['median_ms']:.2f}x",
                    f"{figures['queries'] - none['queries']:+d}",
                    f"{figures['median_ms'] / none['median_ms']:.2f}x",
                    f"{figures['queries'] - anchor['queries']:+d}" if anchor else "",
                    f"{figures['median_ms'] / anchor['median_ms']:.2f}x" if anchor else "",
                    ", ".join(figures["states"]),
                ]
            )
    print_table(
        [
            "lines, scenario",
            "queries",
            "commit hooks q",
            "median ms",
            "min ms",
            "dq vs skip",
            "x skip",
            "dq vs no rule",
            "x no rule",
            "dq vs plain Odoo",
            "x plain Odoo",
            "state/validation",
        ],
        rows,
    )

    baselines = [("none", "no active rule"), ("skip", "the plain sale confirmation")]
    if plain:
        baselines.insert(0, ("plain", "plain Odoo without the suite"))
        for lines in line_counts:
            ours, anchor = results[lines, "rules"], results[lines, "plain"]
            record(
                "orchestration",
                f"confirm an order of {lines} line(s), 8 checks: queries",
                ours["queries"],
                anchor["queries"],
                "plain Odoo without the suite",
                "queries",
                target=("+", TARGET_QUERY_OVERHEAD),
                higher_is_better=False,
            )
            record(
                "orchestration",
                f"confirm an order of {lines} line(s), 8 checks: median ms",
                ours["median_ms"],
                anchor["median_ms"],
                "plain Odoo without the suite",
                "ms",
                target=TARGET_WALL_RATIO if lines == TARGET_WALL_LINES else None,
                higher_is_better=False,
            )
    for baseline, name in baselines:
        overhead = {n: results[n, "rules"]["queries"] - results[n, baseline]["queries"] for n in line_counts}
        spread = max(overhead.values()) - min(overhead.values())
        met = max(overhead.values()) <= TARGET_QUERY_OVERHEAD and spread <= TARGET_FLAT_TOLERANCE
        figures = ", ".join(f"{n} lines {q:+d}" for n, q in overhead.items())
        say(
            f"Target: at most +{TARGET_QUERY_OVERHEAD} queries, the same for {', '.join(map(str, line_counts))} "
            f"lines (8 rules vs {name}): {figures}; spread {spread} -> {'met' if met else 'NOT MET'}"
        )
    if TARGET_WALL_LINES in line_counts:
        for baseline, name in baselines:
            ratio = results[TARGET_WALL_LINES, "rules"]["median_ms"] / results[TARGET_WALL_LINES, baseline]["median_ms"]
            say(
                f"Target: wall time at {TARGET_WALL_LINES} lines at most {TARGET_WALL_RATIO:.2f}x plain "
                f"(8 rules vs {name}): {ratio:.2f}x -> {'met' if ratio <= TARGET_WALL_RATIO else 'NOT MET'}"
            )
    else:
        say(f"Target on wall time at {TARGET_WALL_LINES} lines not checked: {TARGET_WALL_LINES} is not in --lines.")
    say("(Queries of action_confirm() + flush_all(); the commit hooks run at commit, measured apart. A picking is")
    say(" created and reserved by every confirmation, so most of the cost at 100 lines is the sale/stock code.)")


# -- 2. batch validation --------------------------------------------------------------------------------
def create_draft_orders(data, count):
    """``count`` draft orders of 3 lines, one in HOLD_EVERY with the reference the custom rule holds."""
    env = data.env
    Order = env["sale.order"].with_context(tracking_disable=True, mail_create_nolog=True, mail_create_nosubscribe=True)
    ids = []
    for start in range(0, count, CREATE_BATCH):
        vals_list = []
        for i in range(start, min(start + CREATE_BATCH, count)):
            products = data.products[(i * LINES_PER_BATCH_ORDER) % PRODUCTS :][:LINES_PER_BATCH_ORDER]
            products |= data.products[: LINES_PER_BATCH_ORDER - len(products)]
            ref = HOLD_REF if i % HOLD_EVERY == 0 else f"BENCH-{i}"
            vals_list.append(order_vals(data, products, data.customers[i % CUSTOMERS], ref))
        ids += Order.create(vals_list).ids
        env.flush_all()
        env.invalidate_all()
    env.cr.flush()
    analyze(env)
    return ids


def validate_chunks(data, ids, chunk, traced=()):
    """Validate ``ids`` chunk by chunk: a dict of figures per chunk."""
    env = data.env
    chunks = []
    for number, start in enumerate(range(0, len(ids), chunk)):
        orders = env["sale.order"].browse(ids[start : start + chunk])
        env.invalidate_all()  # a new cron transaction starts with an empty cache
        trace = number in traced
        if trace:
            tracemalloc.start()
        before = env.cr.sql_log_count
        started = time.perf_counter()
        held = orders._distribution_validate()
        env.flush_all()
        seconds = time.perf_counter() - started
        queries = env.cr.sql_log_count - before
        peak = tracemalloc.get_traced_memory()[1] if trace else None
        if trace:
            tracemalloc.stop()
        hooks_started = time.perf_counter()
        env.cr.flush()  # the commit hooks (mail tracking); they would otherwise pile up over the chunks
        chunks.append(
            {
                "number": number,
                "orders": len(orders),
                "held": len(held),
                "seconds": seconds,
                "queries": queries,
                "hooks": env.cr.sql_log_count - before - queries,
                "hook_seconds": time.perf_counter() - hooks_started,
                "peak": peak,
            }
        )
    return chunks


def count_outcomes(env, ids):
    env.cr.execute(
        SQL(
            """SELECT count(*) FILTER (WHERE distribution_validation_state = 'on_hold'),
                  count(*) FILTER (WHERE distribution_validation_state = 'not_checked')
             FROM sale_order WHERE id = ANY(%s)""",
            ids,
        )
    )
    held, unchecked = env.cr.fetchone()
    env.cr.execute(
        SQL("SELECT count(*) FROM distribution_exception WHERE res_model = 'sale.order' " "AND res_id = ANY(%s)", ids)
    )
    exceptions = env.cr.fetchone()[0]
    env.cr.execute(SQL("SELECT count(*) FROM distribution_validation_check WHERE order_id = ANY(%s)", ids))
    return held, unchecked, exceptions, env.cr.fetchone()[0]


def bench_batches(data, sizes, chunk):
    env = data.env
    data.custom_rule.custom_domain = HOLDING_CUSTOM_DOMAIN
    say(
        f"\n== 2. Batch validation: _distribution_validate() on draft orders of {LINES_PER_BATCH_ORDER} lines, in "
        f"chunks of {chunk}, 8 active rules, 1 order in {HOLD_EVERY} held by the custom rule =="
    )
    with contextlib.closing(env.cr.savepoint()):  # warm-up: caches of the batch path
        data.set_rules(False)
        warm = create_draft_orders(data, 2 * HOLD_EVERY)
        data.set_rules(True)
        validate_chunks(data, warm, chunk)
    env.invalidate_all()
    summary, traced_rows = [], []
    for size in sizes:
        with contextlib.closing(env.cr.savepoint()):  # the orders, checks and exceptions of this size go after
            data.set_rules(False)
            started = time.perf_counter()
            ids = create_draft_orders(data, size)
            say(
                f"  created {size:,} draft orders ({size * LINES_PER_BATCH_ORDER:,} lines) with sale.order.create() "
                f"in {time.perf_counter() - started:.1f} s"
            )
            data.set_rules(True)
            count = -(-size // chunk)
            traced = {0, count // 2, count - 1}
            chunks = validate_chunks(data, ids, chunk, traced)
            held, unchecked, exceptions, checks = count_outcomes(env, ids)
        env.invalidate_all()
        total = sum(c["seconds"] for c in chunks)
        untraced = [c["seconds"] * 1000 / c["orders"] for c in chunks if c["peak"] is None]
        per_chunk_q = [c["queries"] / c["orders"] for c in chunks]
        peaks = [c["peak"] for c in chunks if c["peak"] is not None]
        summary.append(
            [
                f"{size:,}",
                len(chunks),
                f"{held:,}",
                f"{exceptions:,}",
                f"{checks:,}",
                unchecked,
                fmt(total, 1),
                fmt(total * 1000 / size, 2),
                fmt(statistics.median(untraced), 2) if untraced else "-",
                fmt(sum(c["queries"] for c in chunks) / size, 2),
                f"{min(per_chunk_q):.2f}-{max(per_chunk_q):.2f}",
                fmt(sum(c["hooks"] for c in chunks) / size, 2),
                fmt(sum(c["hook_seconds"] for c in chunks) * 1000 / size, 2),
                fmt(max(peaks) / 2**20, 1),
            ]
        )
        for c in chunks:
            if c["peak"] is not None:
                traced_rows.append(
                    [
                        f"{size:,} orders, chunk {c['number'] + 1}/{len(chunks)}",
                        c["orders"],
                        c["held"],
                        fmt(c["seconds"] * 1000 / c["orders"], 2),
                        fmt(c["queries"] / c["orders"], 2),
                        fmt(c["peak"] / 2**20, 1),
                    ]
                )
    print_table(
        [
            "orders",
            "chunks",
            "held",
            "exceptions",
            "checks",
            "unchecked",
            "total s",
            "ms/order (all)",
            "ms/order (median, untraced)",
            "q/order",
            "q/order per chunk",
            "commit hooks q/order",
            "commit hooks ms/order",
            "peak MiB/chunk",
        ],
        summary,
    )
    say("\nTraced chunks (tracemalloc on: their ms/order includes the tracing overhead):")
    print_table(["chunk", "orders", "held", "ms/order", "q/order", "peak MiB"], traced_rows)
    say(
        f"(Flat: the ms/order and q/order of the largest batch match the smallest. 'unchecked' must be 0; 'checks' "
        f"is 8 per order; 'held' is 1 in {HOLD_EVERY}.)"
    )


# -- main -----------------------------------------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", default="bench_orch", help="the benchmark's own database (default: bench_orch)")
    parser.add_argument("--conf", default=str(DEFAULT_CONF), help="Odoo configuration file")
    parser.add_argument("--lines", default="1,20,100", help="lines per confirmed order, comma-separated")
    parser.add_argument("--batches", default="1000,10000", help="draft orders per batch validation, comma-separated")
    parser.add_argument("--repeats", type=int, default=7, help="confirmations per scenario (the median counts)")
    parser.add_argument("--chunk", type=int, default=200, help="orders per _distribution_validate() call")
    parser.add_argument(
        "--plain-db",
        default="bench_plain",
        help="a database of plain Odoo (sale_stock, purchase_stock, base_automation; made when missing), the "
        "anchor of the confirmation's cost (default: bench_plain; empty: skip)",
    )
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database first")
    parser.add_argument("--no-update", dest="update", action="store_false", help="do not update the addon")
    args = parser.parse_args()
    line_counts = [int(n) for n in args.lines.split(",") if n.strip()]
    sizes = [int(n) for n in args.batches.split(",") if n.strip()]
    if max(line_counts, default=0) > PRODUCTS:
        sys.exit(f"--lines: at most {PRODUCTS} lines (one product per line).")

    config.parse_config(["-c", args.conf, "-d", args.db, "--log-level=warn"])
    prepare_database(args.conf, args.db, args.fresh, args.update, MODULE)
    started = time.perf_counter()
    plain_context = (
        plain_odoo(args.conf, args.plain_db, args.fresh) if args.plain_db and line_counts else contextlib.nullcontext()
    )
    registry = Registry(args.db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        env.cr.execute("SELECT version()")
        say(f"Database {args.db}: {env.cr.fetchone()[0].split(',')[0]}; Odoo {odoo.release.version}")
        try:
            data = Data(env)
            say(
                f"Setup: {PRODUCTS} storable products with {STOCK_PER_PRODUCT} on hand in {data.warehouse.name}, "
                f"{CUSTOMERS} customers (credit limit 1e9), 8 rules ({', '.join(t for t, _v in RULES)})."
            )
            if line_counts:
                with plain_context as plain:
                    bench_confirmation(data, line_counts, args.repeats, plain)
            if sizes:
                bench_batches(data, sizes, args.chunk)
        finally:
            env.cr.rollback()  # nothing of the benchmark is committed
            say(f"\nRolled back: nothing was committed. Total {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
