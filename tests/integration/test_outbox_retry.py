"""Outbox retries on a fixed clock: the backoff it stores, recovery, and giving up after `give_up_after`.

The dispatcher's steps (maild.outbound.outbox: claim what is due, send it,
record the answer) run at instants a FixedClock sets, against the real SMTP
sink answering 451, so every delay is checked exactly and nothing waits on
wall time. The retry state is read back from the database, where it lives
so that backoff survives restarts (README, "Notifications").
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from maild.app import App
from maild.clock import FixedClock
from maild.config import load_settings
from maild.outbound.outbox import OutboxStore
from maild.outbound.smtp import Envelope, SendResult
from tests.integration.env import AGENT, ALICE, MaildEnv, OutboxRow, message

RETRY = {"outbox.retry_initial": "10s", "outbox.retry_max": "60s", "outbox.give_up_after": "5m"}
GIVE_UP_AFTER = timedelta(minutes=5)
JITTER = 0.1  # retry_delay's default: ±10%
TEMPORARY = "451 4.3.0 Temporary local problem, try again later (injected by maild sink)"


def queue_one(env: MaildEnv, imap_box: Any) -> OutboxRow:
    """A case opened (its acknowledgement sent), then an agent's reply queued and not yet sent."""
    imap_box.append(message(ALICE, "Backoff", "The export fails.\n"))
    env.run_once()
    (case,) = env.cases()
    env.ok("case", "reply", case["number"], "--as", AGENT, "--body", "Looking into it.")
    (row,) = [r for r in env.outbox() if r.status == "pending"]
    assert row.recipient == ALICE and row.attempts == 0
    return row


def stored(env: MaildEnv, queued: OutboxRow) -> OutboxRow:
    (row,) = [r for r in env.outbox() if r.message_id == queued.message_id]
    return row


class Dispatch:
    """One dispatcher round at the clock's instant, with a FixedClock and the config under test."""

    def __init__(self, env: MaildEnv, clock: FixedClock) -> None:
        self.app = App(load_settings(env.config_path), clock)
        self.store: OutboxStore = self.app.outbox_store()

    def round(self) -> int:
        """Claim what is due now, send it, record the answers; how many were due."""
        claimed = self.store.claim(10)
        if not claimed:
            return 0

        async def send() -> list[SendResult]:
            sender = self.app.make_sender()
            try:
                return list(
                    await sender.send_many([Envelope(c.mail_from, c.recipient, c.raw) for c in claimed])
                )
            finally:
                await sender.close()

        self.store.record(list(zip(claimed, asyncio.run(send()), strict=True)))
        return len(claimed)

    def close(self) -> None:
        self.app.close()


def expected_delay(attempts: int) -> float:
    """RETRY's curve: 10 s, doubling after each failed attempt, capped at 60 s."""
    return float(min(10 * 2 ** (attempts - 1), 60))


@pytest.mark.maild_config(RETRY)
def test_a_refused_notification_backs_off_10_20_40_60_s_and_is_given_up_after_give_up_after(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    queued = queue_one(env, imap_box)
    clock = FixedClock(queued.next_attempt_at)
    dispatch = Dispatch(env, clock)
    smtp_sink.fail_next(451, 1000)
    try:
        attempts = 0
        while True:
            assert dispatch.round() == 1, f"due at {clock.now()} after {attempts} attempts"
            attempts += 1
            row = stored(env, queued)
            assert row.attempts == attempts
            if row.status == "failed":
                break
            # Still pending: only while give_up_after had not passed, with the server's answer kept.
            assert clock.now() - queued.created_at < GIVE_UP_AFTER
            assert row.status == "pending" and row.last_error == TEMPORARY
            delay = (row.next_attempt_at - clock.now()).total_seconds()
            base = expected_delay(attempts)
            assert base * (1 - JITTER) <= delay <= base * (1 + JITTER), (attempts, delay)
            # Not claimed a second before it is due, claimed when it is.
            clock.at = row.next_attempt_at - timedelta(seconds=1)
            assert dispatch.round() == 0
            clock.at = row.next_attempt_at
        # Given up on the first failure at or after give_up_after, saying why and the last answer.
        assert clock.now() - queued.created_at >= GIVE_UP_AFTER
        assert row.last_error == f"gave up after {attempts} attempts: {TEMPORARY}"
        # Attempt n runs at the sum of the delays before it: the 7th after 10+20+40+60+60+60 =
        # 250 s (±10%: under five minutes, so never the last), the 8th after 310 s ±31 s (may be
        # either side of five minutes), the 9th after 370 s ±37 s (always past it).
        assert attempts in (8, 9), attempts
        clock.advance(timedelta(days=1))
        assert dispatch.round() == 0, "a failed notification is never claimed again"
    finally:
        dispatch.close()
    assert len(smtp_sink.rejected()) == attempts
    assert [m for m in smtp_sink.messages() if str(m.msg["Message-ID"]) == queued.message_id] == []


@pytest.mark.maild_config(RETRY)
def test_a_notification_refused_twice_is_delivered_once_on_the_third_attempt(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    queued = queue_one(env, imap_box)
    clock = FixedClock(queued.next_attempt_at)
    dispatch = Dispatch(env, clock)
    smtp_sink.clear()
    smtp_sink.fail_next(451, 2)
    try:
        for attempts in (1, 2):
            assert dispatch.round() == 1
            row = stored(env, queued)
            assert (row.status, row.attempts, row.last_error) == ("pending", attempts, TEMPORARY)
            clock.at = row.next_attempt_at
        assert dispatch.round() == 1
    finally:
        dispatch.close()
    row = stored(env, queued)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)
    (delivered,) = smtp_sink.messages()
    assert str(delivered.msg["Message-ID"]) == queued.message_id and delivered.rcpt_tos == [ALICE]
