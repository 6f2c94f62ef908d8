"""Every benchmark in one go, and one table of ratios against the baselines each measured in the same run.

Usage (from the repository root)::

    .venv/bin/python benchmarks/run_all.py            # quick sizes, about 6 minutes on 2 CPUs
    .venv/bin/python benchmarks/run_all.py --full     # each script's own default (or --full) sizes: hours
    .venv/bin/python benchmarks/run_all.py --only orchestration,integration

Each script runs as its own process with its own database (as when run alone) and writes its whole output to
``.bench-results/<name>.log``; its headline figures, each next to the baseline it measured in the same run (plain
Odoo without the suite, Odoo's native /web/hook, a bare requests loop, Odoo's own replenishment computation, a
one-by-one ORM loop, plain Odoo's mail gateway), are collected through ``benchlib.record`` and printed at the
end as one table: ours, the baseline, the ratio, the target when there is one, and whether it is met. A script
that fails is reported with the end of its log; the others still run. Nothing here asserts a speed.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from benchlib import SUMMARY_ENV
from benchlib import print_table
from benchlib import say

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / ".bench-results"
# (name, script, quick arguments, full arguments)
BENCHES = [
    ("orchestration", "bench_orchestration.py", ["--lines", "1,20,100", "--batches", "1000", "--repeats", "5"], []),
    ("integration", "bench_integration.py", ["--duration", "10", "--pool", "30000", "--events", "2000"], []),
    ("channel_orders", "bench_channel_orders.py", ["--orders", "100"], []),
    ("observability", "bench_observability.py", ["--sizes", "10000,100000"], []),
    ("approvals", "bench_approvals.py", ["--sizes", "100,1000"], []),
    ("replenishment", "bench_replenishment.py", ["--no-memory"], ["--full"]),
    ("triage", "bench_triage.py", [], []),
]


def ratio_text(row):
    ours, baseline = row["ours"], row["baseline"]
    target = row["target"]
    if isinstance(target, list):  # additive: ("+", n) over the baseline
        delta = ours - baseline
        return f"{delta:+.1f}", f"at most +{target[1]}", delta <= target[1]
    if not baseline:
        return "-", "", None
    ratio = ours / baseline
    if target is None:
        return f"{ratio:.2f}x", "", None
    met = ratio >= target if row["higher_is_better"] else ratio <= target
    return f"{ratio:.2f}x", f"{'at least' if row['higher_is_better'] else 'at most'} {target:g}x", met


def number(value):
    if isinstance(value, int) or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.1f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--full", action="store_true", help="each script's full sizes instead of the quick ones")
    parser.add_argument("--only", help="comma-separated names: " + ", ".join(name for name, *_rest in BENCHES))
    args = parser.parse_args()
    wanted = set(filter(None, (args.only or "").split(",")))
    unknown = wanted - {name for name, *_rest in BENCHES}
    if unknown:
        sys.exit(f"--only: unknown benchmark(s) {', '.join(sorted(unknown))}")
    RESULTS.mkdir(exist_ok=True)
    summary = RESULTS / "summary.jsonl"
    summary.unlink(missing_ok=True)
    env = dict(os.environ, **{SUMMARY_ENV: str(summary)})
    say(f"Machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}")
    failures, durations = [], {}
    for name, script, quick, full in BENCHES:
        if wanted and name not in wanted:
            continue
        command = [sys.executable, str(HERE / script), *(full if args.full else quick)]
        log = RESULTS / f"{name}.log"
        say(f"\n$ {' '.join(command[1:])}   > {log.relative_to(HERE.parent)}")
        started = time.perf_counter()
        with log.open("w") as out:
            code = subprocess.run(command, cwd=HERE.parent, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
        durations[name] = time.perf_counter() - started
        say(f"  exit {code.returncode} in {durations[name]:.0f} s")
        if code.returncode:
            failures.append(name)
            say("  " + "\n  ".join(log.read_text().splitlines()[-15:]))

    rows = []
    lines = summary.read_text().splitlines() if summary.exists() else []
    for row in map(json.loads, lines):
        ratio, target, met = ratio_text(row)
        rows.append(
            [
                f"{row['bench']}: {row['measure']}",
                f"{number(row['ours'])} {row['unit']}",
                f"{number(row['baseline'])} ({row['baseline_name']})",
                ratio,
                target,
                {True: "met", False: "NOT MET", None: ""}[met],
            ]
        )
    say("\n== Every benchmark against its baseline, measured in the same run ==")
    print_table(["measure", "ours", "baseline", "ours/baseline", "target", ""], rows)
    say(
        f"\n{len(rows)} figures from {len(durations) - len(failures)} benchmark(s) in {sum(durations.values()):.0f} s"
        + (f"; FAILED: {', '.join(failures)} (see their logs)" if failures else "")
        + f". Full outputs in {RESULTS.relative_to(HERE.parent)}/."
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
