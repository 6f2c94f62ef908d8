"""Soak (#16 item 5): signed inbound events at a steady rate near the server's capacity, outbound deliveries at
the same time, for a while; sampled at regular intervals.

One Odoo server in prefork mode (two HTTP workers, one cron worker) on a throw-away copy of the test database.
A quick probe first measures what it answers with the test's own client (closed loop, SENDERS threads); then a
paced client posts validly signed ``carrier_status`` events (new event ids, on existing deliveries, no ETA:
applied by the inbox without raising anything) at PACE of that rate, while a second client confirms sales
orders over JSON-RPC at a slow steady pace (each emits ``order.confirmed``, delivered by the outbox to a local
signature-checking receiver). Every SAMPLE seconds: requests answered in the window, events stored, p50/p99
latency of the window, inbox backlog, outbox pending, each worker's RSS.

What users rely on: every request answered 202 is stored and every stored event was answered 202 (nothing
lost, nothing stored behind the sender's back); nothing but 202; every order.confirmed delivered once; and
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

import http.client
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
from .odoo_process import database_under_test
from .rpc import Rpc

pytestmark = pytest.mark.fault

SECONDS = int(os.environ.get("SOAK_SECONDS") or 45)
SAMPLE = 10 if SECONDS >= 300 else 5
PROBE_SECONDS = 8
SENDERS = 8
PACE = 0.65  # of the probed rate
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
        pickings = [
            name
            for (name,) in db.query(
                "SELECT name FROM stock_picking WHERE state NOT IN ('done', 'cancel') ORDER BY id LIMIT 50"
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


# -- the inbound client -------------------------------------------------------------------------------------
class Client:
    """Posts signed carrier events; records (time answered, latency, status, event id) of every request. One
    new connection per request: Odoo's prefork workers close theirs after each answer."""

    def __init__(self, soak):
        self.soak = soak
        self.port = soak["server"].port
        self.lock = threading.Lock()
        self.records = []  # (monotonic time of the answer, seconds, status, event id)
        self.errors = Counter()
        self.sequence = iter(range(10**9))

    def post(self):
        soak = self.soak
        with self.lock:
            number = next(self.sequence)
        now = time.time()
        data = {
            "picking": soak["pickings"][number % len(soak["pickings"])],
            "status": "in_transit",
            "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        }
        event_id, body, headers = signed_event(soak["secret"], "carrier.status", data, soak["company"], now=now)
        started = time.monotonic()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            connection.request("POST", f"/distribution/webhook/{CODE}", body=body, headers=headers)
            status = connection.getresponse().status
            connection.close()
        except OSError as error:
            with self.lock:
                self.errors[type(error).__name__] += 1
            return
        answered = time.monotonic()
        with self.lock:
            self.records.append((answered, answered - started, status, event_id))

    def closed_loop(self, seconds):
        """As fast as SENDERS threads go for ``seconds``: the rate answered per second."""
        stop = time.monotonic() + seconds
        before = len(self.records)

        def send():
            while time.monotonic() < stop:
                self.post()

        threads = [threading.Thread(target=send, daemon=True) for _ in range(SENDERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + 60)
        return (len(self.records) - before) / seconds

    def paced(self, rate, seconds, stop):
        """SENDERS threads, request n due at start + n / rate; a thread behind schedule sends at once (the
        lag is printed). Ends after ``seconds`` or when ``stop`` is set."""
        start = time.monotonic()
        total = int(rate * seconds)
        self.lag = 0.0

        def send(offset):
            for n in range(offset, total, SENDERS):
                due = start + n / rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    self.lag = max(self.lag, -delay)
                if stop.is_set():
                    return
                self.post()

        threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(SENDERS)]
        for thread in threads:
            thread.start()
        return threads


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


def _percentile(values, share):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(share * len(values)))]


def _ms(seconds):
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def test_soak_inbound_and_outbound(soak):
    server, receiver = soak["server"], soak["receiver"]
    client = Client(soak)
    client.closed_loop(2)  # warm-up: every worker loads the registry
    probed = client.closed_loop(PROBE_SECONDS)
    rate = round(probed * PACE, 1)
    workers_at_start = server.worker_memory()

    stop = threading.Event()
    stats = Counter()
    orders = threading.Thread(target=_confirm_orders, args=(soak, stop, stats), daemon=True)
    orders.start()
    begin = time.monotonic()
    senders = client.paced(rate, SECONDS, stop)
    samples, seen = [], len(client.records)
    while time.monotonic() - begin < SECONDS:
        time.sleep(max(0.0, SAMPLE - (time.monotonic() - begin) % SAMPLE))
        with client.lock:
            window = client.records[seen:]
            seen = len(client.records)
        latencies = [latency for _at, latency, _status, _id in window]
        stored, waiting, pending = _db_figures(soak)
        samples.append(
            {
                "t": round(time.monotonic() - begin),
                "answered": len(window),
                "answered 202 total": sum(1 for record in client.records if record[2] == 202),
                "stored": stored,
                "inbox waiting": waiting,
                "p50": _percentile(latencies, 0.5),
                "p99": _percentile(latencies, 0.99),
                "outbox pending": pending,
                "delivered": len(receiver.snapshot()),
                "rss": server.worker_memory(),
            }
        )
    stop.set()
    for thread in [*senders, orders]:
        thread.join(timeout=60)
    ended = time.monotonic() - begin
    wait_for("the outbox delivered", lambda: _db_figures(soak)[2] == 0, 120, 0.5)

    answered = {event_id for _at, _lat, status, event_id in client.records if status == 202}
    statuses = Counter(status for _at, _lat, status, _id in client.records)
    stored_ids = {
        row[0]
        for row in soak["db"].query(
            "SELECT event_id FROM distribution_inbound_event WHERE endpoint_id = %s", [soak["endpoint"]]
        )
    }
    outbox = {
        row[0]
        for row in soak["db"].query(
            "SELECT event_id FROM distribution_outbound_event WHERE endpoint_id = %s", [soak["outbound"]]
        )
    }
    received = receiver.snapshot()
    workers = sorted(workers_at_start, key=lambda pid: (workers_at_start[pid][0], pid))
    print(
        f"\n--- soak: {SECONDS} s, sampled every {SAMPLE} s; probe {probed:.0f} req/s "
        f"({SENDERS} threads, closed loop), paced at {rate} req/s ({PACE:.0%}) ---"
    )
    head = ["t (s)", "answered", "stored", "inbox waiting", "p50 ms", "p99 ms", "outbox pending", "delivered"]
    head += [f"{workers_at_start[pid][0]} {pid} MiB" for pid in workers]
    print("  " + " | ".join(head))
    for sample in samples:
        row = [sample["t"], sample["answered"], sample["stored"], sample["inbox waiting"]]
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
    figures = {
        "requests (202 / other)": f"{statuses[202]} / {sum(statuses.values()) - statuses[202]}",
        "client errors": dict(client.errors),
        "rate answered while paced (req/s)": round(sum(sample["answered"] for sample in samples) / ended, 1),
        "largest lag behind the pace (s)": round(client.lag, 2),
        "stored events": len(stored_ids),
        "answered 202 not stored / stored not answered 202": f"{len(answered - stored_ids)} / "
        f"{len(stored_ids - answered)}",
        "orders confirmed (errors)": f"{stats['orders']} ({sum(v for k, v in stats.items() if k != 'orders')})",
        "outbox events / received / twice": f"{len(outbox)} / {len(received)} / {len(duplicates(received))}",
        "memory (first third -> last third median)": verdicts,
        "workers replaced": replaced,
        "errors in the log (ours)": len(ours),
    }
    report(None, figures)

    assert samples and len(workers) >= 3, (samples, workers_at_start)
    assert not client.errors, client.errors
    assert set(statuses) == {202}, statuses
    assert answered == stored_ids, "every request answered 202 is stored, every stored one was answered 202"
    assert not any(k != "orders" for k in stats), stats
    assert stats["orders"] and outbox and set(received) == outbox, "every order.confirmed delivered"
    assert not duplicates(received) and not receiver.bad_signatures
    assert not replaced, f"workers replaced during the run (memory limit or crash): {replaced}"
    assert not growing, f"memory grew beyond the rule: {[verdicts[pid] for pid in growing]}"
    assert not ours, ours[:3]
