"""Properties that must hold for any input: parse_message and extract_reply
are total, return valid Unicode, and keep header-derived values on one line."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maild.inbound.message import InboundMail
from maild.inbound.parse import parse_message
from maild.inbound.quotes import extract_reply

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SAMPLES: list[bytes] = [
    b"From: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <yamada@example.jp>\r\nTo: support@example.com\r\n"
    b"Subject: =?ISO-2022-JP?B?GyRCLSEbKEI=?=\r\nMessage-ID: <a@b>\r\nReferences: <r@x> <s@x>\r\n"
    b"Content-Type: text/plain; charset=ISO-2022-JP\r\n\r\n\x1b$B$3$s$K$A$O\x1b(B\r\n",
    b'From: a@example.com\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
    b"Content-Type: text/plain; charset=Shift_JIS\r\n\r\n\x87@\x81`\r\n--b\r\n"
    b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; "
    b"filename*=UTF-8''..%2Fx.bin\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--b--\r\n",
    b"From: MAILER-DAEMON@x\r\nContent-Type: multipart/report; report-type=delivery-status; "
    b"boundary=r\r\n\r\n"
    b"--r\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; a@b.c\r\nAction: "
    b"failed\r\n"
    b"--r\r\nContent-Type: message/rfc822\r\n\r\nMessage-ID: <n@maild>\r\n\r\nx\r\n--r--\r\n",
    b"Subject: html\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\nContent-Type: "
    b"text/html\r\n\r\n"
    b"<p>Hi</p><blockquote>old</blockquote>\r\n--a--\r\n",
]


def _check(mail: InboundMail) -> None:
    assert mail.message_id
    for value in (
        mail.subject,
        mail.text,
        mail.message_id,
        mail.html or "",
        *mail.defects,
        *mail.delivered_to,
    ):
        value.encode("utf-8")
    for address in (mail.from_addr, mail.sender, *mail.to, *mail.cc, *mail.reply_to):
        if address is not None:
            address.email.encode("utf-8")
            assert not any(char in address.name for char in "\r\n\x00")
    assert not any(char in mail.subject for char in "\r\n\x00")
    for name, value in mail.headers:
        assert not any(char in name + value for char in "\r\n")
    for attachment in mail.attachments:
        assert attachment.filename and "/" not in attachment.filename and "\\" not in attachment.filename
        assert not attachment.filename.startswith(".")
    extract_reply(mail.text).encode("utf-8")


@SETTINGS
@given(st.binary(max_size=2000))
def test_random_bytes(raw: bytes) -> None:
    _check(parse_message(raw))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        position = draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))
        action = draw(st.sampled_from(["flip", "insert", "delete"]))
        if action == "flip" and data:
            data[position] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif data:
            del data[position : position + draw(st.integers(min_value=1, max_value=16))]
    return bytes(data)


@SETTINGS
@given(mutated())
def test_mutated_real_messages(raw: bytes) -> None:
    _check(parse_message(raw))


header_value = st.lists(
    st.sampled_from([*"abc =?:<>@;,\"'\\()\r\n\t\x00\x1b日本①", "=?utf-8?B?", "?=", "=?utf-8?Q?=0D=0A?="]),
    max_size=40,
).map("".join)


@SETTINGS
@given(subject=header_value, sender=header_value, name=header_value)
def test_generated_headers_with_control_characters(subject: str, sender: str, name: str) -> None:
    raw = (
        f"From: {sender}\r\nTo: {name} <x@example.com>\r\nSubject: {subject}\r\n"
        f'Content-Disposition: attachment; filename="{name}"\r\n\r\nbody'
    ).encode("utf-8", "surrogateescape")
    _check(parse_message(raw))


@SETTINGS
@given(st.text(max_size=3000))
def test_extract_reply_total(text: str) -> None:
    result = extract_reply(text)
    result.encode("utf-8", "surrogatepass")
    assert bool(result.strip()) == bool(text.replace("\r", "\n").strip())
