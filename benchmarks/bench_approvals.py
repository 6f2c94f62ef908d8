"""Benchmark of distribution_approvals: the queries of a request's life, and the escalation job at scale.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_approvals.py [--db bench_apr] [--sizes 100,1000,10000] [--batch 500]
                                                   [--repeats 5] [--notification email] [--fresh] [--no-update]

The script works on its own database (``bench_apr`` by default): it creates it and installs the addon without
demo data when missing (``--fresh`` drops and recreates it), updates the addon otherwise (``--no-update`` skips
that). Section 1 commits nothing: its users, rules, documents and requests are rolled back. Section 2 commits,
as the scheduler commits each call of the job: its users, rule, endpoint and requests, and what the job writes
(notes, activities, e-mails, audit entries, events, runs), are removed at the end (rows above watermarks taken
before it starts, then its users, rule and endpoint); the watermarks are saved first, so that the data of an
interrupted run is removed at the next start.

What it prints, each figure next to its baseline measured in the same run:

1. A request's life. ``_request()`` as the requester (a salesperson) and ``_decide("approve")`` as the first
   approver, with mail tracking on, ``--repeats`` times on fresh documents with an empty record cache (after a
   warm-up): queries (``cr.sql_log_count`` of the call, ``env.flush_all()`` and the commit hooks, the same
   scope as tests/test_query_counts.py), median ms. Rows: a contact as the document (no document context) with
   a tier of 1 and of 3 approvers (the difference is the cost of one more approver: an activity and its
   assignment notification), and a sales order (the customer's receivables, revenue and payment delay are read
   for the context snapshot) with 3 approvers.
2. The escalation job over N pending requests (``--sizes``) whose only tier is past its SLA, one escalation
   level due each (to one "head of sales", notified by ``--notification``, Odoo's default for new users being
   e-mail). The requests and tiers are inserted in SQL (``generate_series``), then ANALYZEd. "batched" is
   ``_cron_escalate(batch_size=--batch)`` called until it returns 0, each call committed with an empty record
   cache, as the scheduler runs it; "naive" is the baseline: one ``search()`` of the overdue tiers, then one tier
   after the other with ORM writes, ``message_post()``, ``_schedule_activities()``, ``_audit()`` and
   ``request._emit()``, all in one transaction (what the job would be without its batches, batched reads,
   batched notes and batched events); it is rolled back. Both do the same work (a level per tier: approver
   added, activity, note, audit entry, outbox event), checked after each run. Columns: total seconds, ms and
   queries per request, the spread of ms per request over the calls, peak Python memory (``tracemalloc``; for
   "batched" one call of ``--batch`` tiers, run apart and rolled back; for "naive", a second run of the whole
   job, traced, at the sizes up to ``--naive-trace-max``), and the flatness: ms and queries per request at the
   largest size divided by those at the smallest (1.00 = flat).

Timings depend on the machine: compare the columns of one run, not runs of different machines. Speed is never
asserted: the script prints figures.
"""

import argparse
import contextlib
import json
import statistics
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

from benchlib import fmt
from benchlib import prepare_database
from benchlib import print_table
from benchlib import record
from benchlib import say

import odoo
from odoo import SUPERUSER_ID
from odoo import Command
from odoo import api
from odoo import fields
from odoo.modules.registry import Registry
from odoo.tools import SQL
from odoo.tools import config

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONF = REPO / ".local" / "odoo-local.conf"
MODULE = "distribution_approvals"
APPROVER_GROUP = "distribution_approvals.group_distribution_approver"
DISTRIBUTION_USER_GROUP = "distribution_observability.group_distribution_user"
SLA_HOURS = 4
LEFTOVERS_PARAM = "bench_approvals.leftovers"
# Tables section 2 writes to (besides its users, rule, endpoint and documents), emptied above the watermarks
# taken before it starts: between the measures and at the end.
PURGED_TABLES = [
    "mail_activity",
    "mail_mail",
    "mail_message",
    "mail_followers",
    "bus_bus",
    "distribution_audit_entry",
    "distribution_outbound_event",
    "distribution_workflow_run",
    "ir_cron_trigger",
    "distribution_approval_request",
]
ANALYZED_TABLES = [
    "distribution_approval_request",
    "distribution_approval_request_tier",
    "distribution_approval_request_tier_res_users_rel",
    "distribution_audit_entry",
    "distribution_outbound_event",
    "mail_activity",
    "mail_message",
]


# -- data -----------------------------------------------------------------------------------------------
class Data:
    """A requester, three approvers, a head of sales (the escalation target), a customer with a product,
    an outbox endpoint subscribed to the approval events; rules are made per scenario."""

    def __init__(self, env, notification):
        self.env = env
        self.company = env.company

        def user(login, name, groups):
            return env["res.users"].create(
                {
                    "name": name,
                    "login": login,
                    "notification_type": notification,
                    "email": f"{login}@example.com",
                    "groups_id": [Command.set([env.ref(g).id for g in groups])],
                }
            )

        self.requester = user("bench_apr_requester", "Bench requester", ["sales_team.group_sale_salesman"])
        self.approvers = [
            user(f"bench_apr_approver_{i}", f"Bench approver {i}", [APPROVER_GROUP, "sales_team.group_sale_salesman"])
            for i in range(1, 4)
        ]
        self.head = user("bench_apr_head", "Bench head of sales", [DISTRIBUTION_USER_GROUP])
        self.customer = env["res.partner"].create({"name": "Bench approval customer"})
        self.product = env["product.product"].create(
            {
                "name": "Bench approval item",
                "type": "consu",
                "list_price": 100.0,
                "standard_price": 60.0,
                "taxes_id": [Command.clear()],
            }
        )
        self.endpoint = env["distribution.outbound.endpoint"].create(
            {
                "name": "Bench approval events",
                "url": "http://127.0.0.1:9/bench",
                "event_types": "approval.*",
            }
        )
        env.flush_all()
        env.cr.flush()

    @property
    def users(self):
        return self.requester.union(*self.approvers, self.head)

    def rule(self, approvers, escalate_to=None, name="Bench rule"):
        """A rule of type 'discount' before the others: one tier of ``approvers`` (users), SLA 4 h,
        escalating to ``escalate_to`` as soon as it is overdue."""
        users = self.env["res.users"].union(*approvers)
        levels = [Command.create({"delay_hours": 0, "user_id": escalate_to.id})] if escalate_to else []
        rule = self.env["distribution.approval.rule"].create(
            {
                "name": name,
                "request_type": "discount",
                "sequence": -1000,
                "tier_ids": [
                    Command.create(
                        {
                            "name": "Bench tier",
                            "approver_type": "user",
                            "user_ids": [Command.set(users.ids)],
                            "sla_hours": SLA_HOURS,
                            "escalation_ids": levels,
                        }
                    )
                ],
            }
        )
        self.env.flush_all()
        return rule

    def partner_document(self):
        return self.env["res.partner"].create({"name": "Bench document"})

    def order_document(self):
        return (
            self.env["sale.order"]
            .with_user(self.requester)
            .create(
                {
                    "partner_id": self.customer.id,
                    "order_line": [Command.create({"product_id": self.product.id, "product_uom_qty": 1})],
                }
            )
        )


def commit_hooks(env):
    env.flush_all()
    env.cr.flush()  # what the commit would run first: mail tracking


def analyze(env):
    for table in ANALYZED_TABLES:
        env.cr.execute(SQL("ANALYZE %s", SQL.identifier(table)))


# -- 1. a request's life --------------------------------------------------------------------------------
def request_life(data, make_document, repeats):
    env = data.env
    Request = env["distribution.approval.request"].with_context(tracking_disable=False)
    creates, decides, create_ms, decide_ms = [], [], [], []
    for index in range(repeats + 1):  # the first one is a warm-up
        document = make_document()
        commit_hooks(env)
        env.invalidate_all()
        before, started = env.cr.sql_log_count, time.perf_counter()
        request = Request.with_user(data.requester)._request(document, "discount", amount=1000.0)
        commit_hooks(env)
        elapsed, queries = time.perf_counter() - started, env.cr.sql_log_count - before
        if request.state != "pending":
            raise RuntimeError(f"request {request.name} is {request.state}, not pending")
        env.invalidate_all()
        before, started = env.cr.sql_log_count, time.perf_counter()
        request.with_user(data.approvers[0])._decide("approve", "Bench")
        commit_hooks(env)
        if index:
            creates.append(queries)
            create_ms.append(elapsed * 1000)
            decides.append(env.cr.sql_log_count - before)
            decide_ms.append((time.perf_counter() - started) * 1000)
        if request.state != "approved":
            raise RuntimeError(f"request {request.name} is {request.state}, not approved")
    return creates, create_ms, decides, decide_ms


def spread(values):
    return f"{min(values)}" if min(values) == max(values) else f"{min(values)}-{max(values)}"


def bench_request_life(data, repeats):
    say(
        f"\n== 1. A request's life: _request() as the requester, _decide('approve') as an approver ({repeats} "
        "times each on fresh documents, empty record cache, mail tracking and commit hooks included) =="
    )
    scenarios = [
        ("contact, 1 approver", data.partner_document, data.approvers[:1]),
        ("contact, 3 approvers", data.partner_document, data.approvers),
        ("sales order, 3 approvers", data.order_document, data.approvers),
    ]
    rows = []
    for label, make_document, approvers in scenarios:
        with contextlib.closing(data.env.cr.savepoint()):
            data.env["distribution.approval.rule"].search([("request_type", "=", "discount")]).active = False
            data.rule(approvers)
            creates, create_ms, decides, decide_ms = request_life(data, make_document, repeats)
        data.env.invalidate_all()
        rows.append(
            [
                label,
                spread(creates),
                fmt(statistics.median(create_ms), 1),
                spread(decides),
                fmt(statistics.median(decide_ms), 1),
            ]
        )
    print_table(
        ["document, tier", "create: queries", "create: median ms", "approve: queries", "approve: median ms"], rows
    )
    say("(tests/test_query_counts.py bounds the same two calls, for a tier of a group of three approvers.)")


# -- 2. escalation --------------------------------------------------------------------------------------
def insert_overdue_requests(data, rule, count, now):
    """``count`` pending requests of ``rule``, their only tier pending, overdue since an hour, in SQL."""
    env = data.env
    tier = rule.tier_ids
    started = now - timedelta(hours=SLA_HOURS + 1)
    deadline = now - timedelta(hours=1)
    document = data.customer
    env.cr.execute(
        SQL(
            """
        INSERT INTO distribution_approval_request
               (name, request_type, rule_id, company_id, amount, res_model, res_id, res_name, requested_by_id,
                state, auto_approved, create_uid, write_uid, create_date, write_date)
        SELECT 'BENCH/' || lpad(g::text, 6, '0'), 'discount', %(rule)s, %(company)s, 1000.0, 'res.partner',
               %(res_id)s, %(res_name)s, %(requester)s, 'pending', false, %(uid)s, %(uid)s, %(started)s, %(started)s
          FROM generate_series(1, %(count)s) g
     RETURNING id
        """,
            rule=rule.id,
            company=data.company.id,
            res_id=document.id,
            res_name=document.name,
            requester=data.requester.id,
            uid=SUPERUSER_ID,
            started=started,
            count=count,
        )
    )
    request_ids = [row[0] for row in env.cr.fetchall()]
    env.cr.execute(
        SQL(
            """
        INSERT INTO distribution_approval_request_tier
               (request_id, company_id, tier_id, sequence, name, min_approvals, sla_hours, state, started_at,
                deadline, escalation_level, next_escalation_at, create_uid, write_uid, create_date, write_date)
        SELECT request.id, %(company)s, %(tier)s, 1, %(name)s, 1, %(sla)s, 'pending', %(started)s,
               %(deadline)s, 0, %(deadline)s, %(uid)s, %(uid)s, %(started)s, %(started)s
          FROM unnest(%(ids)s) AS request(id)
     RETURNING id
        """,
            company=data.company.id,
            tier=tier.id,
            name=tier.name,
            sla=SLA_HOURS,
            started=started,
            deadline=deadline,
            uid=SUPERUSER_ID,
            ids=request_ids,
        )
    )
    tier_ids = [row[0] for row in env.cr.fetchall()]
    env.cr.execute(
        SQL(
            """
        UPDATE distribution_approval_request request SET current_tier_id = tier.id
          FROM distribution_approval_request_tier tier
         WHERE tier.request_id = request.id AND tier.id = ANY(%s)
        """,
            tier_ids,
        )
    )
    env.cr.execute(
        SQL(
            """
        INSERT INTO distribution_approval_request_tier_res_users_rel
               (distribution_approval_request_tier_id, res_users_id)
        SELECT id, %s FROM unnest(%s) AS tier(id)
        """,
            data.approvers[0].id,
            tier_ids,
        )
    )
    env.invalidate_all()
    analyze(env)
    return request_ids, tier_ids


def escalation_outcome(env, request_ids, tier_ids, head):
    """(tiers escalated to level 1 with the head among their approvers, audit entries, outbox events,
    activities of the head, escalation notes) for these requests."""
    env.flush_all()
    env.cr.execute(
        SQL(
            """
        SELECT (SELECT count(*) FROM distribution_approval_request_tier tier
                  JOIN distribution_approval_request_tier_res_users_rel rel
                    ON rel.distribution_approval_request_tier_id = tier.id AND rel.res_users_id = %(head)s
                 WHERE tier.id = ANY(%(tiers)s) AND tier.escalation_level = 1 AND tier.next_escalation_at IS NULL),
               (SELECT count(*) FROM distribution_audit_entry
                 WHERE action = 'escalated' AND res_model = 'distribution.approval.request'
                   AND res_id = ANY(%(requests)s)),
               (SELECT count(*) FROM distribution_outbound_event
                 WHERE event_type = 'approval.escalated' AND res_id = ANY(%(requests)s)),
               (SELECT count(*) FROM mail_activity
                 WHERE res_model = 'distribution.approval.request' AND res_id = ANY(%(requests)s)
                   AND user_id = %(head)s),
               (SELECT count(*) FROM mail_message
                 WHERE model = 'distribution.approval.request' AND res_id = ANY(%(requests)s)
                   AND body::text LIKE %(note)s)
        """,
            head=head.id,
            tiers=tier_ids,
            requests=request_ids,
            note="%Escalation level%",
        )
    )
    return env.cr.fetchone()


def run_batched(env, batch):
    """The scheduled action's code, called until nothing is due, each call committed as the scheduler
    commits it (a new transaction, an empty record cache): a dict of figures per call."""
    Tier = env["distribution.approval.request.tier"]
    calls = []
    while True:
        env.invalidate_all()
        before, started = env.cr.sql_log_count, time.perf_counter()
        done = Tier._cron_escalate(batch_size=batch)
        commit_hooks(env)
        seconds = time.perf_counter() - started
        env.cr.commit()
        if not done:
            return calls
        calls.append({"done": done, "seconds": seconds, "queries": env.cr.sql_log_count - before})


def trace_batch(env, batch):
    """Peak Python memory of one call of the scheduled action's code (the first batch), rolled back."""
    env.invalidate_all()
    tracemalloc.start()
    try:
        env["distribution.approval.request.tier"]._cron_escalate(batch_size=batch)
        commit_hooks(env)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        env.cr.rollback()


def run_naive(env, now, trace=False):
    """The baseline: every overdue tier escalated one by one with plain ORM calls, in one transaction
    (rolled back by the caller)."""
    # Imported here: odoo.addons knows the repository's addons once the configuration is parsed.
    from odoo.addons.distribution_approvals.services import approval

    env.invalidate_all()
    if trace:
        tracemalloc.start()
    before, started = env.cr.sql_log_count, time.perf_counter()
    Tier = env["distribution.approval.request.tier"]
    tiers = Tier.search(
        [("state", "=", "pending"), ("request_id.state", "=", "pending"), ("next_escalation_at", "<=", now)]
    )
    for tier in tiers:
        levels = tier.tier_id.escalation_ids.sorted("delay_hours")
        delays = levels.mapped("delay_hours")
        request = tier.request_id
        for level in approval.levels_due(tier.deadline, delays, tier.escalation_level, now):
            target = levels[level - 1].user_id
            tier.write({"approver_ids": [Command.link(target.id)]})
            request.message_post(body=tier._escalation_note(level, target, "added"), subtype_xmlid="mail.mt_note")
            tier._schedule_activities(target)
            request._audit("escalated", {"tier": tier.name, "level": level, "escalated_to": target.login})
            request._emit("approval.escalated")
            tier.write(
                {
                    "escalation_level": level,
                    "next_escalation_at": approval.next_escalation_at(tier.deadline, delays, level),
                }
            )
    commit_hooks(env)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    if trace:
        tracemalloc.stop()
    return {"done": len(tiers), "seconds": seconds, "queries": env.cr.sql_log_count - before, "peak": peak}


# -- committed data of section 2 and its removal ---------------------------------------------------------
def watermarks(env):
    marks = {}
    for table in PURGED_TABLES:
        env.cr.execute(SQL("SELECT coalesce(max(id), 0) FROM %s", SQL.identifier(table)))
        marks[table] = env.cr.fetchone()[0]
    return marks


def purge(env, marks):
    """Delete the rows written since ``marks`` (the requests, their tiers, notes, activities, e-mails, audit
    entries, events, runs and scheduler triggers). The audit entries removed are the end of each chain:
    the chains stay whole."""
    env.flush_all()
    for table in PURGED_TABLES:
        env.cr.execute(SQL("DELETE FROM %s WHERE id > %s", SQL.identifier(table), marks[table]))
    # The companies' chain heads follow back to the entries left (verification compares them).
    env.cr.execute(
        SQL("""
        UPDATE res_company c
           SET distribution_audit_head_sequence = coalesce(last.sequence, 0), distribution_audit_head_hash = last.hash
          FROM res_company c2
     LEFT JOIN LATERAL (SELECT sequence, hash FROM distribution_audit_entry e
                         WHERE e.company_id = c2.id ORDER BY sequence DESC LIMIT 1) last ON TRUE
         WHERE c.id = c2.id""")
    )
    env.invalidate_all()


def teardown(env, saved):
    """Remove everything section 2 committed: its rows, then its users, rule, endpoint and documents."""
    purge(env, saved["marks"])
    records = saved["records"]
    env["distribution.approval.rule"].browse(records["rules"]).exists().unlink()
    env["distribution.outbound.endpoint"].browse(records["endpoints"]).exists().unlink()
    env["product.product"].browse(records["products"]).exists().product_tmpl_id.unlink()
    users = env["res.users"].browse(records["users"]).exists()
    partners = users.partner_id | env["res.partner"].browse(records["partners"]).exists()
    users.unlink()
    partners.unlink()
    purge(env, saved["marks"])  # what the removal itself logged
    env["ir.config_parameter"].search([("key", "=", LEFTOVERS_PARAM)]).unlink()
    env.cr.commit()


def remove_leftovers(env):
    """The committed data of an interrupted run, removed before anything else."""
    value = env["ir.config_parameter"].get_param(LEFTOVERS_PARAM)
    if value:
        say("Removing the committed data of an interrupted run.")
        teardown(env, json.loads(value))


def bench_escalation(registry, notification, sizes, batch, naive_trace_max):
    say(
        f"\n== 2. Escalation job over N pending requests past their SLA (one level due each; batches of {batch}, "
        "each committed) =="
    )
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        remove_leftovers(env)
        marks = watermarks(env)
        data = Data(env, notification)
        rule = data.rule(data.approvers[:1], escalate_to=data.head, name="Bench escalation rule")
        saved = {
            "marks": marks,
            "records": {
                "rules": rule.ids,
                "endpoints": data.endpoint.ids,
                "products": data.product.ids,
                "users": data.users.ids,
                "partners": data.customer.ids,
            },
        }
        # Written first and committed with the data: an interrupted run is cleaned at the next start.
        env["ir.config_parameter"].set_param(LEFTOVERS_PARAM, json.dumps(saved))
        env.cr.commit()
        try:
            results, checks = measure_escalation(data, rule, sizes, batch, naive_trace_max, marks)
        finally:
            env.cr.rollback()
            teardown(env, saved)
    print_escalation(results, checks, sizes, batch, naive_trace_max)


def measure_escalation(data, rule, sizes, batch, naive_trace_max, marks):
    env = data.env
    now = fields.Datetime.now()
    # Warm-up of both paths.
    insert_overdue_requests(data, rule, 20, now)
    env.cr.commit()
    run_naive(env, now)
    env.cr.rollback()
    run_batched(env, batch)
    purge(env, marks)
    env.cr.commit()
    results, checks = {}, []
    for size in sizes:
        started = time.perf_counter()
        request_ids, tier_ids = insert_overdue_requests(data, rule, size, now)
        env.cr.commit()
        say(f"  inserted {size:,} pending requests with an overdue tier in {time.perf_counter() - started:.1f} s")
        batch_peak = trace_batch(env, batch)
        calls = run_batched(env, batch)
        checks.append((size, "batched", escalation_outcome(env, request_ids, tier_ids, data.head)))
        purge(env, marks)
        env.cr.commit()

        request_ids, tier_ids = insert_overdue_requests(data, rule, size, now)
        env.cr.commit()
        naive = run_naive(env, now)
        checks.append((size, "naive", escalation_outcome(env, request_ids, tier_ids, data.head)))
        env.cr.rollback()
        naive_peak = None
        if size <= naive_trace_max:
            naive_peak = run_naive(env, now, trace=True)["peak"]
            env.cr.rollback()
        purge(env, marks)
        env.cr.commit()

        per_call = [c["seconds"] * 1000 / c["done"] for c in calls]
        results[size] = {
            "batched": {
                "done": sum(c["done"] for c in calls),
                "seconds": sum(c["seconds"] for c in calls),
                "queries": sum(c["queries"] for c in calls),
                "calls": len(calls),
                "peak": batch_peak,
                "range": f"{min(per_call):.1f}-{max(per_call):.1f}",
            },
            "naive": dict(naive, peak=naive_peak, calls=1, range="-"),
        }
        say(f"  N={size:,}: batched {results[size]['batched']['seconds']:.1f} s, naive {naive['seconds']:.1f} s")
    return results, checks


def print_escalation(results, checks, sizes, batch, naive_trace_max):
    rows = []
    for size in sizes:
        for kind in ("batched", "naive"):
            figures = results[size][kind]
            rows.append(
                [
                    f"{size:,} {kind}",
                    figures["calls"],
                    f"{figures['done']:,}",
                    fmt(figures["seconds"], 2),
                    fmt(figures["seconds"] * 1000 / figures["done"], 2),
                    figures["range"],
                    fmt(figures["queries"] / figures["done"], 2),
                    fmt(figures["peak"] / 2**20, 1) if figures["peak"] is not None else "-",
                ]
            )
    print_table(
        [
            "N, job",
            "calls",
            "escalated",
            "total s",
            "ms/request",
            "ms/request per call (min-max)",
            "queries/request",
            "peak MiB",
        ],
        rows,
    )
    say(f"(peak MiB: batched, one call of {batch} tiers; naive, the whole job, traced up to N={naive_trace_max:,}.)")
    largest_size = max(sizes)
    batched, naive = results[largest_size]["batched"], results[largest_size]["naive"]
    record(
        "approvals",
        f"escalation of {largest_size:,} overdue requests, ms per request",
        batched["seconds"] * 1000 / batched["done"],
        naive["seconds"] * 1000 / naive["done"],
        "one-by-one ORM escalation",
        "ms/request",
        higher_is_better=False,
    )
    record(
        "approvals",
        f"escalation of {largest_size:,} overdue requests, queries per request",
        batched["queries"] / batched["done"],
        naive["queries"] / naive["done"],
        "one-by-one ORM escalation",
        "queries",
        higher_is_better=False,
    )
    smallest, largest = min(sizes), max(sizes)
    if smallest != largest:
        say(f"\nFlatness, per-request cost at N={largest:,} divided by the cost at N={smallest:,} (1.00 = flat):")
        flat_rows = []
        for kind in ("batched", "naive"):
            small, large = results[smallest][kind], results[largest][kind]
            flat_rows.append(
                [
                    kind,
                    f"{(large['seconds'] / large['done']) / (small['seconds'] / small['done']):.2f}",
                    f"{(large['queries'] / large['done']) / (small['queries'] / small['done']):.2f}",
                ]
            )
        print_table(["job", "ms/request ratio", "queries/request ratio"], flat_rows)
    say(
        "\nSame work done by both (tiers at level 1 with the head as approver, audit entries, outbox events, "
        "activities of the head, escalation notes), per N:"
    )
    print_table(
        ["N, job", "tiers", "audit", "events", "activities", "notes"],
        [[f"{size:,} {kind}", *[f"{value:,}" for value in outcome]] for size, kind, outcome in checks],
    )


# -- main -----------------------------------------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", default="bench_apr", help="the benchmark's own database (default: bench_apr)")
    parser.add_argument("--conf", default=str(DEFAULT_CONF), help="Odoo configuration file")
    parser.add_argument("--sizes", default="100,1000,10000", help="pending overdue requests, comma-separated")
    parser.add_argument("--batch", type=int, default=500, help="tiers per _cron_escalate() call (its default)")
    parser.add_argument("--repeats", type=int, default=5, help="requests created and decided per scenario")
    parser.add_argument(
        "--notification",
        default="email",
        choices=["email", "inbox"],
        help="how the users of the benchmark are notified (Odoo's default for a new user: email)",
    )
    parser.add_argument(
        "--naive-trace-max",
        type=int,
        default=1000,
        help="largest N at which the naive job is run once more under tracemalloc",
    )
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database first")
    parser.add_argument("--no-update", dest="update", action="store_false", help="do not update the addon")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",") if n.strip()]

    config.parse_config(["-c", args.conf, "-d", args.db, "--log-level=warn"])
    prepare_database(args.conf, args.db, args.fresh, args.update, MODULE)
    registry = Registry(args.db)
    started = time.perf_counter()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        env.cr.execute("SELECT version()")
        say(f"Database {args.db}: {env.cr.fetchone()[0].split(',')[0]}; Odoo {odoo.release.version}")
        say(
            "Setup: a requester, 3 approvers, a head of sales (escalation target), users notified by "
            f"{args.notification}; an outbox endpoint subscribed to approval.* (nothing is sent: no server runs)."
        )
        if args.repeats:
            try:
                bench_request_life(Data(env, args.notification), args.repeats)
            finally:
                env.cr.rollback()  # nothing of section 1 is committed
    if sizes:
        bench_escalation(registry, args.notification, sizes, args.batch, args.naive_trace_max)
    say(f"\nSection 1 rolled back; what section 2 committed is removed. Total {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
