"""[teams.<name>], [routing] and a mailbox's team (SPEC §10): errors name the dotted key."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from maild.config import ConfigErrors, parse_settings
from maild.errors import ConfigError
from tests.unit.test_config import BASE, cfg, error_key

TEAMS: dict[str, Any] = {
    "tier1": {"address": "tier1@example.com", "managers": ["lead1@example.com"]},
    "Apex": {
        "address": "apex@example.com",
        "managers": ["apex-lead@example.com", "cto@example.com"],
        "topics": ["Apex", "  Apex   Triggers ", "apex"],
    },
    "tier2": {"topics": ["Sales Cloud", "請求"]},
}


def teams(**changes: Any) -> dict[str, Any]:
    return cfg(teams=TEAMS, **changes)


def error(data: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_settings(data)
    return info.value


# ------------------------------------------------------------------ teams


def test_no_teams_is_one_team_as_before() -> None:
    s = parse_settings(cfg())
    assert dict(s.teams) == {}
    assert s.routing.default_team is None and s.routing.designated_contacts_team is None
    assert s.team("tier1") is None and s.team(None) is None
    assert s.mailbox is not None and s.mailbox.team is None
    assert s.mailbox_team(s.mailbox.name) is None


def test_teams_as_configured_in_file_order() -> None:
    s = parse_settings(teams())
    assert list(s.teams) == ["tier1", "Apex", "tier2"]
    apex = s.teams["Apex"]
    assert apex.name == "Apex"
    assert apex.address == "apex@example.com"
    assert apex.managers == ("apex-lead@example.com", "cto@example.com")
    assert apex.topics == ("apex", "apex triggers")  # lower case, whitespace folded, once each
    assert s.teams["tier2"].address is None and s.teams["tier2"].managers == ()
    assert s.teams["tier2"].topics == ("sales cloud", "請求")
    assert s.teams["tier1"].topics == ()


def test_a_team_may_be_an_empty_table() -> None:
    s = parse_settings(cfg(teams={"solo": {}}))
    assert s.teams["solo"].address is None and s.teams["solo"].topics == ()


def test_empty_address_means_none() -> None:
    s = parse_settings(cfg(teams={"a": {"address": ""}}))
    assert s.teams["a"].address is None


def test_team_lookup_ignores_case() -> None:
    s = parse_settings(teams())
    assert s.team("Apex") is s.teams["Apex"]
    assert s.team("APEX") is s.teams["Apex"]
    assert s.team("apex") is s.teams["Apex"]
    assert s.team("nobody") is None
    assert s.team("") is None


def test_from_toml() -> None:
    text = """
[teams.apex]
address = "apex@example.com"
managers = ["apex-lead@example.com"]
topics = ["Apex", "Apex triggers"]

[teams."tier-2"]
topics = ["Billing"]

[routing]
default_team = "apex"
designated_contacts_team = "tier-2"
"""
    data = {**BASE, **tomllib.loads(text)}
    s = parse_settings(data)
    assert list(s.teams) == ["apex", "tier-2"]
    assert s.routing.default_team == "apex" and s.routing.designated_contacts_team == "tier-2"


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("tier1", True),
        ("tier-2", True),
        ("apex_dev", True),
        ("jp.billing", True),
        ("A", True),
        ("x" * 63, True),
        ("x" * 64, False),
        ("tier 2", False),
        ("-apex", False),
        (".apex", False),
        ("apex!", False),
        ("チーム", False),
        ("", False),
        ("a\tb", False),
    ],
)
def test_team_names(name: str, ok: bool) -> None:
    data = cfg(teams={name: {}})
    if ok:
        assert name in parse_settings(data).teams
    else:
        e = error(data)
        assert e.key == f"teams.{name}" and "team name" in str(e)


def test_team_names_differing_only_in_case() -> None:
    e = error(cfg(teams={"apex": {}, "APEX": {}}))
    assert e.key == "teams.APEX" and "case" in str(e)


def test_unknown_key_in_a_team_table() -> None:
    e = error(cfg(teams={"apex": {"adress": "apex@example.com"}}))
    assert e.key == "teams.apex.adress" and "address" in str(e)  # with a suggestion


@pytest.mark.parametrize(
    ("team", "key"),
    [
        ({"address": "not an address"}, "teams.apex.address"),
        ({"address": 5}, "teams.apex.address"),
        ({"managers": "lead@example.com"}, "teams.apex.managers"),
        ({"managers": ["lead@example.com", "nope"]}, "teams.apex.managers[1]"),
        ({"managers": [1]}, "teams.apex.managers"),
        ({"topics": "apex"}, "teams.apex.topics"),
        ({"topics": [1]}, "teams.apex.topics"),
        ({"topics": ["  "]}, "teams.apex.topics"),
        ({"topics": [""]}, "teams.apex.topics"),
        ({"topics": ["x" * 101]}, "teams.apex.topics"),
    ],
)
def test_bad_team_values_name_the_key(team: dict[str, Any], key: str) -> None:
    assert error_key(cfg(teams={"apex": team})) == key


def test_a_team_that_is_not_a_table() -> None:
    assert error_key(cfg(teams={"apex": "apex@example.com"})) == "teams.apex"
    assert error_key(cfg(teams="apex")) == "teams"


def test_a_topic_in_two_teams() -> None:
    e = error(cfg(teams={"a": {"topics": ["Apex"]}, "b": {"topics": ["flow", " APEX "]}}))
    assert e.key == "teams.b.topics"
    assert "[teams.a]" in str(e) and "APEX" in str(e)


def test_a_topic_twice_in_one_team_is_kept_once() -> None:
    s = parse_settings(cfg(teams={"a": {"topics": ["Apex", "apex", "APEX "]}}))
    assert s.teams["a"].topics == ("apex",)


def test_a_phrase_and_its_word_may_belong_to_different_teams() -> None:
    s = parse_settings(cfg(teams={"a": {"topics": ["apex"]}, "b": {"topics": ["apex triggers"]}}))
    assert s.teams["b"].topics == ("apex triggers",)


# ------------------------------------------------------------------ routing


def test_routing_names_teams_in_any_case_and_keeps_the_configured_spelling() -> None:
    s = parse_settings(teams(routing={"default_team": "TIER1", "designated_contacts_team": " apex "}))
    assert s.routing.default_team == "tier1"
    assert s.routing.designated_contacts_team == "Apex"


def test_routing_empty_strings_mean_unset() -> None:
    s = parse_settings(teams(routing={"default_team": "", "designated_contacts_team": ""}))
    assert s.routing.default_team is None and s.routing.designated_contacts_team is None


@pytest.mark.parametrize("key", ["default_team", "designated_contacts_team"])
def test_routing_naming_an_unknown_team(key: str) -> None:
    e = error(teams(routing={key: "tier3"}))
    assert e.key == f"routing.{key}" and "tier3" in str(e)
    assert "did you mean" in str(e)


def test_routing_naming_a_team_with_no_teams_configured() -> None:
    e = error(cfg(routing={"default_team": "tier1"}))
    assert e.key == "routing.default_team" and "[teams.<name>]" in str(e)


def test_routing_bad_values() -> None:
    assert error_key(teams(routing={"default_team": 1})) == "routing.default_team"
    assert error_key(teams(routing={"default_tem": "tier1"})) == "routing.default_tem"
    assert error_key(teams(routing="tier1")) == "routing"


def test_a_misspelt_section_is_unknown() -> None:
    e = error(cfg(team={"apex": {}}))
    assert e.key == "team" and "teams" in str(e)


# ------------------------------------------------------------------ mailboxes


def test_mailbox_team() -> None:
    s = parse_settings(teams(mailbox__team="APEX"))
    assert s.mailbox is not None and s.mailbox.team == "APEX"
    assert s.mailbox_team(s.mailbox.name) == "Apex"  # as configured in [teams.*]
    assert s.mailbox_team("imap://nobody@127.0.0.1:10143/INBOX") is None


def test_mailbox_team_naming_an_unknown_team() -> None:
    assert error_key(teams(mailbox__team="tier3")) == "mailbox.team"
    assert error_key(cfg(mailbox__team="tier1")) == "mailbox.team"
    assert error_key(teams(mailbox__team=3)) == "mailbox.team"


def test_extra_mailboxes_have_their_own_team_not_mailboxs() -> None:
    data = teams(
        mailbox__team="tier1",
        mailboxes={"jp": {"username": "jp", "team": "tier2"}, "apex": {"username": "apex"}},
    )
    s = parse_settings(data)
    first, jp, apex = s.mailboxes
    assert (first.team, jp.team, apex.team) == ("tier1", "tier2", None)
    assert s.mailbox_team(first.name) == "tier1"
    assert s.mailbox_team(jp.name) == "tier2"
    assert s.mailbox_team(apex.name) is None  # routes by topic and the defaults


def test_extra_mailbox_team_naming_an_unknown_team() -> None:
    data = teams(mailboxes={"jp": {"username": "jp", "team": "nihon"}})
    assert error_key(data) == "mailboxes.jp.team"


def test_every_team_problem_is_reported_at_once() -> None:
    data = teams(
        routing={"default_team": "nobody"},
        mailbox__team="nobody",
        mailboxes={"jp": {"username": "jp", "team": "nobody"}},
    )
    with pytest.raises(ConfigErrors) as info:
        parse_settings(data)
    keys = [p.key for p in info.value.problems]
    assert keys == ["routing.default_team", "mailbox.team", "mailboxes.jp.team"]
    assert info.value.key == "routing.default_team"


def test_a_bad_team_table_and_routing_are_both_reported() -> None:
    data = cfg(teams={"tier 1": {}}, routing={"default_team": "tier1"})
    with pytest.raises(ConfigErrors) as info:
        parse_settings(data)
    assert [p.key for p in info.value.problems] == ["teams.tier 1", "routing.default_team"]
