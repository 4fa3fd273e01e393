"""Automatic-mail rules: hand-built messages for every rule and guard, then the real corpus."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from maild.inbound.message import Address, Attachment, InboundMail
from maild.policy.bounces import bounce_targets
from maild.policy.rules import RULES, AutomaticMail, classify_automatic
from tests.fixtures.ci import in_ci

OWN = ("support@example.com", "help@example.com")


def mail(*headers: tuple[str, str], **fields: Any) -> InboundMail:
    """A person's ordinary mail, changed only where a test says so."""
    base = InboundMail(
        message_id="<CAK1@mail.acme.example>",
        from_addr=Address("alice@acme.example", "Alice Example"),
        subject="Login page returns 500",
        text="Hello,\n\nour login page returns 500 since this morning.\n\nAlice\n",
        raw_size=400,
        raw_sha256="0" * 64,
        to=(Address("support@example.com"),),
        headers=(
            ("From", "Alice Example <alice@acme.example>"),
            ("Subject", "Login page returns 500"),
            *headers,
        ),
    )
    return replace(base, **fields)


def classify(message: InboundMail) -> AutomaticMail | None:
    return classify_automatic(message, OWN)


def test_a_persons_mail_is_not_automatic() -> None:
    assert classify(mail()) is None


def test_rules_are_a_fixed_ordered_tuple() -> None:
    names = [rule.__name__ for rule in RULES]
    assert names.index("from_own_address") == 0
    assert names.index("report") < names.index("auto_submitted")
    assert names.index("bounce_sender") < names.index("auto_submitted")
    assert names[-3:] == ["noreply_sender", "auto_reply_subject", "read_receipt_subject"]


# ------------------------------------------------------------------ loops


@pytest.mark.parametrize(
    "sender",
    ["support@example.com", "help@example.com", "support+c1.a2.x9@example.com", "support+@example.com"],
)
def test_mail_from_our_own_address_is_a_loop(sender: str) -> None:
    result = classify(mail(from_addr=Address(sender)))
    assert result == AutomaticMail(f"from our own address {sender}", "loop")


def test_own_address_match_ignores_case_on_both_sides() -> None:
    result = classify_automatic(mail(from_addr=Address("support@example.com")), ["Support@Example.COM"])
    assert result is not None and result.kind == "loop"


@pytest.mark.parametrize(
    "sender",
    [
        "support@example.com.evil.example",
        "support2@example.com",
        "xsupport@example.com",
        "support@sub.example.com",
        "support-team@example.com",
    ],
)
def test_lookalikes_of_our_address_are_not_loops(sender: str) -> None:
    assert classify(mail(from_addr=Address(sender))) is None


def test_sender_header_of_our_address_is_not_a_loop() -> None:
    # A Google Group in front of the support address sets Sender: to it on every customer's mail.
    assert classify(mail(sender=Address("support@example.com"))) is None


def test_own_address_wins_over_every_other_rule() -> None:
    looped = mail(
        ("Auto-Submitted", "auto-replied"),
        ("List-Id", "<x.example>"),
        from_addr=Address("support@example.com"),
    )
    result = classify(looped)
    assert result is not None and result.kind == "loop"


def test_unusable_own_addresses_do_not_crash() -> None:
    assert classify_automatic(mail(), ["", "nobody", "@", "support@"]) is None
    assert classify_automatic(mail(from_addr=None), []) is None


@pytest.mark.parametrize(
    "value", ["support@example.com", "<SUPPORT@example.com>", "maild loop; support+x@example.com"]
)
def test_x_loop_naming_us_is_a_loop(value: str) -> None:
    result = classify(mail(("X-Loop", value)))
    assert result is not None and result.kind == "loop"
    assert result.reason.startswith("X-Loop names our address")


@pytest.mark.parametrize("value", ["scomp", "other@example.org", "support@example.com.evil"])
def test_x_loop_naming_someone_else_is_not_a_loop(value: str) -> None:
    assert classify(mail(("X-Loop", value))) is None


# ------------------------------------------------------------------ Auto-Submitted


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("auto-replied", "Auto-Submitted: auto-replied"),
        ("Auto-Replied", "Auto-Submitted: auto-replied"),
        ("auto-generated", "Auto-Submitted: auto-generated"),
        ("auto-generated (failure)", "Auto-Submitted: auto-generated"),
        ('auto-notified; owner-email="x@y"', "Auto-Submitted: auto-notified"),
        ("  AUTO-REPLIED  ", "Auto-Submitted: auto-replied"),
        ("(comment first) auto-replied", "Auto-Submitted: auto-replied"),
        ("", "Auto-Submitted: (empty)"),
    ],
)
def test_auto_submitted_other_than_no(value: str, reason: str) -> None:
    assert classify(mail(("Auto-Submitted", value))) == AutomaticMail(reason, "auto_reply")


@pytest.mark.parametrize(
    "value", ["no", "No", "NO", " no ", "no (sent by a person)", "no; reason=x", "(c) no"]
)
def test_auto_submitted_no_is_a_person(value: str) -> None:
    assert classify(mail(("Auto-Submitted", value))) is None


def test_header_names_are_case_insensitive() -> None:
    assert classify(mail(("AUTO-SUBMITTED", "auto-replied"))) is not None
    assert classify(mail(("precedence", "BULK"))) is not None


# ------------------------------------------------------------------ Precedence and vendor headers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bulk", AutomaticMail("Precedence: bulk", "auto_reply")),
        ("Junk", AutomaticMail("Precedence: junk", "auto_reply")),
        ("list", AutomaticMail("Precedence: list", "list")),
        ("bulk (auto)", AutomaticMail("Precedence: bulk", "auto_reply")),
        ("auto_reply", AutomaticMail("Precedence: auto_reply", "auto_reply")),
    ],
)
def test_precedence(value: str, expected: AutomaticMail) -> None:
    assert classify(mail(("Precedence", value))) == expected


@pytest.mark.parametrize("value", ["first-class", "normal", "urgent", "bulkier"])
def test_other_precedence_values_are_a_person(value: str) -> None:
    assert classify(mail(("Precedence", value))) is None


@pytest.mark.parametrize(
    "name",
    [
        "X-Autoreply",
        "X-Autorespond",
        "X-Autogenerated",
        "X-AutoReply-From",
        "X-Mail-Autoreply",
        "X-FC-MachineGenerated",
    ],
)
def test_autoreply_vendor_headers(name: str) -> None:
    assert classify(mail((name, "yes"))) == AutomaticMail(name, "auto_reply")
    assert classify(mail((name.lower(), "true"))) == AutomaticMail(name, "auto_reply")


def test_autoreply_header_saying_no_is_a_person() -> None:
    assert classify(mail(("X-Autoreply", "no"))) is None
    assert classify(mail(("X-FC-MachineGenerated", "false"))) is None


@pytest.mark.parametrize("value", ["All", "OOF, AutoReply", "DR, NDR, RN, NRN, OOF, AutoReply"])
def test_x_auto_response_suppress_is_not_a_signal(value: str) -> None:
    # Outlook sets it on ordinary mail to ask *us* not to auto-reply; people send it every day.
    assert classify(mail(("X-Auto-Response-Suppress", value))) is None
    assert classify(mail(("X-Auto-Response-Suppress", value), subject="Automatic reply: our plan")) is None


def test_apple_vacation_responder() -> None:
    assert classify(mail(("X-Apple-Action", "VACATION"))) == AutomaticMail(
        "X-Apple-Action: VACATION", "auto_reply"
    )
    assert classify(mail(("X-Apple-Action", "SEND"))) is None


# ------------------------------------------------------------------ lists


@pytest.mark.parametrize(
    "name", ["List-Id", "List-Unsubscribe", "List-Post", "List-Help", "Mailing-List", "X-Mailman-Version"]
)
def test_list_headers(name: str) -> None:
    assert classify(mail((name, "<mailto:x@lists.example>"))) == AutomaticMail(
        f"mailing list ({name})", "list"
    )


@pytest.mark.parametrize(
    "sender", ["ppp-request@zzz.org", "dev-bounces@lists.example", "owner-dev@lists.example"]
)
def test_list_robots(sender: str) -> None:
    result = classify(mail(from_addr=Address(sender)))
    assert result is not None and result.kind == "list"


def test_a_person_named_like_a_list_word_is_not_a_list() -> None:
    assert classify(mail(from_addr=Address("request@acme.example"))) is None
    assert classify(mail(from_addr=Address("owner@acme.example"))) is None


# ------------------------------------------------------------------ null return path


@pytest.mark.parametrize("value", ["<>", " <> ", "< >", "<> (null sender)"])
def test_null_return_path(value: str) -> None:
    assert classify(mail(("Return-Path", value))) == AutomaticMail("null Return-Path (<>)", "auto_reply")


@pytest.mark.parametrize("value", ["<alice@acme.example>", "alice@acme.example", "<MAILER-DAEMON>"])
def test_real_return_path_is_a_person(value: str) -> None:
    assert classify(mail(("Return-Path", value))) is None


# ------------------------------------------------------------------ reports


@pytest.mark.parametrize(
    ("report_type", "expected"),
    [
        ("delivery-status", AutomaticMail("delivery status notification", "bounce")),
        ("Delivery-Status", AutomaticMail("delivery status notification", "bounce")),
        ("disposition-notification", AutomaticMail("read receipt (MDN)", "report")),
        ("feedback-report", AutomaticMail("feedback report (ARF)", "report")),
        ("something-new", AutomaticMail("multipart/report (something-new)", "report")),
    ],
)
def test_multipart_report(report_type: str, expected: AutomaticMail) -> None:
    assert classify(mail(content_type="multipart/report", report_type=report_type)) == expected


def test_report_type_read_from_the_header_when_the_parser_had_none() -> None:
    header = ("Content-Type", 'multipart/report;\n\treport-type="delivery-status"; boundary=x')
    assert classify(mail(header, content_type="multipart/report")) == AutomaticMail(
        "delivery status notification", "bounce"
    )


def test_report_type_read_from_the_report_part() -> None:
    part = Attachment("status.txt", "message/disposition-notification", 120, b"Disposition: manual-action")
    assert classify(mail(attachments=(part,))) == AutomaticMail("read receipt (MDN)", "report")


def test_a_dsn_that_also_says_auto_submitted_is_still_a_bounce() -> None:
    dsn = mail(("Auto-Submitted", "auto-replied"), ("Precedence", "bulk"), report_type="delivery-status")
    assert classify(dsn) == AutomaticMail("delivery status notification", "bounce")


def test_a_forwarded_message_attachment_is_not_a_report() -> None:
    part = Attachment("original.eml", "message/rfc822", 900, b"From: x@y\r\n\r\nhi")
    assert classify(mail(attachments=(part,), content_type="multipart/mixed")) is None


# ------------------------------------------------------------------ senders


@pytest.mark.parametrize(
    ("address", "name", "reason"),
    [
        ("mailer-daemon@mx.example.org", "", "bounce from mailer-daemon"),
        ("MAILER-DAEMON@mx.example.org", "Mail Delivery System", "bounce from mailer-daemon"),
        ("postmaster@acme.example", "", "bounce from postmaster"),
        ("mail-delivery-subsystem@acme.example", "", "bounce from mail-delivery-subsystem"),
        ("mailer_daemon@acme.example", "", "bounce from mailer_daemon"),
        ("", "MAILER DAEMON", "bounce from mailer daemon"),
        ("", "Mail Delivery Subsystem", "bounce from mail delivery subsystem"),
    ],
)
def test_bounce_senders(address: str, name: str, reason: str) -> None:
    assert classify(mail(from_addr=Address(address, name))) == AutomaticMail(reason, "bounce")


@pytest.mark.parametrize(
    "address",
    [
        "noreply@vendor.example",
        "no-reply@vendor.example",
        "no_reply@vendor.example",
        "do-not-reply@vendor.example",
        "donotreply@vendor.example",
        "NoReply+abc@vendor.example",
        "noreply-alerts@vendor.example",
    ],
)
def test_noreply_senders_cannot_read_a_reply(address: str) -> None:
    result = classify(mail(from_addr=Address(address)))
    assert result is not None and result.kind == "auto_reply"
    assert result.reason.startswith("no-reply sender ")


@pytest.mark.parametrize(
    "address",
    ["noreen@acme.example", "nora@acme.example", "norbert.reply@acme.example", "reply@acme.example"],
)
def test_people_with_similar_names_are_not_noreply(address: str) -> None:
    assert classify(mail(from_addr=Address(address))) is None


def test_failed_recipients_header_is_a_bounce() -> None:
    result = classify(mail(("X-Failed-Recipients", "bob@acme.example")))
    assert result == AutomaticMail("bounce (X-Failed-Recipients)", "bounce")


# ------------------------------------------------------------------ subject heuristics


# Each weak signal on its own, added to a person's mail.
WEAK_SIGNALS: dict[str, dict[str, Any]] = {
    "no Message-ID": {"message_id_synthesized": True},
    "no From address": {"from_addr": None},
    "empty body": {"text": "   \n"},
    "TNEF-only body": {"content_type": "application/ms-tnef", "text": ""},
    "robot-like sender": {"from_addr": Address("autoreply@acme.example")},
}


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: Login page returns 500",
        "Auto reply: Login",
        "Autoreply: Login",
        "Auto-Reply: Login",
        "AutoResponse: Login",
        "Out of Office: Login page returns 500",
        "Out of Office AutoReply: Login",
        "OUT OF OFFICE",
        "[Out of Office] Login",
        "Abwesenheitsnotiz: Login",
        "Automatische Antwort: Login",
        "Réponse automatique : Login",
        "Automatyczna odpowiedź: Login",
        "自動応答: ログインできない",
        "自動返信：ログインできない",
        "【自動返信】ログインできない",
        "不在のお知らせ",
        "不在: 11/25まで",
    ],
)
@pytest.mark.parametrize("signal", sorted(WEAK_SIGNALS))
def test_out_of_office_subject_with_a_weak_signal(subject: str, signal: str) -> None:
    result = classify(mail(subject=subject, **WEAK_SIGNALS[signal]))
    assert result is not None and result.kind == "auto_reply", result
    assert signal in result.reason


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: Login page returns 500",
        "Out of Office: back Monday",
        "自動応答: ログイン",
        "不在のお知らせ",
    ],
)
def test_out_of_office_subject_alone_is_not_enough(subject: str) -> None:
    assert classify(mail(subject=subject)) is None


@pytest.mark.parametrize(
    "subject",
    [
        "Re: Out of office sync bug",
        "Out of office sync bug",
        "Out of office status not shown in calendar",
        "RE: Automatic reply: is it configurable?",
        "Fwd: Automatic reply: Login",
        "Our auto reply rule stopped working",
        "Question about automatic replies",
        "Re: 不在時の自動応答設定について",
        "Undeliverable emails from our org",
        "Undelivered mail in our outbound queue",
        "Mail delivery failed for some users",
        "Delivery failures since the update",
        "Delivery notification settings are missing",
        "Non-delivery of invoices to Gmail",
        "Returned mail is not shown in the UI",
        "Message not delivered to external recipients",
        "Failure notice emails are not translated",
        "送信エラーが発生します",
        "宛先不明で戻ってくる",
    ],
)
@pytest.mark.parametrize("signal", ["no Message-ID", "empty body"])
def test_customers_writing_about_auto_replies_are_people(subject: str, signal: str) -> None:
    # Even with a weak signal, these subjects do not have the robot's shape.
    assert classify(mail(subject=subject, **WEAK_SIGNALS[signal])) is None


@pytest.mark.parametrize(
    "subject",
    [
        "Undeliverable: Login page returns 500",
        "Undelivered Mail Returned to Sender",
        "Delivery Status Notification (Failure)",
        "Mail delivery failed: returning message to sender",
        "Returned mail: see transcript for details",
        "Delivery Failure",
        "failure notice",
        "Mail System Error - Returned Mail",
        "配信不能: ログイン",
        "Unzustellbar: Login",
    ],
)
def test_bounce_subject_with_a_weak_signal(subject: str) -> None:
    result = classify(mail(("Return-Path", "<>"), subject=subject))
    assert result is not None and result.kind == "bounce"
    assert "null Return-Path" in result.reason
    result = classify(mail(subject=subject, from_addr=Address("mailer@mx.acme.example")))
    assert result is not None and result.kind == "bounce"
    assert classify(mail(subject=subject)) is None


def test_forwarded_bounce_from_a_person_is_a_person() -> None:
    forwarded = mail(subject="Fwd: Undeliverable: Login page", text="Why did this bounce?\n\n> Undeliverable")
    assert classify(forwarded) is None


@pytest.mark.parametrize(
    "subject", ["Read: invitation", "Not read: invitation", "開封済み: 招待", "Gelesen: Einladung"]
)
def test_read_receipt_subject_with_a_weak_signal(subject: str) -> None:
    receipt = mail(subject=subject, content_type="application/ms-tnef", text="")
    result = classify(receipt)
    assert result is not None and result.kind == "report"
    assert classify(mail(subject=subject)) is None


def test_read_me_subject_is_a_person() -> None:
    assert classify(mail(subject="Read me: export fails", message_id_synthesized=True)) is None


# ------------------------------------------------------------------ hostile input


def test_reason_is_one_safe_bounded_line() -> None:
    hostile = "auto-replied\r\nBcc: victim@example.org\x00\x1b[31m" + "A" * 5000
    result = classify(mail(("Auto-Submitted", hostile)))
    assert result is not None
    assert "\n" not in result.reason and "\r" not in result.reason and "\x00" not in result.reason
    assert "\x1b" not in result.reason
    assert len(result.reason) < 120


def test_hostile_subject_in_reason_is_sanitised() -> None:
    result = classify(mail(subject="Automatic reply:\r\n\x07" + "x" * 10_000, message_id_synthesized=True))
    assert result is not None
    assert "\r" not in result.reason and "\x07" not in result.reason and len(result.reason) < 250


def test_huge_headers_are_classified_quickly() -> None:
    headers = tuple(("X-Filler", "y" * 1000) for _ in range(2000))
    started = time.perf_counter()
    assert classify(mail(*headers, ("Return-Path", "<" * 50_000), subject="(" * 50_000)) is None
    assert classify(mail(("X-Loop", "a@" * 30_000))) is None
    assert time.perf_counter() - started < 5.0


# ------------------------------------------------------------------ the corpus

CORPUS = Path(os.environ.get("MAILD_CORPUS", Path(__file__).resolve().parents[3] / "shared" / "corpus"))

# What each automatic sample is. Every file in corpus/auto/ must be listed here or in NOT_AUTOMATIC.
AUTO_KINDS: dict[str, str] = {
    "flanker-bounce-delayed.eml": "bounce",
    "flanker-bounce-gmail-invalid-address.eml": "bounce",
    "flanker-bounce-mailbox-full.eml": "bounce",
    "flanker-bounce-office365.eml": "bounce",
    "flanker-complaints-aol.eml": "report",
    "flanker-disposition-notification.eml": "report",
    "mimekit-delivery-status2.txt": "bounce",
    "mimekit-feedback-report.txt": "report",
    "php-mmp-failure.eml": "bounce",
    "php-mmp-issue212": "auto_reply",  # Polish out-of-office: subject plus no From / no Message-ID
    "rt-multipart-report": "bounce",
    "rubymail-multipart_report_multiple_status.eml": "bounce",
    "rustpython-cpython-msg_02.txt": "list",  # Mailman 2 digest: X-Mailman-Version, -request sender
    "rustpython-cpython-msg_43.txt": "bounce",
    "sisimai-arf-01.eml": "report",
    "sisimai-lhost-exchange2007-01.eml": "bounce",
    "sisimai-lhost-exim-01.eml": "bounce",
    "sisimai-lhost-gmail-01.eml": "bounce",
    "sisimai-lhost-googlegroups-01.eml": "bounce",
    "sisimai-lhost-notes-01.eml": "bounce",
    "sisimai-lhost-office365-01.eml": "bounce",
    "sisimai-lhost-postfix-01.eml": "bounce",
    "sisimai-lhost-qmail-01.eml": "bounce",
    "sisimai-lhost-sendmail-01.eml": "bounce",
    "sisimai-not-rb-issue-368-bug.eml": "bounce",
    "sisimai-rfc3464-01.eml": "bounce",
    "sisimai-rfc3834-01.eml": "auto_reply",
    "sisimai-rfc3834-02.eml": "auto_reply",
    "sisimai-rfc3834-03.eml": "auto_reply",  # iCloud vacation: X-Apple-Action only
    "sisimai-rfc3834-04.eml": "auto_reply",
    "sisimai-rfc3834-06.eml": "auto_reply",
    "zbateson-hunnysoft-m4006.txt": "report",  # Outlook read receipt as TNEF: "Read:" + TNEF-only body
}
NOT_AUTOMATIC: dict[str, str] = {
    "sisimai-not-is-not-bounce-02.eml": (
        "a person's Apple Mail message with an .eml attached; sisimai's own suite asserts it is not a bounce"
    ),
}
JAPANESE_AUTOMATIC: dict[str, str] = {
    "jpmobile-bounced-jp.eml": "bounce",
    "kopano-zcp-11713.eml": "report",
    "sisimai-lhost-ezweb-01.eml": "bounce",
    "sisimai-lhost-office365-13.eml": "bounce",
    "sisimai-lhost-postfix-09.eml": "bounce",
    "sisimai-lhost-sendmail-18.eml": "bounce",
}
# Bounces whose original Message-ID or failed recipient must be recovered.
BOUNCE_TIES: dict[str, tuple[str | None, str | None]] = {
    "rt-multipart-report": (
        "<200308221615.h7MGFGac020135@mx12.other.example.com>",
        "jesmund@mailbox.other.example.com",
    ),
    "sisimai-lhost-gmail-01.eml": (
        "<D992C2C3-F175-4C4D-97E2-53A90E4E5BF5@gmail.com>",
        "userunknown@example.jp",
    ),
    "sisimai-lhost-qmail-01.eml": (
        "<000000000.9999999999999.JavaMail.postmaster@mailhub>",
        "kijitora@example.ne.jp",
    ),
    "sisimai-lhost-notes-01.eml": ("<000000000.0000000000000.notes@example.co.jp>", None),
    "sisimai-not-rb-issue-368-bug.eml": ("<68e0b7e3615cd_1dc7010592ed@7cf4d87f87-9r5w2.mail>", None),
    "sisimai-lhost-exim-01.eml": (None, "kijitora@example.ed.jp"),
    "flanker-bounce-mailbox-full.eml": ("<4E326A95.3010907@example.com>", "user@aol.com"),
}


def _corpus_dir(name: str) -> Path:
    folder = CORPUS / name
    if not folder.is_dir():
        if in_ci():
            pytest.fail(
                f"the mail corpus is missing at {folder} (set MAILD_CORPUS); it must be present in CI"
            )
        pytest.skip(f"mail corpus not found at {folder}")
    return folder


def _parse(path: Path) -> InboundMail:
    from maild.inbound.parse import parse_message

    result = parse_message(path.read_bytes())
    assert isinstance(result, InboundMail)
    return result


def _files(name: str, pattern: str = "*") -> list[str]:
    folder = CORPUS / name
    if not folder.is_dir():
        return ["(corpus missing)"]
    return sorted(
        p.name for p in folder.glob(pattern) if p.is_file() and not p.name.endswith(".expected.txt")
    )


def test_every_auto_sample_is_accounted_for() -> None:
    folder = _corpus_dir("auto")
    present = {p.name for p in folder.iterdir() if p.is_file()}
    assert present == set(AUTO_KINDS) | set(NOT_AUTOMATIC)


@pytest.mark.parametrize("name", _files("auto"))
def test_corpus_auto_is_automatic(name: str) -> None:
    message = _parse(_corpus_dir("auto") / name)
    result = classify(message)
    if name in NOT_AUTOMATIC:
        assert result is None, f"{name}: {NOT_AUTOMATIC[name]}"
        return
    assert result is not None, f"{name} was not recognised as automatic"
    assert result.kind == AUTO_KINDS[name], result
    assert result.reason and "\n" not in result.reason


@pytest.mark.parametrize("name", sorted(BOUNCE_TIES))
def test_corpus_bounces_are_tied_to_what_they_bounced(name: str) -> None:
    message = _parse(_corpus_dir("auto") / name)
    original, recipient = BOUNCE_TIES[name]
    ids, recipients = bounce_targets(message)
    if original is not None:
        assert original in ids
    if recipient is not None:
        assert recipient in recipients


@pytest.mark.parametrize("name", _files("japanese"))
def test_corpus_japanese_mail_is_told_apart(name: str) -> None:
    result = classify(_parse(_corpus_dir("japanese") / name))
    if name in JAPANESE_AUTOMATIC:
        assert result is not None and result.kind == JAPANESE_AUTOMATIC[name], result
    else:
        assert result is None, f"{name} is a person's mail but was classified {result}"


@pytest.mark.parametrize("name", _files("replies", "*.eml"))
def test_corpus_replies_are_not_automatic(name: str) -> None:
    result = classify(_parse(_corpus_dir("replies") / name))
    assert result is None, f"{name} is a person's reply but was classified {result}"
