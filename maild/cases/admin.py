"""The operator's side of the data: accounts, contacts, agents, and cases named by number.

The command line used to carry these rules itself. They are rules of the
data, not of argument parsing: an account name, a mail domain, a contact and
an agent each exist once; an account has at most one primary contact, so
adding a new primary demotes the previous one (a primary is designated too);
a case is named by its number; only its primary contact or an agent may
close a case; only an agent answers one. Each function works in the
caller's session (the caller's `with db.session()` commits, never these),
returns rows or plain values and raises `maild.errors` classes, whose text
is the one sentence the command line prints.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from maild.cases.facts import load_case
from maild.cases.service import CaseService
from maild.errors import MaildError, NotFound, UsageError
from maild.locales import normalize_language
from maild.mailids import is_email_address
from maild.policy.lifecycle import may_close
from maild.store import blobs
from maild.store.models import Account, AccountDomain, Agent, Attachment, Case, Contact, InboundMessage
from maild.vocab import CaseStatus, Role

__all__ = [
    "CaseFilter",
    "Reply",
    "add_account",
    "add_agent",
    "add_contact",
    "agent_reply",
    "attachment_bytes",
    "closing_actor",
    "find_case",
    "inbound_raw",
    "list_cases",
    "list_inbound",
    "opening_attachments",
    "operator_address",
    "require_agent",
]

CaseFilter = Literal["open", "closed", "all"]

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,2}$")
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?\.[a-z0-9-]+|[a-z0-9-]+")
_CASE_NUMBER = re.compile(r"#?\d{1,12}")


# ---------------------------------------------------------------- values typed by an operator


def operator_address(value: str, what: str) -> str:
    """An address as stored (stripped, lower case); `what` names it in the error ("agent", …)."""
    value = value.strip().lower()
    if not is_email_address(value):
        raise UsageError(f"{value!r} is not a valid {what} email address")
    return value


def _mail_domains(values: Sequence[str]) -> list[str]:
    domains = [d.strip().lower().lstrip("@") for d in values]
    for d in domains:
        if not _DOMAIN.fullmatch(d):
            raise UsageError(f"{d!r} is not a mail domain")
    return domains


# ---------------------------------------------------------------- accounts, contacts, agents


def add_account(
    session: Session,
    name: str,
    *,
    domains: Sequence[str],
    org_id: str | None,
    plan: str | None,
    known_plans: Collection[str],
    now: datetime,
) -> Account:
    """A new account with its mail domains; a name or domain already taken is an error."""
    name = name.strip()
    if not name:
        raise UsageError("the account name must not be empty")
    wanted = _mail_domains(domains)
    if plan and plan not in known_plans:
        raise UsageError(f"plan {plan!r} is not configured (known: {', '.join(sorted(known_plans))})")
    if session.scalar(select(Account.id).where(Account.name == name)):
        raise MaildError(f"account {name!r} already exists")
    for d in wanted:
        if session.scalar(select(AccountDomain.id).where(AccountDomain.domain == d)):
            raise MaildError(f"domain {d} already belongs to another account")
    account = Account(name=name, org_id=org_id, plan=plan or "default", created_at=now)
    account.domains = [AccountDomain(domain=d) for d in dict.fromkeys(wanted)]
    session.add(account)
    return account


def add_contact(
    session: Session,
    email: str,
    *,
    account_name: str,
    name: str,
    language: str | None,
    designated: bool,
    primary: bool,
    now: datetime,
) -> Contact:
    """A new contact of an existing account; a new primary takes over from the previous one."""
    email = operator_address(email, "contact")
    if language:
        # Stored as maild's code for it (ja-JP -> ja, zh-Hant -> zh-TW, pt -> pt-BR) so lookups agree.
        code = normalize_language(language)
        if code is None or not _LANGUAGE.match(language.strip()):
            raise UsageError(f"{language!r} is not a language code like en, ja, zh-TW or pt-BR")
        language = code
    account = session.execute(
        select(Account).where(Account.name == account_name.strip())
    ).scalar_one_or_none()
    if account is None:
        raise NotFound(f"account {account_name!r} does not exist")
    if session.scalar(select(Contact.id).where(Contact.email == email)):
        raise MaildError(f"contact {email} already exists")
    if primary:
        previous = select(Contact).where(Contact.account_id == account.id, Contact.primary.is_(True))
        for other in session.execute(previous).scalars():
            other.primary = False
    contact = Contact(
        account=account,
        email=email,
        name=name.strip(),
        language=language,
        designated=designated or primary,
        primary=primary,
        created_at=now,
    )
    session.add(contact)
    return contact


def add_agent(session: Session, email: str, *, name: str, manager: bool, now: datetime) -> Agent:
    """A new agent; an address already an agent is an error."""
    email = operator_address(email, "agent")
    if session.scalar(select(Agent.id).where(Agent.email == email)):
        raise MaildError(f"agent {email} already exists")
    agent = Agent(email=email, name=name.strip(), manager=manager, created_at=now)
    session.add(agent)
    return agent


def require_agent(session: Session, email: str) -> Agent:
    """The agent with this address, or the error that tells how to add one."""
    email = operator_address(email, "agent")
    agent = session.execute(select(Agent).where(Agent.email == email)).scalar_one_or_none()
    if agent is None:
        raise NotFound(f"{email} is not an agent (add it with `maild agent add`)")
    return agent


# ---------------------------------------------------------------- cases


def find_case(session: Session, number: str) -> Case:
    """The case with this number ("00001042", "#1042" or "1042"), participants and comments loaded."""
    if not _CASE_NUMBER.fullmatch(number.strip()):
        raise UsageError(f"{number!r} is not a case number (like 00001042)")
    case = session.get(
        Case,
        int(number.strip().lstrip("#")),
        options=[selectinload(Case.participants), selectinload(Case.comments)],
    )
    if case is None:
        raise NotFound(f"case {number} does not exist")
    return case


def list_cases(
    session: Session,
    which: CaseFilter,
    *,
    team: str | None = None,
    owner: Agent | None = None,
    unassigned: bool = False,
) -> list[Case]:
    """Cases by number, with what the summary shows; "open" is every status but closed.

    `team` matches in any case: a case keeps the name it was routed under,
    so a team renamed (or only re-cased) in the config still finds its old
    cases. `owner` and `unassigned` exclude each other (the parser says so).
    """
    query = select(Case).order_by(Case.id)
    if which == "open":
        query = query.where(Case.status != CaseStatus.CLOSED)
    elif which == "closed":
        query = query.where(Case.status == CaseStatus.CLOSED)
    if team is not None:
        query = query.where(func.lower(Case.team) == team.strip().lower())
    if owner is not None:
        query = query.where(Case.owner_id == owner.id)
    elif unassigned:
        query = query.where(Case.owner_id.is_(None))
    query = query.options(
        selectinload(Case.account), selectinload(Case.primary_contact), selectinload(Case.owner)
    )
    return list(session.execute(query).scalars())


def opening_attachments(session: Session, case: Case) -> list[Attachment]:
    """The attachments of the message that opened the case (they belong to no comment)."""
    query = select(Attachment).where(Attachment.case_id == case.id, Attachment.comment_id.is_(None))
    return list(session.execute(query).scalars())


def attachment_bytes(session: Session, number: str, wanted: str) -> bytes:
    """A stored attachment's bytes, named by its id or (if unambiguous) its file name."""
    case = find_case(session, number)
    wanted = wanted.strip()
    rows = session.execute(select(Attachment).where(Attachment.case_id == case.id)).scalars()
    found = [a for a in rows if (str(a.id) == wanted if wanted.isdigit() else a.filename == wanted)]
    if not found:
        raise NotFound(f"case {number} has no attachment {wanted!r}")
    if len(found) > 1:
        ids = ", ".join(str(a.id) for a in found)
        raise UsageError(f"case {number} has {len(found)} attachments named {wanted!r}: give an id ({ids})")
    (attachment,) = found
    if attachment.dropped_reason:
        raise NotFound(f"attachment {attachment.id} was not stored: {attachment.dropped_reason}")
    data = blobs.load(session.connection(), attachment.id)
    if data is None:
        raise NotFound(f"attachment {attachment.id} has no stored bytes")
    return data


@dataclass(frozen=True, slots=True)
class Reply:
    """What an agent's reply did: the case's number and new status, notifications queued."""

    number: str
    status: str
    queued: int


def agent_reply(
    session: Session,
    service: CaseService,
    number: str,
    agent_email: str,
    body: str,
    *,
    waiting: bool = False,
    internal: bool = False,
) -> Reply:
    """An agent's reply (or, `internal`, note) from the command line, notified like one by mail."""
    case = find_case(session, number)
    agent = require_agent(session, agent_email)
    row = load_case(session, case.id)
    assert row is not None  # found just above, in the same transaction
    comment = service.add_comment(
        session, row, agent.email, agent.name, Role.AGENT, body, body, source="cli", internal=internal
    )
    queued = service.after_comment(session, row, comment, Role.AGENT, in_reply_to=None, waiting=waiting)
    return Reply(row.number, row.status, queued)


def closing_actor(session: Session, case: Case, email: str | None) -> str:
    """Who closes the case as recorded: "operator" when unnamed, else an address allowed to."""
    if not email:
        return "operator"
    actor = operator_address(email, "closing")
    is_agent = session.scalar(select(Agent.id).where(Agent.email == actor))
    roles = {p.email: p.role for p in case.participants}
    if not may_close(Role.AGENT if is_agent else roles.get(actor)):
        raise UsageError(f"{actor} may not close case {case.number}: only its primary contact or an agent")
    return actor


# ---------------------------------------------------------------- inbound messages


def list_inbound(session: Session, outcome: str | None, limit: int) -> list[InboundMessage]:
    """The newest `limit` inbound records (of one outcome if given), oldest first."""
    if limit < 1:
        raise UsageError("--limit must be at least 1")
    query = select(InboundMessage).order_by(InboundMessage.id.desc()).limit(limit)
    if outcome:
        query = query.where(InboundMessage.outcome == outcome)
    return list(reversed(session.execute(query).scalars().all()))


def inbound_raw(session: Session, inbound_id: int) -> bytes:
    """A kept message's raw bytes; processed ones keep theirs in the mailbox, not here."""
    row = session.get(InboundMessage, inbound_id)
    if row is None:
        raise NotFound(f"inbound message {inbound_id} does not exist")
    if row.raw is None:
        raise NotFound(f"inbound message {inbound_id} was processed; its raw bytes stay in the mailbox")
    return row.raw
