"""Sending with OAuth2 (SPEC §9): SMTP AUTH XOAUTH2 / OAUTHBEARER against a real server checking real tokens.

The server is aiosmtpd requiring AUTH (tests/integration/smtp_servers.py),
validating each bearer token as a JWT of the local token endpoint (its
signature with the endpoint's key, issuer, lifetime, revocation, and that
the token's owner may send as the SASL user). Tokens come from the real
endpoint over HTTP (tests/fixtures/token_endpoint.py). The sender is
driven directly for the login rules, and through `maild run --once` for
what an administrator sees: mail delivered once, mail kept while the token
endpoint refuses or is down, and never a token or secret in a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from maild.clock import SystemClock
from maild.oauth2.settings import Mechanism
from maild.oauth2.tokens import TokenSource
from maild.outbound.smtp import SessionError, SmtpSender
from tests.fixtures.token_endpoint import CLIENT_ID, CLIENT_SECRET, TokenEndpoint, app_client
from tests.integration.env import ALICE, BOB, MaildEnv, message, stop, wait_until
from tests.integration.smtp_servers import OAuth2Recorder, envelope, free_port, oauth2_smtp_server, send

pytestmark = [
    pytest.mark.timeout(120),
    # Plain loopback on purpose: TLS is test_smtp_security.py's subject, not this file's.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

OWNER = "support"  # the token's subject: the app or user the endpoint issues tokens to
SENDER = "support@example.com"  # the address maild sends as (the SASL user)
SHARED = "helpdesk@example.com"  # a shared mailbox the owner may send as
SENDERS = {OWNER: {SENDER, SHARED}}


@pytest.fixture(scope="module")
def module_endpoint() -> Iterator[TokenEndpoint]:
    with TokenEndpoint(subject=OWNER, lifetime=3600) as server:
        yield server


@pytest.fixture
def endpoint(module_endpoint: TokenEndpoint) -> Iterator[TokenEndpoint]:
    """The module's endpoint with hour-long tokens and no pending failures, restored after the test."""
    module_endpoint.state.lifetime = 3600
    module_endpoint.state.failures.clear()
    yield module_endpoint
    module_endpoint.state.lifetime = 3600
    module_endpoint.state.failures.clear()


@pytest.fixture
def xoauth2_server(endpoint: TokenEndpoint) -> Iterator[tuple[OAuth2Recorder, int]]:
    with oauth2_smtp_server(endpoint.state.key, SENDERS, ("XOAUTH2",)) as server:
        yield server


settings = app_client  # the endpoint's app-only client


def source(endpoint: TokenEndpoint, **kw: Any) -> TokenSource:
    """A TokenSource that may ask again at once for a token a server refused (reissue_after 0)."""
    return TokenSource(settings(endpoint, **kw), SystemClock(), name="smtp", reissue_after=timedelta(0))


def sender(
    port: int, tokens: TokenSource, user: str = SENDER, mechanism: Mechanism = Mechanism.XOAUTH2
) -> SmtpSender:
    return SmtpSender(
        "127.0.0.1",
        port,
        "none",
        username=user,
        tokens=tokens,
        mechanism=mechanism,
        local_hostname="maild.test",
    )


# ------------------------------------------------------------------ the login, SmtpSender directly


def test_xoauth2_sends_as_a_shared_mailbox_with_the_owners_token(
    endpoint: TokenEndpoint, xoauth2_server: tuple[OAuth2Recorder, int]
) -> None:
    recorder, port = xoauth2_server
    before = endpoint.count("client_credentials")
    results = send(sender(port, source(endpoint), user=SHARED), [envelope(n) for n in range(3)])

    assert [r.outcome for r in results] == ["sent"] * 3
    assert [m.rcpt_tos for m in recorder.received] == [[f"user{n}@example.test"] for n in range(3)]
    (login,) = recorder.attempts  # one session, one AUTH, one token request
    assert (login.mechanism, login.user, login.accepted) == ("XOAUTH2", SHARED, True)
    assert login.token == endpoint.state.issued[-1]
    assert endpoint.count("client_credentials") == before + 1


def test_oauthbearer_carries_the_user_as_authzid(endpoint: TokenEndpoint) -> None:
    with oauth2_smtp_server(endpoint.state.key, SENDERS, ("OAUTHBEARER",)) as (recorder, port):
        results = send(sender(port, source(endpoint), mechanism=Mechanism.OAUTHBEARER), [envelope(1)])
    assert [r.outcome for r in results] == ["sent"]
    assert [(a.mechanism, a.user, a.accepted) for a in recorder.attempts] == [("OAUTHBEARER", SENDER, True)]
    assert len(recorder.received) == 1


@pytest.mark.parametrize(
    "mechanism", [Mechanism.XOAUTH2, Mechanism.OAUTHBEARER], ids=["xoauth2", "oauthbearer"]
)
def test_a_real_sized_token_fits_the_auth_line(mechanism: Mechanism) -> None:
    """Microsoft's tokens run to kilobytes: the AUTH line is far longer than the 512 bytes of RFC 5321."""
    owner = "app-" + "0123456789abcdef" * 100  # a long subject makes a JWT of real size
    with (
        TokenEndpoint(subject=owner) as endpoint,
        oauth2_smtp_server(endpoint.state.key, {owner: {SENDER}}, (mechanism.value.upper(),)) as (
            recorder,
            port,
        ),
    ):
        results = send(sender(port, source(endpoint), mechanism=mechanism), [envelope(1)])
    assert [r.outcome for r in results] == ["sent"]
    (login,) = recorder.attempts
    assert login.accepted and len(login.token) > 2000


def test_a_mechanism_the_server_does_not_offer_is_named(
    endpoint: TokenEndpoint, xoauth2_server: tuple[OAuth2Recorder, int]
) -> None:
    recorder, port = xoauth2_server
    tokens = source(endpoint)
    (result,) = send(sender(port, tokens, mechanism=Mechanism.OAUTHBEARER), [envelope(1)])
    assert (result.outcome, result.attempted) == ("transient", False)
    assert "does not offer AUTH OAUTHBEARER" in result.detail and "XOAUTH2" in result.detail
    assert recorder.attempts == [] and recorder.received == []


def test_a_token_that_expires_between_two_sends_is_refreshed(
    endpoint: TokenEndpoint, xoauth2_server: tuple[OAuth2Recorder, int]
) -> None:
    recorder, port = xoauth2_server
    endpoint.state.lifetime = 2
    tokens = source(endpoint)
    smtp = sender(port, tokens)
    first = send(smtp, [envelope(1)])  # send() closes the sessions: the next send logs in again
    expires_at = tokens.state().expires_at
    assert expires_at is not None
    time.sleep(max(0.0, (expires_at - SystemClock().now()).total_seconds() + 0.1))
    second = send(smtp, [envelope(2)])

    assert [r.outcome for r in first + second] == ["sent", "sent"]
    # Two logins, each with a token the server found valid; the second is a new one.
    assert [a.accepted for a in recorder.attempts] == [True, True]
    assert recorder.attempts[0].token != recorder.attempts[1].token
    assert len(recorder.received) == 2


@pytest.mark.parametrize(
    ("mechanism", "abort"),
    [(Mechanism.XOAUTH2, b""), (Mechanism.OAUTHBEARER, b"\x01")],
    ids=["xoauth2", "oauthbearer"],
)
def test_a_token_the_server_refuses_is_replaced_once(
    endpoint: TokenEndpoint, mechanism: Mechanism, abort: bytes
) -> None:
    tokens = source(endpoint)
    revoked = tokens.token()  # cached, then revoked at the server (as after a password reset)
    with oauth2_smtp_server(endpoint.state.key, SENDERS, (mechanism.value.upper(),)) as (recorder, port):
        recorder.revoked.add(revoked)
        results = send(sender(port, tokens, mechanism=mechanism), [envelope(1)])

    assert [r.outcome for r in results] == ["sent"]
    refused, accepted = recorder.attempts
    assert (refused.token, refused.accepted, refused.reason) == (revoked, False, "revoked")
    assert refused.abort == abort  # the client answered the error challenge with the abort message
    assert accepted.accepted and accepted.token != revoked
    assert len(recorder.received) == 1


def test_a_login_refused_twice_keeps_the_mail_without_charging_it(
    endpoint: TokenEndpoint, xoauth2_server: tuple[OAuth2Recorder, int]
) -> None:
    recorder, port = xoauth2_server
    stranger = "ceo@example.com"  # the token's owner may not send as this user
    results = send(sender(port, source(endpoint), user=stranger), [envelope(1), envelope(2)])

    assert [(r.outcome, r.attempted, r.code) for r in results] == [("transient", False, 535)] * 2
    assert "refused the OAuth2 token" in results[0].detail and stranger in results[0].detail
    # One retry with a new token, then no more: two AUTH exchanges, both refused, no mail.
    assert [a.accepted for a in recorder.attempts] == [False, False]
    assert recorder.attempts[0].token != recorder.attempts[1].token
    assert recorder.received == []
    assert_no_secret(endpoint, [r.detail for r in results])


def test_a_failed_token_request_is_a_login_failure_with_the_sources_retry_time(
    endpoint: TokenEndpoint, xoauth2_server: tuple[OAuth2Recorder, int]
) -> None:
    recorder, port = xoauth2_server
    endpoint.fail_next("invalid_grant")
    tokens = source(endpoint)
    (result,) = send(sender(port, tokens), [envelope(1)])

    assert (result.outcome, result.attempted) == ("transient", False)
    assert "invalid_grant AADSTS50173" in result.detail and "maild auth login" in result.detail
    state = tokens.state()
    assert result.retry_at is not None and result.retry_at == state.retry_at
    assert recorder.attempts == []  # no AUTH without a token
    # Before its retry time the source answers from memory: no new request, the same failure.
    requests = endpoint.count()
    (again,) = send(sender(port, tokens), [envelope(2)])
    assert (again.attempted, endpoint.count()) == (False, requests)


def test_check_login(endpoint: TokenEndpoint, xoauth2_server: tuple[OAuth2Recorder, int]) -> None:
    recorder, port = xoauth2_server
    asyncio.run(sender(port, source(endpoint)).check_login())
    assert [a.accepted for a in recorder.attempts] == [True]

    with pytest.raises(SessionError) as refused:
        asyncio.run(sender(port, source(endpoint), user="ceo@example.com").check_login())
    assert refused.value.code == 535 and refused.value.login

    endpoint.fail_next("secret_expired")
    with pytest.raises(SessionError) as no_token:
        asyncio.run(sender(port, source(endpoint)).check_login())
    assert "AADSTS7000222" in no_token.value.detail and "client secret has expired" in no_token.value.detail
    assert_no_secret(endpoint, [refused.value.detail, no_token.value.detail])


def test_oauth2_needs_a_username_but_no_password(endpoint: TokenEndpoint) -> None:
    with pytest.raises(ValueError, match="username is required"):
        SmtpSender("127.0.0.1", 25, "none", tokens=source(endpoint))
    SmtpSender("127.0.0.1", 25, "none", username=SENDER, tokens=source(endpoint))  # no password: fine


# ------------------------------------------------------------ `maild run --once`, as an administrator runs it


@pytest.fixture
def oauth2_env(
    tmp_path: Path, imap_box: Any, endpoint: TokenEndpoint, xoauth2_server: tuple[OAuth2Recorder, int]
) -> Iterator[MaildEnv]:
    """maild on SQLite sending through the XOAUTH2 server with tokens from the endpoint (debug logs)."""
    with quiet_server_log():
        yield oauth2_maild(tmp_path, imap_box.port, xoauth2_server[1], endpoint)


@contextlib.contextmanager
def quiet_server_log() -> Iterator[None]:
    """The server runs in this process: its own log lines (aiosmtpd's) are kept out of what maild logs."""
    server_log = logging.getLogger("mail.log")
    level = server_log.level
    server_log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        server_log.setLevel(level)


def oauth2_maild(workdir: Path, imap_port: int, smtp_port: int, endpoint: TokenEndpoint) -> MaildEnv:
    env = MaildEnv(
        workdir,
        db_url=f"sqlite:///{workdir / 'maild.db'}",
        imap_port=imap_port,
        smtp_port=smtp_port,
        overrides={
            "smtp.auth": "oauth2",
            "smtp.username": SENDER,
            "smtp.oauth2.provider": "generic",
            "smtp.oauth2.flow": "client_credentials",
            "smtp.oauth2.token_url": endpoint.token_url,
            "smtp.oauth2.client_id": CLIENT_ID,
            "smtp.oauth2.client_secret_file": str(secret_file(workdir)),
            "logging.level": "debug",
        },
    )
    env.setup_world()
    return env


def secret_file(directory: Path) -> Path:
    path = directory / "client-secret"
    path.write_text(CLIENT_SECRET + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def delivered(recorder: OAuth2Recorder) -> Counter[str]:
    return Counter(r for m in recorder.received for r in m.rcpt_tos)


def assert_no_secret(endpoint: TokenEndpoint, texts: list[str]) -> None:
    """No client secret, token, or token signature in any of `texts`."""
    secrets = [CLIENT_SECRET]
    for token in endpoint.state.issued:
        secrets += [token, token.rsplit(".", 1)[-1]]
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_run_once_sends_through_xoauth2(
    oauth2_env: MaildEnv, imap_box: Any, endpoint: TokenEndpoint, xoauth2_server: tuple[OAuth2Recorder, int]
) -> None:
    recorder, _ = xoauth2_server
    imap_box.append(message(ALICE, "Printer on fire", "Help.", cc=(BOB,)))
    r = oauth2_env.run_once()

    assert delivered(recorder) == {ALICE: 1, BOB: 1}
    assert recorder.accepted() and all(a.user == SENDER for a in recorder.attempts)
    assert {row.status for row in oauth2_env.outbox()} == {"sent"}
    assert "maild.ingest" in r.err  # the logs were captured
    assert_no_secret(endpoint, [r.err, r.out])


def break_token_endpoint(env: MaildEnv, endpoint: TokenEndpoint, how: str) -> None:
    if how == "invalid_grant":
        endpoint.fail_next("invalid_grant", 1000)
    else:  # down: nothing listens where the config points
        env.set("smtp.oauth2.token_url", f"http://127.0.0.1:{free_port()}/token")


def mend_token_endpoint(env: MaildEnv, endpoint: TokenEndpoint) -> None:
    endpoint.state.failures.clear()
    env.set("smtp.oauth2.token_url", endpoint.token_url)


@pytest.mark.parametrize(
    ("how", "logged"),
    [
        ("invalid_grant", "invalid_grant AADSTS50173: the grant was revoked"),
        ("down", "unreachable: the token endpoint is unreachable"),
    ],
)
def test_no_token_keeps_the_mail_uncharged_until_the_endpoint_is_back(
    oauth2_env: MaildEnv,
    imap_box: Any,
    endpoint: TokenEndpoint,
    xoauth2_server: tuple[OAuth2Recorder, int],
    how: str,
    logged: str,
) -> None:
    recorder, _ = xoauth2_server
    break_token_endpoint(oauth2_env, endpoint, how)
    imap_box.append(message(ALICE, "Printer on fire", "Help.", cc=(BOB,)))
    before = SystemClock().now()
    r = oauth2_env.run("run", "--once")

    assert r.code == 0 and len(oauth2_env.cases()) == 1  # the case is opened; only sending waits
    rows = oauth2_env.outbox()
    assert {row.recipient for row in rows} == {ALICE, BOB}
    for row in rows:
        # Pending, no attempt charged (the recipients refused nothing), the reason kept.
        assert (row.status, row.attempts) == ("pending", 0)
        assert row.last_error is not None and logged in row.last_error
        # Due again no sooner than the token source will ask again (5 s after its first failure).
        assert row.next_attempt_at >= before + timedelta(seconds=5)
    assert recorder.attempts == [] and recorder.received == []
    # One line from the token source with the provider's code and what to do; the outbox's says what waits.
    failures = [line for line in r.err.splitlines() if "token request failed" in line]
    assert len(failures) == 1 and logged in failures[0]
    assert "SMTP login failed" in r.err and "2 notification(s) deferred" in r.err
    if how == "invalid_grant":
        assert "run maild auth login" in failures[0]

    mend_token_endpoint(oauth2_env, endpoint)
    wait_until_due(oauth2_env)
    again = oauth2_env.run_once()
    assert delivered(recorder) == {ALICE: 1, BOB: 1}
    assert [(row.status, row.attempts) for row in oauth2_env.outbox()] == [("sent", 1)] * 2
    oauth2_env.run_once()
    assert delivered(recorder) == {ALICE: 1, BOB: 1}  # exactly once
    assert_no_secret(endpoint, [r.err, again.err, *(row.last_error or "" for row in rows)])


def wait_until_due(env: MaildEnv) -> None:
    due = max(row.next_attempt_at for row in env.outbox())
    time.sleep(max(0.0, (due - SystemClock().now()).total_seconds() + 0.1))


# ------------------------------------------------------------ `maild run`, the daemon, while tokens expire


def test_daemon_refreshes_expired_tokens_and_rides_out_a_revoked_grant(
    tmp_path: Path, imap_box: Any, endpoint: TokenEndpoint
) -> None:
    """Tokens live 2 s and the server drops sessions idle for 1 s, so every send logs in again."""
    endpoint.state.lifetime = 2
    with (
        quiet_server_log(),
        oauth2_smtp_server(endpoint.state.key, SENDERS, ("XOAUTH2",), timeout=1) as (recorder, port),
    ):
        env = oauth2_maild(tmp_path, imap_box.port, port, endpoint)
        daemon = env.start_daemon()
        try:
            imap_box.append(message(ALICE, "First", "One.", cc=()))
            wait_until(lambda: delivered(recorder)[ALICE] == 1, what="the first acknowledgement")
            first_token = recorder.accepted()[-1].token
            time.sleep(2.2)  # past the first token's expiry: the next login needs a new one
            imap_box.append(message(BOB, "Second", "Two.", cc=()))
            wait_until(lambda: delivered(recorder)[BOB] == 1, what="the second acknowledgement")
            assert recorder.accepted()[-1].token != first_token

            # The grant is revoked while the daemon runs: the mail waits, uncharged, the daemon lives on.
            endpoint.fail_next("invalid_grant", 1000)
            time.sleep(2.2)
            imap_box.append(message(ALICE, "Third", "Three.", cc=()))
            waiting = lambda: [r for r in env.outbox() if r.status == "pending" and r.last_error]  # noqa: E731
            (row,) = wait_until(waiting, what="the third acknowledgement kept pending")
            assert row.attempts == 0 and "invalid_grant" in (row.last_error or "")
            assert daemon.poll() is None

            endpoint.state.failures.clear()  # the administrator has fixed the grant
            wait_until(lambda: delivered(recorder)[ALICE] == 2, what="the kept acknowledgement sent")
        finally:
            assert stop(daemon) == 0, env.daemon_log()
    assert delivered(recorder) == {ALICE: 2, BOB: 1}
    assert {(r.status, r.attempts) for r in env.outbox()} == {("sent", 1)}
    assert all(a.accepted for a in recorder.attempts)  # no expired or refused token was ever presented
    log = env.daemon_log()
    assert len([line for line in log.splitlines() if "token request failed" in line]) == 1, log
    assert_no_secret(endpoint, [log])
