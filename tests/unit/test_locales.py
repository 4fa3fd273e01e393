"""maild/locales: the languages maild speaks, as data, and what a language tag means (SPEC §12).

Every table must say everything English says (a missing word would fall
back to English in the middle of a Japanese notification), and every
language with a table must have a full set of templates.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maild.locales import FALLBACK_LANGUAGE, language_codes, locale, locales, normalize_language
from maild.outbound import i18n
from maild.vocab import Event

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("en", "en"),
        ("EN_us.UTF-8", "en"),
        ("ja-JP", "ja"),
        ("ja_JP.eucJP", "ja"),
        ("zh", "zh-CN"),
        ("zh-CN", "zh-CN"),
        ("zh_cn", "zh-CN"),
        ("zh-Hans", "zh-CN"),
        ("zh-SG", "zh-CN"),
        ("zh-TW", "zh-TW"),
        ("zh-HK", "zh-TW"),
        ("zh-Hant", "zh-TW"),
        ("zh-Hant-HK", "zh-TW"),
        ("pt", "pt-BR"),
        ("pt-br", "pt-BR"),
        ("ko-KR", "ko"),
        ("de-CH", "de"),
        (" fr ", "fr"),
    ],
)
def test_a_tag_names_one_language(tag: str, code: str) -> None:
    assert normalize_language(tag) == code


@pytest.mark.parametrize("tag", [None, "", "  ", "-", "1", "x", "日本語", "a" * 9])
def test_no_language_in_a_tag(tag: str | None) -> None:
    assert normalize_language(tag) is None


@given(st.text(max_size=200))
def test_any_text_gives_a_normalized_code_or_none(text: str) -> None:
    code = normalize_language(text)
    assert code is None or normalize_language(code) == code
    assert code is None or (code.isascii() and len(code) <= 8)


def test_english_first_and_every_code_normalized() -> None:
    codes = language_codes()
    assert codes[0] == FALLBACK_LANGUAGE and {"en", "ja"} <= set(codes)
    assert all(normalize_language(code) == code for code in codes)
    assert i18n.supported_languages() == codes


@pytest.mark.parametrize("code", sorted(locales()))
def test_every_table_says_everything_english_says(code: str) -> None:
    english, words = locale("en"), locale(code)
    for table in ("severity", "status", "field_labels", "roles", "escalation_reasons", "rejection_reasons"):
        missing = set(getattr(english, table)) - set(getattr(words, table))
        assert not missing, f"{code}.toml [{table}] lacks {sorted(missing)}"
        assert all(str(v).strip() for v in getattr(words, table).values()), (
            f"{code}.toml [{table}] has a blank"
        )
    assert words.helpdesk.strip() and words.name.strip()
    assert "{n}" in words.bytes_many


@pytest.mark.parametrize("code", sorted(locales()))
def test_every_language_has_every_template(code: str) -> None:
    folder = TEMPLATES / code
    for event in Event:
        for suffix in ("subject.txt", "txt", "html"):
            assert (folder / f"{event}.{suffix}").is_file(), f"templates/{code}/{event}.{suffix} is missing"


def test_the_formats_come_from_the_tables() -> None:
    assert i18n.format_filesize(1, "en") == "1 byte" and i18n.format_filesize(5, "en") == "5 bytes"
    assert i18n.format_filesize(5, "ja") == "5 バイト"
    assert i18n.format_filesize(2048, "ja") == "2.0 KB"
    assert i18n.format_filesize(2048, "de") == "2,0 KB"
    assert i18n.format_filesize(3 * 1024 * 1024, "fr") == "3,0 Mo"
    assert i18n.format_filesize(1536, "ru") == "1,5 КБ"
    moment = "2026-11-21T12:05:00Z"
    assert i18n.format_datetime(moment, "en") == "2026-11-21 12:05 UTC"
    assert i18n.format_datetime(moment, "ja") == "2026年11月21日 12:05 (UTC)"
    assert i18n.format_datetime(moment, "xx") == "2026-11-21 12:05 UTC", "an unknown language is English"
