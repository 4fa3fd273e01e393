"""The OAuth2 state of `maild status`: written only on a change, read back and shown without a secret.

Also the pure parts of the IMAP token login (maild.inbound.imaplogin): when
a session logs in again, and the mechanism check.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from maild.app import login_command, token_source_name
from maild.clock import FixedClock
from maild.daemon.authstate import AuthStateRecorder, row_values
from maild.daemon.health import OAuth2Health, health_text, oauth2_health, snapshot
from maild.inbound.imaplogin import SessionToken, _session_token, offers_mechanism
from maild.oauth2.settings import Flow, Mechanism, OAuth2Settings, Provider
from maild.oauth2.tokens import TokenSource, TokenState
from maild.store.db import Database, upgrade

NOW = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
REFUSED = TokenState(
    "mailboxes.sales",
    ok=False,
    expires_at=None,
    code="invalid_grant AADSTS50173",
    hint="the grant was revoked or has expired (a password change?): run maild auth login --mailbox sales",
    failures=3,
    retry_at=NOW + timedelta(seconds=40),
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'status.db'}")
    upgrade(database)
    try:
        yield database
    finally:
        database.dispose()


def entry(**kw: Any) -> OAuth2Health:
    values: dict[str, Any] = {
        "name": "mailbox",
        "ok": True,
        "code": "",
        "hint": "",
        "failures": 0,
        "retry_at": None,
        "expires_at": NOW + timedelta(hours=1),
        "updated_at": NOW,
    }
    values.update(kw)
    return OAuth2Health(**values)


def test_an_ok_entry_shows_the_expiry_in_text_and_json() -> None:
    ok = entry()
    assert (
        ok.text()
        == "  oauth2 mailbox: ok, token valid until 2026-12-05T10:30:00Z (as of 2026-12-05T09:30:00Z)"
    )
    assert ok.as_json() == {
        "name": "mailbox",
        "ok": True,
        "code": "",
        "hint": "",
        "failures": 0,
        "retry_at": None,
        "expires_at": "2026-12-05T10:30:00Z",
        "updated_at": "2026-12-05T09:30:00Z",
    }
    assert "no token requested yet" in entry(expires_at=None).text()


def test_a_failing_entry_says_what_failed_and_what_to_do() -> None:
    failing = entry(
        ok=False, code=REFUSED.code, hint=REFUSED.hint, failures=3, retry_at=REFUSED.retry_at, expires_at=None
    )
    text = failing.text()
    assert text.startswith("  oauth2 mailbox: FAIL invalid_grant AADSTS50173: the grant was revoked")
    assert "run maild auth login --mailbox sales" in text
    assert "3 failed token request(s); next try 2026-12-05T09:30:40Z" in text
    assert failing.as_json()["retry_at"] == "2026-12-05T09:30:40Z" and failing.as_json()["ok"] is False


def test_control_characters_from_a_provider_are_shown_escaped() -> None:
    text = entry(ok=False, code="bad\x1b[2J", hint="line\nbreak").text()
    assert "\x1b" not in text and "\n" not in text


def test_the_recorder_writes_a_state_once_and_again_only_when_it_changes(db: Database) -> None:
    clock = FixedClock(NOW)
    recorder = AuthStateRecorder(db, clock)
    ok = TokenState("mailbox", ok=True, expires_at=NOW + timedelta(hours=1))
    assert recorder.record([ok]) == 1
    clock.advance(timedelta(seconds=5))
    assert recorder.record([ok]) == 0, "an unchanged state costs no write"
    assert recorder.record([ok, REFUSED]) == 1
    with db.reader() as s:
        rows = {r.name: r for r in oauth2_health(s)}
    assert rows["mailbox"].ok and rows["mailbox"].updated_at == NOW
    sales = rows["mailboxes.sales"]
    assert not sales.ok and sales.code == REFUSED.code and sales.failures == 3
    assert sales.retry_at == REFUSED.retry_at and sales.updated_at == NOW + timedelta(seconds=5)
    recovered = TokenState("mailboxes.sales", ok=True, expires_at=NOW + timedelta(hours=2))
    assert recorder.record([ok, recovered]) == 1
    with db.reader() as s:
        health = snapshot(s, NOW)
    assert [(o.name, o.ok, o.code, o.hint) for o in health.oauth2] == [
        ("mailbox", True, "", ""),
        ("mailboxes.sales", True, "", ""),
    ]
    assert health.as_json()["oauth2"][1]["expires_at"] == "2026-12-05T11:30:00Z"
    assert "oauth2 mailboxes.sales: ok" in health_text(health)


def test_a_second_recorder_updates_the_row_another_wrote(db: Database) -> None:
    """Two workers (or a restarted daemon) share the table: the row is updated, not duplicated."""
    AuthStateRecorder(db, FixedClock(NOW)).record([REFUSED])
    AuthStateRecorder(db, FixedClock(NOW)).record([dataclass_ok(REFUSED.name)])
    with db.reader() as s:
        assert [(o.name, o.ok) for o in oauth2_health(s)] == [("mailboxes.sales", True)]


def test_clients_no_longer_configured_are_forgotten(db: Database) -> None:
    recorder = AuthStateRecorder(db, FixedClock(NOW))
    recorder.record([REFUSED, dataclass_ok("smtp")])
    recorder.forget_others(["smtp"])
    with db.reader() as s:
        assert [o.name for o in oauth2_health(s)] == ["smtp"]


def dataclass_ok(name: str) -> TokenState:
    return TokenState(name, ok=True, expires_at=NOW + timedelta(hours=1))


def test_row_values_hold_nothing_but_the_state() -> None:
    assert set(row_values(REFUSED, NOW)) == {
        "name",
        "ok",
        "code",
        "hint",
        "failures",
        "retry_at",
        "expires_at",
        "updated_at",
    }


# ------------------------------------------------------------------ imaplogin


def source_with(expires_in: timedelta | None, clock: FixedClock) -> TokenSource:
    settings = OAuth2Settings(
        Provider.GENERIC, Flow.CLIENT_CREDENTIALS, "id", "s", token_url="http://127.0.0.1:1/"
    )
    source = TokenSource(settings, clock)
    if expires_in is not None:
        from maild.oauth2.tokens import AccessToken

        source._cached = AccessToken("t", clock.now(), clock.now() + expires_in)
    return source


def test_a_session_logs_in_again_shortly_before_its_token_expires() -> None:
    clock = FixedClock(NOW)
    session = _session_token(source_with(timedelta(hours=1), clock), None)
    assert session.expires_at == NOW + timedelta(hours=1)
    assert session.renew_at == NOW + timedelta(minutes=55), "five minutes before, at most"
    assert not session.due(NOW + timedelta(minutes=54)) and session.due(NOW + timedelta(minutes=55))
    short = _session_token(source_with(timedelta(seconds=10), clock), None)
    assert short.renew_at == NOW + timedelta(seconds=9), "a tenth of a short lifetime"


def test_a_renewal_that_got_the_same_token_waits_for_its_expiry() -> None:
    """The endpoint failed and the old token still works: no string of logins with it."""
    clock = FixedClock(NOW)
    source = source_with(timedelta(hours=1), clock)
    first = _session_token(source, None)
    clock.advance(timedelta(minutes=56))
    again = _session_token(source, first)
    assert again.renew_at == again.expires_at == NOW + timedelta(hours=1)
    assert _session_token(source_with(None, clock), None) == SessionToken(
        clock.now() + timedelta(minutes=1), clock.now() + timedelta(minutes=1)
    )


def test_the_mechanism_must_be_offered_when_the_server_lists_any() -> None:
    caps = (b"IMAP4rev1", b"AUTH=PLAIN", b"AUTH=XOAUTH2")
    assert offers_mechanism(caps, Mechanism.XOAUTH2)
    assert not offers_mechanism(caps, Mechanism.OAUTHBEARER)
    assert offers_mechanism((b"IMAP4rev1", b"IDLE"), Mechanism.OAUTHBEARER), "no AUTH= listed: try it"


def test_names_and_login_commands_follow_the_section() -> None:
    from maild.configtransport import MailboxSettings, SmtpSettings

    mailbox = MailboxSettings.__new__(MailboxSettings)
    object.__setattr__(mailbox, "label", "sales")
    assert token_source_name(mailbox) == "mailboxes.sales"
    assert login_command(mailbox) == "maild auth login --mailbox sales"
    object.__setattr__(mailbox, "label", "")
    assert token_source_name(mailbox) == "mailbox" and login_command(mailbox) == "maild auth login"
    smtp = SmtpSettings.__new__(SmtpSettings)
    assert token_source_name(smtp) == "smtp" and login_command(smtp) == "maild auth login --smtp"
