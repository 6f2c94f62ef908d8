import json
from datetime import datetime
from datetime import timedelta

from freezegun import freeze_time

from odoo import SUPERUSER_ID
from odoo import Command
from odoo import api
from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tests.common import TransactionCase
from odoo.tools import SQL

from .common import ApprovalCase

CRON = "distribution_approvals.ir_cron_distribution_approval_escalate"
T0 = datetime(2026, 3, 2, 8, 0)  # a Monday morning; the tiers below have an SLA of 4 hours


def _at(hours):
    return T0 + timedelta(hours=hours)


@tagged("post_install", "-at_install")
class TestEscalation(ApprovalCase):
    """Tiers past their SLA escalate level by level, once per level, and never after a decision."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Escalation targets: employees with no Distribution role (they read a request once they are among
        # its approvers).
        cls.head = new_test_user(cls.env, "apr_head_of_sales", groups="base.group_user", notification_type="inbox")
        cls.director = new_test_user(cls.env, "apr_director", groups="base.group_user", notification_type="inbox")
        cls.cron = cls.env.ref(CRON)
        cls.Tier = cls.env["distribution.approval.request.tier"]
        # An endpoint subscribed to the approval events: the outbox records what escalation emits.
        cls.endpoint = cls.env["distribution.outbound.endpoint"].create(
            {"name": "Approval events", "url": "https://events.example.com/approvals", "event_types": "approval.*"}
        )

    def _escalating_request(self, levels, sla_hours=4.0, user=None):
        """A request of one tier (approver_1, SLA ``sla_hours``) escalating to ``levels``: a list of
        (hours after the deadline, user); made at the current (frozen) time."""
        tier = self._users_tier(
            "Sales managers",
            self.approver_1,
            sla_hours=sla_hours,
            escalation_ids=[Command.create({"delay_hours": delay, "user_id": u.id}) for delay, u in levels],
        )
        self._rule(tiers=[tier])
        return self._request(user=user)

    def _escalate(self):
        """Run the scheduled action's code as the scheduled action's user does."""
        return self.Tier.with_user(self.cron.user_id)._cron_escalate()

    def _escalated_entries(self, request):
        return self.Audit.search(
            [("action", "=", "escalated"), ("res_model", "=", request._name), ("res_id", "=", request.id)],
            order="sequence",
        )

    def _escalation_events(self, request):
        return self.env["distribution.outbound.event"].search(
            [("event_type", "=", "approval.escalated"), ("res_model", "=", request._name), ("res_id", "=", request.id)],
            order="id",
        )

    def _escalation_notes(self, request):
        return request.message_ids.filtered(lambda m: "Escalation level" in (m.body or ""))

    # -- once per level ----------------------------------------------------------------------------
    def test_escalates_after_the_sla_once_per_level(self):
        with freeze_time(T0):
            request = self._escalating_request([(0, self.head)])
        tier = request.current_tier_id
        self.assertEqual(tier.deadline, _at(4))
        self.assertEqual(tier.next_escalation_at, _at(4))
        with freeze_time(_at(3.99)):
            self._escalate()
        self.assertNotIn(self.head, tier.approver_ids, "not before the SLA")
        self.assertFalse(self._escalated_entries(request))
        with freeze_time(_at(4)):
            self._escalate()
            self._escalate()  # the job again at the same time: the level is done already
        self.assertEqual(tier.approver_ids, self.approver_1 | self.head)
        self.assertEqual(tier.escalation_level, 1)
        self.assertFalse(tier.next_escalation_at, "no level left")
        self.assertEqual(len(self._escalated_entries(request)), 1)
        self.assertEqual(len(self._escalation_notes(request)), 1)
        self.assertIn(self.head.name, self._escalation_notes(request).body)
        events = self._escalation_events(request)
        self.assertEqual(len(events), 1)
        data = json.loads(events.payload)["data"]
        self.assertEqual(
            data["escalation"],
            {"level": 1, "tier": "Sales managers", "escalated_to": self.head.name, "outcome": "added"},
        )
        self.assertIn(self.head.name, data["approvers"])
        # The approver the escalation added gets their own decision link and token, like the first ones.
        self.assertEqual(
            [(link["login"], link["token"]) for link in data["decision_links"]],
            [(self.head.login, tier._decision_token(self.head))],
        )
        self.assertEqual(data["decision_links"][0]["url"], tier._decision_url(self.head))
        with freeze_time(_at(400)):
            self._escalate()
        self.assertEqual(len(self._escalated_entries(request)), 1, "nothing more: every level is done")
        self.assertEqual(len(self._approval_activities(request).filtered(lambda a: a.user_id == self.head)), 1)

    def test_a_late_job_catches_up_levels_in_order(self):
        with freeze_time(T0):
            request = self._escalating_request([(8, self.director), (0, self.head)])
        tier = request.current_tier_id
        with freeze_time(_at(5)):
            self._escalate()
        self.assertEqual(tier.escalation_level, 1)
        self.assertNotIn(self.director, tier.approver_ids, "level 2 is due 8 hours after the deadline")
        self.assertEqual(tier.next_escalation_at, _at(12))
        # A second request whose job only runs long after both levels fell due.
        with freeze_time(T0):
            late = self._request()
        late_tier = late.current_tier_id
        with freeze_time(_at(30)):
            self._escalate()
        for escalated_tier in (tier, late_tier):
            self.assertEqual(escalated_tier.approver_ids, self.approver_1 | self.head | self.director)
            self.assertEqual(escalated_tier.escalation_level, 2)
            self.assertFalse(escalated_tier.next_escalation_at)
        entries = self._escalated_entries(late)
        self.assertEqual(
            [(json.loads(e.data)["details"]["level"], json.loads(e.data)["details"]["escalated_to"]) for e in entries],
            [(1, self.head.login), (2, self.director.login)],
        )
        self.assertEqual(len(self._escalation_notes(late)), 2)
        self.assertEqual(len(self._escalation_events(late)), 2)
        self.assertEqual(len(self._escalated_entries(request)), 2)

    # -- never after a decision --------------------------------------------------------------------
    def test_nothing_after_a_decision(self):
        with freeze_time(T0):
            approved = self._escalating_request([(0, self.head), (8, self.director)])
            rejected = self._request()
            cancelled = self._request()
        with freeze_time(_at(1)):
            approved.with_user(self.approver_1)._decide("approve", "Fine")
            rejected.with_user(self.approver_1)._decide("reject", "Too generous")
            cancelled.with_user(self.requester).action_cancel()
        requests = approved | rejected | cancelled
        self.assertEqual(requests.mapped("state"), ["approved", "rejected", "cancelled"])
        self.assertFalse(any(requests.tier_ids.mapped("next_escalation_at")), "a decision ends the escalation")
        # Even with an escalation time left on a decided tier, the job leaves it alone.
        requests.tier_ids.sudo().write({"next_escalation_at": _at(4)})
        with freeze_time(_at(48)):
            self._escalate()
        for request in requests:
            self.assertFalse(self._escalated_entries(request), request.state)
            self.assertFalse(self._escalation_notes(request))
            self.assertEqual(request.tier_ids.approver_ids, self.approver_1)
            self.assertEqual(request.tier_ids.escalation_level, 0)
        self.assertFalse(self._approval_activities(approved | rejected | cancelled))

    def test_decision_between_levels_stops_the_next_ones(self):
        with freeze_time(T0):
            request = self._escalating_request([(0, self.head), (8, self.director)])
        with freeze_time(_at(5)):
            self._escalate()
            request.with_user(self.head)._decide("approve", "Covering for the sales manager")
        with freeze_time(_at(48)):
            self._escalate()
        self.assertEqual(request.state, "approved")
        self.assertEqual([json.loads(e.data)["details"]["level"] for e in self._escalated_entries(request)], [1])
        self.assertNotIn(self.director, request.tier_ids.approver_ids)

    # -- the target ----------------------------------------------------------------------------------
    def test_escalation_target_gets_an_activity_and_can_decide(self):
        with freeze_time(T0):
            request = self._escalating_request([(0, self.head)])
        with self.assertRaises(AccessError, msg="not an approver before the escalation"):
            request.with_user(self.head)._decide("approve", "Too early")
        with freeze_time(_at(4.5)):
            self._escalate()
        activity = self._approval_activities(request).filtered(lambda a: a.user_id == self.head)
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.res_model, "distribution.approval.request")
        self.assertEqual(activity.res_id, request.id)
        # The target, who is no approver, decides it now.
        self.assertTrue(request.with_user(self.head).can_decide)
        with freeze_time(_at(5)):
            request.with_user(self.head)._decide("approve", "Approved on the manager's behalf")
        self.assertEqual(request.state, "approved")
        self.assertEqual(request.decision_ids.user_id, self.head)
        self.assertFalse(self._approval_activities(request), "the decision closes the activities")

    def test_requester_as_target_is_not_added_as_approver(self):
        with freeze_time(T0):
            request = self._escalating_request([(0, self.requester), (2, self.head)])
        tier = request.current_tier_id
        with freeze_time(_at(4)):
            self._escalate()
        self.assertEqual(tier.approver_ids, self.approver_1, "segregation of duties: never the requester")
        self.assertEqual(tier.escalation_level, 1)
        self.assertFalse(self._approval_activities(request).filtered(lambda a: a.user_id == self.requester))
        note = self._escalation_notes(request)
        self.assertEqual(len(note), 1)
        self.assertIn("segregation of duties", note.body)
        self.assertIn(self.requester.partner_id, note.partner_ids, "the requester is told all the same")
        entry = self._escalated_entries(request)
        self.assertEqual(json.loads(entry.data)["details"]["outcome"], "self_approval")
        with self.assertRaises(AccessError):
            request.with_user(self.requester)._decide("approve", "My own request")
        with freeze_time(_at(6)):
            self._escalate()
        self.assertEqual(tier.approver_ids, self.approver_1 | self.head, "the next level goes on")

    def test_audit_entry(self):
        with freeze_time(T0):
            request = self._escalating_request([(0, self.head)])
        with freeze_time(_at(4)):
            self._escalate()
        entry = self._escalated_entries(request)
        self.assertEqual(len(entry), 1)
        self.assertEqual(entry.actor_id, self.cron.user_id)
        self.assertEqual(entry.logged_at, _at(4))
        self.assertEqual(entry.company_id, request.company_id)
        details = json.loads(entry.data)["details"]
        self.assertEqual(details["request"], request.name)
        self.assertEqual(details["tier"], "Sales managers")
        self.assertEqual(details["level"], 1)
        self.assertEqual(details["escalated_to"], self.head.login)
        self.assertEqual(details["deadline"], "2026-03-02 12:00:00")
        self.assertEqual(details["outcome"], "added")

    def test_one_tracked_run_per_batch(self):
        with freeze_time(T0):
            requests = self._escalating_request([(0, self.head)]) | self._request() | self._request()
        with freeze_time(_at(4)):
            done = self._escalate()
        self.assertGreaterEqual(done, 3)
        run = self.env["distribution.workflow.run"].search(
            [("workflow_id.code", "=", "approval_escalation"), ("started_at", "=", _at(4))]
        )
        self.assertEqual(len(run), 1)
        self.assertEqual(run.state, "success")
        self.assertEqual(run.reason, "escalated")
        self.assertEqual(run.res_model, "distribution.approval.request.tier")
        self.assertEqual(run.record_count, done)
        self.assertTrue(all(t.escalation_level == 1 for t in requests.tier_ids))

    def test_full_batch_asks_for_another_run(self):
        with freeze_time(T0):
            self._escalating_request([(0, self.head)])
            self._request()
        triggers = self.env["ir.cron.trigger"].search([("cron_id", "=", self.cron.id)])
        with freeze_time(_at(4)):
            self.assertEqual(self.Tier.with_user(self.cron.user_id)._cron_escalate(batch_size=1), 1)
            self.assertEqual(len(self.env["ir.cron.trigger"].search([("cron_id", "=", self.cron.id)]) - triggers), 1)
            self.assertEqual(self.Tier.with_user(self.cron.user_id)._cron_escalate(batch_size=1), 1)
            self.assertEqual(self.Tier.with_user(self.cron.user_id)._cron_escalate(batch_size=1), 0)

    # -- the scheduled action ------------------------------------------------------------------------
    def test_scheduled_action(self):
        self.assertTrue(self.cron.active)
        self.assertEqual(self.cron.model_id.model, "distribution.approval.request.tier")
        self.assertEqual(self.cron.code.strip(), "model._cron_escalate()")
        self.assertEqual((self.cron.interval_number, self.cron.interval_type), (15, "minutes"))
        # Run as the scheduler runs it: through the server action, as the cron's user.
        with freeze_time(T0):
            request = self._escalating_request([(0, self.head)])
        with freeze_time(_at(4)):
            self.cron.with_user(self.cron.user_id).ir_actions_server_id.run()
        self.assertIn(self.head, request.current_tier_id.approver_ids)


@tagged("post_install", "-at_install")
class TestEscalationWorkers(TransactionCase):
    """Two workers, each on its own connection and transaction, run the escalation at the same time: a
    tier is escalated by one of them only. Nothing is made in the test's own transaction (the data must
    be committed for the two connections to see it, and the test transaction must hold no lock they
    wait for); everything committed is removed at the end."""

    def test_two_cursors_never_escalate_a_tier_twice(self):
        registry = self.env.registry
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            marks = {}
            for table in ("distribution_audit_entry", "distribution_workflow_run", "ir_cron_trigger"):
                cr.execute(SQL("SELECT coalesce(max(id), 0) FROM %s", SQL.identifier(table)))
                marks[table] = cr.fetchone()[0]
            users = env["res.users"].create(
                [
                    {
                        "name": name,
                        "login": login,
                        "notification_type": "inbox",
                        "groups_id": [Command.set(env.ref("base.group_user").ids)],
                    }
                    for name, login in (
                        ("Workers requester", "apr_workers_requester"),
                        ("Workers approver", "apr_workers_approver"),
                        ("Workers head", "apr_workers_head"),
                    )
                ]
            )
            requester, approver, head = users
            rule = env["distribution.approval.rule"].create(
                {
                    "name": "Workers rule",
                    "request_type": "custom",
                    "sequence": -1000,
                    "tier_ids": [
                        Command.create(
                            {
                                "name": "Workers tier",
                                "approver_type": "user",
                                "user_ids": [Command.set(approver.ids)],
                                "sla_hours": 4,
                                "escalation_ids": [Command.create({"delay_hours": 0, "user_id": head.id})],
                            }
                        )
                    ],
                }
            )
            request = env["distribution.approval.request"]._request(
                requester.partner_id, "custom", amount=100.0, requester=requester
            )
            past = fields.Datetime.now() - timedelta(hours=1)
            request.current_tier_id.write({"deadline": past, "next_escalation_at": past})
            ids = {
                "request": request.id,
                "tier": request.current_tier_id.id,
                "rule": rule.id,
                "users": users.ids,
                "head": head.id,
                "cron": env.ref(CRON).id,
                **marks,
            }

        def cleanup():
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["distribution.approval.request"].browse(ids["request"]).unlink()
                env["distribution.approval.rule"].browse(ids["rule"]).unlink()
                users = env["res.users"].browse(ids["users"])
                partners = users.partner_id
                users.unlink()
                partners.unlink()
                # The audit trail refuses deletion through the ORM: the entries this test appended are the
                # end of the chain, removed directly so the chain stays whole.
                cr.execute(SQL("DELETE FROM distribution_audit_entry WHERE id > %s", ids["distribution_audit_entry"]))
                # The company keeps its chain's head: it goes back with the chain, or the next append would
                # leave a gap where the removed entries were.
                cr.execute(
                    SQL(
                        """UPDATE res_company c
                              SET distribution_audit_head_sequence = last.sequence,
                                  distribution_audit_head_hash = last.hash
                             FROM (SELECT DISTINCT ON (company_id) company_id, sequence, hash
                                     FROM distribution_audit_entry ORDER BY company_id, sequence DESC) last
                            WHERE last.company_id = c.id AND c.distribution_audit_head_sequence > last.sequence"""
                    )
                )
                cr.execute(SQL("DELETE FROM distribution_workflow_run WHERE id > %s", ids["distribution_workflow_run"]))
                trigger_mark, cron_id = ids["ir_cron_trigger"], ids["cron"]
                cr.execute(SQL("DELETE FROM ir_cron_trigger WHERE id > %s AND cron_id = %s", trigger_mark, cron_id))

        self.addCleanup(cleanup)

        def tier_state(cr):
            cr.execute(
                SQL(
                    "SELECT coalesce(escalation_level, 0), next_escalation_at IS NULL, "
                    "(SELECT count(*) FROM distribution_approval_request_tier_res_users_rel rel "
                    "  WHERE rel.distribution_approval_request_tier_id = tier.id AND rel.res_users_id = %s) "
                    "FROM distribution_approval_request_tier tier WHERE id = %s",
                    ids["head"],
                    ids["tier"],
                )
            )
            return cr.fetchone()

        cr_a, cr_b = registry.cursor(), registry.cursor()
        try:
            Tier_a = api.Environment(cr_a, SUPERUSER_ID, {})["distribution.approval.request.tier"]
            Tier_b = api.Environment(cr_b, SUPERUSER_ID, {})["distribution.approval.request.tier"]
            self.assertGreaterEqual(Tier_a._cron_escalate(), 1)  # A escalates the tier, not committed yet
            # B runs meanwhile: the tier is locked by A, B skips it (and does not wait).
            self.assertEqual(tier_state(cr_b), (0, False, 0))
            Tier_b._cron_escalate()
            cr_a.commit()
            # B again, in its transaction begun before A's commit: it cannot take the changed tier.
            Tier_b._cron_escalate()
            cr_b.commit()
            # B in a new transaction: it sees A's escalation, nothing is due any more.
            Tier_b._cron_escalate()
            cr_b.commit()
            self.assertEqual(tier_state(cr_b), (1, True, 1))
            cr_b.execute(
                SQL(
                    "SELECT count(*) FROM distribution_audit_entry WHERE action = 'escalated' "
                    "AND res_model = 'distribution.approval.request' AND res_id = %s",
                    ids["request"],
                )
            )
            self.assertEqual(cr_b.fetchone()[0], 1, "escalated once")
            cr_b.execute(
                SQL(
                    "SELECT count(*) FROM mail_activity WHERE res_model = 'distribution.approval.request' "
                    "AND res_id = %s AND user_id = %s",
                    ids["request"],
                    ids["head"],
                )
            )
            self.assertEqual(cr_b.fetchone()[0], 1, "one activity for the target")
        finally:
            cr_a.close()
            cr_b.close()


@tagged("post_install", "-at_install")
class TestApprovalFigures(ApprovalCase):
    """The approval KPIs of the observability dashboard and metrics, and the pending approvals queue,
    company by company."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create({"name": "Approvals Figures B"})
        cls.watcher = new_test_user(
            cls.env,
            "apr_figures_watcher",
            groups="distribution_observability.group_distribution_user",
            company_id=cls.company_b.id,
            company_ids=[Command.set((cls.company + cls.company_b).ids)],
        )
        partner = cls.env["res.partner"].create({"name": "Figures partner"})
        now = fields.Datetime.now()
        common = {
            "request_type": "discount",
            "company_id": cls.company_b.id,
            "res_model": "res.partner",
            "res_id": partner.id,
            "requested_by_id": cls.requester.id,
        }
        cls.env["distribution.approval.request"].create(
            [
                dict(common, state="approved", decided_at=now - timedelta(days=1), cycle_hours=1.0),
                dict(common, state="approved", decided_at=now - timedelta(days=2), cycle_hours=2.0),
                dict(common, state="rejected", decided_at=now - timedelta(days=3), cycle_hours=10.0),
                # Left out of the cycle time: auto-approved, cancelled, decided before the window.
                dict(common, state="approved", decided_at=now, cycle_hours=0.0, auto_approved=True),
                dict(common, state="cancelled", decided_at=now, cycle_hours=50.0),
                dict(common, state="approved", decided_at=now - timedelta(days=8), cycle_hours=99.0),
            ]
        )
        pending = cls.env["distribution.approval.request"].create(
            [dict(common, state="pending"), dict(common, state="pending")]
        )
        cls.env["distribution.approval.request.tier"].create(
            [
                {
                    "request_id": pending[0].id,
                    "sequence": 1,
                    "name": "Late",
                    "state": "pending",
                    "deadline": now - timedelta(hours=2),
                },
                {
                    "request_id": pending[1].id,
                    "sequence": 1,
                    "name": "In time",
                    "state": "pending",
                    "deadline": now + timedelta(hours=2),
                },
            ]
        )

    def _run(self, companies):
        return (
            self.env["distribution.workflow.run"]
            .with_user(self.watcher)
            .with_context(allowed_company_ids=companies.ids)
        )

    def test_dashboard_figures_of_the_company(self):
        figures = self._run(self.company_b).get_dashboard_data()["approvals"]
        self.assertEqual(
            figures,
            {
                "window_days": 7,
                "cycle_hours_p50": 2.0,
                "cycle_hours_p95": 9.2,  # percentile_cont over 1, 2, 10
                "decided": 3,
                "approved": 2,
                "rejected": 1,
                "pending": 2,
                "overdue_tiers": 1,
            },
        )
        tiles = {tile["key"]: tile for tile in self._run(self.company_b).get_dashboard_data()["extra_tiles"]}
        self.assertEqual(tiles["approval_cycle_hours_p50"]["value"], 2.0)
        self.assertEqual(tiles["pending_approvals"]["value"], 2)
        self.assertEqual(tiles["pending_approvals"]["level"], "warning", "a tier is overdue")
        self.env["ir.actions.act_window"]._for_xml_id(tiles["pending_approvals"]["action"])
        # The main company's figures leave company B's requests out.
        main = self._run(self.company)._approval_figures()
        both = self._run(self.company + self.company_b)._approval_figures()
        self.assertEqual(both["pending"], main["pending"] + 2)
        self.assertEqual(both["overdue_tiers"], main["overdue_tiers"] + 1)
        self.assertEqual(both["decided"], main["decided"] + 3)

    def test_metrics(self):
        families = {name: samples for name, _kind, _help, samples in self._run(self.company_b)._metric_families()}
        self.assertEqual(
            families["distribution_approval_cycle_hours"], [({"quantile": "0.5"}, 2.0), ({"quantile": "0.95"}, 9.2)]
        )
        self.assertEqual(
            families["distribution_approvals_decided"], [({"decision": "approved"}, 2), ({"decision": "rejected"}, 1)]
        )
        self.assertEqual(families["distribution_approvals_pending"], [({}, 2)])
        self.assertEqual(families["distribution_approval_tiers_overdue"], [({}, 1)])
        backlog = {labels["queue"]: value for labels, value in families["distribution_queue_backlog"]}
        self.assertEqual(backlog["pending_approvals"], 2)

    def test_pending_approvals_queue(self):
        queue = self.env.ref("distribution_approvals.distribution_queue_monitor_pending_approvals")
        self.assertEqual(queue.model_name, "distribution.approval.request")
        summary = queue.with_user(self.watcher).with_context(allowed_company_ids=self.company_b.ids)._summary()
        self.assertEqual(summary[0]["code"], "pending_approvals")
        self.assertEqual(summary[0]["backlog"], 2)
