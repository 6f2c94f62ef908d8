"""What the triage does with a suggestion, without Odoo: route it, or send it to a person.

AI recommends; rules and people decide. A suggestion is routed by itself only when its label allows
it, its confidence reaches the label's own threshold, no second opinion contradicts it on a sensitive
label, and there is someone to route it to. Every outcome has a reason code, stored on the message
and on its tracked run, so that the desk can tell why a message waits.

>>> decide(0.92, 0.8, auto_route=True, has_owner=True)
Decision(route=True, reason='auto_routed')
>>> decide(0.55, 0.8, auto_route=True, has_owner=True)
Decision(route=False, reason='below_threshold')
>>> decide(0.55, 0.8, auto_route=True, has_owner=True, fallback_used=True)
Decision(route=False, reason='provider_down_fallback')
>>> decide(0.95, 0.8, auto_route=True, has_owner=True, disagreement=True)
Decision(route=False, reason='disagreement')
"""

from dataclasses import dataclass

# Reason codes, in the order they are checked.
REASONS = (
    "disagreement",  # two providers disagree and one of the labels is sensitive
    "manual_label",  # the label is never routed by itself
    "provider_down_fallback",  # the providers failed: the rules answered, below the threshold
    "below_threshold",  # the confidence is under the label's threshold
    "no_owner",  # the label has no owner nor team to route to
    "auto_routed_fallback",  # routed on the rules' answer while the providers were down
    "auto_routed",  # routed by itself
)
ROUTED_REASONS = ("auto_routed", "auto_routed_fallback")


@dataclass(frozen=True)
class Decision:
    """``route``: whether the message is routed by itself; ``reason``: one of ``REASONS``."""

    route: bool
    reason: str


def decide(confidence, threshold, auto_route, has_owner, disagreement=False, fallback_used=False):
    """The decision for a suggestion of ``confidence`` on a label of ``threshold`` (both 0..1).

    ``fallback_used``: the answer came from the rules after every provider before them failed.

    >>> decide(0.95, 0.8, auto_route=False, has_owner=True)
    Decision(route=False, reason='manual_label')
    >>> decide(0.95, 0.8, auto_route=True, has_owner=False)
    Decision(route=False, reason='no_owner')
    >>> decide(0.8, 0.8, auto_route=True, has_owner=True, fallback_used=True)
    Decision(route=True, reason='auto_routed_fallback')
    """
    if disagreement:
        return Decision(False, "disagreement")
    if not auto_route:
        return Decision(False, "manual_label")
    if confidence < threshold:
        return Decision(False, "provider_down_fallback" if fallback_used else "below_threshold")
    if not has_owner:
        return Decision(False, "no_owner")
    return Decision(True, "auto_routed_fallback" if fallback_used else "auto_routed")


def disagree(primary, second, sensitive_codes, min_confidence=0.3):
    """Whether a second opinion contradicts the primary suggestion on a sensitive label.

    ``primary`` and ``second`` are ``(label, confidence)`` (``second`` may be None); a second opinion
    under ``min_confidence`` is no opinion (rules that matched nothing say 'other' with 0).

    >>> disagree(("order_status", 0.9), ("invoice_dispute", 0.75), {"invoice_dispute"})
    True
    >>> disagree(("invoice_dispute", 0.9), ("other", 0.0), {"invoice_dispute"})
    False
    >>> disagree(("order_status", 0.9), ("delivery_reschedule", 0.75), {"invoice_dispute"})
    False
    """
    if not second or second[1] < min_confidence or second[0] == primary[0]:
        return False
    return primary[0] in sensitive_codes or second[0] in sensitive_codes


def agreement_rate(accepted, reviewed):
    """Suggestions accepted among those reviewed, in percent, or None when nothing was reviewed.

    >>> agreement_rate(9, 12), agreement_rate(0, 0)
    (75.0, None)
    """
    return round(100.0 * accepted / reviewed, 2) if reviewed else None


@dataclass(frozen=True)
class Combined:
    """The chain's answer: the label, its combined confidence, the answers that said it (indexes in the
    chain's order), and whether a sensitive label is contested."""

    label: str
    confidence: float
    supporters: tuple
    contested: bool


def combine(answers, sensitive_codes=(), min_opinion=0.3, mentioned=()):
    """Combine the suggestions of a chain ``[(label, confidence)]`` (in the chain's order, None for a
    provider that failed): each label's confidence is the noisy-OR of the providers that said it
    (``1 - (1 - c1)(1 - c2)``: two unsure classifiers that agree make a surer answer, one that disagrees
    adds nothing). The best label wins (the earliest provider's on a tie). ``contested``: another label
    said with at least ``min_opinion`` is sensitive, or the winner is sensitive and another label was
    said with at least ``min_opinion``. ``mentioned``: labels some classifier saw evidence for without
    choosing them (a tie of the rules): a sensitive one among them contests another winner too.

    >>> combine([("order_status", 0.5), ("order_status", 0.6)])
    Combined(label='order_status', confidence=0.8, supporters=(0, 1), contested=False)
    >>> combine([None, ("other", 0.0)])
    Combined(label='other', confidence=0.0, supporters=(1,), contested=False)
    >>> combine([("invoice_dispute", 0.7), ("order_status", 0.5)], {"invoice_dispute"}).contested
    True
    >>> combine([("shortage_escalation", 0.9)], {"invoice_dispute"}, mentioned={"invoice_dispute"}).contested
    True
    """
    scores, supporters, first = {}, {}, {}
    for index, answer in enumerate(answers):
        if answer is None:
            continue
        label, confidence = answer
        scores[label] = 1.0 - (1.0 - scores.get(label, 0.0)) * (1.0 - max(0.0, min(1.0, confidence)))
        supporters.setdefault(label, []).append(index)
        first.setdefault(label, index)
    if not scores:
        raise ValueError("no answer to combine")
    label = min(scores, key=lambda code: (-round(scores[code], 9), first[code]))
    others = [code for code, score in scores.items() if code != label and score >= min_opinion]
    seen = [code for code in mentioned if code != label]
    contested = any(code in sensitive_codes for code in (*others, *seen)) or (label in sensitive_codes and bool(others))
    return Combined(label, round(scores[label], 6), tuple(supporters[label]), contested)
