"""Notification rendering: every event, every language, the templates' contract.

The rendering tests run every event in every language against a strict
Composer, so a typo in a shipped template fails here rather than in a
customer's inbox. Building the bytes is tested in test_message.py, the
language data in test_i18n.py.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from maild.errors import MaildError
from maild.locales import language_codes
from maild.outbound import i18n
from maild.outbound.compose import (
    EVENTS,
    ComposeError,
    Composer,
    UnknownEvent,
    packaged_template_dir,
    reply_subject,
    sample_context,
)
from tests.unit.test_message import BASE_HEADERS, build, header_names, parse

LANGUAGES = language_codes()  # every language maild has a table for (maild/locales)
ROLES = ("primary_contact", "collaborator", "agent", "manager", "other", "owner", "team")
CASE_EVENTS = tuple(e for e in EVENTS if e != "helpdesk")
TAG = "[Case #00001042]"
OPENED = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


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
        "deadline": "next_response",
        "waiting_since": OPENED + timedelta(days=1),
        "closes_at": OPENED + timedelta(days=8),
        "closed_by": "maild",
        "reason_text": "bob@acme.example is not in the sharing settings of case 00001042",
        "commented": False,
        "possible_at": OPENED + timedelta(hours=2),
        "helpdesk_message": "Ask IT on extension 4242.",
        "original_subject": "Printer on fire",
        "case_number": "00001042",
        "inbound_id": 7,
        "sender": "alice@acme.example",
        "excerpt": "Please close this.",
        "owner": "dave@vendor.example",
        "owner_name": "Dave",
        "previous_owner": "erin@vendor.example",
        "assigned_by": "erin@vendor.example",
        "old_team": "Tier 1",
        "new_team": "Tier 2",
        "moved_by": "erin@vendor.example",
        "results": [
            {"line": "#assign me", "ok": True, "code": "assigned", "detail": "dave@vendor.example"},
            {"line": "#team nowhere", "ok": False, "code": "unknown_team", "detail": "nowhere"},
        ],
        "teams": ["Tier 1", "Tier 2"],
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
            "team": "Tier 2",
            "owner": "dave@vendor.example",
            "topic": "Login",
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
    assert composer.languages == tuple(sorted(LANGUAGES)) and {"en", "ja"} <= set(LANGUAGES)
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
        label = i18n.field_label(key, language)
        # "Label: value", or "Label : value" as French writes it
        assert f"{label}: " in out.text or f"{label} : " in out.text or f"{label}\u00a0: " in out.text
        assert html.escape(label) in out.html  # "ID d'organisation" is escaped in HTML
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
        ("RES: Ajuda com login", "RES: Ajuda com login"),
        ("AW: Frage", "AW: Frage"),
        ("Antw: Vraag", "Antw: Vraag"),
        ("Отв: Вопрос", "Отв: Вопрос"),
        ("回复：登录问题", "回复：登录问题"),
        ("회신: 문의", "회신: 문의"),
        ("Residency question", "Re: Residency question"),
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
    [("ja", "ja"), ("ja-JP", "ja"), ("JA_jp.UTF-8", "ja"), ("sv", "en"), (None, "en"), ("", "en")],
)
def test_language_fallback_to_default(composer: Composer, wanted: str | None, expected: str) -> None:
    out = composer.render("closed", wanted or "", full_context())
    assert ("クローズ" in out.text) == (expected == "ja")


def test_unknown_language_uses_configured_default_then_english() -> None:
    ja_default = Composer([], default_language="ja")
    assert "クローズ" in ja_default.render("closed", "sv", full_context()).text
    bad_default = Composer([], default_language="xx")
    assert "has been closed" in bad_default.render("closed", "sv", full_context()).text


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
    (tmp_path / "sv").mkdir()
    (tmp_path / "sv" / "closed.subject.txt").write_text("{{ case.tag }} Stängt")
    (tmp_path / "sv" / "closed.txt").write_text("Ärendet är stängt.")
    (tmp_path / "sv" / "closed.html").write_text("<p>Ärendet är stängt.</p>")
    composer = Composer([tmp_path])
    assert "sv" in composer.languages
    assert composer.render("closed", "sv-FI", full_context()).subject == f"{TAG} Stängt"
    assert "has been closed" not in composer.render("closed", "sv", full_context()).text
    assert "reopened" in composer.render("reopened", "sv", full_context()).text  # English for the rest


def test_packaged_template_dir_has_every_file() -> None:
    root = packaged_template_dir()
    for language in LANGUAGES:
        for event in EVENTS:
            for suffix in (".subject.txt", ".txt", ".html"):
                assert (root / language / f"{event}{suffix}").is_file()


def test_injection_through_a_rendered_case_subject(composer: Composer) -> None:
    ctx = full_context()
    ctx["case"]["subject"] = "Broken\r\nBcc: all@evil.example\r\n\r\nfake body"
    data = build(composer.render("comment_added", "en", ctx))
    assert header_names(data) == BASE_HEADERS
    assert parse(data)["Subject"] == f"{TAG} Broken Bcc: all@evil.example fake body"
