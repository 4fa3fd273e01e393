"""The words customers write when they open a case, one table per language (SPEC §2, §10, §12).

A customer writes intake labels ("Business impact:", "Impact métier :",
"业务影响："), a severity ("[Sev 1]", "[Gravité : 2]", "심각도: 3") and a topic
("[Topic: X]", "Kategorie: X") in their own language, and maild does not know
that language before reading the message: a French contact may write German
labels they copied from a colleague. So every language's words are read in
every message, and the tables (maild/locales/intake/<code>.toml) only say
which words exist; adding a language is adding a file. The notification
labels of maild/locales/<code>.toml are read too, so a customer who copies
the labels of an acknowledgement into a new case is always understood.

Read once, at import, and checked: a label that two tables give different
fields, or an unknown field name, stops maild at start rather than storing a
value under the wrong field.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from maild.locales import FALLBACK_LANGUAGE, locales, read_tables

__all__ = ["IntakeWords", "alternation", "intake_words", "normalize_label"]

_FOLDER = "intake"


def normalize_label(label: str) -> str:
    """A label as it is looked up: NFKC, lower case, single spaces, no markdown emphasis or "¿…?".

    Full-width letters and digits become ASCII (NFKC), typographic
    apostrophes become "'" ("Nom d’utilisateur" is "Nom d'utilisateur"), and
    a question ("¿Cuándo ocurrió?", "Wann trat der Fehler auf?") is its words.
    """
    normalised = unicodedata.normalize("NFKC", label).lower().replace("*", "").replace("_", " ")
    normalised = normalised.replace("\u2019", "'")
    return " ".join(normalised.split()).rstrip("?").strip().lstrip("¿").strip()


def alternation(words: Iterable[str]) -> str:
    """A regex alternation of literal words: escaped, lower case, longest first.

    Longest first so "severity" is tried before "sev" and "カテゴリー" before
    "カテゴリ"; each alternative is a literal, so a search costs at most the
    words' total length per position of the text (linear in the text).
    """
    unique = {word.lower() for word in words if word}
    return "|".join(re.escape(word) for word in sorted(unique, key=lambda w: (-len(w), w)))


@dataclass(frozen=True)
class IntakeWords:
    """Every language's intake words together, as the readers use them."""

    languages: tuple[str, ...]
    field_labels: dict[str, str]  # normalize_label(label) -> stored field name
    severity_spaced: tuple[str, ...]  # tag words a value follows after a blank or colon ("[Sev 1]")
    severity_joined: tuple[str, ...]  # tag words a value may follow directly ("[重要度1]"): CJK
    severity_line: tuple[str, ...]  # words of a body line "Severity: 2" (no abbreviations)
    topic_words: tuple[str, ...]  # "[Topic: X]" and "Topic: X", lower case


def _strings(code: str, table: dict[str, Any], key: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RuntimeError(f"maild/locales/{_FOLDER}/{code}.toml: {key} must be a list of words")
    return [str(v).strip() for v in value]


def _add_label(labels: dict[str, str], label: str, field: str, where: str) -> None:
    key = normalize_label(label)
    if not key:
        raise RuntimeError(f"{where}: an empty label for {field}")
    if labels.setdefault(key, field) != field:
        raise RuntimeError(f"{where}: {label!r} is both {labels[key]} and {field}")


@cache
def intake_words() -> IntakeWords:
    """The union of every language's table (read once; the tables never change while maild runs)."""
    known_fields = set(locales()[FALLBACK_LANGUAGE].field_labels)
    labels: dict[str, str] = {}
    spaced: list[str] = []
    joined: list[str] = []
    line: list[str] = []
    topics: list[str] = []
    tables = read_tables(_FOLDER)
    for code, table in tables.items():
        where = f"maild/locales/{_FOLDER}/{code}.toml"
        fields = table.get("fields", {})
        for field in fields:
            if field not in known_fields:
                raise RuntimeError(f"{where}: {field!r} is not an intake field")
            for label in _strings(code, fields, field):
                _add_label(labels, label, field, where)
        severity = table.get("severity", {})
        words = _strings(code, severity, "words")
        (joined if severity.get("joined", False) is True else spaced).extend(words)
        spaced.extend(_strings(code, severity, "abbreviations"))
        line.extend(words)
        topics.extend(_strings(code, table.get("topic", {}), "words"))
    # The acknowledgement's own labels, where no intake table already gives them a field.
    for notification in locales().values():
        for field, label in notification.field_labels.items():
            if field in known_fields and normalize_label(label):
                labels.setdefault(normalize_label(label), field)
    return IntakeWords(
        languages=tuple(tables),
        field_labels=labels,
        severity_spaced=tuple(spaced),
        severity_joined=tuple(joined),
        severity_line=tuple(line),
        topic_words=tuple(sorted({w.lower() for w in topics})),
    )
