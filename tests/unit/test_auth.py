"""Authentication-Results: the topmost trusted header, parsed per RFC 8601, proves the From domain or not."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maild.inbound.message import Address, InboundMail
from maild.inbound.parse import parse_message
from maild.policy.auth import (
    MICROSOFT365,
    AuthVerdict,
    aligned,
    authentication,
    authserv_id,
    organisational_domain,
    parse_authentication_results,
    sender_authenticated,
)

TRUSTED = ("mx.example.com",)

GMAIL = (
    "mx.google.com;\r\n"
    "       dkim=pass header.i=@acme.example header.s=sel header.b=AbCd/12+;\r\n"
    "       spf=pass (google.com: domain of alice@acme.example designates 2001:db8::1 as permitted sender)"
    " smtp.mailfrom=alice@acme.example;\r\n"
    "       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=acme.example"
)
MICROSOFT = (
    "spf=pass (sender IP is 192.0.2.10) smtp.mailfrom=acme.example; dkim=pass (signature was verified)"
    " header.d=acme.example;dmarc=pass action=none header.from=acme.example;compauth=pass reason=100"
)
# The older Exchange Online form, with the receiving domain as stray tokens.
MICROSOFT_OLD = (
    "spf=pass (sender IP is 192.0.2.10)\r\n smtp.mailfrom=acme.example; support.example;"
    " dkim=pass (signature was\r\n"
    " verified) header.d=acme.example;support.example; dmarc=pass action=none\r\n header.from=acme.example;"
)
OPENDKIM = (
    "mx.example.com; dkim=pass (2048-bit key; unprotected) header.d=acme.example header.i=@acme.example"
    " header.a=rsa-sha256 header.s=sel header.b=AbCd"
)
OPENDMARC = "mx.example.com; dmarc=pass (p=none dis=none) header.from=acme.example"


def mail(
    *headers: tuple[str, str], sender: str = "alice@acme.example", defects: tuple[str, ...] = ()
) -> InboundMail:
    return InboundMail(
        message_id="<m@acme.example>",
        from_addr=Address(sender, "Alice"),
        subject="x",
        text="",
        raw_size=0,
        raw_sha256="0" * 64,
        headers=headers,
        defects=defects,
    )


def ar(value: str) -> tuple[str, str]:
    return ("Authentication-Results", value)


def with_ar(*values: str, sender: str = "alice@acme.example") -> InboundMail:
    return mail(*(ar(v) for v in values), sender=sender)


# ---------------------------------------------------------------- real header forms


def test_gmail_header_proves_by_dmarc() -> None:
    verdict = authentication(with_ar(GMAIL), ["mx.google.com"])
    assert verdict == AuthVerdict(
        True, "dmarc", "acme.example", "dmarc=pass for acme.example (mx.google.com)"
    )


def test_gmail_arc_authentication_results_is_ignored() -> None:
    m = mail(("ARC-Authentication-Results", "i=1; " + GMAIL))
    assert not sender_authenticated(m, ["mx.google.com"])


def test_gmail_dkim_alone_proves_by_header_i() -> None:
    value = "mx.google.com; dkim=pass header.i=@mail.acme.example spf=softfail smtp.mailfrom=x@y.test"
    verdict = authentication(with_ar(value), ["mx.google.com"])
    assert verdict.proven and verdict.method == "dkim" and verdict.domain == "mail.acme.example"


@pytest.mark.parametrize("value", [MICROSOFT, MICROSOFT_OLD])
def test_microsoft_365_header_without_authserv_id(value: str) -> None:
    parsed = parse_authentication_results(value)
    assert parsed is not None and parsed.authserv_id is None
    assert [r.method for r in parsed.results][:3] == ["spf", "dkim", "dmarc"]
    verdict = authentication(with_ar(value), [MICROSOFT365])
    assert verdict.proven and verdict.method == "dmarc" and "microsoft365" in verdict.reason
    # An id-less header means nothing unless the operator opted in.
    assert not sender_authenticated(with_ar(value), TRUSTED)


def test_microsoft_365_literal_id_is_not_the_opt_in() -> None:
    assert not sender_authenticated(
        with_ar("microsoft365; dmarc=pass header.from=acme.example"), [MICROSOFT365]
    )


def test_microsoft_365_compauth_and_bestguesspass_prove_nothing() -> None:
    value = "spf=fail smtp.mailfrom=evil.example; dkim=none (message not signed) header.d=none;"
    value += "dmarc=bestguesspass action=none header.from=acme.example;compauth=pass reason=109"
    assert not sender_authenticated(with_ar(value), [MICROSOFT365])


def test_microsoft_365_own_header_above_a_forged_one_wins() -> None:
    ours = "spf=fail smtp.mailfrom=evil.example; dkim=none header.d=none;dmarc=fail header.from=acme.example"
    forged = "dkim=pass header.d=acme.example;dmarc=pass header.from=acme.example"
    assert not sender_authenticated(with_ar(ours, forged), [MICROSOFT365])


def test_postfix_opendmarc_header_on_top_proves() -> None:
    m = mail(("Received", "from mx (localhost) by mx.example.com"), ar(OPENDMARC), ar(OPENDKIM))
    assert authentication(m, TRUSTED).method == "dmarc"


def test_postfix_opendkim_header_proves_when_it_is_the_topmost() -> None:
    verdict = authentication(with_ar(OPENDKIM, OPENDMARC.replace("pass", "none")), TRUSTED)
    assert verdict.proven and verdict.method == "dkim" and verdict.domain == "acme.example"


def test_only_the_topmost_trusted_header_is_read() -> None:
    # OpenDMARC's "none" on top: the OpenDKIM header below is not read, by design.
    assert not sender_authenticated(with_ar(OPENDMARC.replace("pass", "none"), OPENDKIM), TRUSTED)


# ---------------------------------------------------------------- proven / not proven


@pytest.mark.parametrize(
    "value",
    [
        "mx.example.com; dmarc=pass (p=reject) header.from=acme.example",
        "mx.example.com; dkim=pass header.d=acme.example header.s=sel; spf=fail",
        "mx.example.com; dkim=pass header.i=@mail.acme.example",
        "mx.example.com; dkim=pass header.i=alice@acme.example",
        "mx.example.com; dkim=pass header.d=mail.acme.example",
        "mx.example.com 1; dmarc=pass header.from=acme.example",
        "MX.Example.COM; DMARC=PASS HEADER.FROM=ACME.EXAMPLE",
        "mx.example.com (our gateway); dmarc=pass (aligned) header.from=acme.example.",
        "(comment first) mx.example.com; dmarc=pass header.from=acme.example",
        '"mx.example.com"; dmarc=pass header.from="acme.example"',
        "mx.example.com; dkim/1=pass header.d=acme.example",
        "mx.example.com;\r\n\tdkim=fail header.d=acme.example;\r\n\tdkim=pass header.d=acme.example",
        "mx.example.com; dmarc=pass header.from=acme.example; dkim=pass header.d=evil.example",
        'mx.example.com; dkim=pass reason="good; dmarc=fail" header.d=acme.example',
    ],
)
def test_aligned_passes_from_the_trusted_server_prove_the_sender(value: str) -> None:
    assert sender_authenticated(with_ar(value), TRUSTED)


@pytest.mark.parametrize(
    "value",
    [
        "evil.example; dmarc=pass header.from=acme.example",  # not a server we trust
        "mx.example.com; dmarc=fail header.from=acme.example",
        "mx.example.com; dmarc=pass",  # no header.from: DMARC may have read another From
        "mx.example.com; dmarc=pass header.from=",
        "mx.example.com; dmarc=pass header.from=other.example",
        "mx.example.com; dmarc=pass header.from=mail.acme.example",  # header.from must equal
        "mx.example.com; dkim=pass header.d=evil.example",
        "mx.example.com; dkim=fail header.d=acme.example",
        "mx.example.com; dkim=neutral header.d=acme.example",
        "mx.example.com; dkim=pass",
        "mx.example.com; dkim=pass header.d=evil.example header.i=@acme.example",  # d wins over i
        "mx.example.com; dkim=pass header.d=acme.example.evil.example",
        "mx.example.com; dkim=pass header.d=example",  # a bare top-level domain aligns with nothing
        "mx.example.com; spf=pass smtp.mailfrom=alice@acme.example",  # SPF alone proves nothing
        "mx.example.com; spf=pass smtp.mailfrom=acme.example",
        "mx.example.com; none",
        "mx.example.com",
        "",
        "   ",
        ";dmarc=pass header.from=acme.example",
        "(dmarc=pass header.from=acme.example) mx.example.com; dmarc=none",
        # Quoted strings and comments hide nothing from the tokenizer, and give nothing away.
        'mx.example.com; spf=pass smtp.mailfrom="x;dkim=pass.header.d=acme.example"@evil.example',
        'mx.example.com; spf=pass smtp.mailfrom="x;dkim=pass header.d=acme.example"@evil.example',
        'mx.example.com; spf=pass smtp.mailfrom="a;dmarc=pass header.from=acme.example;"@evil.example',
        "mx.example.com; spf=pass (x; dkim=pass header.d=acme.example) smtp.mailfrom=e@evil.example",
        r"mx.example.com; spf=pass (a \) ; dkim=pass header.d=acme.example) smtp.mailfrom=e@evil.example",
        "mx.example.com; spf=pass (a (b) ; dkim=pass header.d=acme.example) smtp.mailfrom=e@evil.example",
        r'mx.example.com; spf=pass smtp.mailfrom="a\"; dkim=pass header.d=acme.example"@evil.example',
        'mx.example.com; dkim=pass header.d="evil.example"@acme.example',
        'mx.example.com; dmarc=pass header.from="acme.example"evil.example',
        'mx.example.com; dkim=fail reason="; dkim=pass header.d=acme.example" header.d=acme.example',
        # Unterminated quoted strings and comments make the header unreadable.
        'mx.example.com; dmarc=pass header.from=acme.example; spf=pass smtp.mailfrom="x',
        "mx.example.com; dmarc=pass header.from=acme.example (unclosed",
        # A property is not a method, even after a stray separator.
        "mx.example.com; spf=pass smtp.mailfrom=evil.example; header.d=acme.example; dmarc=fail",
    ],
)
def test_anything_else_proves_nothing(value: str) -> None:
    assert not sender_authenticated(with_ar(value), TRUSTED)


def test_no_from_address_is_never_proven() -> None:
    m = with_ar("mx.example.com; dmarc=pass header.from=acme.example")
    assert not sender_authenticated(replace(m, from_addr=None), TRUSTED)
    assert not sender_authenticated(replace(m, from_addr=Address("no-domain")), TRUSTED)
    assert authentication(replace(m, from_addr=None), TRUSTED).reason == "no From domain"


def test_from_domain_compared_case_insensitively() -> None:
    m = with_ar("mx.example.com; dmarc=pass header.from=Acme.Example", sender="Alice@ACME.example")
    assert sender_authenticated(m, ["MX.EXAMPLE.COM "])


def test_internationalised_from_domain_matches_its_a_label() -> None:
    m = with_ar("mx.example.com; dmarc=pass header.from=xn--bcher-kva.example", sender="alice@bücher.example")
    assert sender_authenticated(m, TRUSTED)


# ---------------------------------------------------------------- the topmost trusted header


def test_a_forged_trusted_header_below_ours_is_outvoted() -> None:
    ours = (
        "mx.example.com; dkim=none; spf=pass smtp.mailfrom=evil.example; dmarc=fail header.from=acme.example"
    )
    forged = "mx.example.com; dkim=pass header.d=acme.example; dmarc=pass header.from=acme.example"
    m = mail(ar(ours), ("Received", "from evil by mx.example.com"), ar(forged))
    assert not sender_authenticated(m, TRUSTED)
    # ...even when it sits right below ours and ours did not report dkim at all.
    assert not sender_authenticated(
        with_ar("mx.example.com; spf=pass smtp.mailfrom=e@evil.example", forged), TRUSTED
    )


def test_a_forged_header_further_down_is_ignored_when_ours_is_another_server_s() -> None:
    forged = "mx.example.com; dmarc=pass header.from=acme.example"
    m = mail(
        ar("other-mx.example.net; dmarc=fail header.from=acme.example"),
        ("Received", "from evil.example by other-mx.example.net"),
        ("X-Mailer", "evil"),
        ar(forged),
    )
    assert not sender_authenticated(m, ("other-mx.example.net", "mx.example.com"))


def test_untrusted_headers_above_ours_are_skipped() -> None:
    m = with_ar("relay.example.org; dmarc=fail header.from=acme.example", OPENDMARC)
    assert sender_authenticated(m, TRUSTED)


def test_an_unreadable_topmost_trusted_header_is_not_skipped() -> None:
    too_long = "mx.example.com; dmarc=fail header.from=acme.example (" + "x" * 17_000 + ")"
    assert not sender_authenticated(with_ar(too_long, OPENDMARC), TRUSTED)
    unclosed = 'mx.example.com; spf=pass smtp.mailfrom="x@evil.example'
    assert authentication(with_ar(unclosed, OPENDMARC), TRUSTED).reason.endswith("unreadable")


def test_a_header_the_parser_may_have_cut_short_is_unreadable() -> None:
    value = "mx.example.com; dkim=pass header.d=acme.example (" + "x" * 3000 + ")"
    assert sender_authenticated(with_ar(value), TRUSTED)
    cut = mail(ar(value), defects=("header value longer than 8192 characters truncated",))
    assert not sender_authenticated(cut, TRUSTED)


def test_encoded_words_in_our_mta_header_stay_inert() -> None:
    local = "=?utf-8?q?x=29=3Bdkim=3Dpass_header.d=3Dacme.example=3B=28?="
    raw = (
        f"Authentication-Results: mx.example.com; spf=pass (envelope sender {local}@evil.example)"
        " smtp.mailfrom=evil.example\r\n"
        "From: alice@acme.example\r\nMessage-ID: <a@evil.example>\r\nSubject: x\r\n\r\nhi\r\n"
    ).encode()
    assert not sender_authenticated(parse_message(raw), TRUSTED)


# ---------------------------------------------------------------- the parser


def test_parse_reads_methods_reasons_and_properties() -> None:
    parsed = parse_authentication_results(
        'mx.example.com 1; dkim=pass reason="good sig" (ok) header.d=acme.example header.b="ab;c"'
        " policy.x=1; iprev=pass policy.iprev=192.0.2.1; auth=pass smtp.auth=alice@acme.example"
    )
    assert parsed is not None and parsed.authserv_id == "mx.example.com"
    dkim, iprev, auth = parsed.results
    assert (dkim.method, dkim.result, dkim.reason) == ("dkim", "pass", "good sig")
    assert dkim.properties == (("header.d", "acme.example"), ("header.b", "ab;c"), ("policy.x", "1"))
    assert iprev.prop("policy.iprev") == "192.0.2.1"
    assert auth.prop("smtp.auth") == "alice@acme.example"


def test_parse_none_and_empty() -> None:
    parsed = parse_authentication_results("mx.example.com; none")
    assert parsed is not None and parsed.results == ()
    assert parse_authentication_results("") is None
    assert parse_authentication_results(";") is None


def test_authserv_id_reads_the_first_token() -> None:
    assert authserv_id("mx.example.com 1; spf=pass") == "mx.example.com"
    assert authserv_id("(comment) mx.example.com; x") == "mx.example.com"
    assert authserv_id(MICROSOFT) == ""
    assert authserv_id("") == ""


# ---------------------------------------------------------------- alignment


@pytest.mark.parametrize(
    ("domain", "org"),
    [
        ("acme.example", "acme.example"),
        ("mail.eu.acme.example", "acme.example"),
        ("acme.co.uk", "acme.co.uk"),
        ("mail.acme.co.uk", "acme.co.uk"),
        ("mail.acme.com.au", "acme.com.au"),
        ("mail.acme.or.jp", "acme.or.jp"),
        ("co.uk", None),
        ("com", None),
        ("example", None),
    ],
)
def test_organisational_domain(domain: str, org: str | None) -> None:
    assert organisational_domain(domain) == org


@pytest.mark.parametrize(
    ("signer", "from_domain", "expected"),
    [
        ("acme.example", "acme.example", True),
        ("mail.acme.example", "acme.example", True),
        ("acme.example", "mail.acme.example", True),
        ("a.acme.example", "b.acme.example", True),
        ("mail.acme.co.uk", "acme.co.uk", True),
        ("evil.co.uk", "acme.co.uk", False),  # a shared registry suffix is no organisation
        ("co.uk", "acme.co.uk", False),
        ("example", "acme.example", False),
        ("com", "com", False),
        ("acme.example.evil.example", "acme.example", False),
        ("acme.example", "acme.example.evil.example", False),
        ("evil-acme.example", "acme.example", False),
        ("acme..example", "acme.example", False),
        ("", "acme.example", False),
    ],
)
def test_alignment(signer: str, from_domain: str, expected: bool) -> None:
    assert aligned(signer, from_domain) is expected


# ---------------------------------------------------------------- totality and time


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('mx.example;=/()"\\ @dkimpass\r\n\t')), max_size=300))
def test_random_values_never_raise(value: str) -> None:
    parse_authentication_results(value)
    authentication(with_ar(value, value), ["mx.example", MICROSOFT365])


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_random_unicode_never_raises(value: str) -> None:
    authentication(with_ar(value), ["mx.example.com", MICROSOFT365])


@pytest.mark.parametrize(
    "unit", ["(", ")", '"', ";", "=", "\\", '"\\', "(\\", "a=", "; a=b", "@", " ", "x.y=z "]
)
def test_a_16_kb_header_parses_in_linear_time(unit: str) -> None:
    value = "mx.example.com; " + unit * (16 * 1024 // len(unit))
    start = time.process_time()
    for _ in range(3):
        authentication(with_ar(value[: 16 * 1024]), TRUSTED)
    assert time.process_time() - start < 0.2 * 3
