"""Authentication-Results: only trusted authserv-ids, only passes aligned with the From domain."""

from __future__ import annotations

from dataclasses import replace

import pytest

from maild.auth import authserv_id, sender_authenticated
from maild.inbound import Address, InboundMail
from maild.route import AddComment, OpenCase, Reject, route
from tests.unit.test_route import NOW, POLICY, FakeFacts, mail, token_to

TRUSTED = ("mx.example.com",)


def with_ar(*values: str, sender: str = "alice@acme.example") -> InboundMail:
    m = mail(sender=sender)
    return replace(m, headers=tuple(("Authentication-Results", v) for v in values))


@pytest.mark.parametrize(
    "value",
    [
        "mx.example.com; dmarc=pass (p=reject) header.from=acme.example",
        "mx.example.com; dkim=pass header.d=acme.example header.s=sel; spf=fail",
        "mx.example.com; dkim=pass header.i=@mail.acme.example",
        "mx.example.com 1; spf=pass smtp.mailfrom=bounce@acme.example",
        "MX.Example.COM; DMARC=PASS header.from=acme.example",
        "mx.example.com (our gateway); dmarc=pass (aligned) header.from=acme.example",
    ],
)
def test_aligned_passes_from_a_trusted_server_prove_the_sender(value: str) -> None:
    assert sender_authenticated(with_ar(value), TRUSTED)


@pytest.mark.parametrize(
    "value",
    [
        "evil.example; dmarc=pass header.from=acme.example",  # not a server we trust
        "mx.example.com; dmarc=fail header.from=acme.example",
        "mx.example.com; dkim=pass header.d=evil.example",  # signed, but not by the sender's domain
        "mx.example.com; spf=pass smtp.mailfrom=x@evil.example",
        "mx.example.com; dkim=pass header.d=example",  # a bare top-level domain aligns with nothing
        "mx.example.com; dmarc=pass header.from=evil.example",
        "mx.example.com; none",
        "mx.example.com",
        "",
        "mx.example.com; dkim=pass header.d=acme.example.evil.example",
        "(dmarc=pass) mx.example.com; dmarc=none",
    ],
)
def test_anything_else_proves_nothing(value: str) -> None:
    assert not sender_authenticated(with_ar(value), TRUSTED)


def test_no_from_address_is_never_proven() -> None:
    m = replace(with_ar("mx.example.com; dmarc=pass header.from=acme.example"), from_addr=None)
    assert not sender_authenticated(m, TRUSTED)
    assert not sender_authenticated(replace(m, from_addr=Address("no-domain")), TRUSTED)


def test_authserv_id_reads_the_first_token() -> None:
    assert authserv_id("mx.example.com 1; spf=pass") == "mx.example.com"
    assert authserv_id("(comment) mx.example.com; x") == "mx.example.com"
    assert authserv_id("") == ""


def test_routing_refuses_unproven_senders_without_a_token_when_configured() -> None:
    policy = replace(POLICY, trusted_authserv_ids=TRUSTED)
    proven = "mx.example.com; dmarc=pass header.from=acme.example"
    # New case: proven → opens; unproven (a forged From) → refused silently.
    assert isinstance(route(with_ar(proven), FakeFacts(), policy, NOW), OpenCase)
    refused = route(with_ar(), FakeFacts(), policy, NOW)
    assert isinstance(refused, Reject) and not refused.notify
    # A reply by subject tag from an unproven sender is refused...
    tagged = replace(mail(sender="bob@acme.example", subject="Re: [Case #00000001] x"), headers=())
    assert isinstance(route(tagged, FakeFacts(), policy, NOW), Reject)
    # ...but a reply to the sender's own reply address is proof enough.
    tokened = mail(sender="bob@acme.example", to=[token_to(1, "bob@acme.example")])
    assert isinstance(route(tokened, FakeFacts(), policy, NOW), AddComment)
    # Without the setting nothing changes.
    assert isinstance(route(tagged, FakeFacts(), POLICY, NOW), AddComment)
