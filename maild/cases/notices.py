"""Notices to a sender who changed nothing: rejections, refusals, the help-desk reply, held mail.

Owns the limits that keep these answers from becoming a mail storm (SPEC
§8): an hourly limit on notices in total (`support.notice_limit`), whoever
the senders claim to be, and one notice per sender and kind per
`support.notice_interval`. Both are counted in the database, so they hold
across restarts and workers. A notice to someone outside the sharing
settings names no case and carries no reply address.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from maild.cases.env import CaseEnv
from maild.cases.recording import Applied, RecordAt, record
from maild.inbound.language import sender_language
from maild.inbound.message import InboundMail
from maild.inbound.quotes import extract_reply
from maild.outbound.i18n import helpdesk_message, rejection_reason_text
from maild.outbound.notify import Recipient
from maild.policy.route import Helpdesk, Hold, Reject
from maild.store.models import Case, Contact, NoticeLog, Outbox
from maild.vocab import Event, Role

__all__ = ["NOTICE_EVENTS", "helpdesk", "hold", "notice", "refuse", "reject"]

log = logging.getLogger("maild.cases")

# Notices that answer a sender (not the case's people): limited in total per hour.
NOTICE_EVENTS = (Event.HELPDESK, Event.REJECTED, Event.ESCALATE_REFUSED, Event.ESCALATE_TOO_EARLY, Event.HELD)
HELD_EXCERPT = 2000  # characters of a held message's new text shown to the team


def reject(env: CaseEnv, session: Session, mail: InboundMail, d: Reject, at: RecordAt) -> Applied:
    record(env, session, mail, at, d.outcome, d.reason)
    sent = 0
    if d.notify:
        contact = session.execute(
            select(Contact).where(Contact.email == (mail.from_addr.email if mail.from_addr else ""))
        ).scalar_one_or_none()
        sent = refuse(env, session, mail, d.code, contact.language if contact else None)
    return Applied(d.outcome, d.reason, d.case.number if d.case else None, sent)


def helpdesk(env: CaseEnv, session: Session, mail: InboundMail, d: Helpdesk, at: RecordAt) -> Applied:
    record(env, session, mail, at, d.outcome, d.reason)
    wanted = sender_language(d.contact.language if d.contact else None, mail)
    message = helpdesk_message(env.settings.support.helpdesk_message, env.notifier.language(wanted))
    sent = notice(env, session, mail, Event.HELPDESK, {"helpdesk_message": message}, wanted)
    return Applied(d.outcome, d.reason, None, sent)


def hold(env: CaseEnv, session: Session, mail: InboundMail, d: Hold, at: RecordAt) -> Applied:
    """Nothing reaches the case; the support team gets one notice to release or discard it."""
    inbound_id = record(env, session, mail, at, d.outcome, d.reason, d.case.id)
    team = env.notifier.team_address(d.case.team)
    sent = False
    if team and _total_notices_allowed(env, session):
        # No case and so no reply address: answering the notice must not reach the case.
        extra = {
            "case_number": d.case.number,
            "inbound_id": inbound_id,
            "sender": mail.from_addr.email if mail.from_addr else "",
            "original_subject": mail.subject,
            "reason": d.reason,
            "excerpt": extract_reply(mail.text)[:HELD_EXCERPT],
        }
        recipient = Recipient(team, "", env.notifier.language(None), Role.AGENT)
        sent = env.notifier.enqueue(session, Event.HELD, recipient, extra=extra) is not None
    return Applied(d.outcome, d.reason, d.case.number, int(sent))


def refuse(
    env: CaseEnv,
    session: Session,
    mail: InboundMail,
    code: str,
    language: str | None,
    case: Case | None = None,
    *,
    commented: bool = False,
) -> int:
    """Tell the sender why their message (or its command) changed nothing, in their language.

    A sender with no language of their own is answered in the message's.

    Without `case` the notice names no case and carries no reply address:
    someone outside the sharing settings learns nothing about it.
    `commented`: the message was added as a comment and only its command was
    refused, so the notice must not say the message was not added.
    """
    language = sender_language(language, mail)
    extra = {
        "reason_text": rejection_reason_text(code, env.notifier.language(language)),
        "case_number": case.number if case else None,
        "commented": commented,
    }
    return notice(env, session, mail, Event.REJECTED, extra, language, case=case)


def notice(
    env: CaseEnv,
    session: Session,
    mail: InboundMail,
    event: Event,
    extra: dict[str, Any],
    contact_language: str | None,
    case: Case | None = None,
) -> int:
    """A notice to the sender alone, rate-limited per sender (and per case for case matters).

    `contact_language`: the caller's sender_language (the contact's own, else the message's).
    """
    email, name = (mail.from_addr.email, mail.from_addr.name) if mail.from_addr else ("", "")
    kind = f"{event}:{case.id}" if case is not None else str(event)
    if not email or not _notice_allowed(env, session, email, kind):
        return 0
    recipient = Recipient(email, name, env.notifier.language(contact_language), "other")
    row = env.notifier.enqueue(
        session,
        event,
        recipient,
        case=case,
        extra=extra,
        in_reply_to=mail.message_id,
        references=list(mail.references[-10:]),
    )
    return 0 if row is None else 1


def _total_notices_allowed(env: CaseEnv, session: Session) -> bool:
    """The hourly limit on notices in total (support.notice_limit), whoever the senders claim to be.

    A per-sender limit alone lets forged senders multiply our replies;
    counted in the outbox, the limit holds across restarts and workers.
    """
    since = env.now() - timedelta(hours=1)
    query = select(func.count()).where(Outbox.event.in_(NOTICE_EVENTS), Outbox.created_at > since)
    sent = session.connection().execute(query).scalar() or 0
    if sent >= env.settings.support.notice_limit:
        log.warning("notice not sent: %d notices in the last hour (support.notice_limit)", sent)
        return False
    return True


def _notice_allowed(env: CaseEnv, session: Session, recipient: str, kind: str) -> bool:
    """Per-sender rate limit for notices to people who may not act (no mail storms)."""
    if not _total_notices_allowed(env, session):
        return False
    now = env.now()
    row = session.execute(
        select(NoticeLog).where(NoticeLog.recipient == recipient, NoticeLog.kind == kind)
    ).scalar_one_or_none()
    if row is None:
        session.add(NoticeLog(recipient=recipient, kind=kind, last_sent_at=now, suppressed=0))
        return True
    if now - row.last_sent_at < env.settings.support.notice_interval:
        row.suppressed += 1
        return False
    row.last_sent_at = now
    return True
