"""Routing: which case an inbound message belongs to, and whether its sender may act.

PURE: `route()` takes the parsed message, the facts it needs (looked up by
the caller through the `Facts` protocol, so tests pass plain dictionaries),
the settings and the current time, and returns a Decision value that
carries its reason. Nothing here writes or sends anything; cases.py
applies the decision.

Order of trust for threading (SPEC §3): a valid reply token, then
In-Reply-To/References naming a Message-ID of the case, then the subject
tag (unless require_reply_token). A token that does not verify stops the
message outright: it is never re-tried through a weaker route.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from maild.auth import sender_authenticated
from maild.inbound import Address, InboundMail
from maild.intake import (
    SeverityChoice,
    clean_subject,
    find_case_tag,
    read_command,
    read_severity,
    strip_severity_tag,
)
from maild.rules import AutomaticMail, classify_automatic
from maild.tokens import is_own_address, issued_to, parse_token, tokens_in

Role = Literal["primary_contact", "collaborator", "agent"]
Via = Literal["token", "thread", "tag"]


@dataclass(frozen=True, slots=True)
class ContactFacts:
    id: int
    email: str
    name: str
    account_id: int
    designated: bool
    language: str | None
    account_domains: tuple[str, ...] = ()
    # The account's name and plan, read with the contact (a new case shows and uses them).
    account_name: str = ""
    account_plan: str | None = None


@dataclass(frozen=True, slots=True)
class AgentFacts:
    id: int
    email: str
    name: str


@dataclass(frozen=True, slots=True)
class CaseFacts:
    id: int
    number: str
    status: str
    account_id: int
    participants: Mapping[str, Role]  # email -> role (primary_contact | collaborator)
    closed_at: datetime | None = None
    first_response_due_at: datetime | None = None
    first_responded_at: datetime | None = None
    account_domains: tuple[str, ...] = ()


class Facts(Protocol):
    """What routing needs to know about the world; cases.py answers from the database."""

    def case_by_id(self, case_id: int) -> CaseFacts | None: ...
    def case_by_message_ids(self, message_ids: Sequence[str]) -> CaseFacts | None: ...
    def case_by_number(self, number: str) -> CaseFacts | None: ...
    def contact(self, email: str) -> ContactFacts | None: ...
    def agent(self, email: str) -> AgentFacts | None: ...
    def agent_emails(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """The settings routing depends on, so tests need not build a whole config."""

    support_address: str
    own_addresses: tuple[str, ...]
    secret: str
    restrict_to_designated_contacts: bool = True
    require_reply_token: bool = False
    collaborators: Literal["any", "account_domains", "none"] = "any"
    reopen_window: timedelta = timedelta(days=14)
    default_severity: int = 3
    agent_address: str | None = None
    trusted_authserv_ids: tuple[str, ...] = ()


# --------------------------------------------------------------------------- decisions


@dataclass(frozen=True, slots=True)
class Ignore:
    """Automatic mail or a loop: recorded, never answered."""

    reason: str
    automatic: AutomaticMail | None = None
    outcome: str = "ignored"


@dataclass(frozen=True, slots=True)
class Reject:
    """The sender may not act on the case (or the message names none validly).

    `notify` says whether the sender gets (rate-limited) word of it.
    """

    reason: str
    case: CaseFacts | None = None
    notify: bool = True
    code: str = "not_participant"  # the sender-facing reason (i18n.REJECTION_REASONS)
    outcome: str = "rejected"


@dataclass(frozen=True, slots=True)
class Helpdesk:
    """Not someone who may open cases: one short help-desk reply, no case."""

    reason: str
    contact: ContactFacts | None = None
    outcome: str = "helpdesk"


@dataclass(frozen=True, slots=True)
class OpenCase:
    contact: ContactFacts
    subject: str
    severity: SeverityChoice
    collaborators: tuple[Address, ...]
    previous_case: CaseFacts | None = None
    reason: str = "new case from a designated contact"
    outcome: str = "case_opened"


@dataclass(frozen=True, slots=True)
class AddComment:
    case: CaseFacts
    author: str
    author_name: str
    role: Role
    via: Via
    command: Literal["escalate", "close"] | None = None
    reopen: bool = False
    contact: ContactFacts | None = None
    new_collaborators: tuple[Address, ...] = field(default_factory=tuple)
    reason: str = ""
    outcome: str = "comment_added"


Decision = Ignore | Reject | Helpdesk | OpenCase | AddComment


# --------------------------------------------------------------------------- routing


def route(mail: InboundMail, facts: Facts, policy: RoutingPolicy, now: datetime) -> Decision:
    """Decide what one inbound message does. Never raises for any parsed message."""
    sender = mail.from_addr.email if mail.from_addr else ""
    if is_own_address(sender, policy.own_addresses):
        return Ignore(f"from our own address {sender}")
    automatic = classify_automatic(mail, policy.own_addresses)
    if automatic is not None:
        return Ignore(automatic.reason, automatic)
    if not sender or "@" not in sender:
        return Reject("no usable From address", notify=False)
    proven = not policy.trusted_authserv_ids or sender_authenticated(mail, policy.trusted_authserv_ids)

    found = _find_case(mail, facts, policy, sender)
    if isinstance(found, Reject):
        return found
    if found is None:
        if not proven:
            return Reject(f"{sender} is not proven by a trusted Authentication-Results header", notify=False)
        return _new_case(mail, facts, policy, sender)
    case, via = found
    if not proven and via != "token":
        # Without a reply token only the From address says who wrote: it must be proven.
        return Reject(
            f"{sender} is not proven by a trusted Authentication-Results header", case=case, notify=False
        )
    return _reply(mail, facts, policy, now, sender, case, via)


def _find_case(
    mail: InboundMail, facts: Facts, policy: RoutingPolicy, sender: str
) -> tuple[CaseFacts, Via] | Reject | None:
    addressed = [a.email for a in mail.recipients] + list(mail.delivered_to)
    tokens = tokens_in(addressed, policy.support_address)
    if tokens:
        return _case_from_tokens(tokens, facts, policy, sender)
    if policy.require_reply_token:
        return None
    thread_ids = list(dict.fromkeys((*mail.in_reply_to, *reversed(mail.references))))
    if thread_ids:
        case = facts.case_by_message_ids(thread_ids)
        if case is not None:
            return case, "thread"
    number = find_case_tag(mail.subject)
    if number is not None:
        case = facts.case_by_number(number)
        if case is None:
            return Reject(f"the subject names case {number}, which does not exist", code="unknown_case")
        return case, "tag"
    return None


def _case_from_tokens(
    tokens: Sequence[str], facts: Facts, policy: RoutingPolicy, sender: str
) -> tuple[CaseFacts, Via] | Reject:
    chosen: CaseFacts | None = None
    for token in tokens:
        parsed = parse_token(token)
        case = facts.case_by_id(parsed.case_id) if parsed else None
        if parsed is None or case is None:
            return Reject("the reply address is not one we issued", notify=False)
        candidates = [sender, *case.participants, *facts.agent_emails()]
        if policy.agent_address:
            candidates.append(policy.agent_address)
        holder = issued_to(policy.secret, parsed, candidates)
        if holder is None:
            return Reject(
                "the reply address failed verification (forged or altered)", case=None, notify=False
            )
        if chosen is not None and chosen.id != case.id:
            return Reject(
                "the message is addressed to the reply addresses of two different cases", notify=False
            )
        chosen = case
    assert chosen is not None
    return chosen, "token"


def _reply(
    mail: InboundMail,
    facts: Facts,
    policy: RoutingPolicy,
    now: datetime,
    sender: str,
    case: CaseFacts,
    via: Via,
) -> Decision:
    agent = facts.agent(sender)
    contact = facts.contact(sender)
    role: Role | None = "agent" if agent else case.participants.get(sender)
    if role is None:
        return Reject(f"{sender} is not in the sharing settings of case {case.number}", case=case)
    command = read_command(mail.text)
    name = (
        (agent.name if agent else None)
        or (mail.from_addr.name if mail.from_addr else "")
        or (contact.name if contact else "")
    )
    if case.status == "closed" and role != "agent":
        closed_at = case.closed_at or now
        if now - closed_at > policy.reopen_window:
            if contact is None:
                return Reject(
                    f"case {case.number} is closed and {sender} cannot open a new one",
                    case=case,
                    code="case_closed",
                )
            return OpenCase(
                contact=contact,
                subject=clean_subject(strip_severity_tag(mail.subject)),
                severity=read_severity(mail.subject, mail.text, policy.default_severity),
                collaborators=(),
                previous_case=case,
                reason=f"reply to case {case.number}, closed longer than the reopen window",
            )
        return AddComment(
            case,
            sender,
            name,
            role,
            via,
            command,
            reopen=True,
            contact=contact,
            new_collaborators=_added_by_cc(mail, facts, policy, sender, case),
            reason=f"reply reopens case {case.number}",
        )
    return AddComment(
        case,
        sender,
        name,
        role,
        via,
        command,
        contact=contact,
        new_collaborators=_added_by_cc(mail, facts, policy, sender, case),
        reason=f"reply to case {case.number} via {via}",
    )


def _added_by_cc(
    mail: InboundMail, facts: Facts, policy: RoutingPolicy, sender: str, case: CaseFacts
) -> tuple[Address, ...]:
    """People Cc'd on a reply join the sharing settings (as on a new case), if not in them already."""
    chosen = pick_collaborators(mail, policy, sender, case.account_domains, facts)
    return tuple(a for a in chosen if a.email not in case.participants)


def _new_case(mail: InboundMail, facts: Facts, policy: RoutingPolicy, sender: str) -> Decision:
    contact = facts.contact(sender)
    if contact is None:
        if facts.agent(sender) is not None:
            return Reject("agents open no cases by email", notify=False)
        return Helpdesk(f"{sender} is not a known contact")
    if policy.restrict_to_designated_contacts and not contact.designated:
        return Helpdesk(f"{sender} is not a designated contact", contact)
    return OpenCase(
        contact=contact,
        subject=clean_subject(strip_severity_tag(mail.subject)),
        severity=read_severity(mail.subject, mail.text, policy.default_severity),
        collaborators=pick_collaborators(mail, policy, sender, contact.account_domains, facts),
    )


def pick_collaborators(
    mail: InboundMail, policy: RoutingPolicy, sender: str, account_domains: Sequence[str], facts: Facts
) -> tuple[Address, ...]:
    """To/Cc addresses other than ours and the sender's, as the policy allows."""
    if policy.collaborators == "none":
        return ()
    chosen: dict[str, Address] = {}
    own = (*policy.own_addresses, *([policy.agent_address] if policy.agent_address else []))
    for address in mail.recipients:
        email = address.email
        if not email or "@" not in email or email == sender or email in chosen:
            continue
        if is_own_address(email, own) or facts.agent(email) is not None:
            continue
        if policy.collaborators == "account_domains":
            domain = email.rsplit("@", 1)[1]
            if domain not in account_domains:
                continue
        chosen[email] = address
    return tuple(chosen.values())
