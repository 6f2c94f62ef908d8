import ast

from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tests.common import TransactionCase


@tagged("post_install", "-at_install")
class TestDistributionRoles(TransactionCase):
    """The Distribution roles: who sees the app and who configures it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(cls.env, "dist_user", groups="distribution_observability.group_distribution_user")
        cls.manager = new_test_user(
            cls.env, "dist_manager", groups="distribution_observability.group_distribution_manager"
        )
        cls.employee = new_test_user(cls.env, "dist_employee", groups="base.group_user")

    def _visible_menus(self, user):
        menus = self.env["ir.ui.menu"].with_user(user)._visible_menu_ids()
        return {
            xmlid
            for xmlid in (
                "distribution_observability.distribution_root_menu",
                "distribution_observability.distribution_configuration_menu",
                "distribution_observability.distribution_res_users_menu",
            )
            if self.env.ref(xmlid).id in menus
        }

    def test_admin_is_distribution_manager(self):
        admin = self.env.ref("base.user_admin")
        self.assertTrue(admin.has_group("distribution_observability.group_distribution_manager"))
        self.assertTrue(admin.has_group("distribution_observability.group_distribution_user"))

    def test_manager_implies_user_and_roles_share_one_category(self):
        self.assertTrue(self.manager.has_group("distribution_observability.group_distribution_user"))
        self.assertFalse(self.user.has_group("distribution_observability.group_distribution_manager"))
        user_group = self.env.ref("distribution_observability.group_distribution_user")
        manager_group = self.env.ref("distribution_observability.group_distribution_manager")
        self.assertEqual(user_group.category_id, manager_group.category_id)
        self.assertEqual(user_group.category_id, self.env.ref("base.module_category_distribution_control"))

    def test_manager_sees_configuration(self):
        self.assertEqual(
            self._visible_menus(self.manager),
            {
                "distribution_observability.distribution_root_menu",
                "distribution_observability.distribution_configuration_menu",
                "distribution_observability.distribution_res_users_menu",
            },
        )

    def test_user_and_employee_do_not_see_configuration(self):
        self.assertFalse(
            self._visible_menus(self.user)
            & {
                "distribution_observability.distribution_configuration_menu",
                "distribution_observability.distribution_res_users_menu",
            }
        )
        self.assertFalse(self._visible_menus(self.employee))

    def test_team_action_lists_holders_of_a_distribution_role(self):
        action = self.env.ref("distribution_observability.distribution_res_users_action")
        holders = self.env["res.users"].search(ast.literal_eval(action.domain))
        self.assertIn(self.user, holders)
        self.assertIn(self.manager, holders)
        self.assertNotIn(self.employee, holders)
