"""Fault harness (#16, item 2, the scheduled jobs): kill -9 in the middle of a cron batch.

Two real Odoo servers in prefork mode (two HTTP workers and one cron worker each) on a throw-away copy of the
test database. Three batches of the suite's scheduled actions are prepared, each big enough to last seconds:
held orders whose stock has arrived (the held-order re-validation releases them), overdue approval tiers (the
escalation adds the head of sales) and alert rules that trip (the alert evaluation opens and notifies their
incidents). Each job is then made due; once a server's log says the job started, that server is killed with
SIGKILL (its whole process group) inside the batch, then restarted. The other server, or the restarted one,
runs the job again.

What users rely on: the killed batch left nothing half done (nothing of it committed) and nothing stuck; the
batch done again did everything once: every order released once (one picking, one order.released event),
every escalation once (one audit entry, one activity for the person escalated to, one approval.escalated
event; the audit chain still verifies), every incident opened and notified once. The figures are printed (run
pytest with -s to see them). Sizes: FAULT_CRON_ORDERS, FAULT_CRON_TIERS, FAULT_CRON_RULES.
"""

import os
import re
import secrets
import time
from collections import Counter

import pytest

from .fault_harness import Receiver
from .fault_harness import receiver_endpoint
from .fault_harness import report
from .fault_harness import servers_on_copy
from .fault_harness import wait_for
from .odoo_process import database_under_test
from .rpc import Rpc

pytestmark = pytest.mark.fault

ORDERS = int(os.environ.get("FAULT_CRON_ORDERS") or 60)
TIERS = int(os.environ.get("FAULT_CRON_TIERS") or 120)
RULES = int(os.environ.get("FAULT_CRON_RULES") or 80)
CHUNK = 20  # orders created, then confirmed, per JSON-RPC call
# How long after the job's start the server is killed: well inside a batch that lasts seconds.
KILL_AFTER = 0.3
RECOVER_SECONDS = 180
REF = "CRONKILL-"
CRONS = {
    "revalidate": "distribution_orchestration.ir_cron_distribution_revalidate_held_orders",
    "escalate": "distribution_approvals.ir_cron_distribution_approval_escalate",
    "alerts": "distribution_observability.ir_cron_distribution_alert_evaluate",
}
WORKFLOWS = ("hold_release", "order_validation", "approval_escalation", "alert_evaluation")


@pytest.fixture(scope="module")
def crons(tmp_path_factory):
    """Two servers on a copy of DISTRIBUTION_TEST_DB, a receiver of the outbox, and the three scheduled
    actions switched off (as an administrator would, in Settings > Scheduled Actions) while their work is
    prepared, so that each batch is whole when it starts."""
    tmp = tmp_path_factory.mktemp("cronkill")
    secret = secrets.token_urlsafe(24)
    with (
        servers_on_copy(database_under_test(), tmp, label="cronkill") as (db, servers),
        Receiver(secret, delay=0) as receiver,
    ):
        admin = Rpc(servers[0].url, db.name)
        receiver_endpoint(admin, receiver, "Cron kill receiver")
        ids = {key: admin.xmlid(xmlid) for key, xmlid in CRONS.items()}
        admin("ir.cron", "write", list(ids.values()), {"active": False})
        yield {"db": db, "servers": servers, "crons": ids, "receiver": receiver}


def _admin(crons):
    """The administrator's JSON-RPC session, on the first server where it runs now (a killed server comes
    back on another port)."""
    return Rpc(crons["servers"][0].url, crons["db"].name)


# -- the scheduler, as the clock and a log reader ------------------------------------------------------------
def _make_due(db, cron_id):
    """Switch the scheduled action on and make it due now: a trigger row and the notification the cron workers
    listen to, what ``ir.cron._trigger()`` writes (the test stands for the clock)."""
    db.execute("UPDATE ir_cron SET active = true WHERE id = %s", [cron_id])
    db.execute("INSERT INTO ir_cron_trigger (cron_id, call_at) VALUES (%s, now() at time zone 'UTC')", [cron_id])
    db.wake_crons()


def _job_lines(server, cron_id, since):
    """('starting' | 'done', pid, seconds) of the job's log lines written by ``server`` after offset ``since``
    (seconds: how long the job took, on its 'done' line)."""
    if not server.log.exists():
        return []
    text = server.log.read_text(errors="replace")[since.get(server.log, 0) :]
    pattern = re.compile(
        rf"^\S+ \S+ (\d+) INFO \S+ odoo\.addons\.base\.models\.ir_cron: "
        rf"Job '.*' \({cron_id}\) (starting|done in ([\d.]+)s)"
    )
    return [
        (match.group(2).split()[0], int(match.group(1)), float(match.group(3) or 0))
        for match in map(pattern.match, text.splitlines())
        if match
    ]


def _log_offsets(servers):
    return {server.log: len(server.log.read_text(errors="replace")) for server in servers if server.log.exists()}


def _running(servers, cron_id, since):
    """The server whose log says the job started and not that it ended, if any."""
    for server in servers:
        lines = _job_lines(server, cron_id, since)
        if lines and lines[-1][0] == "starting":
            return server
    return None


def _backends(db, server):
    """What the server's database sessions are doing: (state, seconds in transaction, statement)."""
    names = [f"odoo-{process.pid}" for process in server.processes()]
    return db.query(
        """SELECT state, round(extract(epoch FROM now() - xact_start)::numeric, 2), left(query, 90)
             FROM pg_stat_activity
            WHERE datname = %s AND application_name = ANY(%s) AND backend_xid IS NOT NULL""",
        [db.name, names],
    )


def _kill_mid_batch(crons, key, committed):
    """Make the job due, kill the server that runs it ``KILL_AFTER`` seconds into its batch, and answer the
    figures of the kill. ``committed()`` counts what the batch has committed: it must be 0 before and after."""
    db, servers = crons["db"], crons["servers"]
    cron_id = crons["crons"][key]
    since = _log_offsets(servers)
    before = committed()
    _make_due(db, cron_id)
    victim = wait_for(f"job {key} starting on a server", lambda: _running(servers, cron_id, since), 120, 0.02)
    time.sleep(KILL_AFTER)
    sessions = _backends(db, victim)
    still_running = _running([victim], cron_id, since) is victim
    victim.kill9()
    killed_at = time.monotonic()
    # The killed sessions end when PostgreSQL sees their socket close (at once when idle in transaction, at
    # the end of the statement when busy): then the batch is rolled back and its row locks free.
    wait_for(
        "the killed sessions gone",
        lambda: not db.query(
            "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND application_name = ANY(%s)",
            [db.name, [f"odoo-{pid}" for _, pid, _ in _job_lines(victim, cron_id, since)]],
        ),
        60,
    )
    after = committed()
    victim.start()
    return {
        "victim": victim,
        "killed_at": killed_at,
        "committed before / after the kill": f"{before} / {after}",
        "still running at the kill": still_running,
        "its sessions at the kill": sessions,
        "since": since,
        "before": before,
        "after": after,
    }


def _recover(crons, key, complete, kill):
    """Wait until ``complete()``; the job is still due (its trigger survives the rollback), a notification
    every few seconds wakes whichever cron worker is free. Answers who ran it and how long it took."""
    db, servers = crons["db"], crons["servers"]
    cron_id = crons["crons"][key]
    deadline = time.monotonic() + RECOVER_SECONDS
    while not complete():
        assert time.monotonic() < deadline, f"job {key} not done again within {RECOVER_SECONDS} s of the kill"
        db.wake_crons()
        time.sleep(1)
    runs = {
        server.name: [line for line in _job_lines(server, cron_id, kill["since"]) if line[0] == "done"]
        for server in servers
    }
    return {
        "kill to done again (s)": round(time.monotonic() - kill["killed_at"], 1),
        "done by (server: runs)": {name: len(lines) for name, lines in runs.items() if lines},
        "the batch done again took (s)": [seconds for lines in runs.values() for *_, seconds in lines],
    }


def _running_runs(db):
    """Runs of the jobs' workflows left 'running' (the log of a unit of work that never ended)."""
    return db.query(
        """SELECT workflow.code, count(*) FROM distribution_workflow_run run
             JOIN distribution_workflow workflow ON workflow.id = run.workflow_id
            WHERE run.state = 'running' AND workflow.code = ANY(%s) GROUP BY 1""",
        [list(WORKFLOWS)],
    )


def _confirm_orders(admin, prefix, count, partner, line):
    """``count`` orders of one ``line`` for ``partner``, referenced ``prefix`` and a number, created then
    confirmed CHUNK at a time, as a salesperson's client would."""
    for start in range(0, count, CHUNK):
        numbers = range(start, min(start + CHUNK, count))
        vals = [
            {"partner_id": partner, "client_order_ref": f"{prefix}{number}", "order_line": [(0, 0, dict(line))]}
            for number in numbers
        ]
        admin("sale.order", "action_confirm", admin("sale.order", "create", vals))


def _assert_killed_mid_batch(kill, total):
    assert kill["still running at the kill"], "the kill came after the batch ended"
    assert (
        kill["before"] == 0 and kill["after"] == 0
    ), f"the killed batch committed nothing of its {total} items (before {kill['before']}, after {kill['after']})"


def _assert_clean_logs(crons):
    ours = [record for server in crons["servers"] for record in server.log_problems()[0]]
    assert not ours, ours[:3]


# -- the tests ---------------------------------------------------------------------------------------------------
def test_kill9_during_held_order_revalidation(crons):
    """Held orders whose stock arrived: the re-validation's batch is killed, done again, and releases each
    order once."""
    db, admin = crons["db"], _admin(crons)
    partner = admin("res.partner", "search", [("name", "=", "Azure Interior")], limit=1)[0]
    product = admin("product.product", "create", {"name": "Cron kill widget", "type": "consu", "is_storable": True})
    _confirm_orders(admin, f"{REF}H", ORDERS, partner, {"product_id": product, "product_uom_qty": 1})

    def states():
        rows = db.query(
            "SELECT state, distribution_validation_state, count(*) FROM sale_order WHERE client_order_ref LIKE %s "
            "GROUP BY 1, 2",
            [f"{REF}H%"],
        )
        return Counter({(state, validation): count for state, validation, count in rows})

    assert states() == Counter({("draft", "on_hold"): ORDERS}), "every order waits for its stock"
    # The stock arrives (Inventory > Update Quantity).
    template = admin("product.product", "read", [product], ["product_tmpl_id"])[0]["product_tmpl_id"][0]
    wizard = admin(
        "stock.change.product.qty",
        "create",
        {"product_id": product, "product_tmpl_id": template, "new_quantity": ORDERS * 2},
    )
    admin("stock.change.product.qty", "change_product_qty", [wizard])

    def released():
        return sum(count for (state, _), count in states().items() if state == "sale")

    kill = _kill_mid_batch(crons, "revalidate", released)
    recovery = _recover(crons, "revalidate", lambda: released() == ORDERS, kill)
    pickings = db.query(
        """SELECT count(picking.id) FROM sale_order
        LEFT JOIN stock_picking picking ON picking.sale_id = sale_order.id
            WHERE sale_order.client_order_ref LIKE %s GROUP BY sale_order.id""",
        [f"{REF}H%"],
    )
    events = db.query(
        """SELECT event.event_type, count(*) FROM distribution_outbound_event event
             JOIN sale_order ON sale_order.id = event.res_id AND event.res_model = 'sale.order'
            WHERE sale_order.client_order_ref LIKE %s GROUP BY event.res_id, event.event_type""",
        [f"{REF}H%"],
    )
    exceptions = db.query(
        """SELECT exc.source_key, count(*), count(*) FILTER (WHERE exc.state NOT IN ('resolved', 'dismissed'))
             FROM distribution_exception exc
             JOIN sale_order ON sale_order.id = exc.res_id AND exc.res_model = 'sale.order'
            WHERE sale_order.client_order_ref LIKE %s GROUP BY exc.res_id, exc.source_key""",
        [f"{REF}H%"],
    )
    report(
        "kill -9 inside the held-order re-validation",
        {
            "orders held, then stock arrived": ORDERS,
            "killed": f"server {kill['victim'].name}, {KILL_AFTER} s into the batch",
            **{k: v for k, v in kill.items() if k in ("committed before / after the kill", "its sessions at the kill")},
            **recovery,
            "orders by state": dict(states()),
            "pickings per order": dict(Counter(count for (count,) in pickings)),
            "events per order and type": dict(Counter((kind, count) for kind, count in events)),
            "exceptions per order and source": dict(Counter(count for _, count, _ in exceptions)),
            "runs left running": _running_runs(db),
        },
    )
    _assert_killed_mid_batch(kill, ORDERS)
    assert released() == ORDERS, f"every order released: {states()}"
    assert [count for (count,) in pickings] == [1] * ORDERS, "one delivery per order: none released twice"
    per_type = Counter()
    for kind, count in events:
        assert count == 1, f"an order's {kind} emitted {count} times"
        per_type[kind] += 1
    assert per_type["order.released"] == ORDERS, per_type
    assert exceptions and all(count == 1 for _, count, _ in exceptions), "one exception per order and source"
    assert not any(still_open for *_, still_open in exceptions), "the holds are resolved by the release"
    assert not _running_runs(db)
    _assert_clean_logs(crons)


def test_kill9_during_escalation(crons):
    """Overdue approval tiers: the escalation's batch is killed, done again, and escalates each tier once."""
    db, admin = crons["db"], _admin(crons)
    partner = admin.xmlid("base.res_partner_12")  # a key account: the demo matrix's two-second SLA
    product = admin.xmlid("product.product_product_16")
    head_of_sales = admin.xmlid("distribution_approvals.user_demo_head_of_sales")
    line = {"product_id": product, "product_uom_qty": 20, "discount": 22.0}
    _confirm_orders(admin, f"{REF}E", TIERS, partner, line)
    requests_ = [
        row[0]
        for row in db.query(
            """SELECT request.id FROM distribution_approval_request request
                 JOIN sale_order ON sale_order.id = request.res_id AND request.res_model = 'sale.order'
                WHERE sale_order.client_order_ref LIKE %s AND request.state = 'pending'""",
            [f"{REF}E%"],
        )
    ]
    assert len(requests_) == TIERS, "each order asks for the approval of its discount"
    # Past the tier's SLA (0.0005 h), every tier is due.
    wait_for(
        "every tier overdue",
        lambda: db.query(
            """SELECT count(*) = %s FROM distribution_approval_request_tier
                WHERE request_id = ANY(%s) AND next_escalation_at <= now() at time zone 'UTC'""",
            [TIERS, requests_],
        )[0][0],
        30,
    )

    def escalated():
        return db.query(
            "SELECT count(*) FROM distribution_approval_request_tier WHERE request_id = ANY(%s) "
            "AND escalation_level >= 1",
            [requests_],
        )[0][0]

    kill = _kill_mid_batch(crons, "escalate", escalated)
    recovery = _recover(crons, "escalate", lambda: escalated() == TIERS, kill)
    audit = db.query(
        "SELECT res_id, count(*) FROM distribution_audit_entry WHERE action = 'escalated' "
        "AND res_model = 'distribution.approval.request' AND res_id = ANY(%s) GROUP BY 1",
        [requests_],
    )
    activities = db.query(
        "SELECT res_id, count(*) FROM mail_activity WHERE res_model = 'distribution.approval.request' "
        "AND res_id = ANY(%s) AND user_id = %s GROUP BY 1",
        [requests_, head_of_sales],
    )
    events = db.query(
        "SELECT res_id, count(*) FROM distribution_outbound_event WHERE event_type = 'approval.escalated' "
        "AND res_model = 'distribution.approval.request' AND res_id = ANY(%s) GROUP BY 1",
        [requests_],
    )
    verified = _admin(crons)("distribution.audit.entry", "action_verify_integrity", [])
    report(
        "kill -9 inside the approval escalation",
        {
            "overdue tiers": TIERS,
            "killed": f"server {kill['victim'].name}, {KILL_AFTER} s into the batch",
            **{k: v for k, v in kill.items() if k in ("committed before / after the kill", "its sessions at the kill")},
            **recovery,
            "audit entries per request": dict(Counter(count for _, count in audit)),
            "activities of the head of sales per request": dict(Counter(count for _, count in activities)),
            "approval.escalated events per request": dict(Counter(count for _, count in events)),
            "audit trail": verified["params"]["title"],
            "runs left running": _running_runs(db),
        },
    )
    _assert_killed_mid_batch(kill, TIERS)
    assert sorted(count for _, count in audit) == [1] * TIERS, "one audit entry per escalation: none done twice"
    assert sorted(count for _, count in activities) == [1] * TIERS, "one activity per person escalated to"
    assert sorted(count for _, count in events) == [1] * TIERS, "one approval.escalated event per escalation"
    assert verified["params"]["type"] != "danger", verified["params"]
    assert not _running_runs(db)
    _assert_clean_logs(crons)


def test_kill9_during_alert_evaluation(crons):
    """Alert rules that trip: the evaluation's batch is killed, done again, and opens and notifies each
    incident once."""
    db, admin = crons["db"], _admin(crons)
    queue = admin.xmlid("distribution_orchestration.distribution_queue_monitor_outbox_pending")
    admin_id = admin.xmlid("base.user_admin")
    channel = admin("discuss.channel", "create", {"name": "Cron kill alerts"})
    # A threshold of 0 trips on any backlog, an empty one included (a breach is value >= threshold).
    rules = admin(
        "distribution.alert.rule",
        "create",
        [
            {
                "name": f"Cron kill rule {number:03}",
                "metric": "queue_backlog",
                "queue_id": queue,
                "threshold": 0,
                "owner_id": admin_id,
                "channel_id": channel,
            }
            for number in range(RULES)
        ],
    )

    def opened():
        return db.query(
            "SELECT count(*) FROM distribution_alert_incident WHERE rule_id = ANY(%s)",
            [rules],
        )[0][0]

    kill = _kill_mid_batch(crons, "alerts", opened)
    recovery = _recover(crons, "alerts", lambda: opened() >= RULES, kill)
    incidents = db.query(
        "SELECT rule_id, count(*), min(id) FROM distribution_alert_incident WHERE rule_id = ANY(%s) GROUP BY 1",
        [rules],
    )
    incident_ids = [first for *_, first in incidents]
    activities = db.query(
        "SELECT res_id, count(*) FROM mail_activity WHERE res_model = 'distribution.alert.incident' "
        "AND res_id = ANY(%s) GROUP BY 1",
        [incident_ids],
    )
    # The incident's own post and the channel's, each naming the rule (the creation's tracking message aside).
    posts = db.query(
        """SELECT rule.id,
                  count(message.id) FILTER (WHERE message.model = 'distribution.alert.incident'),
                  count(message.id) FILTER (WHERE message.model = 'discuss.channel' AND message.res_id = %s)
             FROM distribution_alert_rule rule
        LEFT JOIN mail_message message ON message.body LIKE '%%<b>' || (rule.name ->> 'en_US') || '</b>%%'
            WHERE rule.id = ANY(%s) GROUP BY 1""",
        [channel, rules],
    )
    report(
        "kill -9 inside the alert evaluation",
        {
            "tripping rules": RULES,
            "killed": f"server {kill['victim'].name}, {KILL_AFTER} s into the batch",
            **{k: v for k, v in kill.items() if k in ("committed before / after the kill", "its sessions at the kill")},
            **recovery,
            "incidents per rule": dict(Counter(count for _, count, _ in incidents)),
            "owner activities per incident": dict(Counter(count for _, count in activities)),
            "posts per incident (incident / channel)": dict(Counter((own, chat) for _, own, chat in posts)),
            "runs left running": _running_runs(db),
        },
    )
    _assert_killed_mid_batch(kill, RULES)
    assert sorted(count for _, count, _ in incidents) == [1] * RULES, "one incident per rule: none opened twice"
    assert sorted(count for _, count in activities) == [1] * RULES, "one activity for the owner per incident"
    assert sorted((own, chat) for _, own, chat in posts) == [(1, 1)] * RULES, "one post per incident and channel"
    assert not _running_runs(db)
    _assert_clean_logs(crons)
