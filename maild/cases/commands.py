"""An agent's proven reply that starts with commands (SPEC §10): run them around the comment.

Order matters to the people who read the result: `#assign`, `#team` and
`#severity` run first, so the comment's notifications already go to the
new owner and team; then the text becomes a public comment, or an internal
note under `#note` (a reply of commands only adds no comment: an empty
comment must never reach a customer); `#waiting` sets the status with the
comment, and `#close` runs last, after the comment it may explain. Each
command's result, done or refused with why, goes back to the agent in one
acknowledgement (the `commands_applied` notice) whose reply address is their
own, so they can go on by e-mail. Routing has already required proof: an
unproven agent reply is held and nothing here runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from sqlalchemy.orm import Session

from maild.cases import actions, clocks, comments, teamwork
from maild.cases.clocks import clocks_of
from maild.cases.env import CaseEnv
from maild.cases.facts import CaseRow, load_case
from maild.cases.opening import add_collaborators, note_not_added, store_attachments
from maild.cases.recording import Applied, RecordAt, record
from maild.inbound.commands import ReplyCommand, read_commands
from maild.inbound.message import InboundMail
from maild.inbound.quotes import extract_reply
from maild.outbound.notify import Recipient
from maild.policy.followup import restarted_clocks
from maild.policy.lifecycle import CaseChange, command_refusal, next_status
from maild.policy.route import AddComment
from maild.store.models import Case
from maild.vocab import CaseStatus, Event, Role

__all__ = ["CommandResult", "agent_commands"]

_BEFORE_COMMENT = ("assign", "team", "severity")


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What one command line did: `code` names the outcome for the templates, `detail` fills it in."""

    line: str
    ok: bool
    code: str
    detail: str = ""


def agent_commands(
    env: CaseEnv,
    session: Session,
    mail: InboundMail,
    d: AddComment,
    at: RecordAt,
    loaded: Mapping[int, CaseRow],
) -> Applied:
    """A proven agent's reply with commands: see the module docstring for the order."""
    inbound_id = record(env, session, mail, at, d.outcome, d.reason, d.case.id)
    orm = session.get(Case, d.case.id)
    assert orm is not None
    results: list[CommandResult] = []
    sent = 0
    for command in d.commands:
        if command.name in _BEFORE_COMMENT:
            done, result = _before_comment(env, session, orm, command, d.author)
            sent += done
            results.append(result)
    case = load_case(session, orm.id) if results else loaded.get(orm.id) or load_case(session, orm.id)
    assert case is not None
    names: set[str] = {c.name for c in d.commands}
    sent += _comment(env, session, mail, d, case, inbound_id, names, results)
    for command in d.commands:
        if command.name in ("close", "escalate"):
            session.refresh(orm)  # the comment's Core UPDATE changed its status
            done, result = _after_comment(env, session, orm, command, d.author)
            sent += done
            results.append(result)
    sent += _acknowledge(env, session, mail, orm, d, results)
    return Applied(d.outcome, d.reason, case.number, sent)


def _before_comment(
    env: CaseEnv, session: Session, case: Case, command: ReplyCommand, actor: str
) -> tuple[int, CommandResult]:
    line, word = command.line, command.argument
    if not word:
        return 0, CommandResult(line, False, "missing_argument")
    if command.name == "assign":
        email = actor if word.lower() == "me" else word.lower()
        agent = teamwork.agent_by_email(session, email)
        if agent is None:
            return 0, CommandResult(line, False, "not_an_agent", email)
        if case.owner_id == agent.id:
            return 0, CommandResult(line, True, "unchanged", agent.email)
        queued = teamwork.assign(env, session, case, agent, actor)
        return queued, CommandResult(line, True, "assigned", agent.email)
    if command.name == "team":
        team = env.settings.team(word)
        if team is None:
            return 0, CommandResult(line, False, "unknown_team", word)
        if case.team == team.name:
            return 0, CommandResult(line, True, "unchanged", team.name)
        queued = teamwork.move(env, session, case, team.name, actor)
        return queued, CommandResult(line, True, "moved", team.name)
    severity = int(word) if word.isdigit() and len(word) == 1 else 0
    if severity not in (1, 2, 3, 4):
        return 0, CommandResult(line, False, "bad_severity", word)
    if severity == case.severity:
        return 0, CommandResult(line, True, "unchanged", str(severity))
    queued = actions.change_severity(env, session, case, severity, actor, "")
    return queued, CommandResult(line, True, "severity_changed", str(severity))


def _comment(
    env: CaseEnv,
    session: Session,
    mail: InboundMail,
    d: AddComment,
    case: CaseRow,
    inbound_id: int,
    names: set[str],
    results: list[CommandResult],
) -> int:
    """The reply's text as a comment (a note under `#note`), and `#waiting`; none when it has no text."""
    body = read_commands(extract_reply(mail.text)).body.strip("\n")
    internal = "note" in names
    if not internal:
        body = teamwork.without_notes(session, case.id, body)
    waiting = "waiting" in names
    attachments = tuple((a.filename, a.size) for a in mail.attachments)
    sent = 0
    if body.strip() or attachments:
        author = comments.Author(d.author, d.author_name, Role.AGENT)
        written = comments.add_comment(
            env,
            session,
            case,
            author,
            body,
            mail.text,
            inbound_id=inbound_id,
            attachments=attachments,
            internal=internal,
        )
        store_attachments(env, session, mail, case.id, written.id)
        add_collaborators(env, session, case, d.new_collaborators)
        note_not_added(session, case.id, d.not_added)
        sent += comments.after_comment(
            env,
            session,
            case,
            written,
            Role.AGENT,
            in_reply_to=mail.message_id,
            waiting=waiting and not internal,
            thread_ids=[mail.message_id],
        )
        if internal:
            results.append(CommandResult(_line(d, "note"), True, "noted"))
    elif internal:
        results.append(CommandResult(_line(d, "note"), False, "missing_argument"))
    if waiting:
        sent += _waiting(env, session, case, internal or not body.strip(), d.author)
        results.append(CommandResult(_line(d, "waiting"), True, "waiting"))
    return sent


def _waiting(env: CaseEnv, session: Session, case: CaseRow, tell: bool, actor: str) -> int:
    """`#waiting` without a public reply: the status changes and the case's people are told."""
    if case.status in (CaseStatus.WAITING_ON_CUSTOMER, CaseStatus.CLOSED) or not tell:
        return 0
    orm = session.get(Case, case.id)
    assert orm is not None
    session.refresh(orm)
    old = orm.status
    orm.status = next_status(old, CaseChange.AGENT_ASKED, answered=orm.first_responded_at is not None)
    orm.updated_at = env.now()
    plan = orm.account.plan if orm.account else None
    orm.next_response_due_at, orm.waiting_since = restarted_clocks(
        None, clocks_of(orm), clocks.rules(env, plan), env.now()
    )
    actions.reschedule(env, session, orm)
    session.flush()
    case.status, case.waiting_since = orm.status, orm.waiting_since
    case.next_response_due_at = orm.next_response_due_at
    extra = {"old_status": old, "new_status": orm.status, "changed_by": actor}
    return env.tell_case(session, orm, Event.STATUS_CHANGED, extra=extra)


def _after_comment(
    env: CaseEnv, session: Session, case: Case, command: ReplyCommand, actor: str
) -> tuple[int, CommandResult]:
    refusal = command_refusal(command.name, Role.AGENT, False)
    if refusal is not None:
        return 0, CommandResult(command.line, False, refusal)
    if case.status == CaseStatus.CLOSED:
        return 0, CommandResult(command.line, True, "unchanged", CaseStatus.CLOSED)
    return actions.close(env, session, case, actor), CommandResult(command.line, True, "closed")


def _line(d: AddComment, name: str) -> str:
    return next((c.line for c in d.commands if c.name == name), f"#{name}")


def _acknowledge(
    env: CaseEnv, session: Session, mail: InboundMail, case: Case, d: AddComment, results: list[CommandResult]
) -> int:
    """One notice to the agent: each command and what it did, in the order they wrote them."""
    session.refresh(case)  # the comment's Core UPDATE may have changed its status and owner
    order = {c.line: i for i, c in enumerate(d.commands)}
    ordered = sorted(results, key=lambda r: order.get(r.line, len(order)))
    extra = {"results": [asdict(r) for r in ordered], "teams": sorted(env.settings.teams)}
    agent = Recipient(d.author, d.author_name, env.notifier.language(None), Role.AGENT)
    row = env.notifier.enqueue(
        session, Event.COMMANDS_APPLIED, agent, case=case, extra=extra, in_reply_to=mail.message_id
    )
    return 0 if row is None else 1
