"""The authorization-code flow with PKCE and a 127.0.0.1 redirect, for when no device code works.

Google's device-code flow does not allow the Gmail scope
(https://mail.google.com/), so a Google Workspace mailbox cannot get its
refresh token from `device.py`. Google's supported way for an installed
("Desktop app") client is the one here (RFC 8252): the administrator opens
an authorization URL in a browser, signs in, and the provider redirects the
browser to http://127.0.0.1:PORT/ where maild listens for exactly that one
request; the code it carries is exchanged, with the PKCE verifier only this
process knows (RFC 7636), for the refresh token that goes to the owner-only
file. On a headless server the administrator forwards the port over ssh, or
pastes the address the browser could not open.

Only the stdlib (http.server, a thread for a pasted answer), so importing it
costs nothing a pipe-transport `maild deliver` would notice. Neither the
code, the verifier nor a token is ever shown or put in an error text.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import queue
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from maild.clock import Clock
from maild.oauth2 import settings as oauth2_settings
from maild.oauth2.endpoint import post_form
from maild.oauth2.errors import LOGIN_COMMAND, OAuth2Error, hint_for, scrub
from maild.oauth2.refreshfile import write_refresh_token
from maild.oauth2.settings import Flow, OAuth2Settings, Provider

LOOPBACK_HOST = "127.0.0.1"
DEFAULT_TIMEOUT = 300.0  # seconds for the administrator to sign in
_POLL = 0.2  # seconds between looks at a pasted answer while the listener waits
_MAX_PASTE = 8192

Params = dict[str, str]


class _Pkce:
    """A fresh `state` and PKCE pair (RFC 7636 S256): a code stolen from the redirect is useless alone."""

    def __init__(self) -> None:
        self.state = secrets.token_urlsafe(24)
        self.verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43..128
        digest = hashlib.sha256(self.verifier.encode("ascii")).digest()
        self.challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def login(
    settings: OAuth2Settings,
    clock: Clock,
    show: Callable[[str], None],
    *,
    open_browser: Callable[[str], object] | None = None,
    paste: Callable[[], str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    port: int = 0,
) -> str:
    """The whole loopback sign-in for one client: show the URL, take one redirect, store the refresh token.

    `open_browser` (e.g. webbrowser.open) is tried when given; `paste`
    (e.g. sys.stdin.readline) reads the redirected address typed back by an
    administrator whose browser is on another machine. `port` 0 picks a free
    one. Returns the refresh token, already written to its file.
    """
    provider = settings.provider.value
    if settings.flow is not Flow.REFRESH_TOKEN:
        raise OAuth2Error(
            provider,
            "wrong_flow",
            'maild auth login is for flow = "refresh_token"; client_credentials needs no sign-in',
        )
    base = oauth2_settings.authorization_url(settings)
    if not base:
        raise OAuth2Error(provider, "no_auth_url", "set auth_url for provider generic")
    pkce = _Pkce()
    with _Listener(port, pkce.state) as listener:
        redirect_uri = f"http://{LOOPBACK_HOST}:{listener.port}/"
        url = authorization_request(settings, base, redirect_uri, pkce)
        deadline = clock.now() + timedelta(seconds=timeout)
        show(instructions(url, listener.port, f"{deadline:%H:%M:%S} UTC", paste is not None))
        if open_browser is not None:
            _try(open_browser, url)
        answer = listener.wait(timeout, _pasted(paste))
    if answer is None:
        raise OAuth2Error(
            provider,
            "timeout",
            f"no sign-in came back within {timeout:g}s: run {LOGIN_COMMAND} again "
            f"(on a server, forward the port with ssh -L first)",
        )
    code = _code(settings, answer, pkce.state)
    return _exchange(settings, code, redirect_uri, pkce.verifier)


def authorization_request(settings: OAuth2Settings, base: str, redirect_uri: str, pkce: _Pkce) -> str:
    """The URL the browser opens: RFC 6749 §4.1.1 with PKCE, plus what Google needs for a refresh token."""
    query = {
        "client_id": settings.client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": " ".join(oauth2_settings.scopes(settings)),
        "state": pkce.state,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
    }
    if settings.provider is Provider.GOOGLE:
        # Without these Google returns a refresh token only at the first consent ever given.
        query.update(access_type="offline", prompt="consent")
    if not query["scope"]:
        del query["scope"]
    separator = "&" if urllib.parse.urlsplit(base).query else "?"
    return base + separator + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)


def instructions(url: str, port: int, until: str, can_paste: bool) -> str:
    """The lines `maild auth login` prints: the URL, and the two ways round a browser on another machine."""
    lines = [
        "To sign in, open this address in a browser:",
        "",
        f"  {url}",
        "",
        f"maild waits for the browser on http://{LOOPBACK_HOST}:{port}/ until {until}.",
        "If the browser runs on another machine, first forward the port from it:",
        f"  ssh -L {port}:{LOOPBACK_HOST}:{port} THIS-HOST",
    ]
    if can_paste:
        lines.append(
            "or, after signing in, copy the address the browser could not open "
            f"(http://{LOOPBACK_HOST}:{port}/?...) and paste it here."
        )
    return "\n".join(lines)


def _code(settings: OAuth2Settings, answer: Params, state: str) -> str:
    """The authorization code of a redirect whose `state` is ours, else the provider's error, named."""
    provider = settings.provider.value
    if not secrets.compare_digest(answer.get("state", ""), state):
        raise OAuth2Error(
            provider,
            "state_mismatch",
            f"the redirect did not come from this sign-in (an old tab or a forged request): "
            f"run {LOGIN_COMMAND} again and use the address it prints",
        )
    error = answer.get("error", "")
    if error:
        raise _provider_error(provider, error, answer.get("error_description", ""))
    code = answer.get("code", "")
    if not code:
        raise OAuth2Error(provider, "bad_response", "the redirect carried neither a code nor an error")
    return code


def _provider_error(provider: str, error: str, description: str) -> OAuth2Error:
    code = scrub(error[:64], ())
    if code == "access_denied":
        hint = (
            f"the sign-in was cancelled or consent was refused: run {LOGIN_COMMAND} again "
            "and accept (an administrator may have to allow the app first)"
        )
    else:
        hint = hint_for(code, "")
    detail = scrub(description.splitlines()[0][:200], ()) if description else ""
    return OAuth2Error(provider, code, hint, detail)


def _exchange(settings: OAuth2Settings, code: str, redirect_uri: str, verifier: str) -> str:
    """Trade the code for tokens at the token endpoint (with the PKCE verifier); store the refresh token."""
    fields = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": settings.client_id,
        "code_verifier": verifier,
    }
    if settings.client_secret:  # Google's Desktop clients have one; Microsoft's public clients none
        fields["client_secret"] = settings.client_secret
    answer = post_form(
        oauth2_settings.token_url(settings),
        fields,
        provider=settings.provider.value,
        timeout=settings.timeout,
        secrets=(settings.client_secret, code, verifier),
        login=LOGIN_COMMAND,
    )
    refresh_token = answer.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        raise OAuth2Error(settings.provider.value, "no_refresh_token", _no_refresh_hint(settings.provider))
    assert settings.refresh_token_file is not None  # validate() requires it for this flow
    write_refresh_token(settings.refresh_token_file, refresh_token)
    return refresh_token


def _no_refresh_hint(provider: Provider) -> str:
    if provider is Provider.GOOGLE:
        return (
            "Google returned no refresh token: remove maild's access at "
            f"https://myaccount.google.com/permissions and run {LOGIN_COMMAND} again"
        )
    if provider is Provider.MICROSOFT:
        return "the provider returned no refresh token: add offline_access to scopes"
    return "the provider returned no refresh token: check scopes (offline_access?)"


def _try(open_browser: Callable[[str], object], url: str) -> None:
    """Opening a browser is a convenience: the URL has been printed, so a failure changes nothing."""
    with contextlib.suppress(Exception):
        open_browser(url)


def _pasted(paste: Callable[[], str] | None) -> queue.Queue[Params]:
    """A queue that receives the query of a pasted redirect address, read by a daemon thread."""
    answers: queue.Queue[Params] = queue.Queue()
    if paste is None:
        return answers

    def read() -> None:
        while True:
            try:
                line = paste()
            except (OSError, ValueError, EOFError):
                return
            if not line:
                return  # end of input: only the listener can answer now
            params = redirect_params(line.strip()[:_MAX_PASTE])
            if params:
                answers.put(params)
                return

    threading.Thread(target=read, name="oauth2-paste", daemon=True).start()
    return answers


def redirect_params(text: str) -> Params:
    """The query of a redirect address (or of a bare `?code=…&state=…`), keeping only what we read."""
    query = urllib.parse.urlsplit(text).query if "://" in text else text.lstrip("?")
    wanted = ("code", "state", "error", "error_description")
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, max_num_fields=20)
    params = {key: value for key, value in pairs if key in wanted}
    return params if "state" in params or "code" in params or "error" in params else {}


class _Listener:
    """One HTTP server on 127.0.0.1 that waits for the redirect and answers the browser in a line."""

    def __init__(self, port: int, state: str) -> None:
        self.answers: queue.Queue[Params] = queue.Queue()
        self._server = HTTPServer((LOOPBACK_HOST, port), _handler_for(self.answers, state))
        self.port = int(self._server.server_address[1])

    def __enter__(self) -> _Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.server_close()

    def wait(self, timeout: float, pasted: queue.Queue[Params]) -> Params | None:
        """Serve requests until the redirect (or a pasted one) arrives; None when `timeout` passes first."""
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            self._server.timeout = min(_POLL, left)
            self._server.handle_request()  # one request, or none within the timeout
            for source in (self.answers, pasted):
                try:
                    return source.get_nowait()
                except queue.Empty:
                    pass
        return None


_DONE = b"maild: sign-in received. You can close this window and return to the terminal.\n"
_FAILED = b"maild: the sign-in did not succeed; see the terminal.\n"


def _handler_for(answers: queue.Queue[Params], state: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 10.0  # a connection that sends nothing must not hold the listener

        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            params = redirect_params(parts.query) if parts.path == "/" else {}
            if not params:  # a favicon, a probe: not the redirect, keep waiting
                self._reply(404, b"not found\n")
                return
            good = "code" in params and secrets.compare_digest(params.get("state", ""), state)
            self._reply(200 if good else 400, _DONE if good else _FAILED)
            answers.put(params)

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the request line holds the code: never logged

    return Handler
