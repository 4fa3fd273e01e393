"""The `maild` program (the console script and `python -m maild`): which code a command runs.

`maild deliver` runs once per message from an MTA's pipe transport, so it
must not pay for the command line's imports (SQLAlchemy and the rest, over
half a second of CPU): it goes to maild.daemon.deliver, which imports them
only when it records the message itself. Every other command goes to
maild.cli, whose grammar lists `deliver` too (`maild --help`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

# Global options that take a value (maild.cli.parser): their value is not the command.
_VALUED = ("--config",)


def command_of(argv: Sequence[str]) -> str | None:
    """The command word of `argv` (the first argument that is neither an option nor its value)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in _VALUED:
            skip = True
            continue
        if arg.startswith("-"):
            continue
        return arg
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if command_of(args) == "deliver":
        from maild.daemon.deliver import main as deliver

        return deliver(args)
    from maild.cli import main as cli

    return cli(args)
