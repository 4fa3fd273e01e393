"""The shortcuts of issue 19 say exactly what the plain versions said.

Rendering and building a notification were made cheaper by replacing
per-character loops (one_line, RFC 2047 words, Message-IDs, header folding,
base64 bodies) and by two Jinja shortcuts (dict lookups, plain globals).
Each is compared here with the straightforward version it replaced, over
generated input, so a later "optimisation" cannot change a byte either.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from pathlib import Path
from typing import Any

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maild.outbound import message
from maild.outbound.compose import Composer, _make_environment, one_line
from maild.outbound.message import make_message_id

_SPACES = re.compile(r"\s+")
TRICKY = "ab =?\t\r\n\x00\x1f\x7f\x85\x9f\u2028\u2029\u3000\xa0é日😀\u200b\x1c\x0b\ud800."


def reference_one_line(value: str) -> str:
    cleaned = "".join(
        " " if unicodedata.category(ch) in {"Cc", "Zl", "Zp"} or ch in "\x85" else ch for ch in value
    )
    return _SPACES.sub(" ", cleaned).strip()


def reference_encoded_words(text: str) -> list[str]:
    chunks: list[bytes] = []
    chunk = b""
    for char in text:
        data = char.encode("utf-8", "replace")
        if chunk and len(chunk) + len(data) > 42:
            chunks.append(chunk)
            chunk = b""
        chunk += data
    if chunk:
        chunks.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(part).decode('ascii')}?=" for part in chunks]


def reference_fold(name: str, value: str) -> str:
    line = f"{name}: "
    lines: list[str] = []
    for word in value.split(" "):
        if len(line) + len(word) > 77 and line.strip() and not line.endswith(": "):
            lines.append(line.rstrip(" "))
            line = " "
        line += word + " "
    lines.append(line.rstrip(" "))
    return "\r\n".join(lines)


def reference_body(text: str, subtype: str) -> bytes:
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


def reference_message_id(host: str, unique: str) -> str:
    parts: list[str] = []
    for index, ch in enumerate(unique):
        dot_ok = ch == "." and 0 < index < len(unique) - 1 and unique[index - 1] != "."
        if ch in message._ID_SAFE and (ch != "." or dot_ok):
            parts.append(ch)
        else:
            parts.extend(f"={byte:02X}" for byte in ch.encode("utf-8", "surrogatepass"))
    left = "".join(parts)
    if len(left) > message._MAX_ID_LEFT:
        digest = hashlib.sha256(unique.encode("utf-8", "surrogatepass")).hexdigest()
        left = f"{left[: message._MAX_ID_LEFT - 66]}=H{digest}"
    return f"<{left}@{host}>"


tricky_text = st.text(alphabet=st.sampled_from(TRICKY), max_size=120) | st.text(max_size=120)


@settings(max_examples=400, deadline=None)
@given(tricky_text)
def test_one_line_is_the_per_character_definition(value: str) -> None:
    assert one_line(value) == reference_one_line(value)


def test_one_line_treats_every_code_point_as_the_definition_does() -> None:
    every = "".join(chr(c) for c in range(0x3000)) + "\u2028x\u2029y\U0001f600"
    assert one_line(every) == reference_one_line(every)


@settings(max_examples=400, deadline=None)
@given(tricky_text)
def test_encoded_words_split_where_the_character_loop_did(text: str) -> None:
    words = message._encoded_words(text)
    assert words == reference_encoded_words(text)
    assert all(len(word) <= 75 for word in words)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["To", "Subject", "References", "X-Maild-Event", "X-A-Rather-Long-Header-Name"]),
    st.text(alphabet=st.sampled_from("ab  c<>@."), max_size=200),
)
def test_folding_is_unchanged(name: str, value: str) -> None:
    assert message._fold_ascii(name, value) == reference_fold(name, value)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab\n\r日x "), max_size=3000) | st.text(max_size=400))
def test_body_parts_are_unchanged(text: str) -> None:
    for subtype in ("plain", "html"):
        assert message._body_part(text, subtype) == reference_body(text, subtype)


@pytest.mark.parametrize("text", ["", "a" * 900, "a" * 901, "a\n" * 500, "x" * 899 + "\n" + "y" * 901])
def test_body_parts_at_the_line_limit(text: str) -> None:
    assert message._body_part(text, "plain") == reference_body(text, "plain")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZ09-_+.=@ é"), min_size=1, max_size=200) | st.text(min_size=1))
def test_message_ids_escape_as_the_character_loop_did(unique: str) -> None:
    assert make_message_id("Example.COM.", unique) == reference_message_id("example.com", unique)


def test_a_refused_domain_is_refused_every_time() -> None:
    for _ in range(2):  # the host check is cached; a refusal must not be
        with pytest.raises(ValueError):
            make_message_id("bad domain", "x")


def test_cached_address_values_still_refuse_bad_addresses() -> None:
    for _ in range(2):
        with pytest.raises(ValueError):
            message._address_value("a@b.example, c@d.example", "Name", "to")
    assert message._address_value("a@b.example", "Ann", "to") == "Ann <a@b.example>"


# ---------------------------------------------------------------------------- Jinja shortcuts

EXPRESSIONS = [
    "{{ d.x }}",
    "{{ d.missing }}|{{ d.missing.deeper }}",
    "{{ d.items is callable }}",  # a dict attribute still wins over a key of the same name
    "{{ d.get is callable }}|{{ d['get'] }}",
    "{{ d.nested.y }}",
    "{{ d.none }}",
    "{{ o.real }}",
    "{{ lang }}|{{ default_helpdesk|length > 0 }}",
    "{% for k, v in d.pairs.items() %}{{ k }}={{ v }};{% endfor %}",
]


@pytest.mark.parametrize("source", EXPRESSIONS)
@pytest.mark.parametrize("strict", [False, True])
def test_environment_lookups_match_stock_jinja(source: str, strict: bool) -> None:
    ours = _make_environment([Path("/nonexistent")], "en", strict)
    stock = jinja2.Environment(
        undefined=ours.undefined, finalize=ours.finalize, trim_blocks=True, lstrip_blocks=True
    )
    stock.filters.update(ours.filters)
    stock.tests.update(ours.tests)
    stock.globals.update({k: ours.globals[k] for k in ("lang", "default_helpdesk")})
    values: dict[str, Any] = {
        "d": {"x": 1, "items": "key", "get": "key", "nested": {"y": "z"}, "none": None, "pairs": {"a": 1}},
        "o": 3,
    }

    def render(env: jinja2.Environment) -> str:
        try:
            return env.from_string(source).render(values)
        except jinja2.UndefinedError as exc:
            return f"UndefinedError: {exc}"

    assert render(ours) == render(stock)


def test_templates_see_the_language_globals() -> None:
    composer = Composer([], "en")
    env = composer._environment("ja")
    template = env.from_string("{{ lang }}")
    assert template.render() == "ja"
    assert isinstance(template.globals, dict)
