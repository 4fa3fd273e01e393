"""The worst generated input of every regular expression in maild, and its CPU time.

Runs each pattern (module.NAME, module.NAME[i] for a tuple, module:LINE for a
literal inside a function) with search, match and findall on the adversarial
inputs of tests/fixtures/adversarial.py (the thorough set: every ending of
every run, more fragments and prefixes than the unit test uses), at the size
maild applies the pattern to (200 KB unless the code caps it lower), and
prints one line per pattern, worst first. Then the same for whole hostile
messages through the pure pipeline (parse, rules, intake, quotes).

    .venv/bin/python bench/regex_worst.py [--size 200000] [--limit 10] [--quick] [--top N]

An input is stopped after --limit seconds of CPU and shown as ">= LIMIT".
Asserts nothing; the budgets are in tests/unit/test_regex_linear.py.
No servers needed; about 3 minutes here (--quick: about 30 s).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fixtures.adversarial import (  # noqa: E402
    DEFAULT_SIZE,
    adversarial_messages,
    all_patterns,
    cpu,
    process_message,
    worst_input,
)


def _seconds(value: float, limit: float) -> str:
    return f">={limit:.1f}" if value >= limit else f"{value:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="largest input (default 200,000)")
    parser.add_argument(
        "--limit", type=float, default=10.0, help="CPU seconds after which an input is stopped"
    )
    parser.add_argument("--quick", action="store_true", help="the unit test's smaller set of inputs")
    parser.add_argument("--top", type=int, default=0, help="print only the N worst patterns")
    args = parser.parse_args()

    patterns = all_patterns()
    rows = []
    for index, named in enumerate(patterns, 1):
        print(f"[{index}/{len(patterns)}] {named.name}", file=sys.stderr, flush=True)
        seconds, label = worst_input(named, args.size, thorough=not args.quick, limit=args.limit)
        rows.append((seconds, named.name, label))
    rows.sort(reverse=True)
    shown = rows[: args.top] if args.top else rows

    process_message(b"From: a@example.com\n\nwarm-up\n")
    messages = []
    for label, raw in adversarial_messages():
        seconds = cpu(lambda raw=raw: process_message(raw), args.limit)  # type: ignore[misc]
        messages.append((seconds, label, len(raw)))
    messages.sort(reverse=True)

    print(f"machine: load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"patterns: {len(rows)}, CPU seconds of the worst input (search + match + findall)")
    width = max(len(name) for _, name, _ in shown)
    for seconds, name, label in shown:
        print(f"{_seconds(seconds, args.limit):>8}  {name:<{width}}  {label[:90]}")
    print("messages: CPU seconds through parse, rules, intake and quotes")
    for seconds, label, size in messages:
        print(f"{_seconds(seconds, args.limit):>8}  {size:>9,} bytes  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
