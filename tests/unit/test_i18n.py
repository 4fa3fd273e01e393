"""Language data: every table complete in every language, and the fallbacks of every lookup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from maild.outbound import i18n


@pytest.mark.parametrize(
    ("wanted", "default", "expected"),
    [
        ("ja", "en", "ja"),
        ("ja-JP", "en", "ja"),
        ("sv", "ja", "ja"),  # a language maild has no table for
        ("sv", "xx", "en"),
        (None, "ja", "ja"),
        ("  EN ", "ja", "en"),
        ("_", "ja", "ja"),
    ],
)
def test_pick_language(wanted: str | None, default: str, expected: str) -> None:
    assert i18n.pick_language(wanted, default) == expected


def test_pick_language_respects_available() -> None:
    assert i18n.pick_language("de", "en", available=("en", "de")) == "de"
    assert i18n.pick_language("ja", "de", available=("de",)) == "de"


def test_language_tables_are_complete() -> None:
    assert i18n.supported_languages()[0] == "en" and "ja" in i18n.supported_languages()
    assert i18n.SEVERITY_NAMES["ja"] == {1: "重大", 2: "緊急", 3: "高", 4: "中"}
    for table in (
        i18n.STATUS_NAMES,
        i18n.FIELD_LABELS,
        i18n.ROLE_NAMES,
        i18n.ESCALATION_REASONS,
        i18n.REJECTION_REASONS,
    ):
        assert set(table["en"]) == set(table["ja"])
    assert set(i18n.FIELD_LABELS["ja"]) == set(i18n.FIELD_ORDER)
    assert i18n.FIELD_LABELS["ja"]["impact_if_missed"] == "期限を超えた場合の影響"


def test_unknown_keys_degrade_to_readable_text() -> None:
    assert i18n.severity_name(9, "ja") == "9"
    assert i18n.status_name("on_hold", "ja") == "on_hold"
    assert i18n.field_label("browser_version", "en") == "Browser version"
    assert i18n.status_name("closed", "sv") == "Closed"  # a language maild has no table for
    assert i18n.rejection_reason_text("not_participant", "ja").startswith("ケース")
    assert i18n.rejection_reason_text("custom words", "ja") == "custom words"


def test_ordered_fields_known_first_and_empty_dropped() -> None:
    fields = {"zeta": "z", "username": "u", "occurred_at": "today", "workaround": "  "}
    assert i18n.ordered_fields(fields) == [("occurred_at", "today"), ("username", "u"), ("zeta", "z")]


@pytest.mark.parametrize(
    ("value", "en", "ja"),
    [
        (datetime(2026, 11, 21, 12, 0, tzinfo=UTC), "2026-11-21 12:00 UTC", "2026年11月21日 12:00 (UTC)"),
        (
            datetime(2026, 11, 21, 21, 0, tzinfo=timezone(timedelta(hours=9))),
            "2026-11-21 12:00 UTC",
            "2026年11月21日 12:00 (UTC)",
        ),
        (datetime(2026, 1, 2, 3, 4), "2026-01-02 03:04 UTC", "2026年1月2日 03:04 (UTC)"),
        ("2026-11-21T12:00:00Z", "2026-11-21 12:00 UTC", "2026年11月21日 12:00 (UTC)"),
        (None, "", ""),
    ],
)
def test_format_datetime(value: object, en: str, ja: str) -> None:
    assert i18n.format_datetime(value, "en") == en
    assert i18n.format_datetime(value, "ja") == ja


@pytest.mark.parametrize(
    ("size", "en", "ja"),
    [
        (1, "1 byte", "1 バイト"),
        (1023, "1023 bytes", "1023 バイト"),
        (1536, "1.5 KB", "1.5 KB"),
        (5 * 1024**2, "5.0 MB", "5.0 MB"),
        (3 * 1024**3, "3.0 GB", "3.0 GB"),
        (5 * 1024**5, "5120.0 TB", "5120.0 TB"),
    ],
)
def test_format_filesize(size: int, en: str, ja: str) -> None:
    assert i18n.format_filesize(size, "en") == en
    assert i18n.format_filesize(size, "ja") == ja
