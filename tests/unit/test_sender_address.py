"""The sender is the address every mail client and DMARC checker would show: the angle-bracket one.

Each hostile From form has its positive control next to it.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maild.inbound.addresses import Mailbox, mailbox_list, single_mailbox, usable_address
from maild.inbound.message import Address
from maild.inbound.parse import parse_message


def msg(headers: str) -> bytes:
    return (headers + "\nMessage-ID: <m@acme.example>\nSubject: x\n\nbody\n").encode()


def sender_of(from_value: str) -> Address | None:
    return parse_message(msg(f"From: {from_value}")).from_addr


ALICE = Address("alice@acme.example", "Alice Example")


def test_positive_control_a_normal_from() -> None:
    assert sender_of("Alice Example <alice@acme.example>") == ALICE
    assert sender_of('"Alice Example" <Alice@Acme.Example>') == ALICE
    assert sender_of("alice@acme.example") == Address("alice@acme.example")
    assert sender_of("<alice@acme.example>") == Address("alice@acme.example")
    assert sender_of("=?utf-8?q?Alice_Example?= <alice@acme.example>") == ALICE


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("alice@acme.example <mallory@evil.example>", "alice@acme.example"),
        ('"alice@acme.example" <mallory@evil.example>', "alice@acme.example"),
        ("=?utf-8?q?alice=40acme.example?= <mallory@evil.example>", "alice@acme.example"),
        ("=?utf-8?b?YWxpY2VAYWNtZS5leGFtcGxl?= <mallory@evil.example>", "alice@acme.example"),
        ("alice@acme.example (Alice) <mallory@evil.example>", "alice@acme.example"),
        ("Alice <alice@acme.example> <mallory@evil.example>", "Alice"),  # the last angle-addr
        ("<alice@acme.example> <mallory@evil.example>", ""),
        ('"Alice <alice@acme.example>" <mallory@evil.example>', "Alice <alice@acme.example>"),
        ("(alice@acme.example) <mallory@evil.example>", ""),
        ("alice@acme.example\n <mallory@evil.example>", "alice@acme.example"),
    ],
)
def test_an_address_looking_name_is_a_name_the_angle_address_is_the_sender(value: str, name: str) -> None:
    assert sender_of(value) == Address("mallory@evil.example", name)


def test_a_comment_is_never_the_sender() -> None:
    assert sender_of("alice@acme.example (mallory@evil.example)") == Address("alice@acme.example")
    assert sender_of("<alice@acme.example> (mallory@evil.example)") == Address("alice@acme.example")
    assert sender_of("Alice (x) <alice@acme.example (y)>") == Address("alice@acme.example", "Alice")


@pytest.mark.parametrize(
    "value",
    [
        "Group: alice@acme.example;",  # a group
        "Undisclosed:;",
        "alice@acme.example, bob@acme.example",  # several mailboxes: RFC 5322 would want a Sender
        "Alice <alice@acme.example>, Mallory <mallory@evil.example>",
        "alice@acme.example mallory@evil.example",  # whitespace in the addr-spec
        "alice @acme.example",
        '"alice@acme.example"',  # a quoted name alone is no address
        "<alice@acme.example",  # unterminated
        '"Alice <mallory@evil.example>',
        "Alice (unclosed <alice@acme.example>",
        "<<alice@acme.example>>",
        "<>",
        "=?utf-8?q?alice=40acme.example?=",  # an encoded-word is never an address
        "alice\x7f@acme.example",
        "alice\x85@acme.example",  # C1 (NEL)
        "<ali\u009bce@acme.example>",  # C1 (CSI)
        "<alice\u202e@acme.example>",  # bidi override
        "<alice\u00a0@acme.example>",  # no-break space
        "<ali ce@acme.example>",
    ],
)
def test_no_usable_sender(value: str) -> None:
    mail = parse_message(msg(f"From: {value}"))
    assert mail.from_addr is None
    assert mail.defects  # said why


def test_no_usable_sender_with_control_characters_in_raw_bytes() -> None:
    raw = b"From: <alice\x01@acme.example>\nMessage-ID: <m@x>\n\nb\n"
    assert parse_message(raw).from_addr is None
    assert parse_message(b"From: <alice@acme.example>\nMessage-ID: <m@x>\n\nb\n").from_addr is not None


def test_two_from_fields_leave_no_usable_sender() -> None:
    mail = parse_message(msg("From: Alice <alice@acme.example>\nFrom: Mallory <mallory@evil.example>"))
    assert mail.from_addr is None
    assert any("From" in d for d in mail.defects)


def test_sender_header_follows_the_same_rules() -> None:
    mail = parse_message(
        msg("From: Alice <alice@acme.example>\nSender: alice@acme.example <mallory@evil.example>")
    )
    assert mail.from_addr == Address("alice@acme.example", "Alice")
    assert mail.sender == Address("mallory@evil.example", "alice@acme.example")
    mail = parse_message(msg("From: Alice <alice@acme.example>\nSender: a@acme.example, b@acme.example"))
    assert mail.sender is None and mail.from_addr is not None


def test_recipient_lists_keep_every_mailbox_and_group_member() -> None:
    mail = parse_message(
        msg(
            "From: Alice <alice@acme.example>\n"
            'To: "Doe, John" <john@acme.example>, Team: a@acme.example, B <b@acme.example>;, c@acme.example\n'
            "Cc: undisclosed-recipients:;, alice@acme.example <bob@acme.example>\n"
            "Reply-To: Alice <alice@acme.example>, Help <help@acme.example>"
        )
    )
    assert mail.to == (
        Address("john@acme.example", "Doe, John"),
        Address("a@acme.example"),
        Address("b@acme.example", "B"),
        Address("c@acme.example"),
    )
    assert mail.cc == (Address("bob@acme.example", "alice@acme.example"),)
    assert [a.email for a in mail.reply_to] == ["alice@acme.example", "help@acme.example"]


def test_recipient_lists_skip_unusable_mailboxes_with_a_defect() -> None:
    mail = parse_message(msg("From: a@acme.example\nTo: good@acme.example, x <bad\x85@acme.example>, y z@w"))
    assert mail.to == (Address("good@acme.example"),)
    assert any("To" in d for d in mail.defects)


def test_obsolete_route_and_quoted_local_part() -> None:
    assert sender_of("<@relay.example:alice@acme.example>") == Address("alice@acme.example")
    assert sender_of('"alice.x"@acme.example') == Address('"alice.x"@acme.example')


def test_delivered_to_reads_angle_addresses() -> None:
    mail = parse_message(msg("From: a@acme.example\nDelivered-To: x@y.example <support@acme.example>"))
    assert mail.delivered_to == ("support@acme.example",)


# ---------------------------------------------------------------- the splitter itself


def test_mailbox_list_shapes() -> None:
    assert mailbox_list(["a@x.example, (c) , b@x.example"]).mailboxes == (
        Mailbox("a@x.example"),
        Mailbox("b@x.example"),
    )
    grouped = mailbox_list(["G: a@x.example;"])
    assert grouped.has_group and grouped.mailboxes == (Mailbox("a@x.example", in_group=True),)
    assert single_mailbox(["A <a@x.example>"]) == Mailbox("a@x.example", "A")
    assert single_mailbox(["a@x.example", "b@x.example"]) is None
    assert single_mailbox([""]) is None


def test_usable_address() -> None:
    assert usable_address("a@x.example")
    for bad in (
        "",
        "a b@x",
        "a\t@x",
        "a\x00@x",
        "a\x1b@x",
        "a\x7f@x",
        "a\x80@x",
        "a\x9f@x",
        "a\u2028@x",
        "a\u200f@x",
    ):
        assert not usable_address(bad), bad


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab@.<>()",:;\\ =?\t\n\x85')), max_size=200))
def test_random_values_never_raise_and_addresses_are_clean(value: str) -> None:
    for mailbox in mailbox_list([value]).mailboxes:
        assert mailbox.addr == "" or usable_address(mailbox.addr)
    single_mailbox([value])


@pytest.mark.parametrize("unit", ["<", ">", "(", '"', ",", ":", ";", "\\", '"\\', "(<", "a@b <", " "])
def test_a_long_header_splits_in_linear_time(unit: str) -> None:
    value = unit * (64 * 1024 // len(unit))
    start = time.process_time()
    mailbox_list([value])
    assert time.process_time() - start < 0.5
