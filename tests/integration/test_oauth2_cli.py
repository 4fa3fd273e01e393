"""OAuth2 mailboxes driven through the command line, as an administrator would: run, auth, status.

A real Dovecot validates the JWTs a real local token endpoint issues
(tests/fixtures/dovecot_oauth2.py, token_endpoint.py); maild runs as
`python -m maild` processes. Tokens live a few seconds here, so the daemon
refreshes them while it runs; grants are revoked and the endpoint fails
while it runs, and the tests check what an administrator would see: one
log line, a `maild status` entry that says what to do, mail flowing again
after `maild auth login`, and never a secret or token printed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maild.oauth2.refreshfile import read_refresh_token, write_refresh_token
from tests.fixtures.dovecot import PASSWORD
from tests.fixtures.dovecot_oauth2 import OAuth2Dovecot, oauth2_dovecot
from tests.fixtures.token_endpoint import CLIENT_ID, CLIENT_SECRET, TokenEndpoint
from tests.integration.env import ALICE, MaildEnv, Result, message, stop, wait_until


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
    """The module's endpoint as new (hour-long tokens, no failures queued), an empty INBOX."""
    endpoint.state.lifetime = 3600
    endpoint.state.failures.clear()
    endpoint.state.device_pending_polls = 1
    endpoint.state.device_deny = False
    endpoint.state.device_interval = 1
    server.clear("support")
    yield endpoint
    endpoint.state.lifetime = 3600
    endpoint.state.failures.clear()


def oauth2_env(
    tmp_path: Path, server: OAuth2Dovecot, endpoint: TokenEndpoint, smtp_port: int, **oauth2: Any
) -> MaildEnv:
    """maild on SQLite reading the OAuth2 Dovecot's `support` INBOX with auth = "oauth2"."""
    table: dict[str, Any] = {
        "provider": "generic",
        "flow": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "token_url": endpoint.token_url,
        "timeout": "5s",
    }
    table.update({k: v for k, v in oauth2.items() if v is not None})
    for key in [k for k, v in oauth2.items() if v is None]:
        table.pop(key, None)
    env = MaildEnv(
        tmp_path,
        db_url=f"sqlite:///{tmp_path / 'maild.db'}",
        imap_port=server.port,
        smtp_port=smtp_port,
        overrides={"mailbox.password": None, "mailbox.auth": "oauth2", "mailbox.oauth2": table},
    )
    env.setup_world()
    return env


def refresh_env(tmp_path: Path, server: OAuth2Dovecot, endpoint: TokenEndpoint, smtp_port: int) -> MaildEnv:
    """The delegated flow: a refresh token in an owner-only file, the device flow for auth login."""
    return oauth2_env(
        tmp_path,
        server,
        endpoint,
        smtp_port,
        flow="refresh_token",
        client_secret=None,
        refresh_token_file=str(tmp_path / "refresh-token"),
        device_url=endpoint.device_url,
    )


def maild(env: MaildEnv, *args: str, timeout: float = 60) -> Result:
    """`python -m maild --config … ARGS` as its own process."""
    proc = subprocess.run(
        [sys.executable, "-m", "maild", "--config", str(env.config_path), *args],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("MAILD_")},
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def status_oauth2(env: MaildEnv) -> dict[str, Any]:
    entries = {e["name"]: e for e in env.ok("status", "--json").json()["oauth2"]}
    return entries.get("mailbox", {})


def assert_no_secret(text: str, endpoint: TokenEndpoint, *more: str) -> None:
    assert CLIENT_SECRET not in text
    for secret in (*endpoint.state.issued, *endpoint.state.refresh_tokens, *more):
        assert secret not in text


def signed_in(env: MaildEnv, endpoint: TokenEndpoint) -> str:
    """A refresh token for `support` in the config's file, as an earlier `maild auth login` leaves it."""
    token = endpoint.add_refresh_token("support")
    write_refresh_token(env.workdir / "refresh-token", token)
    return token


def with_password_mailbox(env: MaildEnv, password: str) -> None:
    """[mailbox] becomes a password login as support2; the OAuth2 mailbox moves to [mailboxes.oauth]."""
    env.config["mailboxes"] = {"oauth": env.config["mailbox"]}
    env.config["mailbox"] = {
        k: v for k, v in env.config["mailbox"].items() if k not in ("auth", "oauth2", "password")
    } | {"username": "support2", "password": password}
    env.write()


# ------------------------------------------------------------------ run --once and auth check


def test_run_once_ingests_from_an_oauth2_mailbox_and_status_shows_the_token(
    tmp_path: Path, fresh: TokenEndpoint, server: OAuth2Dovecot, smtp_sink: Any
) -> None:
    env = oauth2_env(tmp_path, server, fresh, smtp_sink.port)
    server.append(message(ALICE, "VPN drops every hour", "Since Monday the VPN drops."))
    before = fresh.count("client_credentials")
    done = maild(env, "run", "--once")
    assert done.code == 0, done.err
    assert [c["subject"] for c in env.cases()] == ["VPN drops every hour"]
    assert fresh.count("client_credentials") == before + 1, "one token for the whole pass"
    assert any(ALICE in m.rcpt_tos for m in smtp_sink.messages()), "the acknowledgement left"
    entry = status_oauth2(env)
    assert entry["ok"] is True and entry["code"] == "" and entry["failures"] == 0
    assert entry["expires_at"].endswith("Z") and entry["updated_at"].endswith("Z")
    text = env.ok("status").out
    assert re.search(r"oauth2 mailbox: ok, token valid until \S+Z", text), text
    assert_no_secret(done.out + done.err + text, fresh)


def test_auth_check_passes_for_oauth2_and_password_mailboxes_and_the_smtp_server(
    tmp_path: Path, fresh: TokenEndpoint, server: OAuth2Dovecot, smtp_sink: Any
) -> None:
    env = oauth2_env(tmp_path, server, fresh, smtp_sink.port)
    env.set("mailbox.oauth2.mechanism", "oauthbearer")
    with_password_mailbox(env, PASSWORD)
    checked = maild(env, "auth", "check")
    assert checked.code == 0, checked.out + checked.err
    lines = checked.out.splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith("ok   mailbox [mailbox] imap://support2@") and "(password)" in lines[0]
    assert lines[1].startswith("ok   mailbox [mailboxes.oauth] imap://support@") and "oauthbearer" in lines[1]
    assert lines[2].startswith(f"ok   smtp 127.0.0.1:{smtp_sink.port}")
    assert_no_secret(checked.out + checked.err, fresh, PASSWORD)


def test_auth_check_names_an_expired_client_secret_and_a_refused_login(
    tmp_path: Path, fresh: TokenEndpoint, server: OAuth2Dovecot, smtp_sink: Any
) -> None:
    env = oauth2_env(tmp_path, server, fresh, smtp_sink.port)
    with_password_mailbox(env, "wrong-Pw-81")
    fresh.fail_next("secret_expired")
    checked = maild(env, "auth", "check")
    assert checked.code == 1, checked.out + checked.err
    first, second, smtp = checked.out.splitlines()
    assert (
        first.startswith("FAIL mailbox [mailbox] imap://support2@") and "wrong username or password" in first
    )
    assert first.count("imap://") == 1, first
    assert second.startswith("FAIL mailbox [mailboxes.oauth]")
    assert "invalid_client AADSTS7000222" in second and "(the client secret has expired" in second
    assert smtp.startswith("ok   smtp"), "the SMTP server is checked whatever the mailboxes say"
    assert_no_secret(checked.out + checked.err, fresh, "wrong-Pw-81")


def test_a_token_endpoint_that_is_down_fails_the_pass_in_one_sentence(
    tmp_path: Path, fresh: TokenEndpoint, server: OAuth2Dovecot, smtp_sink: Any
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/token"
    env = oauth2_env(tmp_path, server, fresh, smtp_sink.port, token_url=closed)
    server.append(message(ALICE, "Printer offline", "The printer is offline."))
    done = maild(env, "run", "--once")
    assert done.code == 1
    assert "unreachable" in done.err and "retrying later" in done.err and "Traceback" not in done.err
    assert env.cases() == [] and server.count() == 1, "the message waits in the mailbox"
    checked = maild(env, "auth", "check")
    assert checked.code == 1 and "FAIL mailbox [mailbox]" in checked.out and "unreachable" in checked.out


# ------------------------------------------------------------------ the daemon


def test_daemon_refreshes_tokens_survives_a_revoked_grant_and_recovers_after_auth_login(
    tmp_path: Path, fresh: TokenEndpoint, server: OAuth2Dovecot, smtp_sink: Any
) -> None:
    fresh.state.lifetime = 3
    env = refresh_env(tmp_path, server, fresh, smtp_sink.port)
    revoked = signed_in(env, fresh)
    daemon = env.start_daemon()
    try:
        server.append(message(ALICE, "First", "One."))
        wait_until(lambda: len(env.cases()) == 1, timeout=30, what="the first message")
        refreshes = fresh.count("refresh_token")
        wait_until(lambda: fresh.count("refresh_token") >= refreshes + 2, timeout=20, what="refreshes")
        server.append(message(ALICE, "Second", "Two."))
        wait_until(lambda: len(env.cases()) == 2, timeout=30, what="mail on a session of a new token")

        fresh.revoke(revoked)  # a password reset: the next refresh answers invalid_grant
        wait_until(lambda: status_oauth2(env).get("ok") is False, timeout=30, what="the status entry")
        entry = status_oauth2(env)
        assert entry["code"].startswith("invalid_grant") and entry["failures"] >= 1
        assert "maild auth login" in entry["hint"] and entry["retry_at"].endswith("Z")
        server.append(message(ALICE, "Third", "Three."))
        time.sleep(4)  # several of the daemon's looks for a token, none of them a new log line
        assert len(env.cases()) == 2 and daemon.poll() is None
        log = env.daemon_log()
        assert log.count("token request failed") == 1, log
        assert "invalid_grant" in log and "run maild auth login" in log

        signed = login_with_device_code(env, fresh)
        assert signed.code == 0, signed.out + signed.err
        wait_until(lambda: len(env.cases()) == 3, timeout=30, what="mail after auth login, no restart")
        wait_until(lambda: status_oauth2(env).get("ok") is True, timeout=10, what="the entry recovered")
        assert daemon.poll() is None
    finally:
        assert stop(daemon) == 0, env.daemon_log()
    assert_no_secret(env.daemon_log() + env.ok("status").out, fresh)


def test_daemon_reports_an_expired_client_secret_and_resumes_when_the_endpoint_accepts_again(
    tmp_path: Path, fresh: TokenEndpoint, server: OAuth2Dovecot, smtp_sink: Any
) -> None:
    fresh.state.lifetime = 3
    env = oauth2_env(tmp_path, server, fresh, smtp_sink.port)
    daemon = env.start_daemon()
    try:
        server.append(message(ALICE, "Before", "One."))
        wait_until(lambda: len(env.cases()) == 1, timeout=30, what="the first message")
        wait_until(lambda: [r.status for r in env.outbox()] == ["sent"], timeout=10, what="the ack sent")
        sent_before = [r.message_id for r in env.outbox()]
        fresh.fail_next("secret_expired")  # the next token request: AADSTS7000222, retried 5 s later
        wait_until(lambda: status_oauth2(env).get("ok") is False, timeout=30, what="the status entry")
        entry = status_oauth2(env)
        assert entry["code"] == "invalid_client AADSTS7000222"
        assert entry["hint"].startswith("the client secret has expired")
        server.append(message(ALICE, "After", "Two."))
        wait_until(lambda: len(env.cases()) == 2, timeout=45, what="mail once the endpoint accepts again")
        wait_until(lambda: status_oauth2(env).get("ok") is True, timeout=10, what="the entry recovered")
        assert daemon.poll() is None
        wait_until(lambda: len(env.outbox()) == 2, timeout=10, what="the second acknowledgement")
        assert [r.message_id for r in env.outbox()][:1] == sent_before, "the outbox kept what it had"
    finally:
        assert stop(daemon) == 0, env.daemon_log()
    log = env.daemon_log()
    assert log.count("token request failed") == 1 and "AADSTS7000222" in log, log
    assert sorted(c["subject"] for c in env.cases()) == ["After", "Before"]


def test_daemon_waits_out_a_token_endpoint_that_answers_503(
    tmp_path: Path, fresh: TokenEndpoint, server: OAuth2Dovecot, smtp_sink: Any
) -> None:
    env = oauth2_env(tmp_path, server, fresh, smtp_sink.port)
    fresh.fail_next("unavailable")
    server.append(message(ALICE, "Slow laptop", "It is slow."))
    daemon = env.start_daemon()
    try:
        wait_until(lambda: len(env.cases()) == 1, timeout=45, what="the message after the endpoint recovered")
        assert daemon.poll() is None
        wait_until(lambda: status_oauth2(env).get("ok") is True, timeout=10, what="the entry ok")
    finally:
        assert stop(daemon) == 0, env.daemon_log()
    log = env.daemon_log()
    assert "http_503" in log and "retrying later" in log
    assert log.count("token request failed") == 1, log


# ------------------------------------------------------------------ auth login


def login_with_device_code(env: MaildEnv, endpoint: TokenEndpoint) -> Result:
    """`maild auth login` as its own process; the test signs in once the code is shown."""
    endpoint.state.device_pending_polls = 1000  # nobody has signed in yet
    proc = subprocess.Popen(
        [sys.executable, "-m", "maild", "--config", str(env.config_path), "auth", "login"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("MAILD_")},
    )
    try:
        assert proc.stdout is not None
        shown = proc.stdout.readline()
        assert f"open {endpoint.base_url}/activate and enter the code WDJB-MJHT" in shown, shown
        with endpoint.lock:  # the administrator signs in on another device
            for grant in endpoint.state.devices.values():
                grant.pending_polls = 0
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    return Result(proc.returncode, shown + out, err)


def test_auth_login_stores_the_refresh_token_owner_only(
    tmp_path: Path, fresh: TokenEndpoint, server: OAuth2Dovecot, smtp_sink: Any
) -> None:
    env = refresh_env(tmp_path, server, fresh, smtp_sink.port)
    signed = login_with_device_code(env, fresh)
    assert signed.code == 0, signed.out + signed.err
    path = tmp_path / "refresh-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = read_refresh_token(path)
    assert stored is not None and fresh.state.refresh_tokens.get(stored) == "support"
    assert "signed in: the refresh token is stored in" in signed.out
    assert_no_secret(signed.out + signed.err, fresh)
    checked = maild(env, "auth", "check")
    assert checked.code == 0 and checked.out.startswith("ok   mailbox [mailbox]"), checked.out


def test_auth_login_with_a_browser_takes_the_loopback_redirect(
    tmp_path: Path, fresh: TokenEndpoint, server: OAuth2Dovecot, smtp_sink: Any
) -> None:
    """--browser (what provider google always uses): the test plays the browser that signs in."""
    env = refresh_env(tmp_path, server, fresh, smtp_sink.port)
    env.set("mailbox.oauth2.auth_url", fresh.auth_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "maild", "--config", str(env.config_path), "auth", "login", "--browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("MAILD_") and k != "DISPLAY"},
    )
    try:
        assert proc.stdout is not None
        shown = [proc.stdout.readline() for _ in range(3)]
        url = shown[2].strip()
        assert url.startswith(fresh.auth_url + "?"), shown
        with urllib.request.urlopen(url, timeout=10) as page:  # signs in; redirected to maild's listener
            assert page.status == 200
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, out + err
    path = tmp_path / "refresh-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = read_refresh_token(path)
    assert stored is not None and fresh.state.refresh_tokens.get(stored) == "support"
    assert_no_secret("".join(shown) + out + err, fresh)


def test_auth_login_refusals_say_why(
    tmp_path: Path, fresh: TokenEndpoint, server: OAuth2Dovecot, smtp_sink: Any
) -> None:
    env = oauth2_env(tmp_path, server, fresh, smtp_sink.port)  # client_credentials
    app_only = maild(env, "auth", "login")
    assert (
        app_only.code == 2 and "client_credentials" in app_only.err and "nothing to sign in" in app_only.err
    )
    password = maild(env, "auth", "login", "--smtp")
    assert password.code == 2 and '[smtp] has auth = "password"' in password.err
    unknown = maild(env, "auth", "login", "--mailbox", "nosuch")
    assert unknown.code == 2 and "mailboxes.nosuch" in unknown.err and "is not configured" in unknown.err

    (tmp_path / "delegated").mkdir()
    env = refresh_env(tmp_path / "delegated", server, fresh, smtp_sink.port)
    fresh.state.device_deny = True
    fresh.state.device_pending_polls = 0
    denied = maild(env, "auth", "login")
    assert denied.code == 1 and "access_denied" in denied.err and "Traceback" not in denied.err
    assert not (tmp_path / "delegated" / "refresh-token").exists()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_status_json_lists_oauth2_entries_as_an_array(tmp_path: Path, smtp_sink: Any) -> None:
    """A config without OAuth2 still has the key, as an empty list (scripts need not test for it)."""
    env = MaildEnv(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}", imap_port=1, smtp_port=smtp_sink.port)
    env.ok("db", "upgrade")
    assert json.loads(env.ok("status", "--json").out)["oauth2"] == []
