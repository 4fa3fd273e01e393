"""Reply commands: the `#…` lines at the top of a reply (SPEC §3 and §10).

Owns the grammar of commands, whoever may use them (that is
maild.policy.commands'): a run of command lines at the very top of the
reply, blank lines allowed between them, each alone on its line —
`#close`, `#escalate`, `#note`, `#waiting`, and `#assign me|EMAIL`,
`#team NAME`, `#severity N` with one word after the name. The first line
that is not a command ends the run, so a `#word` further down, inside a
sentence or quoted (`> #close`) is text. Case does not matter, and the
full-width `＃` and digits of Japanese input methods are accepted. A known
name with a wrong or missing word (`#severity high`) is still a command, so
that its author is told why it did nothing instead of seeing it posted.

Pure functions of text: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["CommandName", "ReplyCommand", "ReplyCommands", "read_commands"]

CommandName = Literal["close", "escalate", "note", "waiting", "assign", "team", "severity"]

_NO_ARGUMENT: frozenset[str] = frozenset({"close", "escalate", "note", "waiting"})
_ONE_ARGUMENT: frozenset[str] = frozenset({"assign", "team", "severity"})
_INVISIBLE = "\ufeff\u200b\u200c\u200d\u2060"
_FULLWIDTH = str.maketrans("＃０１２３４５６７８９＠．", "#0123456789@.")
MAX_COMMANDS = 10  # command lines read from one reply; the rest of the run is text
MAX_LINE = 200  # a longer line is never a command


@dataclass(frozen=True, slots=True)
class ReplyCommand:
    """One command line: its name, the word after it ("" when none) and the line as written."""

    name: CommandName
    argument: str
    line: str


@dataclass(frozen=True, slots=True)
class ReplyCommands:
    """The commands at the top of a reply and the text after them."""

    commands: tuple[ReplyCommand, ...]
    body: str

    @property
    def names(self) -> tuple[CommandName, ...]:
        return tuple(c.name for c in self.commands)

    @property
    def internal(self) -> bool:
        """`#note` among them: the text is an internal note."""
        return "note" in self.names


def read_commands(text: str) -> ReplyCommands:
    """The run of command lines at the top of `text`, and the text after it (unchanged if none)."""
    lines = text.splitlines(keepends=True)
    found: list[ReplyCommand] = []
    index = 0
    end = 0  # the index after the last command line
    while index < len(lines) and len(found) < MAX_COMMANDS:
        visible = lines[index].strip().strip(_INVISIBLE).strip()
        if not visible:
            index += 1
            continue
        command = _command(visible)
        if command is None:
            break
        found.append(command)
        index += 1
        end = index
    if not found:
        return ReplyCommands((), text)
    rest = lines[end:]
    while rest and not rest[0].strip():
        rest.pop(0)
    return ReplyCommands(tuple(found), "".join(rest))


def _command(line: str) -> ReplyCommand | None:
    if len(line) > MAX_LINE or line[:1] not in ("#", "＃"):
        return None
    words = line[1:].translate(_FULLWIDTH).split()
    if not words:
        return None
    name = words[0].lower()
    if name in _NO_ARGUMENT and len(words) == 1:
        return ReplyCommand(name, "", line)  # type: ignore[arg-type]
    if name in _ONE_ARGUMENT and len(words) <= 2:
        return ReplyCommand(name, words[1] if len(words) == 2 else "", line)  # type: ignore[arg-type]
    return None
