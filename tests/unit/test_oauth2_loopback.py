"""The loopback sign-in of `maild auth login` against a real local endpoint; the test plays the browser.

Everything is real HTTP on 127.0.0.1: the "browser" opens the URL maild
shows at the fixture's authorization endpoint, follows its redirect to
maild's listener, and the code goes to the fixture's token endpoint, which
checks the PKCE verifier against the challenge it was given.
"""

from __future__ import annotations

import http.client
import stat
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from maild.clock import FixedClock
from maild.oauth2 import loopback
from maild.oauth2.errors import OAuth2Error
from maild.oauth2.refreshfile import read_refresh_token
from maild.oauth2.settings import Flow, OAuth2Settings, Provider
from maild.oauth2.tokens import TokenSource
from tests.fixtures.token_endpoint import CLIENT_ID, CLIENT_SECRET, TokenEndpoint, jwt_claims


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    with TokenEndpoint(subject="agent@example.com") as server:
        yield server


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


def client(endpoint: TokenEndpoint, path: Path, **kw: object) -> OAuth2Settings:
    values: dict[str, object] = {
        "provider": Provider.GENERIC,
        "flow": Flow.REFRESH_TOKEN,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "token_url": endpoint.token_url,
        "auth_url": endpoint.auth_url,
        "scopes": ("imap", "offline_access"),
        "refresh_token_file": path,
        "timeout": 5.0,
    }
    values.update(kw)
    return OAuth2Settings(**values)  # type: ignore[arg-type]


def get(url: str) -> tuple[int, str, bytes]:
    """One GET without following redirects: (status, Location, body)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        conn.request("GET", parts.path + ("?" + parts.query if parts.query else ""))
        answer = conn.getresponse()
        return answer.status, answer.getheader("Location") or "", answer.read()
    finally:
        conn.close()


class Browser:
    """Passed as open_browser: in a thread, opens the URL, then (unless told not to) follows the redirect."""

    def __init__(self, *, follow: bool = True, favicon: bool = False) -> None:
        self.follow = follow
        self.favicon = favicon
        self.opened: list[str] = []
        self.redirect = ""
        self.pages: list[tuple[int, bytes]] = []
        self.redirected = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, url: str) -> None:
        self.opened.append(url)
        self._thread = threading.Thread(target=self._visit, args=(url,), daemon=True)
        self._thread.start()

    def _visit(self, url: str) -> None:
        status, self.redirect, _ = get(url)
        assert status == 302, status
        self.redirected.set()
        if not self.follow:
            return
        if self.favicon:  # browsers ask for one; it must not end the wait
            origin = self.redirect.split("?", 1)[0]
            status, _, body = get(origin + "favicon.ico")
            self.pages.append((status, body))
        status, _, body = get(self.redirect)
        self.pages.append((status, body))

    def join(self) -> None:
        assert self._thread is not None
        self._thread.join(5)


def query_of(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def test_login_follows_the_redirect_verifies_pkce_and_stores_a_working_refresh_token(
    endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path
) -> None:
    path = tmp_path / "state" / "refresh-token"
    settings = client(endpoint, path)
    shown: list[str] = []
    browser = Browser(favicon=True)
    stored = loopback.login(settings, clock, shown.append, open_browser=browser, timeout=10)
    browser.join()
    asked = query_of(browser.opened[0])
    port = urllib.parse.urlsplit(asked["redirect_uri"]).port
    assert asked["redirect_uri"] == f"http://127.0.0.1:{port}/"
    assert (asked["response_type"], asked["code_challenge_method"]) == ("code", "S256")
    assert asked["scope"] == "imap offline_access" and asked["client_id"] == CLIENT_ID
    assert "access_type" not in asked and "prompt" not in asked  # Google only
    assert browser.opened[0] in shown[0] and f"ssh -L {port}:127.0.0.1:{port}" in shown[0]
    assert "09:00:10 UTC" in shown[0]  # the deadline, from the clock passed in
    assert browser.pages[0][0] == 404  # the favicon request did not end the wait
    assert browser.pages[1][0] == 200 and b"sign-in received" in browser.pages[1][1]
    exchange = endpoint.forms("authorization_code")[0]
    assert exchange["redirect_uri"] == asked["redirect_uri"] and exchange["client_secret"] == CLIENT_SECRET
    assert exchange["code_verifier"] and exchange["code_verifier"] not in browser.opened[0]
    assert read_refresh_token(path) == stored and stored.startswith("rt-")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # The stored refresh token is what the daemon's TokenSource then uses.
    assert jwt_claims(TokenSource(settings, clock).token())["sub"] == "agent@example.com"


def test_google_asks_for_offline_access_with_consent_and_the_gmail_scope(
    endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path
) -> None:
    settings = client(endpoint, tmp_path / "rt", provider=Provider.GOOGLE, scopes=())
    browser = Browser()
    loopback.login(settings, clock, lambda _: None, open_browser=browser, timeout=10)
    browser.join()
    asked = query_of(browser.opened[0])
    assert (asked["access_type"], asked["prompt"]) == ("offline", "consent")
    assert asked["scope"] == "https://mail.google.com/"
    assert read_refresh_token(tmp_path / "rt") is not None


def test_a_pasted_redirect_address_finishes_the_login_without_the_browser_reaching_maild(
    endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path
) -> None:
    browser = Browser(follow=False)  # the browser is on a laptop: 127.0.0.1 there is not this host

    def paste() -> str:
        assert browser.redirected.wait(5)
        return "  " + browser.redirect + "\n"

    shown: list[str] = []
    stored = loopback.login(
        client(endpoint, tmp_path / "rt"), clock, shown.append, open_browser=browser, paste=paste, timeout=10
    )
    assert read_refresh_token(tmp_path / "rt") == stored
    assert "paste it here" in shown[0]
    assert endpoint.count("authorization_code") == 1


def test_access_denied_is_named_with_a_hint_and_writes_nothing(
    endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path
) -> None:
    endpoint.state.authorize_error = "access_denied"
    browser = Browser()
    with pytest.raises(OAuth2Error) as info:
        loopback.login(
            client(endpoint, tmp_path / "rt"), clock, lambda _: None, open_browser=browser, timeout=10
        )
    browser.join()
    assert info.value.code == "access_denied"
    assert "maild auth login" in info.value.hint and "denied access" in info.value.detail
    assert browser.pages[0][0] == 400 and b"did not succeed" in browser.pages[0][1]
    assert endpoint.count("authorization_code") == 0
    assert not (tmp_path / "rt").exists()


def test_a_redirect_with_another_state_is_refused_and_its_code_never_exchanged(
    endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path
) -> None:
    endpoint.state.authorize_state = "forged-state"
    browser = Browser()
    with pytest.raises(OAuth2Error) as info:
        loopback.login(
            client(endpoint, tmp_path / "rt"), clock, lambda _: None, open_browser=browser, timeout=10
        )
    browser.join()
    assert info.value.code == "state_mismatch"
    assert browser.pages[0][0] == 400
    assert endpoint.count("authorization_code") == 0
    assert not (tmp_path / "rt").exists()


@pytest.mark.parametrize(
    ("provider", "words"),
    [(Provider.GOOGLE, "myaccount.google.com/permissions"), (Provider.MICROSOFT, "offline_access")],
)
def test_no_refresh_token_in_the_answer_is_an_error_saying_what_to_do(
    endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path, provider: Provider, words: str
) -> None:
    endpoint.state.code_refresh_token = False
    settings = client(endpoint, tmp_path / "rt", provider=provider, tenant="contoso")
    browser = Browser()
    with pytest.raises(OAuth2Error) as info:
        loopback.login(settings, clock, lambda _: None, open_browser=browser, timeout=10)
    browser.join()
    assert info.value.code == "no_refresh_token" and words in info.value.hint
    assert endpoint.count("authorization_code") == 1
    assert not (tmp_path / "rt").exists()


def test_no_sign_in_within_the_timeout_is_an_error_and_the_port_is_closed(
    endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path
) -> None:
    shown: list[str] = []
    with pytest.raises(OAuth2Error) as info:
        loopback.login(client(endpoint, tmp_path / "rt"), clock, shown.append, timeout=0.3)
    assert info.value.code == "timeout" and "ssh -L" in info.value.hint
    redirect_uri = query_of(shown[0].split("\n")[2].strip())["redirect_uri"]
    with pytest.raises(ConnectionRefusedError):
        get(redirect_uri + "?code=late&state=x")
    assert endpoint.count("authorize") == 0 and not (tmp_path / "rt").exists()


def test_the_endpoint_refuses_a_code_with_another_verifier_and_the_error_shows_neither(
    endpoint: TokenEndpoint, tmp_path: Path
) -> None:
    """PKCE is checked for real: the code alone (what a redirect interceptor gets) is worth nothing."""
    redirect_uri = "http://127.0.0.1:9/"
    status, location, _ = get(
        endpoint.auth_url
        + "?"
        + urllib.parse.urlencode(
            {
                "client_id": CLIENT_ID,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "state": "s",
                "code_challenge": "x" * 43,
                "code_challenge_method": "S256",
            }
        )
    )
    code = query_of(location)["code"]
    assert status == 302 and location.startswith(redirect_uri)
    verifier = "guessed-verifier-" + "v" * 40
    settings = client(endpoint, tmp_path / "rt")
    with pytest.raises(OAuth2Error) as info:
        loopback._exchange(settings, code, redirect_uri, verifier)
    assert info.value.code == "invalid_grant"
    for secret in (code, verifier, CLIENT_SECRET):
        assert secret not in str(info.value)
    assert not (tmp_path / "rt").exists()


def test_the_flow_and_the_endpoint_are_checked_before_listening(
    endpoint: TokenEndpoint, clock: FixedClock, tmp_path: Path
) -> None:
    with pytest.raises(OAuth2Error) as info:
        loopback.login(client(endpoint, tmp_path / "rt", flow=Flow.CLIENT_CREDENTIALS), clock, print)
    assert info.value.code == "wrong_flow"
    with pytest.raises(OAuth2Error) as info:
        loopback.login(client(endpoint, tmp_path / "rt", auth_url=""), clock, print)
    assert info.value.code == "no_auth_url" and "auth_url" in info.value.hint


def test_redirect_params_keep_only_what_is_read() -> None:
    assert loopback.redirect_params("http://127.0.0.1:5/?code=c&state=s&scope=x") == {
        "code": "c",
        "state": "s",
    }
    assert loopback.redirect_params("?error=access_denied&state=s") == {
        "error": "access_denied",
        "state": "s",
    }
    assert loopback.redirect_params("hello there") == {}
