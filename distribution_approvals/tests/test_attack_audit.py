import json

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import SQL

from ..services import audit
from .audit_keys import keyring_patch
from .common_gates import GateAttackCase

# The context keys that used to switch the trail off or open it, and what an attacker would add.
FORGED = {
    "distribution_audit_creating": [
        "distribution.approval.rule",
        "distribution.approval.tier",
        "distribution.approval.escalation",
        "distribution.validation.rule",
    ],
    "distribution_audit_append": True,
    "tracking_disable": True,
}


@tagged("post_install", "-at_install")
class TestAttackAudit(GateAttackCase):
    """The audit trail as a Distribution Manager would like to dodge it, over JSON-RPC with the old
    context keys forged: configuration made without an entry, entries written, changed or deleted; and
    as someone with database access and no key: the chain recomputed in SQL."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.startClassPatcher(keyring_patch(cls.env))

    def setUp(self):
        super().setUp()
        self.rpc_login(self.manager)

    def _entries(self, model, record_id):
        return self.Audit.search([("res_model", "=", model), ("res_id", "=", record_id)], order="sequence")

    def test_forged_keys_do_not_hide_configuration_changes(self):
        rule_id, error = self.rpc(
            "distribution.approval.rule",
            "create",
            {
                "name": "Quiet rule",
                "request_type": "discount",
                "tier_ids": [
                    Command.create(
                        {
                            "name": "Quiet tier",
                            "approver_type": "user",
                            "user_ids": [Command.set(self.approver_1.ids)],
                            "escalation_ids": [Command.create({"delay_hours": 1, "user_id": self.approver_2.id})],
                        }
                    )
                ],
            },
            context=FORGED,
        )
        self.assertIsNone(error)
        created = self._entries("distribution.approval.rule", rule_id)
        self.assertEqual(created.mapped("action"), ["rule_created"])
        values = json.loads(created.data)["details"]["values"]
        self.assertEqual(values["tier_ids"][0]["escalation_ids"][0]["user_id"]["id"], self.approver_2.id)

        # A tier and an escalation level added on their own, the keys forged: each is an entry of the rule.
        tier_id, error = self.rpc(
            "distribution.approval.tier",
            "create",
            {
                "rule_id": rule_id,
                "name": "Added tier",
                "approver_type": "user",
                "user_ids": [(6, 0, self.approver_3.ids)],
            },
            context=FORGED,
        )
        self.assertIsNone(error)
        _level_id, error = self.rpc(
            "distribution.approval.escalation",
            "create",
            {"tier_id": tier_id, "delay_hours": 2, "user_id": self.manager.id},
            context=FORGED,
        )
        self.assertIsNone(error)
        parts = [
            json.loads(entry.data)["details"]["part"]
            for entry in self._entries("distribution.approval.rule", rule_id)[1:]
        ]
        self.assertEqual(
            [(part["model"], part["event"]) for part in parts],
            [("distribution.approval.tier", "created"), ("distribution.approval.escalation", "created")],
        )
        self.assertTrue(
            all(entry.actor_id == self.manager for entry in self._entries("distribution.approval.rule", rule_id))
        )

        rule_id, error = self.rpc(
            "distribution.validation.rule",
            "create",
            {"name": "Quiet margin", "rule_type": "margin_floor", "margin_floor_pct": 1.0},
            context=FORGED,
        )
        self.assertIsNone(error)
        self.assertEqual(self._entries("distribution.validation.rule", rule_id).mapped("action"), ["rule_created"])

    def test_entries_cannot_be_written_created_or_deleted(self):
        self._rule(tiers=[self._users_tier("One", self.approver_1)])
        request = self._request()
        entry = self._entries(request._name, request.id)[-1:]
        head = (entry.sequence, entry.hash)
        # The auditor's role reads the trail: it writes nothing, context or not.
        self.rpc_login(self.approver_1)
        self.assertRpcRefused(
            "distribution.audit.entry", "write", entry.ids, {"record_name": "Nothing"}, context=FORGED
        )
        self.assertRpcRefused("distribution.audit.entry", "unlink", entry.ids, context=FORGED)
        self.assertRpcRefused(
            "distribution.audit.entry",
            "create",
            {
                "company_id": self.company.id,
                "sequence": entry.sequence + 1,
                "logged_at": "2026-01-01",
                "action": "approved",
            },
            context=FORGED,
        )
        self.assertRpcRefused("distribution.audit.entry", "copy", entry.ids, context=FORGED)
        # Server code given the old key, with every right: the guard is the server verb, not the context.
        Audit = self.Audit.sudo().with_context(distribution_audit_append=True)
        with self.assertRaises(AccessError):
            Audit.create({"company_id": self.company.id, "sequence": entry.sequence + 1, "action": "approved"})
        with self.assertRaises(AccessError):
            entry.sudo().with_context(distribution_audit_append=True).write({"record_name": "Nothing"})
        entry.invalidate_recordset()
        self.assertEqual((entry.sequence, entry.hash), head)
        self.assertIsNone(self.Audit._verify_chain(self.company)["reason"])

    def test_chain_recomputed_in_sql_without_the_key_is_detected(self):
        self._rule(tiers=[self._users_tier("One", self.approver_1)])
        request = self._request(amount=4321.0)
        entry = self._entries(request._name, request.id)[-1:]
        # Someone with database access lowers the amount and recomputes the hash, as plain SHA-256 would.
        self.env.flush_all()
        data = entry.data.replace('"amount":4321.0', '"amount":1.0')
        self.env.cr.execute(
            SQL(
                "UPDATE distribution_audit_entry SET data = %s, hash = %s WHERE id = %s",
                data,
                audit.chain_hash(entry.prev_hash, data),
                entry.id,
            )
        )
        self.env.cr.execute(
            SQL(
                "UPDATE res_company SET distribution_audit_head_hash = %s WHERE id = %s",
                audit.chain_hash(entry.prev_hash, data),
                self.company.id,
            )
        )
        self.env.invalidate_all()
        self.rpc_login(self.approver_1)
        action, error = self.rpc("distribution.audit.entry", "action_verify_integrity", [])
        self.assertIsNone(error)
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn(f"entry {entry.sequence} is broken", action["params"]["message"])
