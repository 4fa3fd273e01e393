"""Every regular expression in maild runs in linear time (SPEC §8, issue 13).

CPU-budget assertions, on purpose: each pattern (found by
tests/fixtures/adversarial.py in every maild module) is run with search,
match and findall on generated adversarial inputs at the sizes maild applies
it to, and must stay under PATTERN_BUDGET per input; whole hostile messages,
up to the limits parse.py enforces, must go through the pure pipeline in
under MESSAGE_BUDGET. A super-linear pattern shows up as minutes at these
sizes, so the budgets leave room for a loaded machine. Each run is stopped
at four times its budget, so a regression fails fast instead of hanging.
The worst inputs and their times: `.venv/bin/python bench/regex_worst.py`.
"""

from __future__ import annotations

import pytest

from tests.fixtures.adversarial import (
    NamedPattern,
    adversarial_messages,
    all_patterns,
    cpu,
    process_message,
    worst_input,
)

PATTERN_BUDGET = 0.5
MESSAGE_BUDGET = 2.0

PATTERNS = all_patterns()
MESSAGES = list(adversarial_messages())


def test_patterns_are_found() -> None:
    names = {p.name for p in PATTERNS}
    # One of each kind of place a pattern lives: module level, a tuple, inline.
    assert {
        "maild.policy.bounces._GMAIL_RECIPIENT",
        "maild.inbound.intake._COLON_LABEL",
        "maild.inbound.quotes._LIBRARY_WROTE[0]",
    } <= names
    assert any(":" in name for name in names)
    assert len(PATTERNS) >= 60


@pytest.mark.parametrize("named", PATTERNS, ids=lambda p: p.name)
def test_pattern_is_linear(named: NamedPattern) -> None:
    seconds, label = worst_input(named, limit=4 * PATTERN_BUDGET)
    assert seconds < PATTERN_BUDGET, f"{named.name}: {seconds:.2f} s CPU on {label}"


@pytest.mark.parametrize(("label", "raw"), MESSAGES, ids=[label for label, _ in MESSAGES])
def test_message_within_budget(label: str, raw: bytes) -> None:
    process_message(b"From: a@example.com\n\nwarm-up\n")  # imports and compiled templates not counted
    seconds = cpu(lambda: process_message(raw), limit=4 * MESSAGE_BUDGET)
    assert seconds < MESSAGE_BUDGET, f"{label}: {seconds:.2f} s CPU"


def test_known_reproductions_keep_their_results() -> None:
    """The rewritten patterns still find what the old ones found in ordinary bounces and intake."""
    from maild.inbound.intake import read_fields, read_severity
    from maild.inbound.parse import parse_message
    from maild.policy.bounces import bounce_targets

    bounce = parse_message(
        b"From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
        b"Subject: Delivery Status Notification (Failure)\nMessage-ID: <b@x>\n\n"
        b"Delivery to the following recipient failed permanently:\n\n     bob@example.org\n\n"
        b"Final-Recipient: rfc822; <carol@example.org>\n"
    )
    assert set(bounce_targets(bounce)[1]) == {"bob@example.org", "carol@example.org"}
    body = "【業務影響】： 大きい  \n- Workaround:   restart it  \n**Severity:** 2 (urgent)  \n"
    assert read_fields(body) == {"business_impact": "大きい", "workaround": "restart it"}
    assert read_severity("x", "Severity:   3  \n", 4).value == 3
