"""Issue 15's acceptance scenario: a `maild run` whose mailbox and sender share one OAuth2 client.

The mailbox is the OAuth2 Dovecot, the SMTP server an aiosmtpd requiring
AUTH XOAUTH2, and both check the JWTs of the local token endpoint
(tests/fixtures/dovecot_oauth2.py, token_endpoint.py,
tests/integration/smtp_servers.py). [mailbox] and [smtp] carry the same
[*.oauth2] table, so maild builds one TokenSource for both (App.token_source).
Tokens live 3 s: they expire and are replaced many times while the daemon
runs. Then the endpoint refuses the client secret for a while, and the test
checks what an administrator sees and that no mail is lost or sent twice.
"""

from __future__ import annotations

import email
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.dovecot_oauth2 import OAuth2Dovecot, oauth2_dovecot
from tests.fixtures.token_endpoint import TokenEndpoint
from tests.integration.env import ALICE, SUPPORT, MaildEnv, message, stop, wait_until
from tests.integration.smtp_servers import OAuth2Recorder, oauth2_smtp_server
from tests.integration.test_oauth2_cli import oauth2_env, status_oauth2
from tests.integration.test_smtp_oauth2 import assert_no_secret, quiet_server_log

pytestmark = [
    pytest.mark.timeout(120),
    # Plain loopback on purpose, as in test_smtp_oauth2.py.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

LIFETIME = 3  # seconds a token lives: several expire and are replaced during the test
BUSY_LIFETIMES = 5  # how many token lifetimes the daemon is kept busy reading and sending


@pytest.fixture(scope="module")
def endpoint() -> Iterator[TokenEndpoint]:
    with TokenEndpoint(subject="support", lifetime=LIFETIME) as server:
        yield server


@pytest.fixture(scope="module")
def dovecot(endpoint: TokenEndpoint) -> Iterator[OAuth2Dovecot]:
    with oauth2_dovecot(endpoint.state.key) as server:
        yield server


@pytest.fixture
def smtp(endpoint: TokenEndpoint) -> Iterator[tuple[OAuth2Recorder, int]]:
    """Requires XOAUTH2 as support@ with a token whose subject is `support`; drops sessions idle 1 s."""
    with (
        quiet_server_log(),
        oauth2_smtp_server(endpoint.state.key, {"support": {SUPPORT}}, ("XOAUTH2",), timeout=1) as server,
    ):
        yield server


def both_env(tmp_path: Path, dovecot: OAuth2Dovecot, endpoint: TokenEndpoint, smtp_port: int) -> MaildEnv:
    """[mailbox] with auth = "oauth2" (test_oauth2_cli's table), and [smtp] with the very same table."""
    env = oauth2_env(tmp_path, dovecot, endpoint, smtp_port)
    env.set("smtp.auth", "oauth2", write=False)
    env.set("smtp.oauth2", dict(env.config["mailbox"]["oauth2"]))
    return env


def message_ids(recorder: OAuth2Recorder) -> Counter[str]:
    """How many times the SMTP server took each Message-ID."""
    return Counter(str(email.message_from_bytes(m.data)["Message-ID"]) for m in recorder.received)


def acked(recorder: OAuth2Recorder, subject: str) -> int:
    """Messages to the customer whose subject names `subject` (the acknowledgement of that case)."""
    return sum(
        1
        for m in recorder.received
        if ALICE in m.rcpt_tos and subject in str(email.message_from_bytes(m.data)["Subject"])
    )


def test_mailbox_and_sender_share_one_client_through_expiry_and_a_refused_secret(
    tmp_path: Path, endpoint: TokenEndpoint, dovecot: OAuth2Dovecot, smtp: tuple[OAuth2Recorder, int]
) -> None:
    recorder, port = smtp
    endpoint.state.failures.clear()
    dovecot.clear("support")
    env = both_env(tmp_path, dovecot, endpoint, port)
    daemon = env.start_daemon()
    try:
        dovecot.append(message(ALICE, "First", "One."))
        wait_until(lambda: len(env.cases()) == 1, timeout=30, what="the first case")
        wait_until(lambda: acked(recorder, "First") == 1, timeout=15, what="the first acknowledgement")
        assert recorder.accepted() and {(a.mechanism, a.user) for a in recorder.attempts} == {
            ("XOAUTH2", SUPPORT)
        }

        # Both keep needing tokens for BUSY_LIFETIMES lifetimes: IMAP renews its login before each
        # token expires, and a customer writes every 1.5 s, so every acknowledgement is a new SMTP
        # login (the server drops sessions idle for 1 s). With one shared source that is about one
        # request per lifetime; with a source each, each replaces its own token once per lifetime:
        # about two (measured: 9 in 5 lifetimes when the [smtp] table differs, 5 when shared). The
        # bound, one per lifetime plus 2 for the window's edges, fails then.
        before, started = endpoint.count("client_credentials"), time.monotonic()
        sent = 0
        while time.monotonic() - started < BUSY_LIFETIMES * LIFETIME:
            sent += 1
            dovecot.append(message(ALICE, f"Busy {sent}", "More."))
            time.sleep(1.5)
        requests = endpoint.count("client_credentials") - before
        lifetimes = (time.monotonic() - started) / LIFETIME
        wait_until(lambda: len(env.cases()) == 1 + sent, timeout=20, what="the busy cases")
        wait_until(lambda: all(acked(recorder, f"Busy {n}") for n in range(1, sent + 1)), what="busy acks")
        assert requests >= BUSY_LIFETIMES - 1, "tokens expired and were replaced while the daemon ran"
        assert requests <= lifetimes + 2, (requests, lifetimes)

        # The endpoint refuses the secret (AADSTS7000222); the source retries 5 s later.
        endpoint.fail_next("secret_expired")
        wait_until(lambda: status_oauth2(env).get("ok") is False, timeout=15, what="the entry not ok")
        entry = status_oauth2(env)
        assert entry["code"] == "invalid_client AADSTS7000222" and entry["failures"] >= 1
        assert entry["hint"].startswith("the client secret has expired")
        dovecot.append(message(ALICE, "Meanwhile", "Sent while the secret was refused."))
        wait_until(lambda: status_oauth2(env).get("ok") is True, timeout=20, what="the entry recovered")
        wait_until(lambda: acked(recorder, "Meanwhile") == 1, timeout=20, what="the kept acknowledgement")
        wait_until(
            lambda: {r.status for r in env.outbox()} == {"sent"}, timeout=15, what="the outbox emptied"
        )
        assert daemon.poll() is None, "the daemon kept running"
    finally:
        assert stop(daemon) == 0, env.daemon_log()
    log = env.daemon_log()
    assert log.count("token request failed") == 1 and "AADSTS7000222" in log, log
    ids = message_ids(recorder)
    assert all(count == 1 for count in ids.values()), ids
    assert {r.message_id for r in env.outbox()} <= set(ids), "every notification reached the server once"
    assert acked(recorder, "Meanwhile") == 1 and len(env.cases()) == sent + 2
    # While the endpoint refuses, the source hands out its last token until it expires; one that
    # expires on the way is refused and the mail waits. Never a token of another issuer or owner.
    refused = {a.reason for a in recorder.attempts if not a.accepted}
    assert refused <= {"expired or not yet valid"}, refused
    assert_no_secret(endpoint, [log])
