import threading
import time
import uuid
from functools import partial

from odoo import SUPERUSER_ID
from odoo import Command
from odoo import api
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tests import tagged
from odoo.tests.common import TransactionCase
from odoo.tools import SQL


@tagged("post_install", "-at_install")
class TestAuditConcurrentAppends(TransactionCase):
    """Two transactions, each on its own connection, append to one company's chain at the same time: the
    second waits on the chain's head, then fails with a serialization failure (never a duplicate position
    shown to the user), and Odoo's retry makes it succeed on top of the first. The data is committed (the
    two connections must see it) in a company made for the test, so that no other chain is touched."""

    def test_two_connections_append_to_one_chain(self):
        registry = self.env.registry
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env["res.company"].create({"name": f"Audit Concurrency {uuid.uuid4().hex[:8]}"})
            company_id = company.id
        attempts = {"a": 0, "b": 0}
        retried = []
        errors = []
        a_appended, release_a = threading.Event(), threading.Event()

        def append(name, env):
            attempts[name] += 1
            company = env["res.company"].browse(company_id)
            env["distribution.audit.entry"]._append("config_changed", None, {"writer": name}, company=company)
            if name == "a":
                # A holds the head until B is waiting on it.
                a_appended.set()
                release_a.wait(30)

        def worker(name):
            try:
                with registry.cursor() as cr:
                    # The test runner holds the registry lock while tests run: the thread is handed the
                    # registry instead of looking it up (a server's workers look it up freely).
                    cr.transaction = api.Transaction(registry)
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    self._retrying(partial(append, name, env), env, retried)
            except Exception as error:  # reported by the main thread
                errors.append((name, error))
                a_appended.set()

        thread_a = threading.Thread(target=worker, args=("a",))
        thread_b = threading.Thread(target=worker, args=("b",))
        thread_a.start()
        self.assertTrue(a_appended.wait(30), self._activity(registry))
        thread_b.start()
        self._wait_for_a_lock_wait(registry)
        release_a.set()
        thread_a.join(60)
        thread_b.join(60)
        self.assertFalse(errors)
        self.assertEqual(len(retried), 1)
        self.assertIsInstance(retried[0], PG_CONCURRENCY_EXCEPTIONS_TO_RETRY)
        self.assertEqual(attempts, {"a": 1, "b": 2}, "B waited on the head, failed to serialize, then was retried")

        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            Audit = env["distribution.audit.entry"]
            company = env["res.company"].browse(company_id)
            chain = Audit.search([("company_id", "=", company_id)], order="sequence")
            self.assertEqual(chain.mapped("sequence"), [1, 2])
            self.assertEqual([entry.data.count('"writer":"a"') for entry in chain], [1, 0])
            self.assertEqual(chain[1].prev_hash, chain[0].hash)
            self.assertEqual(company.distribution_audit_head_sequence, 2)
            result = Audit._verify_chain(company)
            self.assertEqual((result["reason"], result["checked"]), (None, 2))

    def test_two_concurrent_decisions_in_one_company(self):
        """The case of the issue: two approvers decide two requests of one company at the same time; both
        decisions go through (one after Odoo's retry), none is shown a duplicate position."""
        registry = self.env.registry
        suffix = uuid.uuid4().hex[:8]
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env["res.company"].create({"name": f"Decisions Concurrency {suffix}"})
            users = env["res.users"].create(
                [
                    {
                        "name": f"Concurrency {role}",
                        "login": f"concurrency_{role}_{suffix}",
                        "company_id": company.id,
                        "company_ids": [Command.set(company.ids)],
                        "groups_id": [Command.set(env.ref("base.group_user").ids)],
                    }
                    for role in ("requester", "approver_a", "approver_b")
                ]
            )
            requester, approver_a, approver_b = users
            env["distribution.approval.rule"].create(
                {
                    "name": "Concurrency rule",
                    "request_type": "custom",
                    "company_id": company.id,
                    "tier_ids": [
                        Command.create(
                            {
                                "name": "Either",
                                "approver_type": "user",
                                "user_ids": [Command.set((approver_a | approver_b).ids)],
                            }
                        )
                    ],
                }
            )
            partners = env["res.partner"].create(
                [{"name": f"Concurrency customer {index}", "company_id": company.id} for index in (1, 2)]
            )
            requests = [
                env["distribution.approval.request"]._request(partner, "custom", amount=10.0, requester=requester)
                for partner in partners
            ]
            ids = {
                "company": company.id,
                "a": (approver_a.id, requests[0].id),
                "b": (approver_b.id, requests[1].id),
            }
        attempts = {"a": 0, "b": 0}
        retried, errors = [], []
        a_decided, release_a = threading.Event(), threading.Event()

        def decide(name, env):
            attempts[name] += 1
            user_id, request_id = ids[name]
            env(user=user_id)["distribution.approval.request"].browse(request_id)._decide("approve", f"By {name}")
            if name == "a":
                a_decided.set()
                release_a.wait(30)

        def worker(name):
            try:
                with registry.cursor() as cr:
                    cr.transaction = api.Transaction(registry)  # see test_two_connections_append_to_one_chain
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    self._retrying(partial(decide, name, env), env, retried)
            except Exception as error:  # reported by the main thread
                errors.append((name, error))
                a_decided.set()

        thread_a = threading.Thread(target=worker, args=("a",))
        thread_b = threading.Thread(target=worker, args=("b",))
        thread_a.start()
        self.assertTrue(a_decided.wait(30), self._activity(registry))
        thread_b.start()
        self._wait_for_a_lock_wait(registry)
        release_a.set()
        thread_a.join(60)
        thread_b.join(60)
        self.assertFalse(errors)
        self.assertEqual(attempts, {"a": 1, "b": 2}, "B waited for A, failed to serialize, then was retried")
        self.assertIsInstance(retried[0], PG_CONCURRENCY_EXCEPTIONS_TO_RETRY)

        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            requests = env["distribution.approval.request"].browse([ids["a"][1], ids["b"][1]])
            self.assertEqual(requests.mapped("state"), ["approved", "approved"])
            Audit = env["distribution.audit.entry"]
            chain = Audit.search([("company_id", "=", ids["company"])], order="sequence")
            self.assertEqual(chain.mapped("sequence"), list(range(1, len(chain) + 1)))
            self.assertEqual(chain.filtered(lambda e: e.action == "approved").actor_id.ids, [ids["a"][0], ids["b"][0]])
            result = Audit._verify_chain(env["res.company"].browse(ids["company"]))
            self.assertEqual((result["reason"], result["checked"]), (None, len(chain)))

    def _retrying(self, func, env, retried):
        """What ``odoo.service.model.retrying`` does around every RPC call (which cannot run here: it takes
        the registry lock the test runner holds): on an error Odoo retries, roll back and call again, then
        commit."""
        for _attempt in range(5):
            try:
                func()
                env.cr.commit()
                return
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY as error:
                retried.append(error)
                env.cr.rollback()
                env.invalidate_all()
        raise AssertionError("still failing after 5 attempts")

    def _activity(self, registry):
        """What the connections of this database do (said when the test fails)."""
        with registry.cursor() as cr:
            cr.execute(
                "SELECT pid, state, wait_event_type, wait_event, left(query, 200) FROM pg_stat_activity "
                "WHERE datname = current_database()"
            )
            return repr(cr.fetchall())

    def _wait_for_a_lock_wait(self, registry):
        """Until a connection of this database waits on a lock (B on the head A holds), 10 s at most."""
        with registry.cursor() as cr:
            for _attempt in range(100):
                cr.execute(
                    SQL(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'"
                    )
                )
                if cr.fetchone()[0]:
                    return
                cr.rollback()
                time.sleep(0.1)
