"""OAuth2 logins against a real Dovecot that validates the tokens maild gets from a real token endpoint.

The chain under test is the one a Microsoft 365 or Gmail mailbox uses:
TokenSource asks the endpoint for a token, imapclient (or our own SASL
bytes) presents it, and the server checks its signature, issuer and
expiry. Tokens here live a few seconds, so expiry and refresh happen
within a test.
"""

from __future__ import annotations

import imaplib
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from maild.clock import FixedClock, SystemClock
from maild.oauth2 import sasl
from maild.oauth2.errors import OAuth2Error
from maild.oauth2.refreshfile import write_refresh_token
from maild.oauth2.settings import Flow
from maild.oauth2.tokens import TokenSource, with_token
from tests.fixtures.dovecot_oauth2 import OAuth2Dovecot, oauth2_dovecot
from tests.fixtures.token_endpoint import TokenEndpoint, app_client, jwt_claims


@pytest.fixture(scope="module")
def endpoint() -> Iterator[TokenEndpoint]:
    with TokenEndpoint(subject="support", lifetime=3600) as server:
        yield server


@pytest.fixture(scope="module")
def server(endpoint: TokenEndpoint) -> Iterator[OAuth2Dovecot]:
    with oauth2_dovecot(endpoint.state.key) as dovecot:
        yield dovecot


@pytest.fixture
def fresh(endpoint: TokenEndpoint, server: OAuth2Dovecot) -> Iterator[TokenEndpoint]:
    """The module's endpoint with hour-long tokens and no pending failures, restored after the test."""
    endpoint.state.lifetime = 3600
    endpoint.state.failures.clear()
    yield endpoint
    endpoint.state.lifetime = 3600


app_settings = app_client  # the endpoint's app-only client


def imap(server: OAuth2Dovecot) -> IMAPClient:
    return IMAPClient(server.host, port=server.port, ssl=False, timeout=10)


def login_xoauth2(server: OAuth2Dovecot, user: str, token: str) -> int:
    """Log in with imapclient's XOAUTH2 and return the INBOX's message count (proves a usable session)."""
    client = imap(server)
    try:
        client.oauth2_login(user, token)
        return int(client.select_folder("INBOX", readonly=True)[b"EXISTS"])
    finally:
        client.shutdown()


def sleep_past_expiry(source: TokenSource) -> None:
    expires_at = source.state().expires_at
    assert expires_at is not None
    time.sleep(max(0.0, (expires_at - SystemClock().now()).total_seconds() + 0.05))


def test_client_credentials_token_logs_in_with_xoauth2_and_oauthbearer(
    fresh: TokenEndpoint, server: OAuth2Dovecot
) -> None:
    server.append(b"Subject: hello\r\n\r\nbody\r\n")
    source = TokenSource(app_settings(fresh), SystemClock())
    before = fresh.count("client_credentials")
    token = source.token()
    assert login_xoauth2(server, "support", token) >= 1
    client = imap(server)
    try:
        client.oauthbearer_login("support", token)
        assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] >= 1
    finally:
        client.shutdown()
    assert fresh.count("client_credentials") == before + 1  # both logins used the cached token


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_our_own_sasl_bytes_are_accepted(fresh: TokenEndpoint, server: OAuth2Dovecot, mechanism: str) -> None:
    """The messages the SMTP side will send, checked by a real server (IMAP AUTHENTICATE, same SASL)."""
    token = TokenSource(app_settings(fresh), SystemClock()).token()
    if mechanism == "XOAUTH2":
        message = sasl.xoauth2("support", token)
    else:
        message = sasl.oauthbearer("support", token, host=server.host, port=server.port)
    connection = imaplib.IMAP4(server.host, server.port, timeout=10)
    try:
        typ, _ = connection.authenticate(mechanism, lambda challenge: message)
        assert typ == "OK"
        assert connection.select("INBOX", readonly=True)[0] == "OK"
    finally:
        connection.logout()


def test_an_expired_token_is_refused_and_one_refresh_logs_in(
    fresh: TokenEndpoint, server: OAuth2Dovecot
) -> None:
    fresh.state.lifetime = 2
    clock = FixedClock(SystemClock().now())  # the source believes its token is fresh; the server knows better
    source = TokenSource(app_settings(fresh), clock, reissue_after=timedelta(0))
    before = fresh.count("client_credentials")
    stale = source.token()
    time.sleep(max(0.0, jwt_claims(stale)["exp"] + 1.1 - time.time()))
    expired_before = server.auth_log().count("Token has expired")
    with pytest.raises(LoginError):
        login_xoauth2(server, "support", stale)
    assert server.auth_log().count("Token has expired") == expired_before + 1
    fresh.state.lifetime = 3600
    clock.advance(timedelta(milliseconds=500))  # still inside the stale token's lifetime for the source
    presented: list[str] = []

    def login(token: str) -> int:
        presented.append(token)
        return login_xoauth2(server, "support", token)

    assert with_token(source, login, lambda exc: isinstance(exc, LoginError)) >= 0
    assert presented[0] == stale and presented[1] != stale
    assert fresh.count("client_credentials") == before + 2


def test_a_token_signed_with_another_key_is_refused(fresh: TokenEndpoint, server: OAuth2Dovecot) -> None:
    forged = fresh.issue(subject="support", key=b"not-the-servers-key-" * 2)
    seen_before = server.auth_log().count("Incorrect JWT signature")
    with pytest.raises(LoginError):
        login_xoauth2(server, "support", forged)
    assert server.auth_log().count("Incorrect JWT signature") == seen_before + 1
    assert login_xoauth2(server, "support", fresh.issue(subject="support")) >= 0  # same claims, right key


def test_a_token_for_another_user_is_refused(fresh: TokenEndpoint, server: OAuth2Dovecot) -> None:
    seen_before = server.auth_log().count("did not match 'alice'")
    with pytest.raises(LoginError):
        login_xoauth2(server, "support", fresh.issue(subject="alice"))
    assert server.auth_log().count("did not match 'alice'") == seen_before + 1


def test_refresh_token_flow_logs_in_until_the_grant_is_revoked(
    fresh: TokenEndpoint, server: OAuth2Dovecot, tmp_path: Path
) -> None:
    fresh.state.lifetime = 2
    path = tmp_path / "refresh-token"
    refresh = fresh.add_refresh_token("support2")
    write_refresh_token(path, refresh)
    settings = app_settings(fresh, flow=Flow.REFRESH_TOKEN, client_secret="", refresh_token_file=path)
    source = TokenSource(settings, SystemClock())
    first = source.token()
    assert login_xoauth2(server, "support2", first) >= 0
    sleep_past_expiry(source)  # the source refreshes
    second = source.token()
    assert second != first and login_xoauth2(server, "support2", second) >= 0
    fresh.revoke(refresh)
    sleep_past_expiry(source)
    with pytest.raises(OAuth2Error) as caught:
        source.token()
    assert caught.value.error == "invalid_grant" and "maild auth login" in caught.value.hint
    assert not source.state().ok
