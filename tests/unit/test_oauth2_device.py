"""The device-code flow of `maild auth login` against a real local endpoint, the sleep driven by the test."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maild.clock import FixedClock
from maild.oauth2 import device
from maild.oauth2.errors import OAuth2Error
from maild.oauth2.refreshfile import read_refresh_token
from maild.oauth2.settings import Flow, OAuth2Settings, Provider
from maild.oauth2.tokens import TokenSource
from tests.fixtures.token_endpoint import CLIENT_ID, TokenEndpoint, jwt_claims


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    with TokenEndpoint(subject="agent@example.com") as server:
        yield server


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


def public_client(endpoint: TokenEndpoint, path: Path, **kw: object) -> OAuth2Settings:
    values: dict[str, object] = {
        "provider": Provider.GENERIC,
        "flow": Flow.REFRESH_TOKEN,
        "client_id": CLIENT_ID,
        "token_url": endpoint.token_url,
        "device_url": endpoint.device_url,
        "scopes": ("imap", "offline_access"),
        "refresh_token_file": path,
        "timeout": 5.0,
    }
    values.update(kw)
    return OAuth2Settings(**values)  # type: ignore[arg-type]


class Sleeper:
    """The sleep passed in: records each wait and moves the clock instead of waiting."""

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))


def test_login_shows_the_code_waits_and_stores_a_working_refresh_token(
    endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path
) -> None:
    endpoint.state.device_pending_polls = 2
    path = tmp_path / "state" / "refresh-token"
    settings = public_client(endpoint, path)
    shown: list[str] = []
    sleep = Sleeper(clock)
    stored = device.login(settings, clock, sleep, shown.append)
    assert "WDJB-MJHT" in shown[0] and f"{endpoint.base_url}/activate" in shown[0]
    assert sleep.waits == [5.0, 5.0, 5.0]  # two pending answers, then the token
    assert read_refresh_token(path) == stored
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert endpoint.forms("device")[0]["scope"] == "imap offline_access"
    poll = endpoint.forms("urn:ietf:params:oauth:grant-type:device_code")[0]
    assert poll["client_id"] == CLIENT_ID and poll["device_code"].startswith("dc-")
    # The stored refresh token is what the daemon's TokenSource then uses.
    assert jwt_claims(TokenSource(settings, clock).token())["sub"] == "agent@example.com"


def test_slow_down_lengthens_the_interval(endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path) -> None:
    endpoint.state.device_slow_down = True
    endpoint.state.device_pending_polls = 2
    sleep = Sleeper(clock)
    device.login(public_client(endpoint, tmp_path / "rt"), clock, sleep, lambda text: None)
    assert sleep.waits == [5.0, 10.0, 10.0]


def test_a_declined_sign_in_is_an_error_and_writes_nothing(
    endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path
) -> None:
    endpoint.state.device_deny = True
    with pytest.raises(OAuth2Error) as caught:
        device.login(public_client(endpoint, tmp_path / "rt"), clock, Sleeper(clock), lambda text: None)
    assert caught.value.error == "access_denied"
    assert not (tmp_path / "rt").exists()


def test_a_sign_in_never_finished_expires(endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path) -> None:
    endpoint.state.device_pending_polls = 10_000
    sleep = Sleeper(clock)
    with pytest.raises(OAuth2Error) as caught:
        device.login(public_client(endpoint, tmp_path / "rt"), clock, sleep, lambda text: None)
    assert caught.value.code == "expired_token" and "run maild auth login again" in str(caught.value)
    assert len(sleep.waits) == 180  # 900 s of 5 s intervals, then it stops


def test_an_endpoint_down_during_polling_is_tried_again(
    endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path
) -> None:
    endpoint.state.device_pending_polls = 0
    settings = public_client(endpoint, tmp_path / "rt")
    code = device.start(settings, clock)
    endpoint.fail_next("unavailable")
    sleep = Sleeper(clock)
    assert device.wait_for_refresh_token(settings, code, clock, sleep) == read_refresh_token(tmp_path / "rt")
    assert len(sleep.waits) == 2


def test_generic_without_device_url_and_the_wrong_flow_are_refused(
    endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path
) -> None:
    with pytest.raises(OAuth2Error) as caught:
        device.start(public_client(endpoint, tmp_path / "rt", device_url=""), clock)
    assert caught.value.code == "no_device_url"
    app_only = public_client(endpoint, tmp_path / "rt", flow=Flow.CLIENT_CREDENTIALS)
    with pytest.raises(OAuth2Error) as caught:
        device.login(app_only, clock, Sleeper(clock), lambda text: None)
    assert caught.value.code == "wrong_flow"
    assert endpoint.count() == 0
