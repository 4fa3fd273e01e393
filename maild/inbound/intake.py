"""Reading what a customer wrote: subject, severity, intake fields and reply commands.

Owns every rule about the *words* of a message (SPEC §2 and §3): which
reply/forward prefixes a case subject loses, where the case tag and the
severity are found, which `Key: value` lines become intake fields, and the
`#escalate` / `#close` commands. Customers write in any of the languages of
maild/locales/intake (their words are data, read by maild.inbound.intake_words), from
mail clients localised into many languages and with full-width characters, so
each rule accepts the spellings real mail carries while staying strict enough
that ordinary prose is never mistaken for a command, a tag or a field.

Pure functions of text: no I/O, no clock, no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from maild.inbound.commands import read_commands
from maild.inbound.intake_words import alternation, intake_words, normalize_label
from maild.mailids import strip_routing_tags

__all__ = [
    "FIELD_VALUE_LIMIT",
    "NO_SUBJECT",
    "SeverityChoice",
    "clean_subject",
    "read_command",
    "read_fields",
    "read_severity",
    "strip_command",
    "strip_severity_tag",
]

NO_SUBJECT = "(no subject)"
FIELD_VALUE_LIMIT = 2000
VALID_SEVERITIES = frozenset({1, 2, 3, 4})

# Reply and forward markers of the mail clients our customers use: English,
# German (AW/WG), Nordic (SV/VS/VB/FS), French (TR/Réf), Italian (R/RIF/I),
# Dutch (Antw/Doorst), Polish (Odp/PD), Spanish/Portuguese (RV/RES/ENC),
# Turkish (YNT/ILT), Chinese (回复/答复/转发/回覆/轉寄) and Japanese (返信/転送).
# Each may carry a counter ("Re[2]:", "Re(3):", "Re^2:") and either colon.
_PREFIX_WORDS = (
    "re|fwd|fw|aw|wg|sv|vs|vb|fs|tr|r|rif|i|réf|antw|doorst|odp|pd|rv|res|enc|ynt|ilt"
    "|回复|答复|转发|回覆|轉寄|返信|転送"
)
# Linear: no leading blanks (clean_subject collapses the subject first, and
# each match's trailing blanks are taken by the match), so a search never
# rescans a run of blanks from each of its positions; the blanks around the
# counter are possessive, as nothing after them is a blank.
_PREFIX = re.compile(
    rf"(?:{_PREFIX_WORDS})\s*+(?:\[\d{{1,4}}\]|\(\d{{1,4}}\)|\^\d{{1,4}})?\s*+[:：]\s*+",
    re.IGNORECASE,
)
# "[Fwd: original subject]" as old clients wrote a forward. Possessive blanks:
# giving them back to "(.*)" could never find the closing "]".
_BRACKETED_FORWARD = re.compile(r"^\s*+\[\s*+(?:fwd?|fw)\s*+:\s*+(.*)\]\s*+$", re.IGNORECASE | re.DOTALL)


_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_OPEN = r"[\[［【]"
_CLOSE = r"[\]］】]"
# Blanks are possessive throughout the tag: what follows each run is never a
# blank, and "[ 重要度" + blanks was quadratic with backtracking runs.
_SEP = r"(?:\s*+[-－:：]\s*+|\s++)"
_WORDS = intake_words()
_SPACED = alternation(_WORDS.severity_spaced)
_JOINED = alternation(_WORDS.severity_joined)
# "[Sev 1]", "[SEV-2]", "[Severity: 3]", "[Gravité : 2]", "[重要度１]", "[重要度：2]" take any
# short word as their value (so "[Sev high]" can be reported as invalid); "[S1]" needs
# digits, otherwise "[Slack]" would read as severity "lack". The words are every
# language's (maild/locales/intake), literal alternatives: linear like one word.
_SEVERITY_TAG = re.compile(
    rf"{_OPEN}\s*+(?:"
    rf"(?:{_SPACED}){_SEP}(?P<word>[^\]］】\s]{{1,20}})"
    rf"|(?:{_SPACED})\s*+(?P<sevdigits>[0-9０-９]{{1,3}})"
    rf"|(?:{_JOINED})\s*+[-－:：]?\s*+(?P<joined>[^\]］】\s]{{1,20}})"
    rf"|s\s*+[-－]?\s*+(?P<sdigits>[0-9０-９]{{1,3}})"
    rf")\s*+{_CLOSE}",
    re.IGNORECASE,
)
# The value is the rest of the line, its trailing blanks stripped in Python:
# "(.*?)\s*$" tried every split of a line's tail (a 20,000-character line:
# 1.3 s). Possessive blanks, since what follows each run is never a blank.
_SEVERITY_LINE = re.compile(
    rf"^\s*+(?:[-*•・]\s*+)?+(?:{alternation(_WORDS.severity_line)})\s*+[:：]\s*+(?P<value>.*)",
    re.IGNORECASE,
)

_INVISIBLE = "\ufeff\u200b\u200c\u200d\u2060"


def _collapse(text: str) -> str:
    return " ".join(text.split())


def clean_subject(subject: str) -> str:
    """The case subject: the customer's words without reply/forward prefixes or a case tag.

    Prefixes are stripped repeatedly ("Re: AW: Fwd: x" → "x") and around case
    tags ("Re: [Case #00001042] RE: x" → "x"), because a subject that grows a
    new marker on every hop would otherwise never look like the case it is.
    Only leading markers go: "Fix the Re: line" keeps its words. Never empty.
    """
    text = _collapse(subject)
    while True:
        before = text
        text = _collapse(strip_routing_tags(text))
        # Walk by position: a hostile "Re: " × 10,000 must not cost a copy per prefix.
        position = 0
        match = _PREFIX.match(text)
        while match:
            position = match.end()
            match = _PREFIX.match(text, position)
        text = text[position:]
        forwarded = _BRACKETED_FORWARD.match(text)
        if forwarded:
            text = forwarded.group(1)
        text = _collapse(text)
        if text == before:
            break
    return text or NO_SUBJECT


@dataclass(frozen=True)
class SeverityChoice:
    """The severity a new case gets, where it came from, and what was refused.

    `invalid` keeps the customer's own text ("7", "high") when it could not be
    used, so the acknowledgement can say the default was applied instead.
    """

    value: int
    source: Literal["subject", "body", "default"]
    invalid: str | None = None


def _severity_value(text: str) -> int | None:
    normalised = text.translate(_FULLWIDTH_DIGITS)
    if normalised in {"1", "2", "3", "4"}:
        return int(normalised)
    return None


def _severity_from_subject(subject: str) -> str | None:
    match = _SEVERITY_TAG.search(subject)
    if match is None:
        return None
    for group in ("word", "sevdigits", "joined", "sdigits"):
        value = match.group(group)
        if value is not None:
            return str(value)
    return None  # pragma: no cover - one alternative always matched


def _severity_from_body(body: str) -> str | None:
    for line in body.splitlines():
        if line.lstrip().startswith(">"):
            continue
        match = _SEVERITY_LINE.match(line)
        value = match.group("value").rstrip() if match else ""
        # A label left empty is an unfilled template, not a statement.
        if value:
            # "Severity: 2 (Urgent)" and "重要度：２ 緊急" carry the number first.
            leading = re.match(r"[0-9０-９]+(?![0-9０-９])", value)
            return leading.group(0) if leading else value[:40]
    return None


def read_severity(subject: str, body: str, default: int) -> SeverityChoice:
    """The severity from a subject tag, else the first `Severity:` body line, else the default.

    The first place the customer stated a severity decides, even when what
    they wrote there is invalid: silently taking a different statement from
    further down would hide their mistake, and the acknowledgement should
    name it. Only 1–4 are valid; names like "high" are not, because the
    vendor's names differ by language and a guess could raise a Sev 3 to 1.
    """
    if default not in VALID_SEVERITIES:
        raise ValueError(f"default severity {default} is not 1–4")
    source: Literal["subject", "body"] = "subject"
    found = _severity_from_subject(subject)
    if found is None:
        source, found = "body", _severity_from_body(body)
    if found is None:
        return SeverityChoice(value=default, source="default")
    value = _severity_value(found)
    if value is None:
        return SeverityChoice(value=default, source="default", invalid=found)
    return SeverityChoice(value=value, source=source)


def strip_severity_tag(subject: str) -> str:
    """The subject without severity tags, so "[Sev 1]" never becomes part of the case subject."""
    return _collapse(_SEVERITY_TAG.sub(" ", subject))


# Each pattern takes the label as the whole run up to its closing "】" or
# first colon, and the rest of the line; the label's length (1-60 once its
# blanks are stripped) and the value's blanks are dealt with in Python
# (_field_line). The old lazy label and "(.*?)\s*$" tail tried every split of
# a long line, cubic in its blanks (a 20,000-character line: 1.3 s); these
# take each run possessively, once: linear. The same lines give the same
# labels and values.
_LABEL_MAX = 60
_BULLET = r"(?:[-*•・■◆●]\s*+)?+"
_BRACKET_LABEL = re.compile(rf"^\s*+{_BULLET}【([^】]*+)】(.*)")
_COLON_LABEL = re.compile(rf"^\s*+{_BULLET}([^:：\n]*+)[:：](.*)")


def _field_name(label: str) -> str | None:
    """The stored field a label names, in any language maild reads (maild/locales/intake)."""
    return _WORDS.field_labels.get(normalize_label(label))


def _field_line(line: str) -> tuple[str, str] | None:
    """(field name, value on the same line) when the line opens a known field."""
    if line.lstrip().startswith(">"):
        return None
    for pattern in (_BRACKET_LABEL, _COLON_LABEL):
        match = pattern.match(line)
        label = match.group(1).strip() if match else ""
        if not match or not label or len(label) > _LABEL_MAX:
            continue
        name = _field_name(label)
        if name is not None:
            value = match.group(2).strip()
            if pattern is _BRACKET_LABEL and value[:1] in (":", "："):
                value = value[1:].lstrip()  # "【業務影響】：…" may put a colon after the label
            # "**Business impact:** high" leaves the closing emphasis on the value.
            return name, value.lstrip("*_").strip()
    return None


def _is_continuation(line: str) -> bool:
    return bool(line.strip()) and line[:1] in (" ", "\t", "\u3000") and not line.lstrip().startswith(">")


def read_fields(body: str) -> dict[str, str]:
    """Intake fields from `Key: value` lines, in any language of maild/locales/intake.

    A value may continue on indented lines; a label with nothing after it
    ("Steps to reproduce:") takes the following lines up to a blank line or
    the next label, which is how people write numbered steps. Labels are
    matched whole (after normalising case, width and bullets), so prose that
    merely contains a colon is not a field. The first occurrence of a field
    wins — a later one is usually quoted or pasted. Values are capped at
    FIELD_VALUE_LIMIT characters; empty values are not stored.
    """
    fields: dict[str, str] = {}
    lines = body.splitlines()
    index = 0
    while index < len(lines):
        opened = _field_line(lines[index])
        index += 1
        if opened is None:
            continue
        name, first = opened
        parts = [first] if first else []
        if first:
            while index < len(lines) and _is_continuation(lines[index]) and _field_line(lines[index]) is None:
                parts.append(lines[index].strip())
                index += 1
        else:
            while (
                index < len(lines)
                and lines[index].strip()
                and not lines[index].lstrip().startswith(">")
                and _field_line(lines[index]) is None
            ):
                parts.append(lines[index].strip())
                index += 1
        value = "\n".join(parts).strip()[:FIELD_VALUE_LIMIT].rstrip()
        if value and name not in fields:
            fields[name] = value
    return fields


def _first_line(text: str) -> tuple[int, str] | None:
    """(index, content) of the first line with visible characters."""
    for index, line in enumerate(text.splitlines()):
        visible = line.strip().strip(_INVISIBLE).strip()
        if visible:
            return index, visible
    return None


def read_command(text: str) -> Literal["escalate", "close"] | None:
    """A contact's `#escalate` or `#close` when it opens the reply (maild.inbound.commands' grammar).

    Only there, and only alone on its line: a command must be deliberate, so
    "#close" further down, inside a sentence, or quoted ("> #close") is text.
    """
    commands = read_commands(text).commands
    first = commands[0].name if commands else None
    if first == "escalate" or first == "close":
        return first
    return None


def strip_command(text: str) -> str:
    """The reply without its command lines (and the blank lines around them).

    Text without a command is returned unchanged, so the comment body is
    exactly what the customer wrote apart from the instruction to us.
    """
    return read_commands(text).body
