"""Automatic mail never causes mail: the checks that tell machines from people (SPEC §6).

Owns the decision "was this message written by a program?" (which of our
notifications a bounce bounced is `maild.policy.bounces`). A support daemon that
answers an out-of-office reply, a delivery failure or a mailing list gets
into mail loops with other robots, so every such message is recorded and
ignored; the returned AutomaticMail carries the reason that is stored and
shown to operators.

Each rule is a small function; `RULES` checks them in a fixed order and the
first hit wins. The order puts the most specific answer first, so the kind
is useful and not merely "automatic": our own address and X-Loop (a loop),
then a multipart/report (bounce, read receipt or abuse report — even when it
also says Auto-Submitted), then MAILER-DAEMON-style senders and bounce
subjects, and only then the general RFC 3834 and list markers.

Subject heuristics are the weakest evidence — a customer may well write
"Out of office sync bug" — so a subject alone never decides. It counts only
when it has the exact shape robots produce (a leading "Automatic reply:",
"Undeliverable:", …, never after "Re:") *and* a second weak signal agrees:
a null Return-Path, a robot-like sender, no From, no Message-ID, an empty
body, a TNEF-only body. X-Auto-Response-Suppress is deliberately not a
signal at all: it is what Outlook sets on ordinary mail to ask *us* not to
auto-reply, not evidence that a robot wrote it.

Pure: a function of the parsed message and our own addresses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from itertools import islice
from typing import Literal

from maild.inbound.message import InboundMail
from maild.mailids import is_own_address

__all__ = ["RULES", "AutomaticMail", "classify_automatic"]

Kind = Literal["auto_reply", "bounce", "list", "loop", "report"]


@dataclass(frozen=True)
class AutomaticMail:
    """Why a message counts as automatic; `reason` is stored and shown to operators."""

    reason: str
    kind: Kind


Rule = Callable[[InboundMail, frozenset[str]], AutomaticMail | None]

_REASON_VALUE_LIMIT = 80
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _shown(value: str) -> str:
    """A header value made safe to store and print: one line, bounded, no control characters."""
    flat = " ".join(_CONTROL.sub(" ", value).split())
    if len(flat) > _REASON_VALUE_LIMIT:
        flat = flat[: _REASON_VALUE_LIMIT - 1] + "…"
    return flat


def without_comments(value: str) -> str:
    """A structured header value without RFC 5322 (comments), nested ones included."""
    out: list[str] = []
    depth = 0
    for char in value:
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif not depth:
            out.append(char)
    return "".join(out)


def _token(value: str) -> str:
    """The leading token of a header like Auto-Submitted: "auto-replied; x=y (c)" → "auto-replied"."""
    return without_comments(value).split(";", 1)[0].strip().lower()


# ----------------------------------------------------------------- addresses


def _split(address: str) -> tuple[str, str]:
    local, _, domain = address.strip().lower().rpartition("@")
    return local, domain


def _local_part(mail: InboundMail) -> str:
    """The From local part without plus-detail and punctuation: "No-Reply+x" → "noreply"."""
    if mail.from_addr is None:
        return ""
    local, _ = _split(mail.from_addr.email)
    return re.sub(r"[-_.]", "", local.split("+", 1)[0])


def _display_name(mail: InboundMail) -> str:
    return " ".join(mail.from_addr.name.lower().replace("-", " ").split()) if mail.from_addr else ""


# MTAs' bounce senders. Never a person, so the sender alone decides.
_BOUNCE_LOCALS = frozenset(
    {"mailerdaemon", "maildaemon", "postmaster", "maildeliverysubsystem", "maildeliverysystem"}
)
_BOUNCE_NAMES = frozenset({"mailer daemon", "mail delivery subsystem", "mail delivery system"})
# Senders that are usually, but not always, programs: a weak signal only.
_ROBOTISH_LOCALS = frozenset(
    {
        "mailer",
        "bounce",
        "bounces",
        "mdaemon",
        "daemon",
        "mailadmin",
        "mailadministrator",
        "mta",
        "smtp",
        "postoffice",
        "mailsystem",
        "autoreply",
        "autoresponder",
        "vacation",
        "notification",
        "notifications",
    }
)
_NOREPLY = re.compile(r"^(?:no|donot|dont)(?:reply|replies|respond|response)")


def _sender_is_bouncer(mail: InboundMail) -> bool:
    return _local_part(mail) in _BOUNCE_LOCALS or _display_name(mail) in _BOUNCE_NAMES


def _sender_is_noreply(mail: InboundMail) -> bool:
    return bool(_NOREPLY.match(_local_part(mail)))


# ----------------------------------------------------------------- weak signals


def _null_return_path(mail: InboundMail) -> bool:
    value = mail.header("Return-Path")
    return value is not None and without_comments(value).replace(" ", "").strip() in {"<>", ""}


def _weak_signals(mail: InboundMail) -> list[str]:
    """Evidence too weak to decide alone, each named for the stored reason."""
    signals: list[str] = []
    if _null_return_path(mail):
        signals.append("null Return-Path")
    if any(_token(v) != "no" for v in mail.header_all("Auto-Submitted")):
        signals.append("Auto-Submitted")
    if any(_token(v) in _PRECEDENCE for v in mail.header_all("Precedence")):
        signals.append("Precedence")
    if mail.from_addr is None or "@" not in mail.from_addr.email:
        signals.append("no From address")
    elif _sender_is_bouncer(mail) or _sender_is_noreply(mail) or _local_part(mail) in _ROBOTISH_LOCALS:
        signals.append("robot-like sender")
    if mail.message_id_synthesized:
        signals.append("no Message-ID")
    tnef_attached = any(a.content_type.lower() == "application/ms-tnef" for a in mail.attachments)
    if mail.content_type.lower() == "application/ms-tnef" or (tnef_attached and not mail.text.strip()):
        signals.append("TNEF-only body")
    if not mail.text.strip() and not (mail.html or "").strip():
        signals.append("empty body")
    return signals


def _subject_with_signal(
    mail: InboundMail, subject: re.Pattern[str], what: str, kind: Kind
) -> AutomaticMail | None:
    """An automatic-looking subject counts only with one more weak signal: people write such subjects too."""
    if not subject.match(mail.subject):
        return None
    signals = _weak_signals(mail)
    if not signals:
        return None
    return AutomaticMail(f"{what} {_shown(mail.subject)!r} with {signals[0]}", kind)


# ----------------------------------------------------------------- the rules


def from_own_address(mail: InboundMail, own: frozenset[str]) -> AutomaticMail | None:
    """Mail from ourselves (or a plus-variant of us) can only be a loop.

    From only, not Sender: a Google Group or list in front of the support
    address rewrites Sender to that address on every customer's message.
    """
    address = mail.from_addr
    if address is not None and is_own_address(address.email, own):
        return AutomaticMail(f"from our own address {_shown(address.email)}", "loop")
    return None


# An address starts only where a run of address characters starts (the
# lookbehind): otherwise every position inside a long run without an "@"
# would rescan the rest of it, quadratic in the run (0.18 s per 8 KB header).
# A match ends at the run's end, so no address is lost: linear.
_ADDRESS = re.compile(r"(?<![^\s<>()\"',;:])[^\s<>()\"',;:]+@[^\s<>()\"',;:]+")
_X_LOOP_ADDRESSES = 10


def x_loop_names_us(mail: InboundMail, own: frozenset[str]) -> AutomaticMail | None:
    """X-Loop is a robot's mark on mail it has already handled; ours means it came back."""
    # Only a value that names one of our domains can name us, and a robot's
    # X-Loop names one address: other values are not scanned, and only the
    # first few addresses of one that is (1,000 X-Loop headers of "a@a a@a …"
    # hold 2M addresses, 1.5 s of CPU to check one by one).
    domains = {address.rpartition("@")[2] for address in own}
    for value in mail.header_all("X-Loop"):
        lowered = value.lower()
        if not any(domain in lowered for domain in domains):
            continue
        for match in islice(_ADDRESS.finditer(value), _X_LOOP_ADDRESSES):
            address = match.group(0)
            if is_own_address(address.rstrip("."), own):
                return AutomaticMail(f"X-Loop names our address {_shown(address)}", "loop")
    return None


_REPORT_TYPE = re.compile(r"""report-type\s*=\s*"?([A-Za-z0-9._-]+)""", re.IGNORECASE)
_REPORT_PARTS = {
    "message/delivery-status": "delivery-status",
    "message/global-delivery-status": "delivery-status",
    "message/disposition-notification": "disposition-notification",
    "message/global-disposition-notification": "disposition-notification",
    "message/feedback-report": "feedback-report",
}


def _report_type(mail: InboundMail) -> str | None:
    """The multipart/report type, from the parser or, failing that, the raw header or parts."""
    if mail.report_type:
        return mail.report_type.strip().lower()
    content_type = mail.header("Content-Type") or ""
    declared = content_type.lower().lstrip()
    if mail.content_type.lower() == "multipart/report" or declared.startswith("multipart/report"):
        match = _REPORT_TYPE.search(content_type)
        if match:
            return match.group(1).lower()
    for attachment in mail.attachments:
        kind = _REPORT_PARTS.get(attachment.content_type.lower())
        if kind:
            return kind
    if mail.content_type.lower() == "multipart/report":
        return "unknown"
    return None


def report(mail: InboundMail, own: frozenset[str]) -> AutomaticMail | None:
    """RFC 6522 reports: DSNs are bounces; MDNs (read receipts) and ARF (abuse) are reports."""
    kind = _report_type(mail)
    if kind is None:
        return None
    if kind in {"delivery-status", "global-delivery-status"}:
        return AutomaticMail("delivery status notification", "bounce")
    if kind in {"disposition-notification", "global-disposition-notification"}:
        return AutomaticMail("read receipt (MDN)", "report")
    if kind == "feedback-report":
        return AutomaticMail("feedback report (ARF)", "report")
    return AutomaticMail(f"multipart/report ({_shown(kind)})", "report")


def bounce_sender(mail: InboundMail, own: frozenset[str]) -> AutomaticMail | None:
    """MAILER-DAEMON, postmaster and mail-delivery-subsystem speak only for MTAs."""
    if not _sender_is_bouncer(mail):
        return None
    who = (mail.from_addr.email if mail.from_addr and mail.from_addr.email else _display_name(mail)).lower()
    local = who.split("@", 1)[0] if "@" in who else who
    return AutomaticMail(f"bounce from {_shown(local)}", "bounce")


def failed_recipients_header(mail: InboundMail, own: frozenset[str]) -> AutomaticMail | None:
    """X-Failed-Recipients is set by Exim and Gmail on their (non-RFC 3464) bounces only."""
    if mail.header("X-Failed-Recipients") is not None:
        return AutomaticMail("bounce (X-Failed-Recipients)", "bounce")
    return None


# Leading shapes only: robots put these first, people quoting them put "Fwd:" first.
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:"
    r"undeliverable\s*(?:[:：]|mail|message)|undelivered mail returned|returned mail\s*[:：]"
    r"|returned to sender|delivery status notification|delivery notification\s*[:：]"
    r"|mail delivery failed\s*[:：]|delivery failure\s*(?:$|[:：(]|report|notification)"
    r"|delivery has failed|failure notice\s*$|non[- ]?delivery (?:report|notification)|nondeliverable mail"
    r"|mail system error|email bounce notification|warning: could not send|message not delivered\s*[:：]"
    r"|unzustellbar|nicht zustellbar|non remis|配信不能|配送不能|不達通知"
    r")",
    re.IGNORECASE,
)
# Possessive leading spaces: the optional bracket cannot be a space, so
# giving spaces back never helps, and without it "   …x" was quadratic.
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*+[\[【(（]?\s*+(?:"
    r"automatic reply|auto[- ]?reply|auto[- ]?respons|autosvar|automatisk svar"
    r"|out of (?:the )?office\s*(?:[:：]|auto|reply|$|[-–(\[\]】)）])|abwesenheitsnotiz|automatische antwort"
    r"|réponse automatique|respuesta automática|risposta automatica|automatyczna odpowied"
    r"|absence\s*:|away\s*:|vacation\s*(?:reply|:)"
    r"|自動応答|自動返信|自動送信|不在"
    r")",
    re.IGNORECASE,
)
_READ_RECEIPT_SUBJECT = re.compile(
    r"^\s*(?:read|not read|read receipt|gelesen|nicht gelesen|lu|leído|letto"
    r"|開封済み|開封確認|未開封)\s*[:：]",
    re.IGNORECASE,
)


def bounce_subject(mail: InboundMail, own: frozenset[str]) -> AutomaticMail | None:
    """A bounce-shaped subject from an MTA that used no standard markers, with one more signal."""
    return _subject_with_signal(mail, _BOUNCE_SUBJECT, "bounce subject", "bounce")


_FALSE_VALUES = frozenset({"no", "false", "0", "off"})


def auto_submitted(mail: InboundMail, own: frozenset[str]) -> AutomaticMail | None:
    """RFC 3834: any Auto-Submitted value but "no" (ignoring case, parameters and comments)."""
    for value in mail.header_all("Auto-Submitted"):
        token = _token(value)
        if token != "no":
            return AutomaticMail(f"Auto-Submitted: {_shown(token) or '(empty)'}", "auto_reply")
    return None


_AUTOREPLY_HEADERS = (
    "X-Autoreply",
    "X-Autorespond",
    "X-Autogenerated",
    "X-AutoReply-From",
    "X-Mail-Autoreply",
    "X-FC-MachineGenerated",
)


def autoreply_headers(mail: InboundMail, own: frozenset[str]) -> AutomaticMail | None:
    """The vendor headers auto-responders set instead of (or beside) Auto-Submitted."""
    for name in _AUTOREPLY_HEADERS:
        value = mail.header(name)
        if value is not None and _token(value) not in _FALSE_VALUES:
            return AutomaticMail(name, "auto_reply")
    # iCloud's vacation responder marks itself only this way.
    if _token(mail.header("X-Apple-Action") or "") == "vacation":
        return AutomaticMail("X-Apple-Action: VACATION", "auto_reply")
    return None


_LIST_HEADERS = (
    "List-Id",
    "List-Unsubscribe",
    "List-Post",
    "List-Help",
    "List-Subscribe",
    "List-Owner",
    "List-Archive",
    "Mailing-List",
    "X-Mailing-List",
    "X-BeenThere",
    "X-Mailman-Version",
)
_LIST_ROBOT = re.compile(r"(?:-request|-bounces?|-owner|-admin)$|^owner-")


def mailing_list(mail: InboundMail, own: frozenset[str]) -> AutomaticMail | None:
    """List traffic (RFC 2369/2919 headers, Mailman, ezmlm, list robots) is never a customer's case."""
    for name in _LIST_HEADERS:
        if mail.header(name) is not None:
            return AutomaticMail(f"mailing list ({name})", "list")
    if mail.from_addr is not None and _LIST_ROBOT.search(_split(mail.from_addr.email)[0]):
        return AutomaticMail(f"mailing list robot {_shown(mail.from_addr.email)}", "list")
    return None


_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})


def precedence(mail: InboundMail, own: frozenset[str]) -> AutomaticMail | None:
    """Precedence: bulk/junk/list (de facto, RFC 3834 §3.1.8) marks mail nobody should answer."""
    for value in mail.header_all("Precedence"):
        token = _token(value)
        if token in _PRECEDENCE:
            return AutomaticMail(f"Precedence: {token}", "list" if token == "list" else "auto_reply")
    return None


def null_return_path(mail: InboundMail, own: frozenset[str]) -> AutomaticMail | None:
    """Return-Path <> means "do not answer": the envelope of bounces and of RFC 3834 replies."""
    if _null_return_path(mail):
        return AutomaticMail("null Return-Path (<>)", "auto_reply")
    return None


def noreply_sender(mail: InboundMail, own: frozenset[str]) -> AutomaticMail | None:
    """noreply@ / do-not-reply@ senders cannot read an answer, so none is sent."""
    if _sender_is_noreply(mail) and mail.from_addr is not None:
        return AutomaticMail(f"no-reply sender {_shown(mail.from_addr.email)}", "auto_reply")
    return None


def auto_reply_subject(mail: InboundMail, own: frozenset[str]) -> AutomaticMail | None:
    """A leading "Automatic reply:" / "Out of Office:" / "自動応答" with one more signal."""
    return _subject_with_signal(mail, _AUTO_REPLY_SUBJECT, "out-of-office subject", "auto_reply")


def read_receipt_subject(mail: InboundMail, own: frozenset[str]) -> AutomaticMail | None:
    """Outlook read receipts sent as TNEF or plain text ("Read: …") with one more signal."""
    return _subject_with_signal(mail, _READ_RECEIPT_SUBJECT, "read receipt (MDN) by subject", "report")


RULES: tuple[Rule, ...] = (
    from_own_address,
    x_loop_names_us,
    report,
    bounce_sender,
    failed_recipients_header,
    bounce_subject,
    auto_submitted,
    autoreply_headers,
    mailing_list,
    precedence,
    null_return_path,
    noreply_sender,
    auto_reply_subject,
    read_receipt_subject,
)


def classify_automatic(mail: InboundMail, own_addresses: Collection[str]) -> AutomaticMail | None:
    """The first rule that recognises `mail` as automatic, or None for a person's mail."""
    own = frozenset(a.strip().lower() for a in own_addresses if a and "@" in a)
    for rule in RULES:
        hit = rule(mail, own)
        if hit is not None:
            return hit
    return None
