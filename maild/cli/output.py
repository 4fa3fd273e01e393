"""How the command line writes: JSON for scripts, one-sentence errors for people.

Both go through `safetext`, so nothing stored from mail reaches a terminal
with a raw control character, and no password reaches stderr (SPEC §8).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TypeVar

from maild.safetext import json_safe, redact, visible_text

__all__ = ["print_error", "print_json", "print_listing"]

_Row = TypeVar("_Row")


def print_json(data: object) -> None:
    """Exact data, but no control character raw: C1 and bidi controls as \\uXXXX too."""
    print(json_safe(json.dumps(data, ensure_ascii=False, indent=2)))


def print_listing(
    rows: list[_Row], as_json: bool, row_json: Callable[[_Row], object], table: Callable[[list[_Row]], str]
) -> None:
    """A `list` command's answer: a JSON array of its rows for scripts, else a table for people."""
    if as_json:
        print_json([row_json(r) for r in rows])
    else:
        print(table(rows))


def print_error(text: str) -> None:
    """An error on stderr: passwords masked, control characters visible (SPEC §8)."""
    print(f"maild: {visible_text(redact(text))}", file=sys.stderr)
