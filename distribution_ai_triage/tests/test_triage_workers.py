import uuid

from odoo import SUPERUSER_ID
from odoo import api
from odoo.tests import TransactionCase
from odoo.tests import tagged


@tagged("post_install", "-at_install")
class TestTwoWorkers(TransactionCase):
    """Two workers run the classification at once, each on its own connection: the first holds its batch
    (classified, not committed yet), the second skips it without waiting and takes the others. Every
    message is classified once. The data is committed (both connections must see it) in a company made
    for the test, and removed at the end."""

    def test_skip_locked_batches(self):
        registry = self.env.registry
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env["res.company"].create({"name": f"Triage Workers {uuid.uuid4().hex[:8]}"})
            company_id = company.id
            Message = env["distribution.triage.message"]
            ids = Message._triage_create(
                [
                    {
                        "name": f"Where is my order {n}?",
                        "body_text": "Please send the tracking number.",
                        "company_id": company_id,
                        "state": "pending",
                    }
                    for n in range(5)
                ]
            ).ids
        try:
            first_cr = registry.cursor()
            second_cr = registry.cursor()
            try:
                first = api.Environment(first_cr, SUPERUSER_ID, {})["distribution.triage.message"]
                second = api.Environment(second_cr, SUPERUSER_ID, {})["distribution.triage.message"]
                self.assertEqual(first._cron_classify(batch_size=2, company_id=company_id), 2)
                # The first worker has not committed: its two messages are still locked (and pending to others).
                self.assertEqual(second._cron_classify(batch_size=10, company_id=company_id), 3)
                self.assertEqual(second._cron_classify(batch_size=10, company_id=company_id), 0)
                second_cr.commit()
                first_cr.commit()
            finally:
                first_cr.close()
                second_cr.close()
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                messages = env["distribution.triage.message"].browse(ids)
                self.assertEqual(set(messages.mapped("attempts")), {1}, "each message classified exactly once")
                self.assertNotIn("pending", messages.mapped("state"))
                runs = env["distribution.workflow.run"].search_count(
                    [("res_model", "=", messages._name), ("res_id", "in", ids)]
                )
                self.assertEqual(runs, 5)
        finally:
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["distribution.workflow.run"].search([("company_id", "=", company_id)]).unlink()
                env["distribution.triage.message"].browse(ids).unlink()


@tagged("post_install", "-at_install")
class TestBreakerAcrossWorkers(TransactionCase):
    """The breaker lives in the database and is committed on its own: a worker whose calls fail opens it,
    and another worker on another connection keeps off the provider at once, before the first worker's
    batch is committed (or even if it is rolled back)."""

    def test_a_breaker_opened_by_one_worker_stops_the_other(self):
        registry = self.env.registry
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            provider_id = (
                env["distribution.ai.provider"]
                .create(
                    {
                        "name": f"Breaker {uuid.uuid4().hex[:8]}",
                        "kind": "openai_chat",
                        "base_url": "http://127.0.0.1:9/v1",
                        "model": "m",
                        "breaker_threshold": 2,
                        "breaker_open_minutes": 10,
                        "active": False,
                    }
                )
                .id
            )
        try:
            first_cr, second_cr = registry.cursor(), registry.cursor()
            try:
                first = api.Environment(first_cr, SUPERUSER_ID, {})["distribution.ai.provider"].browse(provider_id)
                second = api.Environment(second_cr, SUPERUSER_ID, {})["distribution.ai.provider"].browse(provider_id)
                self.assertEqual(second._breaker_acquire(), (True, None))
                first._breaker_report(False, "connection")
                first._breaker_report(False, "connection")
                first_cr.rollback()  # the batch failed: the breaker stays open all the same
                self.assertEqual(second._breaker_acquire(), (False, "breaker_open"))
                with registry.cursor() as cr:  # a new transaction: the second's snapshot predates the opening
                    provider = api.Environment(cr, SUPERUSER_ID, {})["distribution.ai.provider"].browse(provider_id)
                    self.assertEqual((provider.breaker_state, provider.breaker_failures), ("open", 2))
            finally:
                first_cr.close()
                second_cr.close()
        finally:
            with registry.cursor() as cr:
                api.Environment(cr, SUPERUSER_ID, {})["distribution.ai.provider"].browse(provider_id).unlink()
