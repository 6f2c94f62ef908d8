"""wrk, the HTTP load generator, driven from Python: prepared requests in files (one per wrk thread), a Lua
script that sends them in order, counts the answers and collects the ids of the accepted events, and the
figures read back. Used by the inbound benchmark (bench_integration.py) and the inbound soak
(tests/test_soak_inbound.py). No Odoo import: the soak loads it by path.
"""

import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

# wrk's Lua script: each thread reads its own file of prepared requests (one a line: path, body, then
# "Name: value" headers, tab-separated) and sends them in order; the status codes are counted per thread and
# summed in done(). A thread that runs out of prepared requests starts again from its first one ("wrapped").
# The database ids of the accepted events (the "id" of our 202 answers) are written to <pool>.accepted.
WRK_SCRIPT = r"""
local threads = {}
local pool = os.getenv("BENCH_POOL")
-- BENCH_DELAY_MS: a pause before each request of a connection, to pace the load (none by default).
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if pause > 0 then
  function delay()
    return pause
  end
end

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  prepared = {}
  statuses = {}
  accepted = {}
  wrapped = 0
  position = 0
  for line in io.lines(pool .. "." .. tid) do
    local fields = {}
    for field in string.gmatch(line, "[^\t]+") do
      table.insert(fields, field)
    end
    local headers = {}
    for i = 3, #fields do
      local name, value = string.match(fields[i], "^([^:]+): (.*)$")
      headers[name] = value
    end
    table.insert(prepared, wrk.format("POST", fields[1], headers, fields[2]))
  end
end

function request()
  position = position + 1
  if position > #prepared then
    position = 1
    wrapped = wrapped + 1
  end
  return prepared[position]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 202 then
    accepted[#accepted + 1] = string.match(body, '"id":%s*(%d+)')
  end
end

function done(summary, latency, requests)
  local totals = {}
  local wraps = 0
  local ids = io.open(pool .. ".accepted", "w")
  for _, thread in ipairs(threads) do
    for _, id in ipairs(thread:get("accepted")) do
      ids:write(id, "\n")
    end
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
    wraps = wraps + thread:get("wrapped")
  end
  ids:close()
  io.write(string.format("BENCH summary %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status,
    summary.errors.timeout, wraps))
  for _, p in ipairs({50, 90, 99}) do
    io.write(string.format("BENCH latency %d %d\n", p, latency:percentile(p)))
  end
  io.write(string.format("BENCH latency 100 %d\n", latency.max))
  for status, count in pairs(totals) do
    io.write(string.format("BENCH status %d %d\n", status, count))
  end
end
"""


class WrkError(RuntimeError):
    pass


def require_wrk():
    """The path of wrk; stop with how to install it when it is missing."""
    path = shutil.which("wrk")
    if not path:
        sys.exit(
            "wrk is not installed: it generates the HTTP load of the inbound part. Install it with\n"
            "    apt-get install wrk        (Debian/Ubuntu package 'wrk'; sudo when not root)\n"
            "and run the benchmark again."
        )
    return path


def write_pool(directory, name, make_request, count, threads, start):
    """Prepare ``count`` requests for wrk, split in one file per wrk thread; the pool's base path."""
    base = Path(directory) / name
    files = [open(f"{base}.{tid}", "w", encoding="utf-8") for tid in range(threads)]  # noqa: SIM115
    try:
        now = time.time()
        for i in range(count):
            path, body, headers = make_request(start + i, now)
            text = body.decode()
            if "\t" in text or "\n" in text:
                raise ValueError("a prepared body may hold neither tab nor newline")
            fields = [path, text, *(f"{name}: {value}" for name, value in headers.items())]
            files[i % threads].write("\t".join(fields) + "\n")
    finally:
        for file in files:
            file.close()
    return base


def run_wrk(wrk, script, pool, url, threads, connections, seconds, delay_ms=0):
    """Run wrk; a dict of its figures (from the script's done()) and its raw output. ``delay_ms`` paces each
    connection (a pause before each of its requests)."""
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "BENCH_POOL": str(pool), "BENCH_DELAY_MS": str(max(0, round(delay_ms)))},
        check=False,
        timeout=seconds + 120,
    )
    if result.returncode:
        raise WrkError(f"wrk failed (exit code {result.returncode}):\n{result.stdout}\n{result.stderr}")
    figures = {"statuses": Counter(), "latency": {}}
    for line in result.stdout.splitlines():
        parts = line.split()
        if parts[:2] == ["BENCH", "summary"]:
            keys = ("requests", "duration_us", "connect", "read", "write", "status_errors", "timeout", "wraps")
            figures.update(zip(keys, map(int, parts[2:]), strict=True))
        elif parts[:2] == ["BENCH", "latency"]:
            figures["latency"][int(parts[2])] = int(parts[3]) / 1000  # µs -> ms
        elif parts[:2] == ["BENCH", "status"]:
            figures["statuses"][int(parts[2])] = int(parts[3])
    if "requests" not in figures:
        raise WrkError(f"wrk printed no summary:\n{result.stdout}\n{result.stderr}")
    figures["rate"] = figures["requests"] / (figures["duration_us"] / 1e6)
    raw = "\n".join(line for line in result.stdout.splitlines() if not line.startswith("BENCH"))
    return figures, raw


def run_wrk_many(wrk, script, pools, urls, threads, connections, seconds):
    """One wrk per server, side by side (each with its own pool, ``threads`` and ``connections``), as a proxy
    spreading the senders over the servers would; their figures summed (the latency percentiles: the worst of
    the servers') and their raw outputs."""
    if len(urls) == 1:
        figures, raw = run_wrk(wrk, script, pools[0], urls[0], threads, connections, seconds)
        return figures, [raw]
    outcomes = [None] * len(urls)

    def run(index):
        try:
            outcomes[index] = run_wrk(wrk, script, pools[index], urls[index], threads, connections, seconds)
        except WrkError as error:  # raised again from the calling thread
            outcomes[index] = error

    runners = [threading.Thread(target=run, args=(index,)) for index in range(len(urls))]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    for outcome in outcomes:
        if isinstance(outcome, WrkError) or outcome is None:
            raise WrkError(f"wrk failed on one of the servers: {outcome}")
    merged = {"statuses": Counter(), "latency": {}}
    for figures, _raw in outcomes:
        for key in ("requests", "connect", "read", "write", "status_errors", "timeout", "wraps"):
            merged[key] = merged.get(key, 0) + figures[key]
        merged["duration_us"] = max(merged.get("duration_us", 0), figures["duration_us"])
        merged["rate"] = merged.get("rate", 0.0) + figures["rate"]
        merged["statuses"].update(figures["statuses"])
        for share, value in figures["latency"].items():
            merged["latency"][share] = max(merged["latency"].get(share, 0.0), value)
    return merged, [raw for _figures, raw in outcomes]
