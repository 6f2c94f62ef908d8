import base64
import csv
import hashlib
import hmac
import io
import json
import os
import tempfile
from unittest.mock import patch

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tools import SQL
from odoo.tools import config

from ..models import distribution_audit_entry as audit_entry_module
from ..services import audit
from .audit_keys import TEST_KEY
from .audit_keys import TEST_KEY_ID
from .audit_keys import keyring_patch
from .common import ApprovalCase


def signed(prev_hash, data):
    """The hash of an entry signed with the test key, as an auditor holding the key recomputes it."""
    return hmac.new(TEST_KEY.encode(), (prev_hash + data).encode(), hashlib.sha256).hexdigest()


@tagged("post_install", "-at_install")
class TestAuditTrail(ApprovalCase):
    """The trail is one hash chain per company, closed to the ORM, and any edit made directly in the
    database is named by "Verify integrity"."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.startClassPatcher(keyring_patch(cls.env))
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
        # Company B's chain holds the membership of its approver (set up with the class) so far.
        before_b = self._chain(self.company_b)
        self.assertEqual(before_b.mapped("action"), ["membership_changed"] * len(before_b))
        request_a = self._request(amount=1000.0)
        request_b = self.Request.with_user(self.requester)._request(self._order_b(), "discount", amount=700.0)
        request_a.with_user(self.approver_1)._decide("approve", "Fine")

        chain_a = self._chain(self.company) - before_a
        chain_b = self._chain(self.company_b) - before_b
        self.assertEqual(chain_b.mapped("sequence"), [len(before_b) + 1])
        self.assertEqual(chain_b.prev_hash, before_b[-1:].hash or audit.GENESIS)
        self.assertEqual(chain_b.res_id, request_b.id)
        self.assertEqual(chain_a.mapped("action"), ["requested", "approved"])
        self.assertEqual(chain_a.mapped("res_id"), [request_a.id, request_a.id])
        self.assertEqual(chain_a[0].sequence, len(before_a) + 1)
        self.assertEqual(chain_a[1].prev_hash, chain_a[0].hash)
        for entry in chain_a | chain_b:
            # Keyed: HMAC with the configured key, which plain SHA-256 (what an intruder can compute) is not.
            self.assertEqual(entry.key_id, TEST_KEY_ID)
            self.assertEqual(entry.hash, signed(entry.prev_hash, entry.data))
            self.assertNotEqual(entry.hash, hashlib.sha256((entry.prev_hash + entry.data).encode()).hexdigest())
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
        # Entries written before a key was configured (the database's history) are told apart.
        unsigned = sum(self._verify(company)["unsigned"] for company in self.auditor.company_ids)
        self.assertEqual(action["params"]["type"], "warning" if unsigned else "success")
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

        # An edit whose own hash was recomputed without the key is caught at the entry itself.
        self.env.cr.execute("SAVEPOINT tamper")
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
        self.assertEqual((result["entry"], result["reason"]), (second, "hash_mismatch"))
        self.env.cr.execute("ROLLBACK TO SAVEPOINT tamper")
        self.env.invalidate_all()

        # Even with the key (a stolen one), an entry re-signed alone is caught by the next entry's link.
        self._tamper(
            SQL(
                "UPDATE distribution_audit_entry SET data = %s, hash = %s WHERE id = %s",
                data,
                signed(second.prev_hash, data),
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
        # Offline recomputation by an auditor holding the keys: each hash from the row's prev_hash and data,
        # with the key the row names (plain SHA-256 for a row written before a key was configured); each
        # link to the row before.
        _current, keys = self.Audit._audit_keyring()
        previous = audit.GENESIS
        for row in rows:
            self.assertEqual(row["prev_hash"], previous)
            key = keys.get(row["key_id"]) if row["key_id"] else None
            self.assertEqual(audit.chain_hash(row["prev_hash"], row["data"], key), row["hash"])
            self.assertEqual(json.loads(row["data"])["sequence"], int(row["sequence"]))
            previous = row["hash"]
        self.assertEqual(rows[-1]["key_id"], TEST_KEY_ID)
        self.assertEqual(signed(rows[-1]["prev_hash"], rows[-1]["data"]), rows[-1]["hash"])

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

    # -- keys and anchors --------------------------------------------------------------------------
    def _entries_in(self, company, count=3):
        """``count`` entries in ``company``'s chain (a rule made and changed there); answers the chain."""
        rule = self.Rule.create(
            {
                "name": "Anchored rule",
                "request_type": "custom",
                "company_id": company.id,
                "tier_ids": [Command.create(self._users_tier("Named", self.approver_b))],
            }
        )
        for index in range(1, count):
            rule.write({"amount_min": float(index)})
        return self._chain(company)

    def _rehash_without_key(self, company, from_sequence=1, keep_key_id=False):
        """What an intruder with database access and no key does: recompute every hash of the chain
        from ``from_sequence`` with plain SHA-256 (clearing the key id, unless ``keep_key_id``), then move
        the company's head along."""
        self.env.flush_all()
        previous = None
        for entry in self._chain(company):
            if entry.sequence < from_sequence:
                previous = entry.hash
                continue
            prev_hash = previous or audit.GENESIS
            new_hash = audit.chain_hash(prev_hash, entry.data)
            key_id = SQL("key_id") if keep_key_id else SQL("NULL")
            self.env.cr.execute(
                SQL(
                    "UPDATE distribution_audit_entry SET prev_hash = %s, hash = %s, key_id = %s WHERE id = %s",
                    prev_hash,
                    new_hash,
                    key_id,
                    entry.id,
                )
            )
            previous = new_hash
        self.env.cr.execute(
            SQL("UPDATE res_company SET distribution_audit_head_hash = %s WHERE id = %s", previous, company.id)
        )
        self.env.invalidate_all()

    def test_full_rehash_without_the_key_is_detected(self):
        self._entries_in(self.company_b)
        anchored = audit.parse_head(self.Audit._signed_head(self.company_b))
        self.assertIsNone(self._verify(self.company_b)["reason"])

        # Keeping the key ids: the first recomputed entry no longer matches its keyed hash.
        self.env.cr.execute("SAVEPOINT tamper")
        self._rehash_without_key(self.company_b, keep_key_id=True)
        result = self._verify(self.company_b)
        self.assertEqual((result["sequence"], result["reason"]), (1, "hash_mismatch"))
        self.env.cr.execute("ROLLBACK TO SAVEPOINT tamper")
        self.env.invalidate_all()

        # From the middle on, passing the entries off as unkeyed: an unsigned entry after signed ones.
        self.env.cr.execute("SAVEPOINT tamper")
        self._rehash_without_key(self.company_b, from_sequence=2)
        result = self._verify(self.company_b)
        self.assertEqual((result["sequence"], result["reason"]), (2, "unsigned_entry"))
        self.env.cr.execute("ROLLBACK TO SAVEPOINT tamper")
        self.env.invalidate_all()

        # The whole chain passed off as unkeyed: it links, but no entry is signed while a key is configured,
        # which the verification says; and it no longer reaches the head anchored outside the database.
        self._rehash_without_key(self.company_b)
        result = self._verify(self.company_b)
        self.assertIsNone(result["reason"])
        self.assertEqual((result["keyed"], result["unsigned"]), (True, result["checked"]))
        notification = self.Audit._verification_notification([result])["params"]
        self.assertEqual(notification["type"], "warning")
        self.assertIn("not signed with a key", notification["message"])
        result = self.Audit.with_user(self.auditor)._verify_anchor(anchored)
        self.assertEqual((result["sequence"], result["reason"]), (anchored["sequence"], "anchor_mismatch"))

    def test_unkeyed_chain_is_flagged(self):
        company = self.env["res.company"].create({"name": "Unkeyed Company"})
        self.auditor.company_ids = [Command.link(company.id)]
        self.approver_b.company_ids = [Command.link(company.id)]
        with keyring_patch(self.env, current=None):
            chain = self._entries_in(company, count=2)
            self.assertEqual(chain.mapped("key_id"), [False, False])
            self.assertEqual(chain[0].hash, hashlib.sha256((chain[0].prev_hash + chain[0].data).encode()).hexdigest())
            result = self._verify(company)
            self.assertEqual((result["reason"], result["keyed"], result["unsigned"]), (None, False, 2))
            notification = self.Audit._verification_notification([result])["params"]
        self.assertEqual(notification["type"], "warning")
        self.assertIn("unkeyed", notification["message"])

    def test_rotated_keys_verify_old_entries(self):
        """Entries signed with an old key still verify while that key stays listed; a key dropped from the
        configuration is named."""
        with keyring_patch(self.env, current="old", keys={"old": "the old secret"}):
            old = self._entries_in(self.company_b, count=2)
        self.assertEqual(old[-1].key_id, "old")
        with keyring_patch(self.env, current="new", keys={"old": "the old secret", "new": "the new secret"}):
            self.Rule.search([("company_id", "=", self.company_b.id)], limit=1).write({"amount_min": 99.0})
            self.assertEqual(self._chain(self.company_b)[-1].key_id, "new")
            self.assertIsNone(self._verify(self.company_b)["reason"])
        with keyring_patch(self.env, current="new", keys={"new": "the new secret"}):
            result = self._verify(self.company_b)
        self.assertEqual((result["sequence"], result["reason"]), (old[-1].sequence - 1, "unknown_key"))

    def test_heads_are_anchored_outside_the_database(self):
        self._entries_in(self.company_b, count=2)
        endpoint = self.env["distribution.outbound.endpoint"].create(
            {
                "name": "Audit anchor",
                "url": "https://anchor.example.com/heads",
                "event_types": "audit.head",
                "company_id": self.company_b.id,
            }
        )
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "audit-heads.jsonl")
            with patch.dict(config.options, {"distribution_audit_head_file": path}):
                self.Audit._cron_anchor_heads()
                self.Audit._cron_anchor_heads()
            with open(path, encoding="utf-8") as head_file:
                lines = head_file.read().splitlines()
        heads = [audit.parse_head(line) for line in lines]
        mine = [head for head in heads if head["company_id"] == self.company_b.id]
        self.assertEqual(len(mine), 2, "one line per company and anchoring")
        head = mine[-1]
        self.assertEqual(
            (head["sequence"], head["hash"], head["key_id"]),
            (self.company_b.distribution_audit_head_sequence, self.company_b.distribution_audit_head_hash, TEST_KEY_ID),
        )
        self.assertTrue(audit.head_signature_valid(head, {TEST_KEY_ID: TEST_KEY}))
        event = self.env["distribution.outbound.event"].search(
            [("event_type", "=", "audit.head"), ("endpoint_id", "=", endpoint.id)], order="id desc", limit=1
        )
        self.assertEqual(json.loads(event.payload)["data"]["hash"], head["hash"])

        def verify(text):
            wizard = self.env["distribution.audit.verify.wizard"].with_user(self.auditor).create({"head_lines": text})
            return wizard.action_verify()["params"]

        line = [line for line in lines if audit.parse_head(line)["company_id"] == self.company_b.id][-1]
        self.assertNotEqual(verify(line)["type"], "danger")

        # The newest entry deleted and the company's head moved back with it: the chain holds on its own,
        # the anchored head says what is missing.
        last = self._chain(self.company_b)[-1]
        last_sequence, last_prev_hash = last.sequence, last.prev_hash
        self._tamper(SQL("DELETE FROM distribution_audit_entry WHERE id = %s", last.id))
        self._tamper(
            SQL(
                "UPDATE res_company SET distribution_audit_head_sequence = %s, distribution_audit_head_hash = %s "
                "WHERE id = %s",
                last_sequence - 1,
                last_prev_hash,
                self.company_b.id,
            )
        )
        self.assertIsNone(self._verify(self.company_b)["reason"])
        outcome = verify(line)
        self.assertEqual(outcome["type"], "danger")
        self.assertIn(f"entry {last_sequence} is broken", outcome["message"])

        # A head line made up without the key is refused as such.
        forged = audit.canonical_json(dict(head, sequence=last_sequence - 1, hash=last_prev_hash))
        self.assertIn("not signed by a configured key", verify(forged)["message"])

    # -- governance configuration ------------------------------------------------------------------
    def _config_entries(self, record, actions=("config_created", "config_changed", "config_deleted")):
        return self.Audit.search(
            [("res_model", "=", record._name), ("res_id", "=", record.id), ("action", "in", list(actions))],
            order="sequence",
        )

    def test_approver_membership_changes_are_logged(self):
        user = self.requester
        self.approver_group.write({"users": [Command.link(user.id)]})
        user.write({"groups_id": [Command.unlink(self.approver_group.id)]})
        manager_group = self.env.ref("distribution_observability.group_distribution_manager")
        user.write({"groups_id": [Command.link(manager_group.id)]})
        entries = self._config_entries(user, actions=("membership_changed",))
        changes = [json.loads(entry.data)["details"]["groups"] for entry in entries]
        approver = "distribution_approvals.group_distribution_approver"
        manager = "distribution_observability.group_distribution_manager"
        self.assertEqual(
            [{xmlid: change["change"] for xmlid, change in groups.items()} for groups in changes],
            [{approver: "added"}, {approver: "removed"}, {manager: "added", approver: "added"}],
        )
        self.assertEqual(entries.company_id, user.company_ids)
        # A change that moves nobody in or out of the governed groups logs nothing.
        user.write({"groups_id": [Command.link(self.env.ref("base.group_multi_currency").id)]})
        self.assertEqual(self._config_entries(user, actions=("membership_changed",)), entries)
        self.assertIsNone(self._verify()["reason"])

    def test_routing_and_endpoints_are_logged_without_secrets(self):
        route = self.env["distribution.exception.route"].create(
            {"category": "credit", "company_id": self.company.id, "user_id": self.manager.id, "sla_hours": 4.0}
        )
        route.write({"sla_hours": 8.0})
        route.unlink()
        entries = self.Audit.search(
            [("res_model", "=", "distribution.exception.route"), ("res_id", "=", route.id)], order="sequence"
        )
        self.assertEqual(entries.mapped("action"), ["config_created", "config_changed", "config_deleted"])
        self.assertEqual(json.loads(entries[1].data)["details"]["changes"], {"sla_hours": {"old": 4.0, "new": 8.0}})

        outbound = self.env["distribution.outbound.endpoint"].create(
            {"name": "Hub", "url": "https://hub.example.com/events", "event_types": "approval.*"}
        )
        first_secret = outbound.secret
        outbound.action_regenerate_secret()
        outbound.write({"event_types": "approval.approved"})
        inbound = self.env["distribution.inbound.endpoint"].create(
            {"name": "Carrier", "code": "carrier-audit", "handler": "carrier_status"}
        )
        inbound.write({"secret": "a new inbound secret"})
        out_entries = self._config_entries(outbound)
        self.assertEqual(out_entries.mapped("action"), ["config_created", "config_changed", "config_changed"])
        self.assertEqual(json.loads(out_entries[0].data)["details"]["values"]["secret"], "(set)")
        self.assertEqual(json.loads(out_entries[1].data)["details"]["changes"], {"secret": {"changed": True}})
        self.assertEqual(
            json.loads(out_entries[2].data)["details"]["changes"],
            {"event_types": {"old": "approval.*", "new": "approval.approved"}},
        )
        in_entries = self._config_entries(inbound)
        self.assertEqual(in_entries.mapped("action"), ["config_created", "config_changed"])
        everything = "".join((out_entries | in_entries).mapped("data"))
        for secret in (first_secret, outbound.secret, inbound.secret, "a new inbound secret"):
            self.assertNotIn(secret, everything)

    def test_the_key_and_the_anchoring_are_shown(self):
        Run = self.env["distribution.workflow.run"]
        self.assertEqual((Run._audit_key_tile()["value"], Run._audit_key_tile()["level"]), ("keyed", "ok"))
        with keyring_patch(self.env, current=None):
            tile = Run._audit_key_tile()
            families = {name: samples for name, _kind, _help, samples in Run._metric_families()}
        self.assertEqual((tile["value"], tile["level"]), ("unkeyed", "warning"))
        self.assertEqual(families["distribution_audit_keyed"], [({}, 0)])
        cron = self.env.ref("distribution_approvals.ir_cron_distribution_audit_anchor")
        self.assertEqual((cron.model_id.model, cron.code.strip()), (self.Audit._name, "model._cron_anchor_heads()"))
        self.assertTrue(cron.active)
        data = self.env["ir.model.data"].search([("model", "=", "ir.cron"), ("res_id", "=", cron.id)])
        self.assertTrue(data.noupdate, "an operator's schedule survives an update")
