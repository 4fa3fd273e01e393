"""Notifications: who gets one for an event, and what each recipient's copy says.

Notifier decides the recipients (a case's sharing settings plus the agent
address), renders one message per recipient at queue time (compose.py for
the text, message.py for the bytes) and hands the result to outbox.enqueue,
inside the caller's transaction. Rendering at queue time fixes the
Message-ID, the per-recipient reply address and the text, so a retry sends
the very same bytes. Each recipient gets a message of their own, with a
reply token issued to them, so a reply proves whose copy it answers.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from maild.clock import Clock
from maild.config import SupportSettings
from maild.configteams import TeamSettings
from maild.mailids import case_tag
from maild.outbound import outbox
from maild.outbound.compose import Composer
from maild.outbound.i18n import FALLBACK_LANGUAGE, pick_language, severity_name
from maild.outbound.message import build_message, make_message_id
from maild.outbound.outbox import InboundLink, Notification
from maild.policy.tokens import make_token, reply_address
from maild.store.models import Case, Contact
from maild.vocab import Event, Role

log = logging.getLogger("maild.notify")


@dataclass(frozen=True, slots=True)
class Recipient:
    """One person a notification goes to, and the language and role their copy is written for."""

    email: str
    name: str
    language: str
    role: str  # primary_contact | collaborator | agent | manager | other


class ParticipantRef(Protocol):
    """One entry of a case's sharing settings (an ORM Participant or one read with Core)."""

    @property
    def email(self) -> str:
        """The key a recipient is matched, excluded and looked up (for a language) by."""

    @property
    def name(self) -> str:
        """The display name of the To header; may be empty."""

    @property
    def role(self) -> str:
        """What the copy's template may say the recipient is to the case."""


class CaseRef(Protocol):
    """What queueing a notification reads of a case: an ORM Case or a case just inserted."""

    id: int
    severity: int
    thread_root: str

    @property
    def number(self) -> str: ...
    @property
    def participants(self) -> Sequence[ParticipantRef]: ...
    @property
    def team(self) -> str | None: ...
    @property
    def owner_email(self) -> str | None: ...


class Notifier:
    """Turns one event into one queued message per recipient (see the module docstring).

    `composer`, `support` and `teams` are replaced in place on reload (SIGHUP).
    """

    def __init__(
        self,
        composer: Composer,
        support: SupportSettings,
        clock: Clock,
        teams: Mapping[str, TeamSettings] | None = None,
    ) -> None:
        self.composer = composer
        self.support = support
        self.clock = clock
        self.teams: Mapping[str, TeamSettings] = teams or {}

    # ------------------------------------------------------------------ recipients

    def case_recipients(
        self,
        session: Session,
        case: CaseRef,
        *,
        exclude: Iterable[str] = (),
        include_agent: bool = True,
        languages: Mapping[str, str | None] | None = None,
        internal: bool = False,
    ) -> list[Recipient]:
        """Everyone in the sharing settings, the team's copy and the owner, less `exclude`.

        `internal`: the team's copy and the owner only (an internal note,
        SPEC §10): nobody in the sharing settings. `include_agent=False`
        leaves out the team's copy. `languages` (email -> contact language)
        saves the lookup when the caller has them.
        """
        skip = {e.lower() for e in exclude}
        out: list[Recipient] = []
        if not internal:
            if languages is None:
                languages = self._contact_languages(session, [p.email for p in case.participants])
            # A primary contact with no language of their own: the case's (the language of the
            # message that opened it, SPEC §12), as CaseRow's languages already say.
            case_language = getattr(case, "language", None)
            for p in case.participants:
                if p.email not in skip:
                    primary = p.role == Role.PRIMARY_CONTACT
                    own = languages.get(p.email) or (case_language if primary else None)
                    language = own or self.language(None)
                    out.append(Recipient(p.email, p.name, language, p.role))
        for staff in self.staff(case, include_team=include_agent):
            if staff.email not in skip and all(r.email != staff.email for r in out):
                out.append(staff)
        return out

    def staff(self, case: CaseRef, *, include_team: bool = True) -> list[Recipient]:
        """The support side of a case's notifications: its team's copy (else the agent address), its owner."""
        out: list[Recipient] = []
        team = self.team_address(case.team) if include_team else None
        if team:
            out.append(Recipient(team, "", self.language(None), "team"))
        owner = case.owner_email
        if owner and owner != team:
            out.append(Recipient(owner, "", self.language(None), "owner"))
        return out

    def team_address(self, team: str | None) -> str | None:
        """The team's address for its cases' copies, else `support.agent_address` (SPEC §10)."""
        found = self.teams.get(team) if team else None
        return (found.address if found else None) or self.support.agent_address

    def managers(self, case: CaseRef, fallback: Sequence[str], *, instead: Sequence[str] = ()) -> list[str]:
        """Who gets a case's escalation notice: `instead` when given, else its team's managers
        (else `fallback`); and its owner."""
        found = self.teams.get(case.team) if case.team else None
        chosen = list(instead or (found.managers if found else ()) or fallback)
        if case.owner_email and case.owner_email not in chosen:
            chosen.append(case.owner_email)
        return chosen

    def _contact_languages(self, session: Session, emails: Sequence[str]) -> dict[str, str | None]:
        if not emails:
            return {}
        # Core on the session's connection: no autoflush, no ORM row objects.
        query = select(Contact.email, Contact.language).where(Contact.email.in_(emails))
        return {email: lang for email, lang in session.connection().execute(query)}

    def language(self, wanted: str | None) -> str:
        """The language to write in: `wanted` when there are words for it, else the support default."""
        return pick_language(wanted, self.support.default_language)

    # ------------------------------------------------------------------ context

    def case_context(self, case: Case) -> dict[str, Any]:
        """The template view of a case (built once per event, shared by its recipients)."""
        return case_view(
            number=case.number,
            subject=case.subject,
            severity=case.severity,
            status=case.status,
            account=case.account.name,
            primary_contact=case.primary_contact.email,
            collaborators=[p.email for p in case.participants if p.role == Role.COLLABORATOR],
            created_at=case.created_at,
            first_response_due_at=case.first_response_due_at,
            first_responded_at=case.first_responded_at,
            fields=case.fields or {},
            description=case.description,
            team=case.team,
            owner=case.owner_email,
            topic=case.topic,
        )

    # ------------------------------------------------------------------ queueing

    def enqueue(
        self,
        session: Session,
        event: Event,
        recipient: Recipient,
        *,
        case: CaseRef | None = None,
        case_ctx: Mapping[str, Any] | None = None,
        comment: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        in_reply_to: str | None = None,
        references: Sequence[str] = (),
    ) -> str | None:
        """Render one notification for one recipient and queue it.

        Returns its Message-ID, or None when this recipient cannot be written to.
        """
        queued = self.enqueue_many(
            session,
            event,
            [recipient],
            case=case,
            case_ctx=case_ctx,
            comment=comment,
            extra=extra,
            in_reply_to=in_reply_to,
            references=references,
        )
        return queued[0] if queued else None

    def enqueue_many(
        self,
        session: Session,
        event: Event,
        recipients: Iterable[Recipient],
        *,
        case: CaseRef | None,
        case_ctx: Mapping[str, Any] | None = None,
        thread_ids: Sequence[str] = (),
        comment: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        in_reply_to: str | None = None,
        references: Sequence[str] = (),
    ) -> list[str]:
        """Every recipient's copy of one event, written with one multi-row INSERT.

        `case_ctx` is required when `case` is not an ORM Case (a case just inserted).
        `thread_ids` are the Message-IDs of the inbound message that caused the
        event: they join the case's thread in the same INSERT as the notifications' own.
        `enqueue` is this for one recipient, with or without a case (a notice has none).
        """
        now = self.clock.now()
        queued = self.render_many(
            event,
            recipients,
            case=case,
            case_ctx=case_ctx,
            comment=comment,
            extra=extra,
            in_reply_to=in_reply_to,
            references=references,
            now=now,
        )
        inbound = InboundLink(case.id, thread_ids) if case is not None and thread_ids else None
        if queued or inbound is not None:
            outbox.enqueue(session.connection(), queued, now=now, inbound=inbound)
        return [n.message_id for n in queued]

    def render_many(
        self,
        event: Event,
        recipients: Iterable[Recipient],
        *,
        case: CaseRef | None,
        case_ctx: Mapping[str, Any] | None = None,
        comment: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        in_reply_to: str | None = None,
        references: Sequence[str] = (),
        now: datetime | None = None,
    ) -> list[Notification]:
        """Every recipient's copy of one event as outbox rows, without queueing them.

        A recipient who cannot be written to is left out (logged).
        """
        if case is not None and case_ctx is None:
            assert isinstance(case, Case), "a case that is not an ORM Case comes with its case_ctx"
            case_ctx = self.case_context(case)
        moment = self.clock.now() if now is None else now
        rendered = (
            self._render(
                event,
                r,
                case,
                case_ctx,
                comment,
                extra,
                now=moment,
                in_reply_to=in_reply_to,
                references=references,
            )
            for r in recipients
        )
        return [n for n in rendered if n is not None]

    def _render(
        self,
        event: Event,
        recipient: Recipient,
        case: CaseRef | None,
        case_ctx: Mapping[str, Any] | None,
        comment: Mapping[str, Any] | None,
        extra: Mapping[str, Any] | None,
        *,
        now: datetime,
        in_reply_to: str | None,
        references: Sequence[str],
    ) -> Notification | None:
        """One recipient's notification as outbox bytes, or None (logged) if it cannot be written.

        Rendering here, at queue time, fixes the Message-ID, the reply address
        and the text, so a retry sends the very same bytes.
        """
        token_address = None
        if case is not None:
            token = make_token(self.support.secret, case.id, recipient.email)
            token_address = reply_address(self.support.address, token)
            case_ctx = {**(case_ctx or {}), "severity_name": severity_name(case.severity, recipient.language)}
        rendered = self.composer.render(
            event, recipient.language, self._context(recipient, token_address, case_ctx, comment, extra)
        )
        message_id = make_message_id(
            self.support.domain, f"{secrets.token_hex(10)}.{case.number if case else 'notice'}"
        )
        thread_root = case.thread_root if case is not None else in_reply_to
        try:
            raw = build_message(
                rendered,
                from_addr=self.support.address,
                from_name=self.support.name,
                to_addr=recipient.email,
                to_name=recipient.name or None,
                reply_to=token_address,
                message_id=message_id,
                in_reply_to=in_reply_to or thread_root,
                references=list(dict.fromkeys(r for r in (thread_root, *references) if r)),
                date=now,
                extra_headers={"X-Maild-Event": event, **({"X-Maild-Case": case.number} if case else {})},
            )
        except ValueError as e:
            # One recipient we cannot write to (e.g. a non-ASCII address) must not
            # take down the message that caused the notification.
            log.warning("%s notification to %r skipped: %s", event, recipient.email, e)
            return None
        return Notification(
            event=event,
            recipient=recipient.email,
            mail_from=self.support.address,
            message_id=message_id,
            subject=rendered.subject,
            raw=raw,
            case_id=case.id if case is not None else None,
        )

    def _context(
        self,
        recipient: Recipient,
        reply_to: str | None,
        case_ctx: Mapping[str, Any] | None,
        comment: Mapping[str, Any] | None,
        extra: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """The template context of compose.py's contract, for one recipient."""
        return {
            "support": {"name": self.support.name, "address": self.support.address},
            "recipient": {
                "email": recipient.email,
                "name": recipient.name,
                "language": recipient.language,
                "role": recipient.role,
            },
            "reply_address": reply_to,
            "case": case_ctx,
            "comment": comment,
            "event": dict(extra or {}),
        }


def case_view(
    *,
    number: str,
    subject: str,
    severity: int,
    status: str,
    account: str,
    primary_contact: str,
    collaborators: list[str],
    created_at: datetime,
    first_response_due_at: datetime | None,
    first_responded_at: datetime | None,
    fields: Mapping[str, Any],
    description: str,
    team: str | None = None,
    owner: str | None = None,
    topic: str | None = None,
) -> dict[str, Any]:
    """The template view of a case: what templates may read as `case.*`."""
    return {
        "number": number,
        "tag": case_tag(number),
        "subject": subject,
        "severity": severity,
        "severity_name": severity_name(severity, FALLBACK_LANGUAGE),
        "status": status,
        "account": account,
        "primary_contact": primary_contact,
        "collaborators": collaborators,
        "created_at": created_at,
        "first_response_due_at": first_response_due_at,
        "first_responded_at": first_responded_at,
        "fields": dict(fields),
        "description": description,
        "team": team,
        "owner": owner,
        "topic": topic,
    }
