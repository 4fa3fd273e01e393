"""Every word maild writes in a language, as data: one TOML table per language (SPEC §12).

Owns which languages maild speaks and what a language tag means: a contact
record, `support.default_language`, a template folder or a Content-Language
header all go through normalize_language, so "ja-JP", "ja_JP.UTF-8" and "JA"
are one language, and Chinese and Portuguese keep the region that changes
the written language (zh-CN simplified, zh-TW traditional; pt-BR).

A language exists when its table (`<code>.toml` beside this module) exists;
its templates live in templates/<code>/. Translations are data, not code:
adding a language is adding files. The tables are read once, at first use,
and never change while maild runs.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

__all__ = [
    "FALLBACK_LANGUAGE",
    "Locale",
    "language_codes",
    "locale",
    "locales",
    "normalize_language",
    "read_tables",
]

FALLBACK_LANGUAGE = "en"

# Subtags that mean traditional Chinese; any other Chinese is simplified (zh-CN).
_TRADITIONAL = frozenset({"tw", "hk", "mo", "hant"})
# Languages whose written form depends on the region: the region maild writes for each.
_REGIONAL = {"zh": "zh-CN", "pt": "pt-BR"}


@dataclass(frozen=True)
class Locale:
    """One language's words: names, labels, reasons and formats (the keys of its TOML table)."""

    code: str
    name: str  # the language's own name for itself ("日本語")
    severity: dict[int, str]
    status: dict[str, str]
    field_labels: dict[str, str]
    roles: dict[str, str]
    escalation_reasons: dict[str, str]
    rejection_reasons: dict[str, str]
    helpdesk: str
    datetime_format: str  # str.format with year, month, day, time (HH:MM), date (YYYY-MM-DD)
    bytes_one: str  # "1 byte"
    bytes_many: str  # "{n} bytes"
    decimal: str = "."  # "2.0 KB" / "2,0 KB"
    size_units: tuple[str, ...] = ("KB", "MB", "GB", "TB")  # "Ko" in French
    extra: dict[str, Any] = field(default_factory=dict)  # tables other rooms read (intake words, …)


def normalize_language(value: str | None) -> str | None:
    """The language code maild uses for a tag ("ja-JP" -> "ja", "zh_Hant_TW" -> "zh-TW"), or None.

    Only letters, digits, "-" and "_" are read, at most 35 characters (the
    longest sane tag), so a hostile header cannot make this slow or odd.
    """
    if not value:
        return None
    text = value.strip()[:35].split(".", 1)[0].replace("_", "-").lower()
    subtags = [part for part in text.split("-") if part]
    if not subtags or not subtags[0].isascii() or not subtags[0].isalpha() or not 2 <= len(subtags[0]) <= 8:
        return None
    primary = subtags[0]
    if primary == "zh":
        return "zh-TW" if _TRADITIONAL.intersection(subtags[1:]) else "zh-CN"
    return _REGIONAL.get(primary, primary)


def _read(code: str, data: dict[str, Any]) -> Locale:
    try:
        return Locale(
            code=code,
            name=str(data["name"]),
            severity={int(k): str(v) for k, v in data["severity"].items()},
            status=dict(data["status"]),
            field_labels=dict(data["field_labels"]),
            roles=dict(data["roles"]),
            escalation_reasons=dict(data["escalation_reasons"]),
            rejection_reasons=dict(data["rejection_reasons"]),
            helpdesk=str(data["helpdesk"]),
            datetime_format=str(data["formats"]["datetime"]),
            bytes_one=str(data["formats"]["bytes_one"]),
            bytes_many=str(data["formats"]["bytes_many"]),
            decimal=str(data["formats"].get("decimal", ".")),
            size_units=tuple(str(u) for u in data["formats"].get("size_units", ("KB", "MB", "GB", "TB"))),
            extra={k: v for k, v in data.items() if k not in _KNOWN},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise RuntimeError(f"maild/locales/{code}.toml is broken: {e!r}") from e


_KNOWN = frozenset(
    {
        "name",
        "severity",
        "status",
        "field_labels",
        "roles",
        "escalation_reasons",
        "rejection_reasons",
        "helpdesk",
        "formats",
    }
)


def read_tables(folder: str = "") -> dict[str, dict[str, Any]]:
    """Every `<code>.toml` of maild/locales (or of its sub`folder`), parsed, by code, sorted.

    The one reader of language tables: each file must be named by a
    normalized code, and English, the fallback, must be there.
    """
    where = "maild/locales/" + (f"{folder}/" if folder else "")
    root = resources.files(__name__)
    found: dict[str, dict[str, Any]] = {}
    for entry in (root.joinpath(folder) if folder else root).iterdir():
        if entry.name.endswith(".toml"):
            code = entry.name.removesuffix(".toml")
            if normalize_language(code) != code:
                raise RuntimeError(f"{where}{entry.name}: {code!r} is not a normalized language code")
            found[code] = tomllib.loads(entry.read_text(encoding="utf-8"))
    if FALLBACK_LANGUAGE not in found:
        raise RuntimeError(f"{where}{FALLBACK_LANGUAGE}.toml is missing")
    return dict(sorted(found.items()))


@cache
def locales() -> dict[str, Locale]:
    """Every language maild has a table for, by code."""
    return {code: _read(code, data) for code, data in read_tables().items()}


def language_codes() -> tuple[str, ...]:
    """The languages maild speaks, English first (the fallback), then as sorted."""
    codes = sorted(locales())
    codes.remove(FALLBACK_LANGUAGE)
    return (FALLBACK_LANGUAGE, *codes)


def locale(code: str) -> Locale:
    """A language's table; English for a language maild does not have."""
    tables = locales()
    return tables.get(code) or tables[FALLBACK_LANGUAGE]
