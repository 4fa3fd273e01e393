"""Notification rendering: event + language + context -> subject, text, HTML -> RFC 5322 bytes.

Owns the templates' contract and every header maild writes. It is pure: the
only I/O is reading template files (once, then cached compiled until
`reload()`), and the clock is passed in as `date`. That is what lets
notify.py render at queue time, store the exact bytes in the outbox, and
have a retry send the very same message.

Why the header code is paranoid: subjects and names come from customers.
Python's email package (3.11) decodes RFC 2047 encoded words in a value it
is given and then writes the decoded CR/LF out verbatim, so a subject such as
``=?utf-8?q?x=0D=0ABcc:_x@evil?=`` would become a real Bcc header. Every value
is therefore cleaned of control characters, has encoded-word openers
defused, and the finished header block is checked against the set of
headers we meant to write before the bytes leave this module.

Template context (a plain Mapping; objects with the same attributes work too)
------------------------------------------------------------------------------
``support``          {name, address}
``recipient``        {email, name, language, role}; role is one of
                     primary_contact, collaborator, agent, manager, other
``reply_address``    the recipient's own reply address, or None
``case``             None (helpdesk, some rejections) or
                     {number, tag, subject, severity (int), severity_name,
                     status, account, primary_contact, collaborators
                     (list[str]), created_at (aware datetime),
                     first_response_due_at (aware datetime | None),
                     first_responded_at, fields (dict key -> str), description}
``comment``          None or {author, author_name, role, body,
                     attachments: [{filename, size}]}
``event``            event-specific, all keys optional:
                     case_opened {severity_note: the severity as the customer
                     wrote it when it was invalid, else None};
                     status_changed {old_status, new_status};
                     escalated {level, reason: deadline | customer_request,
                     due_at: the deadline that passed};
                     closed {reopen_until: optional datetime};
                     rejected {reason_text};
                     escalate_too_early {possible_at};
                     helpdesk {helpdesk_message};
                     held {case_number, inbound_id, sender, original_subject,
                     reason, excerpt} (to the support team only)

Filters: ``datetime`` (UTC, per language), ``severity_name``, ``status_name``,
``field_label``, ``role_name``, ``escalation_reason``, ``filesize``,
``field_items`` (intake fields in display order), ``reply_subject``
("Re: …" without any case tag), ``nl2br`` (escape, keep line breaks).
Globals: ``lang`` and ``default_helpdesk``.

Missing optional keys render empty (ChainableUndefined) so one absent value
never blocks a notification; ``Composer(strict=True)`` and ``Composer.check()``
use StrictUndefined instead, which is how a typo in a template is caught.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from maild.errors import MaildError
from maild.mailids import MAX_ID_LENGTH, strip_case_tags, writable_id
from maild.outbound import i18n

EVENTS: tuple[str, ...] = (
    "case_opened",
    "comment_added",
    "status_changed",
    "escalated",
    "closed",
    "reopened",
    "helpdesk",
    "rejected",
    "escalate_too_early",
    "escalate_refused",
    "severity_changed",
    "held",
)

MAX_REFERENCES = 20


# Headers whose values this module sets itself; extra_headers may not touch
# them (nor any Content-* header), because a caller-supplied From or
# Content-Type would undo the guarantees documented above.
_STRUCTURAL = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "sender",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "mime-version",
        "return-path",
    }
)
# Set by default but replaceable: a reply to one sender (help desk, rejection)
# may rightly say Auto-Submitted: auto-replied instead of auto-generated.
_DEFAULT_EXTRA = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}

# \A: both are used with match() only; anchored, a search cannot rescan a long
# run from each of its positions either (the domain's lookahead bounds it).
_HEADER_NAME = re.compile(r"\A[!-9;-~]+\Z")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"\A(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})*\Z")
_ID_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_+.")
_REPLY_PREFIX = re.compile(r"(?:re|aw|sv|返信)\s*[:：]", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_BRACKETED = re.compile(r"<[^<>\s]*>")
_MAX_ID_LEFT = 160


class ComposeError(MaildError):
    """A notification could not be rendered, almost always a broken operator template.

    Permanent by nature: rendering the same template again fails the same way.
    """


class UnknownEvent(ComposeError, KeyError):
    """No such notification event; a programming error in the caller, not bad input."""

    def __str__(self) -> str:
        # KeyError would show repr(); operators should read a sentence.
        return str(self.args[0]) if self.args else "unknown event"


@dataclass(frozen=True, slots=True)
class Rendered:
    """One notification in one language, before headers: what an outbox row records."""

    subject: str
    text: str
    html: str


def packaged_template_dir() -> Path:
    """The templates shipped with maild.

    An installed wheel carries them inside the package (pyproject force-includes
    templates/ as maild/templates); a source checkout keeps them at the repo root.
    """
    here = Path(__file__).resolve().parent.parent  # the maild package
    inside = here / "templates"
    if inside.is_dir():
        return inside
    return here.parent / "templates"


# ---------------------------------------------------------------------------- rendering


class Composer:
    """Renders notification templates, one Jinja environment per language.

    `template_dirs` are roots holding `<lang>/` folders, searched in order per
    file, with the packaged templates last: an operator overrides one file
    (say `en/case_opened.txt`) and inherits the rest, layouts included.
    Compiled templates stay cached until `reload()` (SIGHUP), which keeps
    rendering cheap enough for bursts of hundreds of messages.
    """

    def __init__(
        self, template_dirs: Sequence[Path], default_language: str = "en", *, strict: bool = False
    ) -> None:
        roots: list[Path] = []
        for folder in (*template_dirs, packaged_template_dir()):
            path = Path(folder)
            if path.resolve() not in {r.resolve() for r in roots}:
                roots.append(path)
        self._roots: tuple[Path, ...] = tuple(roots)
        self._default = i18n.normalize_language(default_language) or i18n.FALLBACK_LANGUAGE
        self._strict = strict
        self._environments: dict[str, jinja2.Environment] = {}
        self._resolved: dict[tuple[str, str], tuple[str, jinja2.Environment]] = {}
        self._languages: tuple[str, ...] = ()
        self.reload()

    @property
    def languages(self) -> tuple[str, ...]:
        """Languages some template root has a folder for."""
        return self._languages

    @property
    def default_language(self) -> str:
        return self._default

    def reload(self) -> None:
        """Forget compiled templates and rescan the language folders (SIGHUP)."""
        names: set[str] = set()
        for root in self._roots:
            if root.is_dir():
                names.update(child.name for child in root.iterdir() if child.is_dir())
        self._languages = i18n.languages_of(names)
        self._environments = {}
        self._resolved = {}

    def render(self, event: str, language: str, context: Mapping[str, Any]) -> Rendered:
        """Subject, text and HTML of one notification.

        An unknown or template-less language falls back to the default
        language, then English, per event, so a half-translated operator
        language still sends every notification.
        """
        if event not in EVENTS:
            raise UnknownEvent(f"unknown notification event {event!r}")
        used, env = self._resolve(event, language)
        values: dict[str, Any] = {"reply_address": None, "case": None, "comment": None, "event": {}}
        values.update(context)
        if values["event"] is None:
            values["event"] = {}
        try:
            subject = env.get_template(f"{event}.subject.txt").render(values)
            text = env.get_template(f"{event}.txt").render(values)
            html = env.get_template(f"{event}.html").render(values)
        except jinja2.TemplateError as exc:
            raise ComposeError(f"template {used}/{event} failed to render: {exc}") from exc
        return Rendered(subject=one_line(subject), text=_tidy_text(text), html=_tidy_text(html))

    def check(self) -> list[str]:
        """Problems found by rendering every event in every language strictly.

        For `maild check-config`: an operator's override with a typo shows up
        at start-up, not as a failed notification at 3 a.m.
        """
        strict = Composer(self._roots, self._default, strict=True)
        problems: list[str] = []
        for language in strict.languages:
            for event in EVENTS:
                for role in ("primary_contact", "collaborator", "manager"):
                    try:
                        strict.render(event, language, sample_context(language=language, role=role))
                    except ComposeError as exc:
                        problems.append(f"{language}/{event} ({role}): {exc}")
                        break
        return problems

    def _resolve(self, event: str, language: str) -> tuple[str, jinja2.Environment]:
        key = (event, language)
        found = self._resolved.get(key)
        if found is not None:
            return found
        wanted = i18n.normalize_language(language)
        for candidate in dict.fromkeys(c for c in (wanted, self._default, i18n.FALLBACK_LANGUAGE) if c):
            if candidate not in self._languages:
                continue
            env = self._environment(candidate)
            try:
                env.get_template(f"{event}.subject.txt")
            except jinja2.TemplateNotFound:
                continue
            except jinja2.TemplateError as exc:
                raise ComposeError(f"template {candidate}/{event}.subject.txt is broken: {exc}") from exc
            self._resolved[key] = (candidate, env)
            return candidate, env
        raise ComposeError(f"no templates for event {event!r} in {language!r}, {self._default!r} or 'en'")

    def _environment(self, language: str) -> jinja2.Environment:
        env = self._environments.get(language)
        if env is None:
            folders = [root / language for root in self._roots if (root / language).is_dir()]
            env = _make_environment(folders, language, self._strict)
            self._environments[language] = env
        return env


def _finalize(value: Any) -> Any:
    """Print None as nothing: optional values are None far more often than missing."""
    return "" if value is None else value


def _make_environment(search_path: list[Path], language: str, strict: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in search_path]),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "htm", "xml"), default_for_string=False, default=False
        ),
        undefined=jinja2.StrictUndefined if strict else jinja2.ChainableUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,  # an include ends its own last line
        auto_reload=False,  # no stat() per render; reload() is the explicit refresh
        cache_size=-1,
    )
    filters: dict[str, Callable[..., Any]] = {
        "datetime": lambda v: i18n.format_datetime(_plain(v), language),
        "severity_name": lambda v: i18n.severity_name(_plain(v), language),
        "status_name": lambda v: i18n.status_name(_plain(v), language),
        "field_label": lambda v: i18n.field_label(_plain(v), language),
        "role_name": lambda v: i18n.role_name(_plain(v), language),
        "escalation_reason": lambda v: i18n.escalation_reason_text(_plain(v), language),
        "filesize": lambda v: i18n.format_filesize(_plain(v), language),
        "field_items": lambda v: i18n.ordered_fields(v if isinstance(v, Mapping) else None),
        "reply_subject": lambda v: reply_subject(str(_plain(v) or "")),
        "nl2br": _nl2br,
    }
    env.filters.update(filters)
    env.tests["staff"] = _is_staff
    env.globals.update({"lang": language, "default_helpdesk": i18n.helpdesk_message(None, language)})
    return env


def _is_staff(role: Any) -> bool:
    """Agents and managers get the internal wording (account, contact) instead of the customer's."""
    return role in ("agent", "manager")


def _plain(value: Any) -> Any:
    """None for a Jinja Undefined, so i18n functions never see Jinja types."""
    return None if isinstance(value, jinja2.Undefined) else value


def _nl2br(value: Any) -> Markup:
    """Escape text and keep its line breaks: a customer's comment reads as they wrote it."""
    text = "" if value is None or isinstance(value, jinja2.Undefined) else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return escape(text).replace("\n", Markup("<br>\n"))  # one escape for the whole text


def _tidy_text(text: str) -> str:
    """No leading blank lines, exactly one newline at the end; the inside is left alone."""
    return text.replace("\r\n", "\n").lstrip("\n").rstrip() + "\n"


def one_line(value: str) -> str:
    """A header-safe single line: control and line-break characters become spaces, runs collapse."""
    cleaned = "".join(
        " " if unicodedata.category(ch) in {"Cc", "Zl", "Zp"} or ch in "\x85" else ch for ch in value
    )
    return _SPACES.sub(" ", cleaned).strip()


def reply_subject(original: str) -> str:
    """'Re: <subject>' for a reply that is not about a case: any case tag is removed.

    A stranger's subject may carry a (forged) tag; echoing it back would make
    our answer look like part of that case to every mail client.
    """
    subject = one_line(strip_case_tags(original))
    if not subject:
        return "Re:"
    if _REPLY_PREFIX.match(subject):
        return subject
    return f"Re: {subject}"


def sample_context(*, language: str = "en", role: str = "primary_contact") -> dict[str, Any]:
    """A context with every key every template may read, for `check()` and tests."""
    opened = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    return {
        "support": {"name": "Example Support", "address": "support@example.com"},
        "recipient": {
            "email": "alice@acme.example",
            "name": "Alice Example",
            "language": language,
            "role": role,
        },
        "reply_address": "support+token@example.com",
        "case": {
            "number": "00001042",
            "tag": "[Case #00001042]",
            "subject": "Login page returns 500",
            "severity": 2,
            "severity_name": i18n.severity_name(2, language),
            "status": "in_progress",
            "account": "Acme",
            "primary_contact": "alice@acme.example",
            "collaborators": ["bob@acme.example"],
            "created_at": opened,
            "first_response_due_at": opened + timedelta(hours=2),
            "first_responded_at": opened + timedelta(hours=1),
            "fields": {key: f"sample {key}" for key in i18n.FIELD_ORDER},
            "description": "The login page returns 500 since this morning.",
        },
        "comment": {
            "author": "bob@acme.example",
            "author_name": "Bob Example",
            "role": "collaborator",
            "body": "Still failing.\nSee the attached log.",
            "attachments": [{"filename": "log.txt", "size": 1234}],
        },
        "event": {
            "severity_note": "9",
            "old_status": "new",
            "new_status": "in_progress",
            "level": 1,
            "reason": "deadline",
            "due_at": opened + timedelta(hours=2),
            "reopen_until": opened + timedelta(days=14),
            "reason_text": "Only the people the case is shared with can add to it.",
            "possible_at": opened + timedelta(hours=2),
            "helpdesk_message": "Please contact your company's help desk.",
            "original_subject": "Need help",
            "case_number": "00001042",
            "inbound_id": 7,
            "sender": "alice@acme.example",
            "excerpt": "Please close this.",
            "old_severity": 3,
            "new_severity": 1,
        },
    }


# ---------------------------------------------------------------------------- headers


def _header_text(value: str) -> str:
    """A value that can only ever be one header's text.

    Control characters collapse to spaces, and '=?' is split so no encoded
    word in customer text is decoded into a line break by the email package.
    """
    return one_line(value).replace("=?", "= ?")


@functools.lru_cache(maxsize=4096)
def _checked_address(value: str, what: str) -> Address:
    """Exactly one bare addr-spec, or ValueError: a header must never gain a recipient.

    Cached: the same few addresses (ours, the agents', a case's people) come up
    in every notification, and the email package's Address parse is slow.
    Address objects are immutable and a refusal (an exception) is not cached.
    """
    if any(unicodedata.category(ch) in {"Cc", "Zl", "Zp"} for ch in value):
        raise ValueError(f"{what} address contains control characters")
    spec = value.strip()
    if not spec or spec.count("@") != 1 or any(ch in spec for ch in ",;<>()\\ \t"):
        raise ValueError(f"{what} address must be one plain address, got {spec!r}")
    try:
        local, _, domain = spec.rpartition("@")
        if not local or not domain:
            raise ValueError("missing local part or domain")
        if not domain.isascii():
            domain = domain.encode("idna").decode("ascii")
        if not local.isascii():
            raise ValueError("non-ASCII local part needs SMTPUTF8")
        address = Address(addr_spec=f"{local}@{domain}")
    except (ValueError, IndexError, UnicodeError, HeaderParseError) as exc:
        raise ValueError(f"{what} address {spec!r} is not valid: {exc}") from exc
    return address


def _mailbox(address: str, name: str | None, what: str) -> Address:
    checked = _checked_address(address, what)
    display = _header_text(name or "")
    if not display:
        return checked
    return Address(display_name=display, username=checked.username, domain=checked.domain)


def _references(ids: Iterable[str], parent: str | None) -> list[str]:
    """Deduplicated, order kept, the parent last; the thread root plus the newest ids when too many.

    Keeping the first id matters: mail clients group a thread by its root.
    """
    out: dict[str, None] = {}
    for raw in ids:
        item = raw or ""
        # A list item may be a whole References value; then only bracketed ids
        # count, so stray words around them never turn into ids.
        found = _BRACKETED.findall(item) or ([item] if len(item.split()) == 1 else [])
        for candidate in found:
            mid = writable_id(candidate)
            if mid:
                out[mid] = None
    if parent:
        out.pop(parent, None)
        out[parent] = None
    kept = list(out)
    if len(kept) > MAX_REFERENCES:
        kept = [kept[0], *kept[-(MAX_REFERENCES - 1) :]]
    return kept


def make_message_id(domain: str, unique: str) -> str:
    """'<unique@domain>' where `unique` is escaped into a valid, still-unique id-left.

    Characters outside a conservative set become '=XX' per UTF-8 byte ('=' itself
    included), so two different inputs never collide into one Message-ID. A very
    long `unique` is shortened to a prefix and its SHA-256, keeping the id within
    what build_message (and other mail software) accepts.
    """
    host = domain.strip().lower().rstrip(".")
    if host and not host.isascii():
        host = host.encode("idna").decode("ascii")
    if not _DOMAIN.match(host):
        raise ValueError(f"message-id domain {domain!r} is not a host name")
    if not unique:
        raise ValueError("message-id needs a non-empty unique part")
    parts: list[str] = []
    for index, ch in enumerate(unique):
        dot_ok = ch == "." and 0 < index < len(unique) - 1 and unique[index - 1] != "."
        if ch in _ID_SAFE and (ch != "." or dot_ok):
            parts.append(ch)
        else:
            parts.extend(f"={byte:02X}" for byte in ch.encode("utf-8", "surrogatepass"))
    left = "".join(parts)
    if len(left) > _MAX_ID_LEFT:
        # '=H' never comes out of the escaping above, so a digest cannot
        # collide with an escaped id; the readable prefix helps debugging.
        digest = hashlib.sha256(unique.encode("utf-8", "surrogatepass")).hexdigest()
        left = f"{left[: _MAX_ID_LEFT - 66]}=H{digest}"
    message_id = f"<{left}@{host}>"
    if len(message_id) > MAX_ID_LENGTH:
        raise ValueError(f"message-id domain {domain!r} is too long")
    return message_id


def build_message(
    rendered: Rendered,
    *,
    from_addr: str,
    from_name: str,
    to_addr: str,
    to_name: str | None,
    reply_to: str | None,
    message_id: str,
    in_reply_to: str | None,
    references: Sequence[str],
    date: datetime,
    extra_headers: Mapping[str, str] | None = None,
) -> bytes:
    """The notification as SMTP-ready bytes: multipart/alternative, UTF-8, CRLF.

    `in_reply_to` is also appended to References when missing (RFC 5322 §3.6.4),
    so a caller cannot build a message that threads by one header and not the
    other. Raises ValueError for an address that is not exactly one mailbox,
    a malformed Message-ID, or an extra header that would replace a structural one.
    """
    own_id = writable_id(message_id)
    if own_id is None or "@" not in own_id:
        raise ValueError(f"message_id {message_id!r} is not of the form <id@domain>")
    moment = date if date.tzinfo is not None else date.replace(tzinfo=UTC)

    extras: dict[str, str] = dict(_DEFAULT_EXTRA)
    for name, value in (extra_headers or {}).items():
        if not _HEADER_NAME.match(name) or len(name) > 76:
            raise ValueError(f"extra header name {name!r} is not a valid field name")
        lowered = name.lower()
        if lowered in _STRUCTURAL or lowered.startswith("content-"):
            raise ValueError(f"extra header {name!r} is set by build_message itself")
        for known in list(extras):
            if known.lower() == lowered:
                del extras[known]
        extras[name] = _header_text(str(value))

    headers: list[tuple[str, str]] = [
        ("From", _address_header(_mailbox(from_addr, from_name, "from"))),
        ("To", _address_header(_mailbox(to_addr, to_name, "to"))),
    ]  # address headers are already in final ASCII form (see _header_line)
    if reply_to:
        headers.append(("Reply-To", _checked_address(reply_to, "reply-to").addr_spec))
    headers.append(("Subject", _header_text(rendered.subject)))
    headers.append(("Date", format_datetime(moment.astimezone(UTC))))
    headers.append(("Message-ID", own_id))
    parent = writable_id(in_reply_to)
    if parent:
        headers.append(("In-Reply-To", parent))
    refs = _references(references, parent)
    if refs:
        headers.append(("References", " ".join(refs)))
    headers.extend(extras.items())
    headers.append(("MIME-Version", "1.0"))
    data = _serialize(headers, rendered.text, rendered.html)
    _verify_header_block(data, {name.lower() for name, _ in headers} | {"content-type"})
    return data


# ---------------------------------------------------------------------------- serialising

# Written by hand rather than through EmailMessage: the header registry parses
# every value again and the generator walks the tree, which made building a
# notification cost more than rendering it. Every value reaching here has been
# checked above, and _verify_header_block still guards the result.


def _address_header(address: Address) -> str:
    """`Name <addr>`, final form: the name quoted, or one RFC 2047 word when not plain ASCII.

    A name that merely looks like an encoded word is encoded too, so a
    recipient's mail client shows it literally instead of decoding it.
    """
    name = address.display_name or ""
    if not name:
        return address.addr_spec
    if name.isascii() and "=?" not in name:
        return formataddr((name, address.addr_spec))
    encoded = Header(name, "utf-8").encode(maxlinelen=0)
    return f"{encoded} <{address.addr_spec}>"


def _fold_ascii(name: str, value: str) -> str:
    """Fold an ASCII header at spaces so lines stay under 78 characters where possible."""
    line = f"{name}: "
    lines: list[str] = []
    for word in value.split(" "):
        if len(line) + len(word) > 77 and line.strip() and not line.endswith(": "):
            lines.append(line.rstrip(" "))
            line = " "
        line += word + " "
    lines.append(line.rstrip(" "))
    return "\r\n".join(lines)


_FINAL_FORM = frozenset({"from", "to"})


def _header_line(name: str, value: str) -> str:
    if name.lower() in _FINAL_FORM or (value.isascii() and "=?" not in value):
        return _fold_ascii(name, value)
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}"


def _body_part(text: str, subtype: str) -> bytes:
    data = text.replace("\r\n", "\n").replace("\r", "\n")
    if data.isascii() and all(len(line) <= 900 for line in data.split("\n")):
        encoding, body = "7bit", data.replace("\n", "\r\n").encode("ascii")
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
    else:
        raw = data.encode("utf-8")
        lines = [binascii.b2a_base64(raw[i : i + 57], newline=False) for i in range(0, len(raw), 57)]
        encoding, body = "base64", b"\r\n".join(lines) + b"\r\n"
    head = f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n'
    return head.encode("ascii") + body


def _serialize(headers: Sequence[tuple[str, str]], text: str, html: str) -> bytes:
    boundary = f"=_maild_{secrets.token_hex(12)}"
    head = "\r\n".join(_header_line(name, value) for name, value in headers)
    head += f'\r\nContent-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
    delimiter = f"--{boundary}\r\n".encode("ascii")
    return b"".join(
        (
            head.encode("ascii"),
            delimiter,
            _body_part(text, "plain"),
            b"\r\n" + delimiter,
            _body_part(html, "html"),
            f"\r\n--{boundary}--\r\n".encode("ascii"),
        )
    )


def _verify_header_block(data: bytes, expected: set[str]) -> None:
    """Refuse bytes whose top-level header block holds anything but the headers we set.

    The last line of defence: whatever a future email package does with a
    value, a header we did not add never leaves this module.
    """
    head, sep, _ = data.partition(b"\r\n\r\n")
    if not sep or b"\n" in head.replace(b"\r\n", b""):
        raise ComposeError("composed message has a malformed header block")
    seen: list[str] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            continue
        name, colon, _ = line.partition(b":")
        if not colon:
            raise ComposeError("composed message has a header line without a field name")
        seen.append(name.decode("ascii", "replace").lower())
    if set(seen) != expected or len(seen) != len(expected):
        raise ComposeError(
            f"composed message headers {sorted(seen)} differ from those set {sorted(expected)}"
        )
