"""Which team a new case goes to (SPEC §10): pure, over plain data.

A new case's team is, in this order: the team one of whose topic words
matches the topic the contact gave (case-insensitively: the whole topic
first, else a topic word or phrase found among its words, the earliest
wins), the team of the mailbox it arrived in, the designated-contacts
team for a designated contact, the default team; None with no teams.
The settings' [teams.*] and [routing] are turned into a `TeamRouting` by
the caller, so this module needs no configuration types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["TeamRouting", "choose_team", "topic_team"]


@dataclass(frozen=True, slots=True)
class TeamRouting:
    """topic word or phrase (lower case) -> team name; and the routing defaults.

    Built once per configuration (Settings.team_routing), not per message:
    the topics' word sequences are split here, at construction.
    """

    topics: Mapping[str, str] = field(default_factory=dict)
    default_team: str | None = None
    designated_contacts_team: str | None = None
    phrases: Mapping[tuple[str, ...], str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        phrases = {tuple(_words(key)): team for key, team in self.topics.items() if _words(key)}
        object.__setattr__(self, "phrases", phrases)


def _unspaced(ch: str) -> bool:
    """Kana, Han and Hangul: scripts written without spaces between words, so each character counts
    as a word of its own and "請求" is found in "請求書", "账单" in "账单问题", "결제" in "결제가"."""
    code = ord(ch)
    return (
        0x3040 <= code <= 0x30FF  # hiragana, katakana
        or 0x3400 <= code <= 0x9FFF  # CJK ideographs (and extension A)
        or 0xAC00 <= code <= 0xD7AF  # Hangul syllables
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0x20000 <= code <= 0x3FFFF  # ideograph extensions B and later
    )


def _words(text: str) -> list[str]:
    """Lower-case words: letters and digits, everything else separates (no regex); each kana, Han
    or Hangul character is a word of its own."""
    out: list[str] = []
    current: list[str] = []
    for ch in text.lower():
        if _unspaced(ch):
            if current:
                out.append("".join(current))
                current = []
            out.append(ch)
        elif ch.isalnum():
            current.append(ch)
        elif current:
            out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    return out


def topic_team(topic: str | None, routing: TeamRouting) -> str | None:
    """The team whose topic matches `topic`, or None."""
    if not topic or not routing.topics:
        return None
    whole = " ".join(topic.lower().split())
    if whole in routing.topics:
        return routing.topics[whole]
    words = _words(topic)[:50]
    phrases = routing.phrases
    longest = max((len(p) for p in phrases), default=0)
    for start in range(len(words)):
        for size in range(min(longest, len(words) - start), 0, -1):
            team = phrases.get(tuple(words[start : start + size]))
            if team is not None:
                return team
    return None


def choose_team(
    routing: TeamRouting, *, topic: str | None, mailbox_team: str | None, designated: bool
) -> str | None:
    """The team of a new case (see the module docstring for the order)."""
    return (
        topic_team(topic, routing)
        or mailbox_team
        or (routing.designated_contacts_team if designated else None)
        or routing.default_team
    )
