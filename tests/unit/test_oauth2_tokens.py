"""TokenSource against a real local token endpoint: caching, early refresh, invalidation, errors, secrets."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import stat
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maild.clock import FixedClock
from maild.errors import TransientError
from maild.oauth2.errors import OAuth2Error, OAuth2TransientError
from maild.oauth2.refreshfile import read_refresh_token, write_refresh_token
from maild.oauth2.settings import Flow, OAuth2Settings, Provider
from maild.oauth2.tokens import TokenSource, parse_token_answer, refresh_margin, with_token
from tests.fixtures.token_endpoint import CLIENT_ID, CLIENT_SECRET, TokenEndpoint, jwt_claims

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    with TokenEndpoint(subject="support", lifetime=3600) as server:
        yield server


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


def app_settings(endpoint: TokenEndpoint, **kw: object) -> OAuth2Settings:
    values: dict[str, object] = {
        "provider": Provider.GENERIC,
        "flow": Flow.CLIENT_CREDENTIALS,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "token_url": endpoint.token_url,
        "scopes": ("imap", "smtp"),
        "timeout": 5.0,
    }
    values.update(kw)
    return OAuth2Settings(**values)  # type: ignore[arg-type]


def delegated(endpoint: TokenEndpoint, path: Path, refresh_token: str) -> OAuth2Settings:
    write_refresh_token(path, refresh_token)
    return app_settings(endpoint, flow=Flow.REFRESH_TOKEN, client_secret="", refresh_token_file=path)


def test_client_credentials_token_is_cached_until_near_expiry(
    endpoint: TokenEndpoint, clock: FixedClock
) -> None:
    source = TokenSource(app_settings(endpoint), clock)
    first = source.token()
    assert jwt_claims(first)["sub"] == "support"
    assert source.token() == first
    form = endpoint.forms("client_credentials")[0]
    assert form["scope"] == "imap smtp" and form["client_secret"] == CLIENT_SECRET
    clock.advance(timedelta(minutes=54, seconds=59))  # 5 min margin on a 1 h token: still fresh
    assert source.token() == first and endpoint.count("client_credentials") == 1
    clock.advance(timedelta(seconds=2))
    assert source.token() != first
    assert endpoint.count("client_credentials") == 2


def test_refresh_margin_is_a_tenth_capped_at_five_minutes() -> None:
    assert refresh_margin(timedelta(hours=1)) == timedelta(minutes=5)
    assert refresh_margin(timedelta(seconds=60)) == timedelta(seconds=6)


def test_invalidate_gets_one_new_token_and_ignores_a_stale_one(
    endpoint: TokenEndpoint, clock: FixedClock
) -> None:
    source = TokenSource(app_settings(endpoint), clock, reissue_after=timedelta(seconds=30))
    first = source.token()
    assert source.invalidate(first) is False  # just issued: asking again at once would not help
    clock.advance(timedelta(minutes=1))
    assert source.invalidate(first) is True
    second = source.token()
    assert second != first and endpoint.count() == 2
    clock.advance(timedelta(minutes=1))
    assert source.invalidate(first) is True  # another thread already replaced it: nothing dropped
    assert source.token() == second and endpoint.count() == 2


def test_with_token_retries_once_with_a_new_token(endpoint: TokenEndpoint, clock: FixedClock) -> None:
    source = TokenSource(app_settings(endpoint), clock, reissue_after=timedelta(0))
    seen: list[str] = []

    def login(token: str) -> str:
        seen.append(token)
        if len(seen) == 1:
            raise PermissionError("AUTHENTICATE failed")
        return "logged in"

    assert with_token(source, login, lambda exc: isinstance(exc, PermissionError)) == "logged in"
    assert len(seen) == 2 and seen[0] != seen[1]

    def always_refused(token: str) -> str:
        raise PermissionError("AUTHENTICATE failed")

    with pytest.raises(PermissionError):
        with_token(source, always_refused, lambda exc: isinstance(exc, PermissionError))
    assert endpoint.count() == 3  # one retry, not a loop


def test_refresh_sends_scope_and_keeps_the_refresh_token_when_none_returned(
    endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path
) -> None:
    path = tmp_path / "rt"
    refresh = endpoint.add_refresh_token("support")
    source = TokenSource(delegated(endpoint, path, refresh), clock)
    assert jwt_claims(source.token())["sub"] == "support"
    form = endpoint.forms("refresh_token")[0]
    assert form["refresh_token"] == refresh and form["scope"] == "imap smtp"
    assert "client_secret" not in form  # a public client sends none
    assert read_refresh_token(path) == refresh


def test_a_rotated_refresh_token_replaces_the_file_atomically_owner_only(
    endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path
) -> None:
    endpoint.state.rotate_refresh_tokens = True
    path = tmp_path / "rt"
    old = endpoint.add_refresh_token()
    source = TokenSource(delegated(endpoint, path, old), clock)
    source.token()
    new = read_refresh_token(path)
    assert new and new != old
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["rt"]  # no temporary file left behind
    clock.advance(timedelta(hours=1))
    source.token()
    assert endpoint.forms("refresh_token")[1]["refresh_token"] == new


def test_revoked_grant_is_a_permanent_error_naming_the_code_and_what_to_do(
    endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    refresh = endpoint.add_refresh_token()
    source = TokenSource(delegated(endpoint, tmp_path / "rt", refresh), clock, name="mailbox support")
    endpoint.revoke(refresh)
    with caplog.at_level(logging.INFO, "maild.oauth2"), pytest.raises(OAuth2Error) as caught:
        source.token()
    error = caught.value
    assert not isinstance(error, TransientError) and not error.transient
    assert error.code == "invalid_grant AADSTS70000" and error.error == "invalid_grant"
    assert "run maild auth login" in str(error)
    assert refresh not in str(error) and refresh not in caplog.text
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert "mailbox support" in caplog.text and "invalid_grant" in caplog.text
    state = source.state()
    assert not state.ok and state.code.startswith("invalid_grant") and "maild auth login" in state.hint


def test_expired_client_secret_says_so(endpoint: TokenEndpoint, clock: FixedClock) -> None:
    endpoint.fail_next("secret_expired")
    with pytest.raises(OAuth2Error) as caught:
        TokenSource(app_settings(endpoint), clock).token()
    assert caught.value.code == "invalid_client AADSTS7000222"
    assert "client secret has expired" in caught.value.hint
    assert CLIENT_SECRET not in str(caught.value)


def test_wrong_client_secret_never_appears_in_the_error(endpoint: TokenEndpoint, clock: FixedClock) -> None:
    wrong = "wrong-secret-QQ77"
    with pytest.raises(OAuth2Error) as caught:
        TokenSource(app_settings(endpoint, client_secret=wrong), clock).token()
    assert caught.value.code == "invalid_client AADSTS7000215"
    assert wrong not in str(caught.value)


def test_503_is_transient_and_backs_off_without_hammering(endpoint: TokenEndpoint, clock: FixedClock) -> None:
    endpoint.fail_next("unavailable", times=2)
    source = TokenSource(app_settings(endpoint), clock, retry_initial=timedelta(seconds=10))
    for _ in range(5):
        with pytest.raises(OAuth2TransientError) as caught:
            source.token()
    assert isinstance(caught.value, TransientError) and caught.value.transient
    assert "503" in caught.value.hint
    assert endpoint.count() == 1  # the other four calls were answered from the remembered failure
    clock.advance(timedelta(seconds=10))
    with pytest.raises(OAuth2TransientError):
        source.token()
    state = source.state()
    assert state.failures == 2 and state.retry_at == clock.now() + timedelta(seconds=20)  # doubled
    clock.advance(timedelta(seconds=20))
    assert source.token() and source.state().ok and endpoint.count() == 3


def test_unreachable_endpoint_is_transient(clock: FixedClock) -> None:
    server = TokenEndpoint().start()
    settings = app_settings(server)
    server.stop()  # connection refused from now on
    with pytest.raises(OAuth2TransientError) as caught:
        TokenSource(settings, clock).token()
    assert caught.value.code == "unreachable"
    assert "token endpoint is unreachable" in str(caught.value)


def test_a_still_valid_token_is_used_while_the_refresh_fails(
    endpoint: TokenEndpoint, clock: FixedClock
) -> None:
    source = TokenSource(app_settings(endpoint), clock)
    first = source.token()
    clock.advance(timedelta(minutes=56))  # inside the refresh margin, not yet expired
    endpoint.fail_next("unavailable")
    assert source.token() == first
    assert not source.state().ok
    clock.advance(timedelta(minutes=5))  # expired, and the retry delay has passed
    assert source.token() != first and source.state().ok


def test_a_new_login_is_tried_at_once_despite_the_backoff(
    endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path
) -> None:
    path = tmp_path / "rt"
    source = TokenSource(delegated(endpoint, path, "revoked-one"), clock, retry_initial=timedelta(hours=1))
    with pytest.raises(OAuth2Error):
        source.token()
    with pytest.raises(OAuth2Error):
        source.token()
    assert endpoint.count() == 1
    write_refresh_token(path, endpoint.add_refresh_token() + "  ")  # `maild auth login` ran
    assert source.token() and endpoint.count() == 2


def test_missing_refresh_token_file_says_run_login(
    endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path
) -> None:
    settings = app_settings(endpoint, flow=Flow.REFRESH_TOKEN, refresh_token_file=tmp_path / "none")
    with pytest.raises(OAuth2Error) as caught:
        TokenSource(settings, clock, login_command="maild auth login --mailbox sales").token()
    assert caught.value.code == "no_refresh_token"
    assert "maild auth login --mailbox sales" in str(caught.value)
    assert endpoint.count() == 0


def test_threads_share_one_refresh(clock: FixedClock) -> None:
    with TokenEndpoint() as server:
        source = TokenSource(app_settings(server), clock)
        barrier = threading.Barrier(8)
        results: list[str] = []

        def worker() -> None:
            barrier.wait()
            results.append(source.token())

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert len(results) == 8 and len(set(results)) == 1
        assert server.count() == 1


def test_provider_default_scopes_are_sent(endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path) -> None:
    microsoft = app_settings(endpoint, provider=Provider.MICROSOFT, tenant="contoso", scopes=())
    TokenSource(microsoft, clock).token()
    assert endpoint.forms("client_credentials")[-1]["scope"] == "https://outlook.office365.com/.default"
    google = delegated(endpoint, tmp_path / "rt", endpoint.add_refresh_token())
    google = dataclasses.replace(google, provider=Provider.GOOGLE, scopes=())
    TokenSource(google, clock).token()
    assert endpoint.forms("refresh_token")[-1]["scope"] == "https://mail.google.com/"


def test_the_asyncio_sender_and_a_thread_share_the_cached_token(
    endpoint: TokenEndpoint, clock: FixedClock
) -> None:
    source = TokenSource(app_settings(endpoint), clock)
    from_thread = source.token()

    async def sender() -> list[str]:
        return list(await asyncio.gather(*(asyncio.to_thread(source.token) for _ in range(4))))

    assert asyncio.run(sender()) == [from_thread] * 4
    assert endpoint.count() == 1 and source.requests == 1
    state = source.state()
    assert state.ok and state.expires_at == clock.now() + timedelta(hours=1)


def test_state_does_not_wait_for_a_slow_token_request(endpoint: TokenEndpoint, clock: FixedClock) -> None:
    endpoint.state.delay = 1.0
    source = TokenSource(app_settings(endpoint), clock)
    worker = threading.Thread(target=source.token)
    worker.start()
    time.sleep(0.2)  # the request is under way
    started = time.monotonic()
    assert source.state().expires_at is None
    assert time.monotonic() - started < 0.5
    worker.join(5)
    assert source.state().expires_at is not None


def test_a_rotated_token_that_cannot_be_stored_is_logged_and_the_access_token_still_used(
    endpoint: TokenEndpoint,
    clock: FixedClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint.state.rotate_refresh_tokens = True
    old = endpoint.add_refresh_token()
    source = TokenSource(delegated(endpoint, tmp_path / "rt", old), clock, name="smtp")

    def disk_full(path: Path, token: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("maild.oauth2.tokens.write_refresh_token", disk_full)
    with caplog.at_level(logging.ERROR, "maild.oauth2"):
        assert source.token()
    assert "No space left on device" in caplog.text and "run maild auth login" in caplog.text
    assert old not in caplog.text and read_refresh_token(tmp_path / "rt") == old


@pytest.mark.parametrize(
    ("expires_in", "seconds"), [(120, 120), ("300", 300), (None, 3600), ("soon", 3600), (1e300, 3600)]
)
def test_token_lifetime_from_the_answer(expires_in: object, seconds: int) -> None:
    answer: dict[str, object] = {"access_token": "t", "expires_in": expires_in}
    token = parse_token_answer(answer, START, "generic")
    assert token.expires_at - token.obtained_at == timedelta(seconds=seconds)
    with pytest.raises(OAuth2Error) as caught:
        parse_token_answer({"expires_in": 5}, START, "generic")
    assert caught.value.code == "bad_response"
