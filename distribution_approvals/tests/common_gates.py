import threading
import time
from functools import partial

from odoo import SUPERUSER_ID
from odoo import api
from odoo.addons.distribution_observability.tests.rpc import JsonRpcMixin
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tests import HttpCase
from odoo.tests import new_test_user
from odoo.tools import SQL

from .common import ApprovalCase


class GateAttackCase(JsonRpcMixin, HttpCase, ApprovalCase):
    """The attacker's seat at a document gate: JSON-RPC over HTTP as the least privileged user who
    reaches the gate's methods, with a context of their choosing. Approvers decide in the server, as
    the decision wizard does; the audit trail is read for what happened."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stock_user = new_test_user(cls.env, "gate_stock_user", groups="stock.group_stock_user")
        cls.buyer = new_test_user(cls.env, "gate_buyer", groups="purchase.group_purchase_user")
        cls.clerk = new_test_user(cls.env, "gate_clerk", groups="base.group_user,base.group_partner_manager")

    def _decide(self, request, user, decision, comment):
        action = getattr(request.with_user(user), f"action_{decision}")()
        self.env[action["res_model"]].with_user(user).with_context(**action["context"]).create(
            {"comment": comment}
        ).action_confirm()

    def _audit_actions(self, request):
        """The audit trail's actions on ``request``, oldest first."""
        return self.Audit.search(
            [("res_model", "=", request._name), ("res_id", "=", request.id)], order="sequence"
        ).mapped("action")

    def _requests(self, record, request_type=None):
        domain = [("res_model", "=", record._name), ("res_id", "=", record.id)]
        if request_type:
            domain.append(("request_type", "=", request_type))
        return self.Request.search(domain)


class TwoConnectionsMixin:
    """Two transactions on two real connections, as two users' requests run in a server: committed
    fixtures (the connections must see them), Odoo's retry on a serialization failure, and a wait until
    one connection waits on the other's lock."""

    def _run_concurrently(self, first, second):
        """Run ``first(env)`` and, once it did its work, ``second(env)``, each in its own transaction
        retried as Odoo retries an RPC call; ``first`` commits only once ``second`` waits on it.
        Answer ({name: attempts}, [retried errors])."""
        registry = self.env.registry
        attempts = {"first": 0, "second": 0}
        retried, errors = [], []
        first_done, release_first = threading.Event(), threading.Event()

        def body(name, env):
            attempts[name] += 1
            (first if name == "first" else second)(env)
            if name == "first":
                first_done.set()
                release_first.wait(30)

        def worker(name):
            try:
                with registry.cursor() as cr:
                    # The test runner holds the registry lock: the thread is handed the registry.
                    cr.transaction = api.Transaction(registry)
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    self._retrying(partial(body, name, env), env, retried)
            except Exception as error:  # reported by the main thread
                errors.append((name, error))
                first_done.set()

        threads = {name: threading.Thread(target=worker, args=(name,)) for name in ("first", "second")}
        threads["first"].start()
        self.assertTrue(first_done.wait(30))
        threads["second"].start()
        self._wait_for_a_lock_wait(registry)
        release_first.set()
        for thread in threads.values():
            thread.join(60)
        self.assertFalse(errors)
        return attempts, retried

    def _retrying(self, func, env, retried):
        """What ``odoo.service.model.retrying`` does around an RPC call: on a serialization failure,
        roll back and call again; then commit."""
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

    def _wait_for_a_lock_wait(self, registry):
        """Until a connection of this database waits on a lock, 10 s at most."""
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
        raise AssertionError("the second transaction never waited on the first")
