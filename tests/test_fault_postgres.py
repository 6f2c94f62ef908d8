"""Fault harness (#16, item 6): PostgreSQL restarted under inbound load on the signed webhook.

One real Odoo server in prefork mode (two HTTP workers, one cron worker) on a throw-away copy of the test
database; a few senders post signed `carrier.status` events to POST /distribution/webhook/<code> without a
pause; then the local PostgreSQL cluster is restarted (`pg_ctlcluster <version> <name> restart`, as root).

What users (a sender such as n8n) rely on: a request during the restart fails cleanly, with an answer a
sender retries (503) or no answer at all (connection refused or reset), never a 500 with a traceback in its
body, never a 4xx that a sender would take as a final refusal; Odoo recovers by itself (the same server
process, no restart); every request answered 202 is stored (counted by event id), so that a sender that got
a 202 can forget it.

A restart cuts every database session of the machine, other test runs' included. So this test runs only
when asked: DISTRIBUTION_PG_RESTART_TEST=1 (`make soak` sets it; `make pg-restart` runs it alone), and the
suite's conftest.py puts it after every other test of a run. It skips, with its reason, where PostgreSQL
cannot be restarted from here (not root, no pg_ctlcluster, a remote server). It waits until PostgreSQL
accepts connections again before it ends. Figures are printed (run pytest with -s), never asserted on time.
"""

import os
import threading
import time
import uuid
from collections import Counter

import pytest
import requests

from .fault_harness import Database
from .fault_harness import OdooServer
from .fault_harness import PostgresCluster
from .fault_harness import server_config
from .fault_harness import wait_for
from .odoo_process import database_under_test
from .odoo_process import odoo_rc
from .rpc import Rpc
from .services import load_service

pytestmark = [pytest.mark.fault, pytest.mark.pg_restart]

signature = load_service("distribution_orchestration", "signature")

SOAK = bool(os.environ.get("SOAK_EVENTS"))
SENDERS = 3
WARM_UP_SECONDS = 5
# Load kept on after the first 202 that follows the restart: the server must stay well, not only answer once.
AFTER_SECONDS = 60 if SOAK else 10
RECOVERY_SECONDS = 120  # at most, from the end of the restart to a 202 again
CODE = "pg-restart"


@pytest.fixture(scope="module")
def webhook(tmp_path_factory):
    if os.environ.get("DISTRIBUTION_PG_RESTART_TEST") != "1":
        pytest.skip("restarts PostgreSQL (every session of the machine is cut): DISTRIBUTION_PG_RESTART_TEST=1")
    template = database_under_test()
    tmp = tmp_path_factory.mktemp("pg-restart")
    rc = server_config(odoo_rc(), tmp / "odoo.conf")
    db = Database(rc, template, f"{template}_pgrestart_{os.getpid()}")
    cluster = PostgresCluster(db.dsn)
    if cluster.why_not:
        pytest.skip(cluster.why_not)
    db.create()
    server = OdooServer("pg", rc, db.name, tmp)
    try:
        server.start()
        admin = Rpc(server.url, db.name)
        endpoint = admin(
            "distribution.inbound.endpoint",
            "create",
            {"name": "PostgreSQL restart", "code": CODE, "handler": "carrier_status"},
        )
        secret, company = (
            admin("distribution.inbound.endpoint", "read", [endpoint], ["secret", "company_id"])[0][key]
            for key in ("secret", "company_id")
        )
        yield {"db": db, "server": server, "cluster": cluster, "secret": secret, "company": company[1]}
    finally:
        server.stop()
        # Whatever happened, PostgreSQL must be back before the next test (or another session) needs it.
        wait_for("PostgreSQL accepting connections", cluster.accepts, 120, 0.5)
        db.drop()


def _send(hook, stop, answers, lock):
    """Post signed events until ``stop``; record (time.monotonic(), event id, status or error, body excerpt)."""
    session = requests.Session()
    url = f"{hook['server'].url}/distribution/webhook/{CODE}"
    sequence = 0
    while not stop.is_set():
        sequence += 1
        event_id = str(uuid.uuid4())
        now = time.time()
        occurred_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        data = {"tracking_ref": f"PG-{sequence:06d}", "status": "in_transit", "occurred_at": occurred_at}
        body = signature.envelope(event_id, "carrier.status", occurred_at, hook["company"], data)
        headers = {
            "Content-Type": "application/json",
            **signature.headers(hook["secret"], "carrier.status", event_id, int(now), body),
        }
        try:
            response = session.post(url, data=body, headers=headers, timeout=30)
            answer, text = response.status_code, response.text[:2000]
        except requests.RequestException as exc:
            answer, text = type(exc).__name__, str(exc)[:300]
            session.close()
            session = requests.Session()
            time.sleep(0.05)  # a refused connection answers at once: no busy loop
        with lock:
            answers.append((time.monotonic(), event_id, answer, text))


def test_postgres_restart_during_webhook_load(webhook):
    db, server, cluster = webhook["db"], webhook["server"], webhook["cluster"]
    master = server.proc.pid
    answers, lock, stop = [], threading.Lock(), threading.Event()
    senders = [threading.Thread(target=_send, args=(webhook, stop, answers, lock), daemon=True) for _ in range(SENDERS)]
    for sender in senders:
        sender.start()
    try:
        time.sleep(WARM_UP_SECONDS)
        restart_from = time.monotonic()
        restart_seconds = cluster.restart()
        restart_to = time.monotonic()

        def accepted_again():
            with lock:
                return next((at for at, _e, answer, _t in answers if at > restart_to and answer == 202), None)

        recovered_at = wait_for("a 202 after the restart", accepted_again, RECOVERY_SECONDS, 0.2)
        time.sleep(AFTER_SECONDS)
    finally:
        stop.set()
        for sender in senders:
            sender.join(timeout=60)
    wait_for("PostgreSQL accepting connections", cluster.accepts, 120, 0.5)

    accepted = [event_id for _at, event_id, answer, _t in answers if answer == 202]
    stored = {
        row[0]
        for row in db.query(
            "SELECT event.event_id FROM distribution_inbound_event event "
            "JOIN distribution_inbound_endpoint endpoint ON endpoint.id = event.endpoint_id "
            "WHERE endpoint.code = %s",
            [CODE],
        )
    }
    during = [(answer, text) for at, _e, answer, text in answers if restart_from <= at <= recovered_at]
    by_answer = Counter(answer for answer, _text in during)
    tracebacks = [text for answer, text in during if "Traceback" in text]
    not_clean = [
        (answer, text[:300]) for answer, text in during if isinstance(answer, int) and answer not in (202, 503)
    ]
    after = Counter(answer for at, _e, answer, _t in answers if at > recovered_at)
    lost = set(accepted) - stored
    first_503 = next((text for answer, text in during if answer == 503), "")
    print(
        "\n--- PostgreSQL restart under webhook load ---\n"
        f"  senders                               {SENDERS}\n"
        f"  requests (202 / all)                  {len(accepted)} / {len(answers)}\n"
        f"  restart (pg_ctlcluster) (s)           {restart_seconds:.1f}\n"
        f"  restart start to a 202 again (s)      {recovered_at - restart_from:.1f}\n"
        f"  restart end to a 202 again (s)        {recovered_at - restart_to:.1f}\n"
        f"  answers while recovering              {dict(by_answer)}\n"
        f"  answers after the recovery            {dict(after)}\n"
        f"  a 503's body                          {first_503[:200]!r}\n"
        f"  bodies with a traceback               {len(tracebacks)}\n"
        f"  same Odoo master, still running       {server.proc.pid == master and server.proc.poll() is None}\n"
        f"  accepted and stored / lost            {len(set(accepted) & stored)} / {len(lost)}\n"
        f"  stored without a 202 (answer lost)    {len(stored - set(accepted))}"
    )
    assert by_answer, "requests were sent while PostgreSQL restarted (else it tested nothing)"
    assert not tracebacks, tracebacks[:1]
    assert not not_clean, f"answers other than 202 or 503 while PostgreSQL restarted: {not_clean[:3]}"
    assert server.proc.poll() is None and server.proc.pid == master, "Odoo recovered by itself, not restarted"
    assert set(after) == {202}, f"every request answered 202 once recovered: {dict(after)}"
    assert not lost, f"answered 202 but not stored: {sorted(lost)[:5]}"
