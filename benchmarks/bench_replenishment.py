"""Benchmark of distribution_orchestration: the cost of the replenishment jobs (suggestions, lead times, monitors).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_replenishment.py [--db bench_replen] [--full | --products 50,200,800]
                                                       [--warehouses 3] [--batch 500] [--no-memory]
                                                       [--fresh] [--no-update] [--only low_stock,aging]

The script works on its own database (``bench_replen`` by default): it creates it and installs the addon without
demo data when missing (``--fresh`` drops and recreates it), updates the addon otherwise (``--no-update`` skips
that). It commits nothing: its warehouses, products, rules, moves, quants, purchases and everything the jobs write
are in one transaction, rolled back to savepoints between measures and rolled back entirely at the end (an
interrupted run leaves nothing either).

Data, generated in increasing steps (``--products``: the number of products at each scale; ``--full``: 400, 4,000
and 20,000, the size of the issue at the last scale; the default is a quick 50, 200, 800), per product:

- created with the ORM in batches of 500 (``is_storable``, the Buy route, one vendor price list line of delay 7
  days; one vendor for every 40 products, one vendor in 5 delivering late), and one reordering rule (trigger auto,
  on the warehouse's stock location) per product and warehouse (``--warehouses``, 3: the company's one and
  "Bench warehouse N" created by the script);
- inserted with SQL: 10 done customer deliveries (``stock.move`` from a warehouse's stock location to
  ``stock.stock_location_customers``, dated over the last 90 days, 1-20 units), 5 quants (``stock.quant``) on 5 of
  the warehouses' internal locations (the stock location and two shelves each; in_date over the last 365 days,
  so about half of them are older than the default aging of 180 days), 0.15 done receipts (confirmed purchase
  orders of 3 lines with date_approve, each line received by a done move from ``stock.stock_location_suppliers``
  with ``purchase_line_id``) and 0.05 late deliveries (a confirmed picking with one move, scheduled 1-240 hours
  ago). At 20,000 products and 3 warehouses: 60,000 rules, 100,000 quants, 200,000 done deliveries, 3,000 receipt
  lines, 500 vendors, 1,000 late pickings. Then ``env.invalidate_all()`` and ANALYZE of the tables (inside the
  transaction: ANALYZE sees its own uncommitted rows), so that the planner sees their real size.

Measures, at each scale, each with an empty record cache (as a new cron transaction) before every call:

- ADU + suggestions: ``stock.warehouse.orderpoint._cron_distribution_suggestions(batch_size=--batch)`` called until
  it returns no rule (the nightly cron: ADU, lead time, suggested min/max of every rule, those within the tolerance
  applied). Records: rules.
- lead-time learning: ``distribution.vendor.lead.time._cron_learn()`` until it returns nothing. Records: vendors
  (their receipts are in the result column).
- low stock: ``distribution.stock.monitor._cron_low_stock()`` until it returns no rule (after the suggestions:
  it checks the rules with an ADU). Records: rules checked.
- aging stock: ``_cron_aging_stock(batch_size=--batch)`` until its pass is done (the company's cursor back to 0).
  Records: quants.
- late transfers: ``_cron_late_transfers()`` until it returns no picking. Records: late pickings.
- Baseline, Odoo's own replenishment report over the same data: ``action_open_orderpoints()`` (the opening of
  Inventory > Replenishment: it scans every storable product with moves in every replenishment location, computes
  the forecast of those short of stock and creates manual rules for them; records: all rules), and the quantity
  to order of every rule (``read(['qty_on_hand', 'qty_forecast', 'qty_to_order'])`` in batches of --batch, what
  the report's list computes for the rules it shows, and what Odoo's scheduler evaluates; records: rules).

Columns: calls of the job, ms of the whole measure (every call followed by ``env.flush_all()`` and the commit hooks,
``env.cr.flush()``: the mail tracking the scheduler's commit runs after each call; without them the hooks of all the
calls would pile up in one transaction, keeping one environment alive per record written, which makes every later
``with_context()`` slower: a cost a real cron, committed call by call, does not have), ms per record, SQL queries of
the transaction's cursor (``cr.sql_log_count``), queries per record, peak Python memory (``tracemalloc``) in MB, and
what the job did. The peak memory comes from a first run of the same measure under tracemalloc, rolled back to a
savepoint (it doubles as the warm-up of the timed run; tracing slows Python, so the timed run is untraced); ``--no-
memory`` skips it. Flat means: ms/record and queries/record of the largest scale the same as of the smallest; the
second table shows their ratio.

Timings depend on the machine: compare the columns of one run, not runs of different machines. Speed is never
asserted: the script prints figures.
"""

import argparse
import contextlib
import math
import random
import sys
import time
import tracemalloc
from collections import defaultdict
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
from odoo.modules.registry import Registry
from odoo.tools import SQL
from odoo.tools import config

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONF = REPO / ".local" / "odoo-local.conf"
MODULE = "distribution_orchestration"
QUICK_PRODUCTS = "50,200,800"
FULL_PRODUCTS = "400,4000,20000"
SHELVES_PER_WAREHOUSE = 2
MOVES_PER_PRODUCT = 10
QUANTS_PER_PRODUCT = 5
PRODUCTS_PER_VENDOR = 40
DRIFTING_VENDOR_EVERY = 5
RECEIPTS_PER_PRODUCT = 0.15
LINES_PER_PURCHASE = 3
LATE_PER_PRODUCT = 0.05
VENDOR_DELAY = 7
HISTORY_DAYS = 90
QUANT_AGE_DAYS = 365
CREATE_BATCH = 500
SEED = 20261207
ANALYZED_TABLES = [
    "product_product",
    "product_template",
    "product_supplierinfo",
    "res_partner",
    "stock_warehouse_orderpoint",
    "stock_move",
    "stock_quant",
    "stock_picking",
    "stock_location",
    "purchase_order",
    "purchase_order_line",
]
NO_TRACKING = {"tracking_disable": True, "mail_create_nolog": True, "mail_create_nosubscribe": True}


# -- database -------------------------------------------------------------------------------------------
def analyze(env):
    """Fresh planner statistics, including this transaction's own uncommitted rows."""
    for table in ANALYZED_TABLES:
        env.cr.execute(SQL("ANALYZE %s", SQL.identifier(table)))


def scalar(env, query):
    env.cr.execute(query)
    return env.cr.fetchone()[0]


# -- data -----------------------------------------------------------------------------------------------
class Data:
    """The warehouses, their shelves, and the products, vendors, rules, moves, quants and purchases generated up to
    the current scale (``grow()``)."""

    def __init__(self, env, warehouses):
        self.env = env
        self.company = env.company
        self.random = random.Random(SEED)
        env.cr.execute("SELECT setseed(0.42)")  # random() of the generating queries, repeatable
        Warehouse = env["stock.warehouse"].with_context(**NO_TRACKING)
        existing = Warehouse.search([("company_id", "=", self.company.id)], order="id")
        missing = max(warehouses - len(existing), 0)
        self.warehouses = (
            existing
            | Warehouse.create(
                [{"name": f"Bench warehouse {i + 1}", "code": f"BW{i + 1}"} for i in range(len(existing), warehouses)]
            )
            if missing
            else existing
        )[:warehouses]
        Location = env["stock.location"]
        self.internal_locations = []  # (warehouse, location): each stock location, then its shelves
        for warehouse in self.warehouses:
            shelves = Location.create(
                [
                    {"name": f"Bench shelf {j + 1}", "location_id": warehouse.lot_stock_id.id, "usage": "internal"}
                    for j in range(SHELVES_PER_WAREHOUSE)
                ]
            )
            self.internal_locations += [(warehouse, location) for location in warehouse.lot_stock_id | shelves]
        if len(self.internal_locations) < QUANTS_PER_PRODUCT:
            sys.exit(f"{QUANTS_PER_PRODUCT} quants per product need as many internal locations: more --warehouses.")
        self.customers = env.ref("stock.stock_location_customers")
        self.suppliers = env.ref("stock.stock_location_suppliers")
        self.buy = env.ref("purchase_stock.route_warehouse0_buy")
        self.uom = env.ref("uom.product_uom_unit")
        self.vendors = env["res.partner"]
        self.products = env["product.product"]
        self.vendor_of = {}  # product id: vendor id
        self.purchases = self.receipt_lines = self.late_pickings = 0
        self.rules = env["stock.warehouse.orderpoint"]
        env.flush_all()

    # -- growing ------------------------------------------------------------------------------------
    def grow(self, products):
        """Generate the data of ``products`` products (the ones missing since the last call)."""
        env = self.env
        start = len(self.products)
        if products <= start:
            return
        self._vendors(math.ceil(products / PRODUCTS_PER_VENDOR))
        new = self._products(start, products)
        self._rules(new)
        ids = new.ids
        self._deliveries(ids)
        self._quants(ids)
        self._receipts(ids, round(products * RECEIPTS_PER_PRODUCT) - round(start * RECEIPTS_PER_PRODUCT))
        self._late_deliveries(ids, round(products * LATE_PER_PRODUCT) - round(start * LATE_PER_PRODUCT))
        env.flush_all()
        env.cr.flush()  # the commit hooks of the setup are not part of any measure
        env.invalidate_all()
        analyze(env)

    def _vendors(self, count):
        if count <= len(self.vendors):
            return
        self.vendors |= (
            self.env["res.partner"]
            .with_context(**NO_TRACKING)
            .create([{"name": f"Bench vendor {i + 1}", "supplier_rank": 1} for i in range(len(self.vendors), count)])
        )

    def _products(self, start, end):
        Product = self.env["product.product"].with_context(**NO_TRACKING)
        vendors = self.vendors.ids
        new = Product
        for first in range(start, end, CREATE_BATCH):
            vals_list = []
            for i in range(first, min(first + CREATE_BATCH, end)):
                vendor_id = vendors[self.random.randrange(len(vendors))]
                vals_list.append(
                    {
                        "name": f"Bench replenished item {i + 1}",
                        "default_code": f"BR{i + 1:06}",
                        "is_storable": True,
                        "type": "consu",
                        "list_price": 10.0,
                        "standard_price": 5.0,
                        "route_ids": [Command.set(self.buy.ids)],
                        "seller_ids": [Command.create({"partner_id": vendor_id, "delay": VENDOR_DELAY, "price": 5.0})],
                    }
                )
            batch = Product.create(vals_list)
            for product, vals in zip(batch, vals_list, strict=True):
                self.vendor_of[product.id] = vals["seller_ids"][0][2]["partner_id"]
            new |= batch
            self.env.flush_all()
            self.env.invalidate_all()
        self.products |= new
        return new

    def _rules(self, products):
        Rule = self.env["stock.warehouse.orderpoint"].with_context(**NO_TRACKING)
        vals_list = []
        for product in products:
            for warehouse in self.warehouses:
                minimum = self.random.randint(1, 12)
                vals_list.append(
                    {
                        "product_id": product.id,
                        "warehouse_id": warehouse.id,
                        "location_id": warehouse.lot_stock_id.id,
                        "company_id": self.company.id,
                        "trigger": "auto",
                        "product_min_qty": minimum,
                        "product_max_qty": minimum + self.random.randint(4, 12),
                    }
                )
        for first in range(0, len(vals_list), CREATE_BATCH):
            self.rules |= Rule.create(vals_list[first : first + CREATE_BATCH])
            self.env.flush_all()
            self.env.invalidate_all()

    def _deliveries(self, product_ids):
        """MOVES_PER_PRODUCT done customer deliveries of each product, from a warehouse's stock location."""
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO stock_move (name, company_id, product_id, product_uom, product_uom_qty, product_qty,
                                        quantity, location_id, location_dest_id, state, date, procure_method, picked,
                                        priority, create_uid, create_date, write_uid, write_date)
                SELECT 'Bench delivery', %(company)s, product_id, %(uom)s, qty, qty, qty, location_id, %(customers)s,
                       'done', day + random() * interval '1 day', 'make_to_stock', true, '0',
                       %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
                  FROM (SELECT p.id AS product_id,
                               (%(stocks)s::int[])[1 + floor(random() * %(warehouses)s)::int] AS location_id,
                               ceil(random() * 20) AS qty,
                               (now() AT TIME ZONE 'UTC')::date - (1 + floor(random() * %(days)s))::int AS day
                          FROM unnest(%(products)s::int[]) p(id), generate_series(1, %(per)s)) moves
                """,
                company=self.company.id,
                uom=self.uom.id,
                customers=self.customers.id,
                uid=self.env.uid,
                stocks=self.warehouses.lot_stock_id.ids,
                warehouses=len(self.warehouses),
                days=HISTORY_DAYS - 1,
                products=product_ids,
                per=MOVES_PER_PRODUCT,
            )
        )

    def _quants(self, product_ids):
        """QUANTS_PER_PRODUCT quants of each product, on as many consecutive internal locations."""
        locations = [location.id for _warehouse, location in self.internal_locations]
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO stock_quant (product_id, location_id, company_id, quantity, reserved_quantity, in_date,
                                         create_uid, create_date, write_uid, write_date)
                SELECT p.id, (%(locations)s::int[])[1 + mod(p.n::int + k, %(count)s)], %(company)s,
                       floor(1 + power(random(), 2) * 40), 0,
                       (now() AT TIME ZONE 'UTC') - random() * interval '1 day' * %(age)s,
                       %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
                  FROM unnest(%(products)s::int[]) WITH ORDINALITY p(id, n), generate_series(0, %(per)s - 1) k
                """,
                locations=locations,
                count=len(locations),
                company=self.company.id,
                age=QUANT_AGE_DAYS,
                uid=self.env.uid,
                products=product_ids,
                per=QUANTS_PER_PRODUCT,
            )
        )

    def _receipts(self, product_ids, lines):
        """About ``lines`` done receipt lines: confirmed purchase orders of LINES_PER_PURCHASE products of one
        vendor, each line received by a done move from the supplier location; one vendor in DRIFTING_VENDOR_EVERY
        delivers in about 15 days instead of the planned 7."""
        if lines <= 0:
            return
        by_vendor = defaultdict(list)
        for product_id in product_ids:
            by_vendor[self.vendor_of[product_id]].append(product_id)
        vendor_ids = sorted(by_vendor)
        drifting = set(self.vendors.ids[::DRIFTING_VENDOR_EVERY])
        orders = []  # (vendor id, warehouse index, days ago approved, days to receive, [product ids])
        for _n in range(math.ceil(lines / LINES_PER_PURCHASE)):
            vendor_id = self.random.choice(vendor_ids)
            candidates = by_vendor[vendor_id]
            delay = self.random.uniform(14, 17) if vendor_id in drifting else self.random.uniform(6, 8.5)
            orders.append(
                (
                    vendor_id,
                    self.random.randrange(len(self.warehouses)),
                    delay + self.random.uniform(1, 150),
                    delay,
                    self.random.sample(candidates, min(LINES_PER_PURCHASE, len(candidates))),
                )
            )
        first = self.purchases
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO purchase_order (name, partner_id, company_id, currency_id, picking_type_id, state,
                                            date_order, date_approve, date_planned, effective_date, receipt_status,
                                            invoice_status, create_uid, create_date, write_uid, write_date)
                SELECT 'BENCH/PO/' || lpad((%(first)s + o.n)::text, 6, '0'), o.vendor, %(company)s, %(currency)s,
                       (%(types)s::int[])[o.warehouse + 1], 'purchase', o.approved, o.approved,
                       o.approved + interval '1 day' * %(delay)s, o.approved + interval '1 day' * o.days, 'full', 'no',
                       %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
                  FROM (SELECT vendor, warehouse, days, n,
                               (now() AT TIME ZONE 'UTC') - interval '1 day' * ago AS approved
                          FROM unnest(%(vendors)s::int[], %(warehouses)s::int[], %(ago)s::float[], %(days)s::float[])
                               WITH ORDINALITY u(vendor, warehouse, ago, days, n)) o
                RETURNING id, name
                """,
                first=first,
                company=self.company.id,
                currency=self.company.currency_id.id,
                types=self.warehouses.in_type_id.ids,
                delay=VENDOR_DELAY,
                uid=self.env.uid,
                vendors=[o[0] for o in orders],
                warehouses=[o[1] for o in orders],
                ago=[o[2] for o in orders],
                days=[o[3] for o in orders],
            )
        )
        order_ids = {int(name.rsplit("/", 1)[1]) - first - 1: order_id for order_id, name in self.env.cr.fetchall()}
        line_orders, line_products, line_qty = [], [], []
        for index, order in enumerate(orders):
            for product_id in order[4]:
                line_orders.append(order_ids[index])
                line_products.append(product_id)
                line_qty.append(self.random.randint(10, 100))
        self.env.cr.execute(
            SQL(
                """
                WITH lines AS (
                    INSERT INTO purchase_order_line (name, order_id, product_id, product_uom, product_qty,
                                                     product_uom_qty, qty_received, qty_received_method, price_unit,
                                                     date_planned, company_id, partner_id, currency_id, state,
                                                     create_uid, create_date, write_uid, write_date)
                    SELECT 'Bench receipt', l.order_id, l.product_id, %(uom)s, l.qty, l.qty, l.qty, 'stock_moves', 5.0,
                           po.date_planned, po.company_id, po.partner_id, po.currency_id, 'purchase',
                           %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
                      FROM unnest(%(orders)s::int[], %(products)s::int[], %(qty)s::numeric[])
                           AS l(order_id, product_id, qty)
                      JOIN purchase_order po ON po.id = l.order_id
                    RETURNING id, order_id, product_id, product_qty
                )
                INSERT INTO stock_move (name, company_id, product_id, product_uom, product_uom_qty, product_qty,
                                        quantity, location_id, location_dest_id, picking_type_id, purchase_line_id,
                                        state, date, procure_method, picked, priority,
                                        create_uid, create_date, write_uid, write_date)
                SELECT 'Bench receipt', po.company_id, lines.product_id, %(uom)s, lines.product_qty, lines.product_qty,
                       lines.product_qty, %(suppliers)s, type.default_location_dest_id, po.picking_type_id, lines.id,
                       'done', po.effective_date, 'make_to_stock', true, '0',
                       %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
                  FROM lines
                  JOIN purchase_order po ON po.id = lines.order_id
                  JOIN stock_picking_type type ON type.id = po.picking_type_id
                """,
                uom=self.uom.id,
                uid=self.env.uid,
                orders=line_orders,
                products=line_products,
                qty=line_qty,
                suppliers=self.suppliers.id,
            )
        )
        self.purchases += len(orders)
        self.receipt_lines += len(line_orders)

    def _late_deliveries(self, product_ids, count):
        """``count`` confirmed deliveries of one move each, scheduled 1 to 240 hours ago."""
        if count <= 0:
            return
        products = self.random.sample(product_ids, min(count, len(product_ids)))
        warehouses = [self.random.randrange(len(self.warehouses)) for _p in products]
        hours = [self.random.uniform(1, 240) for _p in products]
        first = self.late_pickings
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO stock_picking (name, picking_type_id, location_id, location_dest_id, state, scheduled_date,
                                           date, company_id, move_type, priority, create_uid, create_date, write_uid,
                                           write_date)
                SELECT 'BENCH/LATE/' || lpad((%(first)s + u.n)::text, 6, '0'), (%(types)s::int[])[u.warehouse + 1],
                       (%(stocks)s::int[])[u.warehouse + 1], %(customers)s, 'confirmed', u.scheduled, u.scheduled,
                       %(company)s, 'direct', '0', %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s,
                       now() AT TIME ZONE 'UTC'
                  FROM (SELECT warehouse, n, (now() AT TIME ZONE 'UTC') - interval '1 hour' * hours AS scheduled
                          FROM unnest(%(warehouses)s::int[], %(hours)s::float[])
                               WITH ORDINALITY v(warehouse, hours, n)) u
                RETURNING id, name
                """,
                first=first,
                types=self.warehouses.out_type_id.ids,
                stocks=self.warehouses.lot_stock_id.ids,
                customers=self.customers.id,
                company=self.company.id,
                uid=self.env.uid,
                warehouses=warehouses,
                hours=hours,
            )
        )
        rows = self.env.cr.fetchall()
        picking_of = {int(name.rsplit("/", 1)[1]) - first - 1: picking_id for picking_id, name in rows}
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO stock_move (name, company_id, product_id, product_uom, product_uom_qty, product_qty,
                                        quantity, location_id, location_dest_id, picking_id, picking_type_id, state,
                                        date, procure_method, priority, create_uid, create_date, write_uid, write_date)
                SELECT 'Bench late delivery', picking.company_id, m.product_id, %(uom)s, m.qty, m.qty, 0,
                       picking.location_id, picking.location_dest_id, picking.id, picking.picking_type_id, 'confirmed',
                       picking.scheduled_date, 'make_to_stock', '0',
                       %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
                  FROM unnest(%(pickings)s::int[], %(products)s::int[], %(qty)s::numeric[])
                       AS m(picking_id, product_id, qty)
                  JOIN stock_picking picking ON picking.id = m.picking_id
                """,
                uom=self.uom.id,
                uid=self.env.uid,
                pickings=[picking_of[i] for i in range(len(products))],
                products=products,
                qty=[self.random.randint(1, 10) for _p in products],
            )
        )
        self.late_pickings += len(products)

    # -- figures ------------------------------------------------------------------------------------
    def counts(self):
        env = self.env
        return {
            "products": len(self.products),
            "rules": scalar(env, SQL("SELECT count(*) FROM stock_warehouse_orderpoint WHERE trigger = 'auto'")),
            "quants": scalar(env, SQL("SELECT count(*) FROM stock_quant")),
            "deliveries": scalar(
                env,
                SQL(
                    "SELECT count(*) FROM stock_move WHERE state = 'done' AND location_dest_id = %s",
                    self.customers.id,
                ),
            ),
            "vendors": len(self.vendors),
            "purchases": self.purchases,
            "receipts": self.receipt_lines,
            "late": self.late_pickings,
        }


# -- measuring ------------------------------------------------------------------------------------------
def commit_like(env):
    """What the scheduler's commit after each call runs: the pending writes, then the commit hooks (mail tracking
    of the records written). Without it the hooks of every call pile up in the transaction (and keep the
    environments of their records alive), which a real cron never does."""
    env.flush_all()
    env.cr.flush()


def until_empty(env, call):
    """A job called until it returns an empty recordset, each call with an empty cache and followed by what its
    commit runs (a new cron transaction each): (records returned in all, calls)."""

    def run():
        done = calls = 0
        while True:
            env.invalidate_all()
            records = call()
            commit_like(env)
            calls += 1
            if not records:
                return done, calls
            done += len(records)

    return run


def once(env, call, records):
    def run():
        env.invalidate_all()
        call()
        commit_like(env)
        return records(), 1

    return run


def until_pass_done(env, call, records):
    """A job working a pass in batches from a cursor (the aging monitor), called until the pass is done (it
    answers fewer records than a full batch), each call as in ``until_empty``: (``records()``, calls)."""

    def run():
        calls = 0
        while True:
            env.invalidate_all()
            call()
            commit_like(env)
            calls += 1
            if not env.company.sudo().distribution_aging_cursor:
                return records(), calls

    return run


def in_batches(env, ids, batch, work):
    def run():
        for first in range(0, len(ids), batch):
            env.invalidate_all()
            work(env["stock.warehouse.orderpoint"].browse(ids[first : first + batch]))
            commit_like(env)
        return len(ids), -(-len(ids) // batch)

    return run


def new_exceptions(env, since, categories):
    env.cr.execute(
        SQL(
            "SELECT category, count(*) FROM distribution_exception WHERE id > %s AND category IN %s GROUP BY 1",
            since,
            tuple(categories),
        )
    )
    found = dict(env.cr.fetchall())
    return ", ".join(f"{found.get(category, 0):,} {category} exceptions" for category in categories)


def measure(env, run, memory):
    """Run ``run`` (answers (records, calls)) timed and counted, and keep what it wrote. With ``memory``, a first
    run under tracemalloc, rolled back, gives the peak Python memory (and warms the caches of the timed run)."""
    peak = None
    if memory:
        with contextlib.closing(env.cr.savepoint()):  # closing() rolls back
            tracemalloc.start()
            try:
                run()
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        env.invalidate_all()
    env.flush_all()
    env.cr.flush()
    env.invalidate_all()
    before = env.cr.sql_log_count
    started = time.perf_counter()
    records, calls = run()
    seconds = time.perf_counter() - started
    queries = env.cr.sql_log_count - before
    env.invalidate_all()
    return {"records": records, "calls": calls, "ms": seconds * 1000, "queries": queries, "peak": peak}


def max_id(env, table):
    return scalar(env, SQL("SELECT COALESCE(max(id), 0) FROM %s", SQL.identifier(table)))


def bench_scale(data, memory, batch, only=None):
    """The measures of one scale, each a dict with its figures and a 'result' string; ``only``: the keys of the
    measures to take (all when None)."""
    env = data.env
    Rule = env["stock.warehouse.orderpoint"]
    LeadTime = env["distribution.vendor.lead.time"]
    Monitor = env["distribution.stock.monitor"]
    results = {}

    def wanted(key):
        return only is None or key in only

    # Baselines first, each rolled back: Odoo's replenishment report over the same rules.
    if wanted("base_report"):
        with contextlib.closing(env.cr.savepoint()):
            rules_before = max_id(env, "stock_warehouse_orderpoint")
            all_rules = scalar(env, SQL("SELECT count(*) FROM stock_warehouse_orderpoint"))
            figures = measure(env, once(env, Rule.action_open_orderpoints, lambda: all_rules), memory)
            created = scalar(env, SQL("SELECT count(*) FROM stock_warehouse_orderpoint WHERE id > %s", rules_before))
            figures["result"] = f"{created:,} manual rules created"
            results["base_report"] = figures
        env.invalidate_all()
    rule_ids = Rule.search([("trigger", "=", "auto")], order="id").ids
    if wanted("base_qty"):
        with contextlib.closing(env.cr.savepoint()):
            to_order = []

            def read_to_order(rules):
                to_order.extend(rules.read(["qty_on_hand", "qty_forecast", "qty_to_order"]))

            figures = measure(env, in_batches(env, rule_ids, batch, read_to_order), memory)
            positive = sum(1 for row in to_order[-len(rule_ids) :] if row["qty_to_order"] > 0)
            figures["result"] = f"{positive:,} rules with a quantity to order"
            results["base_qty"] = figures
        env.invalidate_all()

    # Ours, in the order of the nightly jobs, kept until the end of the scale (the low stock monitor reads the ADU
    # the suggestions wrote), then rolled back.
    with contextlib.closing(env.cr.savepoint()):
        suggestions = until_empty(env, lambda: Rule._cron_distribution_suggestions(batch_size=batch))
        if wanted("suggestions"):
            changes_before = max_id(env, "distribution_replenishment_change")
            figures = measure(env, suggestions, memory)
            env.cr.execute(
                SQL(
                    "SELECT distribution_suggestion_state, count(*) FROM stock_warehouse_orderpoint "
                    "WHERE trigger = 'auto' GROUP BY 1 ORDER BY 1"
                )
            )
            states = ", ".join(f"{count:,} {state}" for state, count in env.cr.fetchall())
            applied = scalar(
                env, SQL("SELECT count(*) FROM distribution_replenishment_change WHERE id > %s", changes_before)
            )
            figures["result"] = f"{states} ({applied:,} changes logged)"
            results["suggestions"] = figures
        elif wanted("low_stock"):
            suggestions()  # not measured: the low stock monitor reads the ADU they write

        if wanted("learning"):
            exceptions_before = max_id(env, "distribution_exception")
            figures = measure(env, until_empty(env, LeadTime._cron_learn), memory)
            drifting = scalar(
                env, SQL("SELECT count(*) FROM distribution_vendor_lead_time WHERE drifting AND product_id IS NULL")
            )
            lines = scalar(env, SQL("SELECT count(*) FROM distribution_vendor_lead_time"))
            figures["result"] = (
                f"{data.receipt_lines:,} receipts, {lines:,} lead-time lines, {drifting:,} vendors drifting, "
                + new_exceptions(env, exceptions_before, ["lead_time_drift"])
            )
            results["learning"] = figures

        if wanted("low_stock"):
            exceptions_before = max_id(env, "distribution_exception")
            figures = measure(env, until_empty(env, Monitor._cron_low_stock), memory)
            figures["result"] = new_exceptions(env, exceptions_before, ["low_stock"])
            results["low_stock"] = figures

        if wanted("aging"):
            exceptions_before = max_id(env, "distribution_exception")
            quants = scalar(env, SQL("SELECT count(*) FROM stock_quant"))
            aging = until_pass_done(env, lambda: Monitor._cron_aging_stock(batch_size=batch), lambda: quants)
            figures = measure(env, aging, memory)
            figures["result"] = new_exceptions(env, exceptions_before, ["aging_stock"])
            results["aging"] = figures

        if wanted("late"):
            exceptions_before = max_id(env, "distribution_exception")
            figures = measure(env, until_empty(env, Monitor._cron_late_transfers), memory)
            figures["result"] = new_exceptions(env, exceptions_before, ["late_transfer"])
            results["late"] = figures
    env.invalidate_all()
    return results


MEASURES = [
    # (key, label, unit of the records)
    ("suggestions", "ADU + suggestions (_cron_distribution_suggestions)", "rules"),
    ("learning", "lead-time learning (_cron_learn)", "vendors"),
    ("low_stock", "low stock monitor (_cron_low_stock)", "rules"),
    ("aging", "aging stock monitor (_cron_aging_stock)", "quants"),
    ("late", "late transfers monitor (_cron_late_transfers)", "pickings"),
    ("base_report", "BASELINE Odoo action_open_orderpoints()", "rules"),
    ("base_qty", "BASELINE Odoo qty_to_order of every rule", "rules"),
]


def report(scales):
    """scales: [(counts, results)]."""
    rows = []
    measures = [measure for measure in MEASURES if measure[0] in scales[0][1]]
    for key, label, unit in measures:
        for counts, results in scales:
            figures = results[key]
            records = max(figures["records"], 1)
            rows.append(
                [
                    label,
                    f"{counts['products']:,}",
                    f"{figures['records']:,} {unit}",
                    figures["calls"],
                    fmt(figures["ms"], 0),
                    fmt(figures["ms"] / records, 3),
                    f"{figures['queries']:,}",
                    fmt(figures["queries"] / records, 3),
                    fmt(figures["peak"] / 2**20, 1) if figures["peak"] is not None else "-",
                    figures["result"],
                ]
            )
    say("")
    print_table(
        ["measure", "products", "records", "calls", "ms", "ms/record", "queries", "q/record", "peak MB", "result"],
        rows,
    )

    say("\nFlatness: cost per record at each scale, and the largest scale's over the smallest's.")
    rows = []
    for key, label, _unit in measures:
        per = [
            (
                results[key]["ms"] / max(results[key]["records"], 1),
                results[key]["queries"] / max(results[key]["records"], 1),
            )
            for _counts, results in scales
        ]
        rows.append(
            [
                label,
                " / ".join(fmt(ms, 3) for ms, _q in per),
                f"{per[-1][0] / per[0][0]:.2f}x" if per[0][0] else "-",
                " / ".join(fmt(q, 3) for _ms, q in per),
                f"{per[-1][1] / per[0][1]:.2f}x" if per[0][1] else "-",
            ]
        )
    print_table(["measure", "ms/record", "ratio", "q/record", "ratio"], rows)
    counts, results = scales[-1]
    if "suggestions" in results and "base_qty" in results:
        per_rule = {key: results[key]["ms"] / max(results[key]["records"], 1) for key in ("suggestions", "base_qty")}
        record(
            "replenishment",
            f"reorder suggestions at {counts['products']:,} products, ms per rule",
            per_rule["suggestions"],
            per_rule["base_qty"],
            "Odoo's qty_to_order of every rule",
            "ms/rule",
            higher_is_better=False,
        )
    for key, label, _unit in measures:
        if key.startswith("base_") or len(scales) < 2:
            continue
        first, last = (
            results[key]["ms"] / max(results[key]["records"], 1) for _counts, results in (scales[0], scales[-1])
        )
        record(
            "replenishment",
            f"{label}: ms per record, largest scale",
            last,
            first,
            "the same job at the smallest scale (flat = 1.00x)",
            "ms/record",
            target=1.5,
            higher_is_better=False,
        )


# -- main -----------------------------------------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", default="bench_replen", help="the benchmark's own database (default: bench_replen)")
    parser.add_argument("--conf", default=str(DEFAULT_CONF), help="Odoo configuration file")
    parser.add_argument(
        "--products", default=None, help=f"products at each scale, comma-separated (default {QUICK_PRODUCTS})"
    )
    parser.add_argument("--full", action="store_true", help=f"the issue's size: --products {FULL_PRODUCTS}")
    parser.add_argument("--warehouses", type=int, default=3, help="warehouses (one rule per product and warehouse)")
    parser.add_argument("--batch", type=int, default=500, help="rules per cron batch (the nightly cron's: 500)")
    parser.add_argument("--no-memory", dest="memory", action="store_false", help="skip the tracemalloc runs")
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database first")
    parser.add_argument("--no-update", dest="update", action="store_false", help="do not update the addon")
    parser.add_argument(
        "--only",
        default=None,
        help=f"the measures to take, comma-separated among {', '.join(key for key, _l, _u in MEASURES)} (default: all)",
    )
    args = parser.parse_args()
    if args.full and args.products:
        sys.exit("--full and --products: one or the other.")
    sizes = sorted(int(n) for n in (args.products or (FULL_PRODUCTS if args.full else QUICK_PRODUCTS)).split(","))
    if not sizes or sizes[0] <= 0:
        sys.exit("--products: positive numbers.")
    only = set(args.only.split(",")) if args.only else None
    if only and only - {key for key, _l, _u in MEASURES}:
        sys.exit(f"--only: among {', '.join(key for key, _l, _u in MEASURES)}.")

    config.parse_config(["-c", args.conf, "-d", args.db, "--log-level=warn"])
    prepare_database(args.conf, args.db, args.fresh, args.update, MODULE)
    registry = Registry(args.db)
    started = time.perf_counter()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        env.cr.execute("SELECT version()")
        say(f"Database {args.db}: {env.cr.fetchone()[0].split(',')[0]}; Odoo {odoo.release.version}")
        try:
            data = Data(env, args.warehouses)
            say(
                f"Setup: {len(data.warehouses)} warehouses ({', '.join(data.warehouses.mapped('code'))}), "
                f"{len(data.internal_locations)} internal locations; scales of {', '.join(map(str, sizes))} products; "
                f"cron batch {args.batch}; peak memory {'measured' if args.memory else 'not measured (--no-memory)'}."
            )
            scales = []
            for size in sizes:
                generated = time.perf_counter()
                data.grow(size)
                counts = data.counts()
                say(
                    f"\n== Scale {len(scales) + 1}: {counts['products']:,} products, {counts['rules']:,} rules, "
                    f"{counts['quants']:,} quants, {counts['deliveries']:,} done deliveries, {counts['vendors']:,} "
                    f"vendors, {counts['purchases']:,} purchases ({counts['receipts']:,} receipt lines), "
                    f"{counts['late']:,} late pickings (generated in {time.perf_counter() - generated:.0f} s) =="
                )
                measured = time.perf_counter()
                results = bench_scale(data, args.memory, args.batch, only)
                say(f"  measured in {time.perf_counter() - measured:.0f} s")
                scales.append((counts, results))
            report(scales)
            say(
                "(ms and queries: the calls, each followed by env.flush_all() and the commit hooks; peak MB: the "
                "same measure run under tracemalloc, rolled back. The baseline rows are Odoo's own replenishment "
                "report over the same data.)"
            )
        finally:
            env.cr.rollback()  # nothing of the benchmark is committed
            say(f"\nRolled back: nothing was committed. Total {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
