"""The retry policy of the outbox (distribution_orchestration/services/backoff.py)."""

import doctest
import random

import pytest

from .services import load_service

backoff = load_service("distribution_orchestration", "backoff")


def test_doctests():
    failures, tried = doctest.testmod(backoff)
    assert tried >= 10 and failures == 0


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (500, "retry"),
        (503, "retry"),
        (408, "retry"),
        (429, "retry"),
        (None, "retry"),
        (400, "dead"),
        (401, "dead"),
        (404, "dead"),
        (409, "dead"),
        (302, "dead"),
    ],
)
def test_outcome_of_an_answer(status, outcome):
    assert backoff.outcome(status) == outcome


def test_delays_grow_exponentially_up_to_the_cap():
    delays = [backoff.delay(attempt, base=10, factor=2, cap=300, jitter=0) for attempt in range(1, 10)]
    assert delays == [10, 20, 40, 80, 160, 300, 300, 300, 300]


def test_jitter_stays_within_its_fraction_and_keeps_delays_growing():
    source = random.Random(42)
    for attempt in range(1, 8):
        low, high = backoff.delay(attempt, jitter=0) * 0.8, backoff.delay(attempt, jitter=0)
        for _ in range(50):
            assert low <= backoff.delay(attempt, jitter=0.2, rand=source.random) <= high
    # With factor 2 and 20 % jitter the worst case of an attempt is above the best case of the previous one.
    assert backoff.delay(2, rand=lambda: 0.999999) > backoff.delay(1, rand=lambda: 0.0)


def test_same_random_source_same_delays():
    first = [backoff.delay(n, rand=random.Random(7).random) for n in range(1, 6)]
    second = [backoff.delay(n, rand=random.Random(7).random) for n in range(1, 6)]
    assert first == second


def test_huge_attempt_numbers_do_not_overflow():
    assert backoff.delay(10_000, jitter=0) == backoff.CAP_SECONDS


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30", 30.0), ("0", 0.0), ("-1", 0.0), ("nan", 0.0), ("abc", 0.0), (None, 0.0), ("1e9", backoff.CAP_SECONDS)],
)
def test_retry_after(value, seconds):
    assert backoff.retry_after(value) == seconds
