"""Language data for notifications: names, labels, reason texts, and formats.

Owns every word maild says to a person outside the templates themselves:
severity, status and role names, intake field labels, escalation and
rejection reasons, the default help-desk message, and how a date or a file
size is written in each language. Templates reach these through the filters
compose.py binds per language; other modules (notify.py, the case
service) call the same functions (severity_name, status_name,
helpdesk_message …), never the tables, so one function answers "what is
severity 2 called in Japanese" everywhere, fallbacks included.

Pure data and pure functions: no I/O, no clock. A language or key this
module does not know falls back to English, then to the raw key, so a new
template language or a new status never makes a notification fail.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import TypeVar

from maild.locales import FALLBACK_LANGUAGE, language_codes, locale, locales, normalize_language

__all__ = ["FALLBACK_LANGUAGE", "normalize_language"]  # re-exported: callers ask i18n, as before

_Key = TypeVar("_Key", int, str)

# The order intake fields are shown in: the order a customer thinks about a
# problem (what, how, how bad, by when), not alphabetical.
FIELD_ORDER: tuple[str, ...] = (
    "occurred_at",
    "steps_to_reproduce",
    "business_impact",
    "users_affected",
    "workaround",
    "desired_resolution_date",
    "desired_resolution_reason",
    "impact_if_missed",
    "login_access_granted",
    "org_id",
    "username",
)

# The tables of every language maild speaks, read from maild/locales/<code>.toml (SPEC §12).
SEVERITY_NAMES: dict[str, dict[int, str]] = {code: t.severity for code, t in locales().items()}
STATUS_NAMES: dict[str, dict[str, str]] = {code: t.status for code, t in locales().items()}
FIELD_LABELS: dict[str, dict[str, str]] = {code: t.field_labels for code, t in locales().items()}
ROLE_NAMES: dict[str, dict[str, str]] = {code: t.roles for code, t in locales().items()}
ESCALATION_REASONS: dict[str, dict[str, str]] = {code: t.escalation_reasons for code, t in locales().items()}
# Reasons a reply was not added to a case, phrased for the sender: each stands alone on its line.
REJECTION_REASONS: dict[str, dict[str, str]] = {code: t.rejection_reasons for code, t in locales().items()}
DEFAULT_HELPDESK: dict[str, str] = {code: t.helpdesk for code, t in locales().items()}


def supported_languages() -> tuple[str, ...]:
    """Languages maild has words for (maild/locales), English first."""
    return language_codes()


def pick_language(wanted: str | None, default: str, available: Collection[str] | None = None) -> str:
    """The language to write to someone in.

    `wanted` is whatever a contact record or a header holds ("ja", "ja-JP",
    "EN_us.UTF-8"); only its primary subtag matters, because templates exist
    per language, not per region. Falls back to `default`, then to English,
    so a typo in a contact record degrades to a readable message instead of
    a failure. `available` narrows the choice to what a Composer actually
    has templates for (default: the languages of this module).
    """
    choices = set(available) if available is not None else set(supported_languages())
    for candidate in (wanted, default):
        code = normalize_language(candidate)
        if code and code in choices:
            return code
    if FALLBACK_LANGUAGE in choices or not choices:
        return FALLBACK_LANGUAGE
    return sorted(choices)[0]


def _lookup(tables: Mapping[str, Mapping[_Key, str]], language: str, key: _Key) -> str | None:
    """`key` in `language`'s table, else in English's, else None: the one fallback rule of every table."""
    table = tables.get(language) or tables[FALLBACK_LANGUAGE]
    return table.get(key) or tables[FALLBACK_LANGUAGE].get(key)


def _whole_number(value: object) -> int | None:
    """`value` as an int (3 or "3"), or None: a filter shows what it cannot read rather than fail."""
    try:
        return int(str(value))
    except ValueError:
        return None


def severity_name(severity: object, language: str) -> str:
    """'High' for 3 in English; the number itself when it is not a known severity."""
    level = _whole_number(severity)
    if level is None:
        return "" if severity is None else str(severity)
    return _lookup(SEVERITY_NAMES, language, level) or str(severity)


def _words_for(
    tables: Mapping[str, Mapping[str, str]],
    value: object,
    language: str,
    unknown: Callable[[str], str] = str,
) -> str:
    """The rule every name table shares: "" for no value, `unknown(key)` for a key no table has.

    So a status, label or reason maild learns later still shows, as stored, never an error.
    """
    if value is None:
        return ""
    key = str(value)
    return _lookup(tables, language, key) or unknown(key)


def _humanised(key: str) -> str:
    return key.replace("_", " ").capitalize()


def status_name(status: object, language: str) -> str:
    """'Waiting on customer' for waiting_on_customer; an unknown status is shown as stored."""
    return _words_for(STATUS_NAMES, status, language)


def field_label(key: object, language: str) -> str:
    """The label of an intake field; an unknown key is shown humanised rather than hidden."""
    return _words_for(FIELD_LABELS, key, language, _humanised)


def role_name(role: object, language: str) -> str:
    """A participant's role as the recipient's language calls it."""
    return _words_for(ROLE_NAMES, role, language)


def escalation_reason_text(reason: object, language: str) -> str:
    """Why a case was escalated (deadline, next_response, customer_request), as a sentence."""
    return _words_for(ESCALATION_REASONS, reason, language)


def rejection_reason_text(code: str, language: str) -> str:
    """The sender-facing sentence for a rejection code; unknown codes pass through as given."""
    return _lookup(REJECTION_REASONS, language, code) or code


def helpdesk_message(configured: str | None, language: str) -> str:
    """The configured help-desk text, or this language's default when none is configured."""
    if configured and configured.strip():
        return configured.strip()
    return DEFAULT_HELPDESK.get(language) or DEFAULT_HELPDESK[FALLBACK_LANGUAGE]


def ordered_fields(fields: Mapping[str, object] | None) -> list[tuple[str, str]]:
    """Intake fields in display order, known keys first, empty values left out.

    Unknown keys (an older or newer parser) still show, after the known ones,
    so nothing a customer gave is silently dropped from a notification.
    """
    if not fields:
        return []
    known = [key for key in FIELD_ORDER if key in fields]
    rest = sorted(key for key in fields if key not in FIELD_ORDER)
    out: list[tuple[str, str]] = []
    for key in (*known, *rest):
        value = fields[key]
        text = "" if value is None else str(value).strip()
        if text:
            out.append((key, text))
    return out


def as_utc(value: object) -> datetime | None:
    """An aware UTC datetime from a datetime or an ISO 8601 string.

    Naive datetimes are taken to be UTC already: that is how SQLite hands
    back the UTC times maild stores, and guessing the host's zone would make
    the same row render differently on two machines.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_datetime(value: object, language: str) -> str:
    """'2026-11-21 12:00 UTC' / '2026年11月21日 12:00 (UTC)'; always UTC so no zone is guessed.

    A value that is not a time (None, an unparsable string) renders as
    itself or empty, never as an error in the middle of a notification.
    """
    moment = as_utc(value)
    if moment is None:
        return "" if value is None else str(value)
    return _format_moment(moment, language)


@functools.lru_cache(maxsize=1024)
def _format_moment(moment: datetime, language: str) -> str:
    """format_datetime of an aware UTC time; cached, as a case's deadlines recur in its notifications."""
    hm, ymd = f"{moment:%H:%M}", f"{moment:%Y-%m-%d}"
    return locale(language).datetime_format.format(
        year=moment.year, month=moment.month, day=moment.day, time=hm, date=ymd
    )


_SIZE_UNITS: tuple[str, ...] = ("KB", "MB", "GB", "TB")


def format_filesize(value: object, language: str) -> str:
    """A size in bytes for people: '512 bytes', '1.2 KB', '3.4 MB' (binary multiples)."""
    size = _whole_number(value)
    if size is None:
        return "" if value is None else str(value)
    if size < 0:
        return ""
    words = locale(language)
    if size < 1024:
        return words.bytes_one if size == 1 else words.bytes_many.format(n=size)
    amount = size / 1024
    index = 0
    units = words.size_units or _SIZE_UNITS
    while amount >= 1024 and index < len(units) - 1:
        amount /= 1024
        index += 1
    return f"{amount:.1f}".replace(".", words.decimal) + f" {units[index]}"


def languages_of(names: Iterable[str]) -> tuple[str, ...]:
    """The language codes among directory names, as a stable sorted tuple."""
    found = {name for name in names if normalize_language(name) == name}
    return tuple(sorted(found))
