"""Opening a case: the case row, its sharing settings, its attachments, its acknowledgements.

The new case is the hot path of every busy mailbox, so it is written with
plain Core INSERTs on the session's connection (a fraction of an ORM flush
of a case graph). The sharing-settings and attachment writers here are
shared with comments (maild.cases.comments), which add collaborators by Cc
and store a reply's attachments the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from maild.cases.clocks import next_check
from maild.cases.env import CaseEnv, insert_row
from maild.cases.facts import CaseRow, NewParticipant
from maild.cases.recording import Applied, RecordAt, record
from maild.inbound.intake import read_fields
from maild.inbound.language import sender_language
from maild.inbound.message import Address, InboundMail
from maild.inbound.quotes import extract_reply
from maild.inbound.topics import read_topic
from maild.policy.route import OpenCase
from maild.policy.sla import first_response_due
from maild.policy.teams import choose_team
from maild.store import blobs
from maild.store.models import Attachment, Case, Contact, Participant, table
from maild.vocab import CaseStatus, Event, Role

__all__ = ["add_collaborators", "note_not_added", "open_case", "store_attachments"]

MAX_NOT_ADDED = 500  # addresses kept per case as not added over the caps


def open_case(env: CaseEnv, session: Session, mail: InboundMail, d: OpenCase, at: RecordAt) -> Applied:
    """A new case, its sharing settings and its acknowledgements, in Core statements."""
    case = _insert_case(env, session, mail, d, at.mailbox)
    record(env, session, mail, at, d.outcome, d.reason, case.id)
    note_not_added(session, case.id, d.not_added)
    store_attachments(env, session, mail, case.id, None)
    extra: dict[str, Any] = {
        "severity_note": d.severity.invalid,
        "previous_case": d.previous_case.number if d.previous_case else None,
    }
    rows = env.notifier.enqueue_many(
        session,
        Event.CASE_OPENED,
        env.notifier.case_recipients(session, case, languages=case.languages),
        case=case,
        case_ctx=case.context(),
        thread_ids=[mail.message_id],
        extra=extra,
        in_reply_to=mail.message_id,
    )
    return Applied(d.outcome, d.reason, case.number, len(rows))


def _team_of(env: CaseEnv, mail: InboundMail, d: OpenCase, mailbox: str) -> tuple[str | None, str | None]:
    """A new case's team and topic (SPEC §10; maild.policy.teams has the order)."""
    settings = env.settings
    topic = read_topic(mail.subject, mail.text)
    if not settings.teams:
        return None, topic
    mailbox_team = settings.mailbox_team(mailbox)
    team = choose_team(
        settings.team_routing, topic=topic, mailbox_team=mailbox_team, designated=d.contact.designated
    )
    return team, topic


def _insert_case(env: CaseEnv, session: Session, mail: InboundMail, d: OpenCase, mailbox: str) -> CaseRow:
    """The case row and its sharing settings; the case as a CaseRow, for its acknowledgements."""
    now = env.now()
    team, topic = _team_of(env, mail, d, mailbox)
    contact = d.contact
    # A contact without a language of their own is written to in the language they wrote in (SPEC §12).
    language = sender_language(contact.language, mail)
    plan = env.settings.sla.plan(contact.account_plan)
    text = mail.text.strip("\n")
    severity = d.severity.value
    due = first_response_due(now, severity, plan.targets, plan.calendar)
    case = CaseRow(
        id=0,
        subject=d.subject[:1000],
        severity=severity,
        status=CaseStatus.NEW,
        account_id=contact.account_id,
        account_name=contact.account_name,
        account_plan=contact.account_plan,
        primary_contact=contact.email,
        thread_root=mail.message_id,
        created_at=now,
        first_response_due_at=due,
        first_responded_at=None,
        closed_at=None,
        fields=read_fields(text),
        description=extract_reply(text) if d.previous_case else text.strip(),
        participants=[],
        languages={},
        team=team,
        topic=topic,
    )
    case.id = insert_row(
        session,
        _INSERT_CASE,
        {
            "subject": case.subject,
            "description": case.description,
            "description_full": text,
            "severity": severity,
            "severity_note": d.severity.invalid,
            "status": case.status,
            "account_id": contact.account_id,
            "primary_contact_id": contact.id,
            "previous_case_id": d.previous_case.id if d.previous_case else None,
            "fields": case.fields,
            "language": env.notifier.language(language),
            "thread_root": mail.message_id,
            "created_at": now,
            "updated_at": now,
            "first_response_due_at": due,
            "first_responded_at": None,
            "closed_at": None,
            "next_escalation_at": next_check(env, case, contact.account_plan, set()),
            "team": team,
            "topic": topic,
        },
    )
    primary = NewParticipant(
        email=contact.email,
        name=contact.name or (mail.from_addr.name if mail.from_addr else ""),
        role=Role.PRIMARY_CONTACT,
        contact_id=contact.id,
    )
    collaborators, languages = _collaborators(session, d.collaborators) if d.collaborators else ([], {})
    case.languages = {**languages, contact.email: language}
    _insert_participants(env, session, case, [primary, *collaborators])
    return case


def add_collaborators(env: CaseEnv, session: Session, case: CaseRow, addresses: Sequence[Address]) -> None:
    """New collaborators join the sharing settings (and `case`, for its notifications)."""
    if not addresses:
        return
    new, languages = _collaborators(session, addresses)
    _insert_participants(env, session, case, new)
    case.languages.update(languages)


def _insert_participants(env: CaseEnv, session: Session, case: CaseRow, new: list[NewParticipant]) -> None:
    now = env.now()
    session.connection().execute(
        _INSERT_PARTICIPANT, [{**p.values(), "case_id": case.id, "created_at": now} for p in new]
    )
    case.participants.extend(new)


def _collaborators(
    session: Session, addresses: Sequence[Address]
) -> tuple[list[NewParticipant], dict[str, str | None]]:
    """New collaborators' entries and their languages, from one contact query."""
    emails = [a.email for a in addresses]
    query = select(Contact.email, Contact.name, Contact.id, Contact.language).where(Contact.email.in_(emails))
    known = {row.email: row for row in session.connection().execute(query)}
    rows = [
        NewParticipant(
            email=a.email,
            name=a.name or (known[a.email].name if a.email in known else ""),
            role=Role.COLLABORATOR,
            contact_id=known[a.email].id if a.email in known else None,
        )
        for a in addresses
    ]
    return rows, {a.email: known[a.email].language if a.email in known else None for a in addresses}


def note_not_added(session: Session, case_id: int, addresses: Sequence[str]) -> None:
    """Keep the addresses the collaborator caps left out on the case, for agents to see."""
    if not addresses:
        return
    conn = session.connection()
    known = conn.execute(select(Case.collaborators_not_added).where(Case.id == case_id)).scalar() or []
    merged = list(dict.fromkeys([*known, *addresses]))[:MAX_NOT_ADDED]
    conn.execute(update(Case).where(Case.id == case_id).values(collaborators_not_added=merged))


def store_attachments(
    env: CaseEnv, session: Session, mail: InboundMail, case_id: int, comment_id: int | None
) -> None:
    """A message's attachments: a row each (a dropped one says why), the bytes in the blob store."""
    if not mail.attachments:
        return
    now = env.now()
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


_INSERT_CASE = table(Case).insert()
_INSERT_PARTICIPANT = table(Participant).insert()
_INSERT_ATTACHMENT = (
    table(Attachment).insert().returning(table(Attachment).c.id, sort_by_parameter_order=True)
)
