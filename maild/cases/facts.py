"""The case database as routing and the case writers read it: facts, case rows, the directory.

Routing (maild.policy.route) is pure and asks its questions through the
`Facts` protocol; DbFacts answers them from one session. A case comes in
three shapes, each for one job:

* `CaseFacts` (maild.policy.route): what the pure routing decision needs;
* `CaseRow` (here): a case read, or just inserted, with Core on the hot paths
  (a comment, a new case): what bookkeeping and notifications need, without
  loading the ORM graph;
* `models.Case`: the ORM object, for the rare paths (commands, the CLI,
  the deadline scan) that change more than a status.

`case_facts` turns a CaseRow into CaseFacts, so a case read for routing is
reused by the writers in the same transaction (`DbFacts.loaded`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, aliased

from maild.outbound.notify import case_view
from maild.policy.route import AgentFacts, CaseFacts, ContactFacts
from maild.store.models import (
    Account,
    AccountDomain,
    Agent,
    Case,
    Contact,
    Outbox,
    Participant,
    ThreadMessage,
    format_case_number,
)
from maild.vocab import Role

__all__ = ["CaseRow", "DbFacts", "Directory", "NewParticipant", "case_facts", "load_case"]


@dataclass(frozen=True, slots=True)
class NewParticipant:
    """A sharing-settings entry: read with a case, or about to be written with a new case or collaborator."""

    email: str
    name: str
    role: str
    contact_id: int | None

    def values(self) -> dict[str, Any]:
        return {"email": self.email, "name": self.name, "role": self.role, "contact_id": self.contact_id}


@dataclass(slots=True)
class CaseRow:
    """A case read (or inserted) with Core: what routing, bookkeeping and notifications need."""

    id: int
    subject: str
    severity: int
    status: str
    account_id: int
    account_name: str
    account_plan: str | None
    primary_contact: str
    thread_root: str
    created_at: datetime
    first_response_due_at: datetime | None
    first_responded_at: datetime | None
    closed_at: datetime | None
    fields: dict[str, Any]
    description: str
    participants: list[NewParticipant]
    languages: dict[str, str | None]  # participant email -> contact language, read with them
    team: str | None = None
    owner_id: int | None = None
    owner_email: str | None = None
    topic: str | None = None
    next_response_due_at: datetime | None = None
    waiting_since: datetime | None = None

    @property
    def number(self) -> str:
        return format_case_number(self.id)

    def context(self) -> dict[str, Any]:
        """The template view (notify.case_view) of the case as it is now."""
        return case_view(
            number=self.number,
            subject=self.subject,
            severity=self.severity,
            status=self.status,
            account=self.account_name,
            primary_contact=self.primary_contact,
            collaborators=[p.email for p in self.participants if p.role == Role.COLLABORATOR],
            created_at=self.created_at,
            first_response_due_at=self.first_response_due_at,
            first_responded_at=self.first_responded_at,
            fields=self.fields,
            description=self.description,
            team=self.team,
            owner=self.owner_email,
            topic=self.topic,
        )


def case_facts(case: CaseRow, account_domains: tuple[str, ...] = ()) -> CaseFacts:
    return CaseFacts(
        id=case.id,
        number=case.number,
        status=case.status,
        account_id=case.account_id,
        participants={p.email: Role(p.role) for p in case.participants},
        closed_at=case.closed_at,
        first_response_due_at=case.first_response_due_at,
        first_responded_at=case.first_responded_at,
        account_domains=account_domains,
        team=case.team,
    )


def load_case(session: Session, case_id: int) -> CaseRow | None:
    """A case with its account, primary contact and sharing settings, in two Core queries.

    A comment on a case is the other hot path (the first is opening one):
    reading and updating the case without the ORM costs a fraction of
    loading its object graph and flushing it.
    """
    conn = session.connection()
    row = conn.execute(_CASE_ROW, {"case_id": case_id}).first()
    if row is None:
        return None
    participants: list[NewParticipant] = []
    languages: dict[str, str | None] = {}
    for p in conn.execute(_CASE_PARTICIPANTS, {"case_id": case_id}):
        participants.append(NewParticipant(p.email, p.name, p.role, p.contact_id))
        # A primary contact with no language of their own is written to in the case's (SPEC §12:
        # the language their opening message was in), as their acknowledgement was.
        own = p.language or (row.case_language if p.role == Role.PRIMARY_CONTACT else None)
        languages[p.email] = own
    columns = {**row._mapping, "fields": dict(row.fields or {})}
    del columns["case_language"]
    return CaseRow(**columns, participants=participants, languages=languages)


class Directory:
    """Contacts, agents and account domains, read at most once every few seconds.

    Routing asks for the same few people over and over; a short-lived cache
    turns those queries into dictionary lookups. A contact added (or made
    designated) meanwhile is seen within MAX_AGE seconds.
    """

    MAX_AGE = 1.0

    def __init__(self) -> None:
        self.contacts: dict[str, ContactFacts | None] = {}
        self.agents: dict[str, AgentFacts] | None = None
        self.domains: dict[int, tuple[str, ...]] = {}
        self.born = time.monotonic()

    def stale(self) -> bool:
        return time.monotonic() - self.born > self.MAX_AGE


class DbFacts:
    """The router's view of the database, read through one session."""

    def __init__(self, session: Session, directory: Directory | None = None) -> None:
        self.session = session
        self.directory = directory or Directory()
        self.loaded: dict[int, CaseRow] = {}

    def _case(self, case_id: int) -> CaseRow | None:
        case = self.loaded.get(case_id) or load_case(self.session, case_id)
        if case is not None:
            self.loaded[case_id] = case  # for apply(), in the same transaction
        return case

    def case_by_id(self, case_id: int) -> CaseFacts | None:
        case = self._case(case_id)
        return case_facts(case, self._domains(case.account_id)) if case else None

    def _domains(self, account_id: int) -> tuple[str, ...]:
        cached = self.directory.domains.get(account_id)
        if cached is None:
            query = select(AccountDomain.domain).where(AccountDomain.account_id == account_id)
            rows = self.session.connection().execute(query).scalars()
            cached = self.directory.domains[account_id] = tuple(rows)
        return cached

    def case_by_message_ids(self, message_ids: Sequence[str]) -> CaseFacts | None:
        ids = [m for m in message_ids if m][:50]
        if not ids:
            return None
        rows = self.session.connection().execute(
            select(ThreadMessage.message_id, ThreadMessage.case_id).where(ThreadMessage.message_id.in_(ids))
        )
        by_id = {mid: cid for mid, cid in rows}
        for mid in ids:  # the first id given (In-Reply-To) wins
            if mid in by_id:
                return self.case_by_id(by_id[mid])
        return None

    def case_by_number(self, number: str) -> CaseFacts | None:
        try:
            return self.case_by_id(int(number))
        except ValueError:
            return None

    def contact(self, email: str) -> ContactFacts | None:
        email = email.lower()
        if email in self.directory.contacts:
            return self.directory.contacts[email]
        row = self.session.connection().execute(_CONTACT, {"email": email}).first()
        facts = None
        if row is not None:
            facts = ContactFacts(
                row.id,
                row.email,
                row.name,
                row.account_id,
                row.designated,
                row.language,
                self._domains(row.account_id),
                row.account_name,
                row.account_plan,
            )
        self.directory.contacts[email] = facts
        return facts

    def _agents(self) -> dict[str, AgentFacts]:
        if self.directory.agents is None:
            rows = self.session.connection().execute(select(Agent.id, Agent.email, Agent.name))
            self.directory.agents = {email: AgentFacts(id_, email, name) for id_, email, name in rows}
        return self.directory.agents

    def agent(self, email: str) -> AgentFacts | None:
        return self._agents().get(email.lower())

    def agent_emails(self) -> Sequence[str]:
        return list(self._agents())

    def notified(self, message_ids: Sequence[str]) -> Mapping[str, str]:
        ids = [m for m in message_ids if m]
        if not ids:
            return {}
        query = select(Outbox.message_id, Outbox.recipient).where(Outbox.message_id.in_(ids))
        return {mid: rcpt for mid, rcpt in self.session.connection().execute(query)}


_PRIMARY = aliased(Contact)
_OWNER = aliased(Agent)
# What a case and a new case's contact carry of their account.
_ACCOUNT_COLUMNS = (Account.name.label("account_name"), Account.plan.label("account_plan"))
_CASE_ROW = (
    select(
        Case.id,
        Case.subject,
        Case.severity,
        Case.status,
        Case.account_id,
        *_ACCOUNT_COLUMNS,
        _PRIMARY.email.label("primary_contact"),
        Case.thread_root,
        Case.created_at,
        Case.first_response_due_at,
        Case.first_responded_at,
        Case.closed_at,
        Case.fields,
        Case.description,
        Case.team,
        Case.owner_id,
        _OWNER.email.label("owner_email"),
        Case.topic,
        Case.next_response_due_at,
        Case.waiting_since,
        Case.language.label("case_language"),
    )
    .join(Account, Account.id == Case.account_id)
    .join(_PRIMARY, _PRIMARY.id == Case.primary_contact_id)
    .outerjoin(_OWNER, _OWNER.id == Case.owner_id)
    .where(Case.id == bindparam("case_id"))
)
_CASE_PARTICIPANTS = (
    select(Participant.email, Participant.name, Participant.role, Participant.contact_id, Contact.language)
    .outerjoin(Contact, Contact.email == Participant.email)
    .where(Participant.case_id == bindparam("case_id"))
    .order_by(Participant.id)
)
_CONTACT = (
    select(
        Contact.id,
        Contact.email,
        Contact.name,
        Contact.account_id,
        Contact.designated,
        Contact.language,
        *_ACCOUNT_COLUMNS,
    )
    .join(Account, Account.id == Contact.account_id)
    .where(Contact.email == bindparam("email"))
)
