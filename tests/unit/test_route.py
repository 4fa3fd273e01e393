"""Routing decisions, bytes-free: hand-built messages against dictionary facts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from maild.inbound.message import Address, InboundMail
from maild.policy.route import (
    AddComment,
    AgentFacts,
    CaseFacts,
    ContactFacts,
    Helpdesk,
    Hold,
    Ignore,
    OpenCase,
    Reject,
    RoutingPolicy,
    route,
)
from maild.policy.tokens import make_token, reply_address
from maild.vocab import CaseStatus, Role

SECRET = "route-test-secret-0123456789"
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
POLICY = RoutingPolicy(
    support_address="support@example.com", own_addresses=("support@example.com",), secret=SECRET
)

ALICE = ContactFacts(1, "alice@acme.example", "Alice", 1, True, "en", ("acme.example",))
BOB = ContactFacts(2, "bob@acme.example", "Bob", 1, False, "en", ("acme.example",))
DAVE = ContactFacts(4, "dave@acme.example", "Dave", 1, True, "en", ("acme.example",))
AGENT = AgentFacts(1, "agent@example.com", "Agnes")
CASE1 = CaseFacts(
    1,
    "00000001",
    CaseStatus.NEW,
    1,
    {
        "alice@acme.example": Role.PRIMARY_CONTACT,
        "bob@acme.example": Role.COLLABORATOR,
        "ops@acme.example": Role.COLLABORATOR,
    },
)
CASE2 = CaseFacts(2, "00000002", CaseStatus.NEW, 1, {"dave@acme.example": Role.PRIMARY_CONTACT})


@dataclass
class FakeFacts:
    cases: dict[int, CaseFacts] = field(default_factory=lambda: {1: CASE1, 2: CASE2})
    # The notifications we sent: Message-ID -> (case, recipient). Each copy has its own id.
    sent: dict[str, tuple[int, str]] = field(
        default_factory=lambda: {
            "<ack1@example.com>": (1, "alice@acme.example"),
            "<ack1-bob@example.com>": (1, "bob@acme.example"),
            "<ack1-ops@example.com>": (1, "ops@acme.example"),
            "<ack1-agent@example.com>": (1, "agent@example.com"),
            "<ack2@example.com>": (2, "dave@acme.example"),
        }
    )
    threads: dict[str, int] = field(default_factory=lambda: {"<m0@acme.example>": 1})
    contacts: dict[str, ContactFacts] = field(
        default_factory=lambda: {c.email: c for c in (ALICE, BOB, DAVE)}
    )
    agents: dict[str, AgentFacts] = field(default_factory=lambda: {AGENT.email: AGENT})

    def case_by_id(self, case_id: int) -> CaseFacts | None:
        return self.cases.get(case_id)

    def case_by_message_ids(self, message_ids: Sequence[str]) -> CaseFacts | None:
        for mid in message_ids:
            if mid in self.threads:
                return self.cases[self.threads[mid]]
            if mid in self.sent:
                return self.cases[self.sent[mid][0]]
        return None

    def notified(self, message_ids: Sequence[str]) -> dict[str, str]:
        return {m: self.sent[m][1] for m in message_ids if m in self.sent}

    def case_by_number(self, number: str) -> CaseFacts | None:
        return self.cases.get(int(number))

    def contact(self, email: str) -> ContactFacts | None:
        return self.contacts.get(email)

    def agent(self, email: str) -> AgentFacts | None:
        return self.agents.get(email)

    def agent_emails(self) -> Sequence[str]:
        return list(self.agents)


def mail(
    sender: str = "alice@acme.example",
    subject: str = "Help",
    text: str = "Body",
    *,
    to: Sequence[str] = ("support@example.com",),
    cc: Sequence[str] = (),
    in_reply_to: Sequence[str] = (),
    headers: Sequence[tuple[str, str]] = (),
) -> InboundMail:
    return InboundMail(
        message_id="<m1@acme.example>",
        from_addr=Address(sender, ""),
        subject=subject,
        text=text,
        raw_size=10,
        raw_sha256="0" * 64,
        to=tuple(Address(a) for a in to),
        cc=tuple(Address(a) for a in cc),
        in_reply_to=tuple(in_reply_to),
        headers=tuple(headers),
    )


def token_to(case_id: int, recipient: str) -> str:
    return reply_address("support@example.com", make_token(SECRET, case_id, recipient))


def decide(
    m: InboundMail, facts: FakeFacts | None = None, policy: RoutingPolicy = POLICY, now: datetime = NOW
) -> object:
    return route(m, facts or FakeFacts(), policy, now)


# ------------------------------------------------------------------ new cases


def test_designated_contact_opens_case_with_cc_collaborators() -> None:
    d = decide(
        mail(
            subject="Re: [Sev 2] Login fails",
            cc=["bob@acme.example", "ops@acme.example", "support@example.com", "agent@example.com"],
        )
    )
    assert isinstance(d, OpenCase)
    assert d.contact == ALICE
    assert d.subject == "Login fails"
    assert d.severity.value == 2
    assert [a.email for a in d.collaborators] == ["bob@acme.example", "ops@acme.example"]


def test_collaborator_policy_account_domains_and_none() -> None:
    m = mail(cc=["bob@acme.example", "friend@gmail.example"])
    d = decide(m, policy=replace(POLICY, collaborators="account_domains"))
    assert isinstance(d, OpenCase) and [a.email for a in d.collaborators] == ["bob@acme.example"]
    d = decide(m, policy=replace(POLICY, collaborators="none"))
    assert isinstance(d, OpenCase) and d.collaborators == ()


def test_non_designated_contact_gets_helpdesk() -> None:
    d = decide(mail(sender="bob@acme.example"))
    assert isinstance(d, Helpdesk) and "designated" in d.reason


def test_non_designated_contact_may_open_when_restriction_is_off() -> None:
    d = decide(mail(sender="bob@acme.example"), policy=replace(POLICY, restrict_to_designated_contacts=False))
    assert isinstance(d, OpenCase)


def test_unknown_sender_gets_helpdesk_and_agent_gets_nothing() -> None:
    assert isinstance(decide(mail(sender="stranger@else.example")), Helpdesk)
    d = decide(mail(sender="agent@example.com"))
    assert isinstance(d, Reject) and not d.notify


def test_invalid_severity_falls_back_and_says_so() -> None:
    d = decide(mail(subject="[Sev 9] Broken"))
    assert isinstance(d, OpenCase) and d.severity.value == 3 and d.severity.invalid


# ------------------------------------------------------------------ automatic mail and loops


@pytest.mark.parametrize(
    "headers",
    [
        [("Auto-Submitted", "auto-replied")],
        [("Precedence", "bulk")],
        [("X-Autoreply", "yes")],
        [("List-Id", "<list.example.com>")],
    ],
)
def test_automatic_mail_is_ignored(headers: list[tuple[str, str]]) -> None:
    d = decide(mail(headers=headers))
    assert isinstance(d, Ignore)


def test_mail_from_our_own_address_is_ignored() -> None:
    assert isinstance(decide(mail(sender="support@example.com")), Ignore)
    assert isinstance(decide(mail(sender="support+1-abc@example.com")), Ignore)


def test_no_from_address_is_rejected_silently() -> None:
    m = replace(mail(), from_addr=None)
    d = decide(m)
    assert isinstance(d, Reject) and not d.notify


# ------------------------------------------------------------------ threading


def test_token_reply_from_its_recipient_is_a_comment() -> None:
    d = decide(mail(sender="bob@acme.example", to=[token_to(1, "bob@acme.example")]))
    assert isinstance(d, AddComment) and d.case.id == 1 and d.role == "collaborator" and d.via == "token"


def test_token_outranks_thread_and_tag() -> None:
    d = decide(
        mail(
            sender="dave@acme.example",
            subject="Re: [Case #00000001] x",
            to=[token_to(2, "dave@acme.example")],
            in_reply_to=["<ack1@example.com>"],
        )
    )
    assert isinstance(d, AddComment) and d.case.id == 2 and d.via == "token"


@pytest.mark.parametrize("how", ["flip", "truncate", "other-case", "garbage"])
def test_tampered_token_never_reaches_a_case(how: str) -> None:
    good = make_token(SECRET, 1, "bob@acme.example")
    case_part, mac = good.split("-")
    flipped = "b" if mac[5] != "b" else "c"
    token = {
        "flip": f"{case_part}-{mac[:5]}{flipped}{mac[6:]}",
        "truncate": good[:-4],
        "other-case": f"2-{mac}",
        "garbage": "zzz",
    }[how]
    d = decide(
        mail(
            sender="bob@acme.example",
            subject="Re: [Case #00000001] x",
            to=[f"support+{token}@example.com"],
            in_reply_to=["<ack1@example.com>"],
        )
    )
    assert isinstance(d, Reject), d
    assert not d.notify


def test_token_issued_to_someone_else_proves_nothing_for_the_sender() -> None:
    # Alice writes to Bob's reply address: it threads, but proves nothing about Alice: held.
    d = decide(mail(sender="alice@acme.example", to=[token_to(1, "bob@acme.example")]))
    assert isinstance(d, Hold) and d.case.id == 1
    # Positive control: her own reply address proves her.
    d = decide(mail(sender="alice@acme.example", to=[token_to(1, "alice@acme.example")]))
    assert isinstance(d, AddComment) and d.proof == "possession" and d.role == "primary_contact"
    # Mallory got hold of Bob's copy: not in the sharing settings.
    d = decide(mail(sender="mallory@evil.example", to=[token_to(1, "bob@acme.example")]))
    assert isinstance(d, Reject)


def test_in_reply_to_a_notification_sent_to_the_sender_proves_possession() -> None:
    d = decide(mail(sender="bob@acme.example", in_reply_to=["<ack1-bob@example.com>"]))
    assert isinstance(d, AddComment) and d.via == "thread" and d.case.id == 1 and d.proof == "possession"
    # Someone else's notification threads, but proves nothing: held.
    d = decide(mail(sender="bob@acme.example", in_reply_to=["<ack1@example.com>"]))
    assert isinstance(d, Hold)
    # References count as well as In-Reply-To.
    m = replace(mail(sender="bob@acme.example"), references=("<m0@acme.example>", "<ack1-bob@example.com>"))
    assert isinstance(decide(m), AddComment)


def test_subject_tag_alone_is_held_unless_tokens_required() -> None:
    m = mail(sender="bob@acme.example", subject="Re: [Case #00000001] Help")
    d = decide(m)
    assert isinstance(d, Hold) and "no proof" in d.reason
    strict = replace(POLICY, require_reply_token=True)
    assert not isinstance(decide(m, policy=strict), (AddComment, Hold))
    assert not isinstance(
        decide(mail(sender="bob@acme.example", in_reply_to=["<ack1-bob@example.com>"]), policy=strict),
        AddComment,
    )


def test_unproven_setting_hold_refuse_accept() -> None:
    m = mail(sender="bob@acme.example", subject="Re: [Case #00000001] Help")
    assert isinstance(decide(m, policy=replace(POLICY, unproven="hold")), Hold)
    refused = decide(m, policy=replace(POLICY, unproven="refuse"))
    assert isinstance(refused, Reject) and refused.notify and refused.code == "unproven"
    accepted = decide(m, policy=replace(POLICY, unproven="accept"))
    assert isinstance(accepted, AddComment) and accepted.proof == "none" and accepted.role == "collaborator"


@pytest.mark.parametrize("unproven", ["hold", "accept"])
def test_agents_commands_and_cc_adds_need_proof_whatever_the_setting(unproven: str) -> None:
    policy = replace(POLICY, unproven=unproven)  # type: ignore[arg-type]
    tag = "Re: [Case #00000001] Help"
    forged_agent = mail(sender="agent@example.com", subject=tag, text="#close\nhttp://phish.example")
    forged_close = mail(sender="alice@acme.example", subject=tag, text="#close")
    forged_cc = mail(sender="bob@acme.example", subject=tag, cc=["eve@evil.example"])
    for m in (forged_agent, forged_close, forged_cc):
        d = decide(m, policy=policy)
        assert isinstance(d, Hold), (m.from_addr, d)
    # Positive controls: the same with proof act.
    d = decide(replace(forged_agent, to=(Address(token_to(1, "agent@example.com")),)), policy=policy)
    assert isinstance(d, AddComment) and d.role == "agent" and d.command_names == ("close",)
    d = decide(replace(forged_close, in_reply_to=("<ack1@example.com>",)), policy=policy)
    assert isinstance(d, AddComment) and d.command_names == ("close",)
    d = decide(replace(forged_cc, to=(Address(token_to(1, "bob@acme.example")),)), policy=policy)
    assert isinstance(d, AddComment) and [a.email for a in d.new_collaborators] == ["eve@evil.example"]


def test_a_reply_address_used_with_a_forged_from_proves_nothing() -> None:
    """Mallory, Cc'd on Alice's case, writes to her own reply address as the agent or as Alice."""
    facts = FakeFacts()
    facts.cases[1] = replace(
        CASE1, participants={**CASE1.participants, "mallory@evil.example": Role.COLLABORATOR}
    )
    own = token_to(1, "mallory@evil.example")
    for forged in ("agent@example.com", "alice@acme.example"):
        d = decide(mail(sender=forged, to=[own], text="#close"), facts)
        assert isinstance(d, Hold), (forged, d)
    d = decide(mail(sender="mallory@evil.example", to=[own], text="I am Mallory"), facts)
    assert isinstance(d, AddComment) and d.author == "mallory@evil.example" and d.proof == "possession"


def test_released_message_acts_as_proven() -> None:
    m = mail(sender="bob@acme.example", subject="Re: [Case #00000001] Help", cc=["carol@acme.example"])
    d = route(m, FakeFacts(), POLICY, NOW, released=True)
    assert isinstance(d, AddComment) and d.proof == "released"
    assert [a.email for a in d.new_collaborators] == ["carol@acme.example"]


def test_forged_subject_tag_from_outsider_or_other_case_member_is_rejected() -> None:
    d = decide(mail(sender="mallory@evil.example", subject="Re: [Case #00000001] x"))
    assert isinstance(d, Reject) and d.case is not None and d.case.id == 1
    d = decide(mail(sender="dave@acme.example", subject="Re: [Case #00000001] x"))
    assert isinstance(d, Reject), "dave is designated but not in case 1's sharing settings"


def test_tag_for_a_case_that_does_not_exist() -> None:
    d = decide(mail(sender="alice@acme.example", subject="Re: [Case #00009999] x"))
    assert isinstance(d, Reject)


def test_agent_reply_is_an_agent_comment() -> None:
    d = decide(mail(sender="agent@example.com", in_reply_to=["<ack1-agent@example.com>"]))
    assert isinstance(d, AddComment) and d.role == "agent"


def test_commands_are_read() -> None:
    d = decide(
        mail(sender="alice@acme.example", text="#close\nThanks, solved.", in_reply_to=["<ack1@example.com>"])
    )
    assert isinstance(d, AddComment) and d.command_names == ("close",)
    d = decide(
        mail(sender="alice@acme.example", text="#escalate\nPlease hurry.", in_reply_to=["<ack1@example.com>"])
    )
    assert isinstance(d, AddComment) and d.command_names == ("escalate",)


# ------------------------------------------------------------------ closed cases


def closed_case(days_ago: float) -> FakeFacts:
    facts = FakeFacts()
    facts.cases[1] = replace(CASE1, status=CaseStatus.CLOSED, closed_at=NOW - timedelta(days=days_ago))
    return facts


def test_reply_to_closed_case_within_window_reopens() -> None:
    d = decide(mail(sender="alice@acme.example", in_reply_to=["<ack1@example.com>"]), closed_case(3))
    assert isinstance(d, AddComment) and d.reopen
    # Without proof the reopening reply is held like any other.
    d = decide(mail(sender="alice@acme.example", subject="Re: [Case #00000001] x"), closed_case(3))
    assert isinstance(d, Hold)


def test_reply_to_closed_case_after_window_opens_new_case_referring_to_it() -> None:
    d = decide(
        mail(
            sender="alice@acme.example",
            subject="Re: [Case #00000001] Help",
            in_reply_to=["<ack1@example.com>"],
        ),
        closed_case(30),
    )
    assert isinstance(d, OpenCase) and d.previous_case is not None and d.previous_case.id == 1
    assert d.subject == "Help"


def test_non_contact_collaborator_cannot_reopen_an_old_case() -> None:
    d = decide(mail(sender="ops@acme.example", in_reply_to=["<ack1-ops@example.com>"]), closed_case(30))
    assert isinstance(d, Helpdesk)


def test_non_designated_collaborator_cannot_open_a_case_by_replying_to_an_old_one() -> None:
    # Bob is a contact but not designated: the designated check holds on this path too.
    d = decide(mail(sender="bob@acme.example", in_reply_to=["<ack1-bob@example.com>"]), closed_case(30))
    assert isinstance(d, Helpdesk) and "designated" in d.reason
    relaxed = replace(POLICY, restrict_to_designated_contacts=False)
    d = decide(
        mail(sender="bob@acme.example", in_reply_to=["<ack1-bob@example.com>"]), closed_case(30), relaxed
    )
    assert isinstance(d, OpenCase) and d.previous_case is not None


def test_people_cced_on_a_reply_join_the_sharing_settings() -> None:
    d = decide(
        mail(
            sender="bob@acme.example",
            in_reply_to=["<ack1-bob@example.com>"],
            cc=["alice@acme.example", "carol@acme.example", "support@example.com", "agent@example.com"],
        )
    )
    assert isinstance(d, AddComment)
    assert [a.email for a in d.new_collaborators] == ["carol@acme.example"]


def test_cc_on_a_reply_follows_the_collaborator_policy() -> None:
    facts = FakeFacts()
    facts.cases[1] = replace(CASE1, account_domains=("acme.example",))
    m = mail(
        sender="bob@acme.example",
        in_reply_to=["<ack1-bob@example.com>"],
        cc=["carol@acme.example", "friend@gmail.example"],
    )
    d = decide(m, facts, policy=replace(POLICY, collaborators="account_domains"))
    assert isinstance(d, AddComment) and [a.email for a in d.new_collaborators] == ["carol@acme.example"]
    d = decide(m, facts, policy=replace(POLICY, collaborators="none"))
    assert isinstance(d, AddComment) and d.new_collaborators == ()


def test_outsider_cc_adds_nobody() -> None:
    d = decide(
        mail(sender="mallory@evil.example", in_reply_to=["<ack1@example.com>"], cc=["eve@evil.example"])
    )
    assert isinstance(d, Reject)


# ------------------------------------------------------------------ collaborator caps


def test_collaborators_are_capped_per_message_and_the_rest_listed() -> None:
    cc = [f"user{i}@acme.example" for i in range(400)]
    d = decide(mail(cc=cc))
    assert isinstance(d, OpenCase)
    assert [a.email for a in d.collaborators] == cc[:10]
    assert d.not_added == tuple(cc[10:])
    d = decide(mail(cc=cc[:3]))
    assert isinstance(d, OpenCase) and len(d.collaborators) == 3 and d.not_added == ()


def test_collaborators_are_capped_per_case() -> None:
    policy = replace(POLICY, max_collaborators=3)
    facts = FakeFacts()  # case 1 has two collaborators already
    m = mail(
        sender="bob@acme.example",
        to=[token_to(1, "bob@acme.example")],
        cc=["c1@acme.example", "c2@acme.example"],
    )
    d = decide(m, facts, policy)
    assert isinstance(d, AddComment)
    assert [a.email for a in d.new_collaborators] == ["c1@acme.example"]
    assert d.not_added == ("c2@acme.example",)
