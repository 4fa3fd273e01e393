"""The outbox's backoff curve (maild.outbound.outbox.retry_delay): initial, doubling, capped, ±jitter."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from maild.outbound.outbox import retry_delay

INITIAL, MAXIMUM = timedelta(seconds=30), timedelta(hours=1)  # the config defaults


def test_without_jitter_the_delay_doubles_from_the_initial_and_stops_at_the_maximum() -> None:
    delays = [retry_delay(n, INITIAL, MAXIMUM, jitter=0).total_seconds() for n in range(1, 10)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_no_attempt_yet_counts_as_the_first() -> None:
    assert retry_delay(0, INITIAL, MAXIMUM, jitter=0) == INITIAL


@pytest.mark.parametrize("attempts", [1, 4, 8, 30])
def test_jitter_stays_within_ten_percent_of_the_curve(attempts: int) -> None:
    random.seed(attempts)
    base = retry_delay(attempts, INITIAL, MAXIMUM, jitter=0).total_seconds()
    samples = [retry_delay(attempts, INITIAL, MAXIMUM).total_seconds() for _ in range(500)]
    assert all(0.9 * base <= s <= 1.1 * base for s in samples)
    assert max(samples) - min(samples) > 0.1 * base, "jittered, so retries of many rows spread out"
