"""The team's side of a case (SPEC §10): its owner, its team, its internal notes.

Every path comes here: `maild case assign|move|note`, an agent's `#assign`,
`#team`, `#note` by e-mail, and the first agent's reply that makes them the
owner of an unowned case. What each change tells is fixed here too: an
assignment tells the new owner, the previous one and the team; a move tells
the new team (and the owner, when they stay); a note goes to the owner and
the team only. None of these is ever sent to a contact.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from maild.cases.env import CaseEnv
from maild.cases.facts import CaseRow
from maild.outbound.notify import Recipient
from maild.store.models import Agent, AgentTeam, Case, Comment
from maild.vocab import Event

__all__ = ["agent_by_email", "assign", "is_member", "move", "notify_note", "without_notes"]

NOTE_LINE_MIN = 12  # shorter note lines ("Thanks,") are too common to remove from a reply
NOTES_READ = 50  # the latest internal notes a public reply is checked against


def agent_by_email(session: Session, email: str) -> Agent | None:
    return session.execute(select(Agent).where(Agent.email == email.strip().lower())).scalar_one_or_none()


def is_member(session: Session, agent_id: int, team: str) -> bool:
    query = select(AgentTeam.id).where(AgentTeam.agent_id == agent_id, AgentTeam.team == team)
    return session.connection().execute(query).first() is not None


def assign(env: CaseEnv, session: Session, case: Case, agent: Agent, actor: str) -> int:
    """Make `agent` the owner; tell the new owner, the previous one and the team (not `actor`)."""
    if case.owner_id == agent.id:
        return 0
    previous = case.owner_email
    case.owner = agent
    case.updated_at = env.now()
    session.flush()
    extra: dict[str, object] = {
        "owner": agent.email,
        "owner_name": agent.name,
        "previous_owner": previous,
        "assigned_by": actor,
    }
    recipients = env.notifier.staff(case)
    if previous and previous not in (r.email for r in recipients):
        recipients.append(Recipient(previous, "", env.notifier.language(None), "agent"))
    return _tell_staff(env, session, case, Event.ASSIGNED, extra, recipients, actor)


def move(env: CaseEnv, session: Session, case: Case, team: str, actor: str) -> int:
    """Hand the case to `team`; its owner stays only if a member of it. Tells the new team."""
    old = case.team
    if old == team:
        return 0
    case.team = team
    if case.owner_id is not None and not is_member(session, case.owner_id, team):
        case.owner = None  # the new team picks it up: an owner outside it would not see its queue
    case.updated_at = env.now()
    session.flush()
    extra: dict[str, object] = {
        "old_team": old,
        "new_team": team,
        "moved_by": actor,
        "owner": case.owner_email,
    }
    return _tell_staff(env, session, case, Event.MOVED, extra, env.notifier.staff(case), actor)


def notify_note(
    env: CaseEnv, session: Session, case: CaseRow, comment: dict[str, object], author: str
) -> int:
    """An internal note to the owner and the team's copy, never to the sharing settings."""
    recipients = env.notifier.case_recipients(session, case, exclude=[author], internal=True)
    rows = env.notifier.enqueue_many(
        session, Event.NOTE_ADDED, recipients, case=case, case_ctx=case.context(), comment=comment
    )
    return len(rows)


def _tell_staff(
    env: CaseEnv,
    session: Session,
    case: Case,
    event: Event,
    extra: dict[str, object],
    recipients: list[Recipient],
    actor: str,
) -> int:
    chosen = [r for r in recipients if r.email != actor]
    return env.tell_case(session, case, event, extra=extra, recipients=chosen)


def without_notes(session: Session, case_id: int, body: str) -> str:
    """An agent's public reply without any line of the case's internal notes.

    Quote stripping removes the quoted note_added notification an agent
    answers, but a mail client's unknown reply header or a top-posted copy
    can defeat it; a note must never reach a contact (SPEC §10), so a
    public comment drops every line that repeats a line of a note (with or
    without `>` quoting). Lines shorter than NOTE_LINE_MIN stay: they are
    greetings and sign-offs more often than secrets.
    """
    query = (
        select(Comment.body)
        .where(Comment.case_id == case_id, Comment.internal.is_(True))
        .order_by(Comment.id.desc())
        .limit(NOTES_READ)
    )
    notes = session.connection().execute(query).scalars().all()
    if not notes:
        return body
    lines = (_plain(line) for note in notes for line in note.splitlines())
    secret = {line for line in lines if len(line) >= NOTE_LINE_MIN}
    kept = [line for line in body.splitlines(keepends=True) if _plain(line) not in secret]
    return "".join(kept)


def _plain(line: str) -> str:
    """A line as compared with a note's: without quoting marks and surrounding or repeated blanks."""
    return " ".join(line.lstrip(" \t>|").split())
