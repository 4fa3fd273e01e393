"""Notifications: who gets one for an event, and queueing each in the outbox.

A notification is rendered and written as an outbox row inside the caller's
transaction (transactional outbox): it exists exactly when the change that
caused it was committed. Rendering at queue time fixes the Message-ID, the
per-recipient reply address and the text, so a retry sends the very same
bytes. Each recipient gets a message of their own, with a reply token
issued to them, so a reply proves whose copy it answers.
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
from maild.mailids import case_tag
from maild.outbound.compose import Composer, Rendered, build_message, make_message_id
from maild.outbound.i18n import FALLBACK_LANGUAGE, pick_language, severity_name
from maild.policy.tokens import make_token, reply_address
from maild.store.models import Case, Contact, Outbox, ThreadMessage, table

log = logging.getLogger("maild.notify")


@dataclass(frozen=True, slots=True)
class Recipient:
    email: str
    name: str
    language: str
    role: str  # primary_contact | collaborator | agent | manager | other


class ParticipantRef(Protocol):
    """One entry of a case's sharing settings, as notifications need it."""

    @property
    def email(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...


class CaseRef(Protocol):
    """What queueing a notification reads of a case: an ORM Case or a case just inserted."""

    @property
    def id(self) -> int: ...
    @property
    def number(self) -> str: ...
    @property
    def severity(self) -> int: ...
    @property
    def thread_root(self) -> str: ...
    @property
    def participants(self) -> Sequence[ParticipantRef]: ...


class Notifier:
    def __init__(self, composer: Composer, support: SupportSettings, clock: Clock) -> None:
        self.composer = composer
        self.support = support
        self.clock = clock

    # ------------------------------------------------------------------ recipients

    def case_recipients(
        self,
        session: Session,
        case: CaseRef,
        *,
        exclude: Iterable[str] = (),
        include_agent: bool = True,
        languages: Mapping[str, str | None] | None = None,
    ) -> list[Recipient]:
        """Everyone in the sharing settings (and the agent address), less `exclude`.

        `languages` (email -> contact language) saves the lookup when the caller has them.
        """
        skip = {e.lower() for e in exclude}
        if languages is None:
            languages = self._contact_languages(session, [p.email for p in case.participants])
        out: list[Recipient] = []
        for p in case.participants:
            if p.email in skip:
                continue
            out.append(Recipient(p.email, p.name, languages.get(p.email) or self.language(None), p.role))
        agent = self.support.agent_address
        if include_agent and agent and agent not in skip and all(r.email != agent for r in out):
            out.append(Recipient(agent, "", self.language(None), "agent"))
        return out

    def _contact_languages(self, session: Session, emails: Sequence[str]) -> dict[str, str | None]:
        if not emails:
            return {}
        # Core on the session's connection: no autoflush, no ORM row objects.
        query = select(Contact.email, Contact.language).where(Contact.email.in_(emails))
        return {email: lang for email, lang in session.connection().execute(query)}

    def language(self, wanted: str | None) -> str:
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
            collaborators=[p.email for p in case.participants if p.role == "collaborator"],
            created_at=case.created_at,
            first_response_due_at=case.first_response_due_at,
            first_responded_at=case.first_responded_at,
            fields=case.fields or {},
            description=case.description,
        )

    # ------------------------------------------------------------------ queueing

    def enqueue(
        self,
        session: Session,
        event: str,
        recipient: Recipient,
        *,
        case: CaseRef | None = None,
        case_ctx: Mapping[str, Any] | None = None,
        comment: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        in_reply_to: str | None = None,
        references: Sequence[str] = (),
        batch: list[dict[str, Any]] | None = None,
    ) -> str | None:
        """Render one notification for one recipient and queue it: its Message-ID, or None if skipped.

        With `batch`, the row is collected there for the caller to insert with others.
        """
        now = self.clock.now()
        language = recipient.language
        token_address = None
        if case is not None:
            token_address = reply_address(
                self.support.address, make_token(self.support.secret, case.id, recipient.email)
            )
            if case_ctx is None:
                assert isinstance(case, Case), "a case that is not an ORM Case comes with its case_ctx"
                case_ctx = self.case_context(case)
            case_ctx = {
                **case_ctx,
                "severity_name": severity_name(case.severity, language),
            }
        context = {
            "support": {"name": self.support.name, "address": self.support.address},
            "recipient": {
                "email": recipient.email,
                "name": recipient.name,
                "language": language,
                "role": recipient.role,
            },
            "reply_address": token_address,
            "case": case_ctx,
            "comment": comment,
            "event": dict(extra or {}),
        }
        rendered = self.composer.render(event, language, context)
        unique = f"{secrets.token_hex(10)}.{case.number if case else 'notice'}"
        message_id = make_message_id(self.support.domain, unique)
        thread_root = case.thread_root if case is not None else in_reply_to
        refs = [r for r in (thread_root, *references) if r]
        try:
            data = self._build(
                rendered,
                recipient,
                token_address,
                message_id,
                in_reply_to or thread_root,
                refs,
                now,
                event,
                case,
            )
        except ValueError as e:
            # One recipient we cannot write to (e.g. a non-ASCII address) must not
            # take down the message that caused the notification.
            log.warning("%s notification to %r skipped: %s", event, recipient.email, e)
            return None
        row: dict[str, Any] = {
            "case_id": case.id if case is not None else None,
            "event": event,
            "recipient": recipient.email,
            "mail_from": self.support.address,
            "message_id": message_id,
            "subject": rendered.subject,
            "raw": data,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        if batch is not None:
            batch.append(row)
        else:
            _insert(session, [row], [])
        return message_id

    def _build(
        self,
        rendered: Rendered,
        recipient: Recipient,
        reply_to: str | None,
        message_id: str,
        in_reply_to: str | None,
        references: list[str],
        now: datetime,
        event: str,
        case: CaseRef | None,
    ) -> bytes:
        return build_message(
            rendered,
            from_addr=self.support.address,
            from_name=self.support.name,
            to_addr=recipient.email,
            to_name=recipient.name or None,
            reply_to=reply_to,
            message_id=message_id,
            in_reply_to=in_reply_to,
            references=list(dict.fromkeys(references)),
            date=now,
            extra_headers={"X-Maild-Event": event, **({"X-Maild-Case": case.number} if case else {})},
        )

    def enqueue_many(
        self,
        session: Session,
        event: str,
        recipients: Iterable[Recipient],
        *,
        case: CaseRef,
        case_ctx: Mapping[str, Any] | None = None,
        thread_ids: Sequence[str] = (),
        **kwargs: Any,
    ) -> list[str]:
        """Every recipient's copy of one event, written with one multi-row INSERT.

        `case_ctx` is required when `case` is not an ORM Case (a case just inserted).
        `thread_ids` are more Message-IDs of the case (the inbound message that
        caused the event) to record in the same INSERT as the notifications' own.
        """
        if case_ctx is None:
            assert isinstance(case, Case)
            case_ctx = self.case_context(case)
        ctx = case_ctx
        batch: list[dict[str, Any]] = []
        for r in recipients:
            self.enqueue(session, event, r, case=case, case_ctx=ctx, batch=batch, **kwargs)
        _insert(session, batch, [{"message_id": m, "case_id": case.id} for m in thread_ids])
        return [row["message_id"] for row in batch]


def _insert(session: Session, rows: list[dict[str, Any]], threads: list[dict[str, Any]]) -> None:
    """Outbox rows and thread entries, as two multi-row INSERTs in the caller's transaction.

    Core on the session's connection: the ORM's bulk path would first flush
    the session and rebuild its bookkeeping for every call.
    """
    conn = session.connection()
    if rows:
        conn.execute(_INSERT_OUTBOX, rows)
    threads = threads + [
        {"message_id": r["message_id"], "case_id": r["case_id"]} for r in rows if r["case_id"] is not None
    ]
    if threads:
        conn.execute(_INSERT_THREAD, threads)


_INSERT_OUTBOX = table(Outbox).insert()
_INSERT_THREAD = table(ThreadMessage).insert()


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
    }
