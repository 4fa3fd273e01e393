"""Configuration: every CONTRACT key, durations, secrets, and errors that name the key."""

from __future__ import annotations

import copy
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from maild.config import load_settings, parse_settings
from maild.errors import ConfigError

BASE: dict[str, Any] = {
    "database": {"url": "sqlite:////tmp/x.db"},
    "mailbox": {
        "protocol": "imap",
        "host": "127.0.0.1",
        "port": 10143,
        "security": "none",
        "username": "support",
        "password": "secret",
        "folder": "INBOX",
        "poll_interval": "30s",
    },
    "smtp": {"host": "127.0.0.1", "port": 2525, "security": "none"},
    "support": {
        "address": "support@example.com",
        "name": "Example Support",
        "secret": "x" * 32,
        "restrict_to_designated_contacts": True,
        "helpdesk_message": "Ask IT.",
        "default_severity": 3,
        "default_language": "en",
    },
    "sla": {"initial_response": {"1": "1h", "2": "2h", "3": "4h", "4": "8h"}},
    "escalation": {"recipients": ["managers@example.com"], "notify_contacts": True},
}


def cfg(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        table = data
        for p in path:
            table = table.setdefault(p, {})
        if value is None:
            table.pop(last, None)
        else:
            table[last] = value
    return data


def error_key(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_settings(data)
    return info.value.key


def test_contract_config_is_valid() -> None:
    s = parse_settings(cfg())
    assert s.mailbox.poll_interval == timedelta(seconds=30)
    assert s.support.default_severity == 3
    assert s.sla.plan(None).targets[2] == timedelta(hours=2)
    assert s.escalation.levels[0].percent == 100
    assert s.escalation.recipients == ("managers@example.com",)
    assert s.support.domain == "example.com"


def test_example_config_is_valid_and_documents_every_section(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "config.example.toml"
    text = example.read_text(encoding="utf-8")
    (tmp_path / "imap-password").write_text("pw")
    (tmp_path / "reply-secret").write_text("y" * 32)
    data = tomllib.loads(text)
    data["mailbox"]["password_file"] = str(tmp_path / "imap-password")
    data["support"]["secret_file"] = str(tmp_path / "reply-secret")
    s = parse_settings(data)
    assert s.mailbox.password == "pw" and s.support.secret == "y" * 32
    for section in (
        "database",
        "mailbox",
        "smtp",
        "support",
        "sla",
        "escalation",
        "outbox",
        "logging",
        "templates",
    ):
        assert f"[{section}" in text


@pytest.mark.parametrize(
    "changes,key",
    [
        ({"support__helpdesk_mesage": "x"}, "support.helpdesk_mesage"),
        ({"mailbox__polling_interval": "1s"}, "mailbox.polling_interval"),
        ({"smtpd": {"host": "x"}}, "smtpd"),
        ({"mailbox__poll_interval": "soon"}, "mailbox.poll_interval"),
        ({"mailbox__poll_interval": "0s"}, "mailbox.poll_interval"),
        ({"mailbox__poll_interval": 30}, "mailbox.poll_interval"),
        ({"mailbox__security": "ssl"}, "mailbox.security"),
        ({"mailbox__port": 70000}, "mailbox.port"),
        ({"mailbox__port": "993"}, "mailbox.port"),
        ({"mailbox__protocol": "pop3"}, "mailbox.protocol"),
        ({"mailbox__host": None}, "mailbox.host"),
        ({"mailbox__password": None}, "mailbox.password"),
        ({"support__address": "not-an-address"}, "support.address"),
        ({"support__address": "support+x@example.com"}, "support.address"),
        ({"support__secret": "short"}, "support.secret"),
        ({"support__secret": None}, "support.secret"),
        ({"support__default_severity": 5}, "support.default_severity"),
        ({"support__default_severity": True}, "support.default_severity"),
        ({"support__default_language": "sv"}, "support.default_language"),  # no table for Swedish
        ({"support__helpdesk_message": "x" * 121}, "support.helpdesk_message"),
        ({"support__restrict_to_designated_contacts": "yes"}, "support.restrict_to_designated_contacts"),
        ({"sla__initial_response__5": "1h"}, "sla.initial_response.5"),
        ({"sla__initial_response__1": "1x"}, "sla.initial_response.1"),
        ({"escalation__recipients": "managers@example.com"}, "escalation.recipients"),
        ({"escalation__recipients": ["nobody"]}, "escalation.recipients[0]"),
        ({"database__url": "mysql://x"}, "database.url"),
        ({"smtp__security": "tls1.3"}, "smtp.security"),
        ({"smtp__password": "pw"}, "smtp.username"),
    ],
)
def test_bad_values_name_the_key(changes: dict[str, Any], key: str) -> None:
    assert error_key(cfg(**changes)) == key


def test_unknown_key_error_suggests_the_right_one() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(cfg(support__helpdesk_mesage="x"))
    assert "helpdesk_message" in str(info.value)


def test_secret_from_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pw").write_text("from-file\n")
    monkeypatch.setenv("MAILD_TEST_SECRET", "z" * 20)
    s = parse_settings(
        cfg(
            mailbox__password=None,
            mailbox__password_file=str(tmp_path / "pw"),
            support__secret=None,
            support__secret_env="MAILD_TEST_SECRET",
        )
    )
    assert s.mailbox.password == "from-file"
    assert s.support.secret == "z" * 20


def test_secret_file_relative_to_credentials_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "imap").write_text("cred")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    s = parse_settings(cfg(mailbox__password=None, mailbox__password_file="imap"))
    assert s.mailbox.password == "cred"


def test_two_forms_of_one_secret_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_PW", "pw")
    assert error_key(cfg(mailbox__password_env="X_PW")) == "mailbox.password_env"


def test_missing_env_and_file_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    assert error_key(cfg(support__secret=None, support__secret_env="NOPE_NOT_SET")) == "support.secret_env"
    assert (
        error_key(cfg(support__secret=None, support__secret_file=str(tmp_path / "none")))
        == "support.secret_file"
    )


def test_maildir_needs_a_path_not_a_host() -> None:
    s = parse_settings(cfg(mailbox={"protocol": "maildir", "path": "/tmp/md"}))
    assert s.mailbox.path == Path("/tmp/md")
    assert error_key(cfg(mailbox={"protocol": "maildir"})) == "mailbox.path"


def test_business_hours_and_plans() -> None:
    s = parse_settings(
        cfg(
            sla={
                "initial_response": {"1": "2s"},
                "timezone": "Asia/Tokyo",
                "hours": {"mon": "09:00-18:00", "fri": ["09:00-12:00", "13:00-17:00"]},
                "holidays": ["2026-12-31"],
                "plans": {"premier": {"initial_response": {"1": "30m"}}},
            }
        )
    )
    default = s.sla.plan("default")
    assert default.targets[1] == timedelta(seconds=2) and default.targets[4] == timedelta(hours=8)
    assert default.calendar is not None and len(default.calendar.weekly[4]) == 2
    assert s.sla.plan("premier").targets[1] == timedelta(minutes=30)
    assert s.sla.plan("premier").targets[2] == timedelta(hours=2)
    assert s.sla.plan("unknown-plan").name == "default"
    assert error_key(cfg(sla={"timezone": "Mars/Olympus", "hours": {"mon": "09:00-17:00"}})) == "sla.timezone"
    assert error_key(cfg(sla={"timezone": "UTC", "hours": {"mon": "17:00-09:00"}})) == "sla.hours.mon"
    assert error_key(cfg(sla={"timezone": "UTC", "hours": {"someday": "09:00-17:00"}})) == "sla.hours.someday"


def test_escalation_levels() -> None:
    s = parse_settings(
        cfg(
            escalation={
                "recipients": ["m@example.com"],
                "levels": [{"percent": 100}, {"percent": 200, "recipients": ["h@example.com"]}],
            }
        )
    )
    assert [(lv.level, lv.percent, lv.recipients) for lv in s.escalation.levels] == [
        (1, 100, ("m@example.com",)),
        (2, 200, ("h@example.com",)),
    ]
    assert error_key(cfg(escalation={"levels": [{"percent": 200}, {"percent": 100}]})) == "escalation.levels"
    assert error_key(cfg(escalation={"levels": [{"pct": 100}]})) == "escalation.levels[0].pct"


def test_next_response_targets_per_severity_and_plan() -> None:
    s = parse_settings(
        cfg(
            sla={
                "initial_response": {"1": "1h"},
                "next_response": {"1": "2h", "2": "4h"},
                "plans": {"premier": {"next_response": {"1": "30m", "3": "1d"}}, "basic": {}},
            }
        )
    )
    default = s.sla.plan("default").next_response
    assert dict(default) == {1: timedelta(hours=2), 2: timedelta(hours=4)}
    premier = s.sla.plan("premier").next_response
    # a plan's missing severity falls back to the default plan's target
    assert dict(premier) == {1: timedelta(minutes=30), 2: timedelta(hours=4), 3: timedelta(days=1)}
    assert dict(s.sla.plan("basic").next_response) == dict(default)
    assert s.sla.plan("unknown-plan").next_response == default


def test_follow_up_clocks_are_off_unless_configured() -> None:
    s = parse_settings(cfg())
    assert dict(s.sla.plan(None).next_response) == {}
    assert s.sla.waiting_reminder is None and s.sla.auto_close_after is None
    assert s.escalation.warn_before is None
    blank = parse_settings(
        cfg(sla__waiting_reminder="", sla__auto_close_after="", escalation__warn_before="")
    )
    assert blank.sla.waiting_reminder is None and blank.sla.auto_close_after is None
    assert blank.escalation.warn_before is None


def test_waiting_reminder_auto_close_and_warning() -> None:
    s = parse_settings(
        cfg(sla__waiting_reminder="3d", sla__auto_close_after="7d", escalation__warn_before="15m")
    )
    assert s.sla.waiting_reminder == timedelta(days=3)
    assert s.sla.auto_close_after == timedelta(days=7)
    assert s.escalation.warn_before == timedelta(minutes=15)
    only_close = parse_settings(cfg(sla__auto_close_after="1d12h"))
    assert only_close.sla.waiting_reminder is None
    assert only_close.sla.auto_close_after == timedelta(days=1, hours=12)
    assert parse_settings(cfg(sla__waiting_reminder="2d")).sla.waiting_reminder == timedelta(days=2)


@pytest.mark.parametrize(
    "changes,key",
    [
        ({"sla__next_response": {"5": "1h"}}, "sla.next_response.5"),
        ({"sla__next_response": {"high": "1h"}}, "sla.next_response.high"),
        ({"sla__next_response": {"1": "soon"}}, "sla.next_response.1"),
        ({"sla__next_response": {"1": "0s"}}, "sla.next_response.1"),
        ({"sla__plans": {"premier": {"next_response": {"0": "1h"}}}}, "sla.plans.premier.next_response.0"),
        ({"sla__plans": {"premier": {"next_response": {"2": "2x"}}}}, "sla.plans.premier.next_response.2"),
        ({"sla__plans": {"premier": {"next_respons": {"2": "2h"}}}}, "sla.plans.premier.next_respons"),
        ({"sla__waiting_reminder": "3 days"}, "sla.waiting_reminder"),
        ({"sla__waiting_reminder": "0s"}, "sla.waiting_reminder"),
        ({"sla__waiting_reminder": 3}, "sla.waiting_reminder"),
        ({"sla__auto_close_after": "-7d"}, "sla.auto_close_after"),
        ({"sla__auto_close": "7d"}, "sla.auto_close"),
        ({"sla__waiting_reminder": "7d", "sla__auto_close_after": "7d"}, "sla.waiting_reminder"),
        ({"sla__waiting_reminder": "8d", "sla__auto_close_after": "7d"}, "sla.waiting_reminder"),
        ({"escalation__warn_before": "15"}, "escalation.warn_before"),
        ({"escalation__warn_before": "quarter hour"}, "escalation.warn_before"),
        ({"escalation__warn_before": "0m"}, "escalation.warn_before"),
        ({"escalation__warn_before": 900}, "escalation.warn_before"),
    ],
)
def test_bad_follow_up_settings_name_the_key(changes: dict[str, Any], key: str) -> None:
    assert error_key(cfg(**changes)) == key


def test_reminder_after_auto_close_says_why() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(cfg(sla__waiting_reminder="8d", sla__auto_close_after="7d"))
    assert "sla.waiting_reminder" in str(info.value)
    assert "auto_close_after" in str(info.value)


def test_load_settings_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[support\naddress = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)


def test_schema_head_constant_matches_alembic() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from maild.store.db import MIGRATIONS_DIR, SCHEMA_HEAD

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(cfg).get_current_head() == SCHEMA_HEAD


def test_every_section_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(
            cfg(
                mailbox__poll_interval="soon",
                smtp__security="ssl",
                support__default_severity=9,
                smtpd={"host": "x"},
            )
        )
    text = str(info.value)
    for key in ("mailbox.poll_interval", "smtp.security", "support.default_severity", "smtpd"):
        assert key in text, text
    assert len(text.splitlines()) == 4
    assert info.value.key == "smtpd", "the first problem's key, for scripts"


def test_trusted_authserv_ids() -> None:
    assert parse_settings(cfg()).support.trusted_authserv_ids == ()
    s = parse_settings(cfg(support__trusted_authserv_ids=["MX.example.com "]))
    assert s.support.trusted_authserv_ids == ("mx.example.com",)
    assert error_key(cfg(support__trusted_authserv_ids="mx.example.com")) == "support.trusted_authserv_ids"
    assert error_key(cfg(support__trusted_authserv_ids=[""])) == "support.trusted_authserv_ids"


# --------------------------------------------------------------------------- several mailboxes


def test_more_mailboxes_take_what_they_do_not_set_from_mailbox() -> None:
    data = cfg()
    data["mailboxes"] = {"ja": {"folder": "Japanese"}, "billing": {"username": "billing", "password": "b"}}
    s = parse_settings(data)
    assert [m.name for m in s.mailboxes] == [
        "imap://support@127.0.0.1:10143/INBOX",
        "imap://support@127.0.0.1:10143/Japanese",
        "imap://billing@127.0.0.1:10143/INBOX",
    ]
    ja = s.mailboxes[1]
    assert (ja.host, ja.password, ja.poll_interval) == ("127.0.0.1", "secret", timedelta(seconds=30))
    assert s.mailboxes[2].password == "b"
    assert parse_settings(cfg()).mailboxes == (parse_settings(cfg()).mailbox,)


@pytest.mark.parametrize(
    ("mailboxes", "key"),
    [
        ({"ja": {"folder": "INBOX"}}, "mailboxes.ja"),  # the same mailbox as [mailbox]
        ({"ja": {"folder": "J"}, "jp": {"folder": "J"}}, "mailboxes.jp"),
        ({"ja": "Japanese"}, "mailboxes.ja"),
        ({"ja": {"foldr": "Japanese"}}, "mailboxes.ja.foldr"),
        ({"ja": {"folder": "J", "port": 0}}, "mailboxes.ja.port"),
        ("INBOX", "mailboxes"),
    ],
)
def test_bad_extra_mailboxes_name_the_key(mailboxes: Any, key: str) -> None:
    data = cfg()
    data["mailboxes"] = mailboxes
    assert error_key(data) == key
