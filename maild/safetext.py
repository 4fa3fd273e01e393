"""Text that is safe to show: control characters made visible, secrets redacted.

Mail is written by strangers, and what maild prints (the CLI, its logs) goes
to a terminal or a log viewer. A raw ESC or C1 CSI in a subject can clear the
screen, rewrite earlier lines or set the window title; a bidi override makes
text read differently from what it is. So every character of that kind is
shown as an escape (`\\x1b`, `\\u202e`), never written raw (SPEC §8).

Secrets never appear in errors or logs: a URL's user-info password and a
`password=` in a libpq connection string become `***`.

Pure: no I/O, every function runs in linear time (a translation table, and
regular expressions without nested repetition).
"""

from __future__ import annotations

import re

# Code points that must never reach a terminal raw. All of them are
# "not printable" to Python, which gives a fast path for ordinary text.
_C0 = range(0x00, 0x20)
_C1 = range(0x7F, 0xA0)  # DEL and C1 (0x9b is CSI, a one-byte ESC [)
_INVISIBLE = (
    0x061C,  # Arabic letter mark
    0x200E,  # left-to-right mark
    0x200F,  # right-to-left mark
    0x2028,  # line separator
    0x2029,  # paragraph separator
    *range(0x202A, 0x202F),  # bidi embeddings and overrides (U+202E reverses text)
    *range(0x2066, 0x206A),  # bidi isolates
    0xFEFF,  # zero-width no-break space / byte-order mark
    *range(0xFFF9, 0xFFFC),  # interlinear annotation controls
)
_SURROGATES = range(0xD800, 0xE000)  # lone ones cannot even be encoded for output

_NAMED = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}


def _escape(code: int) -> str:
    if code in _NAMED:
        return _NAMED[code]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_UNSAFE: tuple[int, ...] = (*_C0, *_C1, *_INVISIBLE, *_SURROGATES)
_LINE_TABLE = {code: _escape(code) for code in _UNSAFE}
_TEXT_TABLE = {code: esc for code, esc in _LINE_TABLE.items() if code not in (0x09, 0x0A)}
# Inside a JSON string: C0 is already escaped by json.dumps; the rest must be \uXXXX
# so that the document still parses to exactly the same text.
_JSON_TABLE = {code: f"\\u{code:04x}" for code in _UNSAFE if code >= 0x7F}


def visible(text: str) -> str:
    """One line of display text: every control character escaped, newlines and tabs too.

    For fields that belong on one line: subjects, names, addresses, reasons,
    table cells, error messages.
    """
    if text.isprintable():
        return text
    return text.translate(_LINE_TABLE)


def visible_text(text: str) -> str:
    """Multi-line display text (a comment body): as `visible`, but newlines and tabs stay."""
    if text.isprintable():
        return text
    return text.translate(_TEXT_TABLE)


def json_safe(document: str) -> str:
    """JSON text from `json.dumps(..., ensure_ascii=False)` with no raw control character left.

    json.dumps escapes C0 itself but writes DEL, C1, bidi controls and lone
    surrogates raw; they only ever occur inside string literals, where
    `\\uXXXX` is valid and decodes to the same character, so the document
    parses to exactly the same data.
    """
    return document.translate(_JSON_TABLE)


# ---------------------------------------------------------------- secrets

# scheme://user:password@host: the password runs to the last "@" before a space,
# so a password with an unescaped "@" is hidden whole (at worst a little more
# than the password is). Bounded classes, no nesting: linear.
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s/:@]{0,256}:)\S{1,1024}@")
# libpq keyword/value form (password=secret or password='sec ret').
_CONNINFO_PASSWORD = re.compile(
    r"(\bpassword\s{0,8}=\s{0,8})('(?:[^'\\]|\\.){0,1024}'?|[^\s']{1,1024})", re.I
)
REDACTED = "***"


def redact_url(url: str) -> str:
    """The URL with the password of its user-info replaced by `***`.

    `postgresql+psycopg://maild:s3cret@db/maild` → `postgresql+psycopg://maild:***@db/maild`;
    a URL without a password is returned unchanged.
    """
    return _URL_PASSWORD.sub(rf"\g<1>{REDACTED}@", url)


def redact(text: str) -> str:
    """Free text (an error message, a log line) with URL and connection-string passwords masked."""
    if "://" not in text and "=" not in text:
        return text
    text = _URL_PASSWORD.sub(rf"\g<1>{REDACTED}@", text)
    return _CONNINFO_PASSWORD.sub(rf"\g<1>{REDACTED}", text)


def shown(text: str) -> str:
    """An error or log message ready to print: secrets redacted, controls visible, one line."""
    return visible(redact(text))
