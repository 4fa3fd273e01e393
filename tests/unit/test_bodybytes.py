"""maild.inbound.bodybytes: large base64 runs cut out before parsing, and given back exactly."""

from __future__ import annotations

import base64
import email
from email.policy import compat32

import pytest

from maild.inbound.bodybytes import CutBodies, NotExact, cut_base64

_PAYLOAD = bytes(range(256)) * 8192  # 2 MiB, above the size where runs are cut
_HEAD = b"From: a@acme.example\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"


def _message(payload: bytes = _PAYLOAD) -> bytes:
    return _HEAD + base64.encodebytes(payload).replace(b"\n", b"\r\n")


def test_small_messages_are_left_alone() -> None:
    raw = _message(b"tiny")
    trimmed, bodies = cut_base64(raw, limit=10, nonce="n", keep=True)
    assert trimmed is raw
    assert bodies == CutBodies(raw)


def test_a_run_over_the_limit_is_dropped_and_remembers_its_size() -> None:
    raw = _message()
    trimmed, bodies = cut_base64(raw, limit=1000, nonce="n", keep=True)
    assert len(trimmed) < 200
    assert bodies.dropped == {0: len(_PAYLOAD)}
    part = email.message_from_bytes(trimmed, policy=compat32)
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    assert bodies.dropped_size(data) == len(_PAYLOAD)
    assert bodies.dropped_size(b"maild-cut-part-7") is None
    bodies.check_all_used()


def test_a_kept_run_decodes_to_what_the_stdlib_gives() -> None:
    raw = _message()
    trimmed, bodies = cut_base64(raw, limit=len(_PAYLOAD), nonce="n", keep=True)
    assert len(bodies.kept) == 1
    with pytest.raises(NotExact):
        bodies.check_all_used()  # the walk has not reached the part yet
    part = email.message_from_bytes(trimmed, policy=compat32)
    assert bodies.kept_payload(part) == _PAYLOAD
    bodies.check_all_used()


def test_without_keep_only_oversized_runs_are_cut() -> None:
    raw = _message()
    trimmed, bodies = cut_base64(raw, limit=len(_PAYLOAD), nonce="n", keep=False)
    assert trimmed is raw
    assert not bodies.kept and not bodies.dropped


def test_a_sender_made_marker_with_thousands_of_digits_is_just_an_attachment() -> None:
    """A part whose bytes spell a marker number too long for int() must not break parsing."""
    from maild.inbound.parse import parse_message

    forged = b"maild-cut-part-" + b"9" * 5000
    raw = (
        b"From: Alice <alice@acme.example>\r\nTo: support@example.com\r\nSubject: logs\r\n"
        b"Message-ID: <forged-marker@acme.example>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee file\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="m.bin"\r\n\r\n'
        + base64.encodebytes(forged).replace(b"\n", b"\r\n")
        + b"--b--\r\n"
    )
    mail = parse_message(raw)
    assert mail.from_addr is not None and mail.from_addr.email == "alice@acme.example"
    assert [a.size for a in mail.attachments] == [len(forged)]
    assert mail.text.strip() == "see file"
