"""Soak (#16 item 5): signed inbound events at a steady rate near the server's capacity, outbound deliveries at
the same time, for a while; sampled at regular intervals.

One Odoo server in prefork mode (two HTTP workers, one cron worker) on a throw-away copy of the test database.
The load comes from wrk (``benchmarks/wrklib.py``, as the inbound benchmark), which can load the server to its
capacity where a Python client could not (the client, not the server, was the bound). A probe first measures
what the server answers (wrk closed loop, THREADS threads, CONNECTIONS connections); then wrk posts validly
signed ``carrier_status`` events (new event ids, on existing deliveries, no ETA: applied by the inbox without
raising anything) at PACE of that rate, in slices of SAMPLE seconds: each slice's requests are signed just
before it (fresh timestamps), its connections paced by a pause before each request, the pause tuned slice by
slice to hold the rate. Meanwhile a second client confirms sales orders over JSON-RPC at a slow steady pace
(each emits ``order.confirmed``, delivered by the outbox to a local signature-checking receiver). Per slice:
requests answered, events stored, p50/p99 latency (wrk's), inbox backlog, outbox pending, each worker's RSS.

What users rely on: every request answered 202 is stored (nothing lost); nothing stored beyond the requests wrk
still had in flight when a slice ended (at most one per connection: the server answers them, to nobody);
nothing but 202, no socket error or timeout; every order.confirmed delivered once; and
memory that does not grow without bound. Odoo recycles a worker after ``limit_request`` requests (65536 by
default, minutes at this rate) and above ``limit_memory_soft``: a recycled worker starts small again and would
hide a leak, so the server runs with ``--limit-request=10000000`` and ``limit_memory_soft`` as shipped, and a
worker that is replaced during the run fails the test (it can only be the memory limit or a crash). The rule,
per worker present from the first sample to the last: the median RSS of the last third of the samples is at
most the first third's median plus MEMORY_SLACK (10 %) and MEMORY_FLOOR_MIB (24 MiB: caches filling up). A leak
of one kilobyte per request fails it in the 10-minute soak; the short run (45 s in make test) only catches a
gross one.

Short by default (SOAK_SECONDS=45, sampled every 5 s); `make soak` runs it for 600 s, sampled every 10 s.
Figures are printed (pytest -s), never asserted on time or speed.
"""

import importlib.util
import os
import secrets
import statistics
import threading
import time
from collections import Counter

import pytest

from .fault_harness import Receiver
from .fault_harness import customer_and_service
from .fault_harness import duplicates
from .fault_harness import inbound_endpoint
from .fault_harness import receiver_endpoint
from .fault_harness import report
from .fault_harness import servers_on_copy
from .fault_harness import signed_event
from .fault_harness import wait_for
from .odoo_process import ROOT
from .odoo_process import database_under_test
from .rpc import Rpc


def _load_wrklib():
    spec = importlib.util.spec_from_file_location("soak_wrklib", ROOT / "benchmarks" / "wrklib.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wrklib = _load_wrklib()

pytestmark = pytest.mark.fault

SECONDS = int(os.environ.get("SOAK_SECONDS") or 45)
SAMPLE = 10 if SECONDS >= 300 else 5
PROBE_SECONDS = 8
THREADS, CONNECTIONS = 2, 8  # wrk's, as the inbound benchmark's
PACE = 0.8  # of the probed rate
MAX_RATE = 2000  # requests/s no server of this kind answers: the size of the probe's prepared requests
ORDERS_EVERY = 2.0  # seconds between two confirmations of ORDERS_CHUNK orders over JSON-RPC
ORDERS_CHUNK = 3
MEMORY_SLACK = 0.10
MEMORY_FLOOR_MIB = 24
CODE = "soak-carrier"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def soak(tmp_path_factory):
    template = database_under_test()
    tmp = tmp_path_factory.mktemp("soak")
    secret = secrets.token_urlsafe(24)
    with (
        servers_on_copy(template, tmp, names=("s",), extra_args=["--limit-request=10000000"], label="soak") as (
            db,
            servers,
        ),
        Receiver(secret, delay=0.005) as receiver,
    ):
        server = servers[0]
        admin = Rpc(server.url, db.name)
        endpoint, inbound_secret, company = inbound_endpoint(admin, "Soak carrier", CODE, "carrier_status")
        outbound = receiver_endpoint(admin, receiver, "Soak receiver")
        # Open deliveries of the endpoint's company: the handler looks the delivery up in that company only.
        pickings = [
            name
            for (name,) in db.query(
                """SELECT picking.name FROM stock_picking picking
                     JOIN stock_picking_type type ON type.id = picking.picking_type_id
                    WHERE picking.state NOT IN ('done', 'cancel') AND type.code = 'outgoing'
                      AND picking.company_id = (SELECT company_id FROM distribution_inbound_endpoint WHERE id = %s)
                 ORDER BY picking.id LIMIT 50""",
                [endpoint],
            )
        ]
        assert pickings, "the test database has open deliveries (demo data)"
        partner, service = customer_and_service(admin)
        yield {
            "db": db,
            "server": server,
            "receiver": receiver,
            "secret": inbound_secret,
            "company": company,
            "endpoint": endpoint,
            "outbound": outbound,
            "pickings": pickings,
            "order_vals": {
                "partner_id": partner,
                "client_order_ref": "SOAK",
                "order_line": [(0, 0, {"product_id": service, "product_uom_qty": 1})],
            },
        }


# -- the inbound load ---------------------------------------------------------------------------------------
class WrkLoad:
    """wrk posting signed carrier events, one run per slice; keeps the database ids of the accepted events (read
    from the 202 answers by wrk's script) and counts every answer, wrap and socket error."""

    def __init__(self, soak, directory):
        self.soak = soak
        self.wrk = wrklib.require_wrk()
        self.directory = directory
        self.script = directory / "soak.lua"
        self.script.write_text(wrklib.WRK_SCRIPT, encoding="utf-8")
        self.url = soak["server"].url
        self.sequence = 0
        self.runs = 0
        self.accepted = []
        self.statuses = Counter()
        self.wraps = 0
        self.socket_errors = Counter()

    def request(self, number, now):
        soak = self.soak
        data = {
            "picking": soak["pickings"][number % len(soak["pickings"])],
            "status": "in_transit",
            "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        }
        _event_id, body, headers = signed_event(soak["secret"], "carrier.status", data, soak["company"], now=now)
        return f"/distribution/webhook/{CODE}", body, headers

    def run(self, seconds, most_rate, delay_ms=0):
        """One wrk run of ``seconds`` with requests signed now (enough for ``most_rate`` requests/s, so that
        none is sent twice); its figures."""
        count = int(most_rate * seconds * 1.5) + 200
        self.runs += 1
        pool = wrklib.write_pool(self.directory, f"run-{self.runs}", self.request, count, THREADS, self.sequence)
        self.sequence += count
        figures, _raw = wrklib.run_wrk(self.wrk, self.script, pool, self.url, THREADS, CONNECTIONS, seconds, delay_ms)
        self.accepted += [int(line) for line in pool.with_name(f"{pool.name}.accepted").read_text().split()]
        self.statuses.update(figures["statuses"])
        self.wraps += figures["wraps"]
        for kind in ("connect", "read", "write", "timeout"):
            self.socket_errors[kind] += figures[kind]
        return figures


def _confirm_orders(soak, stop, stats):
    """A salesperson's client: ORDERS_CHUNK orders created then confirmed every ORDERS_EVERY seconds."""
    rpc = Rpc(soak["server"].url, soak["db"].name)
    while not stop.is_set():
        started = time.monotonic()
        try:
            ids = rpc("sale.order", "create", [soak["order_vals"]] * ORDERS_CHUNK)
            rpc("sale.order", "action_confirm", ids)
            stats["orders"] += len(ids)
        except Exception as error:  # counted, asserted at the end
            stats[f"error {type(error).__name__}"] += 1
        stop.wait(max(0.0, ORDERS_EVERY - (time.monotonic() - started)))


# -- reading ----------------------------------------------------------------------------------------------
def _db_figures(soak):
    (stored, waiting), (pending,) = (
        soak["db"].query(
            """SELECT count(*), count(*) FILTER (WHERE state IN ('received', 'processing', 'failed'))
             FROM distribution_inbound_event WHERE endpoint_id = %s""",
            [soak["endpoint"]],
        )[0],
        soak["db"].query(
            "SELECT count(*) FROM distribution_outbound_event WHERE endpoint_id = %s AND state <> 'delivered'",
            [soak["outbound"]],
        )[0],
    )
    return stored, waiting, pending


def _ms(value):
    return "-" if value is None else f"{value:.0f}"


def test_soak_inbound_and_outbound(soak, tmp_path):
    server, receiver = soak["server"], soak["receiver"]
    load = WrkLoad(soak, tmp_path)
    load.run(2, MAX_RATE)  # warm-up: every worker loads the registry
    probed = load.run(PROBE_SECONDS, MAX_RATE)["rate"]
    rate = round(probed * PACE, 1)
    # The pause before each request of a connection: a connection's cycle at the paced rate, less what the
    # request itself took at the probe's load (tuned after each slice).
    latency_ms = CONNECTIONS / probed * 1000
    pause_ms = max(0.0, CONNECTIONS / rate * 1000 - latency_ms)
    workers_at_start = server.worker_memory()

    stop = threading.Event()
    stats = Counter()
    orders = threading.Thread(target=_confirm_orders, args=(soak, stop, stats), daemon=True)
    orders.start()
    begin = time.monotonic()
    samples = []
    try:
        while time.monotonic() - begin < SECONDS:
            figures = load.run(SAMPLE, max(probed, rate), pause_ms)
            # What a request took at this load: the connection's cycle less the pause; the next pause holds the rate.
            latency_ms = max(0.0, CONNECTIONS / max(figures["rate"], 1.0) * 1000 - pause_ms)
            pause_ms = max(0.0, CONNECTIONS / rate * 1000 - latency_ms)
            stored, waiting, pending = _db_figures(soak)
            samples.append(
                {
                    "t": round(time.monotonic() - begin),
                    "answered": figures["requests"],
                    "req/s": figures["rate"],
                    "stored": stored,
                    "inbox waiting": waiting,
                    "p50": figures["latency"][50],
                    "p99": figures["latency"][99],
                    "outbox pending": pending,
                    "delivered": len(receiver.snapshot()),
                    "rss": server.worker_memory(),
                }
            )
    finally:
        stop.set()
        orders.join(timeout=60)
    ended = time.monotonic() - begin
    wait_for("the outbox delivered", lambda: _db_figures(soak)[2] == 0, 120, 0.5)
    # The inbox applies the accepted events behind the answers (one cron worker): how long its backlog takes to
    # drain once the load stops, and that every event was applied once, none failed.
    backlog = _db_figures(soak)[1]
    drain_started = time.monotonic()
    wait_for("the inbox drained", lambda: _db_figures(soak)[1] == 0, 120 + backlog / 50, 1)
    drained_in = time.monotonic() - drain_started
    states = dict(
        soak["db"].query(
            "SELECT state, count(*) FROM distribution_inbound_event WHERE endpoint_id = %s GROUP BY 1",
            [soak["endpoint"]],
        )
    )

    answered = set(load.accepted)
    stored_ids = {
        row[0]
        for row in soak["db"].query(
            "SELECT id FROM distribution_inbound_event WHERE endpoint_id = %s", [soak["endpoint"]]
        )
    }
    # wrk stops reading at the end of each run: the requests then in flight (one per connection at most) are
    # answered and stored, to nobody. The warm-up and the probe are runs too.
    unread_bound = CONNECTIONS * load.runs
    outbox = {
        row[0]
        for row in soak["db"].query(
            "SELECT event_id FROM distribution_outbound_event WHERE endpoint_id = %s", [soak["outbound"]]
        )
    }
    received = receiver.snapshot()
    workers = sorted(workers_at_start, key=lambda pid: (workers_at_start[pid][0], pid))
    print(
        f"\n--- soak: {SECONDS} s in slices of {SAMPLE} s; probe {probed:.0f} req/s (wrk -t{THREADS} "
        f"-c{CONNECTIONS}, closed loop), paced at {rate} req/s ({PACE:.0%}) ---"
    )
    head = ["t (s)", "answered", "req/s", "stored", "inbox waiting", "p50 ms", "p99 ms", "outbox pending"]
    head += ["delivered"]
    head += [f"{workers_at_start[pid][0]} {pid} MiB" for pid in workers]
    print("  " + " | ".join(head))
    for sample in samples:
        row = [sample["t"], sample["answered"], f"{sample['req/s']:.0f}", sample["stored"], sample["inbox waiting"]]
        row += [_ms(sample["p50"]), _ms(sample["p99"]), sample["outbox pending"], sample["delivered"]]
        row += [f"{sample['rss'][pid][1] / MIB:.0f}" if pid in sample["rss"] else "gone" for pid in workers]
        print("  " + " | ".join(str(value).rjust(len(title)) for value, title in zip(row, head, strict=True)))

    # Memory: per worker, last third's median within the first third's plus the slack.
    third = max(1, len(samples) // 3)
    verdicts, growing = {}, []
    for pid in workers:
        series = [sample["rss"].get(pid, (None, None))[1] for sample in samples]
        if None in series:
            continue
        first, last = statistics.median(series[:third]), statistics.median(series[-third:])
        limit = first * (1 + MEMORY_SLACK) + MEMORY_FLOOR_MIB * MIB
        verdicts[pid] = f"{first / MIB:.0f} -> {last / MIB:.0f} MiB (limit {limit / MIB:.0f})"
        if last > limit:
            growing.append(pid)
    replaced = [pid for pid in workers if any(pid not in sample["rss"] for sample in samples)]
    ours = server.log_problems()[0]
    statuses = load.statuses
    figures = {
        "requests (202 / other)": f"{statuses[202]} / {sum(statuses.values()) - statuses[202]}",
        "socket errors, prepared requests sent twice": f"{dict(load.socket_errors)}, {load.wraps}",
        "rate answered while paced (req/s)": round(sum(sample["answered"] for sample in samples) / ended, 1),
        "of the probed capacity": f"{sum(sample['answered'] for sample in samples) / ended / probed:.0%}",
        "stored events": len(stored_ids),
        "answered 202 not stored / stored not read by wrk (at most)": f"{len(answered - stored_ids)} / "
        f"{len(stored_ids - answered)} ({unread_bound})",
        "inbox backlog when the load stopped, drained in (s)": f"{backlog}, {drained_in:.0f}",
        "inbox applied per second (load and drain)": round(states.get("done", 0) / (ended + drained_in), 1),
        "inbox events by state": states,
        "orders confirmed (errors)": f"{stats['orders']} ({sum(v for k, v in stats.items() if k != 'orders')})",
        "outbox events / received / twice": f"{len(outbox)} / {len(received)} / {len(duplicates(received))}",
        "memory (first third -> last third median)": verdicts,
        "workers replaced": replaced,
        "errors in the log (ours)": len(ours),
    }
    report(None, figures)

    assert samples and len(workers) >= 3, (samples, workers_at_start)
    assert not +load.socket_errors and not load.wraps, (load.socket_errors, load.wraps)
    assert set(statuses) == {202}, statuses
    assert len(answered) == statuses[202], "every 202 answer names its stored event"
    assert answered <= stored_ids, "every request answered 202 is stored"
    assert len(stored_ids - answered) <= unread_bound, "nothing stored beyond the requests wrk left unread"
    assert states == {"done": len(stored_ids)}, "every stored event applied, none failed"
    assert not any(k != "orders" for k in stats), stats
    assert stats["orders"] and outbox and set(received) == outbox, "every order.confirmed delivered"
    assert not duplicates(received) and not receiver.bad_signatures
    assert not replaced, f"workers replaced during the run (memory limit or crash): {replaced}"
    assert not growing, f"memory grew beyond the rule: {[verdicts[pid] for pid in growing]}"
    assert not ours, ours[:3]
