"""The demo of the orchestration addon: orders through the validation pipeline, exceptions worked by their
owners, signed inbound events and an outbox with a receiver down. For demo databases only (see
distribution_observability/models/distribution_demo.py)."""

import json
import time
import uuid
from datetime import timedelta

from odoo import Command
from odoo import api
from odoo import fields
from odoo import models
from odoo.tools import mute_logger

from ..services import inbound
from ..services import signature
from .distribution_outbound_event import _utcnow

MODULE = "distribution_orchestration"
# The closed port the demo's outbound endpoints post to (the discard port: nothing listens there), when the
# server allows private addresses; else a host name that never resolves (RFC 2606).
DOWN_URL_PRIVATE = "http://127.0.0.1:9/distribution/events"
DOWN_URL_PUBLIC = "https://connector.example.invalid/distribution/events"
OUTBOX_LOGGER = "odoo.addons.distribution_orchestration.models.distribution_outbound_event"
# A week of runs of the orchestration's workflows (see distribution.demo._distribution_demo_history).
HISTORY = {
    "order_validation": {
        "per_day": 30,
        "business": 0.14,
        "technical": 0.01,
        "success_reason": "validated",
        "failures": {
            "business": [
                ("credit_limit", "credit_limit"),
                ("stock_shortage", "stock_shortage"),
                ("credit_limit, stock_shortage", "credit_limit, stock_shortage"),
            ],
            "technical": [("OperationalError", 'could not obtain lock on row in relation "sale_order"')],
        },
        "duration_ms": 140,
    },
    "hold_release": {
        "per_day": 3,
        "success_reason": "holds_resolved",
        "failures": {},
        "duration_ms": 650,
    },
    "outbox_delivery": {
        "per_day": 16,
        "technical": 0.06,
        "failures": {
            "technical": [
                ("dead_letter", "11 delivered (latency p50 180 ms, p95 420 ms, max 610 ms), 0 to retry, 1 dead"),
                ("dead_letter", "4 delivered (latency p50 210 ms, p95 380 ms, max 380 ms), 2 to retry, 1 dead"),
            ]
        },
        "duration_ms": 900,
        "last_hour": 6,
        "last_hour_failures": 2,
    },
    "inbox_processing": {
        "per_day": 10,
        "business": 0.05,
        "technical": 0.03,
        "failures": {
            "business": [("inbox_events_failed", "3 done, 1 exception")],
            "technical": [("inbox_events_failed", "2 done, 1 failed")],
        },
        "duration_ms": 700,
    },
    "dispatch_scoring": {"per_day": 8, "skipped": 0.2, "failures": {}, "duration_ms": 1500},
    "reconciliation": {"per_day": 2, "failures": {}, "duration_ms": 1200},
    "replenishment_suggestions": {"per_day": 1, "failures": {}, "duration_ms": 2500},
    "lead_time_learning": {"per_day": 1, "failures": {}, "duration_ms": 1800},
    "supply_risk": {"per_day": 24, "failures": {}, "duration_ms": 900},
    "replenishment_run": {"per_day": 1, "failures": {}, "duration_ms": 6000},
    "stock_monitor": {
        "per_day": 12,
        "technical": 0.01,
        "failures": {"technical": [("SerializationFailure", "could not serialize access due to concurrent update")]},
        "duration_ms": 600,
    },
}


class DistributionDemo(models.AbstractModel):
    """The orchestration's demo flows: orders confirmed by a salesperson (held for credit and stock,
    warned, validated), their exceptions started, resolved and dismissed by their owners, carrier and 3PL
    events received and processed, rejected calls, and outbox events to receivers that are down."""

    _inherit = "distribution.demo"

    @api.model
    def _distribution_demo_orchestration(self):
        """Demo of the orchestration addon (called by demo/distribution_orchestration_demo.xml)."""
        self._distribution_demo_check(MODULE)
        ref = self.env.ref
        users = {
            "sales": ref(f"{MODULE}.user_demo_sales_rep"),
            "credit": ref(f"{MODULE}.user_demo_credit_controller"),
            "warehouse": ref(f"{MODULE}.user_demo_warehouse_lead"),
            "manager": ref("base.user_admin"),
        }
        main, east = ref("stock.warehouse0"), ref(f"{MODULE}.stock_warehouse_demo_east")
        products = {
            key: ref(f"product.{xmlid}")
            for key, xmlid in {
                "desk": "product_product_8",
                "cabinet": "product_product_6",
                "chair": "product_product_12",
                "drawer": "product_product_16",
                "box": "product_product_7",
                "bin": "product_product_9",
            }.items()
        }
        self._distribution_demo_supply_history(main, products)
        self._distribution_demo_stock(users["warehouse"], main, east, products)
        endpoints = self._distribution_demo_outbound_endpoints()
        orders = self._distribution_demo_orders(users, main, products)
        self._distribution_demo_inbox(orders)
        self._distribution_demo_outbox(endpoints)
        sale_orders = self._distribution_demo_odoo_orders()
        self._distribution_demo_history(
            HISTORY, records={"order_validation": sale_orders, "hold_release": sale_orders[:10]}
        )
        self._distribution_demo_replenishment(main, east, products)
        self._distribution_demo_evaluate_alerts()
        return True

    @api.model
    def _distribution_demo_replenishment(self, main, east, products):
        """Reordering rules for the everyday products in both warehouses, then the nightly scheduled actions
        run once, as they would: suggestions from the deliveries the demo made, lead times learned from
        the receipts of Odoo's demo purchases, the stock monitors."""
        Orderpoint = self.env["stock.warehouse.orderpoint"]
        for warehouse in (main, east):
            for key, (minimum, maximum) in {
                "desk": (5, 10),
                "drawer": (20, 60),
                "box": (40, 80),
                "bin": (0, 0),
                "chair": (6, 20),
            }.items():
                if key == "chair" and warehouse != main:
                    continue
                product = products[key]
                if Orderpoint.search_count([("product_id", "=", product.id), ("warehouse_id", "=", warehouse.id)]):
                    continue
                Orderpoint.create(
                    {
                        "product_id": product.id,
                        "warehouse_id": warehouse.id,
                        "location_id": warehouse.lot_stock_id.id,
                        "product_min_qty": minimum,
                        "product_max_qty": maximum,
                        "trigger": "auto",
                    }
                )
        Orderpoint._cron_distribution_suggestions()
        self.env["distribution.vendor.lead.time"]._cron_learn()
        self.env["purchase.order.line"]._cron_supply_risk()
        Monitor = self.env["distribution.stock.monitor"]
        Monitor._cron_low_stock()
        Monitor._cron_late_transfers()
        Monitor._cron_aging_stock()
        Monitor._cron_lot_issues()
        self._distribution_demo_assign(
            self.env["distribution.exception"].search([("deadline", "=", False), ("state", "=", "new")])
        )

    @api.model
    def _distribution_demo_odoo_orders(self, limit=30):
        """Odoo's own demo orders (those of the sale module), which the runs of the history are about: the
        demo's own orders have the runs of their real validation only."""
        data = self.env["ir.model.data"].search([("module", "=", "sale"), ("model", "=", "sale.order")], limit=limit)
        return self.env["sale.order"].browse(data.mapped("res_id")).exists()

    # -- the past of the supply chain ----------------------------------------------------------------
    # Deliveries a day over the last DELIVERY_DAYS days from the main warehouse, every third day. The
    # cabinets have no reordering rule: the suggestions propose one.
    DELIVERIES = {"box": 8, "drawer": 6, "bin": 3, "desk": 2, "chair": 3, "cabinet": 1}
    DELIVERY_DAYS = 60
    # Receipts of the past months: (vendor, product, planned delay, the days each receipt took).
    RECEIPTS = [
        ("base.res_partner_1", "box", 3, (8, 9, 7, 10, 8, 9)),
        ("base.res_partner_3", "drawer", 1, (1, 2, 1, 1, 2)),
    ]

    @api.model
    def _distribution_demo_supply_history(self, warehouse, products):
        """Two months of the warehouse's past, so that the replenishment has something to learn from:
        customer deliveries of the everyday products (the demand the reorder suggestions and the days of
        cover come from), and receipts of two vendors' purchase orders, one on time (Gemini Furniture) and
        one (Wood Corner, planned at 3 days) taking 7 to 10 days (the drift the lead time learning raises).
        Each is made
        through Odoo's own buttons (confirm, validate), then dated back to the day it belongs to, as an
        import of the history would: the learning and the demand read those dates, never set them."""
        today = fields.Datetime.now().replace(hour=10, minute=0, second=0, microsecond=0)
        # The deliveries: one transfer every third day with a line per product.
        Picking = self.env["stock.picking"]
        for days_ago in range(self.DELIVERY_DAYS, 0, -3):
            picking = Picking.create(
                {
                    "picking_type_id": warehouse.out_type_id.id,
                    "partner_id": self.env.ref("base.res_partner_2").id,
                    "location_id": warehouse.lot_stock_id.id,
                    "location_dest_id": self.env.ref("stock.stock_location_customers").id,
                    "origin": self.env._("Demo history"),
                    "move_ids": [
                        Command.create(
                            {
                                "name": products[key].display_name,
                                "product_id": products[key].id,
                                "product_uom_qty": per_day * 3,
                                "product_uom": products[key].uom_id.id,
                                "location_id": warehouse.lot_stock_id.id,
                                "location_dest_id": self.env.ref("stock.stock_location_customers").id,
                            }
                        )
                        for key, per_day in self.DELIVERIES.items()
                    ],
                }
            )
            picking.action_confirm()
            for move in picking.move_ids:
                move.write({"quantity": move.product_uom_qty, "picked": True})
            picking.with_context(skip_backorder=True, skip_sms=True).button_validate()
            self._distribution_demo_date_history(picking, today - timedelta(days=days_ago))
        # The receipts: a purchase order confirmed every 12 days, received the given days later.
        for vendor_xmlid, key, delay, took in self.RECEIPTS:
            vendor, product = self.env.ref(vendor_xmlid), products[key]
            info = product.seller_ids.filtered(lambda s, v=vendor: s.partner_id == v)[:1]
            if info:
                info.delay = delay
            else:
                product.product_tmpl_id.seller_ids = [Command.create({"partner_id": vendor.id, "delay": delay})]
            for index, days in enumerate(took):
                confirmed = today - timedelta(days=12 * (len(took) - index) + days)
                order = self.env["purchase.order"].create(
                    {
                        "partner_id": vendor.id,
                        "picking_type_id": warehouse.in_type_id.id,
                        "order_line": [
                            Command.create(
                                {
                                    "product_id": product.id,
                                    "product_qty": 60,
                                    "date_planned": confirmed + timedelta(days=delay),
                                }
                            )
                        ],
                    }
                )
                order.button_confirm()
                receipt = order.picking_ids
                for move in receipt.move_ids:
                    move.write({"quantity": move.product_uom_qty, "picked": True})
                receipt.button_validate()
                order.date_approve = confirmed
                order.order_line.date_planned = confirmed + timedelta(days=delay)
                self._distribution_demo_date_history(receipt, confirmed + timedelta(days=days))

    @api.model
    def _distribution_demo_date_history(self, picking, when):
        """Date a done transfer of the demo's history, its moves and their lines, on ``when``."""
        picking.write({"date_done": when})
        picking.move_ids.write({"date": when})
        picking.move_ids.move_line_ids.write({"date": when})

    # -- stock --------------------------------------------------------------------------------------
    @api.model
    def _distribution_demo_stock(self, counter, main, east, products):
        """Count the stock of both warehouses (inventory mode, then applied, as the physical inventory
        screen does): plenty of the everyday products in the main warehouse, a few cabinets and chairs
        only, and the East warehouse holding the cabinets the main one lacks."""
        everyday = ("desk", "drawer", "box", "bin")
        counts = {main.lot_stock_id: {}, east.lot_stock_id: {}}
        for key in everyday:
            product = products[key].with_context(warehouse_id=main.id)
            counts[main.lot_stock_id][products[key]] = product.qty_available + 200
        for key in ("cabinet", "chair"):
            product = products[key].with_context(warehouse_id=main.id)
            # Four free: on hand minus what the existing orders reserved.
            counts[main.lot_stock_id][products[key]] = max(product.qty_available - product.free_qty, 0) + 4
        counts[east.lot_stock_id] = {
            products["cabinet"]: 60,
            products["chair"]: 6,
            products["drawer"]: 80,
            products["box"]: 150,
        }
        Quant = self.env["stock.quant"].with_user(counter).with_context(inventory_mode=True)
        quants = Quant.browse()
        for location, quantities in counts.items():
            for product, quantity in quantities.items():
                quants |= Quant.create(
                    {"product_id": product.id, "location_id": location.id, "inventory_quantity": quantity}
                )
        quants.action_apply_inventory()

    # -- orders and their exceptions ----------------------------------------------------------------
    @api.model
    def _distribution_demo_orders(self, users, warehouse, products):
        """Orders confirmed by the salesperson, and their exceptions worked by their owners."""
        now = fields.Datetime.now()
        ref = self.env.ref
        Order = self.env["sale.order"].with_user(users["sales"])

        def confirm(name, partner, lines, hours_ago=0, **vals):
            order = Order.create(
                {
                    "partner_id": ref(partner).id,
                    "warehouse_id": warehouse.id,
                    "date_order": now - timedelta(hours=hours_ago),
                    "order_line": [
                        Command.create({"product_id": products[key].id, "product_uom_qty": qty}) for key, qty in lines
                    ],
                    **vals,
                }
            )
            order.action_confirm()
            exceptions = order.sudo().distribution_exception_ids
            if hours_ago and exceptions:
                # Raised when the order was confirmed, hours ago: the deadline below falls in the past.
                self._distribution_demo_backdate(exceptions, "create_date", now - timedelta(hours=hours_ago))
            self._distribution_demo_assign(exceptions)
            self._distribution_demo_xmlid(MODULE, f"demo_order_{name}", order)
            return order

        orders = {
            # Held for credit, and past its deadline: the credit controller has not acted yet.
            "credit_hold": confirm("credit_hold", "base.res_partner_1", [("desk", 3)], hours_ago=30),
            # Held for credit, then granted by the credit controller: the order confirms.
            "credit_released": confirm("credit_released", "base.res_partner_18", [("desk", 1), ("drawer", 10)]),
            # Short in the main warehouse, the East warehouse has it all: a warning, the order confirms.
            "stock_warning": confirm("stock_warning", "base.res_partner_2", [("cabinet", 10)]),
            # A key account that wants complete deliveries, short everywhere: held, past its deadline.
            "stock_hold": confirm("stock_hold", "base.res_partner_10", [("chair", 12)], hours_ago=10),
            # Everything in stock, a date the warehouse can meet: validated and confirmed.
            "validated": confirm(
                "validated",
                "base.res_partner_3",
                [("box", 10), ("bin", 4)],
                commitment_date=now + timedelta(days=5),
            ),
            # A key account short of cabinets: held, then the hold dismissed by a manager.
            "hold_dismissed": confirm("hold_dismissed", "base.res_partner_12", [("cabinet", 8)]),
        }
        Exception_ = self.env["distribution.exception"]
        # The credit controller grants the credit of Lumber Inc: the order is released and confirms.
        credit = orders["credit_released"].sudo().distribution_exception_ids.filtered("blocking")
        credit = credit.with_user(users["credit"])
        credit.write(
            {"resolution_note": "Payment of the overdue invoice received this morning; credit granted for this order."}
        )
        credit.action_resolve()
        # The warehouse lead takes the shortage of Deco Addict in hand.
        shortage = orders["stock_warning"].sudo().distribution_exception_ids
        Exception_.browse(shortage.ids).with_user(users["warehouse"]).action_start()
        # Azure Interior accepts two deliveries for once: a manager dismisses the hold, the order confirms.
        hold = orders["hold_dismissed"].sudo().distribution_exception_ids.filtered("blocking")
        hold = hold.with_user(users["manager"])
        hold.write({"resolution_note": "Azure Interior accepts two deliveries for this order (call with their buyer)."})
        hold.action_dismiss()
        return orders

    @api.model
    def _distribution_demo_assign(self, exceptions):
        """Owner, team and deadline from the routing table, as the shipped automation rule does on creation
        (automation rules are not hooked in while modules install)."""
        exceptions.filtered(lambda exception: not exception.deadline)._assign_and_notify()

    # -- inbound ------------------------------------------------------------------------------------
    @api.model
    def _distribution_demo_inbox(self, orders):
        """Carrier, 3PL and web shop events posted to the inbound endpoints, checked and stored as the webhook
        controller does, then processed as the inbox's scheduled action does (the shop's order sent twice
        makes one sale order, confirmed through the pipeline; an order with a SKU nobody knows makes none
        and an exception); calls signed with a key the carrier no longer holds are rejected; one event
        waits for the next run."""
        ref = self.env.ref
        carrier = ref(f"{MODULE}.distribution_inbound_endpoint_demo_carrier")
        tpl = ref(f"{MODULE}.distribution_inbound_endpoint_demo_3pl")
        shop = ref(f"{MODULE}.distribution_inbound_endpoint_demo_shop")
        now = fields.Datetime.now()
        shop_order = {
            "channel": "demo-shop",
            "order_ref": "#1001",
            "customer": {"email": ref("base.res_partner_3").email},
            # The shop's own SKU (mapped on the channel), and our internal reference of the pedal bins.
            "lines": [{"sku": "SHOP-BOX-01", "quantity": 6}, {"sku": "E-COM10", "quantity": 2}],
            "requested_date": (now + timedelta(days=4)).strftime("%Y-%m-%d"),
            "notes": "Deliver to the back door.",
        }

        def stamp(moment):
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

        validated = orders["validated"].picking_ids[:1]
        late = orders["stock_warning"].picking_ids[:1]
        released = orders["credit_released"].picking_ids[:1]
        events = self.env["distribution.inbound.event"]
        for endpoint, event_type, data in (
            (
                carrier,
                "carrier.status",
                {
                    "picking": validated.name,
                    "tracking_ref": "1Z999AA10123456784",
                    "status": "in_transit",
                    "eta": stamp(now + timedelta(days=3)),
                    "occurred_at": stamp(now - timedelta(hours=2)),
                },
            ),
            (
                carrier,
                "carrier.status",
                {
                    "picking": late.name,
                    "tracking_ref": "1Z999AA10123456791",
                    "status": "delayed",
                    "occurred_at": stamp(now - timedelta(hours=1)),
                },
            ),
            (
                carrier,
                "carrier.status",
                {"tracking_ref": "1Z999AA10999999999", "status": "in_transit", "occurred_at": stamp(now)},
            ),
            # A web shop order, sent twice under two event ids (the shop retried): one sale order.
            (shop, "order.created", shop_order),
            (shop, "order.created", shop_order),
            # An order naming a product the shop no longer maps: no order, one exception listing the problem.
            (
                shop,
                "order.created",
                dict(shop_order, order_ref="#1002", lines=[{"sku": "SHOP-LAMP-99", "quantity": 1}]),
            ),
            (
                tpl,
                "exception.report",
                {
                    "record": released.name,
                    "category": "other",
                    "severity": "high",
                    "message": "Pallet 2 of 2 arrived damaged at the 3PL dock: the desk is held for inspection.",
                },
            ),
        ):
            events |= self._distribution_demo_receive(endpoint, event_type, data)
        # The carrier rotated its key and one of its senders still signs with the old one.
        old_secret = "rotated-out-" + uuid.uuid4().hex
        for _index in range(24):
            self._distribution_demo_receive(
                carrier,
                "carrier.status",
                {"picking": validated.name, "status": "in_transit", "occurred_at": stamp(now)},
                secret=old_secret,
            )
        self._distribution_demo_process(events)
        # The shop's exception is on its channel, not on the event that brought it.
        invalid = self.env["distribution.exception"].search([("category", "=", "channel_order_invalid")])
        self._distribution_demo_assign(events.exception_id | invalid)
        # Arrived after the batch: the scheduled action takes it within a minute.
        waiting = self._distribution_demo_receive(
            carrier,
            "carrier.status",
            {"picking": validated.name, "status": "in_transit", "occurred_at": stamp(now + timedelta(seconds=1))},
        )
        self._distribution_demo_xmlid(MODULE, "demo_inbound_event_waiting", waiting)

    @api.model
    def _distribution_demo_receive(self, endpoint, event_type, data, secret=None):
        """Post one event to ``endpoint`` as a partner system does (the signed envelope of the contract),
        and receive it with the checks of the webhook controller, in its order: signature and freshness,
        the event id, the handler's schema, then the raw INSERT of ``_accept``. A refused call is counted in
        the rejection log. Answers the stored event (empty when refused)."""
        Event = self.env["distribution.inbound.event"]
        event_id = str(uuid.uuid4())
        occurred_at = _utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        body = signature.envelope(event_id, event_type, occurred_at, endpoint.company_id.name, data)
        headers = signature.headers(secret or endpoint.secret, event_type, event_id, int(time.time()), body)
        try:
            signature.verify(
                endpoint.secret,
                headers[signature.HEADER_TIMESTAMP],
                body,
                headers[signature.HEADER_SIGNATURE],
                now=time.time(),
            )
        except signature.SignatureError as error:
            endpoint._count_rejection(f"401 {error.reason}", status=401)
            return Event
        problems = inbound.validate(
            endpoint.handler,
            json.loads(body),
            event_id=event_id,
            event_type=event_type,
            categories=Event._valid_categories(),
        )
        if problems:
            endpoint._count_rejection(f"400 {'; '.join(problems)[:200]}", status=400)
            return Event
        stored = {name: headers[name] for name in (signature.HEADER_EVENT, signature.HEADER_EVENT_ID)}
        stored["Content-Type"] = "application/json"
        return Event.browse(Event._accept(endpoint, event_id, event_type, body.decode(), stored))

    @api.model
    def _distribution_demo_process(self, events):
        """Process received events as the inbox's scheduled action does once it has claimed them (one
        tracked run per batch, ``_process`` per event). Not through ``_cron_process`` itself: its claim
        commits, and demo data loads inside the installation's transaction."""
        outcomes = {}
        with self.env["distribution.workflow.run"].track("inbox_processing", events) as run:
            for event in events:
                state = event._process(run)
                outcomes[state] = outcomes.get(state, 0) + 1
            run.message = ", ".join(f"{count} {state}" for state, count in sorted(outcomes.items()))
            if outcomes.get("failed") or outcomes.get("exception"):
                run.fail("inbox_events_failed", run.message, kind="technical" if outcomes.get("failed") else "business")

    # -- outbound -----------------------------------------------------------------------------------
    @api.model
    def _distribution_demo_outbound_endpoints(self):
        """Three receivers that are down, subscribed before the orders are confirmed so that the events of
        the demo's flows are queued for them: a 3PL connector that is retried, an EDI gateway that gives
        up at the first failure, and the finance ledger, a system of record whose sync log shows the
        confirmed orders it has not acknowledged yet."""
        Endpoint = self.env["distribution.outbound.endpoint"]
        url = DOWN_URL_PRIVATE if Endpoint._outbound_allow_private() else DOWN_URL_PUBLIC
        endpoints = Endpoint.create(
            [
                {
                    "name": "3PL connector",
                    "url": url,
                    "event_types": "order.confirmed, order.released",
                    "timeout": 5,
                    "max_attempts": 5,
                },
                {
                    "name": "EDI gateway",
                    "url": url,
                    "event_types": "order.held",
                    "timeout": 5,
                    "max_attempts": 1,
                },
                {
                    "name": "Finance ledger",
                    "url": url,
                    "event_types": "order.confirmed, invoice.posted",
                    "timeout": 5,
                    "max_attempts": 8,
                    "sync_of_record": True,
                    "sync_reference_path": "data.entry.number",
                },
            ]
        )
        self._distribution_demo_xmlid(MODULE, "demo_outbound_endpoint_3pl", endpoints[0])
        self._distribution_demo_xmlid(MODULE, "demo_outbound_endpoint_edi", endpoints[1])
        self._distribution_demo_xmlid(MODULE, "demo_outbound_endpoint_ledger", endpoints[2])
        return endpoints

    @api.model
    def _distribution_demo_outbox(self, endpoints):
        """One delivery batch of the outbox's scheduled action: every attempt fails (nothing answers), the
        3PL connector's events wait for their retry, the EDI gateway's become dead letters. Then both
        endpoints are paused while their receivers are down: their events wait in the outbox."""
        Event = self.env["distribution.outbound.event"].with_context(
            # Harmless to set (see _outbox_may_commit): the demo loads inside the installation's transaction.
            distribution_outbox_no_commit=True
        )
        # The failed attempts are what the demo shows: their warnings would only say so in the install log.
        with mute_logger(OUTBOX_LOGGER):
            Event._cron_deliver()
        endpoints.action_archive()
