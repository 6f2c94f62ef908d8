"""The pure layer of distribution_observability: health levels, alert decisions, Prometheus text."""

import doctest
from datetime import datetime
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .services import load_service

health = load_service("distribution_observability", "health")
alerting = load_service("distribution_observability", "alerting")
prometheus = load_service("distribution_observability", "prometheus")
domains = load_service("distribution_observability", "domains")
days = load_service("distribution_observability", "days")


@pytest.mark.parametrize("module", [health, alerting, prometheus, domains, days], ids=lambda m: m.__name__)
def test_doctests(module):
    failures, tried = doctest.testmod(module)
    assert tried > 0 and failures == 0


@pytest.mark.parametrize(
    ("value", "warning", "critical", "expected"),
    [
        (0, 10, 50, "ok"),
        (9.99, 10, 50, "ok"),
        (10, 10, 50, "warning"),
        (49.9, 10, 50, "warning"),
        (50, 10, 50, "critical"),
        (1000, 0, 0, "ok"),
        (5, None, 5, "critical"),
        (None, 1, 2, "ok"),
    ],
)
def test_level_boundaries(value, warning, critical, expected):
    assert health.level(value, warning, critical) == expected


def test_overall_status_is_the_worst_check():
    assert health.overall_status([]) == "ok"
    assert health.overall_status([{"level": "ok"}, {"level": "warning"}]) == "degraded"
    assert health.overall_status([{"level": "warning"}, {"level": "critical"}]) == "failing"


def test_age_buckets_add_up():
    buckets = health.age_buckets(100, 10, 30, 70)
    assert sum(buckets.values()) == 100
    assert buckets == {"lt_1h": 10, "h1_4": 20, "h4_24": 40, "gt_24h": 30}


def test_alert_lifecycle_over_time():
    now = datetime(2026, 11, 30, 12, 0)
    assert alerting.decide(True, False, None, 30, now) == alerting.OPEN_AND_NOTIFY
    assert alerting.decide(True, True, now, 30, now + timedelta(minutes=5)) == alerting.KEEP
    assert alerting.decide(False, True, now, 30, now + timedelta(minutes=10)) == alerting.RESOLVE
    assert alerting.decide(True, False, now, 30, now + timedelta(minutes=29)) == alerting.OPEN_SILENTLY
    assert alerting.decide(True, False, now, 30, now + timedelta(minutes=30)) == alerting.OPEN_AND_NOTIFY
    assert alerting.decide(True, False, now, 0, now) == alerting.OPEN_AND_NOTIFY


def test_prometheus_text_parses_with_the_reference_parser():
    text = prometheus.render(
        [
            (
                "distribution_workflow_runs",
                "gauge",
                "Runs.",
                [
                    ({"workflow": "order_validation", "state": "success"}, 12),
                    ({"workflow": 'we"ird\\name\nx', "state": "failed"}, 1),
                ],
            ),
            ("distribution_queue_oldest_age_seconds", "gauge", "Age.", [({"queue": "q"}, 3600.5)]),
            ("distribution_alerts_open", "gauge", "Open.", [({}, float("nan"))]),
        ]
    )
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    assert samples[0].labels == {"workflow": "order_validation", "state": "success"}
    assert samples[0].value == 12
    assert samples[1].labels["workflow"] == 'we"ird\\name\nx'
    assert samples[2].value == 3600.5
    assert samples[3].value != samples[3].value  # NaN
