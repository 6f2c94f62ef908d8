import uuid

from odoo import SUPERUSER_ID
from odoo import Command
from odoo import api
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

from .common_gates import TwoConnectionsMixin


@tagged("post_install", "-at_install")
class TestAuditConcurrentAppends(TwoConnectionsMixin, TransactionCase):
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
            # The new company's chain already holds what was made with it (its starter approval rules).
            start = company.distribution_audit_head_sequence

        def append(name):
            def run(env):
                company = env["res.company"].browse(company_id)
                env["distribution.audit.entry"]._append("config_changed", None, {"writer": name}, company=company)

            return run

        # A holds the head until B waits on it.
        attempts, retried = self._run_concurrently(append("a"), append("b"))
        self.assertEqual(len(retried), 1)
        self.assertIsInstance(retried[0], PG_CONCURRENCY_EXCEPTIONS_TO_RETRY)
        self.assertEqual(
            attempts, {"first": 1, "second": 2}, "B waited on the head, failed to serialize, then was retried"
        )

        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            Audit = env["distribution.audit.entry"]
            company = env["res.company"].browse(company_id)
            chain = Audit.search([("company_id", "=", company_id), ("sequence", ">", start)], order="sequence")
            self.assertEqual(chain.mapped("sequence"), [start + 1, start + 2])
            self.assertEqual([entry.data.count('"writer":"a"') for entry in chain], [1, 0])
            self.assertEqual(chain[1].prev_hash, chain[0].hash)
            self.assertEqual(company.distribution_audit_head_sequence, start + 2)
            result = Audit._verify_chain(company)
            self.assertEqual((result["reason"], result["checked"]), (None, start + 2))

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

        def decide(name):
            def run(env):
                user_id, request_id = ids[name]
                env(user=user_id)["distribution.approval.request"].browse(request_id)._decide("approve", f"By {name}")

            return run

        attempts, retried = self._run_concurrently(decide("a"), decide("b"))
        self.assertEqual(attempts, {"first": 1, "second": 2}, "B waited for A, failed to serialize, then was retried")
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
