"""The new text of an email reply, without quoted history and signatures.

Owns the decision of what a reply *adds* to a case: the comment keeps this
text, while the full body is stored beside it. The rules follow what mail
clients actually write above and around quoted history, in English,
Japanese and the other languages customers use: "On ... wrote:" (also
wrapped over lines), Gmail's "2026年11月21日(土) 10:00 山田 <x@y>:", Apple
Mail's "… のメッセージ:", Outlook's "-----Original Message-----" and
"From:/Sent:/To:/Subject:" ("差出人:/送信日時:/宛先:/件名:") blocks, "> "
quoting (top-posted or interleaved), the "-- " signature separator and
mobile footers.

mail-parser-reply's per-language "wrote" patterns are used as one more
detector. Its whole-text regexes are not: they are unbounded (slow on big
bodies) and its signature rules cut at words like "Thanks,", which loses
real text. Every check here runs on one line or a short window of lines,
so the time is linear in the size of the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mailparser_reply.constants import MAIL_LANGUAGES

from maild.inbound.quote_words import (
    FOOTERS,
    FORWARD_OPENERS,
    FROM_KEYS,
    OTHER_KEYS,
    SEPARATOR_WORDS,
    WROTE_VERBS,
)

_MAX_LINE = 1000
# mail-parser-reply's patterns backtrack quadratically on long lines, so
# they see only short windows, and only this many per text.
_LIBRARY_MAX_WINDOW = 120
_LIBRARY_BUDGET = 200
_MAX_WINDOW = 400
_WINDOW_LINES = 3
_FOOTER_TAIL = 30

_QUOTE_MARKS = (">", "＞")


def _alternatives(phrases: tuple[str, ...]) -> str:
    """Literal phrases as one alternation, longest first, whitespace matched loosely."""
    ordered = sorted(set(phrases), key=len, reverse=True)
    return "|".join(re.escape(phrase).replace(r"\ ", r"\s+") for phrase in ordered)


_WROTE_VERB = re.compile(rf"(?:{_alternatives(WROTE_VERBS)})\s*[:：]$", re.IGNORECASE)
_DATED_OPENER = re.compile(
    r"^(?:On|Le|Am|El|Il|Op|Den|Em|Dne|W dniu|Dnia|在|\d{4}\s*[年년/.-]|\d{1,2}[./-]\d{1,2}[./-]\d{2,4})",
    re.IGNORECASE,
)
_TIME_OR_ADDRESS = re.compile(r"\d{1,2}:\d{2}|@")
_DIGIT_OR_ADDRESS = re.compile(r"\d|@")

_SEPARATOR = re.compile(
    rf"^-{{2,}}\s*(?:{_alternatives(SEPARATOR_WORDS)})\s*-{{2,}}$|"
    rf"^(?:{_alternatives(FORWARD_OPENERS)})\s*[:：]?$",
    re.IGNORECASE,
)
# Gmail's attribution in languages without a verb (ja, ru): "<date> <time>, Name <address>:".
_ADDRESS_END = re.compile(r"<[^<>\s]{1,254}>\s*[:：]$")
_YEAR = re.compile(r"(?:19|20)\d\d")

_FROM_KEYS = _alternatives(FROM_KEYS)
_OTHER_KEYS = _alternatives(OTHER_KEYS)
_HEADER_KEY = re.compile(rf"^({_FROM_KEYS}|{_OTHER_KEYS})[ \t]*[:：]", re.IGNORECASE)
_FROM_KEY = re.compile(rf"^(?:{_FROM_KEYS})$", re.IGNORECASE)

_FOOTER = re.compile(
    r"^(?:Sent (?:from|with|via|using) .{1,120}|Get Outlook for .{1,80}|Get \[?Outlook for .{1,80}|"
    r"Envoyé (?:de|depuis) (?:mon|ma) .{1,60}|Von meinem .{1,60} gesendet\.?|Gesendet von meinem .{1,60}|"
    r"Diese Nachricht wurde von meinem .{1,80} gesendet\.?|Enviado desde mi .{1,60}|Enviado do meu .{1,60}|"
    r"Inviato da(?:l mio)? .{1,60}|Verzonden (?:met|vanaf mijn) .{1,60}|Sendt fra min .{1,60}|"
    r"Skickat från min .{1,60}|Wysłane z .{1,60}|Отправлено с .{1,60}|Надіслано з .{1,60}|"
    r".{1,40}から送信|从我的.{1,30}发送|從我的.{1,30}(?:傳送|發送)|发自我的.{1,30}|發自我的.{1,30}|"
    r"寄自我的.{1,30}|"
    r"<<sent by .{1,40}>>|\(sent from .{1,40}\)|From my (?:iPhone|iPad|Android|mobile).{0,30}|"
    rf"Someone from mobile|{_alternatives(FOOTERS)})\s*$",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^--\s?$")
_RULE = re.compile(r"^[\s_\-=*~]{3,}$")


def _library_wrote_patterns() -> tuple[re.Pattern[str], ...]:
    """mail-parser-reply's "X wrote:" patterns for all its languages, compiled once."""
    patterns: list[re.Pattern[str]] = []
    for language in MAIL_LANGUAGES.values():
        source = language.get("wrote_header")
        if not isinstance(source, str):
            continue
        try:
            patterns.append(re.compile(source, re.IGNORECASE))
        except re.error:
            continue
    return tuple(patterns)


_LIBRARY_WROTE = _library_wrote_patterns()


def _is_quoted(line: str) -> bool:
    return line.lstrip()[:1] in _QUOTE_MARKS


class _Text:
    """The lines of one text, with per-line results cached and a budget for slow checks."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.library_budget = _LIBRARY_BUDGET
        self._keys: dict[int, str | None] = {}

    def header_key(self, index: int) -> str | None:
        if index not in self._keys:
            self._keys[index] = _header_key(self.lines[index])
        return self._keys[index]

    def library_says_attribution(self, window: str) -> bool:
        if len(window) > _LIBRARY_MAX_WINDOW or self.library_budget <= 0:
            return False
        self.library_budget -= 1
        return any(pattern.match(window) for pattern in _LIBRARY_WROTE)


def _is_attribution(window: str, text: _Text) -> bool:
    """A "someone wrote:" line, in any of the shapes clients produce."""
    if len(window) > _MAX_WINDOW or not window.endswith((":", "：")):
        return False
    if not _DIGIT_OR_ADDRESS.search(window):
        return False
    if _WROTE_VERB.search(window):
        return True
    if _DATED_OPENER.match(window) and _TIME_OR_ADDRESS.search(window):
        return True
    if _ADDRESS_END.search(window) and _YEAR.search(window) and _TIME_OR_ADDRESS.search(window):
        return True
    return text.library_says_attribution(window)


def _attribution_end(text: _Text, index: int) -> int | None:
    """The last line of an attribution starting at `index` (it may wrap), or None."""
    lines = text.lines
    if len(lines[index]) > _MAX_LINE or not lines[index].strip():
        return None
    window = ""
    for offset in range(_WINDOW_LINES):
        position = index + offset
        if position >= len(lines):
            return None
        part = lines[position].strip()
        if not part or _is_quoted(lines[position]) != _is_quoted(lines[index]):
            return None
        window = f"{window} {part}".strip()
        if _is_attribution(window, text):
            return position
        if len(window) > _MAX_WINDOW:
            return None
    return None


def _header_key(line: str) -> str | None:
    if len(line) > _MAX_LINE:
        return None
    match = _HEADER_KEY.match(line.strip().lstrip("*").lstrip())
    return match.group(1).lower() if match else None


def _is_header_block(text: _Text, index: int) -> bool:
    """An Outlook-style "From: / Sent: / To: / Subject:" block starting here."""
    first = text.header_key(index)
    if first is None or not _FROM_KEY.match(first):
        return False
    keys = {first}
    gap = 0
    for position in range(index + 1, min(index + 10, len(text.lines))):
        key = text.header_key(position)
        if key is None:
            gap += 1
            if gap > 1:
                break
            continue
        gap = 0
        keys.add(key)
    return len(keys) >= 2


def _next_content(lines: Sequence[str], index: int) -> int | None:
    for position in range(index, len(lines)):
        if lines[position].strip():
            return position
    return None


def _starts_on_next_line(text: _Text, index: int, end: int) -> bool:
    """Whether a wrapped attribution found at `index` really starts on the next line.

    Then this line is the reply's last line. Not when this line holds the
    address and the next does not: that is an attribution wrapped before its
    verb ("Support <s@x> 于2026年11月21日周六" / "10:00写道：").
    """
    if end == index or _DATED_OPENER.match(text.lines[index].strip().lstrip("> ")):
        return False
    if "@" in text.lines[index] and "@" not in text.lines[index + 1]:
        return False
    return _attribution_end(text, index + 1) is not None


def _scan(text: _Text) -> tuple[int, set[int]]:
    """Where the quoted history starts, and the quoted lines above it."""
    lines = text.lines
    dropped: set[int] = set()
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if _is_quoted(line):
            dropped.add(index)
            index += 1
            continue
        if not stripped or len(line) > _MAX_LINE:
            index += 1
            continue
        if _SEPARATOR.match(stripped) or _is_header_block(text, index):
            return index, dropped
        end = _attribution_end(text, index)
        if end is not None and _starts_on_next_line(text, index, end):
            end = None
        if end is not None:
            following = _next_content(lines, end + 1)
            if following is None or not _is_quoted(lines[following]):
                return index, dropped
            dropped.update(range(index, end + 1))
            index = end + 1
            continue
        index += 1
    return len(lines), dropped


def _signature_start(lines: Sequence[str], cut: int, dropped: set[int]) -> int:
    """The first signature separator or mobile footer above `cut`, or `cut`."""
    content = [index for index in range(cut) if index not in dropped and lines[index].strip()]
    for position, index in enumerate(content):
        stripped = lines[index].strip()
        if _SIGNATURE.match(lines[index].rstrip("\n")) or stripped == "--":
            return index
        if len(stripped) <= 160 and len(content) - position <= _FOOTER_TAIL and _FOOTER.match(stripped):
            return index
    return cut


def _assemble(lines: Sequence[str], cut: int, dropped: set[int]) -> str:
    kept: list[str] = []
    for index in range(cut):
        if index in dropped:
            continue
        line = lines[index].rstrip()
        if not line and kept and not kept[-1]:
            continue
        kept.append(line)
    while kept and (not kept[-1] or _RULE.match(kept[-1])):
        kept.pop()
    while kept and not kept[0]:
        kept.pop(0)
    return "\n".join(kept)


def extract_reply(text: str, *, keep_signature: bool = False) -> str:
    """The new text of a reply; never empty when the input has text, never raises.

    `keep_signature` keeps signatures and mobile footers and removes only
    quoted history (what some reply parsers, e.g. talon, call the reply).
    When stripping would leave nothing, the whole text is returned
    stripped: losing a reply is worse than keeping its quote.
    """
    if not text:
        return ""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = normalised.split("\n")
    try:
        cut, dropped = _scan(_Text(lines))
        if not keep_signature:
            cut = _signature_start(lines, cut, dropped)
        reply = _assemble(lines, cut, dropped)
    except Exception:  # a comment with its quote beats a lost comment
        reply = ""
    return reply if reply.strip() else normalised.strip()
