import json
from unittest.mock import patch

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tests.common import TransactionCase
from odoo.tools import mute_logger

from .test_outbox import EVENT_LOGGER
from .test_outbox import Receiver
from .test_outbox import _free_port

SECRET = "whsec_onboarding_test_s3cr3t"
MANAGER = "distribution_observability.group_distribution_manager"


class OnboardingCase(TransactionCase):
    """A company that has just installed the suite (its own: the demo company may be set up already), and the
    people who set it up. No customer has an SLA tier yet (the shared ones of the demo data are cleared)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env["res.company"].create({"name": "Onboarding Distribution Co"})
        cls.other_company = cls.env.company
        ours = {"company_id": cls.company.id, "company_ids": [Command.set(cls.company.ids)]}
        # The Distribution Manager who sets up orders (sales manager: writes customers).
        cls.manager = new_test_user(cls.env, "onb_manager", groups=f"{MANAGER},sales_team.group_sale_manager", **ours)
        # The administrator who changes the Invoicing settings (the installation's own, given the new company),
        # and the accountant who sets credit limits.
        cls.administrator = cls.env.ref("base.user_admin")
        cls.administrator.company_ids = [Command.link(cls.company.id)]
        cls.accountant = new_test_user(
            cls.env, "onb_accountant", groups="account.group_account_manager,sales_team.group_sale_manager", **ours
        )
        cls.dist_user = new_test_user(
            cls.env, "onb_dist_user", groups="distribution_observability.group_distribution_user", **ours
        )
        cls.env["res.partner"].search([("distribution_sla_tier_id", "!=", False)]).distribution_sla_tier_id = False
        cls.customer = cls.env["res.partner"].create({"name": "Onboarding Customer", "company_id": cls.company.id})

    def _as(self, user):
        return self.env(user=user, context=dict(self.env.context, allowed_company_ids=self.company.ids))

    def _done(self, user=None):
        """{step key: done} of the checklist, as the Distribution Manager of the company sees it."""
        Onboarding = self._as(user or self.manager)["distribution.onboarding"]
        return {step["key"]: step["done"] for step in Onboarding._distribution_checklist_steps()}


@tagged("post_install", "-at_install")
class TestOnboardingSteps(OnboardingCase):
    """Each order-validation step is ticked by its data, set through the ordinary ORM by the person who
    would set it, and only then."""

    def test_validation_rules_are_reviewed_by_a_person(self):
        self.assertFalse(self._done()["validation_rules"])
        # Rules installed by the superuser (the starter policy) tick nothing, nor does a person's change in
        # another company.
        Rule = self.env["distribution.validation.rule"]
        starter = Rule.create({"name": "Starter credit", "rule_type": "credit_limit", "company_id": self.company.id})
        other = Rule.create({"name": "Elsewhere", "rule_type": "margin_floor", "company_id": self.other_company.id})
        other_manager = new_test_user(self.env, "onb_other_manager", groups=MANAGER)
        other.with_user(other_manager).write({"outcome": "warn"})
        self.assertFalse(self._done()["validation_rules"])
        # The manager tunes the starter rule: reviewed.
        starter.with_user(self.manager).write({"outcome": "warn"})
        self.assertTrue(self._done()["validation_rules"])

    def test_a_rule_added_by_a_person_counts(self):
        self._as(self.manager)["distribution.validation.rule"].create(
            {"name": "Our margin floor", "rule_type": "margin_floor"}
        )
        self.assertTrue(self._done()["validation_rules"])

    def test_a_starter_rule_archived_by_a_person_counts(self):
        """Reviewed and not wanted: archiving a rule is a review too."""
        starter = self.env["distribution.validation.rule"].create(
            {"name": "Starter rush", "rule_type": "rush_shipment", "company_id": self.company.id}
        )
        self.assertFalse(self._done()["validation_rules"])
        starter.with_env(self._as(self.manager)).action_archive()
        self.assertTrue(self._done()["validation_rules"])

    def test_credit_limits_in_force(self):
        self.assertFalse(self._done()["credit_limits"])
        # A limit on a customer while the company checks none: not in force yet.
        partner = self.customer.with_env(self._as(self.accountant))
        partner.write({"use_partner_credit_limit": True, "credit_limit": 5000.0})
        self.assertFalse(self._done()["credit_limits"])
        # The administrator turns on Sales Credit Limit: now the limit holds orders.
        settings = self._as(self.administrator)["res.config.settings"].create({"account_use_credit_limit": True})
        settings.execute()
        self.assertTrue(self.company.account_use_credit_limit)
        self.assertTrue(self._done()["credit_limits"])
        # Back to no limit of its own: nothing in force. A customer's limit in another company does not count.
        partner.write({"use_partner_credit_limit": False})
        self.assertFalse(self._done()["credit_limits"])
        elsewhere = self.env["res.partner"].create({"name": "Elsewhere"}).with_company(self.other_company)
        elsewhere.write({"use_partner_credit_limit": True, "credit_limit": 7000.0})
        self.assertFalse(self._done()["credit_limits"])

    def test_credit_limits_by_default_limit(self):
        settings = self._as(self.administrator)["res.config.settings"].create({"account_use_credit_limit": True})
        settings.execute()
        self.assertFalse(self._done()["credit_limits"], "the setting alone limits nothing")
        settings = self._as(self.administrator)["res.config.settings"].create(
            {"account_use_credit_limit": True, "account_default_credit_limit": 20000.0}
        )
        settings.execute()
        self.assertTrue(self._done()["credit_limits"])

    def test_sla_tiers_assigned(self):
        self.assertFalse(self._done()["sla_tiers"])
        tier = self._as(self.manager)["distribution.sla.tier"].create({"name": "Gold", "target_hours": 24})
        self.assertFalse(self._done()["sla_tiers"], "a tier nobody has")
        elsewhere = self.env["res.partner"].create({"name": "Elsewhere", "company_id": self.other_company.id})
        elsewhere.distribution_sla_tier_id = tier
        self.assertFalse(self._done()["sla_tiers"], "a customer of another company")
        self.customer.with_env(self._as(self.manager)).distribution_sla_tier_id = tier
        self.assertTrue(self._done()["sla_tiers"])

    def test_steps_link_to_their_screens(self):
        Onboarding = self._as(self.manager)["distribution.onboarding"]
        action = Onboarding.action_open_step("validation_rules")
        self.assertEqual(action["res_model"], "distribution.validation.rule")
        self.assertEqual(
            Onboarding.action_open_step("outbound_endpoint")["res_model"], "distribution.outbound.endpoint"
        )
        # No SLA tier yet: the tiers; once there is one, the customers who get it.
        self.env["distribution.sla.tier"].with_context(active_test=False).search([]).active = False
        self.assertEqual(Onboarding.action_open_step("sla_tiers")["res_model"], "distribution.sla.tier")
        self.env["distribution.sla.tier"].create({"name": "Silver"})
        self.assertEqual(Onboarding.action_open_step("sla_tiers")["res_model"], "res.partner")
        # Credit limits: the Invoicing settings for an administrator while the company checks none, else customers.
        self.assertEqual(Onboarding.action_open_step("credit_limits")["res_model"], "res.partner")
        action = self._as(self.administrator)["distribution.onboarding"].action_open_step("credit_limits")
        self.assertEqual(action["res_model"], "res.config.settings")
        self.assertIn("'module' : 'account'", action["context"])


@tagged("post_install", "-at_install")
class TestEndpointTestDelivery(OnboardingCase):
    """The Test Delivery button of an endpoint: a signed test event through the outbox, the answer told to
    the user; a delivered one ticks "Connect an outbound endpoint"."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = Receiver(SECRET).start()
        cls.addClassCleanup(cls.receiver.stop)
        Endpoint = cls.env["distribution.outbound.endpoint"]
        # The receiver listens on 127.0.0.1: allowed as a development server allows it.
        cls.startClassPatcher(patch.object(type(Endpoint), "_outbound_allow_private", return_value=True))

    def setUp(self):
        super().setUp()
        self.receiver.reset()

    def _endpoint(self, url=None, **vals):
        return self._as(self.manager)["distribution.outbound.endpoint"].create(
            {
                "name": "Warehouse system",
                "url": url or self.receiver.url,
                "secret": SECRET,
                "event_types": "order.held",  # a test reaches the endpoint whatever it subscribes to
                "extra_headers": json.dumps({"X-Tenant": "onboarding"}),
                **vals,
            }
        )

    def test_delivered_test_event_connects_the_endpoint(self):
        endpoint = self._endpoint()
        self.assertFalse(self._done()["outbound_endpoint"], "an endpoint that never took an event")
        result = endpoint.action_test_delivery()
        self.assertEqual((result["tag"], result["params"]["type"]), ("display_notification", "success"))
        self.assertIn("reached Warehouse system: HTTP 200", result["params"]["message"])
        # One signed request, in the contract's format, with the endpoint's headers.
        self.assertEqual(len(self.receiver.requests), 1)
        request = self.receiver.requests[0]
        self.assertIs(request["verified"], True)
        self.assertEqual(request["headers"]["X-Distribution-Event"], "endpoint.test")
        self.assertEqual(request["headers"]["X-Tenant"], "onboarding")
        body = json.loads(request["body"])
        self.assertEqual((body["type"], body["company"]), ("endpoint.test", self.company.name))
        self.assertEqual(body["data"], {"test": True, "endpoint": "Warehouse system"})
        # The event is in the outbox like any other, delivered, and the outbox's run recorded it.
        event = self.env["distribution.outbound.event"].search([("event_id", "=", body["event_id"])])
        self.assertEqual((event.state, event.attempts, event.endpoint_id), ("delivered", 1, endpoint))
        self.assertEqual(event.company_id, self.company)
        run = self.env["distribution.workflow.run"].search(
            [("workflow_id.code", "=", "outbox_delivery"), ("company_id", "=", self.company.id)], limit=1
        )
        self.assertEqual((run.state, run.record_count), ("success", 1))
        self.assertTrue(self._done()["outbound_endpoint"])
        # An archived endpoint connects nothing.
        endpoint.action_archive()
        self.assertFalse(self._done()["outbound_endpoint"])

    def test_failed_test_is_told_and_not_retried(self):
        down = Receiver(SECRET, port=_free_port())  # nobody listens there
        endpoint = self._endpoint(url=down.url)
        with mute_logger(EVENT_LOGGER):
            result = endpoint.action_test_delivery()
        self.assertEqual(result["params"]["type"], "danger")
        self.assertTrue(result["params"]["sticky"])
        self.assertIn("did not reach Warehouse system: connection error", result["params"]["message"])
        self.assertNotIn(SECRET, result["params"]["message"])
        event = self.env["distribution.outbound.event"].search([("endpoint_id", "=", endpoint.id)])
        self.assertEqual((event.state, event.discarded, event.attempts), ("dead", True, 1))
        self.assertEqual(endpoint.dead_count, 0, "a failed test is no dead letter to handle")
        self.assertEqual(endpoint.pending_count, 0, "nor retried")
        self.assertFalse(self._done()["outbound_endpoint"])

    def test_a_business_event_delivered_connects_the_endpoint(self):
        endpoint = self._endpoint(event_types=False)
        events = self.env["distribution.outbound.event"]._emit("order.held", self.customer, {"order": "S1"})
        self.assertEqual(events.endpoint_id, endpoint)
        self.assertFalse(self._done()["outbound_endpoint"], "queued is not delivered")
        # Delivered as the cron delivers a batch (only this one: other endpoints of the database stay untouched).
        with self.env["distribution.workflow.run"].track("outbox_delivery", events) as run:
            events._outbox_deliver(run)
        self.assertEqual(endpoint.event_ids.mapped("state"), ["delivered"])
        self.assertTrue(self._done()["outbound_endpoint"])

    def test_only_managers_test_an_endpoint(self):
        endpoint = self._endpoint()
        with self.assertRaises(AccessError):
            endpoint.with_user(self.dist_user).action_test_delivery()
        # A user who may read endpoints through another role is still refused by the verb.
        with patch.object(type(self.env["res.users"]), "has_group", lambda user, group: group != MANAGER):
            with self.assertRaises(AccessError):
                endpoint.action_test_delivery()
        self.assertEqual(self.receiver.requests, [])
