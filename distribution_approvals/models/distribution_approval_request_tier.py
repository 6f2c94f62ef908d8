"""``distribution.approval.request.tier``: a tier of one request, its approvers, its one-click decision
links and the escalation of overdue tiers."""

import logging
from urllib.parse import urljoin

import psycopg2
from markupsafe import Markup

from odoo import Command
from odoo import api
from odoo import fields
from odoo import models
from odoo.addons.distribution_observability.services import days
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tools import SQL
from odoo.tools import consteq
from odoo.tools.misc import hmac

from ..services import approval
from .distribution_approval_request import ACTIVITY_TYPE
from .distribution_approval_request import MANAGER_GROUP
from .distribution_approval_rule import APPROVER_GROUP

# The HMAC scope: the database secret signs other things too; a decision token is valid for none of them.
LINK_SCOPE = "distribution_approvals.decision_link"
LINK_PREFIX = "/distribution/approval"

_logger = logging.getLogger(__name__)

CRON = "distribution_approvals.ir_cron_distribution_approval_escalate"
WORKFLOW = "approval_escalation"
EVENT_ESCALATED = "approval.escalated"


class DistributionApprovalRequestTier(models.Model):
    """A tier of one request: who may decide it (set when it opens, escalation adds people), its
    deadline, its escalation level, and its decisions.

    The one-click decision link of a tier, and the escalation of overdue tiers.

    The link: each approver gets their own link, signed with the
    database secret and bound to the request, the tier and the approver. The link opens a confirmation
    page (reading never decides); the decision is a CSRF-protected POST of the logged-in approver.

    Outcomes of the page (see ``_link_review`` and ``_link_decide``): ``review`` (the form is shown),
    ``done`` (the decision is recorded), ``forbidden`` (an altered link, another approver's link, or a
    segregation-of-duties refusal), ``decided`` (the tier or this approver's part of it is already
    decided: a link is used once), ``comment_required`` (a rejection without a comment), ``invalid``
    (an unknown decision, or the decision could not apply), ``not_found`` (no such tier of that request)."""

    _name = "distribution.approval.request.tier"
    _description = "Approval Request Tier"
    _order = "request_id, sequence, id"

    request_id = fields.Many2one("distribution.approval.request", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="request_id.company_id", store=True, index=True)
    tier_id = fields.Many2one("distribution.approval.tier", ondelete="set null")
    sequence = fields.Integer(required=True)
    name = fields.Char(required=True)
    min_approvals = fields.Integer("Approvals Needed", default=1)
    sla_hours = fields.Float("SLA (hours)")
    state = fields.Selection(
        [
            ("waiting", "Waiting"),
            ("pending", "Pending"),
            ("approved", "Approved"),
            ("rejected", "Rejected"),
            ("cancelled", "Cancelled"),
        ],
        required=True,
        default="waiting",
        index=True,
    )
    approver_ids = fields.Many2many("res.users", string="Approvers")
    started_at = fields.Datetime(readonly=True)
    deadline = fields.Datetime(readonly=True)
    decided_at = fields.Datetime(readonly=True)
    escalation_level = fields.Integer(readonly=True, help="The last escalation level done (0: none).")
    next_escalation_at = fields.Datetime(
        readonly=True, index="btree_not_null", help="When the next escalation level falls due (empty: none left)."
    )
    decision_ids = fields.One2many("distribution.approval.decision", "request_tier_id", "Decisions")

    def _activate(self):
        """Open this tier: resolve its approvers (never the requester), start its SLA and give each
        approver an activity."""
        self.ensure_one()
        request = self.request_id
        record = request._source()
        requester = request.requested_by_id
        if self.tier_id:
            approvers = self.tier_id._approvers(record, requester)
        else:
            approvers = (
                self.env.ref(APPROVER_GROUP).users.filtered(
                    lambda u: u.active and not u.share and request.company_id in u.company_ids
                )
                - requester
            )
        now = fields.Datetime.now()
        deadline = approval.deadline(now, self.sla_hours)
        # Level order is delay order, whatever order the levels were entered in.
        delays = sorted(self.tier_id.escalation_ids.mapped("delay_hours")) if self.tier_id else []
        routed = self._route_unreachable_quorum(approvers, requester, deadline)
        approvers |= routed
        # sudo: see _decide.
        self.sudo().write(
            {
                "state": "pending",
                "approver_ids": [fields.Command.set(approvers.ids)],
                "started_at": now,
                "deadline": deadline,
                "escalation_level": 0,
                "next_escalation_at": approval.next_escalation_at(deadline, delays, 0),
            }
        )
        request.sudo().write({"current_tier_id": self.id})
        if routed:
            request.message_post(
                body=self.env._(
                    "Tier %(tier)s needs %(quorum)s approvals and its approvers other than the requester cannot "
                    "give them, with no escalation to make up for it: the Distribution Managers %(managers)s are "
                    "added to its approvers.",
                    tier=self.name,
                    quorum=max(1, self.min_approvals),
                    managers=", ".join(routed.mapped("name")),
                ),
                subtype_xmlid="mail.mt_note",
            )
            request._audit(
                "escalated",
                {
                    "tier": self.name,
                    "tier_sequence": self.sequence,
                    "outcome": "unreachable_quorum",
                    "escalated_to": routed.mapped("login"),
                },
            )
        if request._is_stuck():
            request.message_post(
                body=self.env._(
                    "Tier %s cannot reach its quorum with its approvers (the requester never decides): a "
                    "Distribution Manager decides the request, saying why.",
                    self.name,
                ),
                subtype_xmlid="mail.mt_note",
            )
        elif not approvers:
            request.message_post(
                body=self.env._(
                    "Tier %s has no approver other than the requester: it waits for its escalation "
                    "or a Distribution Manager.",
                    self.name,
                ),
                subtype_xmlid="mail.mt_note",
            )
        self._schedule_activities(approvers)

    def _route_unreachable_quorum(self, approvers, requester, deadline):
        """The Distribution Managers of the request's company to add to ``approvers`` when, without the
        requester, they cannot reach this tier's quorum and the escalation levels cannot make up for it
        (empty when the quorum is reachable)."""
        self.ensure_one()
        quorum = max(1, self.min_approvals)
        if len(approvers) >= quorum:
            return self.env["res.users"]
        company = self.request_id.company_id
        eligible = lambda u: u.active and not u.share and company in u.company_ids  # noqa: E731
        reinforcements = self.env["res.users"]
        if self.tier_id and deadline:
            # An escalation level fires only once the tier is overdue: without an SLA it never does.
            reinforcements = self.tier_id.escalation_ids.user_id.filtered(eligible) - requester - approvers
        if len(approvers) + len(reinforcements) >= quorum:
            return self.env["res.users"]
        return self.env.ref(MANAGER_GROUP).users.filtered(eligible) - requester - approvers

    def _schedule_activities(self, users):
        """One 'Distribution approval' activity per user on the request, due at the tier's deadline."""
        request = self.request_id
        for user in users:
            request.sudo().activity_schedule(
                ACTIVITY_TYPE,
                # Due on the deadline's day as the approver reads it (their time zone), not the UTC date.
                date_deadline=days.local_day(self.deadline or fields.Datetime.now(), user.tz),
                user_id=user.id,
                summary=self.env._(
                    "Approve %(request)s: %(document)s", request=request.name, document=request.res_name
                ),
                note=self._activity_note(user),
            )

    # -- issuing -----------------------------------------------------------------------------------
    def _decision_token(self, user):
        """The signature of (request, tier, user): hex HMAC-SHA256 keyed by the database secret."""
        self.ensure_one()
        # sudo: the database secret is a system parameter no approver may read, and the token is
        # computed for links the approver has not yet been checked against.
        tier = self.sudo()
        return hmac(self.env(su=True), LINK_SCOPE, f"{tier.request_id.id}:{tier.id}:{user.id}")

    def _decision_path(self, user):
        """The link's path, without the host (the form posts to this path + ``/decide``)."""
        self.ensure_one()
        # sudo: see _decision_token.
        request_id = self.sudo().request_id.id
        return f"{LINK_PREFIX}/{request_id}/{self.id}/{user.id}/{self._decision_token(user)}"

    def _decision_link(self, user):
        """What a collaboration tool needs to let ``user`` decide this tier: the one-click link and its token,
        bound to the request, this tier and that approver (see distribution.approval.request._decision_links)."""
        self.ensure_one()
        return {
            "approver": user.name,
            "login": user.login,
            "tier": self.name,
            "url": self._decision_url(user),
            "token": self._decision_token(user),
        }

    def _decision_url(self, user):
        """The absolute link (``web.base.url``) ``user`` follows to decide this tier."""
        self.ensure_one()
        return urljoin(self.sudo().request_id.get_base_url(), self._decision_path(user))

    def _activity_note(self, user):
        """The activity's text for approver ``user``: what is asked, the context figures and their own
        one-click link; the activity's assignment notification (e-mail or Discuss inbox) carries it."""
        request = self.request_id
        note = Markup("<p>%s</p>%s") % (request.reason or request.res_name, request._context_html_for(user))
        return note + Markup('<p><a class="o_distribution_decision_link" href="%s">%s</a></p>') % (
            self._decision_url(user),
            self.env._("Review and decide"),
        )

    # -- following the link ------------------------------------------------------------------------
    def _link_check(self, request_id, user_id, token):
        """Check the link ``(request_id, self, user_id, token)`` for the current user. Answers None when
        they may decide with it now, or ``(outcome, message)`` when not."""
        # sudo: the token is checked before anything is read as the user, so that the page says why a
        # link is refused even to someone who may not read the request.
        tier_sudo = self.sudo().exists()
        if not tier_sudo or tier_sudo.request_id.id != request_id:
            return "not_found", self.env._("This approval link does not match any approval request.")
        signed_for = self.env["res.users"].browse(user_id)
        if not consteq(tier_sudo._decision_token(signed_for).encode(), (token or "").encode()):
            return "forbidden", self.env._("This approval link is not valid: it was altered or never issued.")
        if user_id != self.env.uid:
            return (
                "forbidden",
                self.env._(
                    "This approval link was sent to another approver. Use the link of your own notification, "
                    "or open the request in Odoo."
                ),
            )
        try:
            self.check_access("read")
            approval_request = self.request_id
            approval_request.check_access("read")
        except AccessError as error:
            return "forbidden", error.args[0]
        if self.state != "pending" or approval_request.state != "pending" or approval_request.current_tier_id != self:
            states = dict(approval_request._fields["state"]._description_selection(self.env))
            return (
                "decided",
                self.env._(
                    "Tier %(tier)s of %(request)s has already been decided (the request is %(state)s): this "
                    "link can no longer be used.",
                    tier=self.name,
                    request=approval_request.name,
                    state=states[approval_request.state],
                ),
            )
        code = approval_request._refusal(self.env.user)
        if code == "already_decided":
            return "decided", approval_request._refusal_message(code)
        if code:
            return "forbidden", approval_request._refusal_message(code)
        return None

    def _link_values(self, outcome, message=None):
        """What the page shows: the request, its context, the tier, its approvers, the decisions."""
        values = {"outcome": outcome, "message": message, "tier": None, "approval_request": None}
        if outcome == "not_found" or not self.exists():
            return values
        try:
            self.check_access("read")
            self.request_id.check_access("read")
        except AccessError:
            # A user who may not read the request learns only why the link is refused.
            return values
        approval_request = self.request_id
        values.update(
            tier=self,
            approval_request=approval_request,
            # sudo: who may decide is shown to the approvers; users of other companies are named only.
            approvers=self.sudo().approver_ids.mapped("name"),
            decisions=approval_request.decision_ids,
            amount=approval_request.currency_id.format(approval_request.amount),
            # Through /mail/view: it switches the web client to the request's company when needed.
            open_url=f"/mail/view?model={approval_request._name}&res_id={approval_request.id}",
        )
        return values

    def _link_review(self, request_id, user_id, token):
        """The confirmation page of a link (GET): shows the request, changes nothing."""
        refusal = self._link_check(request_id, user_id, token)
        if refusal:
            return self._link_values(*refusal)
        values = self._link_values("review")
        values["decide_path"] = f"{self._decision_path(self.env.user)}/decide"
        return values

    def _link_decide(self, request_id, user_id, token, decision, comment=None):
        """The decision posted from the confirmation page of a link, as the current user. Nothing
        changes unless the outcome is ``done``."""
        refusal = self._link_check(request_id, user_id, token)
        if refusal:
            return self._link_values(*refusal)
        approval_request = self.request_id
        if decision not in ("approve", "reject"):
            return self._link_values("invalid", self.env._("Choose Approve or Reject."))
        comment = (comment or "").strip()
        if decision == "reject" and not comment:
            values = self._link_values(
                "comment_required",
                self.env._("Say why %s is rejected: a comment is required to reject.", approval_request.name),
            )
            values["decide_path"] = f"{self._decision_path(self.env.user)}/decide"
            return values
        try:
            # A refusal raised half-way leaves nothing behind: the page is still answered (and committed).
            with self.env.cr.savepoint():
                approval_request._decide(decision, comment or None, request_tier=self)
        except AccessError as error:
            return self._link_values("forbidden", error.args[0])
        except UserError as error:
            return self._link_values("invalid", error.args[0])
        return self._link_values("done", self._link_outcome_message(decision))

    def _link_outcome_message(self, decision):
        """What the decision did: the request approved or rejected, the next tier opened, or the tier
        waiting for more approvals."""
        approval_request = self.request_id
        if decision == "reject":
            return self.env._("You rejected %s. The requester is told with your comment.", approval_request.name)
        if approval_request.state == "approved":
            return self.env._("You approved %s. The request is approved.", approval_request.name)
        if approval_request.current_tier_id != self:
            return self.env._(
                "You approved tier %(tier)s of %(request)s. Tier %(next)s now decides.",
                tier=self.name,
                request=approval_request.name,
                next=approval_request.current_tier_id.name,
            )
        return self.env._(
            "You approved tier %(tier)s of %(request)s. It waits for more approvals.",
            tier=self.name,
            request=approval_request.name,
        )

    # -- escalation: a scheduled action adds each escalation level's person to the approvers of a tier
    # past its SLA, once per level and in level order, and never once the tier or its request is decided.
    def write(self, vals):
        # A tier that leaves 'pending' (approved, rejected, cancelled) is decided: its escalation stops
        # with it, so the scheduled action has nothing left to find.
        if vals.get("state") and vals["state"] != "pending" and "next_escalation_at" not in vals:
            vals = dict(vals, next_escalation_at=False)
        return super().write(vals)

    # -- scheduled action --------------------------------------------------------------------------
    @api.model
    def _cron_escalate(self, batch_size=500):
        """Escalate one batch of overdue tiers; returns how many tiers it handled.

        Claims the tiers whose next escalation is due (pending tier of a pending request) with FOR UPDATE
        SKIP LOCKED, so that several workers (or a manual run next to the scheduled one) never escalate
        the same tier twice, then does every level due of each, in order, in one tracked run per company.
        The scheduler is told that more remain when the batch was full."""
        if batch_size < 1:
            raise UserError(self.env._("The batch size of the escalation must be at least 1, not %s.", batch_size))
        # sudo: escalation is the system's work, whatever user the scheduled action is set to run as.
        Tier = self.sudo()
        now = fields.Datetime.now()
        ids = Tier._escalation_claim(now, batch_size)
        if ids is None:
            # A decision committed on a candidate after this transaction began: a new transaction sees it.
            self._escalation_trigger()
            self.env["ir.cron"]._notify_progress(done=0, remaining=0)
            return 0
        tiers = Tier.browse(ids)
        Run = self.env["distribution.workflow.run"]
        for company_tiers in tiers.grouped("company_id").values():
            with Run.track(WORKFLOW, company_tiers) as run:
                escalations = company_tiers._escalate(now)
                run.reason = "escalated" if escalations else "nothing_due"
                run.message = self.env._(
                    "%(levels)s escalation level(s) done on %(tiers)s overdue tier(s).",
                    levels=escalations,
                    tiers=len(company_tiers),
                )
        full = len(ids) >= batch_size
        self.env["ir.cron"]._notify_progress(done=len(ids), remaining=1 if full else 0)
        # The key only says whether the scheduler runs us (harmless to forge: at worst, one more trigger).
        if full and not self.env.context.get("ir_cron_progress_id"):
            # Called outside the scheduler (a manual run): the scheduler takes over the rest.
            self._escalation_trigger()
        return len(ids)

    @api.model
    def _escalation_trigger(self):
        """Ask the scheduler to run the escalation again as soon as it can."""
        cron = self.env.ref(CRON, raise_if_not_found=False)
        if cron:
            # sudo: triggering a scheduled action is technical; whoever runs the escalation may.
            cron.sudo()._trigger()

    @api.model
    def _escalation_claim(self, now, batch_size):
        """Lock and return the ids of up to ``batch_size`` tiers whose next escalation is due at ``now``,
        most overdue first; None when a candidate changed after this transaction's snapshot."""
        self.flush_model(["state", "next_escalation_at", "request_id"])
        self.env["distribution.approval.request"].flush_model(["state"])
        # Raw SQL: FOR UPDATE SKIP LOCKED has no ORM equivalent; it lets several workers share the due
        # tiers, each tier being taken by one of them only. Locking the tier row also orders escalation and
        # decision: a decision writes the tier, so it waits for (or is seen by) the escalation.
        query = SQL(
            """
            SELECT tier.id
              FROM distribution_approval_request_tier tier
              JOIN distribution_approval_request request ON request.id = tier.request_id
             WHERE tier.next_escalation_at <= %s
               AND tier.state = 'pending'
               AND request.state = 'pending'
          ORDER BY tier.next_escalation_at, tier.id
             LIMIT %s
               FOR UPDATE OF tier SKIP LOCKED
            """,
            now,
            batch_size,
        )
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(query, log_exceptions=False)
                return [row[0] for row in self.env.cr.fetchall()]
        except psycopg2.errors.SerializationFailure:
            # Odoo transactions are REPEATABLE READ: a decision committed after this transaction's snapshot
            # cannot be locked here. Nothing is written yet; the next transaction sees the decision.
            _logger.info("Approval escalation: a tier changed concurrently, the batch is retried in a new run.")
            return None

    def _escalate(self, now):
        """Do every escalation level due at ``now`` of these tiers (locked by the caller), oldest level
        first, each once: the level's person joins the approvers (never the requester) and gets an
        approval activity, the request's chatter, audit trail and outbox say so; then the tier's level and
        next escalation time move on. The reads are batched over the tiers: the cost per tier is flat.
        Returns the number of levels done."""
        plans = self._escalation_plans(now)
        requests = self.request_id
        request_model = requests._name
        # Who already holds an approval activity on these requests (an escalation target may be an
        # approver already): one grouped read for the batch.
        activity_type = requests._activity_type()
        holders = {
            (res_id, user.id)
            for res_id, user in self.env["mail.activity"]._read_group(
                [
                    ("res_model", "=", request_model),
                    ("res_id", "in", requests.ids),
                    ("activity_type_id", "=", activity_type.id),
                ],
                ["res_id", "user_id"],
            )
        }
        decided = {(decision.request_tier_id.id, decision.user_id.id) for decision in self.decision_ids}
        Outbox = self.env["distribution.outbound.event"]
        done = 0
        rounds = max((len(steps) for steps in plans.values()), default=0)
        for index in range(rounds):
            # One round does the index-th due level of every tier: a tier catching up on several levels
            # does them in order, and each round is written in batches (notes, events).
            steps = [(tier, *plans[tier][index]) for tier in self if len(plans[tier]) > index]
            notes, events = {}, []
            for tier, level, escalation in steps:
                request = tier.request_id
                target = escalation.user_id
                if target == request.requested_by_id:
                    outcome = "self_approval"
                elif not target.active:
                    outcome = "archived"
                elif target in tier.approver_ids:
                    outcome = "already_approver"
                else:
                    outcome = "added"
                    tier.write({"approver_ids": [Command.link(target.id)]})
                if outcome == "self_approval":
                    # Segregation of duties: the requester never decides their own request. They are told
                    # all the same, by a note addressed to them.
                    request.message_post(
                        body=tier._escalation_note(level, target, outcome),
                        partner_ids=target.partner_id.ids,
                        subtype_xmlid="mail.mt_note",
                    )
                else:
                    notes[request.id] = tier._escalation_note(level, target, outcome)
                    key = (request.id, target.id)
                    if outcome != "archived" and key not in holders and (tier.id, target.id) not in decided:
                        tier._schedule_activities(target)
                        holders.add(key)
                request._audit(
                    "escalated",
                    {
                        "tier": tier.name,
                        "tier_sequence": tier.sequence,
                        "level": level,
                        "delay_hours": escalation.delay_hours,
                        "deadline": fields.Datetime.to_string(tier.deadline),
                        "escalated_to": target.login,
                        "outcome": outcome,
                    },
                )
                data = dict(
                    request._event_data(),
                    escalation={
                        "level": level,
                        "tier": tier.name,
                        "escalated_to": target.name,
                        "outcome": outcome,
                    },
                )
                if outcome == "added":
                    # The new approver decides from a collaboration tool like the first ones: their own link
                    # and token (see distribution.approval.request._decision_links).
                    data["decision_links"] = [tier._decision_link(target)]
                events.append((request, data))
                done += 1
            if notes:
                requests.browse(list(notes))._message_log_batch(bodies=notes)
            if events:
                # One batch for the round: the endpoints are read once, whatever the number of requests.
                Outbox._emit_many(EVENT_ESCALATED, events)
        for tier in self:
            delays = tier._escalation_levels().mapped("delay_hours")
            level = plans[tier][-1][0] if plans[tier] else tier.escalation_level
            tier.write(
                {
                    "escalation_level": level,
                    "next_escalation_at": approval.next_escalation_at(tier.deadline, delays, level),
                }
            )
        return done

    def _escalation_plans(self, now):
        """{tier: [(level, escalation), ...]}: the levels due at ``now`` of each tier, oldest first. The
        tiers, their requests, levels and target users are read in a few batched queries."""
        self.fetch(["request_id", "tier_id", "deadline", "escalation_level", "name", "sequence", "approver_ids"])
        self.request_id.fetch(["name", "requested_by_id", "company_id", "res_model", "res_id", "res_name"])
        levels = self.tier_id.escalation_ids
        levels.fetch(["tier_id", "delay_hours", "user_id"])
        levels.user_id.fetch(["name", "login", "active", "partner_id"])
        plans = {}
        for tier in self:
            escalations = tier._escalation_levels()
            due = approval.levels_due(tier.deadline, escalations.mapped("delay_hours"), tier.escalation_level or 0, now)
            plans[tier] = [(level, escalations[level - 1]) for level in due]
        return plans

    def _escalation_levels(self):
        """The escalation levels of this tier, in level order (level 1 first)."""
        self.ensure_one()
        return self.tier_id.escalation_ids.sorted(lambda e: (e.delay_hours, e.id))

    def _escalation_note(self, level, target, outcome):
        """The chatter note of one escalation level; ``outcome`` says what became of its target:
        'added', 'already_approver', 'archived' or 'self_approval'."""
        self.ensure_one()
        values = {
            "level": level,
            "tier": self.name,
            "sla": self.sla_hours,
            "user": target.name,
            "request": self.request_id.name,
        }
        if outcome == "self_approval":
            return self.env._(
                "Escalation level %(level)s of tier %(tier)s (overdue, SLA %(sla)s h): %(user)s requested "
                "%(request)s and may not approve it (segregation of duties), so is not added to the approvers; "
                "the other approvers or a Distribution Manager must decide.",
                **values,
            )
        if outcome == "archived":
            return self.env._(
                "Escalation level %(level)s of tier %(tier)s (overdue, SLA %(sla)s h): %(user)s is archived and "
                "is not added to the approvers; correct the escalation levels of the approval rule.",
                **values,
            )
        if outcome == "already_approver":
            return self.env._(
                "Escalation level %(level)s of tier %(tier)s (overdue, SLA %(sla)s h): %(user)s, already one "
                "of its approvers, is reminded.",
                **values,
            )
        return self.env._(
            "Escalation level %(level)s of tier %(tier)s (overdue, SLA %(sla)s h): %(user)s is added to its "
            "approvers.",
            **values,
        )
