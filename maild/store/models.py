"""Typed ORM models: the case database.

Owns the schema as Python types. The uniqueness rules that make maild
exactly-once live here as database constraints, not in memory, so that
restarts and several workers cannot break them:
  * an inbound message is recorded once per (mailbox, source key) and once
    per Message-ID;
  * an escalation level is recorded once per case;
  * an outbox row's Message-ID is unique.
Migrations in maild/store/migrations must match these models (a test checks it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend.

    SQLite has no time zones; storing naive UTC and re-attaching UTC on the
    way out keeps comparisons and JSON output right everywhere.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime(), dict[str, Any]: JSON}


Id = BigInteger().with_variant(Integer(), "sqlite")


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    org_id: Mapped[str | None] = mapped_column(String(100))
    plan: Mapped[str] = mapped_column(String(100), default="default")
    created_at: Mapped[datetime]

    domains: Mapped[list[AccountDomain]] = relationship(
        back_populates="account", cascade="all, delete-orphan"
    )
    contacts: Mapped[list[Contact]] = relationship(back_populates="account")


class AccountDomain(Base):
    __tablename__ = "account_domains"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)

    account: Mapped[Account] = relationship(back_populates="domains")


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str | None] = mapped_column(String(10))
    designated: Mapped[bool] = mapped_column(Boolean, default=False)
    primary: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]

    account: Mapped[Account] = relationship(back_populates="contacts")


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    manager: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class AgentTeam(Base):
    """An agent's membership of a configured team (`maild agent add --team`, SPEC §10).

    Teams themselves live in the configuration; a membership names one by
    its configured name, so renaming a team in the file leaves old rows that
    name no team (they are shown, never routed to).
    """

    __tablename__ = "agent_teams"
    __table_args__ = (UniqueConstraint("agent_id", "team"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    team: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime]


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        # The deadline scan reads only cases whose next escalation is due.
        Index("ix_cases_next_escalation_at", "next_escalation_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    subject: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    description_full: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[int] = mapped_column(Integer)
    severity_note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(30), default="new", index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    primary_contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    previous_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    language: Mapped[str] = mapped_column(String(10), default="en")
    thread_root: Mapped[str] = mapped_column(String(998))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    first_response_due_at: Mapped[datetime | None]
    first_responded_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # When the deadline scan must next look at this case; NULL once answered or closed.
    next_escalation_at: Mapped[datetime | None]
    # Addresses from To/Cc left out by the collaborator caps (SPEC §8), shown with the case.
    collaborators_not_added: Mapped[list[str] | None] = mapped_column(JSON)
    # SPEC §10: the team that handles it (a configured name; NULL with no teams), its owner, its topic.
    team: Mapped[str | None] = mapped_column(String(100), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    topic: Mapped[str | None] = mapped_column(String(200))
    # SPEC §11: when the next response is due (a contact's follow-up awaits an answer), and when
    # the case began waiting on the customer; NULL while no such clock runs.
    next_response_due_at: Mapped[datetime | None] = mapped_column(index=True)
    waiting_since: Mapped[datetime | None]

    account: Mapped[Account] = relationship()
    primary_contact: Mapped[Contact] = relationship()
    participants: Mapped[list[Participant]] = relationship(
        back_populates="case", order_by="Participant.id", cascade="all, delete-orphan"
    )
    comments: Mapped[list[Comment]] = relationship(back_populates="case", order_by="Comment.id")
    escalations: Mapped[list[Escalation]] = relationship(back_populates="case", order_by="Escalation.id")
    owner: Mapped[Agent | None] = relationship()

    @property
    def number(self) -> str:
        return format_case_number(self.id)

    @property
    def owner_email(self) -> str | None:
        return self.owner.email if self.owner is not None else None


def format_case_number(case_id: int) -> str:
    return f"{case_id:08d}"


class Participant(Base):
    """One entry of a case's sharing settings: the primary contact or a collaborator."""

    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("case_id", "email"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(30))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    created_at: Mapped[datetime]

    case: Mapped[Case] = relationship(back_populates="participants")


class InboundMessage(Base):
    """Every message maild took from a mailbox, with what became of it."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("mailbox", "source_key"),
        # One processed record per Message-ID (copies are recorded as duplicates).
        Index(
            "uq_inbound_messages_message_id",
            "message_id",
            unique=True,
            sqlite_where=text("outcome != 'duplicate'"),
            postgresql_where=text("outcome != 'duplicate'"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(500))
    source_key: Mapped[str] = mapped_column(String(300))
    message_id: Mapped[str] = mapped_column(String(998))
    from_addr: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(40), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    received_at: Mapped[datetime]


class Comment(Base):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_email: Mapped[str] = mapped_column(String(320))
    author_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(30))
    body: Mapped[str] = mapped_column(Text)
    full_body: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20), default="email")
    # An internal note (SPEC §10): the owner and the team see it, contacts never do.
    internal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    inbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    created_at: Mapped[datetime]

    case: Mapped[Case] = relationship(back_populates="comments")
    attachments: Mapped[list[Attachment]] = relationship(back_populates="comment", order_by="Attachment.id")


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    size: Mapped[int] = mapped_column(BigInteger)
    dropped_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]

    comment: Mapped[Comment | None] = relationship(back_populates="attachments")


class AttachmentData(Base):
    """A stored attachment's bytes, apart from its row.

    Listing a case's attachments never reads the bytes, and on SQLite the
    bytes are written in slices into a zeroblob (maild.store.blobs), so storing a
    50 MB attachment does not hold two more copies of it in memory.
    """

    __tablename__ = "attachment_data"

    attachment_id: Mapped[int] = mapped_column(
        Id, ForeignKey("attachments.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ThreadMessage(Base):
    """A Message-ID that belongs to a case: ones we received and ones we sent.

    In-Reply-To/References of a reply are looked up here (trust level 2).
    """

    __tablename__ = "thread_messages"

    message_id: Mapped[str] = mapped_column(String(998), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)


class Escalation(Base):
    """One escalation notice sent; unique per (case, deadline, level), which is what sends it once."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("case_id", "deadline", "level"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    # "first_response", or "next_response:<due instant>" for a missed next response (maild.policy.followup).
    deadline: Mapped[str] = mapped_column(
        String(60), default="first_response", server_default="first_response"
    )
    level: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(30))
    requested_by: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime]

    case: Mapped[Case] = relationship(back_populates="escalations")


class Outbox(Base):
    """A notification queued in the transaction that caused it; the dispatcher sends it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # Help-desk and refusal notices are counted per hour in total (support.notice_limit).
        Index("ix_outbox_event_created", "event", "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(320))
    mail_from: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    # The worker sending it now (host:pid:random); a dead local claimer's rows are taken back at once.
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class DeadlineNotice(Base):
    """A warning, reminder or automatic close done for one deadline (maild.policy.followup's key).

    The unique row is written in the transaction that queues the notice, so
    a restart or a second worker never sends it twice.
    """

    __tablename__ = "deadline_notices"
    __table_args__ = (UniqueConstraint("case_id", "kind", "deadline"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    deadline: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime]


class NoticeLog(Base):
    """When maild last sent a notice (help-desk redirect, refusal) to a sender: the rate limit."""

    __tablename__ = "notice_log"
    __table_args__ = (UniqueConstraint("recipient", "kind"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(40))
    last_sent_at: Mapped[datetime]
    suppressed: Mapped[int] = mapped_column(Integer, default=0)


class MailboxLease(Base):
    """Which worker fetches a mailbox now; a lease that is not renewed expires."""

    __tablename__ = "mailbox_leases"

    mailbox: Mapped[str] = mapped_column(String(500), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_fetch_at: Mapped[datetime | None]


class MailboxWork(Base):
    """A message waiting in a mailbox, listed so that any worker can take it.

    The mailbox's lease holder lists new messages here; every worker claims
    rows and processes them (its own IMAP connection fetches the bytes). A
    row is deleted in the transaction that records its message, so a row
    exists exactly while its message is still to be done. Messages of one
    thread share a `thread_group` and only the oldest row of a group can be
    claimed: a reply is never processed before the message it answers.
    `attempts` counts the starts of its processing, each committed before the
    processing begins: a row at 2 was started twice by workers that died or
    were killed before finishing it, and is quarantined instead of tried
    again (SPEC §8).
    """

    __tablename__ = "mailbox_work"
    __table_args__ = (
        UniqueConstraint("mailbox", "source_key"),
        Index("ix_mailbox_work_thread_group", "mailbox", "thread_group", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(500))
    source_key: Mapped[str] = mapped_column(String(300))
    message_id: Mapped[str | None] = mapped_column(String(998))
    thread_group: Mapped[str] = mapped_column(String(998))
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class OAuth2State(Base):
    """What the daemon last knew of one OAuth2 client's tokens, for `maild status` (SPEC §9).

    The TokenSource lives in the daemon's memory and `maild status` is
    another process, so the daemon writes a row here when a client's state
    changes (a refused refresh, the recovery, a new token's expiry). Names,
    provider error codes, hints and times only: never a token or a secret.
    """

    __tablename__ = "oauth2_state"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # "mailbox", "mailboxes.<label>", "smtp"
    ok: Mapped[bool] = mapped_column(Boolean)
    code: Mapped[str] = mapped_column(String(200), default="")
    hint: Mapped[str] = mapped_column(Text, default="")
    failures: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


def table(model: type[Base]) -> Table:
    """A model's Core table, for hot-path statements that skip the ORM's unit of work."""
    t = model.__table__
    assert isinstance(t, Table)
    return t
