"""winmail.dat: Outlook's TNEF wrapper is unpacked into text and attachments, or left alone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from maild.inbound.parse import parse_message
from maild.inbound.tnef import unpack
from tests.fixtures.ci import in_ci

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "attachments"


def corpus_file(name: str) -> bytes:
    path = CORPUS / name
    if not path.is_file():
        if in_ci():
            pytest.fail(f"the corpus is missing in CI: {path}")
        pytest.skip(f"corpus not available at {path}")
    return path.read_bytes()


def test_tnef_body_becomes_the_text() -> None:
    mail = parse_message(corpus_file("roundcube-tnef2.eml"))
    assert mail.text.startswith("THE BILL OF RIGHTS")
    assert "winmail.dat" not in [a.filename for a in mail.attachments]


def test_files_inside_tnef_become_attachments_of_their_own() -> None:
    mail = parse_message(corpus_file("roundcube-tnef3.eml"))
    assert [(a.filename, a.content_type, a.size) for a in mail.attachments] == [
        ("zappa_av1.jpg", "image/jpeg", 2937),
        ("bookmark.htm", "text/html", 85805),
    ]
    assert all(a.data is not None and len(a.data) == a.size for a in mail.attachments)


def test_files_inside_tnef_obey_the_size_limit() -> None:
    mail = parse_message(corpus_file("roundcube-tnef3.eml"), max_attachment_bytes=50_000)
    by_name = {a.filename: a for a in mail.attachments}
    assert by_name["bookmark.htm"].data is None and by_name["bookmark.htm"].dropped_reason
    assert by_name["zappa_av1.jpg"].data is not None


@pytest.mark.parametrize(
    "blob", [b"", b"\x78\x9f\x3e\x22", b"\x78\x9f\x3e\x22" + os.urandom(200), os.urandom(500)]
)
def test_unreadable_tnef_is_kept_as_winmail_dat(blob: bytes) -> None:
    from email import policy
    from email.message import EmailMessage

    assert unpack(blob) is None or not (unpack(blob).text or unpack(blob).files)  # type: ignore[union-attr]
    m = EmailMessage()
    m["From"] = "alice@acme.example"
    m["Subject"] = "tnef"
    m.set_content("body")
    m.add_attachment(blob, maintype="application", subtype="ms-tnef", filename="winmail.dat")
    mail = parse_message(m.as_bytes(policy=policy.SMTP))
    assert [a.filename for a in mail.attachments] == ["winmail.dat"]
    assert mail.text.strip() == "body"
