"""Properties of `route()` over generated messages against a small world of facts.

The hand-made cases in test_route.py show single decisions; here hypothesis
generates senders (contacts, collaborators, agents, outsiders, our own
addresses), recipients (the support address, genuine reply addresses for
every case and holder, forged and tampered ones), subjects with and without
case tags, In-Reply-To values and automatic-mail headers, under every
routing policy, and checks what must hold for all of them:

* route never raises;
* an AddComment's author is the sender and is in that case's sharing
  settings, or an agent;
* a message carrying any reply token that does not verify is never an
  AddComment or an OpenCase;
* an outsider (no contact, no agent, in no sharing settings) never adds a comment;
* automatic mail (and mail from our own addresses) is Ignore, and only it is.

The oracle for "verifies" is computed here with make_token, not with
route's own helpers. Then the same invariants over parse_message on
mutated raw bytes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maild.inbound.message import Address, InboundMail
from maild.inbound.parse import parse_message
from maild.mailids import is_own_address
from maild.policy.route import (
    AddComment,
    CaseFacts,
    ContactFacts,
    Ignore,
    OpenCase,
    RoutingPolicy,
    route,
)
from maild.policy.rules import classify_automatic
from maild.policy.tokens import make_token, reply_address
from maild.vocab import Role
from tests.unit.test_route import ALICE, BOB, CASE1, CASE2, DAVE, NOW, POLICY, SECRET, FakeFacts

SUPPORT = "support@example.com"
YAMADA = ContactFacts(5, "yamada@acme.example", "山田", 1, True, "ja", ("acme.example",))
CASE3 = CaseFacts(
    3,
    "00000003",
    "closed",
    1,
    {"alice@acme.example": Role.PRIMARY_CONTACT, "ops@acme.example": Role.COLLABORATOR},
    closed_at=NOW - timedelta(days=30),
)
CASE4 = CaseFacts(
    4,
    "00000004",
    "closed",
    1,
    {"dave@acme.example": Role.PRIMARY_CONTACT, "bob@acme.example": Role.COLLABORATOR},
    closed_at=NOW - timedelta(days=1),
)
CASES = {1: CASE1, 2: CASE2, 3: CASE3, 4: CASE4}
THREADS = {"<ack1@example.com>": 1, "<ack2@example.com>": 2, "<ack3@example.com>": 3, "<ack4@example.com>": 4}


def world() -> FakeFacts:
    return FakeFacts(
        cases=dict(CASES),
        threads=dict(THREADS),
        contacts={c.email: c for c in (ALICE, BOB, DAVE, YAMADA)},
    )


FACTS = world()
AGENTS = tuple(FACTS.agents)
PARTICIPANTS = {email for case in CASES.values() for email in case.participants}
OUTSIDERS = ("mallory@evil.example", "eve@acme.example", "x@y.example")
OWN = (SUPPORT, "support+anything@example.com", "Support@Example.com")
SENDERS = (
    *FACTS.contacts,
    *AGENTS,
    "ops@acme.example",
    *OUTSIDERS,
    *OWN,
    "",
    "mailer-daemon",
)
HOLDERS = (*PARTICIPANTS, *AGENTS, *OUTSIDERS, "yamada@acme.example")

PROPS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MUTATIONS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_B32 = "abcdefghijklmnopqrstuvwxyz234567"

# ------------------------------------------------------------------ strategies


@st.composite
def token_addresses(draw: st.DrawFn) -> str:
    """A support+TOKEN address: genuine (any case, any holder), tampered, wrong secret, or junk."""
    kinds = ["member", "member", "member", "genuine", "tampered", "other_secret", "moved", "junk", "no_case"]
    kind = draw(st.sampled_from(kinds))
    case_id = draw(st.sampled_from([*CASES, 99]))
    holder = draw(st.sampled_from(HOLDERS))
    if kind == "member":  # issued to someone in that case's sharing settings, or an agent
        case_id = draw(st.sampled_from(sorted(CASES)))
        holder = draw(st.sampled_from([*CASES[case_id].participants, *AGENTS]))
    token = make_token(SECRET, case_id, holder)
    if kind == "tampered":
        i = draw(st.integers(0, len(token) - 1))
        token = token[:i] + draw(st.sampled_from([c for c in _B32 + "0-" if c != token[i]])) + token[i + 1 :]
    elif kind == "other_secret":
        token = make_token("not-the-secret", case_id, holder)
    elif kind == "moved":  # a genuine MAC pasted onto another case number
        token = f"{draw(st.sampled_from([c for c in CASES if c != case_id]))}-{token.split('-', 1)[1]}"
    elif kind == "junk":
        token = draw(st.text(alphabet=_B32 + "0189-_.=", min_size=1, max_size=40))
    elif kind == "no_case":
        token = make_token(SECRET, draw(st.integers(5, 10**12 - 1)), holder)
    if draw(st.booleans()):
        token = token.upper()
    return reply_address(SUPPORT, token)


recipient = st.one_of(
    st.just(SUPPORT),
    token_addresses(),
    st.sampled_from([*PARTICIPANTS, *AGENTS, *OUTSIDERS, "support@other.example", "support+x@other.example"]),
)

AUTO_HEADERS = [
    ("Auto-Submitted", "auto-replied"),
    ("Auto-Submitted", "auto-generated"),
    ("Precedence", "bulk"),
    ("Precedence", "junk"),
    ("List-Id", "<users.lists.example>"),
    ("X-Autoreply", "yes"),
    ("Return-Path", "<>"),
]
PLAIN_HEADERS = [("Auto-Submitted", "no"), ("X-Mailer", "Thunderbird"), ("Precedence", "normal")]


@st.composite
def subjects(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from(["Help", "Re: Login fails", "[Sev 1] down", "転送: 障害", "Out of office"]))
    if draw(st.booleans()):
        number = draw(st.sampled_from([1, 2, 3, 4, 99, 12345678]))
        tag = f"[Case #{number:08d}]"
        base = draw(st.sampled_from([f"Re: {tag} {base}", f"{base} {tag}", tag]))
    return base + draw(st.text(max_size=10))


@st.composite
def inbound_mails(draw: st.DrawFn) -> InboundMail:
    sender = draw(st.one_of(st.sampled_from(SENDERS), st.sampled_from([*PARTICIPANTS, *AGENTS])))
    to = draw(st.lists(recipient, min_size=0, max_size=2))
    cc = draw(st.lists(recipient, max_size=2))
    delivered = draw(st.lists(recipient, max_size=1)) if draw(st.integers(0, 4)) == 0 else []
    headers = draw(st.lists(st.sampled_from(AUTO_HEADERS + PLAIN_HEADERS * 5), max_size=2))
    text = draw(st.sampled_from(["Body", "#close\nplease", "#escalate", "Severity: 1\nDown", ""]))
    return InboundMail(
        message_id=draw(st.sampled_from(["<m1@acme.example>", "<ack1@example.com>"])),
        from_addr=Address(sender.lower(), draw(st.sampled_from(["", "Alice", "山田"]))) if sender else None,
        subject=draw(subjects()),
        text=text,
        raw_size=100,
        raw_sha256="0" * 64,
        to=tuple(Address(a.lower()) for a in to),
        cc=tuple(Address(a.lower()) for a in cc),
        delivered_to=tuple(a.lower() for a in delivered),
        in_reply_to=tuple(draw(st.lists(st.sampled_from([*THREADS, "<x@elsewhere>"]), max_size=2))),
        references=tuple(draw(st.lists(st.sampled_from([*THREADS, "<y@elsewhere>"]), max_size=2))),
        headers=tuple(headers),
    )


policies = st.builds(
    lambda require, restrict, collab, agent, unproven: replace(
        POLICY,
        require_reply_token=require,
        restrict_to_designated_contacts=restrict,
        collaborators=collab,
        agent_address=agent,
        unproven=unproven,
    ),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["any", "account_domains", "none"]),
    st.sampled_from([None, "agents@example.com"]),
    st.sampled_from(["hold", "refuse", "accept"]),
)

# ------------------------------------------------------------------ the oracle


def carried_tokens(mail: InboundMail, policy: RoutingPolicy) -> list[str]:
    """Tokens of every support+TOKEN@<support domain> address the message was sent to."""
    local, domain = policy.support_address.lower().rsplit("@", 1)
    found = []
    for addr in [a.email for a in mail.recipients] + list(mail.delivered_to):
        a_local, _, a_domain = addr.lower().rpartition("@")
        if a_domain == domain and a_local.startswith(local + "+") and len(a_local) > len(local) + 1:
            found.append(a_local[len(local) + 1 :])
    return found


def verifies(token: str, sender: str, policy: RoutingPolicy) -> bool:
    """Issued by us, for an existing case, to the sender, someone in its sharing settings or an agent."""
    case_part, _, _mac = token.partition("-")
    if not case_part.isdigit() or len(case_part) > 12:
        return False
    case = CASES.get(int(case_part))
    if case is None:
        return False
    holders = [sender, *case.participants, *AGENTS, *([policy.agent_address] if policy.agent_address else [])]
    return any(make_token(policy.secret, case.id, h) == token for h in holders)


def is_outsider(sender: str) -> bool:
    return sender not in FACTS.contacts and sender not in FACTS.agents and sender not in PARTICIPANTS


def check_invariants(mail: InboundMail, policy: RoutingPolicy) -> object:
    decision = route(mail, FACTS, policy, NOW)
    sender = mail.from_addr.email if mail.from_addr else ""
    own = is_own_address(sender, policy.own_addresses)
    automatic = own or classify_automatic(mail, policy.own_addresses) is not None
    assert isinstance(decision, Ignore) == automatic, (decision, mail)

    tokens = carried_tokens(mail, policy)
    if any(not verifies(t, sender, policy) for t in tokens):
        assert not isinstance(decision, AddComment | OpenCase), (decision, tokens)
    if isinstance(decision, AddComment):
        assert decision.author == sender
        assert decision.author in decision.case.participants or FACTS.agent(decision.author) is not None
        assert (decision.role == "agent") == (FACTS.agent(sender) is not None)
        assert not is_outsider(sender)
        if tokens:
            assert decision.via == "token"
            assert {int(t.partition("-")[0]) for t in tokens} == {decision.case.id}
        elif policy.require_reply_token:
            raise AssertionError(f"threaded without a token although tokens are required: {decision}")
        # SPEC §8: without proof only a plain comment by a participant, and only under "accept".
        if decision.proof == "none":
            assert policy.unproven == "accept", decision
            assert decision.role != "agent" and decision.command_names == (), decision
            assert decision.new_collaborators == (), decision
        assert len(decision.new_collaborators) <= policy.max_new_collaborators
    if isinstance(decision, OpenCase):
        contact = FACTS.contact(sender)
        assert contact is not None and decision.contact == contact
        assert contact.designated or not policy.restrict_to_designated_contacts
        assert all(not is_own_address(a.email, policy.own_addresses) for a in decision.collaborators)
    return decision


# ------------------------------------------------------------------ properties


@PROPS
@given(inbound_mails(), policies)
def test_route_invariants_hold_for_any_message(mail: InboundMail, policy: RoutingPolicy) -> None:
    check_invariants(mail, policy)


@PROPS
@given(inbound_mails(), policies, st.sampled_from(AUTO_HEADERS))
def test_automatic_mail_is_only_ever_ignored(
    mail: InboundMail, policy: RoutingPolicy, header: tuple[str, str]
) -> None:
    mail = replace(mail, headers=(*mail.headers, header))
    assert isinstance(check_invariants(mail, policy), Ignore)


@PROPS
@given(
    st.sampled_from(sorted(CASES)),
    st.sampled_from(HOLDERS),
    st.integers(0, 19),
    st.sampled_from(SENDERS),
    st.data(),
)
def test_a_token_changed_in_any_mac_character_never_reaches_a_case(
    case_id: int, holder: str, index: int, sender: str, data: st.DataObject
) -> None:
    genuine = make_token(SECRET, case_id, holder)
    number, mac = genuine.split("-")
    new = data.draw(st.sampled_from([c for c in _B32 if c != mac[index]]))
    forged = f"{number}-{mac[:index]}{new}{mac[index + 1 :]}"
    mail = InboundMail(
        message_id="<m@x>",
        from_addr=Address(sender.lower()) if sender else None,
        subject=f"Re: [Case #{case_id:08d}]",
        text="hello",
        raw_size=1,
        raw_sha256="0" * 64,
        to=(Address(reply_address(SUPPORT, forged)),),
        in_reply_to=(f"<ack{case_id}@example.com>",),
    )
    decision = check_invariants(mail, POLICY)
    assert not isinstance(decision, AddComment | OpenCase)


@PROPS
@given(st.sampled_from(OUTSIDERS), inbound_mails(), policies)
def test_an_outsider_never_adds_a_comment(sender: str, mail: InboundMail, policy: RoutingPolicy) -> None:
    mail = replace(mail, from_addr=Address(sender))
    decision = check_invariants(mail, policy)
    assert not isinstance(decision, AddComment | OpenCase)


# ------------------------------------------------------------------ parse -> route on mutated bytes

SEEDS: list[bytes] = [
    (
        "From: Alice <alice@acme.example>\r\nTo: "
        + reply_address(SUPPORT, make_token(SECRET, 1, "alice@acme.example"))
        + "\r\nCc: bob@acme.example, friend@gmail.example\r\nSubject: Re: [Case #00000001] Login\r\n"
        "In-Reply-To: <ack1@example.com>\r\nMessage-ID: <r1@acme.example>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "#close\r\nThanks.\r\n\r\nOn Sat, x wrote:\r\n> old\r\n"
    ).encode(),
    b"From: MAILER-DAEMON@mx.example\r\nTo: support@example.com\r\nSubject: Undelivered Mail\r\n"
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n"
    b"--r\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--r\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Final-Recipient: rfc822; alice@acme.example\r\nAction: failed\r\n\r\n"
    b"--r\r\nContent-Type: message/rfc822\r\n\r\nMessage-ID: <ack1@example.com>\r\n\r\nx\r\n--r--\r\n",
    b"From: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <yamada@acme.example>\r\nTo: support@example.com\r\n"
    b"Subject: =?ISO-2022-JP?B?GyRCLSEbKEI=?= [Case #00000002]\r\nMessage-ID: <j@acme.example>\r\n"
    b"Content-Type: text/plain; charset=ISO-2022-JP\r\n\r\n\x1b$B$3$s$K$A$O\x1b(B\r\n",
    b"From: mallory@evil.example\r\nTo: support+1-aaaaaaaaaaaaaaaaaaaa@example.com\r\n"
    b"Subject: =?utf-8?q?x=0D=0ABcc:_a@b?=\r\nAuto-Submitted: no\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n'
    b"<p>hi</p>\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\nAAAA\r\n--b--\r\n",
]

mutation = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "truncate", "dup"]),
    st.integers(0, 10**6),
    st.binary(min_size=1, max_size=8),
)


def mutate(raw: bytes, ops: list[tuple[str, int, bytes]]) -> bytes:
    data = bytearray(raw)
    for op, pos, chunk in ops:
        if not data:
            data += chunk
            continue
        i = pos % len(data)
        if op == "flip":
            data[i] ^= chunk[0] or 1
        elif op == "insert":
            data[i:i] = chunk
        elif op == "delete":
            del data[i : i + len(chunk)]
        elif op == "truncate":
            del data[i:]
        else:
            data[i:i] = data[i : i + 64]
    return bytes(data)


@MUTATIONS
@given(st.sampled_from(SEEDS), st.lists(mutation, min_size=1, max_size=6), policies)
def test_parse_then_route_never_raises_on_mutated_bytes(
    seed: bytes, ops: list[tuple[str, int, bytes]], policy: RoutingPolicy
) -> None:
    mail = parse_message(mutate(seed, ops))
    check_invariants(mail, policy)


def test_the_seeds_route_as_intended() -> None:
    """The unmutated seeds reach the decisions the mutations start from (so the property is not vacuous)."""
    decisions = [route(parse_message(raw), FACTS, POLICY, NOW) for raw in SEEDS]
    assert isinstance(decisions[0], AddComment) and decisions[0].command_names == ("close",)
    assert isinstance(decisions[1], Ignore)
    assert not isinstance(decisions[3], AddComment | OpenCase)
    assert [type(d).__name__ for d in decisions] == ["AddComment", "Ignore", "Reject", "Reject"]
