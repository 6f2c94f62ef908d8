"""What the benchmark scripts share: output tables, and the benchmark database they install or update.

Each script has its own database (never the one of `make run` or the tests) and prints its figures next to
a baseline measured in the same run.
"""

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import odoo
import odoo.sql_db
from odoo.tools import SQL

ODOO_BIN = Path(odoo.__file__).resolve().parent.parent / "odoo-bin"


def say(text=""):
    print(text, flush=True)


def print_table(headers, rows):
    """An aligned text table: the first column left-aligned, the others right-aligned."""
    cells = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row):
        pairs = enumerate(zip(row, widths, strict=True))
        padded = (cell.ljust(width) if i == 0 else cell.rjust(width) for i, (cell, width) in pairs)
        return "  ".join(padded)

    say(line(cells[0]))
    say("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        say(line(row))


# benchmarks/run_all.py sets this: every script appends its headline figures there, one JSON object a line.
SUMMARY_ENV = "BENCH_SUMMARY"


def record(bench, measure, ours, baseline, baseline_name, unit, target=None, higher_is_better=True):
    """Note a headline figure beside its baseline measured in the same run, for run_all.py's table.

    ``target`` is the ratio ours/baseline to reach (at least, or at most when lower is better); for an
    additive target (queries over the baseline) give ``target`` as ``("+", n)``. Without BENCH_SUMMARY set,
    nothing is written: each script prints its own tables anyway."""
    path = os.environ.get(SUMMARY_ENV)
    if not path:
        return
    row = {
        "bench": bench,
        "measure": measure,
        "ours": ours,
        "baseline": baseline,
        "baseline_name": baseline_name,
        "unit": unit,
        "target": list(target) if isinstance(target, tuple) else target,
        "higher_is_better": higher_is_better,
    }
    with open(path, "a", encoding="utf-8") as summary:
        summary.write(json.dumps(row) + "\n")


def fmt(value, digits=2, signed=False):
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def database_state(db, module):
    """'missing', 'empty' (no Odoo in it) or the state of the addon in the database."""
    with contextlib.closing(odoo.sql_db.db_connect("postgres").cursor()) as cr:
        cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db])
        if not cr.fetchone():
            return "missing"
    with contextlib.closing(odoo.sql_db.db_connect(db).cursor()) as cr:
        cr.execute("SELECT to_regclass('ir_module_module')")
        if cr.fetchone()[0] is None:
            return "empty"
        cr.execute("SELECT state FROM ir_module_module WHERE name = %s", [module])
        row = cr.fetchone()
    odoo.sql_db.close_db(db)
    return row[0] if row else "unknown"


def drop_database(db):
    odoo.sql_db.close_db(db)
    with contextlib.closing(odoo.sql_db.db_connect("postgres").cursor()) as cr:
        cr._cnx.autocommit = True
        cr.execute(SQL("DROP DATABASE IF EXISTS %s", SQL.identifier(db)))


def run_odoo(conf, db, *args):
    command = [
        sys.executable,
        str(ODOO_BIN),
        "-c",
        str(conf),
        "-d",
        db,
        *args,
        "--stop-after-init",
        "--without-demo=all",
        "--log-level=warn",
    ]
    say(f"$ {' '.join(command)}")
    started = time.perf_counter()
    result = subprocess.run(command, check=False)
    if result.returncode:
        sys.exit(f"odoo-bin failed (exit code {result.returncode}); see its log above.")
    say(f"  done in {time.perf_counter() - started:.0f} s")


def prepare_database(conf, db, fresh, update, module):
    if fresh:
        say(f"Dropping database {db} (--fresh)")
        drop_database(db)
    state = database_state(db, module)
    if state != "installed":
        say(f"Installing {module} in {db} (addon state: {state})")
        run_odoo(conf, db, "-i", module)
    elif update:
        say(f"Updating {module} in {db} (--no-update skips this)")
        run_odoo(conf, db, "-u", module)
    state = database_state(db, module)
    if state != "installed":
        sys.exit(f"{module} is not installed in {db} (state: {state}).")
