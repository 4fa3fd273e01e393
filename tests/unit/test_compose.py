"""Notification rendering and message building: templates in, exact bytes out.

The rendering tests run every event in every language against a strict
Composer, so a typo in a shipped template fails here rather than in a
customer's inbox. The header tests parse the produced bytes back with the
standard parser and compare the complete header set, because "no header was
added" is only provable by looking at what a receiver would see.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maild.errors import MaildError
from maild.outbound import i18n, message
from maild.outbound.compose import (
    EVENTS,
    ComposeError,
    Composer,
    Rendered,
    UnknownEvent,
    packaged_template_dir,
    reply_subject,
    sample_context,
)
from maild.outbound.message import MAX_REFERENCES, build_message, make_message_id

LANGUAGES = ("en", "ja")
ROLES = ("primary_contact", "collaborator", "agent", "manager", "other")
CASE_EVENTS = tuple(e for e in EVENTS if e != "helpdesk")
TAG = "[Case #00001042]"
OPENED = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
BASE_HEADERS = {
    "from",
    "to",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "auto-submitted",
    "x-auto-response-suppress",
    "mime-version",
    "content-type",
}
# Every header a notification may carry (message.build_message + notify.py).
NOTIFICATION_HEADERS = BASE_HEADERS | {"x-maild-event", "x-maild-case"}


def full_context(language: str = "en", role: str = "primary_contact", **event: Any) -> dict[str, Any]:
    """Every documented key present, as notify.py would build it."""
    values: dict[str, Any] = {
        "severity_note": "7",
        "old_status": "new",
        "old_severity": 3,
        "new_severity": 1,
        "new_status": "waiting_on_customer",
        "level": 2,
        "reason": "customer_request",
        "due_at": OPENED + timedelta(hours=2),
        "reopen_until": OPENED + timedelta(days=14),
        "reason_text": "bob@acme.example is not in the sharing settings of case 00001042",
        "possible_at": OPENED + timedelta(hours=2),
        "helpdesk_message": "Ask IT on extension 4242.",
        "original_subject": "Printer on fire",
        "case_number": "00001042",
        "inbound_id": 7,
        "sender": "alice@acme.example",
        "excerpt": "Please close this.",
    }
    values.update(event)
    return {
        "support": {"name": "Example Support", "address": "support@example.com"},
        "recipient": {"email": "alice@acme.example", "name": "Alice", "language": language, "role": role},
        "reply_address": "support+abc@example.com",
        "case": {
            "number": "00001042",
            "tag": TAG,
            "subject": "Login page returns 500",
            "severity": 3,
            "severity_name": i18n.severity_name(3, language),
            "status": "new",
            "account": "Acme",
            "primary_contact": "alice@acme.example",
            "collaborators": ["bob@acme.example"],
            "created_at": OPENED,
            "first_response_due_at": OPENED + timedelta(hours=4),
            "first_responded_at": None,
            "fields": {"business_impact": "Nobody can log in", "users_affected": "300", "org_id": "00D123"},
            "description": "Since 9:00 the login page answers 500.",
        },
        "comment": {
            "author": "bob@acme.example",
            "author_name": "Bob",
            "role": "collaborator",
            "body": "Still broken.\nSee log.",
            "attachments": [{"filename": "log.txt", "size": 2048}],
        },
        "event": values,
    }


def minimal_context(language: str = "en") -> dict[str, Any]:
    """Only what every caller always has; every optional part missing."""
    return {
        "support": {"name": "Example Support", "address": "support@example.com"},
        "recipient": {"email": "carol@acme.example", "role": "collaborator"},
        "case": {
            "number": "00001042",
            "tag": TAG,
            "subject": "Login page returns 500",
            "severity": 4,
            "status": "new",
        },
    }


@pytest.fixture(scope="module")
def strict() -> Composer:
    return Composer([], strict=True)


@pytest.fixture(scope="module")
def composer() -> Composer:
    return Composer([])


def rendered(subject: str = "[Case #00001042] Login page returns 500") -> Rendered:
    return Rendered(subject=subject, text="Hello\nworld\n", html="<p>Hello</p>\n")


def build(rendered_msg: Rendered | None = None, /, **overrides: Any) -> bytes:
    kwargs: dict[str, Any] = {
        "from_addr": "support@example.com",
        "from_name": "Example Support",
        "to_addr": "alice@acme.example",
        "to_name": "Alice",
        "reply_to": "support+abc@example.com",
        "message_id": "<n1.00001042@example.com>",
        "in_reply_to": "<root@acme.example>",
        "references": ["<root@acme.example>"],
        "date": OPENED,
    }
    kwargs.update(overrides)
    return build_message(rendered_msg or rendered(), **kwargs)


def parse(data: bytes) -> EmailMessage:
    msg = BytesParser(policy=default_policy).parsebytes(data)
    assert isinstance(msg, EmailMessage)
    return msg


def header_names(data: bytes) -> set[str]:
    return {name.lower() for name in message_from_bytes(data)}


def header_block(data: bytes) -> bytes:
    return data.partition(b"\r\n\r\n")[0]


# ---------------------------------------------------------------------------- rendering


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("role", ROLES)
def test_every_event_renders_strictly_with_full_context(
    strict: Composer, event: str, language: str, role: str
) -> None:
    out = strict.render(event, language, full_context(language, role))
    assert out.subject and "\n" not in out.subject
    assert out.text.endswith("\n") and not out.text.startswith("\n")
    assert out.html.lstrip().startswith("<!DOCTYPE html>")
    assert f'lang="{language}"' in out.html
    for part in (out.subject, out.text, out.html):
        assert "None" not in part and "Undefined" not in part
    if event == "helpdesk":
        assert "#00001042" not in out.subject + out.text + out.html
    else:
        assert TAG in out.subject


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("reason", ["deadline", "customer_request"])
def test_escalated_renders_for_both_reasons(strict: Composer, language: str, reason: str) -> None:
    for role in ("primary_contact", "manager"):
        out = strict.render("escalated", language, full_context(language, role, reason=reason))
        assert "2" in out.subject
        assert i18n.format_datetime(OPENED + timedelta(hours=2), language) in out.text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("event", EVENTS)
def test_every_event_renders_with_optional_parts_missing(
    composer: Composer, event: str, language: str
) -> None:
    out = composer.render(event, language, minimal_context(language))
    for part in (out.subject, out.text, out.html):
        assert "None" not in part and "Undefined" not in part
    if event != "helpdesk":
        assert out.subject.startswith(TAG)
    assert "Example Support" in out.text


def test_shipped_templates_pass_the_strict_check(composer: Composer) -> None:
    assert composer.languages == ("en", "ja")
    assert composer.check() == []


def test_sample_context_covers_every_event(strict: Composer) -> None:
    for language in LANGUAGES:
        for event in EVENTS:
            assert strict.render(event, language, sample_context(language=language)).subject


def test_check_catches_a_typo_in_an_override(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    typo = '{% extends "base.txt" %}{% block body %}{{ case.nubmer }}{% endblock %}'
    (tmp_path / "en" / "closed.txt").write_text(typo)
    lenient = Composer([tmp_path])
    problems = lenient.check()
    assert problems and all(p.startswith("en/closed") for p in problems)
    assert "nubmer" in problems[0]
    # In production the same typo degrades to an empty value instead of a lost notification.
    assert lenient.render("closed", "en", full_context()).subject.startswith(TAG)


def test_broken_override_raises_compose_error(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "closed.txt").write_text("{% if %}")
    with pytest.raises(ComposeError, match="closed"):
        Composer([tmp_path]).render("closed", "en", full_context())


def test_html_escapes_customer_markup_and_text_keeps_it_verbatim(composer: Composer) -> None:
    ctx = full_context()
    ctx["comment"]["body"] = 'Look: <script>alert("x")</script> & <b>bold</b>\nnext line'
    ctx["case"]["subject"] = "<img src=x onerror=alert(1)>"
    out = composer.render("comment_added", "en", ctx)
    assert "<script>" not in out.html and "<img" not in out.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;<br>" in out.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in out.html
    assert 'Look: <script>alert("x")</script> & <b>bold</b>\nnext line' in out.text
    assert "<img src=x onerror=alert(1)>" in out.subject


def test_comment_added_names_author_role_and_attachment(composer: Composer) -> None:
    out = composer.render("comment_added", "en", full_context())
    assert "Bob (Collaborator)" in out.text
    assert "log.txt (2.0 KB)" in out.text
    ja = composer.render("comment_added", "ja", full_context("ja"))
    assert "Bob（共有メンバー）" in ja.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_case_opened_shows_deadline_fields_and_reply_help(composer: Composer, language: str) -> None:
    out = composer.render("case_opened", language, full_context(language, severity_note=None))
    due = i18n.format_datetime(OPENED + timedelta(hours=4), language)
    assert due in out.text and due in out.html
    assert i18n.severity_name(3, language) in out.text
    for key in ("business_impact", "users_affected", "org_id"):
        assert f"{i18n.field_label(key, language)}: " in out.text
        assert i18n.field_label(key, language) in out.html
    assert i18n.field_label("workaround", language) not in out.text  # only fields present
    assert "Cc" in out.text and "Cc" in out.html


@pytest.mark.parametrize(("language", "phrase"), [("en", "is not valid"), ("ja", "有効な値ではない")])
def test_case_opened_says_when_the_severity_was_invalid(
    composer: Composer, language: str, phrase: str
) -> None:
    with_note = composer.render("case_opened", language, full_context(language, severity_note="Sev 9"))
    assert phrase in with_note.text and "Sev 9" in with_note.text and phrase in with_note.html
    without = composer.render("case_opened", language, full_context(language, severity_note=None))
    assert phrase not in without.text and phrase not in without.html


def test_japanese_uses_japanese_labels_and_dates(composer: Composer) -> None:
    out = composer.render("case_opened", "ja", full_context("ja"))
    assert out.text.startswith("Alice 様")
    assert "業務影響: Nobody can log in" in out.text
    assert "組織ID: 00D123" in out.text
    assert "重要度: 3（高）" in out.text
    assert "2026年11月21日 14:00 (UTC)" in out.text
    assert "です" in out.text and "ます" in out.text


def test_status_changed_names_both_statuses(composer: Composer) -> None:
    out = composer.render("status_changed", "en", full_context())
    assert "from New to Waiting on customer" in out.text
    ja = composer.render("status_changed", "ja", full_context("ja"))
    assert "「新規」から「お客様の回答待ち」" in ja.text


def test_staff_see_account_and_contact_on_escalation(composer: Composer) -> None:
    manager = composer.render("escalated", "en", full_context(role="manager", reason="deadline"))
    contact = composer.render("escalated", "en", full_context(reason="deadline"))
    assert "Acme" in manager.text and "Primary contact: alice@acme.example" in manager.text
    assert "Acme" not in contact.text
    assert "deadline passed without a response" in manager.text


def test_rejected_states_reason_without_leaking_the_case_subject(composer: Composer) -> None:
    out = composer.render("rejected", "en", full_context())
    assert "not in the sharing settings" in out.text and "not in the sharing settings" in out.html
    assert "Login page" not in out.subject + out.text + out.html
    no_case = composer.render("rejected", "en", {**full_context(), "case": None})
    assert "#" not in no_case.subject and "a case" in no_case.text


def test_escalate_too_early_says_when(composer: Composer) -> None:
    out = composer.render("escalate_too_early", "en", full_context())
    assert "from 2026-11-21 12:00 UTC" in out.text
    ja = composer.render("escalate_too_early", "ja", full_context("ja"))
    assert "2026年11月21日 12:00 (UTC) 以降" in ja.text


def test_helpdesk_has_message_and_neutral_line_only(composer: Composer) -> None:
    """A fixed subject: the sender's subject is never echoed (no backscatter spam from our domain)."""
    ctx = full_context(original_subject="Cheap meds at http://spam.example")
    ctx["case"] = None
    out = composer.render("helpdesk", "en", ctx)
    assert out.subject == "Your message to Example Support"
    assert "spam.example" not in out.text and "spam.example" not in out.html
    ja = composer.render("helpdesk", "ja", ctx)
    assert "spam.example" not in ja.subject and "Example Support" in ja.subject
    assert out.text == "Ask IT on extension 4242.\n\nThis is an automatic reply from Example Support.\n"
    assert "Ask IT on extension 4242." in out.html and "Case" not in out.html


@pytest.mark.parametrize("language", LANGUAGES)
def test_helpdesk_falls_back_to_the_default_message(composer: Composer, language: str) -> None:
    out = composer.render("helpdesk", language, full_context(language, helpdesk_message=""))
    assert out.text.startswith(i18n.helpdesk_message(None, language))


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("Need help", "Re: Need help"),
        ("RE: Need help", "RE: Need help"),
        ("[Case #00001042] Need help", "Re: Need help"),
        ("[ case # 1 ]", "Re:"),
        ("", "Re:"),
        ("a\r\nBcc: x@evil", "Re: a Bcc: x@evil"),
    ],
)
def test_reply_subject(original: str, expected: str) -> None:
    assert reply_subject(original) == expected


def test_subject_is_one_line_even_when_case_subject_is_not(composer: Composer) -> None:
    ctx = full_context()
    ctx["case"]["subject"] = "line one\r\nBcc: x@evil\u2028three\x00"
    out = composer.render("closed", "en", ctx)
    assert out.subject == f"{TAG} line one Bcc: x@evil three"


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [("ja", "ja"), ("ja-JP", "ja"), ("JA_jp.UTF-8", "ja"), ("de", "en"), (None, "en"), ("", "en")],
)
def test_language_fallback_to_default(composer: Composer, wanted: str | None, expected: str) -> None:
    out = composer.render("closed", wanted or "", full_context())
    assert ("クローズ" in out.text) == (expected == "ja")


def test_unknown_language_uses_configured_default_then_english() -> None:
    ja_default = Composer([], default_language="ja")
    assert "クローズ" in ja_default.render("closed", "fr", full_context()).text
    bad_default = Composer([], default_language="xx")
    assert "has been closed" in bad_default.render("closed", "fr", full_context()).text


def test_unknown_event_is_a_keyerror_like_maild_error(composer: Composer) -> None:
    with pytest.raises(UnknownEvent) as info:
        composer.render("case_exploded", "en", full_context())
    assert isinstance(info.value, KeyError) and isinstance(info.value, MaildError)
    assert str(info.value) == "unknown notification event 'case_exploded'"


def test_operator_override_wins_per_file_and_reload_picks_up_changes(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    override = tmp_path / "en" / "closed.subject.txt"
    override.write_text("{{ case.tag }} All done")
    composer = Composer([tmp_path])
    out = composer.render("closed", "en", full_context())
    assert out.subject == f"{TAG} All done"
    assert "has been closed" in out.text  # the body still comes from the packaged set
    assert composer.render("closed", "ja", full_context("ja")).subject == f"{TAG} Login page returns 500"
    override.write_text("{{ case.tag }} Finished")
    assert composer.render("closed", "en", full_context()).subject == f"{TAG} All done"  # cached
    composer.reload()
    assert composer.render("closed", "en", full_context()).subject == f"{TAG} Finished"


def test_operator_language_falls_back_per_event(tmp_path: Path) -> None:
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "closed.subject.txt").write_text("{{ case.tag }} Geschlossen")
    (tmp_path / "de" / "closed.txt").write_text("Der Fall ist geschlossen.")
    (tmp_path / "de" / "closed.html").write_text("<p>Der Fall ist geschlossen.</p>")
    composer = Composer([tmp_path])
    assert "de" in composer.languages
    assert composer.render("closed", "de-AT", full_context()).subject == f"{TAG} Geschlossen"
    assert "has been closed" not in composer.render("closed", "de", full_context()).text
    assert "reopened" in composer.render("reopened", "de", full_context()).text  # English for the rest


def test_packaged_template_dir_has_every_file() -> None:
    root = packaged_template_dir()
    for language in LANGUAGES:
        for event in EVENTS:
            for suffix in (".subject.txt", ".txt", ".html"):
                assert (root / language / f"{event}{suffix}").is_file()


# ---------------------------------------------------------------------------- i18n


@pytest.mark.parametrize(
    ("wanted", "default", "expected"),
    [
        ("ja", "en", "ja"),
        ("ja-JP", "en", "ja"),
        ("fr", "ja", "ja"),
        ("fr", "xx", "en"),
        (None, "ja", "ja"),
        ("  EN ", "ja", "en"),
        ("_", "ja", "ja"),
    ],
)
def test_pick_language(wanted: str | None, default: str, expected: str) -> None:
    assert i18n.pick_language(wanted, default) == expected


def test_pick_language_respects_available() -> None:
    assert i18n.pick_language("de", "en", available=("en", "de")) == "de"
    assert i18n.pick_language("ja", "de", available=("de",)) == "de"


def test_language_tables_are_complete() -> None:
    assert i18n.supported_languages() == ("en", "ja")
    assert i18n.SEVERITY_NAMES["ja"] == {1: "重大", 2: "緊急", 3: "高", 4: "中"}
    for table in (
        i18n.STATUS_NAMES,
        i18n.FIELD_LABELS,
        i18n.ROLE_NAMES,
        i18n.ESCALATION_REASONS,
        i18n.REJECTION_REASONS,
    ):
        assert set(table["en"]) == set(table["ja"])
    assert set(i18n.FIELD_LABELS["ja"]) == set(i18n.FIELD_ORDER)
    assert i18n.FIELD_LABELS["ja"]["impact_if_missed"] == "期限を超えた場合の影響"


def test_unknown_keys_degrade_to_readable_text() -> None:
    assert i18n.severity_name(9, "ja") == "9"
    assert i18n.status_name("on_hold", "ja") == "on_hold"
    assert i18n.field_label("browser_version", "en") == "Browser version"
    assert i18n.status_name("closed", "fr") == "Closed"
    assert i18n.rejection_reason_text("not_participant", "ja").startswith("ケース")
    assert i18n.rejection_reason_text("custom words", "ja") == "custom words"


def test_ordered_fields_known_first_and_empty_dropped() -> None:
    fields = {"zeta": "z", "username": "u", "occurred_at": "today", "workaround": "  "}
    assert i18n.ordered_fields(fields) == [("occurred_at", "today"), ("username", "u"), ("zeta", "z")]


@pytest.mark.parametrize(
    ("value", "en", "ja"),
    [
        (datetime(2026, 11, 21, 12, 0, tzinfo=UTC), "2026-11-21 12:00 UTC", "2026年11月21日 12:00 (UTC)"),
        (
            datetime(2026, 11, 21, 21, 0, tzinfo=timezone(timedelta(hours=9))),
            "2026-11-21 12:00 UTC",
            "2026年11月21日 12:00 (UTC)",
        ),
        (datetime(2026, 1, 2, 3, 4), "2026-01-02 03:04 UTC", "2026年1月2日 03:04 (UTC)"),
        ("2026-11-21T12:00:00Z", "2026-11-21 12:00 UTC", "2026年11月21日 12:00 (UTC)"),
        (None, "", ""),
    ],
)
def test_format_datetime(value: object, en: str, ja: str) -> None:
    assert i18n.format_datetime(value, "en") == en
    assert i18n.format_datetime(value, "ja") == ja


@pytest.mark.parametrize(
    ("size", "en", "ja"),
    [
        (1, "1 byte", "1 バイト"),
        (1023, "1023 bytes", "1023 バイト"),
        (1536, "1.5 KB", "1.5 KB"),
        (5 * 1024**2, "5.0 MB", "5.0 MB"),
        (3 * 1024**3, "3.0 GB", "3.0 GB"),
        (5 * 1024**5, "5120.0 TB", "5120.0 TB"),
    ],
)
def test_format_filesize(size: int, en: str, ja: str) -> None:
    assert i18n.format_filesize(size, "en") == en
    assert i18n.format_filesize(size, "ja") == ja


# ---------------------------------------------------------------------------- messages


def test_message_structure_and_headers() -> None:
    data = build()
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF everywhere, no bare LF
    assert header_names(data) == BASE_HEADERS
    msg = parse(data)
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert all("MIME-Version" not in p for p in parts)
    assert parts[0].get_content().replace("\r\n", "\n") == "Hello\nworld\n"
    assert parts[1].get_content().replace("\r\n", "\n") == "<p>Hello</p>\n"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["MIME-Version"] == "1.0"
    assert msg["Message-ID"] == "<n1.00001042@example.com>"
    assert msg["In-Reply-To"] == "<root@acme.example>"
    assert msg["References"] == "<root@acme.example>"
    assert msg["Reply-To"] == "support+abc@example.com"
    assert msg["From"] == "Example Support <support@example.com>"
    assert msg["To"] == "Alice <alice@acme.example>"
    assert msg["Date"].datetime == OPENED


def test_optional_headers_are_left_out() -> None:
    data = build(reply_to=None, in_reply_to=None, references=[], to_name=None)
    assert header_names(data) == BASE_HEADERS - {"reply-to", "in-reply-to", "references"}
    assert parse(data)["To"] == "alice@acme.example"


def test_naive_date_is_taken_as_utc() -> None:
    assert parse(build(date=datetime(2026, 11, 21, 10, 0)))["Date"].datetime == OPENED
    tokyo = datetime(2026, 11, 21, 19, 0, tzinfo=timezone(timedelta(hours=9)))
    assert "+0000" in parse(build(date=tokyo))["Date"]


def test_japanese_subject_and_names_round_trip_as_encoded_words() -> None:
    subject = "[Case #00001042] ログイン画面でエラー 500 が発生します"
    data = build(rendered(subject), from_name="サポート窓口", to_name="山田 太郎")
    head = header_block(data)
    assert head.isascii() and b"=?utf-8?" in head
    msg = parse(data)
    assert msg["Subject"] == subject
    assert msg["From"].addresses[0].display_name == "サポート窓口"
    assert msg["To"].addresses[0].display_name == "山田 太郎"
    text = msg.get_body(preferencelist=("plain",))
    assert text is not None


def test_long_subject_folds_and_round_trips() -> None:
    subject = TAG + " " + " ".join(f"word{n}" for n in range(60)) + " 日本語" * 20
    data = build(rendered(subject))
    lines = header_block(data).split(b"\r\n")
    assert all(len(line) <= 78 for line in lines if not line.startswith(b"Content"))
    assert parse(data)["Subject"] == subject


@pytest.mark.parametrize(
    "name",
    [
        "Yamada, Taro",
        'Taro "The Boss" Yamada',
        "Evil <evil@example.org>",
        "back\\slash",
        "山田, 太郎 <x>",
        "(comment) name",
        "semi;colon",
    ],
)
def test_names_with_specials_are_quoted_not_parsed(name: str) -> None:
    data = build(to_name=name, from_name=name)
    msg = parse(data)
    assert len(msg["To"].addresses) == 1 and len(msg["From"].addresses) == 1
    assert msg["To"].addresses[0].addr_spec == "alice@acme.example"
    assert msg["To"].addresses[0].display_name == name
    assert msg["From"].addresses[0].addr_spec == "support@example.com"


INJECTIONS = [
    "hello\r\nBcc: victim@evil.example",
    "hello\nBcc: victim@evil.example",
    "hello\rBcc: victim@evil.example",
    "hello\x00\r\n\r\n<html>body</html>",
    "=?utf-8?q?x=0D=0ABcc:_victim@evil.example?=",
    "ok =?utf-8?b?eA0KQmNjOiB2aWN0aW1AZXZpbC5leGFtcGxl?= ok",
    "=?iso-8859-1?q?=0ABcc=3A_victim@evil.example?=",
    "hello\u2028Bcc: victim@evil.example",
    "hello\x85Bcc: victim@evil.example",
    "hello\x0bBcc: victim@evil.example\x0c",
    "=?utf-8?q?=E6=97=A5=0D=0ABcc:_v@e?= 日本語",
]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_injection_in_subject_names_and_extra_headers_adds_no_header(evil: str) -> None:
    data = build(rendered(evil), to_name=evil, from_name=evil, extra_headers={"X-Maild-Note": evil})
    assert header_names(data) == BASE_HEADERS | {"x-maild-note"}
    msg = parse(data)
    assert "Bcc" not in msg
    for name in ("Subject", "X-Maild-Note"):
        assert not re.search(r"[\r\n\x00]", str(msg[name]))
    assert not re.search(r"[\r\n\x00]", msg["To"].addresses[0].display_name)
    assert msg["To"].addresses[0].addr_spec == "alice@acme.example"
    for line in header_block(data).split(b"\r\n"):
        assert not line.lower().startswith(b"bcc")


def test_header_block_guard_catches_what_cleaning_would_miss(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the value cleaning switched off, the final check still stops the message."""
    monkeypatch.setattr(message, "_header_text", lambda value: value)
    with pytest.raises(ComposeError, match="differ"):
        build(rendered("Hello\r\nBcc: victim@evil.example"))


def test_injection_through_a_rendered_case_subject(composer: Composer) -> None:
    ctx = full_context()
    ctx["case"]["subject"] = "Broken\r\nBcc: all@evil.example\r\n\r\nfake body"
    data = build(composer.render("comment_added", "en", ctx))
    assert header_names(data) == BASE_HEADERS
    assert parse(data)["Subject"] == f"{TAG} Broken Bcc: all@evil.example fake body"


@given(st.text(max_size=200), st.text(max_size=60))
@settings(max_examples=150, deadline=None)
def test_arbitrary_text_never_adds_a_header(subject: str, name: str) -> None:
    data = build(rendered(subject), to_name=name, from_name=name)
    assert header_names(data) == BASE_HEADERS
    assert len(parse(data)["To"].addresses) == 1


@pytest.mark.parametrize(
    "address",
    [
        "alice@acme.example\r\nBcc: x@evil.example",
        "alice@acme.example\nBcc: x@evil.example",
        "alice@acme.example, bob@acme.example",
        "alice@acme.example;bob@acme.example",
        "Alice <alice@acme.example>",
        "alice@acme.example bob@acme.example",
        "alice",
        "",
        "a@b@c",
        "alice@acme.example\x00",
        "アリス@acme.example",
    ],
)
def test_bad_addresses_are_refused(address: str) -> None:
    for field in ("to_addr", "from_addr", "reply_to") if address else ("to_addr", "from_addr"):
        with pytest.raises(ValueError):
            build(**{field: address})


def test_international_domain_is_punycoded() -> None:
    msg = parse(build(to_addr="taro@例え.jp"))
    assert msg["To"].addresses[0].domain == "xn--r8jz45g.jp"


def test_message_id_shape_and_escaping() -> None:
    assert make_message_id("example.com", "n1.00001042") == "<n1.00001042@example.com>"
    assert make_message_id("Example.COM.", "a b") == "<a=20b@example.com>"
    weird = make_message_id("example.com", ".a..b<c>@d=\r\n日.")
    assert re.fullmatch(r"<[A-Za-z0-9=+_.-]+@example\.com>", weird)
    assert ".." not in weird and not weird.startswith("<.") and ".@" not in weird
    assert make_message_id("例え.jp", "x") == "<x@xn--r8jz45g.jp>"
    long_a, long_b = make_message_id("example.com", "日" * 200), make_message_id("example.com", "日" * 201)
    assert long_a != long_b and len(long_a) <= 250 and "=H" in long_a


@given(st.text(min_size=1, max_size=120), st.text(min_size=1, max_size=120))
def test_message_ids_never_collide(a: str, b: str) -> None:
    if a != b:
        assert make_message_id("example.com", a) != make_message_id("example.com", b)


@given(st.text(min_size=1, max_size=200))
@settings(deadline=None)
def test_message_ids_parse_cleanly(unique: str) -> None:
    mid = make_message_id("example.com", unique)
    data = build(message_id=mid)
    header = parse(data)["Message-ID"]
    assert header.strip() == mid and not header.defects  # a long id may be folded onto its own line


@pytest.mark.parametrize("domain", ["", "exa mple.com", "example.com\r\nBcc: x", "-bad.com", "a@b"])
def test_message_id_refuses_bad_domains(domain: str) -> None:
    with pytest.raises(ValueError):
        make_message_id(domain, "x")


def test_message_id_refuses_empty_unique() -> None:
    with pytest.raises(ValueError):
        make_message_id("example.com", "")


@pytest.mark.parametrize("bad", ["no-brackets-no-at", "<a b@c>", "<a@b>\r\nBcc: x@y", "", "<>"])
def test_build_refuses_a_bad_own_message_id(bad: str) -> None:
    with pytest.raises(ValueError):
        build(message_id=bad)


def ids(n: int) -> Iterator[str]:
    return (f"<m{i}@x.example>" for i in range(n))


def test_references_are_deduplicated_in_order_and_end_with_the_parent() -> None:
    refs = ["<a@x>", "<b@x> <a@x>", "c@x", "not an id", "<d@x>\r\nBcc: e@x", "<b@x>"]
    msg = parse(build(references=refs, in_reply_to="<a@x>"))
    assert msg["References"] == "<b@x> <c@x> <d@x> <a@x>"
    assert msg["In-Reply-To"] == "<a@x>"


def test_references_are_capped_keeping_the_thread_root() -> None:
    refs = list(ids(50))
    msg = parse(build(references=refs, in_reply_to="<parent@x.example>"))
    kept = msg["References"].split()
    assert len(kept) == MAX_REFERENCES
    assert kept[0] == "<m0@x.example>"
    assert kept[-1] == "<parent@x.example>"
    assert kept[-2] == "<m49@x.example>"


def test_invalid_in_reply_to_is_dropped() -> None:
    data = build(in_reply_to="garbage with spaces", references=[])
    assert "in-reply-to" not in header_names(data) and "references" not in header_names(data)


def test_extra_headers_are_added_and_may_replace_auto_submitted() -> None:
    data = build(extra_headers={"X-Maild-Case": "00001042", "auto-submitted": "auto-replied"})
    msg = parse(data)
    assert msg["X-Maild-Case"] == "00001042"
    assert msg.get_all("Auto-Submitted") == ["auto-replied"]
    assert header_names(data) == BASE_HEADERS | {"x-maild-case"}


@pytest.mark.parametrize(
    "name",
    [
        "From",
        "bcc",
        "Subject",
        "Content-Type",
        "Message-ID",
        "References",
        "X Bad",
        "X-Bad:",
        "X-Bad\r\nBcc",
        "",
    ],
)
def test_extra_headers_cannot_replace_structural_ones_or_be_malformed(name: str) -> None:
    with pytest.raises(ValueError):
        build(extra_headers={name: "x"})
