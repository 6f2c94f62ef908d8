import base64
import csv
import hashlib
import io
import json

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tools import SQL

from ..models import distribution_audit_entry as audit_entry_module
from ..services import audit
from .common import ApprovalCase


@tagged("post_install", "-at_install")
class TestAuditTrail(ApprovalCase):
    """The trail is one hash chain per company, closed to the ORM, and any edit made directly in the
    database is named by "Verify integrity"."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create({"name": "Approvals Company B"})
        cls.customer_b = cls.env["res.partner"].create({"name": "Company B Customer", "company_id": cls.company_b.id})
        cls.approver_b = new_test_user(
            cls.env,
            "apr_approver_b",
            groups="distribution_approvals.group_distribution_approver,sales_team.group_sale_salesman",
            company_id=cls.company_b.id,
            company_ids=[Command.set(cls.company_b.ids)],
        )
        cls.auditor = new_test_user(
            cls.env,
            "apr_auditor",
            groups="distribution_approvals.group_distribution_approver",
            company_id=cls.company.id,
            company_ids=[Command.set((cls.company | cls.company_b).ids)],
        )

    def _order_b(self):
        return (
            self.env["sale.order"]
            .with_company(self.company_b)
            .create(
                {
                    "partner_id": self.customer_b.id,
                    "company_id": self.company_b.id,
                    "order_line": [Command.create({"product_id": self.product.id, "product_uom_qty": 1})],
                }
            )
        )

    def _chain(self, company):
        return self.Audit.search([("company_id", "=", company.id)], order="sequence")

    def _requested(self, request):
        """The 'requested' entry of ``request``."""
        return self.Audit.search(
            [("res_model", "=", request._name), ("res_id", "=", request.id), ("action", "=", "requested")]
        )

    def _tamper(self, query):
        """Change the table behind the ORM's back, as someone with database access would."""
        self.env.flush_all()
        self.env.cr.execute(query)
        self.env.invalidate_all()

    def _verify(self, company=None):
        return self.Audit.with_user(self.auditor)._verify_chain(company or self.company)

    def _pending_requests(self, count=3):
        """``count`` requests waiting for a decision: each logs 'requested'."""
        self._rule(tiers=[self._users_tier("Approvers", self.approver_1)])
        return [self._request(amount=1000.0 + index) for index in range(count)]

    # -- chain -------------------------------------------------------------------------------------
    def test_one_chain_per_company(self):
        before_a = self._chain(self.company)
        request_a = self._request(amount=1000.0)
        request_b = self.Request.with_user(self.requester)._request(self._order_b(), "discount", amount=700.0)
        request_a.with_user(self.approver_1)._decide("approve", "Fine")

        chain_a = self._chain(self.company) - before_a
        chain_b = self._chain(self.company_b)
        self.assertEqual(chain_b.mapped("sequence"), [1])
        self.assertEqual(chain_b.prev_hash, audit.GENESIS)
        self.assertEqual(chain_b.res_id, request_b.id)
        self.assertEqual(chain_a.mapped("action"), ["requested", "approved"])
        self.assertEqual(chain_a.mapped("res_id"), [request_a.id, request_a.id])
        self.assertEqual(chain_a[0].sequence, len(before_a) + 1)
        self.assertEqual(chain_a[1].prev_hash, chain_a[0].hash)
        for entry in chain_a | chain_b:
            self.assertEqual(entry.hash, hashlib.sha256((entry.prev_hash + entry.data).encode()).hexdigest())
        data = json.loads(chain_b.data)
        self.assertEqual((data["company_id"], data["action"]), (self.company_b.id, "requested"))
        self.assertEqual(data["actor_id"], self.requester.id)
        self.assertEqual(data["details"]["amount"], 700.0)
        approved = json.loads(chain_a[1].data)
        self.assertEqual((approved["actor_id"], approved["details"]["comment"]), (self.approver_1.id, "Fine"))

    def test_orm_cannot_write_delete_or_create_even_as_superuser(self):
        request = self._request()
        entry = self._chain(self.company)[-1:]
        for env_user in (self.env, self.env(user=self.approver_1)):
            with self.subTest(user=env_user.user.login):
                with self.assertRaises(AccessError):
                    entry.with_env(env_user).sudo().write({"record_name": "Edited"})
                with self.assertRaises(AccessError):
                    entry.with_env(env_user).sudo().unlink()
                with self.assertRaises(AccessError):
                    self.Audit.with_env(env_user).sudo().create(
                        {
                            "company_id": self.company.id,
                            "sequence": entry.sequence + 1,
                            "logged_at": entry.logged_at,
                            "action": "approved",
                        }
                    )
                with self.assertRaises(AccessError):
                    entry.with_env(env_user).sudo().copy()
        entry.invalidate_recordset()
        self.assertEqual(entry.record_name, request.name)
        self.assertFalse(self._verify()["reason"])

    # -- verification ------------------------------------------------------------------------------
    def test_intact_chain_is_reported_with_its_size(self):
        self._pending_requests()
        self.Request.with_user(self.requester)._request(self._order_b(), "discount", amount=5.0)
        result = self._verify()
        self.assertIsNone(result["reason"])
        self.assertEqual(result["checked"], len(self._chain(self.company)))
        action = self.Audit.with_user(self.auditor).action_verify_integrity()
        self.assertEqual(action["tag"], "display_notification")
        self.assertEqual(action["params"]["type"], "success")
        total = self.Audit.search_count([("company_id", "in", (self.company | self.company_b).ids)])
        self.assertIn(f"{total} entries verified, chain intact", action["params"]["message"])

    def test_verification_reads_the_chain_in_batches(self):
        """A chain longer than a batch is walked across batch boundaries (links between batches are
        checked as any other)."""
        self.patch(audit_entry_module, "_BATCH", 2)
        requests = self._pending_requests(count=3)
        self.assertIsNone(self._verify()["reason"])
        entry = self._requested(requests[2])
        self._tamper(SQL("UPDATE distribution_audit_entry SET prev_hash = %s WHERE id = %s", audit.GENESIS, entry.id))
        result = self._verify()
        self.assertEqual((result["sequence"], result["reason"]), (entry.sequence, "broken_link"))

    def test_data_edited_in_sql_is_named(self):
        requests = self._pending_requests()
        entry = self._requested(requests[1])
        self._tamper(
            SQL(
                "UPDATE distribution_audit_entry SET data = replace(data, %s, %s) WHERE id = %s",
                '"amount":1001.0',
                '"amount":11.0',
                entry.id,
            )
        )
        result = self._verify()
        self.assertEqual(result["entry"], entry)
        self.assertEqual((result["sequence"], result["reason"]), (entry.sequence, "hash_mismatch"))
        self.assertEqual(result["checked"], entry.sequence - 1)

    def test_columns_edited_in_sql_are_named(self):
        requests = self._pending_requests()
        entry = self._requested(requests[1])
        edits = {
            "actor_id": SQL("actor_id = %s", self.approver_2.id),
            "logged_at": SQL("logged_at = logged_at - interval '1 hour'"),
            "record_name": SQL("record_name = %s", "Another request"),
            "action": SQL("action = 'approved'"),
            "res_id": SQL("res_id = res_id + 1"),
        }
        for column, assignment in edits.items():
            with self.subTest(column=column):
                self.env.cr.execute("SAVEPOINT tamper")
                self._tamper(SQL("UPDATE distribution_audit_entry SET %s WHERE id = %s", assignment, entry.id))
                result = self._verify()
                self.assertEqual(result["entry"], entry)
                self.assertEqual(result["reason"], "data_mismatch")
                self.env.cr.execute("ROLLBACK TO SAVEPOINT tamper")
                self.env.invalidate_all()
                self.assertIsNone(self._verify()["reason"])

    def test_deleted_row_is_named(self):
        requests = self._pending_requests()
        entry = self._requested(requests[1])
        sequence = entry.sequence
        self._tamper(SQL("DELETE FROM distribution_audit_entry WHERE id = %s", entry.id))
        result = self._verify()
        self.assertEqual((result["sequence"], result["reason"]), (sequence, "missing_entry"))
        self.assertFalse(result["entry"])
        self.assertEqual(result["checked"], sequence - 1)
        message = self.Audit.with_user(self.auditor).action_verify_integrity()["params"]
        self.assertEqual(message["type"], "danger")
        self.assertIn(f"{self.company.name}: entry {sequence} is broken", message["message"])
        self.assertIn("missing", message["message"])

    def test_newest_entries_deleted_are_caught(self):
        """Deleting the newest entries leaves a chain that holds on its own: it no longer reaches the head
        recorded on the company."""
        self._pending_requests()
        last = self.Audit.search([("company_id", "=", self.company.id)], order="sequence desc", limit=1)
        self.assertEqual(self.company.distribution_audit_head_sequence, last.sequence)
        self.assertEqual(self.company.distribution_audit_head_hash, last.hash)
        sequence = last.sequence
        self._tamper(SQL("DELETE FROM distribution_audit_entry WHERE id = %s", last.id))
        result = self._verify()
        self.assertEqual((result["sequence"], result["reason"]), (sequence, "tail_missing"))
        self.assertEqual(result["checked"], sequence - 1)

    def test_forged_prev_hash_and_reordered_rows_are_named(self):
        requests = self._pending_requests()
        second = self._requested(requests[1])
        third = self._requested(requests[2])

        # A forged link: the entry claims to start a chain.
        self.env.cr.execute("SAVEPOINT tamper")
        self._tamper(SQL("UPDATE distribution_audit_entry SET prev_hash = %s WHERE id = %s", audit.GENESIS, second.id))
        result = self._verify()
        self.assertEqual((result["entry"], result["reason"]), (second, "broken_link"))
        self.env.cr.execute("ROLLBACK TO SAVEPOINT tamper")
        self.env.invalidate_all()

        # Two rows swapped: the first position that no longer holds its own entry is named.
        self.env.cr.execute("SAVEPOINT tamper")
        s2, s3 = second.sequence, third.sequence
        self._tamper(SQL("UPDATE distribution_audit_entry SET sequence = -1 WHERE id = %s", second.id))
        self._tamper(SQL("UPDATE distribution_audit_entry SET sequence = %s WHERE id = %s", s2, third.id))
        self._tamper(SQL("UPDATE distribution_audit_entry SET sequence = %s WHERE id = %s", s3, second.id))
        result = self._verify()
        self.assertEqual((result["sequence"], result["entry"]), (s2, third))
        self.assertIn(result["reason"], ("broken_link", "data_mismatch"))
        self.env.cr.execute("ROLLBACK TO SAVEPOINT tamper")
        self.env.invalidate_all()

        # An edit whose own hash was recomputed is caught by the next entry's link.
        data = second.data.replace('"amount":1001.0', '"amount":11.0')
        self._tamper(
            SQL(
                "UPDATE distribution_audit_entry SET data = %s, hash = %s WHERE id = %s",
                data,
                audit.chain_hash(second.prev_hash, data),
                second.id,
            )
        )
        result = self._verify()
        self.assertEqual((result["entry"], result["reason"]), (third, "broken_link"))

    def test_tampering_in_one_company_is_reported_with_that_company(self):
        self._pending_requests(count=1)
        self.Request.with_user(self.requester)._request(self._order_b(), "discount", amount=5.0)
        self.Request.with_user(self.requester)._request(self._order_b(), "discount", amount=6.0)
        entry_b = self._chain(self.company_b)[0]
        self._tamper(SQL("UPDATE distribution_audit_entry SET record_name = 'X' WHERE id = %s", entry_b.id))
        self.assertIsNone(self._verify(self.company)["reason"])
        message = self.Audit.with_user(self.auditor).action_verify_integrity()["params"]["message"]
        self.assertIn(f"{self.company_b.name}: entry 1 is broken", message)
        self.assertNotIn(f"{self.company.name}:", message)

    def test_verify_needs_the_approver_role(self):
        with self.assertRaises(AccessError):
            self.Audit.with_user(self.requester).action_verify_integrity()
        action = self.env.ref("distribution_approvals.distribution_audit_entry_action_verify")
        self.assertIn(self.approver_group, action.groups_id)
        result = action.with_user(self.approver_1).with_context(active_model="distribution.audit.entry").run()
        self.assertEqual(result["tag"], "display_notification")

    # -- rule changes ------------------------------------------------------------------------------
    def test_rule_changes_are_logged_with_old_and_new_values(self):
        Rule = self.Rule.with_user(self.manager)
        rule = Rule.create(
            {
                "name": "Big discounts",
                "request_type": "discount",
                "amount_min": 1000.0,
                "tier_ids": [
                    Command.create(
                        {
                            "name": "Sales managers",
                            "approver_type": "user",
                            "user_ids": [Command.set(self.approver_1.ids)],
                            "escalation_ids": [Command.create({"delay_hours": 4, "user_id": self.manager.id})],
                        }
                    )
                ],
            }
        )
        entries = lambda: self.Audit.search(  # noqa: E731
            [("res_model", "=", "distribution.approval.rule"), ("res_id", "=", rule.id)], order="sequence"
        )
        created = entries()
        self.assertEqual(created.mapped("action"), ["rule_created"])
        self.assertEqual(created.actor_id, self.manager)
        values = json.loads(created.data)["details"]["values"]
        self.assertEqual(values["amount_min"], 1000.0)
        self.assertEqual(
            values["tier_ids"][0]["user_ids"], {"ids": self.approver_1.ids, "names": [self.approver_1.name]}
        )
        self.assertEqual(values["tier_ids"][0]["escalation_ids"][0]["user_id"]["id"], self.manager.id)

        rule.write({"amount_max": 5000.0, "partner_category_ids": [Command.set(self.key_account.ids)], "sequence": 10})
        changed = entries() - created
        self.assertEqual(changed.action, "rule_changed")
        changes = json.loads(changed.data)["details"]["changes"]
        self.assertEqual(changes["amount_max"], {"old": 0.0, "new": 5000.0})
        self.assertEqual(
            changes["partner_category_ids"],
            {"old": {"ids": [], "names": []}, "new": {"ids": self.key_account.ids, "names": ["Key account"]}},
        )
        self.assertNotIn("sequence", changes, "an unchanged value is not a change")

        tier = rule.tier_ids
        tier.write({"min_approvals": 1, "sla_hours": 2.0})
        tier.escalation_ids.write({"delay_hours": 6})
        rule.write({"tier_ids": [Command.create({"name": "Directors", "approver_type": "group"})]})
        tier.unlink()
        parts = [json.loads(e.data)["details"]["part"] for e in entries() - created - changed]
        self.assertEqual(
            [(p["model"], p["event"]) for p in parts],
            [
                ("distribution.approval.tier", "changed"),
                ("distribution.approval.escalation", "changed"),
                ("distribution.approval.tier", "created"),
                ("distribution.approval.tier", "deleted"),
            ],
        )
        self.assertEqual(parts[0]["changes"], {"sla_hours": {"old": 8.0, "new": 2.0}})
        self.assertEqual(parts[1]["changes"], {"delay_hours": {"old": 4.0, "new": 6.0}})
        self.assertEqual(parts[3]["values"]["name"], "Sales managers")

        rule.action_archive()
        rule.unlink()
        archived, deleted = (entries() - created - changed)[-2:]
        self.assertEqual(json.loads(archived.data)["details"]["changes"]["active"], {"old": True, "new": False})
        self.assertEqual(deleted.action, "rule_deleted")
        self.assertEqual(json.loads(deleted.data)["details"]["values"]["tier_ids"][0]["name"], "Directors")
        self.assertIsNone(self._verify()["reason"])

    def test_validation_rule_changes_are_logged(self):
        rule = self.env["distribution.validation.rule"].create(
            {"name": "Margin floor", "rule_type": "margin_floor", "margin_floor_pct": 15.0}
        )
        rule.write({"margin_floor_pct": 12.5})
        entries = self.Audit.search(
            [("res_model", "=", "distribution.validation.rule"), ("res_id", "=", rule.id)], order="sequence"
        )
        self.assertEqual(entries.mapped("action"), ["rule_created", "rule_changed"])
        self.assertEqual(
            json.loads(entries[1].data)["details"]["changes"], {"margin_floor_pct": {"old": 15.0, "new": 12.5}}
        )

    # -- export ------------------------------------------------------------------------------------
    def _csv(self, action, user):
        self.assertEqual(action["type"], "ir.actions.act_url")
        attachment_id = int(action["url"].split("/web/content/")[1].split("?")[0])
        attachment = self.env["ir.attachment"].with_user(user).browse(attachment_id)
        return list(csv.DictReader(io.StringIO(base64.b64decode(attachment.datas).decode("utf-8"))))

    def test_csv_export_recomputes_to_the_same_chain(self):
        requests = self._pending_requests()
        requests[0].with_user(self.approver_1)._decide("reject", "Too much")
        chain = self._chain(self.company)
        rows = self._csv(self.Audit.with_user(self.auditor).action_export_csv(), self.auditor)
        self.assertEqual([int(row["sequence"]) for row in rows], chain.mapped("sequence"))
        self.assertEqual([row["hash"] for row in rows], chain.mapped("hash"))
        self.assertEqual(rows[-1]["action"], "rejected")
        self.assertEqual(rows[-1]["actor"], "apr_approver_1")
        # Offline recomputation: each hash from the row's prev_hash and data; each link to the row before.
        previous = audit.GENESIS
        for row in rows:
            self.assertEqual(row["prev_hash"], previous)
            self.assertEqual(hashlib.sha256((row["prev_hash"] + row["data"]).encode()).hexdigest(), row["hash"])
            self.assertEqual(json.loads(row["data"])["sequence"], int(row["sequence"]))
            previous = row["hash"]

        selected = chain[-2:]
        rows = self._csv(selected.with_user(self.auditor).action_export_csv(), self.auditor)
        self.assertEqual([int(row["id"]) for row in rows], selected.ids)
        self.assertEqual(rows[0]["data"], selected[0].data)
        with self.assertRaises(AccessError):
            self.Audit.with_user(self.requester).action_export_csv()

        # The same from the Action menu of the list, on the selected entries.
        server_action = self.env.ref("distribution_approvals.distribution_audit_entry_action_export_csv")
        action = (
            server_action.with_user(self.auditor)
            .with_context(active_model=self.Audit._name, active_ids=selected.ids, active_id=selected[0].id)
            .run()
        )
        self.assertEqual([int(row["id"]) for row in self._csv(action, self.auditor)], selected.ids)
