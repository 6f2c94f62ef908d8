from unittest.mock import patch

from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tests.common import TransactionCase


@tagged("post_install", "-at_install")
class TestOnboardingRegistry(TransactionCase):
    """The getting-started checklist as a registry: whatever steps the addons declare, the dashboard gets
    them in order, without their actions, only while one is left to do, and only for those who set up."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env, "onboarding_manager", groups="distribution_observability.group_distribution_manager"
        )
        cls.user = new_test_user(
            cls.env, "onboarding_user", groups="distribution_observability.group_distribution_user"
        )
        cls.Onboarding = cls.env["distribution.onboarding"]

    def _declare(self, *steps):
        """Replace the steps every addon declares by these (the registry's own behaviour is under test)."""

        def declared(onboarding):
            return [dict(step) for step in steps]

        return patch.object(type(self.Onboarding), "_distribution_checklist_steps", declared)

    def _step(self, key, done, sequence, action="distribution_observability.distribution_alert_rule_action"):
        return {"key": key, "title": key.title(), "help": f"help of {key}", "done": done, "action": action} | (
            {"sequence": sequence} if sequence is not None else {}
        )

    def test_steps_in_order_without_their_actions(self):
        with self._declare(self._step("later", False, 30), self._step("first", 1, 10), self._step("default", 0, None)):
            checklist = self.Onboarding.with_user(self.manager)._get_checklist()
        self.assertEqual([step["key"] for step in checklist], ["first", "later", "default"])
        self.assertEqual(
            checklist[0],
            {"key": "first", "title": "First", "help": "help of first", "done": True, "sequence": 10},
        )
        self.assertIs(checklist[2]["done"], False)

    def test_hidden_once_every_step_is_done_or_when_none_is_declared(self):
        with self._declare(self._step("a", True, 10), self._step("b", True, 20)):
            self.assertEqual(self.Onboarding.with_user(self.manager)._get_checklist(), [])
        with self._declare():
            self.assertEqual(self.Onboarding.with_user(self.manager)._get_checklist(), [])
        with self._declare(self._step("a", True, 10), self._step("b", False, 20)):
            self.assertEqual(len(self.Onboarding.with_user(self.manager)._get_checklist()), 2)

    def test_only_managers_get_it(self):
        with self._declare(self._step("a", False, 10)):
            self.assertEqual(self.Onboarding.with_user(self.user)._get_checklist(), [])
            with self.assertRaises(AccessError):
                self.Onboarding.with_user(self.user).action_open_step("a")
            data = self.env["distribution.workflow.run"].with_user(self.user).get_dashboard_data()
            self.assertEqual(data["checklist"], [])
            data = self.env["distribution.workflow.run"].with_user(self.manager).get_dashboard_data()
            self.assertEqual([step["key"] for step in data["checklist"]], ["a"])

    def test_action_of_a_step(self):
        """A step's action is an XML id or a method of the model (by name or bound); an unknown key is refused."""
        Onboarding = self.Onboarding.with_user(self.manager)
        rules_action = {"type": "ir.actions.act_window", "res_model": "distribution.alert.rule"}
        with (
            self._declare(
                self._step("xmlid", False, 10),
                self._step("named", False, 20, action="_action_test_step"),
                self._step("bound", False, 30, action=lambda: dict(rules_action, name="bound")),
            ),
            patch.object(
                type(self.Onboarding), "_action_test_step", lambda self: dict(rules_action, name="named"), create=True
            ),
        ):
            action = Onboarding.action_open_step("xmlid")
            self.assertEqual(
                (action["type"], action["res_model"]), ("ir.actions.act_window", "distribution.alert.rule")
            )
            self.assertEqual(Onboarding.action_open_step("named")["name"], "named")
            self.assertEqual(Onboarding.action_open_step("bound")["name"], "bound")
            with self.assertRaises(UserError):
                Onboarding.action_open_step("missing")
