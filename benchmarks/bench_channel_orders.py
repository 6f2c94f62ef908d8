"""Benchmark of customer-channel order intake (the ``channel_order`` handler of the signed inbox), next to the same
orders created through plain JSON-RPC ``create`` + ``action_confirm``.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_channel_orders.py [--db bench_channel] [--orders 200] [--lines 3]
                                                        [--resends 1] [--concurrency 4] [--fresh] [--no-update]

The script works on its own database (``bench_channel`` by default): it creates it and installs the addon without
demo data when missing (``--fresh`` drops and recreates it), updates the addon otherwise (``--no-update`` skips
that). It must commit (a separate Odoo server reads its channel and endpoint): everything it creates is named
``bench_channel`` / ``BENCH-CH`` and deleted at the end, and leftovers of an interrupted run are deleted at the start.

What it prints, in one run, on one Odoo server started by the script (``--workers=2 --max-cron-threads=0`` on a free
port of 127.0.0.1, as ``bench_integration.py`` starts it):

1. Channel, accepted: ``--orders`` orders of ``--lines`` lines (auto-confirm channel, prices within tolerance), each
   posted ``1 + --resends`` times under new event ids (a channel's resends), signed, by ``--concurrency`` client
   threads (``requests.Session`` each) on ``POST /distribution/webhook/bench_channel``: requests/s and orders/s
   accepted (answered 202; the processing is left to the inbox job).
2. Channel, turned into sale orders: the inbox job (``_cron_process(batch_size=100)``) called in a loop on a real
   cursor of this process, committed after each call, as the scheduled action does, until it handles nothing:
   events/s, orders/s that became confirmed (or held) sale orders, and a check that there is exactly one sale order
   per channel order, however often it was sent. The job runs after the posting (the server has no cron thread),
   so the two rates are measured apart: a channel waits for the slower of them.
3. JSON-RPC: the same orders (other references) through ``/jsonrpc`` ``execute_kw`` by the same client threads:
   ``sale.order.create`` with the product ids resolved beforehand, then ``action_confirm``, as an integration
   script does (no idempotency: a resend there would be a second order).

Queries per order, counted in this process with ``odoo.sql_db.sql_counter``: for the channel, one accepting request
through Odoo's WSGI application (median of 5) plus the inbox job's queries divided by the orders; for JSON-RPC, the
ORM ``create`` + ``action_confirm`` of 5 orders (median; the request's authentication is not counted).

The validation pipeline runs in both paths (``action_confirm``), with the rules active in the database. Timings
depend on the machine and what runs beside: compare the rows of one run. Speed is never asserted.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import requests
from bench_integration import call_in_process
from bench_integration import free_port
from bench_integration import signature
from bench_integration import start_server
from bench_integration import stop_server
from benchlib import fmt
from benchlib import prepare_database
from benchlib import print_table
from benchlib import record
from benchlib import say

import odoo
import odoo.sql_db
from odoo import SUPERUSER_ID
from odoo import Command
from odoo import api
from odoo.modules.registry import Registry
from odoo.tools import config
from odoo.tools import mute_logger

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONF = REPO / ".local" / "odoo-local.conf"
MODULE = "distribution_orchestration"
CODE = "bench_channel"
PREFIX = "BENCH-CH"
PRODUCTS = 20
RPC_LOGIN = "bench_channel_rpc"
RPC_PASSWORD = "bench-channel-rpc-password"  # a user made for this run, deleted at the end
SECRET = "bench-channel-secret-0123456789"
QUERY_SAMPLES = 5


def remove_bench_data(env):
    """Delete what a run of this script created (also the leftovers of an interrupted one)."""
    counts = {}
    channels = env["distribution.sales.channel"].with_context(active_test=False).search([("code", "=", CODE)])
    orders = env["sale.order"].search(
        ["|", ("distribution_channel_id", "in", channels.ids), ("client_order_ref", "=like", f"{PREFIX}-%")]
    )
    if orders:
        counts["sale orders"] = len(orders)
        for model in ("distribution.workflow.run", "distribution.outbound.event"):
            env[model].sudo().search([("res_model", "=", "sale.order"), ("res_id", "in", orders.ids)]).unlink()
        pickings = orders.picking_ids
        orders.filtered(lambda o: o.state != "cancel")._action_cancel()
        pickings.move_ids.filtered(lambda m: m.state == "cancel").unlink()
        pickings.filtered(lambda p: not p.move_ids).unlink()
        orders.unlink()
    endpoints = env["distribution.inbound.endpoint"].with_context(active_test=False).search([("code", "=", CODE)])
    events = env["distribution.inbound.event"].search([("endpoint_id", "in", endpoints.ids)])
    if events:
        counts["inbox events"] = len(events)
        env["distribution.workflow.run"].search(
            [("res_model", "=", events._name), ("res_id", "in", events.ids)]
        ).unlink()
        events.unlink()
    endpoints.unlink()
    channels.unlink()
    partners = env["res.partner"].with_context(active_test=False).search([("ref", "=like", f"{PREFIX}-%")])
    partners.child_ids.unlink()
    partners.unlink()
    products = env["product.product"].with_context(active_test=False).search([("default_code", "=like", f"{PREFIX}-%")])
    if products:
        counts["products"] = len(products)
        try:
            with env.cr.savepoint(), mute_logger("odoo.sql_db"):
                products.product_tmpl_id.unlink()
        except psycopg2.errors.ForeignKeyViolation:  # still in a stock move: archived, and renamed out of the way
            for product in products:
                product.write({"default_code": f"ARCHIVED-{product.default_code}-{product.id}", "active": False})
    env["res.users"].with_context(active_test=False).search([("login", "=", RPC_LOGIN)]).unlink()
    env.cr.commit()
    return counts


def setup(env):
    company = env.company
    customer = env["res.partner"].create({"name": "Bench Channel Customer", "ref": f"{PREFIX}-C1"})
    products = env["product.product"].create(
        [
            {
                "name": f"Bench channel product {n}",
                "default_code": f"{PREFIX}-{n:03d}",
                "list_price": 10.0,
                "type": "consu",
            }
            for n in range(PRODUCTS)
        ]
    )
    channel = env["distribution.sales.channel"].create(
        {"name": "Bench channel", "code": CODE, "company_id": company.id, "auto_confirm": True}
    )
    env["distribution.inbound.endpoint"].create(
        {"name": "Bench channel", "code": CODE, "handler": "channel_order", "secret": SECRET, "company_id": company.id}
    )
    user = env["res.users"].create(
        {
            "name": "Bench channel RPC",
            "login": RPC_LOGIN,
            "password": RPC_PASSWORD,
            "groups_id": [
                Command.set([env.ref("sales_team.group_sale_manager").id, env.ref("stock.group_stock_user").id])
            ],
        }
    )
    env.cr.commit()
    return customer, products, channel, user


def order_lines(number, lines, products):
    return [(products[(number + i) % len(products)], 1 + (number + i) % 4) for i in range(lines)]


def channel_request(number, lines, products, company):
    data = {
        "channel": CODE,
        "order_ref": f"{PREFIX}-{number:06d}",
        "customer": {"ref": f"{PREFIX}-C1"},
        "lines": [
            {"sku": product.default_code, "quantity": qty, "price": 10.0}
            for product, qty in order_lines(number, lines, products)
        ],
        "requested_date": "2027-01-15",
    }
    event_id = str(uuid.uuid4())
    body = signature.envelope(event_id, "channel_order", "2026-12-01T10:00:00Z", company, data)
    headers = signature.headers(SECRET, "channel_order", event_id, int(time.time()), body)
    headers["Content-Type"] = "application/json"
    return f"/distribution/webhook/{CODE}", body, headers


def run_threads(jobs, concurrency, work):
    """Run ``work(session, job)`` over the jobs with ``concurrency`` threads; (seconds, answers)."""
    local = threading.local()

    def call(job):
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return work(local.session, job)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        answers = list(pool.map(call, jobs))
    return time.perf_counter() - started, answers


def bench(env, args, base_url):
    customer, products, channel, user = setup(env)
    company = env.company.name
    rows = []
    # 1. Accepted.
    requests_ = [
        channel_request(number, args.lines, products, company)
        for number in range(args.orders)
        for _copy in range(1 + args.resends)
    ]

    def post(session, request):
        path, body, headers = request
        headers = dict(
            headers,
            **signature.headers(SECRET, "channel_order", headers["X-Distribution-Event-Id"], int(time.time()), body),
        )
        return session.post(base_url + path, data=body, headers=headers, timeout=60).status_code

    seconds, statuses = run_threads(requests_, args.concurrency, post)
    accepted = sum(1 for status in statuses if status == 202)
    say(f"\nAnswers to the channel's {len(requests_):,} requests: {dict(sorted(_count(statuses).items()))}")
    # 2. Turned into sale orders.
    env.cr.commit()  # a new transaction: its snapshot shows the events the server stored
    Event = env["distribution.inbound.event"]
    before = odoo.sql_db.sql_counter
    started = time.perf_counter()
    handled = 0
    while True:
        batch = Event._cron_process(batch_size=100)
        env.cr.commit()
        if not batch:
            break
        handled += len(batch)
    process_seconds = time.perf_counter() - started
    process_queries = odoo.sql_db.sql_counter - before
    orders = env["sale.order"].search([("distribution_channel_id", "=", channel.id)])
    refs = orders.mapped("distribution_channel_ref")
    states = _count(f"{o.state}/{o.distribution_validation_state}" for o in orders)
    # The queries of accepting one request, counted in this process (these events stay unprocessed: deleted at the end).
    samples = [
        call_in_process(*channel_request(10**6 + i, args.lines, products, company)) for i in range(QUERY_SAMPLES)
    ]
    accept_queries = statistics.median(queries for _status, queries, _statements in samples)
    env.cr.commit()
    events = _count(Event.search([("endpoint_id.code", "=", CODE)]).mapped("state"))
    rows.append(
        [
            "channel: accepted (202)",
            f"{accepted:,}",
            fmt(seconds, 1),
            fmt(accepted / seconds, 1),
            fmt(args.orders / seconds, 1),
            f"{accept_queries:g} per request",
        ]
    )
    rows.append(
        [
            "channel: into sale orders",
            f"{handled:,} events",
            fmt(process_seconds, 1),
            fmt(handled / process_seconds, 1),
            fmt(len(orders) / process_seconds, 1),
            f"{process_queries / max(len(orders), 1):.0f} + {accept_queries * (1 + args.resends):g}",
        ]
    )
    # 3. JSON-RPC create + action_confirm.
    lines_of = {n: [(p.id, qty) for p, qty in order_lines(n, args.lines, products)] for n in range(args.orders)}

    def rpc(session, number):
        def call(method, *call_args):
            answer = session.post(
                f"{base_url}/jsonrpc",
                json={
                    "jsonrpc": "2.0",
                    "method": "call",
                    "id": number,
                    "params": {
                        "service": "object",
                        "method": "execute_kw",
                        "args": [args.db, user.id, RPC_PASSWORD, "sale.order", method, list(call_args)],
                    },
                },
                timeout=120,
            ).json()
            if "error" in answer:
                raise RuntimeError(json.dumps(answer["error"])[:500])
            return answer["result"]

        order_id = call("create", _rpc_vals(customer, number, lines_of[number]))
        call("action_confirm", [order_id])
        return order_id

    rpc_seconds, order_ids = run_threads(range(args.orders), args.concurrency, rpc)
    env.cr.commit()  # a new transaction: its snapshot shows what the server committed
    env.invalidate_all()
    rpc_orders = env["sale.order"].browse(order_ids)
    rpc_states = _count(f"{o.state}/{o.distribution_validation_state}" for o in rpc_orders)
    rpc_queries = []
    for i in range(QUERY_SAMPLES):
        before = odoo.sql_db.sql_counter
        order = env["sale.order"].with_user(user).create(_rpc_vals(customer, 10**6 + i, lines_of[i % args.orders]))
        order.action_confirm()
        env.flush_all()
        rpc_queries.append(odoo.sql_db.sql_counter - before)
    env.cr.commit()
    rows.append(
        [
            "JSON-RPC create + action_confirm",
            f"{len(order_ids):,} orders",
            fmt(rpc_seconds, 1),
            fmt(2 * len(order_ids) / rpc_seconds, 1),
            fmt(len(order_ids) / rpc_seconds, 1),
            f"{statistics.median(rpc_queries):g}",
        ]
    )
    rpc_rate = len(order_ids) / rpc_seconds
    record(
        "channel orders",
        "channel orders accepted, orders/s",
        args.orders / seconds,
        rpc_rate,
        "JSON-RPC create + action_confirm",
        "orders/s",
    )
    record(
        "channel orders",
        "channel orders turned into sale orders, orders/s",
        len(orders) / process_seconds,
        rpc_rate,
        "JSON-RPC create + action_confirm",
        "orders/s",
    )
    record(
        "channel orders",
        "queries per channel order (inbox job + its requests)",
        process_queries / max(len(orders), 1) + accept_queries * (1 + args.resends),
        statistics.median(rpc_queries),
        "JSON-RPC create + action_confirm",
        "queries",
        higher_is_better=False,
    )
    say()
    print_table(["path", "handled", "seconds", "requests or events/s", "orders/s", "queries per order"], rows)
    one_each = len(refs) == len(set(refs)) == args.orders
    say(
        f"\nChannel: {len(orders):,} sale orders for {args.orders:,} channel orders sent {1 + args.resends} time(s) "
        "each "
        f"({'one per order: yes' if one_each else 'ONE PER ORDER: NO'}); states {dict(sorted(states.items()))}; "
        f"inbox events {dict(sorted(events.items()))}."
    )
    say(f"JSON-RPC: states {dict(sorted(rpc_states.items()))}.")
    say(
        f"Queries per channel order: {process_queries / max(len(orders), 1):.0f} in the inbox job (validation pipeline "
        f"included) + {accept_queries:g} per accepted request x {1 + args.resends} requests; JSON-RPC: "
        f"{statistics.median(rpc_queries):g} (create + action_confirm in the ORM, samples {rpc_queries})."
    )


def _rpc_vals(customer, number, lines):
    return {
        "partner_id": customer.id,
        "client_order_ref": f"{PREFIX}-RPC-{number:06d}",
        "commitment_date": "2027-01-15 00:00:00",
        "order_line": [
            (0, 0, {"product_id": product_id, "product_uom_qty": qty, "price_unit": 10.0}) for product_id, qty in lines
        ],
    }


def _count(values):
    counts = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", default="bench_channel", help="the benchmark's own database (default: bench_channel)")
    parser.add_argument("--conf", default=str(DEFAULT_CONF), help="Odoo configuration file")
    parser.add_argument("--orders", type=int, default=200, help="channel orders (default: 200)")
    parser.add_argument("--lines", type=int, default=3, help="lines per order (default: 3)")
    parser.add_argument("--resends", type=int, default=1, help="resends of each order under new event ids (default: 1)")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads (default: 4)")
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database first")
    parser.add_argument("--no-update", dest="update", action="store_false", help="do not update the addon")
    args = parser.parse_args()

    config.parse_config(["-c", args.conf, "-d", args.db, "--log-level=warn"])
    prepare_database(args.conf, args.db, args.fresh, args.update, MODULE)
    registry = Registry(args.db)
    started = time.perf_counter()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        leftovers = remove_bench_data(env)
        if leftovers:
            say(f"Removed leftovers of a previous, interrupted run: {leftovers}")
        say(
            f"Database {args.db}; Odoo {odoo.release.version}; {os.cpu_count()} CPU cores shared by the clients, Odoo "
            f"and PostgreSQL; {args.orders} orders of {args.lines} lines, {args.resends} resend(s), {args.concurrency} "
            "client threads"
        )
        port = free_port()
        log_path = Path(tempfile.gettempdir()) / f"bench_channel_server_{port}.log"
        server = start_server(args.conf, args.db, port, free_port(), log_path, None)
        try:
            bench(env, args, f"http://127.0.0.1:{port}")
        finally:
            stop_server(server)
            env.cr.rollback()
            deleted = remove_bench_data(env)
            say(
                f"\nCleanup: deleted {', '.join(f'{count:,} {kind}' for kind, count in deleted.items()) or 'nothing'}. "
                f"Total {time.perf_counter() - started:.0f} s."
            )


if __name__ == "__main__":
    sys.exit(main())
