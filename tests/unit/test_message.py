"""Message building: rendered text in, exact RFC 5322 bytes out (maild.outbound.message).

The header tests parse the produced bytes back with the standard parser and
compare the complete header set, because "no header was added" is only
provable by looking at what a receiver would see.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maild.outbound import message
from maild.outbound.compose import ComposeError, Rendered
from maild.outbound.message import MAX_REFERENCES, build_message, make_message_id

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
