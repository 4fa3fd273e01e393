"""Comments: a reply by e-mail or an agent's `maild case reply`, and what every comment causes.

A comment is the busiest write after a new case, so the case is read and
updated with Core (a CaseRow, one UPDATE). Its status follows
maild.policy.lifecycle.next_status, whichever path the comment came by; a
command in the reply (`#close`, `#escalate`) is handed to maild.cases.actions
once the comment is written. An internal note (SPEC §10) is a comment too,
but it changes no status, answers no deadline and goes to the team only
(maild.cases.teamwork); an agent's first public reply makes them the owner
of an unowned case. An agent's reply that carries commands is
maild.cases.commands' (it runs them around the comment).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from maild.cases.actions import command_close, command_escalate
from maild.cases.clocks import clocks_of, done_keys, next_check, rules
from maild.cases.env import CaseEnv, insert_row
from maild.cases.facts import CaseRow, load_case
from maild.cases.notices import refuse
from maild.cases.opening import add_collaborators, note_not_added, store_attachments
from maild.cases.recording import Applied, RecordAt, record
from maild.cases.teamwork import notify_note, without_notes
from maild.inbound.commands import read_commands
from maild.inbound.message import InboundMail
from maild.inbound.quotes import extract_reply
from maild.policy.followup import restarted_clocks, resumed_due
from maild.policy.lifecycle import AGENT_COMMANDS, CaseChange, next_status
from maild.policy.route import AddComment
from maild.store.models import Agent, Case, Comment, table
from maild.vocab import CaseStatus, Event, Role

__all__ = ["Author", "NewComment", "add_comment", "after_comment", "comment"]


@dataclass(frozen=True, slots=True)
class Author:
    """Who wrote a comment, and in what part of the case."""

    email: str
    name: str
    role: Role


@dataclass(frozen=True, slots=True)
class NewComment:
    """A comment just written: what its notifications say about it."""

    id: int
    author_email: str
    author_name: str
    role: str
    body: str
    attachments: tuple[tuple[str, int], ...] = ()
    internal: bool = False

    def context(self) -> dict[str, Any]:
        """What templates read as `comment.*`."""
        return {
            "author": self.author_email,
            "author_name": self.author_name,
            "role": self.role,
            "body": self.body,
            "attachments": [{"filename": name, "size": size} for name, size in self.attachments],
            "internal": self.internal,
        }


def comment(
    env: CaseEnv,
    session: Session,
    mail: InboundMail,
    d: AddComment,
    at: RecordAt,
    loaded: Mapping[int, CaseRow],
) -> Applied:
    """A reply by e-mail: the comment, its attachments and Cc'd collaborators, then its commands."""
    case = loaded.get(d.case.id) or load_case(session, d.case.id)
    assert case is not None
    body = extract_reply(mail.text)
    if d.commands:
        body = read_commands(body).body
    if d.role == Role.AGENT:
        body = without_notes(session, case.id, body)
    inbound_id = record(env, session, mail, at, d.outcome, d.reason, case.id)
    if d.commands and not body.strip() and not mail.attachments:
        # Commands only: no empty comment reaches the case's people.
        sent = _contact_commands(env, session, mail, case.id, d, False)
        return Applied(d.outcome, d.reason, case.number, sent)
    written = add_comment(
        env,
        session,
        case,
        Author(d.author, d.author_name, d.role),
        body,
        mail.text,
        inbound_id=inbound_id,
        source="email",
        attachments=tuple((a.filename, a.size) for a in mail.attachments),
    )
    store_attachments(env, session, mail, case.id, written.id)
    add_collaborators(env, session, case, d.new_collaborators)
    note_not_added(session, case.id, d.not_added)
    sent = after_comment(
        env,
        session,
        case,
        written,
        d.role,
        in_reply_to=mail.message_id,
        reopen=d.reopen,
        thread_ids=[mail.message_id],
    )
    if d.commands:
        sent += _contact_commands(env, session, mail, case.id, d, True)
    return Applied(d.outcome, d.reason, case.number, sent)


def _contact_commands(
    env: CaseEnv, session: Session, mail: InboundMail, case_id: int, d: AddComment, commented: bool
) -> int:
    """A contact's `#close` / `#escalate`; an agents' command changes nothing and is refused once."""
    # Commands are rare: they work on the ORM case, read fresh after the UPDATE above.
    orm = session.get(Case, case_id)
    assert orm is not None
    sent = 0
    names = list(dict.fromkeys(c.name for c in d.commands))
    if any(name in AGENT_COMMANDS for name in names):
        language = d.contact.language if d.contact else None
        sent += refuse(env, session, mail, "agent_command", language, orm, commented=commented)
    for name in names:
        if name in ("close", "escalate"):
            run = command_close if name == "close" else command_escalate
            sent += run(env, session, mail, orm, d)
    return sent


def add_comment(
    env: CaseEnv,
    session: Session,
    case: CaseRow,
    author: Author,
    body: str,
    full_body: str,
    *,
    inbound_id: int | None = None,
    source: str = "email",
    attachments: tuple[tuple[str, int], ...] = (),
    internal: bool = False,
) -> NewComment:
    """The comment row; `attachments` (filename, size) are the ones stored with it."""
    values = {
        "case_id": case.id,
        "author_email": author.email,
        "author_name": author.name,
        "role": author.role,
        "body": body,
        "full_body": full_body,
        "source": source,
        "inbound_message_id": inbound_id,
        "created_at": env.now(),
        "internal": internal,
    }
    comment_id = insert_row(session, _INSERT_COMMENT, values)
    return NewComment(comment_id, author.email, author.name, str(author.role), body, attachments, internal)


def after_comment(
    env: CaseEnv,
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
    An internal note changes nothing but `updated_at` and goes to the team only.
    """
    if comment.internal:
        session.connection().execute(update(Case).where(Case.id == case.id).values(updated_at=env.now()))
        return notify_note(env, session, case, comment.context(), comment.author_email)
    old_status = case.status
    _update_case(env, session, case, _change_of(role, reopen, waiting), comment.author_email)
    comment_ctx = comment.context()
    recipients = env.notifier.case_recipients(
        session, case, exclude=[comment.author_email], languages=case.languages
    )
    rows = env.notifier.enqueue_many(
        session,
        Event.COMMENT_ADDED,
        recipients,
        case=case,
        case_ctx=case.context(),
        thread_ids=thread_ids,
        comment=comment_ctx,
        in_reply_to=in_reply_to,
    )
    sent = len(rows)
    if case.status != old_status and (reopen or old_status == CaseStatus.CLOSED):
        extra = {"old_status": old_status, "new_status": case.status}
        sent += env.tell_case(
            session, case, Event.REOPENED, extra=extra, case_ctx=case.context(), languages=case.languages
        )
    return sent


def _change_of(role: str, reopen: bool, waiting: bool) -> CaseChange:
    """What a comment does to its case, by who wrote it."""
    if role == Role.AGENT:
        return CaseChange.AGENT_ASKED if waiting else CaseChange.AGENT_REPLIED
    return CaseChange.REOPENED if reopen else CaseChange.CONTACT_REPLIED


def _update_case(env: CaseEnv, session: Session, case: CaseRow, change: CaseChange, author: str) -> None:
    """The case's new status, times and owner, in `case` and in one UPDATE."""
    now = env.now()
    changes: dict[str, Any] = {"updated_at": now}
    answered = change in (CaseChange.AGENT_REPLIED, CaseChange.AGENT_ASKED)
    if answered and case.first_responded_at is None:
        case.first_responded_at = changes["first_responded_at"] = now
    if answered and case.owner_id is None:
        # SPEC §10: the first agent who responds owns an unowned case.
        agent_id = session.connection().execute(select(Agent.id).where(Agent.email == author)).scalar()
        if agent_id is not None:
            case.owner_id = changes["owner_id"] = agent_id
            case.owner_email = author
    status = next_status(case.status, change, answered=case.first_responded_at is not None)
    if status != case.status:
        if case.status == CaseStatus.CLOSED:
            case.closed_at = changes["closed_at"] = None
        case.status = changes["status"] = status
    _restart_clocks(env, session, case, change, changes)
    session.connection().execute(update(Case).where(Case.id == case.id).values(**changes))


def _restart_clocks(
    env: CaseEnv, session: Session, case: CaseRow, change: CaseChange, changes: dict[str, Any]
) -> None:
    """Start or stop the response clocks the comment moves (SPEC §11), and the scan's next look.

    Most comments move none (a customer's second follow-up keeps the first's
    deadline): then nothing is read or written. New clocks have new keys, so
    nothing of theirs was done yet; only a reopening (which may resume the
    first-response levels left unsent) reads what was.
    """
    plan = rules(env, case.account_plan)
    before = (case.next_response_due_at, case.waiting_since)
    after = restarted_clocks(change, clocks_of(case), plan, env.now())
    resumed = case.waiting_since is not None and after[1] is None and case.first_responded_at is None
    if resumed and case.status != CaseStatus.CLOSED:
        # The wait paused the first-response clock; its deadline moves by the wait's open time.
        assert case.waiting_since is not None
        due = resumed_due(case.first_response_due_at, case.waiting_since, env.now(), plan.calendar)
        case.first_response_due_at = changes["first_response_due_at"] = due
    if after == before and "first_responded_at" not in changes and change is not CaseChange.REOPENED:
        return
    case.next_response_due_at, case.waiting_since = after
    changes["next_response_due_at"], changes["waiting_since"] = after
    reread = change is CaseChange.REOPENED or resumed
    changes["next_escalation_at"] = next_check(
        env, case, case.account_plan, done_keys(session, case.id) if reread else set()
    )


_INSERT_COMMENT = table(Comment).insert()
