import psycopg2

from odoo import Command
from odoo.addons.distribution_observability.services import verbs
from odoo.exceptions import UserError
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import OrchestrationCase


@tagged("post_install", "-at_install")
class TestExceptionQueue(OrchestrationCase):
    """The exception queue: one open per source and document, routing, deadlines, company isolation."""

    def _raise(self, order, key="carrier_late", category="late_transfer"):
        return self.Exception._raise_for(order, key, category, "Carrier reports a delay")

    def test_unique_open_exception_is_enforced_by_the_database(self):
        order = self._order([(self.widget, 1)])
        first = self._raise(order)
        self.assertEqual(self._raise(order), first, "a repeat updates the open exception")
        # A second worker that raised the same exception at the same time: its create fails in the database.
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(psycopg2.errors.UniqueViolation),
            self.cr.savepoint(),
            verbs.server_verb("distribution_exception", self.Exception),
        ):
            self.Exception.create(
                {
                    "source_key": "carrier_late",
                    "category": "late_transfer",
                    "res_model": "sale.order",
                    "res_id": order.id,
                    "message": "duplicate",
                }
            )
        first.write({"resolution_note": "Carrier delivered"})
        first.action_resolve()
        self.assertNotEqual(self._raise(order), first, "after resolution a new one may open")

    def test_sequence_reference(self):
        exception = self._raise(self._order([(self.widget, 1)]))
        self.assertRegex(exception.name, r"^EXC/\d{4}/\d{4}$")

    def test_routing_to_a_user_sets_owner_deadline_and_activity(self):
        self.env["distribution.exception.route"].create(
            {
                "category": "late_transfer",
                "user_id": self.dist_user.id,
                "sla_hours": 4,
            }
        )
        exception = self._raise(self._order([(self.widget, 1)]))
        self.assertEqual(exception.user_id, self.dist_user)
        self.assertAlmostEqual((exception.deadline - exception.create_date).total_seconds(), 4 * 3600, delta=5)
        self.assertEqual(exception.activity_ids.user_id, self.dist_user)

    def test_routing_to_a_group_picks_the_least_loaded_member(self):
        team = self.env["res.groups"].create({"name": "Logistics desk"})
        busy = new_test_user(self.env, "busy_member", groups="distribution_observability.group_distribution_user")
        free = new_test_user(self.env, "free_member", groups="distribution_observability.group_distribution_user")
        team.users = busy | free
        self.env["distribution.exception.route"].create({"category": "late_transfer", "group_id": team.id})
        self.Exception._raise_for(self._order([(self.widget, 1)]), "k1", "late_transfer", "one")
        first_owner = self.Exception.search([("source_key", "=", "k1")]).user_id
        second = self.Exception._raise_for(self._order([(self.widget, 1)]), "k2", "late_transfer", "two")
        self.assertEqual({first_owner, second.user_id}, {busy, free})
        self.assertEqual(second.group_id, team)

    def test_resolve_needs_a_note_and_dismiss_a_manager(self):
        exception = self._raise(self._order([(self.widget, 1)]))
        with self.assertRaisesRegex(UserError, "resolution note"):
            exception.with_user(self.dist_user).action_resolve()
        exception.with_user(self.dist_user).write({"resolution_note": "Called the carrier"})
        exception.with_user(self.dist_user).action_resolve()
        self.assertEqual((exception.state, exception.resolved_by_id), ("resolved", self.dist_user))

    def test_filters_of_the_queue(self):
        mine = self._raise(self._order([(self.widget, 1)]), key="a")
        mine.user_id = self.dist_user
        unassigned = self._raise(self._order([(self.widget, 1)]), key="b")
        overdue = self._raise(self._order([(self.widget, 1)]), key="c")
        overdue.deadline = self._in_hours(-1)
        Exception_ = self.Exception.with_user(self.dist_user)
        self.assertIn(mine, Exception_.search([("user_id", "=", self.dist_user.id), ("is_open", "=", True)]))
        self.assertIn(unassigned, Exception_.search([("user_id", "=", False), ("is_open", "=", True)]))
        self.assertEqual(Exception_.search([("is_overdue", "=", True), ("id", "in", (mine | overdue).ids)]), overdue)

    def test_registered_as_monitored_queue(self):
        monitor = self.env.ref("distribution_orchestration.distribution_queue_monitor_open_exceptions")
        before = monitor._figures()["backlog"]
        self._raise(self._order([(self.widget, 1)]))
        self.assertEqual(monitor._figures()["backlog"], before + 1)

    def test_a_second_company_sees_nothing_of_the_first(self):
        self._rule("discount_ceiling", discount_ceiling_pct=5)
        order = self._order([(self.widget, 1, {"discount": 10})])
        order.action_confirm()
        other = self.env["res.company"].create({"name": "Other Distribution Co"})
        outsider = new_test_user(
            self.env,
            "other_co_manager",
            groups="distribution_observability.group_distribution_manager",
            company_id=other.id,
            company_ids=[Command.set(other.ids)],
        )
        self.assertFalse(self.Exception.with_user(outsider).search([]))
        self.assertFalse(self.Rule.with_user(outsider).search([]))
        self.assertFalse(self.env["distribution.validation.check"].with_user(outsider).search([]))
        # Their own orders are not checked by the first company's rules.
        partner = self.env["res.partner"].create({"name": "Other customer", "company_id": other.id})
        product = self.widget.with_company(other)
        other_order = (
            self.env["sale.order"]
            .with_company(other)
            .create(
                {
                    "partner_id": partner.id,
                    "company_id": other.id,
                    "order_line": [Command.create({"product_id": product.id, "product_uom_qty": 1, "discount": 50})],
                }
            )
        )
        other_order.with_company(other).action_confirm()
        self.assertEqual(other_order.state, "sale")
