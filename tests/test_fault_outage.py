"""Fault harness (#16, item 3): the receiver of the outbox goes down, then comes back.

One real Odoo server in prefork mode (two HTTP workers, one cron worker) on a throw-away copy of the test
database; the receiver first answers 503, then closes its socket (connections refused), then recovers.
Business goes on meanwhile: orders confirmed, held, released over JSON-RPC.

What users rely on: the outbox keeps to its documented schedule (services/backoff.py: 30 s after the first
failure, doubling, minus up to 20 % of jitter; an attempt is never made before its event's next attempt),
no event goes dead within the retry budget (the endpoint's max attempts), every event is delivered once the
receiver is back, the events of a document arrive in the order they were created, and /distribution/health
tells a monitoring system that the outbox is degraded while it retries, ok once it caught up. Then a dead
letter case: with a budget of one attempt (two at soak size) the events go dead, and a Distribution
Manager's Replay (the list's button, over JSON-RPC) delivers them.

The real schedule is kept. Its first retry comes 24 to 30 s after the first failure, its second 48 to 60 s
after that, and the cron runs every minute besides the runs an emitting transaction triggers. So the short
version (make test) is an outage of 20 s: every event sent during it fails exactly once, on a 503 or a
refused connection, and is delivered at its first retry, after the recovery. The long version (make soak, or
OUTAGE_SECONDS) is an outage of 5 minutes: four or so failed attempts per event. Figures are printed (run
pytest with -s), never asserted on time.
"""

import os
import secrets
import threading
import time
from collections import Counter
from collections import defaultdict
from datetime import timedelta

import pytest

from .fault_harness import OdooServer
from .fault_harness import Receiver
from .fault_harness import customer_and_service
from .fault_harness import database_copy
from .fault_harness import health
from .fault_harness import metrics_key
from .fault_harness import receiver_endpoint
from .fault_harness import report
from .fault_harness import scarce_product
from .fault_harness import wait_for
from .odoo_process import database_under_test
from .rpc import Rpc
from .services import load_service

pytestmark = pytest.mark.fault

backoff = load_service("distribution_orchestration", "backoff")

SOAK = bool(os.environ.get("SOAK_EVENTS"))
OUTAGE_SECONDS = float(os.environ.get("OUTAGE_SECONDS") or (300 if SOAK else 20))
ORDERS_PER_WAVE = 40 if SOAK else 10
HELD_EVERY = 2  # every other order of the first wave is held (a product out of stock), then released
MAX_ATTEMPTS = 8
DEAD_LETTER_BUDGET = 2 if SOAK else 1
WAKE_EVERY = 3.0  # seconds between the orders confirmed after the recovery (business goes on)
CRON_LATENCY = 90  # the cron runs at least every minute: a due event waits at most that (with slack)
OUTBOX_CHECKS = ("outbox_pending", "outbox_retrying", "outbox_dead_letters")
REF = "OUTAGE-"


@pytest.fixture(scope="module")
def outage(tmp_path_factory):
    """One server on a throw-away copy of DISTRIBUTION_TEST_DB, the receiver, its endpoint, a Distribution
    Manager with a monitoring key; everything stopped and dropped at the end, whatever happened."""
    tmp = tmp_path_factory.mktemp("outage")
    with database_copy(database_under_test(), tmp, "outage") as (rc, db):
        # The demo's outbox (its events, dead letters among them, and its delivery runs) is not this test's: the
        # health checks read this test's outbox only. The copy is thrown away.
        db.execute("DELETE FROM distribution_outbound_event")
        db.execute(
            "DELETE FROM distribution_workflow_run WHERE workflow_id IN "
            "(SELECT id FROM distribution_workflow WHERE code = 'outbox_delivery')"
        )
        server = OdooServer("outage", rc, db.name, tmp)
        secret = secrets.token_urlsafe(24)
        try:
            key = metrics_key(rc, db.name)
            with Receiver(secret, delay=0.005) as receiver:
                server.start()
                admin = Rpc(server.url, db.name)
                endpoint = receiver_endpoint(admin, receiver, "Outage receiver", max_attempts=MAX_ATTEMPTS)
                manager_group = admin(
                    "ir.model.data",
                    "check_object_reference",
                    "distribution_observability",
                    "group_distribution_manager",
                )[1]
                user_group = admin("ir.model.data", "check_object_reference", "base", "group_user")[1]
                admin(
                    "res.users",
                    "create",
                    {
                        "name": "Outage Manager",
                        "login": "outage.manager",
                        "password": "outage.manager",
                        "groups_id": [(4, manager_group), (4, user_group)],
                    },
                )
                partner, service = customer_and_service(admin)
                scarce = scarce_product(admin, "Outage scarce widget")
                yield {
                    "db": db,
                    "server": server,
                    "receiver": receiver,
                    "endpoint": endpoint,
                    "admin": admin,
                    "key": key,
                    "partner": partner,
                    "products": (service, scarce),
                    "serial": iter(range(10**9)),
                }
        finally:
            server.stop()


# -- business -------------------------------------------------------------------------------------------------
def _confirm(fault, count, held_every=0):
    """Create and confirm ``count`` orders (every ``held_every``-th one held: out of stock); answer their ids."""
    service, scarce = fault["products"]
    vals = []
    for index in range(count):
        number = next(fault["serial"])
        product = scarce if held_every and index % held_every == 0 else service
        vals.append(
            {
                "partner_id": fault["partner"],
                "client_order_ref": f"{REF}{number}",
                "order_line": [(0, 0, {"product_id": product, "product_uom_qty": 1})],
            }
        )
    ids = fault["admin"]("sale.order", "create", vals)
    fault["admin"]("sale.order", "action_confirm", ids)
    return ids


def _release(fault, order_ids):
    """A Distribution Manager releases held orders with the release wizard (order.confirmed, order.released
    and the exceptions' events: later events of documents whose first event is still retrying)."""
    held = fault["admin"](
        "sale.order", "search", [("id", "in", order_ids), ("distribution_validation_state", "=", "on_hold")]
    )
    wizard = fault["admin"](
        "distribution.release.wizard", "create", {"order_ids": [(6, 0, held)], "reason": "Outage test"}
    )
    fault["admin"]("distribution.release.wizard", "action_release", [wizard])
    return held


# -- the outbox, read in the database -----------------------------------------------------------------------------
def _events(fault):
    """{event id: row} of the endpoint's events, row a dict of the delivery columns."""
    rows = fault["db"].query(
        """SELECT event_id, id, state, attempts, last_attempt_at, next_attempt_at, last_status_code, res_model,
                  res_id, event_type, replay_count
             FROM distribution_outbound_event WHERE endpoint_id = %s""",
        [fault["endpoint"]],
    )
    keys = ("id", "state", "attempts", "last_attempt_at", "next_attempt_at", "status", "res_model", "res_id", "type")
    return {row[0]: dict(zip((*keys, "replays"), row[1:], strict=True)) for row in rows}


class AttemptLog:
    """Polls the outbox every half second and keeps, per event, each attempt as it was recorded:
    (attempts, last_attempt_at, next_attempt_at, status, state). Attempts are 24 s apart at least: none is
    missed."""

    def __init__(self, fault):
        self.fault = fault
        self.attempts = defaultdict(list)
        self.stop = threading.Event()
        self.errors = []
        self.thread = threading.Thread(target=self._run, name="attempt-log", daemon=True)

    def _run(self):
        while not self.stop.is_set():
            try:
                self.poll()
            except Exception as exc:  # reported by the test, never lost in a thread
                self.errors.append(repr(exc))
            self.stop.wait(0.5)

    def poll(self):
        for event_id, row in _events(self.fault).items():
            seen = self.attempts[event_id]
            if row["attempts"] and (not seen or seen[-1][0] != row["attempts"]):
                seen.append(
                    (row["attempts"], row["last_attempt_at"], row["next_attempt_at"], row["status"], row["state"])
                )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=10)
        self.poll()


def _schedule_problems(attempts):
    """What in one event's recorded attempts breaks the documented schedule: a failed attempt k must set the
    next one delay(k) later (between 80 % and 100 % of 30 s * 2^(k-1), to the second), and the next attempt
    must not come before it."""
    problems = []
    for (number, at, next_at, status, state), later in zip(attempts, [*attempts[1:], None], strict=True):
        if state != "pending":
            continue
        full = backoff.delay(number, jitter=0)
        waited = (next_at - at).total_seconds()
        if not full * (1 - backoff.JITTER) - 1 <= waited <= full + 1:
            problems.append(f"attempt {number} (status {status}): next in {waited} s, not in [{0.8 * full}, {full}]")
        if later and later[1] < next_at - timedelta(seconds=1):
            problems.append(f"attempt {later[0]} at {later[1]}, before its time {next_at}")
    return problems


def _order_problems(fault, events):
    """Documents whose events the receiver first got out of their creation order."""
    by_document = defaultdict(list)
    seen = set()
    for _at, event_id, status in fault["receiver"].arrivals:
        row = events.get(event_id)
        if status != 200 or not row or event_id in seen:
            continue
        seen.add(event_id)
        by_document[(row["res_model"], row["res_id"])].append(row["id"])
    return {document: ids for document, ids in by_document.items() if ids != sorted(ids)}, by_document


def _outbox_health(fault):
    """(overall status, {check code: level}) of the outbox's checks in /distribution/health."""
    status, body = health(fault["server"].url, fault["key"])
    levels = {check["code"]: check["level"] for check in body["checks"] if check["code"] in OUTBOX_CHECKS}
    workflow = next((c for c in body["checks"] if c["type"] == "workflow" and c["code"] == "outbox_delivery"), {})
    levels["workflow outbox_delivery"] = workflow.get("level")
    # The overall status also reads the rest of the database (a demo's held orders, overdue exceptions ...).
    others = sorted(
        c["code"] for c in body["checks"] if c["level"] != "ok" and c["code"] not in (*OUTBOX_CHECKS, "outbox_delivery")
    )
    return f"{body['status']} (HTTP {status}; not ok besides the outbox: {', '.join(others) or 'none'})", levels


# -- the tests ----------------------------------------------------------------------------------------------------
def test_receiver_outage_backs_off_then_delivers_in_order(outage):
    """Item 3: 503 for the first half of the outage, refused connections for the second, then recovery."""
    receiver, db = outage["receiver"], outage["db"]
    health_before = _outbox_health(outage)
    with AttemptLog(outage) as log:
        started = time.monotonic()
        receiver.answer = 503
        wave_a = _confirm(outage, ORDERS_PER_WAVE, held_every=HELD_EVERY)
        wait_for(
            "the first wave tried once",
            lambda: _events(outage) and all(row["attempts"] for row in _events(outage).values()),
            60,
            0.5,
        )
        time.sleep(max(0.0, started + OUTAGE_SECONDS / 2 - time.monotonic()))
        receiver.stop_listening()
        refused_from = time.monotonic()
        released = _release(outage, wave_a)
        wave_b = _confirm(outage, ORDERS_PER_WAVE)
        time.sleep(max(0.0, started + OUTAGE_SECONDS - 3 - time.monotonic()))
        health_during = _outbox_health(outage)
        time.sleep(max(0.0, started + OUTAGE_SECONDS - time.monotonic()))
        dead_during = [event_id for event_id, row in _events(outage).items() if row["state"] == "dead"]
        receiver.answer = 200
        receiver.listen()
        recovered_at = time.monotonic()

        # The last retry due, by the schedule recorded on the events: everything must be delivered by then
        # plus a cron period. Business goes on meanwhile (an order every few seconds, as users confirm them).
        last_due = max(row["next_attempt_at"] for row in _events(outage).values() if row["next_attempt_at"])
        now_db = db.query("SELECT now() at time zone 'UTC'")[0][0]
        deadline = time.monotonic() + max(0.0, (last_due - now_db).total_seconds()) + CRON_LATENCY
        wake_ups = 0
        while True:
            events = _events(outage)
            if all(row["state"] == "delivered" for row in events.values()):
                break
            assert (
                time.monotonic() < deadline
            ), f"not delivered after the recovery: {Counter(r['state'] for r in events.values())}"
            _confirm(outage, 1)
            wake_ups += 1
            time.sleep(WAKE_EVERY)
        all_delivered_at = time.monotonic()
    events = _events(outage)
    health_after = _outbox_health(outage)

    outage_events = {event_id: attempts for event_id, attempts in log.attempts.items() if attempts[0][3] != 200}
    failures = Counter(sum(1 for attempt in attempts if attempt[4] == "pending") for attempts in log.attempts.values())
    schedule = {
        event_id: problems for event_id, attempts in log.attempts.items() if (problems := _schedule_problems(attempts))
    }
    disorder, documents = _order_problems(outage, events)
    answers = Counter(status for _at, _event, status in receiver.arrivals)
    received = receiver.snapshot()
    first_delivery = min(
        (at for at, event_id, status in receiver.arrivals if status == 200 and event_id in outage_events),
        default=None,
    )
    report(
        f"receiver outage of {OUTAGE_SECONDS:.0f} s (503, then refused from {refused_from - started:.0f} s)",
        {
            "orders (wave 1 / released / wave 2 / after)": (
                f"{len(wave_a)} / {len(released)} / {len(wave_b)} / {wake_ups}"
            ),
            "events": len(events),
            "events by type": dict(Counter(row["type"] for row in events.values())),
            "events that met the outage": len(outage_events),
            "failed attempts per event: events": dict(sorted(failures.items())),
            "attempts at delivery: events": dict(sorted(Counter(row["attempts"] for row in events.values()).items())),
            "answers of the receiver": dict(answers),
            "requests dropped on kept-alive connections": receiver.dropped,
            "documents with several events": sum(1 for ids in documents.values() if len(ids) > 1),
            "documents out of order": len(disorder),
            "dead (of max attempts)": f"{len(dead_during)} ({MAX_ATTEMPTS})",
            "health before": health_before,
            "health during": health_during,
            "health after": health_after,
            "recovery to first retried delivery (s)": round(first_delivery - recovered_at, 1)
            if first_delivery
            else None,
            "recovery to all delivered (s)": round(all_delivered_at - recovered_at, 1),
            "lost": len(set(events) - set(received)),
        },
    )
    assert not log.errors, log.errors[:3]
    assert outage_events, "events met the outage (else it tested nothing)"
    assert answers[503], "some attempts were answered 503"
    assert any(
        attempt[3] == 0 and attempt[4] == "pending" for attempts in outage_events.values() for attempt in attempts
    ), "some attempts met a closed socket (no answer)"
    assert not schedule, f"the backoff schedule was not kept: {list(schedule.items())[:3]}"
    assert not dead_during, "no event goes dead within its retry budget"
    assert all(row["attempts"] <= MAX_ATTEMPTS for row in events.values())
    assert {row["state"] for row in events.values()} == {"delivered"}
    assert set(received) == set(events), "every event reached the receiver"
    assert not [e for e, n in received.items() if n > 1], "nothing delivered twice"
    assert not receiver.overlaps and receiver.bad_signatures == 0
    assert not disorder, f"events of a document delivered out of their order: {list(disorder.items())[:3]}"
    assert any(len(ids) > 1 for ids in documents.values()), "documents had several events (else order is untested)"
    assert all(level == "ok" for code, level in health_before[1].items() if code in OUTBOX_CHECKS)
    assert health_during[1]["outbox_retrying"] != "ok", health_during
    assert all(level == "ok" for code, level in health_after[1].items() if code in OUTBOX_CHECKS), health_after
    assert health_after[1]["workflow outbox_delivery"] == "ok", "retries are not failures of the delivery workflow"


def test_dead_letters_replayed_by_a_manager(outage):
    """Item 3, dead letters: a budget of one attempt (two at soak size), the receiver answering 503: the
    events go dead; the receiver back, a Distribution Manager replays them from the list and they arrive."""
    receiver, admin = outage["receiver"], outage["admin"]
    admin("distribution.outbound.endpoint", "write", [outage["endpoint"]], {"max_attempts": DEAD_LETTER_BUDGET})
    before = set(_events(outage))
    receiver.answer = 503
    started = time.monotonic()
    orders = _confirm(outage, 5)

    def dead_letters():
        new = {event_id: row for event_id, row in _events(outage).items() if event_id not in before}
        return new if new and all(row["state"] == "dead" for row in new.values()) else None

    # With a budget of two the second attempt comes 24 to 30 s later, at the next run of the cron.
    dead = wait_for("the new events dead", dead_letters, 30 + (30 + CRON_LATENCY) * (DEAD_LETTER_BUDGET - 1), 0.5)
    dead_after = time.monotonic() - started
    health_dead = _outbox_health(outage)
    receiver.answer = 200
    manager = Rpc(outage["server"].url, outage["db"].name, "outage.manager", "outage.manager")
    listed = manager(
        "distribution.outbound.event", "search", [("state", "=", "dead"), ("endpoint_id", "=", outage["endpoint"])]
    )
    replayed_at = time.monotonic()
    notification = manager("distribution.outbound.event", "action_replay", listed)
    wait_for(
        "the replayed events delivered",
        lambda: all(_events(outage)[event_id]["state"] == "delivered" for event_id in dead),
        CRON_LATENCY,
        0.5,
    )
    delivered_after = time.monotonic() - replayed_at
    events = _events(outage)
    health_after = _outbox_health(outage)
    admin("distribution.outbound.endpoint", "write", [outage["endpoint"]], {"max_attempts": MAX_ATTEMPTS})
    received = receiver.snapshot()
    report(
        f"dead letters (max attempts {DEAD_LETTER_BUDGET}), replayed by a Distribution Manager",
        {
            "orders": len(orders),
            "dead letters": len(dead),
            "attempts before dead": dict(Counter(row["attempts"] for row in dead.values())),
            "dead after (s)": round(dead_after, 1),
            "replay notification": notification.get("params", {}).get("message"),
            "replay to delivered (s)": round(delivered_after, 1),
            "attempts after replay": dict(Counter(events[e]["attempts"] for e in dead)),
            "health with dead letters": health_dead,
            "health after the replay": health_after,
            "lost": len(set(dead) - set(received)),
        },
    )
    assert sorted(listed) == sorted(row["id"] for row in dead.values()), "the manager's list shows the dead letters"
    assert all(row["attempts"] == DEAD_LETTER_BUDGET for row in dead.values())
    assert health_dead[1]["outbox_dead_letters"] != "ok", health_dead
    assert all(events[e]["state"] == "delivered" and events[e]["replays"] == 1 for e in dead)
    assert all(received[e] == 1 for e in dead), "each replayed event arrived once"
    assert health_after[1]["outbox_dead_letters"] == "ok", health_after
