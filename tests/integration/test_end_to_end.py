"""maild end to end: real Dovecot in, real SMTP out, through the command line only."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import datetime
from email.header import Header
from typing import Any

import pytest

from tests.integration.env import (
    AGENT,
    ALICE,
    BOB,
    DAVE,
    HELPDESK,
    MALLORY,
    MANAGERS,
    OPS,
    SUPPORT,
    YAMADA,
    MaildEnv,
    message,
    reply_address_of,
    reply_to_note,
    text_of,
)

TAG = re.compile(r"\[Case #(\d{8})\]")
TOKEN_ADDRESS = re.compile(r"^support\+[a-z0-9-]+@example\.com$")
REPLY = "We restarted the application server at 10:05 and the error is gone for us."


def parse_time(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value[:-1] + "+00:00")


def by_rcpt(msgs: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for m in msgs:
        for r in m.rcpt_tos:
            out.setdefault(r.lower(), []).append(m)
    return out


def open_case(
    env: MaildEnv,
    imap: Any,
    sink: Any,
    sender: str = ALICE,
    subject: str = "Login page returns 500",
    body: str = "Since 09:00 the login page returns HTTP 500 for every user.\n\nRegards,\nAlice\n",
    cc: tuple[str, ...] = (BOB, OPS),
    **kw: Any,
) -> tuple[str, dict[str, Any]]:
    before = {c["number"] for c in env.cases()}
    sink.clear()
    imap.append(message(sender, subject, body, cc=cc, **kw))
    env.run_once()
    new = {c["number"] for c in env.cases()} - before
    assert len(new) == 1, f"expected one new case, got {new}"
    number = new.pop()
    return number, by_rcpt(sink.messages())


# ------------------------------------------------------------------ opening cases


def test_designated_contact_opens_case_and_everyone_gets_own_acknowledgement(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    body = (
        "Since 09:00 the login page returns HTTP 500 for every user.\n\n"
        "Business impact: nobody can order\nUsers affected: 300\nOrg ID: 00D000000000ACME\n"
    )
    number, acks = open_case(
        env, imap_box, smtp_sink, subject="Re: [Sev 2] Login page returns 500", body=body
    )
    case = env.case(number)
    assert re.fullmatch(r"\d{8}", case["number"])
    assert case["subject"] == "Login page returns 500"
    assert case["severity"] == 2 and case["status"] == "new"
    assert case["account"] == "Acme" and case["primary_contact"] == ALICE
    assert sorted(case["collaborators"]) == sorted([BOB, OPS])
    assert "returns HTTP 500 for every user" in case["description"]
    assert case["fields"] == {
        "business_impact": "nobody can order",
        "users_affected": "300",
        "org_id": "00D000000000ACME",
    }
    due = parse_time(case["first_response_due_at"]) - parse_time(case["created_at"])
    assert abs(due.total_seconds() - 2 * 3600) <= 2
    assert case["first_responded_at"] is None and case["escalations"] == [] and case["comments"] == []

    assert set(acks) == {ALICE, BOB, OPS}
    notes = [acks[r][0].msg for r in (ALICE, BOB, OPS)]
    assert all(len(acks[r]) == 1 for r in acks)
    reply_tos = [reply_address_of(n) for n in notes]
    assert all(TOKEN_ADDRESS.match(a) for a in reply_tos) and len(set(reply_tos)) == 3
    assert len({str(n["Message-ID"]) for n in notes}) == 3
    for rcpt, note in zip((ALICE, BOB, OPS), notes, strict=True):
        assert f"[Case #{number}]" in str(note["Subject"])
        assert str(note["Auto-Submitted"]).startswith("auto-generated")
        assert rcpt in str(note["To"]).lower()
        assert number in text_of(note)
        assert "nobody can order" in text_of(note), "intake fields are shown"
        assert note.get_body(preferencelist=("html",)) is not None


def test_non_designated_sender_gets_one_helpdesk_reply_and_no_case(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    imap_box.append_many(
        [
            message(BOB, "Reset my password", "I cannot log in."),
            message(BOB, "Reset my password again", "Still cannot."),
            message("stranger@else.example", "Hello", "Who are you?"),
        ]
    )
    env.run_once()
    assert env.cases() == []
    to_bob = [m for m in smtp_sink.messages() if BOB in m.rcpt_tos]
    assert len(to_bob) == 1, "rate-limited: one help-desk reply per sender"
    assert HELPDESK in " ".join(text_of(to_bob[0].msg).split())
    assert not TAG.search(str(to_bob[0].msg["Subject"]))
    assert str(to_bob[0].msg["Auto-Submitted"]).startswith("auto-generated")
    assert len([m for m in smtp_sink.messages() if "stranger@else.example" in m.rcpt_tos]) == 1


def test_attachments_are_stored_and_listed(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    number, _ = open_case(
        env,
        imap_box,
        smtp_sink,
        attachments=[("server.log", b"x" * 1234, "text/plain"), ("../../etc/passwd", b"root", "text/plain")],
    )
    listed = env.case(number)["attachments"]
    assert {a["filename"] for a in listed} >= {"server.log"}
    assert {a["size"] for a in listed if a["filename"] == "server.log"} == {1234}
    assert all("/" not in a["filename"] and ".." not in a["filename"] for a in listed)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_stored_attachments_come_back_byte_for_byte(
    backend: str, request: pytest.FixtureRequest, imap_box: Any, smtp_sink: Any, tmp_path: Any
) -> None:
    env: MaildEnv = request.getfixturevalue("env" if backend == "sqlite" else "pg_env")
    rng = random.Random(6)
    # Over several of maild.store.blobs' 1 MiB slices and not a multiple of one; an empty file too.
    dump = rng.randbytes(3 * 1024 * 1024 + 12345)
    number, acks = open_case(
        env,
        imap_box,
        smtp_sink,
        attachments=[("core.bin", dump, "application/octet-stream"), ("empty.txt", b"", "text/plain")],
    )
    (core,) = [a for a in env.case(number)["attachments"] if a["filename"] == "core.bin"]
    assert core["size"] == len(dump) and isinstance(core["id"], int)
    assert env.run_process("case", "attachment", number, str(core["id"])) == dump, "by id, to stdout"
    out = tmp_path / "empty.out"
    env.ok("case", "attachment", number, "empty.txt", "--output", str(out))
    assert out.exists() and out.read_bytes() == b"", "by name, to a file"
    missing = env.run("case", "attachment", number, "nothing.txt")
    assert missing.code == 2 and "no attachment 'nothing.txt'" in missing.err
    assert "Traceback" not in missing.err

    ack = acks[ALICE][0].msg
    imap_box.append(
        message(
            ALICE,
            f"Re: {ack['Subject']}",
            "A second, shorter dump.",
            to=reply_address_of(ack),
            in_reply_to=str(ack["Message-ID"]),
            attachments=[("core.bin", dump[:100], "application/octet-stream")],
        )
    )
    env.run_once()
    (comment,) = env.case(number)["comments"]
    (second,) = comment["attachments"]
    assert env.run_process("case", "attachment", number, str(second["id"])) == dump[:100]
    both = env.run("case", "attachment", number, "core.bin")
    assert both.code == 2 and f"{core['id']}, {second['id']}" in both.err, "two of that name: ids asked for"


def test_japanese_iso_2022_jp_mail_opens_a_japanese_case(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    subject = Header("【至急】月次レポートが表示されません", "iso-2022-jp").encode()
    raw = message(
        YAMADA,
        "placeholder",
        "月次レポート画面を開くとエラーになります。\n\n重要度: 2\n業務影響: 締め処理ができません\n",
        charset="iso-2022-jp",
        cc=(),
    )
    raw = raw.replace(b"Subject: placeholder", b"Subject: " + subject.encode())
    imap_box.append(raw)
    env.run_once()
    (case,) = env.cases()
    full = env.case(case["number"])
    assert full["subject"] == "【至急】月次レポートが表示されません"
    assert "月次レポート画面を開くとエラーになります。" in full["description"]
    assert full["severity"] == 2
    assert full["fields"]["business_impact"] == "締め処理ができません"
    (ack,) = [m for m in smtp_sink.messages() if YAMADA in m.rcpt_tos]
    assert re.search(r"[\u3040-\u30ff]", text_of(ack.msg)), "a ja contact gets the Japanese template"
    assert "【至急】月次レポートが表示されません" in str(ack.msg["Subject"])


# ------------------------------------------------------------------ threading


def test_collaborator_reply_becomes_clean_comment_and_notifies_the_others(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    number, acks = open_case(env, imap_box, smtp_sink)
    smtp_sink.clear()
    imap_box.append(reply_to_note(acks[BOB][0].msg, BOB, REPLY, name="Bob Builder"))
    env.run_once()
    comments = env.case(number)["comments"]
    assert len(comments) == 1
    assert comments[0]["author"] == BOB and comments[0]["role"] == "collaborator"
    assert comments[0]["body"].strip() == REPLY
    notified = by_rcpt(smtp_sink.messages())
    assert set(notified) == {ALICE, OPS}, "everyone in the sharing settings but the author"
    assert all(REPLY in text_of(m.msg) for ms in notified.values() for m in ms)


def test_cc_on_a_reply_adds_a_collaborator_who_then_hears_of_the_case(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    number, acks = open_case(env, imap_box, smtp_sink, cc=(BOB,))
    smtp_sink.clear()
    carol = "carol@acme.example"
    raw = reply_to_note(acks[ALICE][0].msg, ALICE, "Adding Carol, who runs the servers.")
    raw = raw.replace(b"\r\nSubject:", f"\r\nCc: Carol <{carol}>\r\nSubject:".encode(), 1)
    imap_box.append(raw)
    env.run_once()
    assert sorted(env.case(number)["collaborators"]) == [BOB, carol]
    assert set(by_rcpt(smtp_sink.messages())) == {BOB, carol}


def test_reply_by_subject_tag_and_by_references(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    number, acks = open_case(env, imap_box, smtp_sink)
    imap_box.append(message(ALICE, f"Re: [Case #{number}] Login page returns 500", "Tag reply."))
    imap_box.append(
        message(OPS, "no tag here", "Thread reply.", in_reply_to=str(acks[OPS][0].msg["Message-ID"]))
    )
    env.run_once()
    # The tag alone proves nothing about the sender: held (SPEC §8); the reply to Ops's own copy counts.
    bodies = sorted(c["body"].strip() for c in env.case(number)["comments"])
    assert bodies == ["Thread reply."]
    held = env.ok("inbound", "list", "--outcome", "held", "--json").json()
    assert [(h["from"], h["case"]) for h in held] == [(ALICE, number)]
    env.ok("inbound", "release", str(held[0]["id"]), "--as", AGENT)
    bodies = sorted(c["body"].strip() for c in env.case(number)["comments"])
    assert bodies == ["Tag reply.", "Thread reply."]


def test_forgeries_outsiders_and_automatic_mail_add_nothing(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    number, acks = open_case(env, imap_box, smtp_sink)
    token_addr = reply_address_of(acks[BOB][0].msg)
    local, domain = token_addr.split("@")
    tampered = local[:-3] + ("aaa" if not local.endswith("aaa") else "bbb") + "@" + domain
    smtp_sink.clear()
    imap_box.append_many(
        [
            message(MALLORY, f"Re: [Case #{number}] hi", "Forged tag from an outsider."),
            message(DAVE, f"Re: [Case #{number}] hi", "Forged tag from another designated contact."),
            message(BOB, "Re: hi", "Tampered token.", to=tampered),
            message(MALLORY, "Re: hi", "Stolen token.", to=token_addr),
            message(
                ALICE,
                "Out of office",
                "I am away.",
                headers={"Auto-Submitted": "auto-replied"},
                in_reply_to=str(acks[ALICE][0].msg["Message-ID"]),
            ),
            message(
                ALICE,
                "Re: list",
                "digest",
                headers={"Precedence": "list", "List-Id": "<x.example.com>"},
                in_reply_to=str(acks[ALICE][0].msg["Message-ID"]),
            ),
        ]
    )
    env.run_once()
    assert env.case(number)["comments"] == []
    assert len(env.cases()) == 1
    rcpts = Counter(r for m in smtp_sink.messages() for r in m.rcpt_tos)
    assert rcpts[ALICE] == 0 and rcpts[BOB] == 0, "nothing reached the case, nobody in it is notified"
    assert rcpts[MALLORY] <= 1, "an outsider gets at most one notice"


def test_duplicate_message_is_processed_once(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    raw = message(ALICE, "Printer on fire", "It is on fire.", cc=(BOB,))
    imap_box.append_many([raw, raw])
    env.run_once()
    env.run_once()
    assert len(env.cases()) == 1
    assert Counter(r for m in smtp_sink.messages() for r in m.rcpt_tos) == {ALICE: 1, BOB: 1}
    flags = imap_box.flags()
    assert flags and all(b"\\Seen" in f for f in flags.values()), "processed messages are flagged \\Seen"


def test_a_reused_message_id_is_a_message_of_its_own_and_a_copy_found_late_a_duplicate(
    env: MaildEnv, imap_box: Any, smtp_sink: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = message(ALICE, "Printer on fire", "It is on fire.", message_id="<0@localhost>")
    other = message(ALICE, "VPN is down", "Nobody can connect.", message_id="<0@localhost>")
    imap_box.append_many([first, other])
    env.run_once()
    assert sorted(c["subject"] for c in env.cases()) == ["Printer on fire", "VPN is down"]

    # A claim's check for earlier copies runs before the message's transaction; here it is
    # stale, as when another worker records the same message meanwhile. The unique index
    # refuses the insert and the message is processed again with every check inside.
    from maild.daemon.ingest import Ingestor

    monkeypatch.setattr(Ingestor, "_unrecorded_ids", lambda self, listed: {m for m in listed if m})
    smtp_sink.clear()
    imap_box.append(first)
    env.run_once()
    assert len(env.cases()) == 2, "the copy opened nothing"
    assert smtp_sink.messages() == [], "and notified nobody"
    outcomes = Counter(r["outcome"] for r in env.ok("inbound", "list", "--json").json())
    assert outcomes == {"case_opened": 2, "duplicate": 1}


def test_a_message_the_database_refuses_is_quarantined_not_lost(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    number, acks = open_case(env, imap_box, smtp_sink)
    ours = str(acks[ALICE][0].msg["Message-ID"])
    # A new message under the Message-ID of one of our own acknowledgements (a client
    # that "redirects" or re-sends keeps it): the case's thread already holds that id.
    raw = message(ALICE, "Printer on fire", "It is on fire.", message_id=ours)
    imap_box.append(raw)
    assert env.run_once().code == 0
    (q,) = env.ok("inbound", "list", "--outcome", "quarantined", "--json").json()
    assert "thread_messages" in q["reason"] and "Traceback" not in q["reason"], q["reason"]
    assert [c["number"] for c in env.cases()] == [number], "no half-made case"
    assert env.run_process("inbound", "raw", str(q["id"])) == raw, "the message is kept"


# ------------------------------------------------------------------ agents, statuses, commands


def test_agent_reply_by_cli_is_first_response(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    number, _ = open_case(env, imap_box, smtp_sink)
    smtp_sink.clear()
    env.ok("case", "reply", number, "--as", AGENT, "--body", "We are on it.")
    env.run_once()
    case = env.case(number)
    assert case["status"] == "in_progress"
    assert case["first_responded_at"] is not None
    assert case["comments"][-1]["role"] == "agent" and case["comments"][-1]["body"] == "We are on it."
    assert set(by_rcpt(smtp_sink.messages())) == {ALICE, BOB, OPS}
    r = env.run("case", "reply", number, "--as", MALLORY, "--body", "x")
    assert r.code == 2 and "not an agent" in r.err


@pytest.mark.maild_config({"support.trusted_authserv_ids": ["mx.example.com"]})
def test_agent_reply_by_email_and_customer_close(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    number, acks = open_case(env, imap_box, smtp_sink)
    # An agent acts by email only with proof (SPEC §8): here our MTA's DMARC verdict.
    proof = {"Authentication-Results": "mx.example.com; dmarc=pass header.from=example.com"}
    imap_box.append(message(AGENT, f"Re: [Case #{number}] Login", "Please try again now.", headers=proof))
    env.run_once()
    assert env.case(number)["first_responded_at"] is not None
    imap_box.append(reply_to_note(acks[BOB][0].msg, BOB, "#close\nWorks now."))
    env.run_once()
    assert env.case(number)["status"] == "in_progress", "a collaborator cannot close"
    smtp_sink.clear()
    imap_box.append(reply_to_note(acks[ALICE][0].msg, ALICE, "#close\nConfirmed, thanks."))
    env.run_once()
    case = env.case(number)
    assert case["status"] == "closed"
    assert case["comments"][-1]["body"].strip() == "Confirmed, thanks."
    assert {ALICE, BOB, OPS} <= set(by_rcpt(smtp_sink.messages()))
    assert [c["number"] for c in env.cases("closed")] == [number]
    # A contact's reply within the reopen window reopens the case.
    imap_box.append(reply_to_note(acks[ALICE][0].msg, ALICE, "Sorry, it is back."))
    env.run_once()
    assert env.case(number)["status"] == "in_progress"


def test_cli_close_and_errors(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    number, _ = open_case(env, imap_box, smtp_sink)
    assert env.run("case", "close", number, "--as", MALLORY).code == 2
    env.ok("case", "close", number, "--as", AGENT)
    assert env.case(number)["status"] == "closed"
    missing = env.run("case", "show", "99999999", "--json")
    assert missing.code == 2 and "does not exist" in missing.err and "Traceback" not in missing.err
    assert env.cases("open") == []


# ------------------------------------------------------------------ delivery


def test_transient_smtp_failure_is_retried_and_delivered_once(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    smtp_sink.fail_next(451, 2)
    imap_box.append(message(ALICE, "Retry me", "Body", cc=(BOB,)))
    env.run_once()
    delivered = Counter(r for m in smtp_sink.messages() for r in m.rcpt_tos)
    assert delivered == {ALICE: 1, BOB: 1}
    assert len(smtp_sink.rejected()) == 2


def test_permanent_smtp_failure_is_recorded_not_retried(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    smtp_sink.fail_next(550, 1)
    imap_box.append(message(ALICE, "Fail one", "Body", cc=()))
    env.run_once()
    env.run_once()
    assert smtp_sink.messages() == [] and len(smtp_sink.rejected()) == 1
    # Recorded: failed after its one attempt, with the server's answer word for word.
    (row,) = env.outbox()
    assert (row.recipient, row.status, row.attempts) == (ALICE, "failed", 1)
    assert row.last_error == "550 5.7.1 Message rejected permanently (injected by maild sink)"
    assert env.ok("status", "--json").json()["outbox"]["failed"] == 1


def test_smtp_down_loses_nothing(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    port = smtp_sink.port
    env.set("smtp.port", 1)  # nothing listens there
    imap_box.append(message(ALICE, "Queued while SMTP is down", "Body", cc=(BOB,)))
    r = env.run("run", "--once")
    assert r.code == 0 and len(env.cases()) == 1
    env.set("smtp.port", port)
    env.set("outbox.retry_initial", "1s")
    import time

    time.sleep(1.5)
    env.run_once()
    assert Counter(r for m in smtp_sink.messages() for r in m.rcpt_tos) == {ALICE: 1, BOB: 1}


# ------------------------------------------------------------------ PostgreSQL


def test_whole_flow_on_postgresql(pg_env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    number, acks = open_case(pg_env, imap_box, smtp_sink)
    imap_box.append(reply_to_note(acks[BOB][0].msg, BOB, REPLY))
    pg_env.run_once()
    case = pg_env.case(number)
    assert case["comments"][0]["body"].strip() == REPLY
    assert case["primary_contact"] == ALICE


def test_support_address_is_the_sender(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    _, acks = open_case(env, imap_box, smtp_sink)
    for ms in acks.values():
        assert SUPPORT in str(ms[0].msg["From"])
        assert ms[0].mail_from == SUPPORT
    assert MANAGERS not in acks


# ------------------------------------------------------------------ failures


def test_message_that_cannot_be_processed_is_quarantined_and_the_batch_goes_on(
    env: MaildEnv, imap_box: Any, smtp_sink: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import maild.daemon.ingest

    real_parse = maild.daemon.ingest.parse_message

    def exploding_parse(raw: bytes, **kw: Any) -> Any:
        if b"EXPLODE" in raw:
            raise RuntimeError("simulated bug while parsing")
        return real_parse(raw, **kw)

    monkeypatch.setattr(maild.daemon.ingest, "parse_message", exploding_parse)
    bad = message(ALICE, "EXPLODE please", "This one breaks the parser.")
    imap_box.append_many([message(ALICE, "Before", "ok"), bad, message(ALICE, "After", "ok")])
    env.run_once()
    assert sorted(c["subject"] for c in env.cases()) == ["After", "Before"]
    (q,) = env.ok("inbound", "list", "--outcome", "quarantined", "--json").json()
    assert "simulated bug while parsing" in q["reason"] and q["raw_kept"]
    assert env.run_process("inbound", "raw", str(q["id"])) == bad
    assert "maild-failed" in imap_box.folders()
    assert imap_box.count("maild-failed") == 1 and imap_box.count() == 2
    outcomes = [r["outcome"] for r in env.ok("inbound", "list", "--json").json()]
    assert sorted(outcomes) == ["case_opened", "case_opened", "quarantined"]
    env.run_once()
    assert len(env.cases()) == 2, "a quarantined message is not retried into a case"


def test_bounce_of_a_notification_is_tied_to_it_and_answered_by_nothing(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    number, acks = open_case(env, imap_box, smtp_sink, cc=(OPS,))
    ack = acks[OPS][0]
    smtp_sink.clear()
    dsn = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.acme.example>\r\n"
        f"To: {SUPPORT}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.acme.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nThe mailbox does not exist.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.acme.example\r\n\r\n"
        f"Final-Recipient: rfc822; {OPS}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {ack.msg['Message-ID']}\r\nTo: {OPS}\r\nSubject: {ack.msg['Subject']}\r\n"
        "--b--\r\n"
    ).encode()
    imap_box.append(dsn)
    env.run_once()
    records = env.ok("inbound", "list", "--json").json()
    (record,) = [r for r in records if r["message_id"] == "<bounce-1@mx.acme.example>"]
    assert record["outcome"] == "ignored" and record["case"] == number
    assert OPS in record["reason"] and "bounce" in record["reason"]
    assert smtp_sink.messages() == [], "a bounce causes no mail"


def test_agent_changes_severity_and_the_deadline_moves(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    number, _ = open_case(env, imap_box, smtp_sink)
    smtp_sink.clear()
    r = env.ok("case", "severity", number, "1", "--as", AGENT, "--reason", "Production is down")
    assert "severity 1" in r.out
    env.run_once()
    case = env.case(number)
    assert case["severity"] == 1
    due = parse_time(case["first_response_due_at"]) - parse_time(case["created_at"])
    assert abs(due.total_seconds() - 3600) <= 2, "sev 1: one hour from when the case opened"
    notes = by_rcpt(smtp_sink.messages())
    assert set(notes) == {ALICE, BOB, OPS}
    text = text_of(notes[ALICE][0].msg)
    assert "Production is down" in text and "Critical" in text
    assert notes[ALICE][0].msg["X-Maild-Event"] == "severity_changed"
    assert env.run("case", "severity", number, "2", "--as", MALLORY).code == 2
    assert env.run("case", "severity", number, "7", "--as", AGENT).code == 2
    assert env.ok("case", "severity", number, "1", "--as", AGENT).out.startswith(f"case {number} already")


@pytest.mark.maild_config({"support.trusted_authserv_ids": ["mx.example.com"]})
def test_new_cases_from_designated_contacts_need_no_proof(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    """SPEC §8: the acknowledgement goes to the contact's real address, so a forged From gains nothing."""
    proven = {"Authentication-Results": "mx.example.com; dmarc=pass header.from=acme.example"}
    forged = {"Authentication-Results": "attacker.example; dmarc=pass header.from=acme.example"}
    imap_box.append_many(
        [
            message(ALICE, "Proven sender", "x", headers=proven),
            message(ALICE, "Unproven sender", "x", headers=forged),
        ]
    )
    env.run_once()
    assert sorted(c["subject"] for c in env.cases()) == ["Proven sender", "Unproven sender"]
    assert {r for m in smtp_sink.messages() for r in m.rcpt_tos} == {ALICE}


@pytest.mark.maild_config({"support.reopen_window": "1s"})
def test_reply_after_the_reopen_window_opens_a_new_case_naming_the_old_one(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    import time

    number, acks = open_case(env, imap_box, smtp_sink, cc=(BOB,))
    env.ok("case", "close", number, "--as", AGENT)
    time.sleep(1.5)
    imap_box.append(reply_to_note(acks[ALICE][0].msg, ALICE, "The error is back since this morning."))
    env.run_once()
    old = env.case(number)
    assert old["status"] == "closed" and old["comments"] == [], "the closed case is not reopened"
    (new,) = [c for c in env.cases("open")]
    opened = env.case(new["number"])
    assert opened["previous_case"] == number
    assert opened["primary_contact"] == ALICE and opened["subject"] == "Login page returns 500"
    assert "The error is back since this morning." in opened["description"]
