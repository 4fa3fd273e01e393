"""Reply tokens: unguessable, bound to case and recipient, tamper-evident."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maild.mailids import is_own_address
from maild.policy.tokens import issued_to, make_token, parse_token, reply_address, tokens_in

SECRET = "s3cret-s3cret-s3cret"


def test_token_round_trip_names_case_and_recipient() -> None:
    token = make_token(SECRET, 42, "Bob@Acme.example")
    parsed = parse_token(token)
    assert parsed is not None and parsed.case_id == 42
    assert issued_to(SECRET, parsed, ["alice@acme.example", "bob@acme.example"]) == "bob@acme.example"


def test_tokens_differ_per_recipient_and_per_case() -> None:
    tokens = {make_token(SECRET, c, r) for c in (1, 2) for r in ("a@x.example", "b@x.example")}
    assert len(tokens) == 4


def test_token_moved_to_another_case_does_not_verify() -> None:
    token = make_token(SECRET, 1, "bob@acme.example")
    moved = parse_token(token.replace("1-", "2-", 1))
    assert moved is not None
    assert issued_to(SECRET, moved, ["bob@acme.example"]) is None


def test_other_secret_does_not_verify() -> None:
    parsed = parse_token(make_token("another-secret-value", 7, "bob@acme.example"))
    assert parsed is not None
    assert issued_to(SECRET, parsed, ["bob@acme.example"]) is None


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "abc",
        "12",
        "12-",
        "-abcdefghijklmnopqrst",
        "12-abc",
        "x1-" + "a" * 20,
        "1-" + "a" * 19,
        "1-" + "a" * 21,
        "1-" + "0" * 20,
        "1-" + "a" * 19 + "!",
        "9" * 13 + "-" + "a" * 20,
    ],
)
def test_malformed_tokens_are_refused(bad: str) -> None:
    assert parse_token(bad) is None


@given(
    st.integers(min_value=1, max_value=10**9),
    st.emails(),
    st.integers(min_value=0, max_value=19),
    st.sampled_from(string.ascii_lowercase + "234567"),
)
def test_any_single_character_change_breaks_the_mac(case_id: int, email: str, pos: int, ch: str) -> None:
    token = make_token(SECRET, case_id, email)
    head, mac = token.split("-")
    if mac[pos] == ch:
        return
    tampered = parse_token(f"{head}-{mac[:pos]}{ch}{mac[pos + 1 :]}")
    assert tampered is not None
    assert issued_to(SECRET, tampered, [email]) is None


def test_token_survives_case_folding_of_the_local_part() -> None:
    token = make_token(SECRET, 5, "bob@acme.example")
    parsed = parse_token(token.upper())
    assert parsed is not None and issued_to(SECRET, parsed, ["bob@acme.example"]) == "bob@acme.example"


def test_reply_address_and_tokens_in() -> None:
    token = make_token(SECRET, 9, "bob@acme.example")
    address = reply_address("support@example.com", token)
    assert address == f"support+{token}@example.com"
    assert tokens_in(
        [address, "support@example.com", f"support+{token}@other.example", "x@y"], "support@example.com"
    ) == [token]
    assert tokens_in(["SUPPORT+ABC@EXAMPLE.COM"], "support@example.com") == ["abc"]


@pytest.mark.parametrize(
    "address,own",
    [
        ("support@example.com", True),
        ("SUPPORT@example.com", True),
        ("support+1-abc@example.com", True),
        ("support2@example.com", False),
        ("support@example.org", False),
        ("bob@acme.example", False),
        ("no-at-sign", False),
        ("helpdesk@example.com", True),
    ],
)
def test_is_own_address(address: str, own: bool) -> None:
    assert is_own_address(address, ["support@example.com", "helpdesk@example.com"]) is own
