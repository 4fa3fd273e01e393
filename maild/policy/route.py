"""Routing: which case an inbound message belongs to, and whether its sender may act.

PURE: `route()` takes the parsed message, the facts it needs (looked up by
the caller through the `Facts` protocol, so tests pass plain dictionaries),
the settings and the current time, and returns a Decision value that
carries its reason. Nothing here writes or sends anything; maild.cases
applies the decision.

Order of trust for threading (SPEC §3): a valid reply token, then
In-Reply-To/References naming a Message-ID of the case, then the subject
tag (unless require_reply_token). A token that does not verify stops the
message outright: it is never re-tried through a weaker route.

Threading says which case; proof says who wrote (SPEC §8). The From header
proves nothing by itself, so a reply acts only as far as its proof goes:
possession (the sender's own reply address, or a reference to a
notification sent to the sender's address), or a trusted
Authentication-Results header. Agents, commands and Cc-adds need proof
always; a plain comment without proof is held for an agent by default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar, Literal, Protocol

from maild.inbound.commands import ReplyCommand, read_commands
from maild.inbound.intake import SeverityChoice, clean_subject, read_severity, strip_severity_tag
from maild.inbound.message import Address, InboundMail
from maild.inbound.topics import strip_topic_tag
from maild.mailids import find_case_tag, is_own_address
from maild.policy.auth import sender_authenticated
from maild.policy.rules import AutomaticMail, classify_automatic
from maild.policy.tokens import issued_to, parse_token, tokens_in
from maild.vocab import CaseStatus, InboundOutcome, Role

Via = Literal["token", "thread", "tag"]
# How a reply shows who wrote it; "released": an agent vouched for it (maild inbound release).
Proof = Literal["possession", "authenticated", "released", "none"]
Unproven = Literal["hold", "refuse", "accept"]


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """A known contact, as routing needs it: whether it may open cases, and its account."""

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
    """A support engineer: acts on any case, but only with proof (SPEC §8)."""

    id: int
    email: str
    name: str


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """A case as routing needs it: who shares it, whether it is closed, and since when."""

    id: int
    number: str
    status: str
    account_id: int
    participants: Mapping[str, Role]  # email -> role (primary_contact | collaborator)
    closed_at: datetime | None = None
    first_response_due_at: datetime | None = None
    first_responded_at: datetime | None = None
    account_domains: tuple[str, ...] = ()
    team: str | None = None  # SPEC §10: whose address hears of a held reply


class Facts(Protocol):
    """What routing needs to know about the world; maild.cases.facts answers from the database."""

    def case_by_id(self, case_id: int) -> CaseFacts | None: ...
    def case_by_message_ids(self, message_ids: Sequence[str]) -> CaseFacts | None: ...
    def case_by_number(self, number: str) -> CaseFacts | None: ...
    def contact(self, email: str) -> ContactFacts | None: ...
    def agent(self, email: str) -> AgentFacts | None: ...
    def agent_emails(self) -> Sequence[str]: ...
    def notified(self, message_ids: Sequence[str]) -> Mapping[str, str]:
        """Message-ID -> recipient for those of `message_ids` that are notifications we queued."""
        ...


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
    unproven: Unproven = "hold"
    max_new_collaborators: int = 10
    max_collaborators: int = 50
    # [teams.*] addresses and managers: ours, like agent_address (SPEC §10).
    team_addresses: tuple[str, ...] = ()

    @property
    def staff_addresses(self) -> tuple[str, ...]:
        """Our people's shared addresses: never collaborators; holders of their copies' reply addresses."""
        return (*([self.agent_address] if self.agent_address else []), *self.team_addresses)


# --------------------------------------------------------------------------- decisions


@dataclass(frozen=True, slots=True)
class Ignore:
    """Automatic mail or a loop: recorded, never answered."""

    reason: str
    automatic: AutomaticMail | None = None
    outcome: ClassVar[InboundOutcome] = InboundOutcome.IGNORED


@dataclass(frozen=True, slots=True)
class Reject:
    """The sender may not act on the case (or the message names none validly).

    `notify` says whether the sender gets (rate-limited) word of it.
    """

    reason: str
    case: CaseFacts | None = None
    notify: bool = True
    code: str = "not_participant"  # the sender-facing reason (i18n.REJECTION_REASONS)
    outcome: ClassVar[InboundOutcome] = InboundOutcome.REJECTED


@dataclass(frozen=True, slots=True)
class Helpdesk:
    """Not someone who may open cases: one short help-desk reply, no case."""

    reason: str
    contact: ContactFacts | None = None
    outcome: ClassVar[InboundOutcome] = InboundOutcome.HELPDESK


@dataclass(frozen=True, slots=True)
class Hold:
    """A reply to `case` that would act without proof: kept for an agent to release or discard."""

    case: CaseFacts
    reason: str
    outcome: ClassVar[InboundOutcome] = InboundOutcome.HELD


@dataclass(frozen=True, slots=True)
class OpenCase:
    """A new case from a contact who may open one, with the collaborators it starts with."""

    contact: ContactFacts
    subject: str
    severity: SeverityChoice
    collaborators: tuple[Address, ...]
    previous_case: CaseFacts | None = None
    reason: str = "new case from a designated contact"
    outcome: ClassVar[InboundOutcome] = InboundOutcome.CASE_OPENED
    not_added: tuple[str, ...] = ()  # To/Cc addresses over the collaborator caps


@dataclass(frozen=True, slots=True)
class AddComment:
    """A reply that joins its case: who wrote it in what part, how it threaded, what it proves."""

    case: CaseFacts
    author: str
    author_name: str
    role: Role
    via: Via
    # The `#…` lines at the top of the reply (maild.inbound.commands), in order; who may use which
    # is decided where they are carried out (maild.cases.commands, through maild.policy.lifecycle).
    commands: tuple[ReplyCommand, ...] = ()
    reopen: bool = False
    contact: ContactFacts | None = None
    new_collaborators: tuple[Address, ...] = field(default_factory=tuple)
    reason: str = ""
    outcome: ClassVar[InboundOutcome] = InboundOutcome.COMMENT_ADDED
    not_added: tuple[str, ...] = ()  # To/Cc addresses over the collaborator caps
    proof: Proof = "none"

    @property
    def command_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.commands)


Decision = Ignore | Reject | Helpdesk | Hold | OpenCase | AddComment


# --------------------------------------------------------------------------- routing


def route(
    mail: InboundMail, facts: Facts, policy: RoutingPolicy, now: datetime, *, released: bool = False
) -> Decision:
    """Decide what one inbound message does. Never raises for any parsed message.

    `released`: an agent released this (held) message: it counts as proven.
    """
    sender = mail.from_addr.email if mail.from_addr else ""
    if is_own_address(sender, policy.own_addresses):
        return Ignore(f"from our own address {sender}")
    automatic = classify_automatic(mail, policy.own_addresses)
    if automatic is not None:
        return Ignore(automatic.reason, automatic)
    if not sender or "@" not in sender:
        return Reject("no usable From address", notify=False)
    found = _find_case(mail, facts, policy, sender)
    if isinstance(found, Reject):
        return found
    if found is None:
        # A new case needs no proof: its acknowledgement goes to the real contact.
        return _new_case(mail, facts, policy, sender)
    case, via, holders = found
    proof: Proof = "released" if released else prove(mail, facts, policy, sender, holders)
    return _reply(mail, facts, policy, now, sender, case, via, proof)


def prove(
    mail: InboundMail, facts: Facts, policy: RoutingPolicy, sender: str, token_holders: Sequence[str]
) -> Proof:
    """What shows that `sender` wrote this message (SPEC §8), cheapest check first.

    A reply address or a notification proves possession only for the address
    it was issued or sent to: someone else's copy proves nothing for the sender.
    """
    if sender in token_holders:
        return "possession"
    if policy.trusted_authserv_ids and sender_authenticated(mail, policy.trusted_authserv_ids):
        return "authenticated"
    referenced = list(dict.fromkeys((*mail.in_reply_to, *mail.references)))[:MAX_REFERENCED]
    if referenced and sender in facts.notified(referenced).values():
        return "possession"
    return "none"


MAX_REFERENCED = 50  # Message-IDs of one message looked up (a References header can be long)


def _find_case(
    mail: InboundMail, facts: Facts, policy: RoutingPolicy, sender: str
) -> tuple[CaseFacts, Via, tuple[str, ...]] | Reject | None:
    """The case a message threads to, how, and to whom its reply addresses were issued."""
    addressed = [a.email for a in mail.recipients] + list(mail.delivered_to)
    tokens = tokens_in(addressed, policy.support_address)
    if tokens:
        return _case_from_tokens(tokens, facts, policy, sender)
    if policy.require_reply_token:
        return None
    thread_ids = list(dict.fromkeys((*mail.in_reply_to, *reversed(mail.references))))[:MAX_REFERENCED]
    if thread_ids:
        case = facts.case_by_message_ids(thread_ids)
        if case is not None:
            return case, "thread", ()
    number = find_case_tag(mail.subject)
    if number is not None:
        case = facts.case_by_number(number)
        if case is None:
            return Reject(f"the subject names case {number}, which does not exist", code="unknown_case")
        return case, "tag", ()
    return None


def _case_from_tokens(
    tokens: Sequence[str], facts: Facts, policy: RoutingPolicy, sender: str
) -> tuple[CaseFacts, Via, tuple[str, ...]] | Reject:
    chosen: CaseFacts | None = None
    holders: list[str] = []
    for token in tokens[:MAX_TOKENS]:
        parsed = parse_token(token)
        case = facts.case_by_id(parsed.case_id) if parsed else None
        if parsed is None or case is None:
            return Reject("the reply address is not one we issued", notify=False)
        candidates = [sender, *case.participants, *facts.agent_emails(), *policy.staff_addresses]
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
        holders.append(holder)
    assert chosen is not None
    return chosen, "token", tuple(holders)


MAX_TOKENS = 10  # reply addresses of one message checked (each costs an HMAC per candidate)


def _reply(
    mail: InboundMail,
    facts: Facts,
    policy: RoutingPolicy,
    now: datetime,
    sender: str,
    case: CaseFacts,
    via: Via,
    proof: Proof,
) -> Decision:
    agent = facts.agent(sender)
    contact = facts.contact(sender)
    role: Role | None = Role.AGENT if agent else case.participants.get(sender)
    if role is None:
        return Reject(f"{sender} is not in the sharing settings of case {case.number}", case=case)
    reopen = case.status == CaseStatus.CLOSED and role != Role.AGENT
    if reopen and now - (case.closed_at or now) > policy.reopen_window:
        return _after_reopen_window(mail, policy, sender, case, contact)
    commands = read_commands(mail.text).commands
    added, not_added = _added_by_cc(mail, facts, policy, sender, case)
    proven = proof != "none"
    if not proven:
        wants = _needs_proof(role, commands, added)
        if wants or policy.unproven != "accept":
            what = wants or "a comment"
            reason = f"{what} from {sender} to case {case.number} via {via}, with no proof of the sender"
            if policy.unproven == "refuse":
                return Reject(reason, case=case, code="unproven")
            return Hold(case, reason)
        added, not_added = (), ()  # accepted by From alone: Cc-adds need proof
    name = (
        (agent.name if agent else None)
        or (mail.from_addr.name if mail.from_addr else "")
        or (contact.name if contact else "")
    )
    what = f"reply reopens case {case.number}" if reopen else f"reply to case {case.number} via {via}"
    return AddComment(
        case,
        sender,
        name,
        role,
        via,
        commands,
        reopen=reopen,
        contact=contact,
        new_collaborators=added,
        reason=f"{what}; proof: {proof}",
        not_added=not_added,
        proof=proof,
    )


def _needs_proof(role: Role, commands: Sequence[ReplyCommand], added: Sequence[Address]) -> str | None:
    """What in a reply needs proof whatever `support.unproven` says (SPEC §8), or None."""
    if role == Role.AGENT:
        return "an agent's reply"
    if commands:
        return f"the #{commands[0].name} command"
    if added:
        return "adding collaborators by Cc"
    return None


def _after_reopen_window(
    mail: InboundMail, policy: RoutingPolicy, sender: str, case: CaseFacts, contact: ContactFacts | None
) -> Decision:
    """A reply to a case closed too long ago opens a new case, only for someone who may open cases."""
    if contact is None or (policy.restrict_to_designated_contacts and not contact.designated):
        who = "not a known contact" if contact is None else "not a designated contact"
        reason = f"reply to case {case.number}, closed longer than the reopen window; {sender} is {who}"
        return Helpdesk(reason, contact)
    return OpenCase(
        contact=contact,
        subject=new_case_subject(mail.subject),
        severity=read_severity(mail.subject, mail.text, policy.default_severity),
        collaborators=(),
        previous_case=case,
        reason=f"reply to case {case.number}, closed longer than the reopen window",
    )


def _added_by_cc(
    mail: InboundMail, facts: Facts, policy: RoutingPolicy, sender: str, case: CaseFacts
) -> tuple[tuple[Address, ...], tuple[str, ...]]:
    """People Cc'd on a reply who join the sharing settings, and those left out by the caps."""
    chosen = pick_collaborators(mail, policy, sender, case.account_domains, facts)
    fresh = [a for a in chosen if a.email not in case.participants]
    present = sum(1 for role in case.participants.values() if role == Role.COLLABORATOR)
    return cap_collaborators(fresh, policy, present)


def cap_collaborators(
    candidates: Sequence[Address], policy: RoutingPolicy, present: int
) -> tuple[tuple[Address, ...], tuple[str, ...]]:
    """The first candidates within both caps (per message, per case), and the addresses over them."""
    room = max(0, min(policy.max_new_collaborators, policy.max_collaborators - present))
    return tuple(candidates[:room]), tuple(a.email for a in candidates[room:])


def _new_case(mail: InboundMail, facts: Facts, policy: RoutingPolicy, sender: str) -> Decision:
    contact = facts.contact(sender)
    if contact is None:
        if facts.agent(sender) is not None:
            return Reject("agents open no cases by email", notify=False)
        return Helpdesk(f"{sender} is not a known contact")
    if policy.restrict_to_designated_contacts and not contact.designated:
        return Helpdesk(f"{sender} is not a designated contact", contact)
    chosen = pick_collaborators(mail, policy, sender, contact.account_domains, facts)
    added, not_added = cap_collaborators(chosen, policy, 0)
    return OpenCase(
        contact=contact,
        subject=new_case_subject(mail.subject),
        severity=read_severity(mail.subject, mail.text, policy.default_severity),
        collaborators=added,
        not_added=not_added,
    )


def new_case_subject(subject: str) -> str:
    """A new case's subject: without reply prefixes, the severity tag and the topic tag."""
    return clean_subject(strip_topic_tag(strip_severity_tag(subject)))


def pick_collaborators(
    mail: InboundMail, policy: RoutingPolicy, sender: str, account_domains: Sequence[str], facts: Facts
) -> tuple[Address, ...]:
    """To/Cc addresses other than ours and the sender's, as the policy allows, in header order."""
    if policy.collaborators == "none":
        return ()
    chosen: dict[str, Address] = {}
    own = (*policy.own_addresses, *policy.staff_addresses)
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
