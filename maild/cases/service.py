"""Applying decisions to the case database, inside the caller's session.

Owns the writes that a routing decision or an agent's action causes: the
case, comment, attachment and inbound-record rows, status changes, and the
notifications those changes cause (queued through notify.Notifier in the
same session, so they commit together). Never commits: the caller's unit of
work does, once per inbound message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Insert

from maild.config import Settings
from maild.inbound.intake import read_fields, strip_command
from maild.inbound.message import Address, InboundMail
from maild.inbound.quotes import extract_reply
from maild.outbound.i18n import helpdesk_message, rejection_reason_text
from maild.outbound.notify import Notifier, Recipient, case_view
from maild.policy.bounces import bounce_targets
from maild.policy.route import (
    AddComment,
    AgentFacts,
    CaseFacts,
    ContactFacts,
    Decision,
    Helpdesk,
    Hold,
    Ignore,
    OpenCase,
    Reject,
    Role,
    may_close,
)
from maild.policy.sla import BusinessCalendar, can_escalate, due_levels, first_response_due, level_threshold
from maild.store import blobs
from maild.store.models import (
    Account,
    AccountDomain,
    Agent,
    Attachment,
    Case,
    Comment,
    Contact,
    Escalation,
    InboundMessage,
    NoticeLog,
    Outbox,
    Participant,
    ThreadMessage,
    format_case_number,
    table,
)

log = logging.getLogger("maild.cases")

# --------------------------------------------------------------------------- facts for routing


def case_facts(case: CaseRow, account_domains: tuple[str, ...] = ()) -> CaseFacts:
    return CaseFacts(
        id=case.id,
        number=case.number,
        status=case.status,
        account_id=case.account_id,
        participants={p.email: p.role for p in case.participants},  # type: ignore[misc]
        closed_at=case.closed_at,
        first_response_due_at=case.first_response_due_at,
        first_responded_at=case.first_responded_at,
        account_domains=account_domains,
    )


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
        languages[p.email] = p.language
    columns = {**row._mapping, "fields": dict(row.fields or {})}
    return CaseRow(**columns, participants=participants, languages=languages)


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


# --------------------------------------------------------------------------- applying decisions


@dataclass(frozen=True, slots=True)
class Applied:
    """What one message did, for the log line and the tests."""

    outcome: str
    reason: str
    case_number: str | None = None
    notifications: int = 0


class CaseService:
    """Writes for inbound decisions and for agents' commands; never commits."""

    def __init__(self, settings: Settings, notifier: Notifier) -> None:
        self.settings = settings
        self.notifier = notifier
        self.clock = notifier.clock

    # ------------------------------------------------------------------ inbound

    def record(
        self,
        session: Session,
        mail: InboundMail,
        mailbox: str,
        key: str,
        outcome: str,
        reason: str,
        case_id: int | None = None,
        raw: bytes | None = None,
        record_id: int | None = None,
    ) -> int:
        """The inbound record; returns its id.

        `record_id`: the record of a held message being released, updated in place
        (it keeps its id, so `maild inbound list` shows one line per message).
        """
        values = {
            "mailbox": mailbox,
            "source_key": key,
            "message_id": mail.message_id,
            "from_addr": mail.from_addr.email if mail.from_addr else "",
            "subject": mail.subject[:2000],
            "outcome": outcome,
            "reason": reason[:2000],
            "case_id": case_id,
            "size": mail.raw_size,
            "sha256": mail.raw_sha256,
            "raw": raw,
            "received_at": self.clock.now(),
        }
        if record_id is not None:
            del values["received_at"]
            session.connection().execute(
                update(InboundMessage).where(InboundMessage.id == record_id).values(**values)
            )
            return record_id
        return _insert_row(session, _INSERT_INBOUND, values)

    def apply(
        self,
        session: Session,
        mail: InboundMail,
        decision: Decision,
        mailbox: str,
        key: str,
        loaded: Mapping[int, CaseRow] | None = None,
        *,
        raw: bytes | None = None,
        record_id: int | None = None,
    ) -> Applied:
        """`loaded`: cases routing read in this transaction (saves reading them again).

        `raw`: the message's bytes, kept with a held message so it can be released.
        `record_id`: the held record a release updates instead of adding one.
        """
        at = RecordAt(mailbox, key, raw, record_id)
        if isinstance(decision, Ignore):
            return self._ignore(session, mail, decision, at)
        if isinstance(decision, Reject):
            return self._reject(session, mail, decision, at)
        if isinstance(decision, Helpdesk):
            return self._helpdesk(session, mail, decision, at)
        if isinstance(decision, Hold):
            return self._hold(session, mail, decision, at)
        if isinstance(decision, OpenCase):
            return self._open(session, mail, decision, at)
        return self._comment(session, mail, decision, at, loaded or {})

    def _record(
        self,
        session: Session,
        mail: InboundMail,
        at: RecordAt,
        outcome: str,
        reason: str,
        case_id: int | None = None,
    ) -> int:
        raw = at.raw if outcome == "held" else None  # only a held message is processed again later
        return self.record(
            session, mail, at.mailbox, at.key, outcome, reason, case_id, raw=raw, record_id=at.record_id
        )

    def _hold(self, session: Session, mail: InboundMail, d: Hold, at: RecordAt) -> Applied:
        """Nothing reaches the case; the support team gets one notice to release or discard it."""
        inbound_id = self._record(session, mail, at, d.outcome, d.reason, d.case.id)
        team = self.settings.support.agent_address
        sent = 0
        if team and self._total_notices_allowed(session):
            # No case and so no reply address: answering the notice must not reach the case.
            extra = {
                "case_number": d.case.number,
                "inbound_id": inbound_id,
                "sender": mail.from_addr.email if mail.from_addr else "",
                "original_subject": mail.subject,
                "reason": d.reason,
                "excerpt": extract_reply(mail.text)[:HELD_EXCERPT],
            }
            recipient = Recipient(team, "", self.notifier.language(None), "agent")
            sent = self.notifier.enqueue(session, "held", recipient, extra=extra) is not None
        return Applied(d.outcome, d.reason, d.case.number, int(sent))

    def _ignore(self, session: Session, mail: InboundMail, d: Ignore, at: RecordAt) -> Applied:
        """Automatic mail is only recorded; a bounce of our notification also marks that delivery failed."""
        reason, case_id = d.reason, None
        if d.automatic is not None and d.automatic.kind == "bounce":
            bounced = self._mark_bounced(session, mail, d.reason)
            if bounced:
                reason = f"{d.reason}; bounce of {', '.join(f'{o.event} to {o.recipient}' for o in bounced)}"
                case_id = bounced[0].case_id
        self._record(session, mail, at, d.outcome, reason, case_id)
        return Applied(d.outcome, reason, format_case_number(case_id) if case_id else None)

    def _mark_bounced(self, session: Session, mail: InboundMail, reason: str) -> list[Outbox]:
        message_ids, failed = bounce_targets(mail)
        if not message_ids:
            return []
        rows = session.execute(select(Outbox).where(Outbox.message_id.in_(message_ids[:50]))).scalars().all()
        hit = [r for r in rows if not failed or r.recipient in {f.lower() for f in failed}]
        for row in hit:
            row.status = "bounced"
            row.last_error = f"bounced: {reason}"[:2000]
        return list(hit)

    def _sender(self, mail: InboundMail) -> tuple[str, str]:
        return (mail.from_addr.email, mail.from_addr.name) if mail.from_addr else ("", "")

    def _total_notices_allowed(self, session: Session) -> bool:
        """The hourly limit on notices in total (support.notice_limit), whoever the senders claim to be.

        A per-sender limit alone lets forged senders multiply our replies;
        counted in the outbox, the limit holds across restarts and workers.
        """
        since = self.clock.now() - timedelta(hours=1)
        query = select(func.count()).where(Outbox.event.in_(NOTICE_EVENTS), Outbox.created_at > since)
        sent = session.connection().execute(query).scalar() or 0
        if sent >= self.settings.support.notice_limit:
            log.warning("notice not sent: %d notices in the last hour (support.notice_limit)", sent)
            return False
        return True

    def _notice_allowed(self, session: Session, recipient: str, kind: str) -> bool:
        """Per-sender rate limit for notices to people who may not act (no mail storms)."""
        if not self._total_notices_allowed(session):
            return False
        now = self.clock.now()
        row = session.execute(
            select(NoticeLog).where(NoticeLog.recipient == recipient, NoticeLog.kind == kind)
        ).scalar_one_or_none()
        if row is None:
            session.add(NoticeLog(recipient=recipient, kind=kind, last_sent_at=now, suppressed=0))
            return True
        if now - row.last_sent_at < self.settings.support.notice_interval:
            row.suppressed += 1
            return False
        row.last_sent_at = now
        return True

    def _notice(
        self,
        session: Session,
        mail: InboundMail,
        event: str,
        extra: dict[str, Any],
        contact_language: str | None,
        case: Case | None = None,
    ) -> int:
        """A notice to the sender alone, rate-limited per sender (and per case for case matters)."""
        email, name = self._sender(mail)
        kind = f"{event}:{case.id}" if case is not None else event
        if not email or not self._notice_allowed(session, email, kind):
            return 0
        recipient = Recipient(email, name, self.notifier.language(contact_language), "other")
        row = self.notifier.enqueue(
            session,
            event,
            recipient,
            case=case,
            extra=extra,
            in_reply_to=mail.message_id,
            references=list(mail.references[-10:]),
        )
        return 0 if row is None else 1

    def _reject(self, session: Session, mail: InboundMail, d: Reject, at: RecordAt) -> Applied:
        self._record(session, mail, at, d.outcome, d.reason)
        sent = 0
        if d.notify:
            contact = session.execute(
                select(Contact).where(Contact.email == (mail.from_addr.email if mail.from_addr else ""))
            ).scalar_one_or_none()
            sent = self._refuse(session, mail, d.code, contact.language if contact else None)
        return Applied(d.outcome, d.reason, d.case.number if d.case else None, sent)

    def _refuse(
        self, session: Session, mail: InboundMail, code: str, language: str | None, case: Case | None = None
    ) -> int:
        """Tell the sender why their message changed nothing, in their language.

        Without `case` the notice names no case and carries no reply address:
        someone outside the sharing settings learns nothing about it.
        """
        extra = {
            "reason_text": rejection_reason_text(code, self.notifier.language(language)),
            "case_number": case.number if case else None,
        }
        return self._notice(session, mail, "rejected", extra, language, case=case)

    def _helpdesk(self, session: Session, mail: InboundMail, d: Helpdesk, at: RecordAt) -> Applied:
        self._record(session, mail, at, d.outcome, d.reason)
        language = self.notifier.language(d.contact.language if d.contact else None)
        message = helpdesk_message(self.settings.support.helpdesk_message, language)
        sent = self._notice(
            session,
            mail,
            "helpdesk",
            {"helpdesk_message": message},
            d.contact.language if d.contact else None,
        )
        return Applied(d.outcome, d.reason, None, sent)

    def _open(self, session: Session, mail: InboundMail, d: OpenCase, at: RecordAt) -> Applied:
        """A new case, its sharing settings and its acknowledgements, in Core statements.

        The case is the hot path of every busy mailbox: plain INSERTs on the
        session's connection cost a fraction of an ORM flush of a case graph.
        """
        now = self.clock.now()
        contact = d.contact
        conn = session.connection()
        account_name = contact.account_name
        plan = self.settings.sla.plan(contact.account_plan)
        text = mail.text.strip("\n")
        severity = d.severity.value
        due = first_response_due(now, severity, plan.targets, plan.calendar)
        fields = read_fields(text)
        description = extract_reply(text) if d.previous_case else text.strip()
        subject = d.subject[:1000]
        case_id = _insert_row(
            session,
            _INSERT_CASE,
            {
                "subject": subject,
                "description": description,
                "description_full": text,
                "severity": severity,
                "severity_note": d.severity.invalid,
                "status": "new",
                "account_id": contact.account_id,
                "primary_contact_id": contact.id,
                "previous_case_id": d.previous_case.id if d.previous_case else None,
                "fields": fields,
                "language": self.notifier.language(contact.language),
                "thread_root": mail.message_id,
                "created_at": now,
                "updated_at": now,
                "first_response_due_at": due,
                "first_responded_at": None,
                "closed_at": None,
                "next_escalation_at": self._escalation_time(now, due, plan.calendar, set()),
            },
        )
        primary = NewParticipant(
            email=contact.email,
            name=contact.name or (mail.from_addr.name if mail.from_addr else ""),
            role="primary_contact",
            contact_id=contact.id,
        )
        collaborators, languages = self._collaborators(session, d.collaborators)
        languages[contact.email] = contact.language
        participants = [primary, *collaborators]
        conn.execute(
            _INSERT_PARTICIPANT, [{**p.values(), "case_id": case_id, "created_at": now} for p in participants]
        )
        self._record(session, mail, at, d.outcome, d.reason, case_id)
        self._note_not_added(session, case_id, d.not_added)
        self._store_attachments(session, mail, case_id, None)
        case = NewCase(case_id, severity, mail.message_id, participants)
        ctx = case_view(
            number=case.number,
            subject=subject,
            severity=severity,
            status="new",
            account=account_name,
            primary_contact=contact.email,
            collaborators=[p.email for p in collaborators],
            created_at=now,
            first_response_due_at=due,
            first_responded_at=None,
            fields=fields,
            description=description,
        )
        extra: dict[str, Any] = {
            "severity_note": d.severity.invalid,
            "previous_case": d.previous_case.number if d.previous_case else None,
        }
        rows = self.notifier.enqueue_many(
            session,
            "case_opened",
            self.notifier.case_recipients(session, case, languages=languages),
            case=case,
            case_ctx=ctx,
            thread_ids=[mail.message_id],
            extra=extra,
            in_reply_to=mail.message_id,
        )
        return Applied(d.outcome, d.reason, case.number, len(rows))

    def _collaborators(
        self, session: Session, addresses: Sequence[Address]
    ) -> tuple[list[NewParticipant], dict[str, str | None]]:
        """New collaborators' entries and their languages, from one contact query."""
        if not addresses:
            return [], {}
        emails = [a.email for a in addresses]
        query = select(Contact.email, Contact.name, Contact.id, Contact.language).where(
            Contact.email.in_(emails)
        )
        known = {row.email: row for row in session.connection().execute(query)}
        rows = [
            NewParticipant(
                email=a.email,
                name=a.name or (known[a.email].name if a.email in known else ""),
                role="collaborator",
                contact_id=known[a.email].id if a.email in known else None,
            )
            for a in addresses
        ]
        return rows, {a.email: known[a.email].language if a.email in known else None for a in addresses}

    def _note_not_added(self, session: Session, case_id: int, addresses: Sequence[str]) -> None:
        """Keep the addresses the collaborator caps left out on the case, for agents to see."""
        if not addresses:
            return
        conn = session.connection()
        known = conn.execute(select(Case.collaborators_not_added).where(Case.id == case_id)).scalar() or []
        merged = list(dict.fromkeys([*known, *addresses]))[:MAX_NOT_ADDED]
        conn.execute(update(Case).where(Case.id == case_id).values(collaborators_not_added=merged))

    def _add_collaborators(self, session: Session, case: CaseRow, addresses: Sequence[Address]) -> None:
        if not addresses:
            return
        now = self.clock.now()
        new, languages = self._collaborators(session, addresses)
        session.connection().execute(
            _INSERT_PARTICIPANT, [{**p.values(), "case_id": case.id, "created_at": now} for p in new]
        )
        case.participants.extend(new)
        case.languages.update(languages)

    def _store_attachments(
        self, session: Session, mail: InboundMail, case_id: int, comment_id: int | None
    ) -> None:
        if not mail.attachments:
            return
        now = self.clock.now()
        rows = [
            {
                "case_id": case_id,
                "comment_id": comment_id,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "dropped_reason": a.dropped_reason,
                "created_at": now,
            }
            for a in mail.attachments
        ]
        conn = session.connection()
        ids = conn.execute(_INSERT_ATTACHMENT, rows).scalars().all()
        for attachment_id, a in zip(ids, mail.attachments, strict=True):
            if a.data is not None:
                blobs.store(conn, attachment_id, a.data)

    def _comment(
        self,
        session: Session,
        mail: InboundMail,
        d: AddComment,
        at: RecordAt,
        loaded: Mapping[int, CaseRow],
    ) -> Applied:
        case = loaded.get(d.case.id) or load_case(session, d.case.id)
        assert case is not None
        body = strip_command(extract_reply(mail.text)) if d.command else extract_reply(mail.text)
        inbound_id = self._record(session, mail, at, d.outcome, d.reason, case.id)
        comment = self.add_comment(
            session,
            case,
            d.author,
            d.author_name,
            d.role,
            body,
            mail.text,
            inbound_id=inbound_id,
            source="email",
            attachments=tuple((a.filename, a.size) for a in mail.attachments),
        )
        self._store_attachments(session, mail, case.id, comment.id)
        self._add_collaborators(session, case, d.new_collaborators)
        self._note_not_added(session, case.id, d.not_added)
        sent = self.after_comment(
            session,
            case,
            comment,
            d.role,
            in_reply_to=mail.message_id,
            reopen=d.reopen,
            thread_ids=[mail.message_id],
        )
        if d.command is not None:
            # Commands are rare: they work on the ORM case, read fresh after the UPDATE above.
            orm = session.get(Case, case.id)
            assert orm is not None
            if d.command == "close":
                sent += self._command_close(session, mail, orm, d)
            else:
                sent += self._command_escalate(session, mail, orm, d)
        return Applied(d.outcome, d.reason, case.number, sent)

    # ------------------------------------------------------------------ shared by email and CLI

    def add_comment(
        self,
        session: Session,
        case: CaseRow,
        author: str,
        author_name: str,
        role: Role | str,
        body: str,
        full_body: str,
        *,
        inbound_id: int | None = None,
        source: str = "email",
        attachments: tuple[tuple[str, int], ...] = (),
    ) -> NewComment:
        """The comment row; `attachments` (filename, size) are the ones stored with it."""
        values = {
            "case_id": case.id,
            "author_email": author,
            "author_name": author_name,
            "role": role,
            "body": body,
            "full_body": full_body,
            "source": source,
            "inbound_message_id": inbound_id,
            "created_at": self.clock.now(),
        }
        comment_id = _insert_row(session, _INSERT_COMMENT, values)
        return NewComment(comment_id, author, author_name, str(role), body, attachments)

    def after_comment(
        self,
        session: Session,
        case: CaseRow,
        comment: NewComment,
        role: str,
        *,
        in_reply_to: str | None,
        reopen: bool = False,
        waiting: bool = False,
        thread_ids: Sequence[str] = (),
    ) -> int:
        """Status bookkeeping and notifications that every comment causes (one Core UPDATE).

        `thread_ids`: Message-IDs to record as the case's (the inbound reply's own).
        """
        now = self.clock.now()
        old_status = case.status
        changes: dict[str, Any] = {"updated_at": now}
        if role == "agent":
            if case.first_responded_at is None:
                case.first_responded_at = changes["first_responded_at"] = now
                changes["next_escalation_at"] = None
            if case.status != "closed":
                case.status = "waiting_on_customer" if waiting else "in_progress"
        else:
            if reopen or case.status == "waiting_on_customer":
                case.status = "in_progress" if case.first_responded_at else "new"
                case.closed_at = changes["closed_at"] = None
                if reopen and case.first_responded_at is None and case.first_response_due_at is not None:
                    plan = self.settings.sla.plan(case.account_plan)
                    changes["next_escalation_at"] = self._escalation_time(
                        case.created_at,
                        case.first_response_due_at,
                        plan.calendar,
                        self._sent_level_ids(session, case.id),
                    )
        if case.status != old_status:
            changes["status"] = case.status
        session.connection().execute(update(Case).where(Case.id == case.id).values(**changes))
        comment_ctx = {
            "author": comment.author_email,
            "author_name": comment.author_name,
            "role": comment.role,
            "body": comment.body,
            "attachments": [{"filename": name, "size": size} for name, size in comment.attachments],
        }
        recipients = self.notifier.case_recipients(
            session, case, exclude=[comment.author_email], languages=case.languages
        )
        rows = self.notifier.enqueue_many(
            session,
            "comment_added",
            recipients,
            case=case,
            case_ctx=case.context(),
            thread_ids=thread_ids,
            comment=comment_ctx,
            in_reply_to=in_reply_to,
        )
        sent = len(rows)
        if case.status != old_status and (reopen or old_status == "closed"):
            sent += len(
                self.notifier.enqueue_many(
                    session,
                    "reopened",
                    self.notifier.case_recipients(session, case, languages=case.languages),
                    case=case,
                    case_ctx=case.context(),
                    extra={"old_status": old_status, "new_status": case.status},
                )
            )
        return sent

    def change_severity(
        self, session: Session, case: Case, severity: int, actor: str, reason: str = ""
    ) -> int:
        """A new severity moves an unanswered case's deadline (from when it opened) and says so."""
        old = case.severity
        if severity == old:
            return 0
        case.severity = severity
        case.severity_note = None
        case.updated_at = self.clock.now()
        if case.first_responded_at is None and case.status != "closed":
            plan = self.settings.sla.plan(case.account.plan)
            case.first_response_due_at = first_response_due(
                case.created_at, severity, plan.targets, plan.calendar
            )
            case.next_escalation_at = self._next_escalation(case, self._sent_levels(session, case))
        session.flush()
        extra = {"old_severity": old, "new_severity": severity, "reason": reason, "changed_by": actor}
        return len(
            self.notifier.enqueue_many(
                session,
                "severity_changed",
                self.notifier.case_recipients(session, case),
                case=case,
                extra=extra,
            )
        )

    def close(self, session: Session, case: Case, actor: str) -> int:
        if case.status == "closed":
            return 0
        now = self.clock.now()
        old = case.status
        case.status = "closed"
        case.closed_at = now
        case.updated_at = now
        case.next_escalation_at = None
        session.flush()
        return len(
            self.notifier.enqueue_many(
                session,
                "closed",
                self.notifier.case_recipients(session, case),
                case=case,
                extra={"old_status": old, "new_status": "closed", "closed_by": actor},
            )
        )

    def _command_close(self, session: Session, mail: InboundMail, case: Case, d: AddComment) -> int:
        if may_close(d.role):
            return self.close(session, case, d.author)
        return self._refuse(
            session, mail, "close_not_allowed", d.contact.language if d.contact else None, case
        )

    # ------------------------------------------------------------------ escalation

    def _sent_levels(self, session: Session, case: Case) -> set[int]:
        return self._sent_level_ids(session, case.id)

    def _sent_level_ids(self, session: Session, case_id: int) -> set[int]:
        query = select(Escalation.level).where(Escalation.case_id == case_id)
        return set(session.connection().execute(query).scalars())

    def _next_escalation(self, case: Case, sent: set[int]) -> datetime | None:
        """When the deadline scan must next look at this case (indexed), or None."""
        if (
            case.first_responded_at is not None
            or case.status == "closed"
            or case.first_response_due_at is None
        ):
            return None
        plan = self.settings.sla.plan(case.account.plan if case.account else None)
        return self._escalation_time(case.created_at, case.first_response_due_at, plan.calendar, sent)

    def _escalation_time(
        self, created_at: datetime, due: datetime, calendar: BusinessCalendar | None, sent: set[int]
    ) -> datetime | None:
        """The threshold of the first escalation level not yet sent for an unanswered case."""
        for level in self.settings.escalation.levels:
            if level.level in sent:
                continue
            return level_threshold(created_at, due, level.percent, calendar)
        return None

    def escalate(
        self, session: Session, case: Case, level: int, reason: str, requested_by: str | None
    ) -> int:
        """Record one escalation level and notify; the unique (case, level) row makes it once only."""
        now = self.clock.now()
        session.add(
            Escalation(case_id=case.id, level=level, reason=reason, requested_by=requested_by, created_at=now)
        )
        session.flush()
        levels = {lv.level: lv for lv in self.settings.escalation.levels}
        config = levels.get(level)
        managers = config.recipients if config else self.settings.escalation.recipients
        extra = {
            "level": level,
            "reason": reason,
            "due_at": case.first_response_due_at,
            "requested_by": requested_by,
        }
        ctx = self.notifier.case_context(case)
        sent = 0
        for email in managers:
            row = self.notifier.enqueue(
                session,
                "escalated",
                Recipient(email, "", self.notifier.language(None), "manager"),
                case=case,
                case_ctx=ctx,
                extra=extra,
            )
            sent += row is not None
        if self.settings.escalation.notify_contacts:
            recipients = [r for r in self.notifier.case_recipients(session, case) if r.email not in managers]
            sent += len(self.notifier.enqueue_many(session, "escalated", recipients, case=case, extra=extra))
        case.next_escalation_at = self._next_escalation(case, self._sent_levels(session, case))
        return sent

    def _command_escalate(self, session: Session, mail: InboundMail, case: Case, d: AddComment) -> int:
        language = d.contact.language if d.contact else None
        if d.role == "agent" or d.contact is None or not d.contact.designated:
            return self._notice(session, mail, "escalate_refused", {}, language, case=case)
        now = self.clock.now()
        due = case.first_response_due_at
        if due is not None and not can_escalate(due, now):
            return self._notice(
                session, mail, "escalate_too_early", {"possible_at": due}, language, case=case
            )
        by_customer = Escalation.reason == "customer_request"
        asked_before = session.scalar(select(Escalation.id).where(Escalation.case_id == case.id, by_customer))
        if asked_before:
            return self._refuse(session, mail, "already_escalated", language, case)
        level = max(self._sent_levels(session, case), default=0) + 1
        return self.escalate(session, case, level, "customer_request", d.author)

    def scan_deadlines(self, session: Session, case: Case) -> int:
        """Escalate every level of `case` that is due now; the caller holds the row lock."""
        now = self.clock.now()
        if (
            case.first_responded_at is not None
            or case.status == "closed"
            or case.first_response_due_at is None
        ):
            case.next_escalation_at = None
            return 0
        plan = self.settings.sla.plan(case.account.plan)
        sent_levels = self._sent_levels(session, case)
        sent = 0
        for level in due_levels(
            case.created_at,
            case.first_response_due_at,
            now,
            self.settings.escalation.levels,
            sent_levels,
            plan.calendar,
        ):
            sent += self.escalate(session, case, level.level, "deadline", None)
            sent_levels.add(level.level)
        case.next_escalation_at = self._next_escalation(case, sent_levels)
        return sent


# --------------------------------------------------------------------------- hot-path rows

# Notices that answer a sender (not the case's people): limited in total per hour.
NOTICE_EVENTS = ("helpdesk", "rejected", "escalate_refused", "escalate_too_early", "held")
HELD_EXCERPT = 2000  # characters of a held message's new text shown to the team
MAX_NOT_ADDED = 500  # addresses kept per case as not added over the caps


@dataclass(frozen=True, slots=True)
class RecordAt:
    """Where an inbound message's record goes: its mailbox key, and what a held message keeps."""

    mailbox: str
    key: str
    raw: bytes | None = None
    record_id: int | None = None


@dataclass(frozen=True, slots=True)
class NewParticipant:
    """A sharing-settings entry about to be written (with a new case or a new collaborator)."""

    email: str
    name: str
    role: str
    contact_id: int | None

    def values(self) -> dict[str, Any]:
        return {"email": self.email, "name": self.name, "role": self.role, "contact_id": self.contact_id}


@dataclass(frozen=True, slots=True)
class NewCase:
    """A case inserted in this transaction: what its acknowledgements need (notify.CaseRef)."""

    id: int
    severity: int
    thread_root: str
    participants: list[NewParticipant]

    @property
    def number(self) -> str:
        return format_case_number(self.id)


@dataclass(slots=True)
class CaseRow:
    """A case read with Core for a comment: what routing, bookkeeping and notifications need."""

    id: int
    subject: str
    severity: int
    status: str
    account_id: int
    account_name: str
    account_plan: str
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
            collaborators=[p.email for p in self.participants if p.role == "collaborator"],
            created_at=self.created_at,
            first_response_due_at=self.first_response_due_at,
            first_responded_at=self.first_responded_at,
            fields=self.fields,
            description=self.description,
        )


@dataclass(frozen=True, slots=True)
class NewComment:
    """A comment just written: what its notifications say about it."""

    id: int
    author_email: str
    author_name: str
    role: str
    body: str
    attachments: tuple[tuple[str, int], ...] = ()


def _insert_row(session: Session, statement: Insert, values: dict[str, Any]) -> int:
    """One row through Core on the session's connection; its new primary key."""
    result = session.connection().execute(statement, values)
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


_PRIMARY = aliased(Contact)
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
    )
    .join(Account, Account.id == Case.account_id)
    .join(_PRIMARY, _PRIMARY.id == Case.primary_contact_id)
    .where(Case.id == bindparam("case_id"))
)
_CASE_PARTICIPANTS = (
    select(Participant.email, Participant.name, Participant.role, Participant.contact_id, Contact.language)
    .outerjoin(Contact, Contact.email == Participant.email)
    .where(Participant.case_id == bindparam("case_id"))
    .order_by(Participant.id)
)
_INSERT_CASE = table(Case).insert()
_INSERT_PARTICIPANT = table(Participant).insert()
_INSERT_INBOUND = table(InboundMessage).insert()
_INSERT_COMMENT = table(Comment).insert()
_INSERT_ATTACHMENT = (
    table(Attachment).insert().returning(table(Attachment).c.id, sort_by_parameter_order=True)
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
