"""The case writers' one entry point: apply a routing decision, or an agent's command, in a session.

CaseService is a thin façade over the modules that each own one job
(recording, notices, opening, comments, actions); it exists so the
callers — the ingest loop, held-mail release, the command line, the
deadline scan — hold one object built once by the App. Nothing here
commits: the caller's unit of work does, once per inbound message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.orm import Session

from maild.cases import actions, commands, comments, deadlines, notices, opening, recording, teamwork
from maild.cases.env import CaseEnv
from maild.cases.facts import CaseRow
from maild.cases.recording import Applied, RecordAt
from maild.config import Settings
from maild.inbound.message import InboundMail
from maild.outbound.notify import Notifier
from maild.policy.route import AddComment, Decision, Helpdesk, Hold, Ignore, OpenCase, Reject
from maild.store.models import Agent, Case
from maild.vocab import Role

__all__ = ["CaseService"]


class CaseService:
    """Writes for inbound decisions and for agents' commands; never commits."""

    def __init__(self, settings: Settings, notifier: Notifier) -> None:
        self.env = CaseEnv(settings, notifier)

    @property
    def settings(self) -> Settings:
        return self.env.settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        """A configuration reload: every writer sees the new settings from the next message on."""
        self.env.settings = settings

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
        env = self.env
        if isinstance(decision, Ignore):
            return recording.ignore(env, session, mail, decision, at)
        if isinstance(decision, Reject):
            return notices.reject(env, session, mail, decision, at)
        if isinstance(decision, Helpdesk):
            return notices.helpdesk(env, session, mail, decision, at)
        if isinstance(decision, Hold):
            return notices.hold(env, session, mail, decision, at)
        if isinstance(decision, OpenCase):
            return opening.open_case(env, session, mail, decision, at)
        if isinstance(decision, AddComment) and decision.role == Role.AGENT and decision.commands:
            return commands.agent_commands(env, session, mail, decision, at, loaded or {})
        return comments.comment(env, session, mail, decision, at, loaded or {})

    def record(
        self,
        session: Session,
        mail: InboundMail,
        mailbox: str,
        key: str,
        outcome: str,
        reason: str,
        *,
        raw: bytes | None = None,
    ) -> int:
        """A record for a message that reached no decision (a duplicate, a quarantined one); its id."""
        return recording.record(self.env, session, mail, RecordAt(mailbox, key, raw), outcome, reason)

    def add_comment(
        self,
        session: Session,
        case: CaseRow,
        author: str,
        author_name: str,
        role: Role,
        body: str,
        full_body: str,
        *,
        source: str = "email",
        internal: bool = False,
    ) -> comments.NewComment:
        """An agent's reply or note from the command line (e-mail replies come through apply)."""
        writer = comments.Author(author, author_name, role)
        return comments.add_comment(
            self.env, session, case, writer, body, full_body, source=source, internal=internal
        )

    def after_comment(
        self,
        session: Session,
        case: CaseRow,
        comment: comments.NewComment,
        role: str,
        *,
        in_reply_to: str | None,
        waiting: bool = False,
        thread_ids: Sequence[str] = (),
    ) -> int:
        return comments.after_comment(
            self.env,
            session,
            case,
            comment,
            role,
            in_reply_to=in_reply_to,
            waiting=waiting,
            thread_ids=thread_ids,
        )

    def change_severity(
        self, session: Session, case: Case, severity: int, actor: str, reason: str = ""
    ) -> int:
        return actions.change_severity(self.env, session, case, severity, actor, reason)

    def assign(self, session: Session, case: Case, agent: Agent, actor: str) -> int:
        """Make `agent` the owner of `case` (SPEC §10); notifications queued."""
        return teamwork.assign(self.env, session, case, agent, actor)

    def move(self, session: Session, case: Case, team: str, actor: str) -> int:
        """Hand `case` to the configured team `team` (SPEC §10); notifications queued."""
        return teamwork.move(self.env, session, case, team, actor)

    def close(self, session: Session, case: Case, actor: str) -> int:
        """Close `case`; the caller has checked maild.policy.lifecycle.may_close for `actor`."""
        return actions.close(self.env, session, case, actor)

    def scan_deadlines(self, session: Session, case: Case) -> int:
        return deadlines.scan_case(self.env, session, case)
