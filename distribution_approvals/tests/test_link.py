import re
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from lxml import html

from odoo import Command
from odoo.tests import HttpCase
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import ApprovalCase


@tagged("post_install", "-at_install")
class TestApprovalLink(ApprovalCase, HttpCase):
    """The one-click link of the approval notification: the page shows the request, the POST with
    the session's CSRF token decides, and a forged, foreign or used link changes nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rule = cls.Rule.create(
            {
                "name": "Link rule",
                "sequence": 0,
                "request_type": "custom",
                "tier_ids": [
                    Command.create({"sequence": 1, **cls._tier("Sales", cls.approver_1 | cls.approver_2)}),
                    Command.create({"sequence": 2, **cls._tier("Finance", cls.approver_1 | cls.approver_3)}),
                ],
            }
        )

    @classmethod
    def _tier(cls, name, users, min_approvals=1):
        return {
            "name": name,
            "approver_type": "user",
            "user_ids": [Command.set(users.ids)],
            "min_approvals": min_approvals,
        }

    def setUp(self):
        super().setUp()
        # Made by the requester, read and set up here as the system.
        self.request = self._request(request_type="custom", amount=2500.0, reason="Rush shipment").with_env(self.env)
        self.tier = self.request.current_tier_id

    # -- helpers -------------------------------------------------------------------------------------
    def _path(self, user, tier=None):
        return urlsplit((tier or self.tier)._decision_url(user)).path

    def _forge(self, path, request_id=None, tier_id=None, user_id=None, token=None):
        """``path`` with some of its parts replaced."""
        old_request, old_tier, old_user, old_token = path.split("/")[-4:]
        parts = (request_id or old_request, tier_id or old_tier, user_id or old_user, token or old_token)
        return "/distribution/approval/" + "/".join(str(part) for part in parts)

    def _login(self, user):
        # new_test_user's password is the login (padded to 8 characters).
        self.authenticate(user.login, user.login.ljust(8, "x"))

    def _review(self, path, status=200):
        response = self.url_open(path)
        self.assertEqual(response.status_code, status, response.text[:2000])
        return html.fromstring(response.content)

    def _post(self, path, decision, comment="", csrf_token=None, status=200):
        """POST the decision with the CSRF token of the session (the one a page of the session carries, as in
        a browser; ``csrf_token=False``: none)."""
        if csrf_token is None:
            csrf_token = re.search(r'csrf_token: "([^"]+)"', self.url_open(path).text).group(1)
        data = {"decision": decision, "comment": comment}
        if csrf_token:
            data["csrf_token"] = csrf_token
        response = self.url_open(f"{path}/decide", data=data)
        self.assertEqual(response.status_code, status, response.text[:2000])
        return html.fromstring(response.content)

    def _csrf_of(self, page):
        return page.xpath("//form[hasclass('o_distribution_decision_form')]//input[@name='csrf_token']/@value")[0]

    def _message(self, page):
        return " ".join(page.xpath("string(//div[hasclass('o_distribution_link_message')])").split())

    def _assert_unchanged(self, request=None, state="pending", decisions=0):
        request = request or self.request
        self.env.invalidate_all()
        self.assertEqual(request.state, state)
        self.assertEqual(len(request.decision_ids), decisions)

    # -- the page --------------------------------------------------------------------------------------
    def test_get_shows_the_request_and_changes_nothing(self):
        audit_before = self.Audit.search_count([])
        self._login(self.approver_1)
        page = self._review(self._path(self.approver_1))
        text = " ".join(page.text_content().split())
        for expected in (self.request.name, self.request.res_name, "Rush shipment", "Sales", "Open receivables"):
            self.assertIn(expected, text)
        self.assertIn(self.approver_2.name, text, "The tier's approvers are listed.")
        form = page.xpath("//form[hasclass('o_distribution_decision_form')]")[0]
        self.assertEqual(form.get("method"), "post")
        self.assertEqual(form.get("action"), f"{self._path(self.approver_1)}/decide")
        self.assertTrue(self._csrf_of(page))
        self.assertEqual(form.xpath(".//button[@name='decision']/@value"), ["approve", "reject"])
        self.assertEqual(
            page.xpath("//a[hasclass('o_distribution_open_request')]/@href"),
            [f"/mail/view?model=distribution.approval.request&res_id={self.request.id}"],
        )
        self._assert_unchanged()
        self.assertEqual(self.request.current_tier_id, self.tier)
        self.assertEqual(len(self._approval_activities(self.request)), 2, "Both approvers' activities stay open.")
        self.assertEqual(self.Audit.search_count([]), audit_before, "Reading writes nothing in the audit trail.")

    def test_logged_out_visitor_goes_through_the_login_page(self):
        path = self._path(self.approver_1)
        response = self.url_open(path, allow_redirects=False)
        self.assertIn(response.status_code, (302, 303))
        location = urlsplit(response.headers["Location"])
        self.assertEqual(location.path, "/web/login")
        redirect = parse_qs(location.query)["redirect"][0]
        self.assertEqual(urlsplit(redirect).path, path, "The login page sends the approver back to the link.")
        self._assert_unchanged()

    # -- deciding --------------------------------------------------------------------------------------
    def test_post_with_csrf_token_approves_the_tier(self):
        self._login(self.approver_1)
        path = self._path(self.approver_1)
        page = self._review(path)
        result = self._post(path, "approve", "Fine for this customer", csrf_token=self._csrf_of(page))
        self.assertIn("Tier Finance now decides", self._message(result))
        self.env.invalidate_all()
        self.assertRecordValues(
            self.request.decision_ids,
            [
                {
                    "user_id": self.approver_1.id,
                    "decision": "approve",
                    "comment": "Fine for this customer",
                    "request_tier_id": self.tier.id,
                }
            ],
        )
        self.assertEqual(self.tier.state, "approved")
        self.assertEqual(self.request.current_tier_id.name, "Finance")
        self.assertEqual(self.request.state, "pending")
        self.assertNotIn(
            self.approver_2, self._approval_activities(self.request).user_id, "Tier Sales needs no other decision."
        )

    def test_last_tier_approved_through_links_approves_the_request(self):
        self._login(self.approver_2)
        self._post(self._path(self.approver_2), "approve")
        self.env.invalidate_all()
        finance = self.request.current_tier_id
        self._login(self.approver_3)
        result = self._post(self._path(self.approver_3, finance), "approve")
        self.assertIn("The request is approved", self._message(result))
        self.env.invalidate_all()
        self.assertEqual(self.request.state, "approved")
        self.assertEqual(self.request.decision_ids.user_id, self.approver_2 | self.approver_3)
        self.assertFalse(self._approval_activities(self.request))

    def test_rejection_needs_a_comment(self):
        self._login(self.approver_1)
        path = self._path(self.approver_1)
        page = self._post(path, "reject", "   ", status=400)
        self.assertIn("a comment is required", self._message(page))
        self.assertTrue(page.xpath("//form[hasclass('o_distribution_decision_form')]"), "The form is shown again.")
        self._assert_unchanged()
        self._post(path, "reject", "Margin too low")
        self._assert_unchanged(state="rejected", decisions=1)
        self.assertEqual(self.request.decision_comment, "Margin too low")

    @mute_logger("odoo.http")
    def test_post_without_csrf_token_is_refused(self):
        self._login(self.approver_1)
        self._post(self._path(self.approver_1), "approve", csrf_token=False, status=400)
        self._assert_unchanged()
        self._post(self._path(self.approver_1), "approve", csrf_token="0" * 40 + "o9999999999", status=400)
        self._assert_unchanged()

    def test_get_never_decides(self):
        """A GET carrying the form's fields (a prefetching mail scanner, a shared URL) decides nothing."""
        self._login(self.approver_1)
        self._review(f"{self._path(self.approver_1)}?decision=approve&comment=ok")
        self._assert_unchanged()
        response = self.url_open(f"{self._path(self.approver_1)}/decide?decision=approve")
        self.assertEqual(response.status_code, 405, "The decision route answers POST only.")
        self._assert_unchanged()

    # -- refusals --------------------------------------------------------------------------------------
    def test_forged_token_is_refused(self):
        self._login(self.approver_1)
        path = self._path(self.approver_1)
        token = path.rsplit("/", 1)[1]
        forged = self._forge(path, token=("0" if token[0] != "0" else "1") + token[1:])
        page = self._review(forged, status=403)
        self.assertIn("not valid", self._message(page))
        self.assertFalse(page.xpath("//form[hasclass('o_distribution_decision_form')]"))
        self._post(forged, "approve", status=403)
        # The token of tier Sales does not open tier Finance, nor the same tier under another request.
        finance = self.request.tier_ids.filtered(lambda t: t.name == "Finance")
        self._post(self._forge(path, tier_id=finance.id), "approve", status=403)
        other = self._request(request_type="custom", amount=100.0)
        self._post(self._forge(path, request_id=other.id), "approve", status=404)
        self._post(self._forge(path, token="not-a-token"), "approve", status=403)
        self._assert_unchanged()
        self._assert_unchanged(other)

    def test_token_of_another_approver_is_refused(self):
        self._login(self.approver_1)
        path = self._path(self.approver_2)
        page = self._review(path, status=403)
        self.assertIn("sent to another approver", self._message(page))
        self.assertFalse(page.xpath("//form[hasclass('o_distribution_decision_form')]"))
        page = self._post(path, "approve", status=403)
        self.assertIn("sent to another approver", self._message(page))
        self._assert_unchanged()
        # Nor can the URL's user be changed to the logged-in one: the token is bound to approver 2.
        self._post(self._forge(path, user_id=self.approver_1.id), "approve", status=403)
        self._assert_unchanged()

    def test_used_link_is_refused(self):
        self._login(self.approver_1)
        path = self._path(self.approver_1)
        self._post(path, "approve")
        self._assert_unchanged(decisions=1)
        page = self._post(path, "reject", "Changed my mind", status=409)
        self.assertIn("already been decided", self._message(page))
        self.assertFalse(page.xpath("//form[hasclass('o_distribution_decision_form')]"))
        self.assertIn(self.approver_1.name, page.text_content(), "The page shows the decision taken.")
        self._review(path, status=409)
        # Approver 2's link of the same tier is used up too: the tier's quorum is reached.
        self._login(self.approver_2)
        self._post(self._path(self.approver_2), "approve", status=409)
        self._assert_unchanged(decisions=1)
        self.assertEqual(self.request.decision_ids.decision, "approve")

    def test_link_reused_before_the_quorum_is_refused(self):
        self.tier.min_approvals = 2
        self._login(self.approver_1)
        path = self._path(self.approver_1)
        result = self._post(path, "approve")
        self.assertIn("waits for more approvals", self._message(result))
        page = self._post(path, "approve", status=409)
        self.assertIn("You have already decided", self._message(page))
        self._assert_unchanged(decisions=1)
        self.assertEqual(self.tier.state, "pending")

    def test_link_after_a_cancellation_is_refused(self):
        self.request.with_user(self.requester).action_cancel()
        self._login(self.approver_1)
        self._review(self._path(self.approver_1), status=409)
        self._post(self._path(self.approver_1), "approve", status=409)
        self._assert_unchanged(state="cancelled")

    def test_segregation_of_duties_refusals(self):
        # Four eyes: approver 1 approved tier Sales, so tier Finance needs approver 3.
        self._login(self.approver_1)
        self._post(self._path(self.approver_1), "approve")
        self.env.invalidate_all()
        finance = self.request.current_tier_id
        page = self._post(self._path(self.approver_1, finance), "approve", status=403)
        self.assertIn("four-eyes", self._message(page))
        self._assert_unchanged(decisions=1)
        self.assertEqual(finance.state, "pending")
        # Self-approval: a correctly signed link of the requester still cannot decide.
        self.requester.groups_id = [Command.link(self.approver_group.id)]
        finance.approver_ids = [Command.link(self.requester.id)]
        self._login(self.requester)
        page = self._post(self._path(self.requester, finance), "approve", status=403)
        self.assertIn("someone else must decide", self._message(page))
        self._assert_unchanged(decisions=1)

    def test_link_opens_the_request_of_another_company_of_the_approver(self):
        """An approver whose web client is on their main company follows a link of a request of their
        other company: the page opens all the same; a user outside that company is refused."""
        company_b = self.env["res.company"].create({"name": "Approvals Second Company"})
        for user in (self.requester, self.approver_1):
            user.company_ids = [Command.link(company_b.id)]
        customer_b = self.env["res.partner"].create({"name": "Second Company Customer", "company_id": company_b.id})
        order = (
            self.env["sale.order"]
            .with_user(self.requester)
            .with_company(company_b)
            .create({"partner_id": customer_b.id, "order_line": [Command.create({"product_id": self.product.id})]})
        )
        self.Rule.create(
            {
                "name": "Second company rule",
                "sequence": 0,
                "request_type": "custom",
                "company_id": company_b.id,
                "tier_ids": [Command.create(self._tier("Second company", self.approver_1))],
            }
        )
        request = self._request(order, request_type="custom", amount=500.0).with_env(self.env)
        self.assertEqual(request.company_id, company_b)
        self.assertEqual(self.approver_1.company_id, self.company, "The approver's session opens on company A.")
        tier = request.current_tier_id
        # Someone outside company B gets no page of it, even with a correctly signed link of their own.
        self._login(self.approver_2)
        self._review(self._path(self.approver_2, tier), status=403)
        self._post(self._path(self.approver_2, tier), "approve", status=403)
        self._assert_unchanged(request)
        self._login(self.approver_1)
        self.opener.cookies.set("cids", str(self.company.id))
        path = self._path(self.approver_1, tier)
        page = self._review(path)
        self.assertIn(request.name, page.text_content())
        self._post(path, "approve")
        self._assert_unchanged(request, state="approved", decisions=1)

    # -- the notification ------------------------------------------------------------------------------
    def test_each_approver_gets_their_own_link_in_the_activity_and_notification(self):
        activities = self._approval_activities(self.request)
        self.assertEqual(activities.user_id, self.approver_1 | self.approver_2)
        urls = {}
        for activity in activities:
            url = self.tier._decision_url(activity.user_id)
            self.assertTrue(url.startswith(self.request.get_base_url() + "/distribution/approval/"))
            note = html.fromstring(str(activity.note))
            self.assertEqual(note.xpath("//a[contains(., 'Review and decide')]/@href"), [url])
            notification = self.env["mail.message"].search(
                [
                    ("model", "=", self.request._name),
                    ("res_id", "=", self.request.id),
                    ("message_type", "=", "user_notification"),
                    ("partner_ids", "in", activity.user_id.partner_id.id),
                ]
            )
            self.assertEqual(len(notification), 1)
            self.assertIn(url, str(notification.body), "The assignment notification carries the link.")
            urls[activity.user_id] = url
        self.assertNotEqual(urls[self.approver_1], urls[self.approver_2])
        # The link of the notification opens the page for its approver.
        self._login(self.approver_2)
        self._review(urlsplit(urls[self.approver_2]).path)
