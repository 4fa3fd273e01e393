"""The generic TOML readers: every value kind refused with the dotted key, and the one address check."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest

from maild.configread import TomlTable, business_calendar, plain_address, read_toml, suggest, time_span
from maild.errors import ConfigError


def refused(call: object) -> ConfigError:
    assert callable(call)
    with pytest.raises(ConfigError) as info:
        call()
    return info.value


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Alice@Example.COM", "alice@example.com"),
        ("  bob@acme.example \n", "bob@acme.example"),
        ("a+b@x.y", "a+b@x.y"),
        ("Alice <alice@example.com>", None),
        ("alice@example.com, bob@example.com", None),
        ("alice", None),
        ("alice@-example.com", None),
        ("alice@example.com.", None),
        ("", None),
    ],
)
def test_plain_address_is_one_bare_address_lower_cased(typed: str, expected: str | None) -> None:
    assert plain_address(typed) == expected


def test_every_key_read_is_ticked_off_and_the_rest_is_unknown() -> None:
    table = TomlTable("support", {"name": "x", "adress": "y"})
    assert table.string("name") == "x"
    error = refused(table.finish)
    assert error.key == "support.adress" and error.problem == "unknown key"


def test_a_nested_table_names_its_full_dotted_key() -> None:
    root = TomlTable("", {"sla": {"plans": {"gold": 3}}})
    plans = root.sub("sla").sub("plans")
    error = refused(lambda: plans.sub("gold"))
    assert error.key == "sla.plans.gold" and error.problem == "must be a table"


def test_sizes_take_units_and_refuse_zero() -> None:
    table = TomlTable("support", {"a": "25MB", "b": " 512 kib ", "c": 10, "d": "0MB", "e": "25 furlongs"})
    assert table.size("a", "1") == 25 * 1024**2
    assert table.size("b", "1") == 512 * 1024
    assert table.size("c", "1") == 10
    assert table.size("absent", "2KB") == 2048
    assert refused(lambda: table.size("d", "1")).problem == "must be positive"
    assert refused(lambda: table.size("e", "1")).key == "support.e"


def test_a_long_size_is_refused_in_linear_time() -> None:
    table = TomlTable("support", {"big": "1" * 50_000 + " " * 50_000 + "x"})
    assert refused(lambda: table.size("big", "1")).key == "support.big"


def test_lowercase_names_strip_and_refuse_empty_entries() -> None:
    table = TomlTable("support", {"ids": ["MX.example.com ", "b"], "bad": ["x", " "]})
    assert table.lowercase_names("ids", "ids") == ("mx.example.com", "b")
    assert table.lowercase_names("absent", "ids") == ()
    assert refused(lambda: table.lowercase_names("bad", "ids")).problem == "must be a list of ids"


def test_secret_is_one_of_inline_file_or_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "secret").write_text("from-a-file\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    monkeypatch.setenv("MAILD_TEST_SECRET", "from-the-environment")
    assert TomlTable("t", {"s_file": "secret"}).secret("s", required=True) == "from-a-file"
    assert TomlTable("t", {"s_env": "MAILD_TEST_SECRET"}).secret("s", required=True) == "from-the-environment"
    assert TomlTable("t", {}).secret("s", required=False) is None
    both = TomlTable("t", {"s": "x", "s_env": "MAILD_TEST_SECRET"})
    assert refused(lambda: both.secret("s", required=True)).key == "t.s_env"
    assert refused(lambda: TomlTable("t", {}).secret("s", required=True)).key == "t.s"


def test_time_spans_and_a_calendar() -> None:
    assert time_span("k", "09:00-24:00") == (time(9), time(23, 59, 59))
    assert "ends before it starts" in refused(lambda: time_span("k", "17:00-09:00")).problem
    table = TomlTable("sla", {"timezone": "UTC", "hours": {"mon": "09:00-17:00"}, "holidays": ["2026-12-31"]})
    calendar = business_calendar(table)
    assert calendar is not None and calendar.holidays == frozenset({date(2026, 12, 31)})
    table.finish()
    assert business_calendar(TomlTable("sla", {})) is None
    no_zone = TomlTable("sla", {"hours": {"mon": "09:00-17:00"}})
    assert refused(lambda: business_calendar(no_zone)).key == "sla.timezone"


def test_suggest_names_the_closest_known_key() -> None:
    assert suggest("adress", {"address", "name"}) == "did you mean 'address'?"
    assert suggest("zzz", {"address"}) == ""


def test_read_toml_refuses_what_is_not_a_toml_file(tmp_path: Path) -> None:
    (tmp_path / "ok.toml").write_text('a = "b"\n', encoding="utf-8")
    assert read_toml(tmp_path / "ok.toml") == {"a": "b"}
    (tmp_path / "bad.toml").write_text("a = [\n", encoding="utf-8")
    assert "is not valid TOML" in str(refused(lambda: read_toml(tmp_path / "bad.toml")))
    assert "does not exist" in str(refused(lambda: read_toml(tmp_path / "missing.toml")))
