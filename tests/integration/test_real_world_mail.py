"""Real-world and hostile mail through the whole pipeline: real Dovecot in, `maild run --once`, real SMTP out.

The corpus (../shared/corpus, see its README) is third-party mail read in
place, never copied or edited; tests that need it skip without it, and fail
in CI (CI=true). The hostile and Japanese messages are built here, byte by
byte, because what they test is exactly the bytes.

Everything is observed through the public interface only: `inbound list
--json`, `case show --json`, `case list --json`, and what the SMTP sink got.
"""

from __future__ import annotations

import base64
import random
import re
from collections import Counter
from collections.abc import Iterable
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import compat32
from pathlib import Path
from typing import Any

import pytest

from maild.inbound.parse import parse_message
from tests.fixtures.ci import in_ci
from tests.integration.env import (
    ALICE,
    MALLORY,
    SUPPORT,
    YAMADA,
    MaildEnv,
    message,
    reply_address_of,
)
from tests.unit.test_message import NOTIFICATION_HEADERS

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
BATCH = 40

# Plain bodies and HTML fragments (corpus README): not RFC 5322 messages.
_NOT_MESSAGES = ("discourse-trimmer-", "crisp-erp-", "github-erp-", "zapier-erp-")
# In auto/ on purpose as a negative sample: sisimai's "this is NOT a bounce"
# (a person forwarding a message as an attachment). It is ordinary mail.
NOT_AUTOMATIC = {"sisimai-not-is-not-bounce-02.eml"}

# A sender with a non-ASCII local part: no reply can be written to it without SMTPUTF8.
UTF8_SENDER_FILE = "charsets/rubymail-utf8_headers.eml"


# ------------------------------------------------------------------ helpers


def corpus() -> Path:
    if CORPUS.is_dir():
        return CORPUS
    if in_ci():
        pytest.fail(f"the real-world corpus is missing at {CORPUS} (CI=true: required)", pytrace=False)
    pytest.skip(f"the real-world corpus is not at {CORPUS}")


def is_full_message(path: Path) -> bool:
    name = path.name
    if name.endswith(".expected.txt") or name.startswith(_NOT_MESSAGES):
        return False
    return not (name.startswith("talon-html_replies-") and name.endswith(".html"))


def corpus_messages(folder: str | None = None) -> list[Path]:
    root = corpus()
    base = root / folder if folder else root
    files = [p for p in sorted(base.rglob("*")) if p.is_file() and p.parent != root and is_full_message(p)]
    assert files, f"no corpus messages under {base}"
    return files


def append_batches(imap: Any, raws: list[bytes]) -> list[int]:
    """APPEND in batches; the UIDs in order (records name their message by UIDVALIDITY:UID)."""
    uids: list[int] = []
    for start in range(0, len(raws), BATCH):
        uids += imap.append_many(raws[start : start + BATCH])
    assert imap.count() == len(raws), "Dovecot did not store every appended message"
    return uids


def inbound(env: MaildEnv) -> list[dict[str, Any]]:
    return env.ok("inbound", "list", "--json", "--limit", "1000").json()  # type: ignore[no-any-return]


def pass_and_records(env: MaildEnv, imap: Any, raws: list[bytes]) -> list[dict[str, Any]]:
    """Append, one `run --once` (exit 0), every record has an outcome; the records in order of `raws`.

    A message without a record (deduplicated by Message-ID) is missing from the list.
    """
    uids = append_batches(imap, raws)
    result = env.run_once()
    assert result.code == 0, result.err
    records = inbound(env)
    assert all(r["outcome"] for r in records), [r for r in records if not r["outcome"]]
    by_uid = {int(r["key"].rsplit(":", 1)[1]): r for r in records}
    assert len(by_uid) == len(records)
    return [by_uid[uid] for uid in uids if uid in by_uid]


def quarantined(records: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["subject"] or r["key"], r["reason"]) for r in records if r["outcome"] == "quarantined"]


def header_names(raw: bytes) -> list[str]:
    """Top-level header field names exactly as a receiver sees them (compat32 keeps everything)."""
    msg = message_from_bytes(raw, policy=compat32)
    return [k.lower() for k in msg]


def assert_only_template_headers(sink_messages: list[Any]) -> None:
    for m in sink_messages:
        names = header_names(m.raw)
        counts = Counter(names)
        assert "bcc" not in counts, names
        for one in ("subject", "to", "from"):
            assert counts[one] == 1, f"{one} appears {counts[one]} times: {names}"
        extra = set(names) - NOTIFICATION_HEADERS
        assert not extra, f"headers the template did not set: {extra}"
        assert all(MALLORY not in r.lower() and "evil" not in r.lower() for r in m.rcpt_tos), m.rcpt_tos


def rewrite_from(raw: bytes, new_from: bytes) -> bytes:
    """Replace the From field (with its continuation lines) in the header block; keep every other byte."""
    bom = b"\xef\xbb\xbf" if raw.startswith(b"\xef\xbb\xbf") else b""
    raw = raw[len(bom) :]
    head_end = re.search(rb"\r?\n\r?\n|\r\r", raw)
    head = raw[: head_end.start()] if head_end else raw
    rest = raw[len(head) :]
    nl = b"\r\n" if b"\r\n" in head else (b"\n" if b"\n" in head else b"\r")
    pattern = re.compile(rb"(?im)^from:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*")
    if pattern.search(head):
        head = pattern.sub(lambda _m: b"From: " + new_from, head, count=1)
    else:
        head = b"From: " + new_from + nl + head
    return bom + head + rest


def case_of(env: MaildEnv, record: dict[str, Any]) -> dict[str, Any]:
    assert record["outcome"] == "case_opened", record
    return env.case(record["case"])


# ------------------------------------------------------------------ the corpus, all of it


def test_every_corpus_message_is_recorded_and_none_quarantined(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    files = corpus_messages()
    raws = [p.read_bytes() for p in files]
    ids = {parse_message(raw).message_id for raw in raws}
    records = pass_and_records(env, imap_box, raws)

    outcomes = Counter(r["outcome"] for r in records)
    print(f"\n{len(files)} corpus messages, {len(ids)} distinct Message-IDs; outcomes {dict(outcomes)}")
    # Every appended message has a record: copies of one message as "duplicate",
    # each distinct one processed once (SPEC §6).
    assert len(records) == len(raws)
    processed = [r for r in records if r["outcome"] != "duplicate"]
    assert len(processed) >= len(ids)
    assert quarantined(records) == [], "real-world mail must never be quarantined"
    assert_only_template_headers(smtp_sink.messages())


def test_distinct_corpus_messages_sharing_a_message_id_are_each_recorded(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    by_id: dict[str, list[bytes]] = {}
    for p in corpus_messages():
        raw = p.read_bytes()
        by_id.setdefault(parse_message(raw).message_id, []).append(raw)
    raws = [raw for group in by_id.values() if len({*group}) > 1 for raw in group]
    assert len(raws) >= 2, "the corpus no longer has distinct messages sharing a Message-ID"
    records = pass_and_records(env, imap_box, raws)
    assert len(records) == len(raws), f"{len(raws) - len(records)} appended message(s) have no record"


def test_mail_from_a_non_ascii_address_is_recorded_not_quarantined(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    raw = (corpus() / UTF8_SENDER_FILE).read_bytes()
    records = pass_and_records(env, imap_box, [raw])
    assert [r["outcome"] for r in records] == ["helpdesk"], records


def test_mail_from_an_address_with_a_trailing_dot_is_recorded_not_quarantined(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    """Found by bench/fuzz.py on a mutated html/roundcube sample: parse accepts `thomas@roundcube.`,
    compose's address check lets the stdlib raise HeaderParseError (not the documented ValueError)."""
    raw = message("thomas@roundcube.", "Attachment filename encoding", "Hello", name="Thomas B.")
    (record,) = pass_and_records(env, imap_box, [raw])
    assert record["outcome"] == "helpdesk", record


def test_designated_contact_ccing_a_non_ascii_address_still_opens_a_case(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    raw = rewrite_from((corpus() / UTF8_SENDER_FILE).read_bytes(), b"Alice Example <alice@acme.example>")
    records = pass_and_records(env, imap_box, [raw])
    assert [r["outcome"] for r in records] == ["case_opened"], records
    assert [m for m in smtp_sink.messages() if ALICE in m.rcpt_tos], "alice got no acknowledgement"


# ------------------------------------------------------------------ automatic mail


def _auto_raws(from_header: bytes | None) -> tuple[list[str], list[bytes]]:
    """auto/ without the negative sample and without repeats of a Message-ID (those are deduplicated)."""
    files: list[Path] = []
    seen: set[str] = set()
    for p in corpus_messages("auto"):
        mid = parse_message(p.read_bytes()).message_id
        if p.name not in NOT_AUTOMATIC and mid not in seen:
            seen.add(mid)
            files.append(p)
    raws = [p.read_bytes() for p in files]
    if from_header is not None:
        raws = [rewrite_from(raw, from_header) for raw in raws]
    return [p.name for p in files], raws


def _assert_all_ignored_and_silent(
    env: MaildEnv, imap: Any, sink: Any, names: list[str], raws: list[bytes]
) -> None:
    records = pass_and_records(env, imap, raws)
    assert len(records) == len(raws), "an automatic message has no record"
    got = zip(names, records, strict=True)
    answered = [(name, r["outcome"], r["reason"]) for name, r in got if r["outcome"] != "ignored"]
    assert answered == [], f"automatic mail not ignored: {answered}"
    env.run_once()  # a second pass dispatches anything queued late
    assert sink.messages() == [], [(m.rcpt_tos, m.msg["Subject"]) for m in sink.messages()]
    assert env.cases() == []


def test_auto_mail_causes_no_outbound_mail(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    names, raws = _auto_raws(None)
    _assert_all_ignored_and_silent(env, imap_box, smtp_sink, names, raws)


def test_auto_mail_from_a_designated_contact_causes_no_outbound_mail(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    names, raws = _auto_raws(b"Alice Example <alice@acme.example>")
    assert all(parse_message(raw).from_addr.email == ALICE for raw in raws)  # type: ignore[union-attr]
    _assert_all_ignored_and_silent(env, imap_box, smtp_sink, names, raws)


def test_the_not_a_bounce_sample_is_ordinary_mail(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    """The negative sample in auto/ must not be swallowed as automatic when a designated contact sends it."""
    (path,) = [p for p in corpus_messages("auto") if p.name in NOT_AUTOMATIC]
    raw = rewrite_from(path.read_bytes(), b"alice@acme.example")
    records = pass_and_records(env, imap_box, [raw])
    assert [r["outcome"] for r in records] == ["case_opened"]
    case = env.case(records[0]["case"])
    assert "shouldn't be considered as bounce" in case["description"]
    assert any(a["filename"] == "original.eml" for a in case["attachments"])


# ------------------------------------------------------------------ hostile input


def _nested_multipart(depth: int) -> bytes:
    head = (
        f"From: Alice Example <{ALICE}>\r\nTo: {SUPPORT}\r\nSubject: Deeply nested\r\n"
        "Message-ID: <nested-1000@acme.example>\r\nMIME-Version: 1.0\r\n"
    ).encode()
    parts = [b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n']
    for i in range(1, depth):
        parts.append(f'--b{i - 1}\r\nContent-Type: multipart/mixed; boundary="b{i}"\r\n\r\n'.encode())
    parts.append(f"--b{depth - 1}\r\nContent-Type: text/plain\r\n\r\nThe innermost text.\r\n".encode())
    for i in reversed(range(depth)):
        parts.append(f"--b{i}--\r\n".encode())
    return head + b"".join(parts)


def _hostile() -> dict[str, bytes]:
    rng = random.Random(20261121)
    truncated = message(
        ALICE,
        "Truncated upload",
        "See the attached dump.",
        message_id="<truncated@acme.example>",
        attachments=[("dump.bin", rng.randbytes(20000), "application/octet-stream")],
    )
    many_headers = (
        (
            f"From: Alice Example <{ALICE}>\r\nTo: {SUPPORT}\r\nSubject: Many headers\r\n"
            "Message-ID: <many-headers@acme.example>\r\n"
        ).encode()
        + b"".join(b"X-Filler-%d: %d\r\n" % (i, i) for i in range(100_000))
        + (b"\r\nBody after a hundred thousand headers.\r\n")
    )
    cr_only = (
        f"From: Alice Example <{ALICE}>\rTo: {SUPPORT}\rSubject: CR only line ends\r"
        "Message-ID: <cr-only@acme.example>\rContent-Type: text/plain; charset=us-ascii\r\r"
        "First line.\rSecond line.\r"
    ).encode()
    injection = (
        f"From: =?utf-8?q?Alice=0D=0ABcc=3A_{MALLORY.replace('@', '=40')}?= <{ALICE}>\r\nTo: {SUPPORT}\r\n"
        f"Subject: =?utf-8?q?Printer_down=0D=0ABcc:_{MALLORY}=0D=0AX-Injected:_yes?=\r\n"
        "Message-ID: <injection@acme.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "The printer is down.\r\n"
    ).encode()
    return {
        "random": rng.randbytes(8192),
        "truncated": truncated[: len(truncated) * 2 // 3],
        "nested": _nested_multipart(1000),
        "many_headers": many_headers,
        "cr_only": cr_only,
        "injection": injection,
    }


def test_hostile_input_is_recorded_and_never_injects_headers(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    hostile = _hostile()
    raws = list(hostile.values())
    records = pass_and_records(env, imap_box, raws)
    assert len(records) == len(raws), [r["subject"] for r in records]
    assert quarantined(records) == []
    record = dict(zip(hostile, records, strict=True))
    outcome = {name: r["outcome"] for name, r in record.items()}
    # Everything that names alice as its sender opened a case.
    for name in ("truncated", "nested", "many_headers", "cr_only", "injection"):
        assert outcome[name] == "case_opened", (name, outcome)

    sent = smtp_sink.messages()
    assert sent, "the cases opened by alice sent no acknowledgement"
    assert_only_template_headers(sent)
    for m in sent:
        assert "\n" not in str(m.msg["Subject"]).replace("\r\n ", " "), m.msg["Subject"]
        assert "x-injected" not in header_names(m.raw)

    injected = case_of(env, record["injection"])
    assert "\n" not in injected["subject"] and "\r" not in injected["subject"]
    assert injected["subject"].startswith("Printer down")
    nested = case_of(env, record["nested"])
    assert nested["subject"] == "Deeply nested"
    cr = case_of(env, record["cr_only"])
    assert cr["subject"] == "CR only line ends"
    assert "First line." in cr["description"] and "Second line." in cr["description"]


def test_message_id_with_encoded_crlf_opens_a_case_without_injecting(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    """Found by bench/fuzz.py: the id is copied into the acknowledgement's In-Reply-To/References,
    where the email package decodes the encoded word into a line break. compose's last check
    stops the Bcc, but the message (here: a designated contact's new case) is then quarantined."""
    raw = (
        f"From: Alice Example <{ALICE}>\r\nTo: {SUPPORT}\r\nSubject: Printer down\r\n"
        f"Message-ID: <a=?utf-8?q?x=0D=0ABcc:_{MALLORY}?=@acme.example>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nThe printer is down.\r\n"
    ).encode()
    (record,) = pass_and_records(env, imap_box, [raw])
    sent = smtp_sink.messages()
    assert_only_template_headers(sent)
    assert record["outcome"] == "case_opened", record
    assert [m for m in sent if ALICE in m.rcpt_tos]


# ------------------------------------------------------------------ Japanese


def _ja_message(subject_word: str, body: bytes, charset: str, message_id: str, cte: str = "7bit") -> bytes:
    return (
        f"From: =?UTF-8?B?{base64.b64encode('山田 太郎'.encode()).decode()}?= <{YAMADA}>\r\n"
        f"To: {SUPPORT}\r\nSubject: {subject_word}\r\nMessage-ID: {message_id}\r\n"
        "Date: Sat, 21 Nov 2026 10:00:00 +0900\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n"
    ).encode() + body


def _word(text: str, codec: str, label: str) -> str:
    return f"=?{label}?B?{base64.b64encode(text.encode(codec)).decode()}?="


JA_CASES: dict[str, tuple[str, str]] = {
    # name: (subject, description)
    "iso-2022-jp": (
        "ログイン画面でエラーが発生します",
        "本日9時からログインできません。\nよろしくお願いいたします。",
    ),
    # NEC row 13 (①, ㈱, Ⅱ), IBM extensions (髙, 﨑) and ～ (0x8160, U+FF5E in CP932)
    "cp932": (
        "①サーバー停止～復旧手順について",
        "①再起動～復旧まで30分かかりました。\n㈱髙橋商事の﨑山様より報告、Ⅱ系統も停止。",
    ),
    "euc-jp": ("請求書の金額が違います", "十一月分の請求書の金額が契約と異なります。"),
}


def _ja_raws() -> dict[str, bytes]:
    raws: dict[str, bytes] = {}
    s, d = JA_CASES["iso-2022-jp"]
    raws["iso-2022-jp"] = _ja_message(
        _word(s, "iso-2022-jp", "ISO-2022-JP"),
        d.replace("\n", "\r\n").encode("iso-2022-jp") + b"\r\n",
        "ISO-2022-JP",
        "<ja-jis@acme.example>",
    )
    s, d = JA_CASES["cp932"]
    raws["cp932"] = _ja_message(
        _word(s, "cp932", "Shift_JIS"),
        d.replace("\n", "\r\n").encode("cp932") + b"\r\n",
        "Shift_JIS",
        "<ja-cp932@acme.example>",
        cte="8bit",
    )
    s, d = JA_CASES["euc-jp"]
    raws["euc-jp"] = _ja_message(
        _word(s, "euc-jp", "EUC-JP"),
        d.encode("euc-jp") + b"\r\n",
        "EUC-JP",
        "<ja-euc@acme.example>",
        cte="8bit",
    )
    raws["utf-8-bad"] = _ja_message(
        _word("文字化けのテスト", "utf-8", "UTF-8"),
        "管理画面が表示されません。".encode() + b"\xff" + "至急ご確認ください。".encode() + b"\r\n",
        "UTF-8",
        "<ja-utf8-bad@acme.example>",
        cte="8bit",
    )
    return raws


def test_japanese_mail_opens_cases_that_read_correctly(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    raws = _ja_raws()
    records = pass_and_records(env, imap_box, list(raws.values()))
    assert len(records) == len(raws) and quarantined(records) == []
    record = dict(zip(raws, records, strict=True))
    for name, (subject, description) in JA_CASES.items():
        case = case_of(env, record[name])
        assert case["subject"] == subject, name
        assert case["description"].strip() == description, name
    bad = case_of(env, record["utf-8-bad"])
    assert bad["subject"] == "文字化けのテスト"
    assert "管理画面が表示されません。" in bad["description"]
    assert "至急ご確認ください。" in bad["description"]
    acks = [m for m in smtp_sink.messages() if YAMADA in m.rcpt_tos]
    assert len(acks) == len(raws), "yamada gets one acknowledgement per case"


def _yamada_ack(env: MaildEnv, imap: Any, sink: Any) -> tuple[str, EmailMessage]:
    body = "帳票の出力ボタンを押すとエラーになります。"
    imap.append(message(YAMADA, "帳票が出力できません", body, name="山田 太郎"))
    env.run_once()
    (case,) = env.cases()
    (ack,) = [m.msg for m in sink.messages() if YAMADA in m.rcpt_tos]
    sink.clear()
    return case["number"], ack


JA_NEW_TEXT = "ご対応ありがとうございます。\n再起動後、正常に出力できました。"


def _ja_reply(ack: EmailMessage, body: str) -> bytes:
    return message(
        YAMADA,
        f"Re: {ack['Subject']}",
        body,
        name="山田 太郎",
        to=reply_address_of(ack),
        in_reply_to=str(ack["Message-ID"]),
        references=str(ack["Message-ID"]),
        charset="iso-2022-jp",
    )


@pytest.mark.parametrize(
    "quoted",
    [
        pytest.param(
            "2026年11月21日(土) 10:00 Example Support <support@example.com>:\n"
            "> 山田 太郎 様\n> ケース 00000001 を受け付けました。\n",
            id="gmail-ja-attribution",
        ),
        pytest.param(
            "\n差出人: Example Support <support@example.com>\n"
            "送信日時: 2026年11月21日 10:00\n宛先: 山田 太郎 <yamada@acme.example>\n"
            "件名: [Case #00000001] 帳票が出力できません\n\n"
            "山田 太郎 様\nケース 00000001 を受け付けました。\n",
            id="outlook-ja-header-block",
        ),
    ],
)
def test_japanese_quoted_reply_becomes_a_clean_comment(
    env: MaildEnv, imap_box: Any, smtp_sink: Any, quoted: str
) -> None:
    number, ack = _yamada_ack(env, imap_box, smtp_sink)
    imap_box.append(_ja_reply(ack, JA_NEW_TEXT + "\n\n" + quoted))
    env.run_once()
    comments = env.case(number)["comments"]
    assert len(comments) == 1, comments
    assert comments[0]["author"] == YAMADA
    assert comments[0]["body"].strip() == JA_NEW_TEXT


# ------------------------------------------------------------------ HTML only, huge attachment


def test_html_only_message_opens_case_with_readable_description(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    html = (
        "<html><head><style>p { color: red; }</style><script>alert('x')</script></head><body>"
        "<p>The <b>export</b> job fails every night.</p><table><tr><td>Job</td><td>nightly-export</td></tr>"
        "</table><p>Error:&nbsp;<code>ETIMEDOUT</code> &amp; retry exhausted</p></body></html>"
    )
    m = EmailMessage()
    m["From"] = f"Alice Example <{ALICE}>"
    m["To"] = SUPPORT
    m["Subject"] = "Nightly export fails"
    m["Message-ID"] = "<html-only@acme.example>"
    m.set_content(html, subtype="html")
    raw = m.as_bytes()
    (record,) = pass_and_records(env, imap_box, [raw])
    text = case_of(env, record)["description"]
    assert "export" in text and "job fails every night." in text
    assert re.search(r"ETIMEDOUT\W* & retry exhausted", text.replace("\xa0", " ")), text
    assert "nightly-export" in text
    assert not re.search(r"<\s*/?\s*[a-zA-Z][^>]*>", text), text
    assert "alert(" not in text and "color: red" not in text


def test_attachment_over_the_limit_is_dropped_and_listed(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    big = b"A" * (30 * 1024 * 1024)
    raw = message(
        ALICE,
        "Heap dump attached",
        "The heap dump from this morning is attached.",
        attachments=[("heap.hprof", big, "application/octet-stream"), ("note.txt", b"small", "text/plain")],
    )
    del big
    (record,) = pass_and_records(env, imap_box, [raw])
    case = case_of(env, record)
    by_name = {a["filename"]: a for a in case["attachments"]}
    assert set(by_name) == {"heap.hprof", "note.txt"}, case["attachments"]
    assert by_name["heap.hprof"]["size"] == 30 * 1024 * 1024
    assert by_name["heap.hprof"].get("dropped"), by_name["heap.hprof"]
    assert "size limit" in by_name["heap.hprof"]["dropped"]
    assert "dropped" not in by_name["note.txt"]
    assert [m for m in smtp_sink.messages() if ALICE in m.rcpt_tos], "alice got no acknowledgement"
