import json
import logging
from collections import defaultdict
from datetime import timedelta

import psycopg2
from markupsafe import Markup

import odoo
from odoo import api
from odoo import fields
from odoo import models
from odoo.tools import SQL

from ..services import inbound
from ..services import replenishment
from .distribution_exception import CATEGORIES

_logger = logging.getLogger(__name__)
CRON_XMLID = "distribution_orchestration.ir_cron_distribution_inbox_process"
STATES = [
    ("received", "Received"),
    ("processing", "Processing"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("exception", "Exception"),
]
# Source keys of the exceptions raised on an event itself (not on a business document).
SOURCE_BUSINESS = "inbox_business"
SOURCE_TECHNICAL = "inbox_technical"
# Documents an exception_report may point at by "model,id"; by name, the first three are searched.
REPORTABLE_MODELS = ("sale.order", "stock.picking", "purchase.order", "res.partner", "product.product")
# Claims tried in a new transaction when a candidate was updated by another worker after this one's snapshot.
CLAIM_ATTEMPTS = 3


class DistributionInboundEvent(models.Model):
    """One signed event received on an inbound endpoint, stored raw when the request is accepted and
    applied later by the scheduled action (``_cron_process``): the request stays cheap, a failing
    handler is retried with backoff and nothing the sender said is lost."""

    _name = "distribution.inbound.event"
    _description = "Inbound Webhook Event"
    _order = "received_at desc, id desc"
    _rec_name = "event_id"

    endpoint_id = fields.Many2one("distribution.inbound.endpoint", required=True, ondelete="restrict", readonly=True)
    handler = fields.Selection(related="endpoint_id.handler")
    event_id = fields.Char("Event ID", required=True, readonly=True)
    event_type = fields.Char("Type", readonly=True)
    body = fields.Text("Raw Body", readonly=True)
    headers = fields.Json(readonly=True, help="The contract headers of the request (never the signature's key).")
    received_at = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)
    state = fields.Selection(STATES, required=True, default="received", readonly=True)
    attempts = fields.Integer(readonly=True)
    next_attempt_at = fields.Datetime(readonly=True)
    processed_at = fields.Datetime(readonly=True)
    error = fields.Text(readonly=True)
    result = fields.Text(readonly=True, help="What the event changed.")
    exception_id = fields.Many2one("distribution.exception", "Exception Raised", readonly=True, ondelete="set null")
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)

    _sql_constraints = [
        # The database settles duplicates, also between two concurrent requests (see _accept).
        ("event_unique", "unique(endpoint_id, event_id)", "This event was already received on this endpoint."),
    ]

    def init(self):
        # The cron's pick: received and due failed events, oldest first; small because processed rows leave it.
        self.env.cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS distribution_inbound_event_todo_idx ON %s (next_attempt_at, id)"
                " WHERE state IN ('received', 'failed')",
                SQL.identifier(self._table),
            )
        )

    # -- accepting (request side) ----------------------------------------------------------------
    @api.model
    def _accept(self, endpoint, event_id, event_type, body, headers):
        """Store one event raw; its id, or None when this endpoint already received that event id.

        Raw SQL: ``INSERT .. ON CONFLICT DO NOTHING`` is one statement that settles duplicates in the
        database, also between two concurrent requests (the second waits for the first and inserts
        nothing), without a savepoint nor a failed statement in the log; the ORM cannot express it."""
        self.env.cr.execute(
            SQL(
                """INSERT INTO %(table)s (endpoint_id, event_id, event_type, body, headers, received_at, state,
                                      attempts, company_id, create_uid, write_uid, create_date, write_date)
               VALUES (%(endpoint)s, %(event_id)s, %(type)s, %(body)s, %(headers)s::jsonb,
                       now() at time zone 'UTC', 'received', 0, %(company)s, %(uid)s, %(uid)s,
                       now() at time zone 'UTC', now() at time zone 'UTC')
               ON CONFLICT (endpoint_id, event_id) DO NOTHING
               RETURNING id""",
                table=SQL.identifier(self._table),
                endpoint=endpoint.id,
                event_id=event_id,
                type=event_type,
                body=body,
                headers=json.dumps(headers),
                company=endpoint.company_id.id,
                uid=self.env.uid,
            )
        )
        row = self.env.cr.fetchone()
        return row[0] if row else None

    # -- processing (the scheduled action) -------------------------------------------------------
    @api.model
    def _cron_process(self, batch_size=100):
        """Apply the received events and the failed ones whose retry is due, oldest first, each in its
        own savepoint. The batch is claimed first (``_inbox_claim``: SKIP LOCKED, marked 'processing' and
        committed), so several workers share the work, none applies an event twice, and the events of a
        worker that dies stay visible in 'processing' until the reconciliation re-queues them. One
        ``inbox_processing`` run per company of the batch; a full batch triggers the next one."""
        events = self._inbox_claim(batch_size)
        if not events:
            return events
        for company in events.company_id:
            company_events = events.filtered(lambda event, c=company: event.company_id == c)
            outcomes = defaultdict(int)
            with self.env["distribution.workflow.run"].track("inbox_processing", company_events) as run:
                for event in company_events:
                    outcomes[event._process(run)] += 1
                run.message = ", ".join(f"{count} {state}" for state, count in sorted(outcomes.items()))
                if outcomes.get("failed") or outcomes.get("exception"):
                    run.fail(
                        "inbox_events_failed", run.message, kind="technical" if outcomes.get("failed") else "business"
                    )
        if len(events) == batch_size:
            self.env.ref(CRON_XMLID)._trigger()
        return events

    @api.model
    def _inbox_claim(self, batch_size):
        """Lock a batch of due events (SKIP LOCKED: rows another worker holds are left to it), mark them
        'processing' and commit: from then on no other worker takes them, and a crash leaves them in
        'processing' (committed) for the reconciliation to re-queue after its timeout. The commit is
        skipped on a test's transaction (see ``_inbox_may_commit``)."""
        self.flush_model(["state", "next_attempt_at"])
        for attempt in range(CLAIM_ATTEMPTS):
            try:
                with self.env.cr.savepoint(flush=False):
                    # Raw SQL: row locks with SKIP LOCKED are not available through the ORM.
                    self.env.cr.execute(
                        SQL(
                            """SELECT id FROM %s
                            WHERE state = 'received' OR (state = 'failed' AND next_attempt_at <= %s)
                            ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED""",
                            SQL.identifier(self._table),
                            fields.Datetime.now(),
                            batch_size,
                        ),
                        log_exceptions=False,
                    )
                    ids = [row[0] for row in self.env.cr.fetchall()]
                break
            except psycopg2.errors.SerializationFailure:
                # Odoo transactions are REPEATABLE READ: another worker claimed a candidate (and committed)
                # after this transaction's snapshot, and locking it fails. A new transaction sees that claim,
                # and SKIP LOCKED passes over the rows still locked. The claim is the first work of the scheduled
                # action: what its transaction holds so far (Odoo's progress record) is committed with it.
                if attempt + 1 == CLAIM_ATTEMPTS or not self._inbox_may_commit():
                    raise
                self.env.cr.commit()  # pylint: disable=invalid-commit
        events = self.browse(ids)
        if events:
            events.write({"state": "processing"})
            events.flush_recordset()
            if self._inbox_may_commit():
                self.env.cr.commit()  # pylint: disable=invalid-commit
                # Locked again for the processing transaction: while this worker lives, the reconciliation
                # (SKIP LOCKED) leaves them alone however long the batch takes; a dead worker's locks go with it.
                self.env.cr.execute(
                    SQL(
                        "SELECT id FROM %s WHERE id IN %s FOR NO KEY UPDATE",
                        SQL.identifier(self._table),
                        tuple(events.ids),
                    )
                )
        return events

    def _inbox_may_commit(self):
        """Whether the claim may commit its transaction: not on a test's transaction (its commit is
        forbidden and would break the test's rollback). A cursor a test opens itself commits."""
        if self.env.registry.in_test_mode():
            return False
        test = odoo.modules.module.current_test
        return not (test and self.env.cr is getattr(test, "cr", None))

    def _process(self, run):
        """Apply one event; its new state. A technical failure (any exception of the handler) is rolled
        back to the savepoint and retried with backoff, then turned into a technical exception; a
        business problem (unknown document) becomes a business exception on the event, not retried."""
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                exceptions, result = self._apply()
        except inbound.RetryLater as retry:
            return self._defer(retry, run)
        except psycopg2.errors.SerializationFailure as error:
            # Another worker changed a row this event updates (an exception two resends raise at once) after
            # this transaction's snapshot: it passes by itself, in a new transaction, like RetryLater.
            return self._defer(inbound.RetryLater(str(error).strip()), run)
        except inbound.BusinessProblem as problem:
            on = problem.on or {}
            exception = self.env["distribution.exception"]._raise_for(
                on.get("record") or self,
                on.get("source_key") or SOURCE_BUSINESS,
                on.get("category") or "integration",
                self._exception_message(problem.message),
                kind="business",
                severity="medium",
                reason_code=problem.reason,
                values={
                    "endpoint": self.endpoint_id.code,
                    "event_id": self.event_id,
                    "reason": problem.reason,
                    **(on.get("values") or {}),
                },
            )
            self.write(
                {
                    "state": "exception",
                    "error": problem.message,
                    "exception_id": exception.id,
                    "processed_at": fields.Datetime.now(),
                    "next_attempt_at": False,
                }
            )
            run.fail_item(self, problem.reason, problem.message, kind="business")
            return "exception"
        except Exception as error:  # any error of a handler is technical: retried, never a crash
            return self._record_failure(error, run)
        if self.exception_id and self.exception_id.res_model == self._name:
            self.env["distribution.exception"]._resolve_for(
                self, [SOURCE_BUSINESS, SOURCE_TECHNICAL], self.env._("The event was applied on a later attempt.")
            )
        self.write(
            {
                "state": "done",
                "error": False,
                "result": result,
                "exception_id": exceptions[:1].id,
                "processed_at": fields.Datetime.now(),
                "next_attempt_at": False,
            }
        )
        return "done"

    def _defer(self, retry, run):
        """An event that cannot be applied now for a reason that passes by itself (``inbound.RetryLater``):
        due again after a short pause (``inbound.retry_later_delay``: the other worker commits meanwhile), in
        a new transaction; counted as an attempt, so that it cannot loop for ever. At once would not do: a
        worker holds a business key until its whole batch is committed, and a few workers retrying at once
        spend every attempt within a second (seen on two servers, tests/test_fault_channel_orders.py)."""
        attempts = self.attempts + 1
        if attempts >= inbound.MAX_ATTEMPTS:
            return self._record_failure(retry, run)
        due = fields.Datetime.now() + timedelta(seconds=inbound.retry_later_delay(attempts))
        self.write({"state": "failed", "attempts": attempts, "error": str(retry), "next_attempt_at": due})
        self.env.ref(CRON_XMLID)._trigger(at=due)
        return "deferred"

    def _record_failure(self, error, run):
        attempts = self.attempts + 1
        message = f"{type(error).__name__}: {error}"[:2000]
        retry_at = inbound.next_attempt_at(fields.Datetime.now(), attempts)
        vals = {"attempts": attempts, "error": message, "next_attempt_at": retry_at}
        _logger.warning(
            "Inbound event %s (endpoint %s) failed, attempt %s/%s: %s",
            self.event_id,
            self.endpoint_id.code,
            attempts,
            inbound.MAX_ATTEMPTS,
            message,
        )
        if retry_at:
            vals["state"] = "failed"
        else:
            vals["state"] = "exception"
            vals["exception_id"] = (
                self.env["distribution.exception"]
                ._raise_for(
                    self,
                    SOURCE_TECHNICAL,
                    "integration",
                    self._exception_message(
                        self.env._(
                            "Processing failed %(count)s times; last error: %(error)s", count=attempts, error=message
                        )
                    ),
                    kind="technical",
                    severity="high",
                    reason_code="inbox_handler_error",
                    values={"endpoint": self.endpoint_id.code, "event_id": self.event_id, "attempts": attempts},
                )
                .id
            )
        self.write(vals)
        run.fail_item(self, "inbox_handler_error", message, kind="technical")
        return vals["state"]

    def _exception_message(self, text):
        return self.env._(
            "Inbound event %(event)s (%(type)s) from endpoint %(endpoint)s: %(text)s",
            event=self.event_id,
            type=self.event_type or self.handler,
            endpoint=self.endpoint_id.name,
            text=text,
        )

    def _apply(self):
        """Run the endpoint's handler on the stored body: (exceptions raised, text of what changed)."""
        payload = json.loads(self.body)
        handler = getattr(self.with_company(self.company_id), f"_handle_{self.endpoint_id.handler}")
        return handler(payload["data"])

    # -- handlers --------------------------------------------------------------------------------
    def _handle_carrier_status(self, data):
        """Status, ETA and time of the carrier's event on the delivery; an ETA beyond the promise raises
        ``late_transfer`` on it. A carrier event never validates a picking."""
        Picking = self.env["stock.picking"]
        company = [("company_id", "=", self.company_id.id)]
        ref, name = data.get("tracking_ref"), data.get("picking")
        picking = Picking.browse()
        if ref:
            picking = Picking.search([("distribution_tracking_ref", "=", ref), *company], limit=1)
        if not picking and name:
            picking = Picking.search([("name", "=", name), *company], limit=1)
        if not picking:
            raise inbound.BusinessProblem(
                "unknown_tracking",
                self.env._(
                    "no delivery has the tracking number %(ref)s or the reference %(name)s in %(company)s.",
                    ref=ref or "-",
                    name=name or "-",
                    company=self.company_id.name,
                ),
            )
        exception = picking._distribution_record_carrier_event(
            data["status"],
            inbound.parse_datetime(data.get("eta")),
            inbound.parse_datetime(data["occurred_at"]),
            tracking_ref=ref,
        )
        result = self.env._("%(picking)s: carrier status %(status)s", picking=picking.name, status=data["status"])
        return exception, result

    def _handle_supplier_update(self, data):
        """New planned dates on the purchase lines, the vendor's lead time on its pricelist lines, a note
        on the order; ``date_infeasible`` on the customer orders whose promise the new dates break.

        Affected orders, the simplest honest link: confirmed sale orders of the company with a line of
        a delayed product not fully delivered, whose commitment date is before that product's new
        planned date. It may over-report an order that stock on hand would serve (the reservation is
        not traced back to this purchase order), never misses one waiting on it."""
        order = self.env["purchase.order"].search(
            [("name", "=", data["purchase_order"]), ("company_id", "=", self.company_id.id)], limit=1
        )
        if not order:
            raise inbound.BusinessProblem(
                "unknown_purchase_order",
                self.env._(
                    "purchase order %(name)s not found in %(company)s.",
                    name=data["purchase_order"],
                    company=self.company_id.name,
                ),
            )
        if order.state == "cancel":
            raise inbound.BusinessProblem(
                "purchase_order_cancelled", self.env._("purchase order %s is cancelled.", order.name)
            )
        product_lines = order.order_line.filtered(lambda line: not line.display_type and line.product_id)
        updates, unknown = [], []
        for line_data in data.get("lines") or []:
            lines = product_lines.filtered(
                lambda line, code=line_data["product_code"]: line.product_id.default_code == code
            )
            if lines:
                updates.append((lines, line_data))
            else:
                unknown.append(line_data["product_code"])
        if unknown:
            raise inbound.BusinessProblem(
                "unknown_product_code",
                self.env._(
                    "purchase order %(order)s has no line for the product codes %(codes)s.",
                    order=order.name,
                    codes=", ".join(unknown),
                ),
            )
        planned_by_product, notes = {}, []
        for lines, line_data in updates:
            planned = inbound.parse_datetime(line_data["planned_date"])
            lines.write({"date_planned": planned})
            for product in lines.product_id:
                planned_by_product[product] = max(planned, planned_by_product.get(product, planned))
            quantity = line_data.get("quantity")
            notes.append(
                Markup("<li>%s</li>")
                % self.env._(
                    "%(code)s: planned %(date)s%(qty)s",
                    code=line_data["product_code"],
                    date=planned,
                    qty=self.env._(", quantity confirmed %s", quantity) if quantity is not None else "",
                )
            )
        lead_time = data.get("lead_time_days")
        if lead_time is not None:
            self._record_supplier_lead_time(order, product_lines.product_id, lead_time)
            notes.append(Markup("<li>%s</li>") % self.env._("Vendor lead time: %s days", lead_time))
        order.message_post(
            body=Markup("<p>%s</p><ul>%s</ul>")
            % (self.env._("Supplier update received (event %s):", self.event_id), Markup().join(notes)),
            subtype_xmlid="mail.mt_note",
        )
        exceptions = self._raise_infeasible_orders(order, planned_by_product)
        result = self.env._(
            "%(order)s: %(lines)s line(s) re-planned; %(count)s customer order(s) at risk%(names)s",
            order=order.name,
            lines=len(updates),
            count=len(exceptions),
            names=(": " + ", ".join(exceptions.sale_order_id.mapped("name"))) if exceptions else "",
        )
        return exceptions, result

    def _record_supplier_lead_time(self, order, products, lead_time):
        """The vendor's new lead time on its pricelist lines of these products, under the policy of learned
        lead times: a line is created when missing (the vendor sells the product, as the purchase order
        shows), a change within the company's lead time tolerance is written, a larger one is not: a
        ``lead_time_drift`` exception on the vendor says what was announced, for a Distribution Manager to
        apply (Supplier Lead Times) or to take up with the vendor, and the hook
        ``_distribution_announced_lead_time_beyond`` is called (an approvals addon asks for an approval).
        Answers that exception, if any."""
        vendor = order.partner_id.commercial_partner_id
        company = order.company_id
        Supplierinfo = self.env["product.supplierinfo"]
        beyond = {}
        for product in products:
            infos = product.seller_ids.filtered(lambda info: info.partner_id.commercial_partner_id == vendor)
            if not infos:
                Supplierinfo.create(
                    {
                        "partner_id": vendor.id,
                        "product_tmpl_id": product.product_tmpl_id.id,
                        "delay": lead_time,
                        "company_id": company.id,
                        "currency_id": order.currency_id.id,
                    }
                )
                continue
            within = infos.filtered(
                lambda info: replenishment.change_pct(info.delay, lead_time)
                <= company.distribution_lead_time_tolerance_pct
            )
            within.write({"delay": lead_time})
            if infos - within:
                beyond[product] = infos - within
        if not beyond:
            return self.env["distribution.exception"]
        planned = {product: infos[:1].delay for product, infos in beyond.items()}
        exception = (
            self.env["distribution.exception"]
            .with_company(company)
            ._raise_for(
                vendor,
                f"supplier_lead_time:{vendor.id}",
                "lead_time_drift",
                self.env._(
                    "%(vendor)s announces a lead time of %(days)s days (event %(event)s) for %(products)s, beyond "
                    "the tolerance of %(tolerance)s%% of what Odoo plans (%(planned)s days): not applied. A "
                    "Distribution Manager applies it on the vendor's price list lines, or takes it up with the vendor.",
                    vendor=vendor.display_name,
                    days=lead_time,
                    event=self.event_id,
                    products=", ".join(product.display_name for product in beyond),
                    tolerance=company.distribution_lead_time_tolerance_pct,
                    planned=", ".join(sorted({f"{delay:g}" for delay in planned.values()})),
                ),
                reason_code="supplier_lead_time_announced",
                values={
                    "announced_days": lead_time,
                    "planned_days": {product.display_name: delay for product, delay in planned.items()},
                    "purchase_order": order.name,
                    "event_id": self.event_id,
                },
            )
        )
        self._distribution_announced_lead_time_beyond(vendor, company, beyond, lead_time, exception)
        return exception

    def _distribution_announced_lead_time_beyond(self, vendor, company, beyond, lead_time, exception):
        """Hook: ``vendor`` announced ``lead_time`` days (this event), beyond ``company``'s tolerance for the
        price list lines ``beyond`` ({product.product: product.supplierinfo}), left as they are; ``exception``
        is the open ``lead_time_drift`` exception that says so. Nothing more here: an approvals addon asks
        for an approval of the announced days."""

    def _raise_infeasible_orders(self, order, planned_by_product):
        Exception_ = self.env["distribution.exception"]
        if not planned_by_product:
            return Exception_
        sale_lines = self.env["sale.order.line"].search(
            [
                ("product_id", "in", [product.id for product in planned_by_product]),
                ("order_id.state", "=", "sale"),
                ("order_id.commitment_date", "!=", False),
                ("company_id", "=", self.company_id.id),
            ]
        )
        late = defaultdict(list)
        for line in sale_lines:
            planned = planned_by_product[line.product_id]
            if line.qty_delivered < line.product_uom_qty and line.order_id.commitment_date < planned:
                late[line.order_id].append((line.product_id, planned))
        exceptions = Exception_
        for sale_order, products in late.items():
            latest = max(planned for _product, planned in products)
            exceptions |= Exception_._raise_for(
                sale_order,
                f"supplier_update:{order.id}",
                "date_infeasible",
                self.env._(
                    "Promised for %(promise)s, but vendor %(vendor)s now plans %(products)s for %(planned)s "
                    "(purchase order %(po)s). Agree a new date with the customer or find another source.",
                    promise=sale_order.commitment_date,
                    vendor=order.partner_id.display_name,
                    products=", ".join(product.display_name for product, _planned in products),
                    planned=latest,
                    po=order.name,
                ),
                severity="high",
                reason_code="supplier_delay",
                values={
                    "purchase_order": order.name,
                    "commitment_date": str(sale_order.commitment_date),
                    "planned_date": str(latest),
                    "event_id": self.event_id,
                },
            )
        return exceptions

    def _handle_exception_report(self, data):
        """An exception raised by the partner system, on the document it names (else on this event)."""
        record = self._reported_record(data["record"])
        exception = self.env["distribution.exception"]._raise_for(
            record or self,
            f"inbox:{self.event_id}",
            data["category"],
            data["message"],
            kind="business",
            severity=data["severity"],
            reason_code=data.get("reason_code") or data["category"],
            values={"endpoint": self.endpoint_id.code, "event_id": self.event_id, "record": data["record"]},
        )
        return exception, self.env._(
            "Exception %(name)s raised on %(record)s", name=exception.name, record=(record or self).display_name
        )

    def _handle_channel_order(self, data):
        """A customer order from a sales channel (distribution.sales.channel._intake): one sale order per
        channel and channel order reference, whatever the event id."""
        return self.env["distribution.sales.channel"]._intake_event(self, data)

    def _reported_record(self, reference):
        """The document of a reference ("model,id" or a name), in this event's company; None when unknown."""
        model, key = inbound.parse_record_ref(reference)
        if model:
            if model not in REPORTABLE_MODELS or model not in self.env:
                return None
            record = self.env[model].browse(key).exists()
            if not record:
                return None
        else:
            record = None
            for model in REPORTABLE_MODELS[:3]:
                record = self.env[model].search([("name", "=", key), ("company_id", "=", self.company_id.id)], limit=1)
                if record:
                    break
            if not record:
                return None
        other_company = "company_id" in record and record.company_id and record.company_id != self.company_id
        if other_company:
            return None
        return record

    # -- actions ---------------------------------------------------------------------------------
    def action_retry(self):
        """Process again (after the data was fixed): back to received, attempts reset, cron triggered."""
        to_retry = self.filtered(lambda event: event.state in ("failed", "exception"))
        to_retry.write({"state": "received", "attempts": 0, "next_attempt_at": False, "error": False})
        if to_retry:
            self.env.ref(CRON_XMLID)._trigger()
        return True

    @api.model
    def _valid_categories(self):
        return tuple(code for code, _label in CATEGORIES)
