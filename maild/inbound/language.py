"""The language a message is written in, for someone with no language of their own (SPEC §12).

A contact record's language always wins; this is for everyone else: a
non-contact who gets the help-desk reply, a sender whose message is
refused, a contact whose record names no language. Answering them in the
language they wrote in is the courtesy a support desk offers; answering in
a wrong language is worse than the default, so every step below says
"don't know" (None) rather than guess:

1. Content-Language, when it names a language maild speaks: the sender's
   mail client said so.
2. The script of the new text (quoted history is someone else's words):
   kana is Japanese, Hangul Korean, Han without kana Chinese (traditional or
   simplified by the characters only one form uses, then by the charset),
   Cyrillic Russian (unless letters only Ukrainian, Belarusian, Serbian or
   Macedonian use appear), Latin one of en fr de es it pt-BR nl by their
   common function words, with a clear margin.

Pure and linear: at most MAX_TEXT characters of the new text are examined,
so a hostile megabyte costs no more than a short note.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from maild.inbound.language_words import (
    CHARSET_LANGUAGES,
    SIMPLIFIED_ONLY,
    TRADITIONAL_ONLY,
    WORD_LANGUAGES,
)
from maild.inbound.message import InboundMail
from maild.inbound.quotes import extract_reply
from maild.locales import language_codes, normalize_language

__all__ = ["MAX_TEXT", "declared_language", "message_language", "sender_language", "text_language"]

MAX_TEXT = 4096  # characters of new text examined: a greeting and a paragraph are plenty
MAX_BODY = 64 * 1024  # characters of the body handed to quote stripping (the new text comes first)
MAX_TAGS = 8  # languages read from one Content-Language header

# A CJK character carries about a word, a Latin or Cyrillic letter a fifth of one.
_CJK_WEIGHT = 3
_MIN_WORDS = 2.0  # function-word hits the leading Latin language needs
_MARGIN = 1.5  # ... and how many times the runner-up's score
_WORD = re.compile(r"[^\W\d_]+")  # one run of letters: no alternation, no backtracking
_NOT_RUSSIAN = frozenset("іїєґўђјљњћџѓќѕІЇЄҐЎЂЈЉЊЋЏЃЌЅ")


def sender_language(own: str | None, mail: InboundMail) -> str | None:
    """The language to write to a message's sender in: theirs when they have one, else the message's."""
    return own or message_language(mail)


def message_language(mail: InboundMail, available: Collection[str] | None = None) -> str | None:
    """The language `mail` is written in, when it can be told; None when it cannot."""
    codes = frozenset(language_codes() if available is None else available)
    declared = declared_language(mail.header("content-language"), codes)
    if declared is not None:
        return declared
    # The body first: a subject is short, often a product name, often someone else's ("Re: …").
    new_text = extract_reply(mail.text[:MAX_BODY])[:MAX_TEXT]
    found = text_language(new_text, mail.body_charset, codes)
    return found or text_language(mail.subject[:MAX_TEXT], mail.body_charset, codes)


def declared_language(header: str | None, available: Collection[str]) -> str | None:
    """The first language of a Content-Language header ("fr-CA, en") that maild speaks."""
    if not header:
        return None
    for tag in header[:300].split(",")[:MAX_TAGS]:
        code = normalize_language(tag)
        if code is not None and code in available:
            return code
    return None


@dataclass(slots=True)
class _Scripts:
    """Letters of each script in a text, counted in one pass."""

    kana: int = 0
    hangul: int = 0
    han: int = 0
    cyrillic: int = 0
    not_russian: int = 0
    latin: int = 0
    traditional: int = 0
    simplified: int = 0

    def add(self, char: str) -> None:
        code = ord(char)
        if code < 0x250:
            self.latin += char.isalpha()
        elif 0x400 <= code <= 0x52F:
            self.cyrillic += 1
            self.not_russian += char in _NOT_RUSSIAN
        elif 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF or 0xFF66 <= code <= 0xFF9F:
            self.kana += 1
        elif 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
            self.hangul += 1
        elif 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF:
            self.han += 1
            self.traditional += char in TRADITIONAL_ONLY
            self.simplified += char in SIMPLIFIED_ONLY


def text_language(text: str, charset: str | None, available: Collection[str]) -> str | None:
    """The language of a text by its script (see the module docstring), or None."""
    scripts = _Scripts()
    for char in text[:MAX_TEXT]:
        scripts.add(char)
    cjk = scripts.kana + scripts.hangul + scripts.han
    found: str | None = None
    if cjk * _CJK_WEIGHT >= max(scripts.latin, scripts.cyrillic) and cjk:
        found = _cjk_language(scripts, _charset_language(charset))
    elif scripts.cyrillic > scripts.latin:
        found = "ru" if scripts.not_russian * 100 < scripts.cyrillic else None
    elif scripts.latin:
        found = _latin_language(text[:MAX_TEXT], available)
    return found if found in available else None


def _charset_language(charset: str | None) -> str | None:
    if not charset:
        return None
    return CHARSET_LANGUAGES.get(charset.strip().strip('"').lower()[:40])


def _cjk_language(scripts: _Scripts, by_charset: str | None) -> str | None:
    """Japanese, Korean or which Chinese: script first, then the characters, then the charset."""
    if scripts.hangul and scripts.hangul >= scripts.kana and scripts.hangul * 2 >= scripts.han:
        return "ko"
    if scripts.kana and scripts.kana * 10 >= scripts.han:
        return "ja"
    if not scripts.han:
        return None
    if by_charset in ("ja", "ko"):
        return by_charset  # kanji or hanja alone, from a Japanese or Korean mail client
    traditional = scripts.traditional + (3 if by_charset == "zh-TW" else 0)
    simplified = scripts.simplified + (3 if by_charset == "zh-CN" else 0)
    # Undecided Chinese is answered in simplified: most Chinese readers read it first.
    return "zh-TW" if traditional > simplified else "zh-CN"


def _latin_language(text: str, available: Collection[str]) -> str | None:
    """The Latin-script language whose function words the text uses most, by a clear margin."""
    scores: dict[str, float] = {}
    for match in _WORD.finditer(text.lower()):
        languages = WORD_LANGUAGES.get(match.group())
        if languages:
            share = 1 / len(languages)
            for code in languages:
                scores[code] = scores.get(code, 0.0) + share
    ranked = sorted(((score, code) for code, score in scores.items() if code in available), reverse=True)
    if not ranked or ranked[0][0] < _MIN_WORDS:
        return None
    runner_up = ranked[1][0] if len(ranked) > 1 else 0.0
    return ranked[0][1] if ranked[0][0] >= _MARGIN * runner_up else None
