"""Decisions of the approval matrix, in plain Python: which band an amount falls in, when a tier is
complete, who may decide, when an escalation level is due."""

from datetime import timedelta


def amount_in_band(amount, amount_min, amount_max):
    """Whether ``amount`` falls in the band [amount_min, amount_max): the lower bound is included, the
    upper one excluded, so that adjacent bands (0-1,000, 1,000-5,000) never overlap. A bound of 0 (or
    None) means "no bound".

    >>> amount_in_band(1000, 1000, 5000), amount_in_band(5000, 1000, 5000), amount_in_band(999.99, 1000, 0)
    (True, False, False)
    >>> amount_in_band(10**9, 5000, 0), amount_in_band(0, 0, 0)
    (True, True)
    """
    amount = amount or 0.0
    if amount_min and amount < amount_min:
        return False
    return not (amount_max and amount >= amount_max)


def auto_approved(amount, threshold):
    """Below the rule's threshold a request is approved at once (and still recorded).

    >>> auto_approved(499.99, 500), auto_approved(500, 500), auto_approved(10, 0)
    (True, False, False)
    """
    return bool(threshold) and (amount or 0.0) < threshold


def quorum_reached(approvals, required):
    """A tier is approved when it has ``required`` approvals (at least one).

    >>> quorum_reached(1, 2), quorum_reached(2, 2), quorum_reached(1, 0)
    (False, True, True)
    """
    return approvals >= max(1, required or 1)


def refusal(user_id, requester_id, eligible_ids, decided_here_ids, approved_other_tier_ids, four_eyes):
    """Why ``user_id`` may not decide the current tier, as a reason code, or None when they may.

    - ``self_approval``: the requester never decides their own request, whatever their groups;
    - ``not_approver``: not among the tier's approvers (including escalation targets);
    - ``already_decided``: one decision per person and tier;
    - ``four_eyes``: with four-eyes, one person approves at most one tier of a request.

    >>> refusal(7, 7, {7, 8}, set(), set(), False)
    'self_approval'
    >>> refusal(8, 7, {8}, set(), {8}, True), refusal(8, 7, {8}, set(), {8}, False)
    ('four_eyes', None)
    >>> refusal(9, 7, {8}, set(), set(), False), refusal(8, 7, {8}, {8}, set(), False)
    ('not_approver', 'already_decided')
    """
    if user_id == requester_id:
        return "self_approval"
    if user_id not in eligible_ids:
        return "not_approver"
    if user_id in decided_here_ids:
        return "already_decided"
    if four_eyes and user_id in approved_other_tier_ids:
        return "four_eyes"
    return None


def deadline(started_at, sla_hours):
    """When a tier started at ``started_at`` is overdue (None without an SLA).

    >>> from datetime import datetime
    >>> deadline(datetime(2026, 1, 1, 8), 4), deadline(datetime(2026, 1, 1, 8), 0)
    (datetime.datetime(2026, 1, 1, 12, 0), None)
    """
    if not sla_hours:
        return None
    return started_at + timedelta(hours=sla_hours)


def next_escalation_at(tier_deadline, level_delays, current_level):
    """When the next escalation level of a tier falls due: ``level_delays`` are the hours after the
    tier's deadline at which each level (1, 2, ...) fires, in level order; ``current_level`` is the
    last level done (0: none). None when no level is left or the tier has no deadline.

    >>> from datetime import datetime
    >>> due = datetime(2026, 1, 1, 12)
    >>> next_escalation_at(due, [0, 8, 24], 0), next_escalation_at(due, [0, 8, 24], 1)
    (datetime.datetime(2026, 1, 1, 12, 0), datetime.datetime(2026, 1, 1, 20, 0))
    >>> next_escalation_at(due, [0, 8], 2), next_escalation_at(None, [0], 0)
    (None, None)
    """
    if tier_deadline is None or current_level >= len(level_delays):
        return None
    return tier_deadline + timedelta(hours=level_delays[current_level])


def levels_due(tier_deadline, level_delays, current_level, now):
    """The escalation levels (numbers) that are due at ``now`` and not done yet, oldest first: a job
    that ran late catches up level by level, each exactly once.

    >>> from datetime import datetime
    >>> due = datetime(2026, 1, 1, 12)
    >>> levels_due(due, [0, 8, 24], 0, datetime(2026, 1, 1, 21)), levels_due(due, [0, 8], 2, datetime(2027, 1, 1))
    ([1, 2], [])
    >>> levels_due(due, [0, 8], 0, datetime(2026, 1, 1, 11, 59))
    []
    """
    if tier_deadline is None:
        return []
    return [
        level
        for level in range(current_level + 1, len(level_delays) + 1)
        if tier_deadline + timedelta(hours=level_delays[level - 1]) <= now
    ]


def lead_time_fingerprint(days, lines):
    """What an approval of an announced lead time is given for: the announced ``days`` and the price list
    lines with the delay each had when it was asked (``lines``: dicts with ``supplierinfo_id`` and
    ``planned_days``), in a form that compares equal for the same announcement on the same plan.

    >>> b1, b2 = {"supplierinfo_id": 1, "planned_days": 3}, {"supplierinfo_id": 2, "planned_days": 7}
    >>> a = lead_time_fingerprint(14, [b2, b1])
    >>> a == lead_time_fingerprint(14.0, [b1, b2]), a == lead_time_fingerprint(15, [b1, b2])
    (True, False)
    >>> a
    '14:1=3,2=7'
    """
    planned = sorted((int(line["supplierinfo_id"]), float(line["planned_days"])) for line in lines)
    return f"{float(days):g}:" + ",".join(f"{info_id}={delay:g}" for info_id, delay in planned)


def lead_time_lines_to_write(lines, current_delays):
    """Split the approved ``lines`` (dicts with ``supplierinfo_id`` and ``planned_days``) by what the plan is
    now (``current_delays``: {supplierinfo id: delay}, without the lines deleted since): the ids whose delay
    is still the planned one (the approval applies to them), and the others as (line, delay now or None
    when deleted).

    >>> lines = [{"supplierinfo_id": 1, "planned_days": 3}, {"supplierinfo_id": 2, "planned_days": 7},
    ...          {"supplierinfo_id": 3, "planned_days": 7}]
    >>> ids, changed = lead_time_lines_to_write(lines, {1: 3, 2: 9})
    >>> ids, [(line["supplierinfo_id"], now) for line, now in changed]
    ([1], [(2, 9), (3, None)])
    """
    to_write, changed = [], []
    for line in lines:
        now = current_delays.get(int(line["supplierinfo_id"]))
        if now is not None and float(now) == float(line["planned_days"]):
            to_write.append(int(line["supplierinfo_id"]))
        else:
            changed.append((line, now))
    return to_write, changed


# -- decisions from collaboration tools (the inbound handler ``approval_decision``) -----------------
DECISIONS = ("approve", "reject")
TOKEN_LENGTH = 64  # a decision token is a hex HMAC-SHA256
MAX_DECISION_TEXT = 2000
MAX_LABEL = 128


def decision_problems(data, problems, **_options):
    """The schema of an ``approval_decision`` body's ``data``: ``request`` (its reference), ``token`` (the
    approver's decision token), ``decision`` (approve or reject), ``comment`` (required to reject),
    ``actor`` (the login or e-mail of who decides in the tool), optional ``channel`` (e.g. "slack via n8n").
    Appends what is wrong to ``problems``; the inbox answers 400 with them (and logs the rejection).

    >>> decision_problems({"request": "APR/0001", "token": "ab" * 32, "decision": "approve", "actor": "alice"}, [])
    >>> problems = []
    >>> decision_problems({"request": 7, "token": "xyz", "decision": "reject", "comment": " ", "channel": 3}, problems)
    >>> problems  # doctest: +NORMALIZE_WHITESPACE
    ['data.request must be a string', 'data.token must be the 64 hexadecimal digits of a decision token',
     'data.comment is required to reject', 'data.actor is required', 'data.channel must be a string']
    >>> problems = []
    >>> decision_problems({"request": "R", "token": "AB" * 32, "decision": "maybe", "actor": "a"}, problems)
    >>> problems
    ["data.decision must be one of approve, reject, got 'maybe'"]
    """
    _label(data, "request", problems)
    token = data.get("token")
    if not (isinstance(token, str) and len(token) == TOKEN_LENGTH and _is_hex(token)):
        problems.append(f"data.token must be the {TOKEN_LENGTH} hexadecimal digits of a decision token")
    decision = data.get("decision")
    if decision not in DECISIONS:
        problems.append(f"data.decision must be one of {', '.join(DECISIONS)}, got {str(decision)[:40]!r}")
    comment = data.get("comment")
    if comment is not None and not isinstance(comment, str):
        problems.append("data.comment must be a string")
    elif comment and len(comment) > MAX_DECISION_TEXT:
        problems.append(f"data.comment must be at most {MAX_DECISION_TEXT} characters")
    elif decision == "reject" and not (comment or "").strip():
        problems.append("data.comment is required to reject")
    _label(data, "actor", problems)
    _label(data, "channel", problems, required=False)


def _label(data, key, problems, required=True):
    value = data.get(key)
    if value is None or value == "":
        if required:
            problems.append(f"data.{key} is required")
    elif not isinstance(value, str):
        problems.append(f"data.{key} must be a string")
    elif len(value) > MAX_LABEL:
        problems.append(f"data.{key} must be at most {MAX_LABEL} characters")


def _is_hex(text):
    """
    >>> _is_hex("09afAF"), _is_hex("0x1"), _is_hex("\\uff10")
    (True, False, False)
    """
    return text.isascii() and all(char in "0123456789abcdefABCDEF" for char in text)
