"""parse_message: raw bytes in, InboundMail out, for the mail maild meets."""

from __future__ import annotations

import base64
import hashlib

import pytest

from maild.inbound.headers import decode_header
from maild.inbound.message import Address
from maild.inbound.parse import parse_message, safe_filename
from maild.mailids import first_id


def msg(headers: str, body: bytes = b"body\r\n") -> bytes:
    head = headers.strip("\n").replace("\n", "\r\n").encode("ascii")
    return head + b"\r\n\r\n" + body


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data)


# ---------------------------------------------------------------- ids


def test_message_id_is_normalised() -> None:
    mail = parse_message(msg("Message-ID: (comment)  < abc@example.com >  <second@x>"))
    assert mail.message_id == "<abc@example.com>"
    assert not mail.message_id_synthesized


def test_missing_message_id_is_synthesized_and_stable() -> None:
    raw = msg("From: a@example.com\nSubject: hi")
    first, second = parse_message(raw), parse_message(raw)
    assert first.message_id == second.message_id
    assert first.message_id == f"<{hashlib.sha256(raw).hexdigest()[:32]}@maild.invalid>"
    assert first.message_id_synthesized
    assert "missing or invalid Message-ID" in first.defects
    assert parse_message(raw + b"x").message_id != first.message_id


def test_garbage_message_id_is_synthesized() -> None:
    mail = parse_message(msg("Message-ID: not an id at all"))
    assert mail.message_id_synthesized
    assert mail.message_id.endswith("@maild.invalid>")


def test_bare_message_id_gets_brackets() -> None:
    assert first_id("abc@example.com") == "<abc@example.com>"
    assert first_id("<a b@c>") == "<ab@c>"
    assert first_id("") is None


def test_raw_hash_and_size() -> None:
    raw = msg("Subject: x")
    mail = parse_message(raw)
    assert mail.raw_size == len(raw)
    assert mail.raw_sha256 == hashlib.sha256(raw).hexdigest()


def test_references_and_in_reply_to_in_order_with_garbage() -> None:
    mail = parse_message(
        msg("In-Reply-To: junk <p@x> (c)\nReferences: <r1@x>\n <r2@x> garbage <r1@x>\n\t<r3@x>")
    )
    assert mail.in_reply_to == ("<p@x>",)
    assert mail.references == ("<r1@x>", "<r2@x>", "<r3@x>")


def test_references_capped_keeps_root_and_newest() -> None:
    refs = " ".join(f"<id{n}@x>" for n in range(500))
    mail = parse_message(msg(f"References: {refs}"))
    assert len(mail.references) == 100
    assert mail.references[0] == "<id0@x>" and mail.references[-1] == "<id499@x>"


# ---------------------------------------------------------------- addresses


def test_addresses_lower_cased_and_names_decoded() -> None:
    mail = parse_message(
        msg(
            "From: =?UTF-8?B?5bGx55Sw?= <Yamada@Example.JP>\n"
            'To: "Support" <SUPPORT@example.com>, other@Example.com\n'
            "Cc: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <cc@example.jp>\n"
            "Reply-To: r@example.com\nSender: s@example.com"
        )
    )
    assert mail.from_addr == Address("yamada@example.jp", "山田")
    assert mail.to == (Address("support@example.com", "Support"), Address("other@example.com", ""))
    assert mail.cc == (Address("cc@example.jp", "山田"),)
    assert mail.reply_to == (Address("r@example.com"),)
    assert mail.sender == Address("s@example.com")
    assert mail.recipients == mail.to + mail.cc


def test_unparseable_address_is_skipped_with_defect() -> None:
    mail = parse_message(msg("From: a@example.com\nTo: good@example.com, Broken Name <not an address>"))
    assert mail.to == (Address("good@example.com"),)
    assert any("To" in defect for defect in mail.defects)


def test_name_with_encoded_newline_is_single_line() -> None:
    mail = parse_message(msg("From: =?UTF-8?Q?Evil=0D=0ABcc=3A_x=40y?= <e@example.com>"))
    assert mail.from_addr is not None
    assert mail.from_addr.name == "Evil Bcc: x@y"


def test_delivered_to_from_envelope_headers() -> None:
    mail = parse_message(
        msg("Delivered-To: Support+ABC@Example.com\nX-Original-To: <support@example.com>\nEnvelope-To: x@y.z")
    )
    assert mail.delivered_to == ("support+abc@example.com", "support@example.com", "x@y.z")


def test_mailer_daemon_sender_without_domain_is_kept() -> None:
    mail = parse_message(msg("From: Mail Delivery Subsystem <MAILER-DAEMON>"))
    assert mail.from_addr == Address("mailer-daemon", "Mail Delivery Subsystem")


# ---------------------------------------------------------------- subject and headers


@pytest.mark.parametrize(
    ("raw_subject", "expected"),
    [
        (b"=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=", "日本語"),
        (b"=?iso-2022-jp?B?GyRCLSEbKEI=?=", "①"),
        (b"=?ISO-2022-JP?B?" + base64.b64encode("障害①～".encode("cp932")) + b"?=", "障害①～"),
        (b"=?Shift_JIS?B?" + base64.b64encode("①～テスト".encode("cp932")) + b"?=", "①～テスト"),
        (b"=?EUC-JP?B?" + base64.b64encode("日本語の件名".encode("euc_jp")) + b"?=", "日本語の件名"),
        (b"=?utf-8?B?5pel5pys?= =?utf-8?B?6Kqe?=", "日本語"),
        (b"=?utf-8?B?5pel5g==?= =?utf-8?B?nKzoqp4=?=", "日本語"),
        (b"=?utf-8?Q?caf=C3=A9_au_lait?=", "café au lait"),
        (b"Re: =?utf-8?q?a?= b", "Re: a b"),
        (b"=?utf-8?B?5pel5pys", "=?utf-8?B?5pel5pys"),
        (b"=?x-made-up?Q?plain?=", "plain"),
        ("raw UTF-8 件名".encode(), "raw UTF-8 件名"),
        (b"=?utf-8?B?SGVsbG8NCkJjYzogeEB5?=", "Hello Bcc: x@y"),
        (b"=?utf-8?Q?a=00b=09c?=", "ab c"),
        (b"line\r\n one\r\n\ttwo", "line one two"),
    ],
)
def test_subject_decoding(raw_subject: bytes, expected: str) -> None:
    raw = b"Subject: " + raw_subject + b"\r\nMessage-ID: <s@x>\r\n\r\nbody"
    assert parse_message(raw).subject == expected


def test_raw_shift_jis_header_uses_the_body_charset() -> None:
    raw = (
        b"Subject: " + "お問い合わせ".encode("cp932") + b"\r\n"
        b"Content-Type: text/plain; charset=Shift_JIS\r\n\r\n" + "本文です①".encode("cp932")
    )
    mail = parse_message(raw)
    assert mail.subject == "お問い合わせ"
    assert mail.text == "本文です①"


def test_headers_listed_decoded_and_single_line() -> None:
    mail = parse_message(msg("X-Test: =?utf-8?B?44OG44K544OI?=\nAuto-Submitted: auto-replied\nX-Test: two"))
    assert mail.header("x-test") == "テスト"
    assert mail.header_all("X-Test") == ["テスト", "two"]
    assert mail.header("auto-submitted") == "auto-replied"
    assert all("\n" not in value and "\r" not in value for _name, value in mail.headers)


def test_header_count_and_size_capped() -> None:
    many = "\n".join(f"X-H{n}: v" for n in range(5000))
    mail = parse_message(msg(f"Subject: s\n{many}\nX-Long: {'a' * 20000}"))
    assert len(mail.headers) == 1000
    assert any("headers" in defect for defect in mail.defects)
    long_mail = parse_message(msg(f"X-Long: {'a' * 20000}"))
    assert len(long_mail.header("x-long") or "") == 8192


def test_decode_header_function() -> None:
    assert decode_header("=?utf-8?B?5pel5pys?=\r\n =?utf-8?B?6Kqe?=") == "日本語"


def test_date_parsed_and_bad_date_is_a_defect() -> None:
    good = parse_message(msg("Date: Sat, 21 Nov 2026 10:00:00 +0900"))
    assert good.date is not None and good.date.year == 2026 and good.date.utcoffset() is not None
    bad = parse_message(msg("Date: yesterday-ish"))
    assert bad.date is None
    assert "unparseable Date header" in bad.defects


# ---------------------------------------------------------------- bodies and charsets


RUSSIAN = "Здравствуйте! У нас не работает вход в систему после обновления. Пожалуйста, помогите."


@pytest.mark.parametrize(
    ("charset", "payload", "expected"),
    [
        (b"ISO-2022-JP", "こんにちは、障害です。".encode("iso2022_jp"), "こんにちは、障害です。"),
        (b"iso-2022-jp", b'\x1b$B-!-"\x1b(B', "①②"),
        (b"Shift_JIS", "①～髙".encode("cp932"), "①～髙"),
        (b"x-sjis", "テスト～".encode("cp932"), "テスト～"),
        (b"EUC-JP", "日本語の本文です".encode("euc_jp"), "日本語の本文です"),
        (b"utf-8", b"caf\xc3\xa9 \xff end", "café \ufffd end"),
        (b"x-unknown", RUSSIAN.encode("koi8_r"), RUSSIAN),
        (b"windows-1251", RUSSIAN.encode("cp1251"), RUSSIAN),
        (b"us-ascii", "naïve".encode(), "naïve"),
        (b"iso-8859-1", "Grüße".encode("cp1252"), "Grüße"),
        (b"base64", b"plain", "plain"),
        (
            b"ISO-2022-JP",
            "これは長い日本語の文章です。文字コードを間違えています。".encode("cp932"),
            "これは長い日本語の文章です。文字コードを間違えています。",
        ),
    ],
)
def test_body_charsets(charset: bytes, payload: bytes, expected: str) -> None:
    raw = (
        b"Content-Type: text/plain; charset="
        + charset
        + b"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + payload
    )
    assert parse_message(raw).text == expected


def test_base64_body_and_newlines_normalised() -> None:
    raw = msg(
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64", b64(b"a\r\nb\rc\n")
    )
    assert parse_message(raw).text == "a\nb\nc\n"


def test_cr_only_message() -> None:
    raw = b"Subject: cr only\rFrom: a@example.com\r\rline1\rline2\r"
    mail = parse_message(raw)
    assert mail.subject == "cr only"
    assert mail.from_addr == Address("a@example.com")
    assert mail.text == "line1\nline2\n"


def test_nul_bytes_removed_from_text() -> None:
    assert parse_message(msg("Subject: x", b"a\x00b\x07c")).text == "abc"


def test_html_only_is_converted() -> None:
    html = (
        b"<html><head><style>p{color:red}</style><script>alert(1)</script></head>"
        b"<body><p>Hello <b>there</b> <a href='http://x.example/'>docs</a></p>"
        b"<img src='cid:x'><p>1. step</p></body></html>"
    )
    mail = parse_message(msg("Content-Type: text/html; charset=utf-8", html))
    assert mail.text_from_html
    assert mail.text == "Hello there docs\n\n1. step"
    assert mail.html is not None and "<b>there</b>" in mail.html
    assert mail.content_type == "text/html"


def test_multipart_alternative_prefers_plain_and_keeps_html() -> None:
    body = (
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain text\r\n"
        b"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>html text</p>\r\n--b--\r\n"
    )
    mail = parse_message(msg('Content-Type: multipart/alternative; boundary="b"', body))
    assert mail.text == "plain text"
    assert not mail.text_from_html
    assert mail.html == "<p>html text</p>"
    assert mail.content_type == "multipart/alternative"


def test_empty_plain_part_falls_back_to_html() -> None:
    body = (
        b"--b\r\nContent-Type: text/plain\r\n\r\n\r\n"
        b"--b\r\nContent-Type: text/html\r\n\r\n<div>real text</div>\r\n--b--\r\n"
    )
    mail = parse_message(msg('Content-Type: multipart/alternative; boundary="b"', body))
    assert mail.text == "real text"
    assert mail.text_from_html


def test_missing_boundary_keeps_body_as_text() -> None:
    mail = parse_message(msg('Content-Type: multipart/mixed; boundary="nope"', b"just some words\r\n"))
    assert "just some words" in mail.text
    assert mail.defects


# ---------------------------------------------------------------- attachments


def _mixed(*parts: bytes) -> bytes:
    body = b"".join(b"--b\r\n" + part + b"\r\n" for part in parts) + b"--b--\r\n"
    return msg(
        'Content-Type: multipart/mixed; boundary="b"',
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee\r\n" + body,
    )


def test_attachment_decoded_once_with_metadata() -> None:
    data = bytes(range(256)) * 4
    raw = _mixed(
        b'Content-Type: application/pdf; name="r.pdf"\r\nContent-Disposition: attachment; '
        b'filename="report.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\nContent-ID: <logo@x>\r\n\r\n" + b64(data)
    )
    mail = parse_message(raw)
    assert mail.text.strip() == "see"
    (attachment,) = mail.attachments
    assert (attachment.filename, attachment.content_type, attachment.size) == (
        "report.pdf",
        "application/pdf",
        1024,
    )
    assert attachment.data == data
    assert attachment.content_id == "logo@x"
    assert attachment.dropped_reason is None


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        (b'filename="../../etc/passwd"', "passwd"),
        (b'filename="..\\\\..\\\\windows\\\\system32\\\\evil.dll"', "evil.dll"),
        (b'filename=".bashrc"', "bashrc"),
        (b'filename=".."', "attachment-1.bin"),
        (b'filename=""', "attachment-1.bin"),
        (b'filename="a\x01b\x7fc.txt"', "abc.txt"),
        (b"filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.txt", "日本語.txt"),
        (b"filename*0*=shift_jis''%83%65%83%58%83%67; filename*1=.txt", "テスト.txt"),
        (b"filename*=iso-2022-jp''%1B%24B%2D%21%1B%28B.txt", "①.txt"),
        (b'filename="=?UTF-8?B?5pel5pys6KqeLnBkZg==?="', "日本語.pdf"),
        (b'filename="=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=.doc"', "テスト.doc"),
        (b'filename="evil\xe2\x80\xaetxt.exe"', "eviltxt.exe"),
        (b'filename="' + b"x" * 300 + b'.pdf"', "x" * 196 + ".pdf"),
        (b'filename="a/b\r\n\tc.txt"', "b c.txt"),
    ],
)
def test_attachment_filenames_are_decoded_and_safe(param: bytes, expected: str) -> None:
    raw = _mixed(
        b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; " + param + b"\r\n\r\nxx"
    )
    (attachment,) = parse_message(raw).attachments
    assert attachment.filename == expected


def test_safe_filename_function() -> None:
    assert safe_filename("", 3) == "attachment-3.bin"
    assert safe_filename("C:\\Users\\me\\a<b>.txt", 1) == "a_b_.txt"
    assert safe_filename(" ... ", 2) == "attachment-2.bin"


def test_attachment_over_limit_is_dropped_with_reason() -> None:
    raw = _mixed(
        b'Content-Type: image/png\r\nContent-Disposition: attachment; filename="big.png"\r\n\r\n'
        + b"x" * 2000
    )
    (attachment,) = parse_message(raw, max_attachment_bytes=1000).attachments
    assert attachment.data is None
    assert attachment.size == 2000
    assert attachment.dropped_reason == "over the size limit of 1000 bytes"


def test_inline_image_forwarded_message_and_tnef_are_attachments() -> None:
    raw = _mixed(
        b'Content-Type: image/png; name="shot.png"\r\nContent-Disposition: inline\r\n\r\nPNG',
        b"Content-Type: message/rfc822\r\n\r\nSubject: Original problem\r\nMessage-ID: <o@x>\r\n\r\nold body",
        b"Content-Type: message/rfc822\r\n\r\nFrom: a@b.c\r\n\r\nno subject",
        b'Content-Type: application/ms-tnef; name="winmail.dat"\r\n\r\nTNEF',
        b"Content-Type: application/zip\r\n\r\nPK",
    )
    names = [(a.filename, a.content_type) for a in parse_message(raw).attachments]
    assert names == [
        ("shot.png", "image/png"),
        ("Original problem.eml", "message/rfc822"),
        ("forwarded.eml", "message/rfc822"),
        ("winmail.dat", "application/ms-tnef"),
        ("attachment-5.bin", "application/zip"),
    ]


def test_forwarded_message_bytes_are_kept() -> None:
    raw = _mixed(b"Content-Type: message/rfc822\r\n\r\nSubject: Fw\r\n\r\ninner body")
    (attachment,) = parse_message(raw).attachments
    assert attachment.data is not None and b"inner body" in attachment.data


def test_text_attachment_with_filename_is_not_body() -> None:
    raw = _mixed(b'Content-Type: text/plain; name="log.txt"\r\n\r\nERROR line')
    mail = parse_message(raw)
    assert "ERROR" not in mail.text
    assert mail.attachments[0].filename == "log.txt"


# ---------------------------------------------------------------- structure limits


def _nested(depth: int) -> bytes:
    head = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (n, n) for n in range(depth)
    )
    tail = b"".join(b"\r\n--b%d--" % n for n in reversed(range(depth)))
    return b"Subject: deep\r\n" + head + b"Content-Type: text/plain\r\n\r\nleaf" + tail + b"\r\n"


def test_nesting_beyond_limit_is_a_defect() -> None:
    mail = parse_message(_nested(60))
    assert mail.subject == "deep"
    assert any("nesting" in defect for defect in mail.defects)


def test_nesting_of_a_thousand_levels_does_not_raise() -> None:
    mail = parse_message(_nested(1000))
    assert mail.subject == "deep"
    assert mail.defects


def test_part_count_is_capped() -> None:
    parts = [b'Content-Type: application/octet-stream; name="f%d"\r\n\r\nx' % n for n in range(1100)]
    mail = parse_message(_mixed(*parts))
    assert len(mail.attachments) < 1000
    assert any("MIME parts" in defect for defect in mail.defects)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff" * 100,
        b"Subject",
        b"\r\n\r\n",
        b"From: <<<@@@>>>\r\n\r\n",
        b"Content-Type: multipart/mixed\r\n\r\n",
    ],
)
def test_garbage_never_raises(raw: bytes) -> None:
    mail = parse_message(raw)
    assert mail.message_id
    assert mail.raw_size == len(raw)


def test_bom_before_headers_is_ignored() -> None:
    mail = parse_message(b"\xef\xbb\xbf" + msg("Subject: with bom\nFrom: a@example.com"))
    assert mail.subject == "with bom"


# ---------------------------------------------------------------- delivery reports


DSN = msg(
    "From: MAILER-DAEMON@example.net\nContent-Type: multipart/report; report-type=delivery-status; "
    'boundary="r"',
    b"--r\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
    b"--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
    b"Final-Recipient: rfc822; Gone@Example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
    b"Final-Recipient: rfc822; later@example.com\r\nAction: delayed\r\nStatus: 4.0.0\r\n"
    b"--r\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <notif-1@maild.example>\r\nSubject: x\r\n"
    b"--r--\r\n",
)


def test_dsn_fields() -> None:
    mail = parse_message(DSN)
    assert mail.report_type == "delivery-status"
    assert mail.report_failed_recipients == ("gone@example.com",)
    assert mail.report_original_message_ids == ("<notif-1@maild.example>",)
    assert mail.text.strip() == "Delivery failed."
    assert mail.attachments == ()


def test_dsn_with_returned_message() -> None:
    raw = DSN.replace(
        b"Content-Type: text/rfc822-headers\r\n\r\nMessage-ID: <notif-1@maild.example>\r\nSubject: x\r\n",
        b"Content-Type: message/rfc822\r\n\r\nMessage-ID: <notif-2@maild.example>\r\nSubject: Case\r\n"
        b"\r\nbody\r\n",
    )
    mail = parse_message(raw)
    assert mail.report_original_message_ids == ("<notif-2@maild.example>",)
    assert [a.filename for a in mail.attachments] == ["Case.eml"]


def test_read_receipt_gives_original_message_id() -> None:
    raw = msg(
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="r"',
        b"--r\r\nContent-Type: text/plain\r\n\r\nRead.\r\n"
        b"--r\r\nContent-Type: message/disposition-notification\r\n\r\n"
        b"Original-Message-ID: <n@maild.example>\r\nDisposition: manual-action/MDN-sent-manually; "
        b"displayed\r\n"
        b"--r--\r\n",
    )
    mail = parse_message(raw)
    assert mail.report_type == "disposition-notification"
    assert mail.report_original_message_ids == ("<n@maild.example>",)


def test_plain_message_has_no_report_fields() -> None:
    mail = parse_message(msg("Subject: hi"))
    assert mail.report_type is None
    assert mail.report_failed_recipients == ()


def _with_attachments(*payloads: bytes) -> bytes:
    from email import policy as email_policy
    from email.message import EmailMessage

    m = EmailMessage()
    m["From"] = "alice@acme.example"
    m["To"] = "support@example.com"
    m["Subject"] = "files"
    m["Message-ID"] = "<files@acme.example>"
    m.set_content("See attached.")
    for i, data in enumerate(payloads):
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=f"f{i}.bin")
    return m.as_bytes(policy=email_policy.SMTP)


@pytest.mark.parametrize("size", [2 * 1024 * 1024, 2 * 1024 * 1024 + 1, 2 * 1024 * 1024 + 2, 3_000_001])
def test_attachment_over_the_limit_is_dropped_with_its_exact_size_without_decoding(size: int) -> None:
    import os

    big, small = os.urandom(size), os.urandom(5000)
    mail = parse_message(_with_attachments(big, small), max_attachment_bytes=1024 * 1024)
    dropped, kept = mail.attachments
    assert (dropped.size, dropped.data, dropped.filename) == (size, None, "f0.bin")
    assert dropped.dropped_reason and "size limit" in dropped.dropped_reason
    assert kept.data == small and kept.size == 5000
    assert mail.text.strip() == "See attached."


def test_attachment_under_the_limit_is_kept_byte_for_byte_even_in_a_big_message() -> None:
    import os

    data = os.urandom(3 * 1024 * 1024)
    (kept,) = parse_message(_with_attachments(data), max_attachment_bytes=4 * 1024 * 1024).attachments
    assert kept.data == data and kept.dropped_reason is None


def test_kept_attachment_is_decoded_without_the_stdlib_parsers_copies() -> None:
    """A kept base64 body costs its decoded size, not the ~8x the email package needed."""
    import os
    import tracemalloc

    data = os.urandom(8 * 1024 * 1024)
    raw = _with_attachments(data)
    tracemalloc.start()
    try:
        mail = parse_message(raw, max_attachment_bytes=25 * 1024 * 1024)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (kept,) = mail.attachments
    assert kept.data == data and kept.size == len(data) and kept.dropped_reason is None
    assert mail.text.strip() == "See attached."
    assert peak < len(data) + 6 * 1024 * 1024, f"parsing held {peak / len(data):.1f}x the attachment"


def _lines(data: bytes, width: int, end: bytes = b"\r\n") -> bytes:
    text = base64.b64encode(data)
    return b"".join(text[i : i + width] + end for i in range(0, len(text), width))


_MIXED = (
    b"From: a@acme.example\r\nTo: s@example.com\r\nSubject: x\r\nMessage-ID: <x@acme.example>\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n"
    b"--BB\r\nContent-Type: text/plain\r\n\r\nhello\r\n--BB\r\n"
    b"Content-Type: application/octet-stream; name=a.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"
)
_BIG = bytes(range(256)) * 4100 + b"tail"  # > 1 MiB, length not a multiple of 3
_TEXT = ("Grüße aus der Nachtschicht, der Export hängt.\n" * 25000).encode("utf-8")


def _forwarded() -> bytes:
    inner = _with_attachments(_BIG)
    return (
        b"From: a@acme.example\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=FF\r\n\r\n--FF\r\nContent-Type: text/plain\r\n\r\nsee\r\n"
        b"--FF\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--FF--\r\n"
    )


_CUT_CASES = {
    "76-column lines": _MIXED + _lines(_BIG, 76) + b"--BB--\r\n",
    "77-column lines": _MIXED + _lines(_BIG, 77) + b"--BB--\r\n",
    "bare LF": (_MIXED + _lines(_BIG, 76) + b"--BB--\r\n").replace(b"\r\n", b"\n"),
    "padding missing": _MIXED + _lines(_BIG, 76).replace(b"=", b"") + b"--BB--\r\n",
    "blank lines after": _MIXED + _lines(_BIG, 76) + b"\r\n\r\n--BB--\r\n",
    "junk after": _MIXED + _lines(_BIG, 76) + b"!junk!\r\n--BB--\r\n",
    "junk before": _MIXED + b"#junk\r\n" + _lines(_BIG, 76) + b"--BB--\r\n",
    "no closing boundary": _MIXED + _lines(_BIG, 76),
    "last line unterminated": _MIXED + _lines(_BIG, 76)[:-2],
    "encoding in capitals": _MIXED.replace(b"base64", b"BASE64") + _lines(_BIG, 76) + b"--BB--\r\n",
    "encoding with a trailing space": _MIXED.replace(b"base64\r\n", b"base64 \r\n") + _lines(_BIG, 76),
    "not base64 at all": _MIXED.replace(b"Content-Transfer-Encoding: base64\r\n", b"") + _lines(_BIG, 76),
    "quoted-printable": _MIXED.replace(b"base64", b"quoted-printable") + _lines(_BIG, 76),
    "base64 text body": b"From: a@acme.example\r\nSubject: t\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n" + _lines(_TEXT, 76),
    "base64 text body and a signature": b"From: a@acme.example\r\nSubject: t\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + _lines(_TEXT, 76)
    + b"-- \r\nAlice\r\n",
    "7bit text of long alphanumeric lines": b"From: a@acme.example\r\nSubject: t\r\n\r\n" + _lines(_BIG, 76),
    "single-part base64 message": b"From: a@acme.example\r\nSubject: s\r\nContent-Type: application/pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n" + _lines(_BIG, 76),
    "forwarded message with a big attachment": _forwarded(),
    "header folded over a megabyte": b"From: a@acme.example\r\nX-Big: start\r\n "
    + _lines(_BIG, 76)
    + b"\r\nbody\r\n",
}


@pytest.mark.parametrize("name", sorted(_CUT_CASES))
def test_decoding_big_base64_bodies_ourselves_gives_what_the_stdlib_gives(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large base64 runs are cut out before the stdlib parse; the result must not show it."""
    from maild.inbound import bodybytes

    raw = _CUT_CASES[name]
    ours = parse_message(raw)
    monkeypatch.setattr(bodybytes, "_CUT_BELOW", 1 << 62)  # nothing is cut: the stdlib does it all
    assert ours == parse_message(raw)
