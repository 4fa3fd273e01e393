"""The teams of SPEC §10 as configured: `[teams.<name>]` and `[routing]`.

Owns what a team is in the configuration (its notification address, its
managers, the topic words that route a new case to it) and the routing
defaults, and checks that every name they point at exists: a
`default_team` or a mailbox's `team` that names no `[teams.*]` table is a
configuration error naming the key, not a case that silently goes nowhere.
With no `[teams.*]` at all, maild behaves as it did with one team.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from maild.configread import TomlTable, address_value, suggest
from maild.errors import ConfigError

__all__ = ["RoutingSettings", "TeamSettings", "check_team_name", "routing_section", "teams_section"]

# Team names appear in `#team NAME` lines, `--team NAME` and JSON: one word, no spaces.
_TEAM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_TOPIC_MAX = 100


@dataclass(frozen=True)
class TeamSettings:
    """One team: who gets its cases' copies, who hears of their escalations, which topics are its."""

    name: str
    address: str | None
    managers: tuple[str, ...]
    topics: tuple[str, ...]  # lower case, as matched


@dataclass(frozen=True)
class RoutingSettings:
    """Where a new case goes when its topic and mailbox name no team."""

    default_team: str | None = None
    designated_contacts_team: str | None = None


def teams_section(t: TomlTable) -> dict[str, TeamSettings]:
    """[teams.<name>] tables in file order; a topic word may belong to one team only."""
    teams: dict[str, TeamSettings] = {}
    owner_of_topic: dict[str, str] = {}
    for name in list(t.data):
        prefix = t.key(name)
        if not _TEAM_NAME.fullmatch(name):
            raise ConfigError(prefix, "is not a team name: letters, digits, '.', '_' or '-', no spaces")
        if name.lower() in {n.lower() for n in teams}:
            raise ConfigError(prefix, "differs from another team's name only in case")
        table = t.sub(name)
        address = table.optional_string("address")
        topics: list[str] = []
        for topic in table.typed("topics", list, []):
            if not isinstance(topic, str) or not topic.strip() or len(topic) > _TOPIC_MAX:
                what = f"must be a list of words (at most {_TOPIC_MAX} characters)"
                raise ConfigError(table.key("topics"), what)
            word = " ".join(topic.split()).lower()
            if word in owner_of_topic and owner_of_topic[word] != name:
                raise ConfigError(
                    table.key("topics"), f"{topic!r} is already a topic of [teams.{owner_of_topic[word]}]"
                )
            owner_of_topic[word] = name
            topics.append(word)
        teams[name] = TeamSettings(
            name=name,
            address=address_value(table.key("address"), address) if address else None,
            managers=table.addresses("managers"),
            topics=tuple(dict.fromkeys(topics)),
        )
        table.finish()
    t.finish()
    return teams


def routing_section(t: TomlTable, teams: Mapping[str, TeamSettings]) -> RoutingSettings:
    settings = RoutingSettings(
        default_team=_team_key(t, "default_team", teams),
        designated_contacts_team=_team_key(t, "designated_contacts_team", teams),
    )
    t.finish()
    return settings


def _team_key(t: TomlTable, key: str, teams: Mapping[str, TeamSettings]) -> str | None:
    name = t.optional_string(key)
    return None if name is None else check_team_name(t.key(key), name, teams)


def check_team_name(key: str, name: str, teams: Mapping[str, TeamSettings]) -> str:
    """`name` as configured (matched case-insensitively), or a ConfigError naming `key`."""
    for known in teams:
        if known.lower() == name.strip().lower():
            return known
    if not teams:
        raise ConfigError(key, f"names team {name!r}, but no [teams.<name>] table is configured")
    raise ConfigError(key, f"names team {name!r}, which is not configured", suggest(name, set(teams)))
