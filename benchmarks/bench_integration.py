"""Benchmark of distribution_orchestration's integration layer: the signed webhook inbox, and the outbox.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_integration.py [--db bench_integ] [--duration 20] [--events 10000]
                                                     [--connections 8] [--threads 2] [--pool 60000]
                                                     [--servers 2] [--db-filter] [--skip-inbound]
                                                     [--skip-outbound]
                                                     [--fresh] [--no-update]

It needs ``wrk`` (the HTTP load generator, Debian package ``wrk``: ``apt-get install wrk``); the script says so
and stops when it is missing. The script works on its own database (``bench_integ`` by default): it creates it
and installs the addon without demo data when missing (``--fresh`` drops and recreates it), updates the addon
otherwise (``--no-update`` skips that). Unlike the other benchmarks it must commit (a separate Odoo server
reads its endpoints, the outbox commits every outcome): everything it creates is named ``bench_integ`` /
``Bench integration`` and deleted at the end, and leftovers of an interrupted run are deleted at the start.

What it prints, each figure next to its baseline measured in the same run:

1. Inbound. An Odoo server is started as a subprocess on the benchmark database (``--workers=2
   --max-cron-threads=0`` on a free port of 127.0.0.1, configuration from ``.local/odoo-local.conf``, log level
   warn), warmed up for 3 s per target, then loaded with ``wrk -t2 -c8 -d20s --latency`` against two targets:
   "ours", ``POST /distribution/webhook/bench_integ`` (an endpoint with the ``carrier_status`` handler), every
   request validly signed (``services/signature.headers``, timestamps of the generation, a few seconds before the
   run) with a unique event id: the signed requests are generated in Python beforehand (``--pool``, split
   between the wrk threads) and the Lua script of wrk sends them one after the other; and "native", Odoo's
   ``POST /web/hook/<uuid>`` of a ``base.automation`` with the ``on_webhook`` trigger on res.partner, the
   default record getter (``_model``/``_id`` of the JSON body) and a code action writing the partner's
   ``comment`` from the payload, as a user would configure it (200 partners, cycled, so that the two workers
   rarely wait on the same row). Columns: requests, requests/s, p50/p90/p99/max latency (ms), the status codes
   of the answers (counted by wrk's ``response()`` hook: ours must answer 202 only, never 200 "duplicate"),
   socket errors (connect/read/write/timeout), queries per request and how many of them are writes. The
   queries are counted in the benchmark's own process (not in the server): a few requests of each target are
   passed to ``odoo.http.root`` (the same WSGI application, the full dispatch) with ``odoo.sql_db.sql_counter``
   around them; the statements of one accepted request of ours are listed. Target: ours at least 2x the
   native requests/s. Then "accepted vs stored": the database ids of the events in the 202 answers of the
   measured run (collected by wrk's ``response()`` hook) must all be stored, and any other answer is a mismatch;
   the events stored during the run may exceed the 202 answers by at most one per connection (the requests wrk
   had sent when it stopped, which the server still answers, to nobody). The CPU line says how the 2 cores were
   shared: wrk, the Odoo server (master and workers), the PostgreSQL backends of the database and other processes
   (PostgreSQL's own writers, anything else running on the machine), in % of one core, from ``psutil``. wrk, the
   server and PostgreSQL share the machine: the absolute rates are lower than on a server of its own; compare the
   two targets. Odoo's HTTP workers answer HTTP/1.0 and close the connection after each answer, so wrk reconnects
   for every request, for both targets alike. The server is started with ``-d`` alone, as the shipped
   ``odoo.conf`` and ``make run`` serve their database (``db_name`` without ``dbfilter``): ``list_dbs()`` then
   answers that database without a query. ``--db-filter`` adds ``--db-filter=^<db>$``, with which Odoo looks
   the database up for every request without a session (both targets, every webhook sender) on a new,
   unpooled connection to the ``postgres`` database, to see what that costs. Then the same on ``--servers`` (2)
   servers started alike on the same database, as behind a proxy: one wrk per server side by side (wrklib's
   ``run_wrk_many``), the threads and connections split between them, their requests/s summed (the latency
   percentiles: the worst server's); the ratio to the native webhook on as many servers is judged against the
   same target, and two servers over one is printed (the servers share the machine's cores).
2. Outbound. ``--events`` events (10,000) are emitted with ``_emit()`` (one transaction, committed; its
   rate is printed, as information) for an endpoint whose URL is a local receiver: a
   ``http.server.ThreadingHTTPServer`` (HTTP/1.1, keep-alive) in a process of its own on 127.0.0.1, which
   answers 200 at once and counts the event ids it receives. The same bodies, with the same headers (signed at
   send time, as the outbox does) are first posted by a bare ``requests.Session`` loop (the baseline), then
   delivered by the outbox: ``_cron_deliver(batch_size=100)`` called in a loop, as the scheduled action does,
   on a real cursor committed after each call (``_cron_deliver`` itself commits the claim and each outcome),
   until it handles nothing. Columns: events, seconds, events/s, ms per event, queries per event (for the
   outbox, on its cursor), HTTP answers, and the receiver's count: distinct event ids, ids received more than
   once, ids missing. Target: the outbox at least 50% of the bare loop's events/s; each event delivered
   exactly once (and state 'delivered' after 1 attempt in the database).

Timings depend on the machine: compare the columns of one run, not runs of different machines. Speed is never
asserted: the script prints figures and whether a target is met.
"""

import argparse
import contextlib
import importlib.util
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

import psutil
import requests
from benchlib import ODOO_BIN
from benchlib import fmt
from benchlib import prepare_database
from benchlib import print_table
from benchlib import record
from benchlib import say
from werkzeug.test import EnvironBuilder
from wrklib import WRK_SCRIPT
from wrklib import require_wrk
from wrklib import run_wrk_many
from wrklib import write_pool

import odoo
import odoo.http
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


def _load_signature():
    """The addon's services/signature.py, loaded from its file: it needs no Odoo, and importing the addon's
    package before the registry (or in the receiver process) is not possible."""
    path = REPO / MODULE / "services" / "signature.py"
    spec = importlib.util.spec_from_file_location("bench_integration_signature", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


signature = _load_signature()

BENCH_CODE = "bench_integ"
BENCH_NAME = "Bench integration"
PARTNER_REF = "BENCH-INTEG"
NATIVE_PARTNERS = 200
WARMUP_SECONDS = 3
WARMUP_POOL = 12000
QUERY_SAMPLES = 5
TARGET_INBOUND_RATIO = 2.0
TARGET_OUTBOUND_RATIO = 0.5
OUTBOX_BATCH = 100
EMIT_DOCUMENTS = 100  # the events are emitted about this many partners: per-document ordering applies
OUTBOX_USER_AGENT = "Odoo-Distribution-Outbox/1.0"
INBOX_CRON = "distribution_orchestration.ir_cron_distribution_inbox_process"
OUTBOX_CRON = "distribution_orchestration.ir_cron_distribution_outbox_deliver"
OUTBOX_WORKFLOW = "outbox_delivery"


# -- output ---------------------------------------------------------------------------------------------
def met(condition):
    return "met" if condition else "NOT MET"


# -- database -------------------------------------------------------------------------------------------
def remove_bench_data(env):
    """Delete everything the benchmark creates (also the committed leftovers of an interrupted run); commit.
    A dict of what was deleted, by kind."""
    cr = env.cr
    deleted = Counter()
    inbound = (
        env["distribution.inbound.endpoint"]
        .with_context(active_test=False)
        .search([("code", "=like", f"{BENCH_CODE}%")])
    )
    if inbound:
        # Raw SQL: bulk delete of up to a hundred thousand generated rows.
        cr.execute(SQL("DELETE FROM distribution_inbound_event WHERE endpoint_id IN %s", tuple(inbound.ids)))
        deleted["inbound events"] += cr.rowcount
        inbound.unlink()
    outbound = (
        env["distribution.outbound.endpoint"]
        .with_context(active_test=False)
        .search([("name", "=like", f"{BENCH_NAME}%")])
    )
    if outbound:
        cr.execute(SQL("DELETE FROM distribution_outbound_event WHERE endpoint_id IN %s", tuple(outbound.ids)))
        deleted["outbound events"] += cr.rowcount
        outbound.unlink()
    # The delivery runs of the outbox: only the benchmark delivers anything in its own database.
    cr.execute(
        SQL(
            """DELETE FROM distribution_workflow_run
                       WHERE workflow_id IN (SELECT id FROM distribution_workflow WHERE code = %s)""",
            OUTBOX_WORKFLOW,
        )
    )
    deleted["outbox runs"] += cr.rowcount
    # Triggers of the inbox and outbox crons (one per _emit(), one per 10 s per worker for the inbox): no cron
    # thread runs on this database, they would pile up.
    crons = [cron.id for cron in (env.ref(INBOX_CRON, False), env.ref(OUTBOX_CRON, False)) if cron]
    if crons:
        cr.execute(SQL("DELETE FROM ir_cron_trigger WHERE cron_id IN %s", tuple(crons)))
        deleted["cron triggers"] += cr.rowcount
    automations = env["base.automation"].with_context(active_test=False).search([("name", "=like", f"{BENCH_NAME}%")])
    if automations:
        deleted["automations"] += len(automations)
        automations.action_server_ids.unlink()
        automations.unlink()
    partners = env["res.partner"].with_context(active_test=False).search([("ref", "=like", f"{PARTNER_REF}%")])
    if partners:
        deleted["partners"] += len(partners)
        partners.unlink()
    cr.commit()
    return {kind: count for kind, count in deleted.items() if count}


# -- helpers --------------------------------------------------------------------------------------------
def free_port():
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CpuShare:
    """CPU used during a block by the machine, process trees (the Odoo servers), the PostgreSQL backends of the
    database and waited-for children (wrk), in % of one core."""

    def __init__(self, server_pids, db):
        self.servers = [psutil.Process(pid) for pid in server_pids]
        self.db = db

    def _backends(self):
        backends = []
        for process in psutil.process_iter(["cmdline"]):
            title = " ".join(process.info["cmdline"] or ())
            if title.startswith("postgres:") and f" {self.db} " in title:
                backends.append(process)
        return backends

    @staticmethod
    def _seconds(processes):
        total = 0.0
        for process in processes:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def _server_seconds(self):
        return self._seconds([p for server in self.servers for p in (server, *server.children(recursive=True))])

    def __enter__(self):
        self.machine = psutil.cpu_times()
        self.odoo = self._server_seconds()
        self.backends = self._backends()  # the server's workers keep their connections open
        self.postgres = self._seconds(self.backends)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.children = usage.ru_utime + usage.ru_stime
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        seconds = time.perf_counter() - self.started
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0)
        busy -= sum(self.machine) - self.machine.idle - getattr(self.machine, "iowait", 0)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.wrk = (usage.ru_utime + usage.ru_stime - self.children) / seconds * 100
        self.odoo = (self._server_seconds() - self.odoo) / seconds * 100
        self.postgres = (self._seconds(self.backends) - self.postgres) / seconds * 100
        self.machine = busy / seconds * 100
        self.rest = max(0.0, self.machine - self.wrk - self.odoo - self.postgres)


# -- 1. inbound -----------------------------------------------------------------------------------------
class Inbound:
    """The committed setup of the inbound part: our endpoint, the native automation and its partners."""

    def __init__(self, env):
        self.env = env
        self.endpoint = env["distribution.inbound.endpoint"].create(
            {
                "name": f"{BENCH_NAME} inbox",
                "code": BENCH_CODE,
                "handler": "carrier_status",
            }
        )
        self.secret = self.endpoint.secret
        self.company_name = self.endpoint.company_id.name
        self.partners = env["res.partner"].create(
            [{"name": f"{BENCH_NAME} partner {i}", "ref": f"{PARTNER_REF}-{i}"} for i in range(NATIVE_PARTNERS)]
        )
        model = env.ref("base.model_res_partner")
        self.automation = env["base.automation"].create(
            {
                "name": f"{BENCH_NAME} webhook",
                "model_id": model.id,
                "trigger": "on_webhook",
                "action_server_ids": [
                    Command.create(
                        {
                            "name": f"{BENCH_NAME}: comment from the payload",
                            "model_id": model.id,
                            "state": "code",
                            "usage": "base_automation",
                            "code": "record.write({'comment': payload.get('comment')})",
                        }
                    )
                ],
            }
        )
        env.cr.commit()  # the server (another process) must see them
        self.ours_path = f"/distribution/webhook/{BENCH_CODE}"
        self.native_path = f"/web/hook/{self.automation.webhook_uuid}"

    def ours_request(self, sequence, now):
        """(path, body, headers) of one validly signed carrier_status event with a new event id."""
        event_id = str(uuid.uuid4())
        occurred_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        body = signature.envelope(
            event_id,
            "carrier.status",
            occurred_at,
            self.company_name,
            {
                "tracking_ref": f"{PARTNER_REF}-{sequence:07d}",
                "status": "in_transit",
                "occurred_at": occurred_at,
                "eta": "2026-12-01T10:00:00Z",
            },
        )
        headers = {
            "Content-Type": "application/json",
            **signature.headers(self.secret, "carrier.status", event_id, int(now), body),
        }
        return self.ours_path, body, headers

    def native_request(self, sequence, _now):
        partner = self.partners[sequence % len(self.partners)]
        body = json.dumps(
            {
                "_model": "res.partner",
                "_id": partner.id,
                "comment": f"Carrier status in_transit, tracking {PARTNER_REF}-{sequence:07d}",
            },
            separators=(",", ":"),
        ).encode()
        return self.native_path, body, {"Content-Type": "application/json"}

    def stored_events(self, ids=None):
        """Events of the endpoint stored and committed (those of ``ids`` only when given), counted on a cursor
        of its own: the benchmark's cursor may hold an older snapshot."""
        with self.env.registry.cursor() as cr:
            if ids is None:
                cr.execute(
                    SQL("SELECT count(*) FROM distribution_inbound_event WHERE endpoint_id = %s", self.endpoint.id)
                )
            else:
                cr.execute(
                    SQL(
                        "SELECT count(*) FROM distribution_inbound_event WHERE endpoint_id = %s" " AND id = ANY(%s)",
                        self.endpoint.id,
                        ids,
                    )
                )
            return cr.fetchone()[0]

    def settled_events(self, timeout=15):
        """The stored count once it stops changing: the server may still finish requests wrk sent last."""
        count, deadline = self.stored_events(), time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(1)
            count, previous = self.stored_events(), count
            if count == previous:
                break
        return count


def start_server(conf, db, port, gevent_port, log_path, db_filter):
    command = [
        sys.executable,
        str(ODOO_BIN),
        "-c",
        str(conf),
        "-d",
        db,
        "--workers=2",
        "--max-cron-threads=0",
        "--http-interface=127.0.0.1",
        f"--http-port={port}",
        f"--gevent-port={gevent_port}",
        *([f"--db-filter={db_filter}"] if db_filter else []),
        "--log-level=warn",
    ]
    say(f"$ {' '.join(command)}")
    log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115  (closed with the server)
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    process.log = log
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the Odoo server exited with {process.returncode}:\n{Path(log_path).read_text()[-3000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"http://127.0.0.1:{port}/web/health", timeout=2).status_code == 200:
                return process
        time.sleep(0.5)
    stop_server(process)
    sys.exit(f"the Odoo server did not answer within 180 s:\n{Path(log_path).read_text()[-3000:]}")


def stop_server(process):
    if process.poll() is None:
        process.terminate()  # the prefork master stops its workers
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the process group of the server this script started
            process.wait()
    process.log.close()


def call_in_process(path, body, headers):
    """One request through Odoo's WSGI application in this process: (status, queries, statements)."""
    environ = EnvironBuilder(
        path=path, method="POST", data=body, headers=headers, base_url="http://127.0.0.1:8069"
    ).get_environ()
    status = []
    statements = []

    def hook(cursor, query, params, start, delay):
        statements.append(" ".join(str(query).split()))

    thread = threading.current_thread()
    previous = getattr(thread, "query_hooks", ())
    thread.query_hooks = (*previous, hook)
    before = odoo.sql_db.sql_counter
    try:
        b"".join(odoo.http.root(environ, lambda status_line, _headers, _exc=None: status.append(status_line)))
    finally:
        thread.query_hooks = previous
    return int(status[0].split()[0]), odoo.sql_db.sql_counter - before, statements


def queries_per_request(make_request, start):
    """Median queries (and writes) of QUERY_SAMPLES requests after three warm-up ones; statuses; last statements."""
    results = [call_in_process(*make_request(start + i, time.time())) for i in range(3 + QUERY_SAMPLES)][3:]
    writes = [
        sum(1 for s in statements if s.split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"))
        for _status, _queries, statements in results
    ]
    return {
        "queries": statistics.median(q for _s, q, _st in results),
        "writes": statistics.median(writes),
        "statuses": Counter(s for s, _q, _st in results),
        "statements": results[-1][2],
    }


def bench_inbound(env, args, wrk):
    say(
        f"\n== 1. Inbound: wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency against "
        "our signed webhook and Odoo's native /web/hook =="
    )
    data = Inbound(env)
    sequence = 0
    say(
        f"Setup: endpoint {BENCH_CODE} (carrier_status), base.automation '{BENCH_NAME} webhook' on res.partner "
        f"(on_webhook, code action writing comment), {NATIVE_PARTNERS} partners."
    )

    # Queries per request, in this process (see the module docstring).
    db_filter = f"^{re.escape(args.db)}$" if args.db_filter else ""
    config["dbfilter"] = db_filter  # as the server's
    targets = {"ours": data.ours_request, "native": data.native_request}
    queries = {}
    for key, make_request in targets.items():
        queries[key] = queries_per_request(make_request, sequence)
        sequence += 3 + QUERY_SAMPLES
    expected = {"ours": 202, "native": 200}
    for key, figures in queries.items():
        if set(figures["statuses"]) != {expected[key]}:
            sys.exit(
                f"{key}: the in-process requests were answered {dict(figures['statuses'])}, "
                f"not {expected[key]}; see the log above."
            )
    say(f"\nStatements of one accepted request of ours, in this process ({len(queries['ours']['statements'])}):")
    for statement in queries["ours"]["statements"]:
        say(f"  {statement[:150]}{'...' if len(statement) > 150 else ''}")

    with tempfile.TemporaryDirectory(prefix="bench_integ_") as directory:
        script = Path(directory) / "bench.lua"
        script.write_text(WRK_SCRIPT, encoding="utf-8")
        results, raws, cpu, problems = {}, {}, {}, []

        def run_target(key, make_request, urls, pids):
            """Warm up, then measure one target on the servers at ``urls`` (the connections split between
            them); its figures, with what was stored and which accepted events were found."""
            nonlocal sequence
            count = len(urls)
            threads, connections = max(1, args.threads // count), max(1, args.connections // count)
            warm = []
            for index in range(count):
                warm.append(write_pool(directory, f"{key}-{index}-warm", make_request, WARMUP_POOL, threads, sequence))
                sequence += WARMUP_POOL
            run_wrk_many(wrk, script, warm, urls, threads, connections, WARMUP_SECONDS)
            started = time.perf_counter()
            pools = []
            for index in range(count):
                pools.append(
                    write_pool(directory, f"{key}-{index}", make_request, args.pool // count, threads, sequence)
                )
                sequence += args.pool // count
            say(
                f"  {key} on {count} server(s): {args.pool:,} requests prepared in "
                f"{time.perf_counter() - started:.1f} s; warm-up {WARMUP_SECONDS} s done; measuring {args.duration} s"
            )
            stored_before = data.settled_events()
            with CpuShare(pids, args.db) as share:
                figures, raw = run_wrk_many(wrk, script, pools, urls, threads, connections, args.duration)
            figures["stored"] = data.settled_events() - stored_before
            accepted_ids = [int(line) for pool in pools for line in Path(f"{pool}.accepted").read_text().split()]
            figures["accepted_ids"] = len(accepted_ids)
            figures["accepted_found"] = data.stored_events(accepted_ids)
            return figures, raw, share

        # One server, then (--servers, default 2) several on the same database, as behind a proxy.
        setups = [1] + ([args.servers] if args.servers > 1 else [])
        for count in setups:
            servers = []
            try:
                for index in range(count):
                    log_path = Path(directory) / f"odoo-server-{count}-{index}.log"
                    port, gevent_port = free_port(), free_port()
                    process = start_server(args.conf, args.db, port, gevent_port, log_path, db_filter)
                    servers.append((process, f"http://127.0.0.1:{port}", log_path))
                for key, make_request in targets.items():
                    name = key if count == 1 else f"{key} x{count}"
                    results[name], raws[name], cpu[name] = run_target(
                        key, make_request, [url for _, url, _ in servers], [process.pid for process, _, _ in servers]
                    )
            finally:
                for process, _url, log_path in servers:
                    stop_server(process)
                    log = log_path.read_text(encoding="utf-8", errors="replace")
                    problems += [line for line in log.splitlines() if re.search(r" (WARNING|ERROR|CRITICAL) ", line)]

    rows = []
    labels = {"ours": f"ours  POST {data.ours_path}", "native": "native POST /web/hook/<uuid>"}
    for name, figures in results.items():
        key, _, servers = name.partition(" x")
        latency = figures["latency"]
        statuses = ", ".join(f"{status}: {count:,}" for status, count in sorted(figures["statuses"].items()))
        sockets = figures["connect"] + figures["read"] + figures["write"] + figures["timeout"]
        rows.append(
            [
                labels[key],
                servers or "1",
                f"{figures['requests']:,}",
                fmt(figures["rate"], 1),
                fmt(latency[50], 1),
                fmt(latency[90], 1),
                fmt(latency[99], 1),
                fmt(latency[100], 1),
                statuses,
                sockets,
                fmt(queries[key]["queries"], 0),
                fmt(queries[key]["writes"], 0),
            ]
        )
    print_table(
        [
            "target",
            "servers",
            "requests",
            "req/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "answers",
            "socket errors",
            "queries/req",
            "writes/req",
        ],
        rows,
    )
    for suffix, what, anchor in (
        ("", "inbound signed webhook, requests/s", "Odoo's native /web/hook"),
        (f" x{args.servers}", f"inbound signed webhook on {args.servers} servers, requests/s", "the native on as many"),
    ):
        if f"ours{suffix}" not in results:
            continue
        ours_rate, native_rate = results[f"ours{suffix}"]["rate"], results[f"native{suffix}"]["rate"]
        ratio = ours_rate / native_rate
        record("integration", what, ours_rate, native_rate, anchor, "req/s", target=TARGET_INBOUND_RATIO)
        say(
            f"Target{suffix and f' ({args.servers} servers)'}: ours at least {TARGET_INBOUND_RATIO:.0f}x the native "
            f"requests/s: {ratio:.2f}x -> {met(ratio >= TARGET_INBOUND_RATIO)}"
        )
    if f"ours x{args.servers}" in results:
        say(
            f"{args.servers} servers over one, same connections, same {os.cpu_count()} cores: ours "
            f"{results[f'ours x{args.servers}']['rate'] / results['ours']['rate']:.2f}x, native "
            f"{results[f'native x{args.servers}']['rate'] / results['native']['rate']:.2f}x (the servers share "
            "the cores: this shows what a second server costs or saves on one machine, not the gain of a second "
            "machine)"
        )
    for name, ours in results.items():
        if not name.startswith("ours"):
            continue
        accepted = ours["statuses"].get(202, 0)
        others = sum(count for status, count in ours["statuses"].items() if status != 202)
        lost = accepted - ours["accepted_found"]
        late = ours["stored"] - ours["accepted_found"]
        intact = not lost and not others and ours["accepted_ids"] == accepted and 0 <= late <= args.connections
        say(
            f"Accepted vs stored ({name}, measured run): {accepted:,} answered 202 ({ours['accepted_ids']:,} event "
            f"ids read from the answers, {ours['accepted_found']:,} of them stored), {others:,} other answers, "
            f"{ours['wraps']} wrap(s) of the prepared requests; {ours['stored']:,} events stored during the run, "
            f"{late} of them answered after wrk stopped reading (at most one per connection: {args.connections}) "
            f"-> {'nothing lost' if intact else 'MISMATCH'}"
        )
    for name, share in cpu.items():
        say(
            f"CPU during the {name} run (% of one core; {os.cpu_count()} cores = {os.cpu_count() * 100}%): machine "
            f"{share.machine:.0f}% = wrk {share.wrk:.0f}% + Odoo servers {share.odoo:.0f}% + PostgreSQL backends "
            f"of {args.db} {share.postgres:.0f}% ({len(share.backends)}) + other processes {share.rest:.0f}%"
        )
    say(f"Odoo server logs: {len(problems)} warning/error line(s)")
    for line in problems[:10]:
        say(f"  {line[:300]}")
    for name, outputs in raws.items():
        for index, raw in enumerate(outputs):
            say(f"\nwrk's own output ({name}{f', server {index + 1}' if len(outputs) > 1 else ''}):")
            for line in raw.splitlines():
                say(f"  {line}")
    return results


# -- 2. outbound ----------------------------------------------------------------------------------------
class ReceiverHandler(BaseHTTPRequestHandler):
    """Answers every POST with 200 at once (keep-alive) and counts its event ids; GET /stats, DELETE /stats."""

    protocol_version = "HTTP/1.1"
    counts = Counter()
    lock = threading.Lock()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.lock:
            self.counts[self.headers.get(signature.HEADER_EVENT_ID, "")] += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        with self.lock:
            body = json.dumps(dict(self.counts)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_DELETE(self):
        with self.lock:
            self.counts.clear()
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args):
        pass


def serve_receiver(port):
    """The receiver process (``--receiver-port``): a keep-alive HTTP/1.1 server on 127.0.0.1."""
    server = ThreadingHTTPServer(("127.0.0.1", port), ReceiverHandler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


@contextlib.contextmanager
def receiver():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--receiver-port", str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        if process.stdout.readline().strip() != "ready":
            sys.exit("the receiver did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def receiver_counts(base):
    return Counter(requests.get(f"{base}/stats", timeout=30).json())


def check_counts(counts, expected_ids):
    """(distinct ids received, ids received more than once, expected ids missing, unexpected ids)."""
    return (
        len(counts),
        sum(1 for count in counts.values() if count > 1),
        len(expected_ids - counts.keys()),
        len(counts.keys() - expected_ids),
    )


def bare_loop(url, secret, events):
    """The baseline: the same bodies and headers posted by a plain requests.Session loop; (seconds, answers)."""
    answers = Counter()
    started = time.perf_counter()
    with requests.Session() as session:
        session.headers["User-Agent"] = OUTBOX_USER_AGENT
        for event_id, event_type, payload in events:
            body = payload.encode()
            headers = {
                "Content-Type": "application/json",
                **signature.headers(secret, event_type, event_id, int(time.time()), body),
            }
            response = session.post(url, data=body, headers=headers, timeout=10, allow_redirects=False)
            answers[response.status_code] += 1
    return time.perf_counter() - started, answers


def drive_outbox(env):
    """Call _cron_deliver() as the scheduled action does until it handles nothing; (seconds, queries, calls)."""
    Event = env["distribution.outbound.event"]
    calls = 0
    before = env.cr.sql_log_count
    started = time.perf_counter()
    while True:
        handled = Event._cron_deliver(batch_size=OUTBOX_BATCH)
        env.cr.commit()  # as ir.cron does after each call
        calls += 1
        if not handled:
            break
    return time.perf_counter() - started, env.cr.sql_log_count - before, calls


def bench_outbound(env, count):
    say(
        f"\n== 2. Outbound: {count:,} events to a local keep-alive receiver, the outbox (_cron_deliver, batches "
        f"of {OUTBOX_BATCH}) vs a bare requests.Session loop =="
    )
    Event = env["distribution.outbound.event"]
    with receiver() as base:
        url = f"{base}/hook"
        endpoint = env["distribution.outbound.endpoint"].create({"name": f"{BENCH_NAME} receiver", "url": url})
        secret = endpoint.secret
        documents = env["res.partner"].create(
            [{"name": f"{BENCH_NAME} customer {i}", "ref": f"{PARTNER_REF}-OUT-{i}"} for i in range(EMIT_DOCUMENTS)]
        )
        env.cr.commit()
        started = time.perf_counter()
        for i in range(count):
            document = documents[i % EMIT_DOCUMENTS]
            Event._emit(
                "order.bench",
                document,
                {
                    "order": f"S{i:06d}",
                    "customer": document.name,
                    "lines": 3,
                    "amount_total": "1234.50",
                    "state": "sale",
                },
            )
        env.flush_all()
        emit_seconds = time.perf_counter() - started
        env.cr.commit()
        env.invalidate_all()
        env.cr.execute(
            SQL(
                """SELECT event_id, event_type, payload FROM distribution_outbound_event
                               WHERE endpoint_id = %s AND state = 'pending' ORDER BY id""",
                endpoint.id,
            )
        )
        events = env.cr.fetchall()
        env.cr.execute(SQL("SELECT count(*) FROM ir_cron_trigger WHERE cron_id = %s", env.ref(OUTBOX_CRON).id))
        triggers = env.cr.fetchone()[0]
        env.cr.commit()
        expected_ids = {event_id for event_id, _type, _payload in events}
        say(
            f"Emitted {len(events):,} events about {EMIT_DOCUMENTS} partners with _emit() in {emit_seconds:.1f} s "
            f"({len(events) / emit_seconds:,.0f}/s, one transaction); {triggers:,} outbox cron trigger rows exist "
            "after it."
        )

        bare_loop(url, secret, events[:200])  # warm-up (connection, code paths)
        requests.delete(f"{base}/stats", timeout=10)
        bare_seconds, bare_answers = bare_loop(url, secret, events)
        bare_counts = check_counts(receiver_counts(base), expected_ids)
        requests.delete(f"{base}/stats", timeout=10)

        outbox_seconds, outbox_queries, calls = drive_outbox(env)
        outbox_counts = check_counts(receiver_counts(base), expected_ids)
        env.cr.execute(
            SQL(
                """SELECT state, attempts, last_status_code, count(*) FROM distribution_outbound_event
                               WHERE endpoint_id = %s GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
                endpoint.id,
            )
        )
        states = env.cr.fetchall()
        env.cr.execute(
            SQL(
                """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms),
                                     max(latency_ms) FROM distribution_outbound_event
                               WHERE endpoint_id = %s AND state = 'delivered'""",
                endpoint.id,
            )
        )
        latency_p50, latency_max = env.cr.fetchone()
        env.cr.commit()

    n = len(events)
    rows = [
        [
            "bare requests.Session loop",
            f"{n:,}",
            fmt(bare_seconds, 1),
            fmt(n / bare_seconds, 0),
            fmt(bare_seconds * 1000 / n, 2),
            "-",
            ", ".join(f"{s}: {c:,}" for s, c in sorted(bare_answers.items())),
            *map(str, bare_counts),
        ],
        [
            f"outbox _cron_deliver() x {calls}",
            f"{n:,}",
            fmt(outbox_seconds, 1),
            fmt(n / outbox_seconds, 0),
            fmt(outbox_seconds * 1000 / n, 2),
            fmt(outbox_queries / n, 2),
            ", ".join(f"{state} x{attempts} ({status}): {c:,}" for state, attempts, status, c in states),
            *map(str, outbox_counts),
        ],
    ]
    print_table(
        [
            "sender",
            "events",
            "seconds",
            "events/s",
            "ms/event",
            "queries/event",
            "answers / states",
            "ids received",
            "ids twice+",
            "ids missing",
            "ids unexpected",
        ],
        rows,
    )
    ratio = (n / outbox_seconds) / (n / bare_seconds)
    record(
        "integration",
        "outbox delivery, events/s",
        n / outbox_seconds,
        n / bare_seconds,
        "a bare requests.Session loop",
        "events/s",
        target=TARGET_OUTBOUND_RATIO,
    )
    say(
        f"Target: the outbox at least {TARGET_OUTBOUND_RATIO:.0%} of the bare loop's events/s: {ratio:.0%} -> "
        f"{met(ratio >= TARGET_OUTBOUND_RATIO)}"
    )
    exactly_once = outbox_counts == (n, 0, 0, 0) and states == [("delivered", 1, 200, n)]
    say(
        f"Target: each event delivered exactly once (receiver: {outbox_counts[0]:,} distinct ids, "
        f"{outbox_counts[1]} twice or more, {outbox_counts[2]} missing; database: all delivered after 1 attempt) "
        f"-> {met(exactly_once)}"
    )
    say(
        f"Emission-to-delivery latency stored by the outbox: p50 {latency_p50 / 1000:.1f} s, max "
        f"{latency_max / 1000:.1f} s (from create_date, the start of the emitting transaction; the events also wait "
        "while the baseline runs: information only)."
    )


# -- main -----------------------------------------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", default="bench_integ", help="the benchmark's own database (default: bench_integ)")
    parser.add_argument("--conf", default=str(DEFAULT_CONF), help="Odoo configuration file")
    parser.add_argument("--duration", type=int, default=20, help="seconds of each wrk run (default: 20)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default: 8)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default: 2)")
    parser.add_argument("--pool", type=int, default=60000, help="signed requests prepared per target (unique ids)")
    parser.add_argument("--events", type=int, default=10000, help="outbound events (default: 10000)")
    parser.add_argument(
        "--servers",
        type=int,
        default=2,
        help="after one server, measure again on this many servers on the same database (default: 2; 1: skip)",
    )
    parser.add_argument("--skip-inbound", action="store_true", help="only the outbound part")
    parser.add_argument("--skip-outbound", action="store_true", help="only the inbound part")
    parser.add_argument(
        "--db-filter",
        dest="db_filter",
        action="store_true",
        help="start the server with --db-filter as well as -d (see the module docstring)",
    )
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database first")
    parser.add_argument("--no-update", dest="update", action="store_false", help="do not update the addon")
    parser.add_argument("--receiver-port", type=int, help=argparse.SUPPRESS)  # the receiver process
    args = parser.parse_args()
    if args.receiver_port:
        serve_receiver(args.receiver_port)
        return
    wrk = None if args.skip_inbound else require_wrk()

    config.parse_config(["-c", args.conf, "-d", args.db, "--log-level=warn"])
    prepare_database(args.conf, args.db, args.fresh, args.update, MODULE)
    registry = Registry(args.db)
    started = time.perf_counter()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        leftovers = remove_bench_data(env)
        if leftovers:
            say(f"Removed leftovers of a previous, interrupted run: {leftovers}")
        env.cr.execute("SELECT version()")
        say(
            f"Database {args.db}: {env.cr.fetchone()[0].split(',')[0]}; Odoo {odoo.release.version}; "
            f"{os.cpu_count()} CPU cores shared by the load generator, Odoo and PostgreSQL"
        )
        env.cr.commit()
        try:
            if not args.skip_inbound:
                bench_inbound(env, args, wrk)
            if not args.skip_outbound and args.events:
                bench_outbound(env, args.events)
        finally:
            env.cr.rollback()
            cleanup_started = time.perf_counter()
            deleted = remove_bench_data(env)
            say(
                f"\nCleanup: deleted {', '.join(f'{count:,} {kind}' for kind, count in deleted.items()) or 'nothing'} "
                f"in {time.perf_counter() - cleanup_started:.1f} s. Total {time.perf_counter() - started:.0f} s."
            )


if __name__ == "__main__":
    main()
