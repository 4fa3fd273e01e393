"""HTML mail body to readable plain text.

Owns the conversion used when a message has no text/plain part. The text
becomes a case comment and is quoted in notifications, so it must read
like a person wrote it: no markdown link or emphasis noise, no wrapping,
no images, no style sheets or scripts. Quoted history in <blockquote>
comes out as "> " lines, which is what quote stripping looks for.
"""

from __future__ import annotations

import re

import html2text

# html2text is a pure-Python tokenizer; beyond this size the conversion
# would dominate a worker's time, and the raw HTML is kept anyway.
MAX_HTML_CHARS = 2 * 1024 * 1024

_DROPPED_ELEMENTS = ("style", "script", "head", "title")
# Only from the start of a run of blanks (the lookbehind), taken possessively:
# otherwise each position inside a long run not at a line's end rescanned the
# rest of it, quadratic in the run. The same runs are removed.
_TRAILING_SPACE = re.compile(r"(?<![ \t\u00a0])[ \t\u00a0]++$", re.MULTILINE)
_MANY_BLANK_LINES = re.compile(r"\n{3,}")
_TAG = re.compile(r"<[^<>]{0,2000}>")


class _PlainText(html2text.HTML2Text):
    """html2text without its markdown escaping (`1\\.`, `\\-`), which reads as noise in mail."""

    def handle_data(self, data: str, entity_char: bool = False) -> None:
        super().handle_data(data, entity_char=True)

    def handle_tag(self, tag: str, attrs: dict[str, str | None], start: bool) -> None:
        super().handle_tag(tag, attrs, start)
        # With tables ignored html2text runs cells together ("ab"); a space
        # after each cell keeps the words apart, and trailing spaces are trimmed.
        if not start and tag in ("td", "th"):
            self.o(" ")


def _converter() -> _PlainText:
    converter = _PlainText(bodywidth=0)
    converter.ignore_links = True
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True
    converter.ignore_mailto_links = True
    converter.unicode_snob = True
    converter.single_line_break = False
    converter.mark_code = False
    return converter


def drop_elements(html: str, names: tuple[str, ...] = _DROPPED_ELEMENTS) -> str:
    """Remove whole elements by name in linear time.

    A regex with a lazy body and a back-reference is quadratic on HTML
    with many unclosed tags; plain `find` calls are not.
    """
    lowered = html.lower()
    if not any(f"<{name}" in lowered for name in names):
        return html
    pieces: list[str] = []
    pos = 0
    length = len(html)
    while pos < length:
        start, name = _next_open(lowered, pos, names)
        if start < 0:
            break
        pieces.append(html[pos:start])
        close = lowered.find(f"</{name}", start)
        if close < 0:
            pos = length
            break
        end = lowered.find(">", close)
        pos = length if end < 0 else end + 1
    pieces.append(html[pos:])
    return "".join(pieces)


def _next_open(lowered: str, pos: int, names: tuple[str, ...]) -> tuple[int, str]:
    best, best_name = -1, ""
    for name in names:
        index = lowered.find(f"<{name}", pos)
        while index >= 0:
            after = lowered[index + len(name) + 1 : index + len(name) + 2]
            if after in (">", " ", "\t", "\n", "\r", "/", ""):
                break
            index = lowered.find(f"<{name}", index + 1)
        if index >= 0 and (best < 0 or index < best):
            best, best_name = index, name
    return best, best_name


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = _TRAILING_SPACE.sub("", text)
    return _MANY_BLANK_LINES.sub("\n\n", text).strip("\n")


def html_to_text(html: str) -> str:
    """Readable text of an HTML body; never raises.

    Oversized or unparseable HTML falls back to the markup with its tags
    removed, which loses layout but never the words.
    """
    if not html:
        return ""
    cleaned = drop_elements(html)
    if len(cleaned) > MAX_HTML_CHARS:
        return _tidy(_TAG.sub(" ", cleaned))
    try:
        converter = _converter()
        text = converter.handle(cleaned)
    except Exception:  # hostile HTML must degrade, not stop the message
        return _tidy(_TAG.sub(" ", cleaned))
    return _tidy(text)
