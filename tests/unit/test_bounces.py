"""bounce_targets: which of our notifications a bounce names, and which recipients failed.

Hand-built messages here; the real bounces of the corpus are checked beside
the automatic-mail rules in test_rules.py.
"""

from __future__ import annotations

import time

from maild.policy.bounces import bounce_targets
from tests.unit.test_rules import mail


def test_bounce_targets_from_a_standard_dsn() -> None:
    dsn = mail(
        report_type="delivery-status",
        report_original_message_ids=("<n1.abc@example.com>",),
        report_failed_recipients=("Bob@Acme.example",),
    )
    assert bounce_targets(dsn) == (("<n1.abc@example.com>",), ("bob@acme.example",))


def test_bounce_targets_from_threading_headers_and_quoted_body() -> None:
    text = (
        "This is the mail system at host mx.acme.example.\n\n"
        "<bob@acme.example>: host mx said: 550 5.1.1 User unknown\n\n"
        "--- original message ---\n"
        "Message-ID: <n2.def@example.com>\n"
        "To: <carol@acme.example>\n"
        "> Message-Id: <n3.quoted@example.com>\n"
        "Final-Recipient: rfc822; Dave@Acme.example\n"
        "References: <not.taken@example.com>\n"
    )
    bounce = mail(
        ("X-Failed-Recipients", "erin@acme.example, bob@acme.example"),
        in_reply_to=("<n1@example.com>",),
        references=("<root@example.com>", "<n1@example.com>"),
        text=text,
    )
    ids, recipients = bounce_targets(bounce)
    assert ids == (
        "<n1@example.com>",
        "<root@example.com>",
        "<n2.def@example.com>",
        "<n3.quoted@example.com>",
    )
    assert recipients == ("erin@acme.example", "bob@acme.example", "dave@acme.example")
    assert "<carol@acme.example>" not in ids


def test_gmail_style_bounce_recipient() -> None:
    text = "Delivery to the following recipient failed permanently:\n\n     nobody@acme.example\n\nDetails"
    assert bounce_targets(mail(text=text))[1] == ("nobody@acme.example",)


def test_bare_ids_are_given_angle_brackets_and_junk_is_dropped() -> None:
    ids, _ = bounce_targets(
        mail(report_original_message_ids=("n9@example.com", "<>", "no-at-sign", "<a b@c>"))
    )
    assert ids == ("<n9@example.com>",)


def test_bounce_targets_of_a_plain_message_are_empty() -> None:
    assert bounce_targets(mail()) == ((), ())


def test_bounce_targets_on_a_huge_body_are_quick() -> None:
    text = "Message-ID: <x@y>\n" + ("<" * 1000 + "@\n") * 2000 + "Final-Recipient: rfc822;" + "a" * 100_000
    started = time.perf_counter()
    ids, _ = bounce_targets(mail(text=text))
    assert ids == ("<x@y>",)
    assert time.perf_counter() - started < 5.0
