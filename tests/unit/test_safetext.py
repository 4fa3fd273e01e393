"""Output safety (SPEC §8): control characters shown, never raw; passwords never shown.

`safetext` is pure, so most cases are bytes-in/value-out. The parser's part
of the job (entities decoded before the control-character clean-up, C1 out of
bodies and names) and the views' and log formatters' use of it are here too.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from maild.cases.views import case_text
from maild.inbound.parse import parse_message
from maild.logs import setup_logging
from maild.safetext import json_safe, redact, redact_url, visible, visible_text


def raw_controls(text: str, *, multiline: bool = True) -> list[str]:
    """Every character a terminal could act on: C0 (but newline and tab), DEL, C1, bidi controls."""
    allowed = "\n\t" if multiline else ""
    return [
        ch
        for ch in text
        if (ord(ch) < 0x20 and ch not in allowed)
        or 0x7F <= ord(ch) <= 0x9F
        or ch in "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff\u2028\u2029"
    ]


HOSTILE = "a\x1b[2Jb\x9bc\u202ed\x07e\x00f\x7fg\u2066h\ufeffi\rj"


# ---------------------------------------------------------------- visible


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[2J", "\\x1b[2J"),
        ("\x9b31m", "\\x9b31m"),
        ("abc\u202etxt.exe", "abc\\u202etxt.exe"),
        ("\x00\x7f\x85", "\\x00\\x7f\\x85"),
        ("two\nlines\tand\rcr", "two\\nlines\\tand\\rcr"),
        ("\u200e\u200f\u2028\u2029\ufeff", "\\u200e\\u200f\\u2028\\u2029\\ufeff"),
        ("\ud800", "\\ud800"),
    ],
)
def test_visible_escapes_every_control_character(text: str, shown: str) -> None:
    assert visible(text) == shown
    assert not raw_controls(visible(text), multiline=False)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Printer on floor 3 is jammed",
        "【至急】レポートが表示されません",
        "مرحبا بالعالم",  # right-to-left text itself is fine; only the controls are escaped
        "C:\\Users\\alice and 100% — «ok» ✓ 👍🏽 👨‍👩‍👧",
    ],
)
def test_visible_leaves_ordinary_text_alone(text: str) -> None:
    assert visible(text) == text
    assert visible_text(text) == text


def test_visible_text_keeps_newlines_and_tabs_only() -> None:
    body = "Hello,\n\tindented\nbad\x1b[2J\r\x9b\u202e end\n"
    shown = visible_text(body)
    assert shown == "Hello,\n\tindented\nbad\\x1b[2J\\r\\x9b\\u202e end\n"
    assert not raw_controls(shown)


def test_visible_is_linear() -> None:
    big = HOSTILE * 100_000  # 2.1 M characters, most of them escaped
    start = time.perf_counter()
    shown = visible(big)
    assert time.perf_counter() - start < 2.0
    assert not raw_controls(shown, multiline=False)


# ---------------------------------------------------------------- JSON


@pytest.mark.parametrize("text", [HOSTILE, "plain", "日本語 \u202e", "\ud800 lone", "tab\tnl\n"])
def test_json_safe_round_trips_exactly_and_prints_nothing_raw(text: str) -> None:
    data = {"subject": text, "list": [text, 1, None]}
    document = json_safe(json.dumps(data, ensure_ascii=False, indent=2))
    assert json.loads(document) == data
    assert not raw_controls(document)


def test_json_safe_keeps_ordinary_unicode_readable() -> None:
    document = json_safe(json.dumps({"s": "山田 太郎 — ok"}, ensure_ascii=False))
    assert document == '{"s": "山田 太郎 — ok"}'


# ---------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://maild:s3cretpw@127.0.0.1:1/x", "postgresql+psycopg://maild:***@127.0.0.1:1/x"),
        (
            "postgres://u:p%40ss@db.example:5432/maild?sslmode=require",
            "postgres://u:***@db.example:5432/maild?sslmode=require",
        ),
        ("postgresql://:onlypw@h/db", "postgresql://:***@h/db"),
        ("postgresql://u:pa@ss@h/db", "postgresql://u:***@h/db"),  # unescaped "@": hidden whole
        ("postgresql://maild@h/db", "postgresql://maild@h/db"),
        ("sqlite:////var/lib/maild/maild.db", "sqlite:////var/lib/maild/maild.db"),
        ("sqlite:///relative.db", "sqlite:///relative.db"),
        ("https://example.com:8443/path", "https://example.com:8443/path"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "text",
    [
        "cannot connect to postgresql+psycopg://maild:s3cretpw@127.0.0.1:1/x: refused",
        "invalid dsn: host=127.0.0.1 port=1 user=maild password=s3cretpw dbname=x",
        "invalid dsn: password = 's3cretpw' host=x",
        "two: imap://a:s3cretpw@h and postgresql://b:s3cretpw@h/x",
    ],
)
def test_redact_masks_passwords_in_free_text(text: str) -> None:
    shown = redact(text)
    assert "s3cretpw" not in shown and "***" in shown


def test_redact_leaves_other_text_alone() -> None:
    for text in ("database is locked", "key=value pairs, a=b", "see https://sqlalche.me/e/20/e3q8"):
        assert redact(text) == text


def test_redact_is_linear() -> None:
    hostile = "a://" + "b" * 200 + ":" + "c" * 100_000
    start = time.perf_counter()
    redact(hostile * 5 + "password=" * 50_000)
    assert time.perf_counter() - start < 2.0


# ---------------------------------------------------------------- the parser's clean-up


def _html_mail(html: str, name: str = "Alice Example") -> bytes:
    m = EmailMessage()
    m["From"] = f"{name} <alice@acme.example>"
    m["To"] = "support@example.com"
    m["Subject"] = "html only"
    m.set_content(html, subtype="html")
    return m.as_bytes(policy=SMTP)


@pytest.mark.parametrize(
    "html",
    [
        "<p>before&#27;[2Jafter</p>",
        "<p>before&#x1b;[2Jafter</p>",
        "<p>before&#x9b;2Jafter</p>",
        "<p>before&#155;2Jafter</p>",
        "<p>before&#127;&#x85;&#x90;after</p>",
        "<p>before\u009b2J\x1b]0;title\x07after</p>",
    ],
)
def test_html_entities_never_become_raw_controls(html: str) -> None:
    mail = parse_message(_html_mail(html))
    assert mail.text_from_html
    assert "before" in mail.text and "after" in mail.text
    assert not [ch for ch in mail.text if (ord(ch) < 0x20 and ch not in "\n\t") or 0x7F <= ord(ch) <= 0x9F]


def test_c1_characters_are_cleaned_from_plain_bodies() -> None:
    m = EmailMessage()
    m["From"] = "alice@acme.example"
    m["To"] = "support@example.com"
    m["Subject"] = "plain"
    m.set_content("one\u009b2J two\u0085three\x1b[2J four\n\tindented\n")
    mail = parse_message(m.as_bytes(policy=SMTP))
    assert mail.text == "one2J twothree[2J four\n\tindented\n"


def _encoded(text: str) -> bytes:
    return b"=?utf-8?b?" + base64.b64encode(text.encode()) + b"?="


def test_c1_characters_are_cleaned_from_display_names_and_subjects() -> None:
    raw = (
        b"From: " + _encoded("Eve \u009b2J\x1b[2J Example") + b" <eve@acme.example>\r\n"
        b"To: support@example.com\r\n"
        b"Subject: " + _encoded("Help \u009b31m \x1b[2J now") + b"\r\n"
        b"Message-ID: <c1@acme.example>\r\n\r\nx\r\n"
    )
    mail = parse_message(raw)
    assert mail.from_addr is not None and mail.from_addr.email == "eve@acme.example"
    for text in (mail.from_addr.name, mail.subject):
        assert not [ch for ch in text if ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F], repr(text)
    assert mail.from_addr.name.startswith("Eve") and mail.subject.startswith("Help")


def test_ordinary_html_mail_is_unchanged_by_the_clean_up() -> None:
    mail = parse_message(_html_mail("<p>Caf&eacute; &amp; cr&egrave;me &#8212; &#x5C71;&#x7530;</p>"))
    assert mail.text == "Café & crème — 山田"


# ---------------------------------------------------------------- views and logs


def _case_data(subject: str, body: str, author: str) -> dict[str, object]:
    return {
        "number": "00000001",
        "subject": subject,
        "status": "new",
        "severity": 3,
        "account": "Acme",
        "primary_contact": author,
        "collaborators": [author],
        "created_at": "2024-01-01T00:00:00Z",
        "first_response_due_at": None,
        "first_responded_at": None,
        "fields": {"Business impact": subject},
        "escalations": [{"level": 1, "reason": subject, "at": "2024-01-01T00:00:00Z"}],
        "description": body,
        "comments": [
            {
                "author": author,
                "role": "customer",
                "created_at": "2024-01-01T00:00:00Z",
                "body": body,
                "attachments": [{"id": 1, "filename": subject, "size": 3}],
            }
        ],
    }


def test_case_text_shows_controls_escaped() -> None:
    text = case_text(_case_data(HOSTILE, "body\n\t" + HOSTILE, "a\x1b@x.example"))
    assert not raw_controls(text)
    assert "\\x1b[2J" in text and "\\x9b" in text and "\\u202e" in text and "body\n\t" in text


def test_case_text_prints_ordinary_text_unchanged() -> None:
    text = case_text(_case_data("Printer jam", "Hello,\n\tthe printer\n", "alice@acme.example"))
    assert "Case 00000001: Printer jam" in text and "Hello,\n\tthe printer\n" in text


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_log_lines_show_controls_and_hide_passwords(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("info", fmt)
    log = logging.getLogger("maild.test")
    log.info(
        "subject %s from %s",
        HOSTILE,
        "postgresql+psycopg://maild:s3cretpw@127.0.0.1:1/x",
        extra={"message_id": "<\x1b[2J\u202e@x>", "case": "00000001"},
    )
    try:
        raise RuntimeError("connect failed: password=s3cretpw host=x")
    except RuntimeError:
        log.exception("failed \x9b")
    log.info("ordinary line — 山田")
    err = capsys.readouterr().err
    lines = err.strip().split("\n")
    assert len(lines) == 3, lines
    assert "s3cretpw" not in err
    assert not raw_controls(err)
    assert "山田" in lines[2]
    if fmt == "json":
        events = [json.loads(line) for line in lines]
        assert events[0]["message"].startswith("subject " + HOSTILE)  # exact text, escaped only in JSON
        assert events[0]["message_id"] == "<\x1b[2J\u202e@x>"
        assert events[2]["message"] == "ordinary line — 山田"
    else:
        assert "\\x1b[2J" in lines[0] and "\\u202e" in lines[0] and "\\x9b" in lines[1]
        assert lines[2].endswith("maild.test: ordinary line — 山田")
