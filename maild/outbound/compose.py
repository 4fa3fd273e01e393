"""Notification rendering: event + language + context -> subject, text and HTML.

Owns the templates' contract (below) and the Jinja environments that render
it. It is pure: the only I/O is reading template files (once, then cached
compiled until `reload()`). message.py turns what this renders into the
RFC 5322 bytes; notify.py does both at queue time, so the outbox stores the
exact bytes and a retry sends the very same message.

Template context (a plain Mapping; objects with the same attributes work too)
------------------------------------------------------------------------------
``support``          {name, address}
``recipient``        {email, name, language, role}; role is one of
                     primary_contact, collaborator, agent, manager, other,
                     owner (the case's owner), team (the team's copy)
``reply_address``    the recipient's own reply address, or None
``case``             None (helpdesk, some rejections) or
                     {number, tag, subject, severity (int), severity_name,
                     status, account, primary_contact, collaborators
                     (list[str]), created_at (aware datetime),
                     first_response_due_at (aware datetime | None),
                     first_responded_at, fields (dict key -> str), description,
                     team, owner, topic (each str | None; staff only)}
``comment``          None or {author, author_name, role, body,
                     attachments: [{filename, size}]}
``event``            event-specific, all keys optional:
                     case_opened {severity_note: the severity as the customer
                     wrote it when it was invalid, else None};
                     status_changed {old_status, new_status};
                     escalated {level, reason: deadline | next_response |
                     customer_request, due_at: the deadline that passed};
                     closed {reopen_until: optional datetime};
                     deadline_warning {deadline: first_response |
                     next_response, due_at} (to the owner, else the team);
                     waiting_reminder {waiting_since, closes_at: the
                     automatic close, None when off} (primary contact);
                     auto_closed {waiting_since, old_status, new_status,
                     closed_by, reopen_until: optional datetime};
                     rejected {reason_text, commented: the message was added
                     as a comment and only its command was refused};
                     escalate_too_early {possible_at};
                     helpdesk {helpdesk_message};
                     held {case_number, inbound_id, sender, original_subject,
                     reason, excerpt} (to the support team only);
                     assigned {owner, owner_name, previous_owner, assigned_by};
                     moved {old_team, new_team, moved_by, owner};
                     note_added {} (the note is ``comment``);
                     commands_applied {results: [{line, ok, code, detail}],
                     teams: configured team names}
                     (these four to the support side only)

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

import functools
import re
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from maild.errors import MaildError
from maild.mailids import strip_case_tags
from maild.outbound import i18n
from maild.vocab import CaseStatus, Event, Role

EVENTS: tuple[Event, ...] = tuple(Event)
"""Every notification event; each has templates/<lang>/<event>.subject.txt, .txt and .html."""

# A subject that already says "reply" in one of our customers' mail clients keeps its own word:
# Re, AW (de), SV (nordic), Antw (nl), RIF/R (it), RES (pt-BR Outlook), Отв (ru), 回复/答复 (zh-CN),
# 回覆 (zh-TW), 返信 (ja), 답장/회신 (ko).
_REPLY_PREFIX = re.compile(
    r"(?:re|aw|sv|antw|rif|r|res|отв|回复|答复|回覆|返信|답장|회신)\s*[:：]", re.IGNORECASE
)
# White space (str.isspace) and every Cc, Zl and Zp character: what one_line turns into one space.
_BREAKS = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")


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
        self._parts: dict[tuple[str, str], tuple[jinja2.Template, ...]] = {}
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
        self._parts = {}

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
            parts = self._parts.get((used, event))
            if parts is None:
                parts = tuple(env.get_template(f"{event}.{part}") for part in ("subject.txt", "txt", "html"))
                self._parts[(used, event)] = parts
            subject, text, html = (template.render(values) for template in parts)
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


_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(jinja2.Environment):
    """jinja2.Environment with two shortcuts that change no output.

    `case.number` on a dict: Jinja tries the attribute first and takes the
    item after an AttributeError, an exception per lookup; for a plain dict
    and a name that is no dict attribute the item is the answer either way.
    Template globals: Jinja chains them to the environment's (a ChainMap that
    every render context copies and iterates in Python); ours are set before
    the first template loads and never change, so a plain dict holds the same.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **(d or {})}


def _make_environment(search_path: list[Path], language: str, strict: bool) -> jinja2.Environment:
    env = _Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in search_path]),
        # Asked again for every render context (a template, each include): the answer per name is fixed.
        autoescape=functools.lru_cache(maxsize=512)(
            jinja2.select_autoescape(
                enabled_extensions=("html", "htm", "xml"), default_for_string=False, default=False
            )
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
    return role in (Role.AGENT, "manager", "owner", "team")


def _plain(value: Any) -> Any:
    """None for a Jinja Undefined, so i18n functions never see Jinja types."""
    return None if isinstance(value, jinja2.Undefined) else value


def _nl2br(value: Any) -> Markup:
    """Escape text and keep its line breaks: a customer's comment reads as they wrote it."""
    text = "" if value is None or isinstance(value, jinja2.Undefined) else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # One escape for the whole text; the line breaks are added to the escaped text as plain str.
    return Markup(str.replace(escape(text), "\n", "<br>\n"))


def _tidy_text(text: str) -> str:
    """No leading blank lines, exactly one newline at the end; the inside is left alone."""
    return text.replace("\r\n", "\n").lstrip("\n").rstrip() + "\n"


def one_line(value: str) -> str:
    """A header-safe single line: control and line-break characters become spaces, runs collapse.

    Control means Unicode categories Cc, Zl and Zp (U+0000-001F, U+007F-009F, U+2028, U+2029):
    one regular expression replaces each run of them and of white space by one space.
    """
    return _BREAKS.sub(" ", value).strip()


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
            "status": CaseStatus.IN_PROGRESS,
            "account": "Acme",
            "primary_contact": "alice@acme.example",
            "collaborators": ["bob@acme.example"],
            "created_at": opened,
            "first_response_due_at": opened + timedelta(hours=2),
            "first_responded_at": opened + timedelta(hours=1),
            "fields": {key: f"sample {key}" for key in i18n.FIELD_ORDER},
            "description": "The login page returns 500 since this morning.",
            "team": "tier2",
            "owner": "dave@example.com",
            "topic": "Login",
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
            "old_status": CaseStatus.NEW,
            "new_status": CaseStatus.IN_PROGRESS,
            "level": 1,
            "reason": "deadline",
            "due_at": opened + timedelta(hours=2),
            "reopen_until": opened + timedelta(days=14),
            "deadline": "next_response",
            "waiting_since": opened + timedelta(days=1),
            "closes_at": opened + timedelta(days=8),
            "closed_by": "maild",
            "reason_text": "Only the people the case is shared with can add to it.",
            "commented": False,
            "possible_at": opened + timedelta(hours=2),
            "helpdesk_message": "Please contact your company's help desk.",
            "original_subject": "Need help",
            "case_number": "00001042",
            "inbound_id": 7,
            "sender": "alice@acme.example",
            "excerpt": "Please close this.",
            "old_severity": 3,
            "new_severity": 1,
            "owner": "dave@example.com",
            "owner_name": "Dave Example",
            "previous_owner": "erin@example.com",
            "assigned_by": "erin@example.com",
            "old_team": "tier1",
            "new_team": "tier2",
            "moved_by": "erin@example.com",
            "results": [
                {"line": "#assign me", "ok": True, "code": "assigned", "detail": "dave@example.com"},
                {"line": "#team nowhere", "ok": False, "code": "unknown_team", "detail": "nowhere"},
            ],
            "teams": ["tier1", "tier2"],
        },
    }
