"""How often extract_reply gives exactly the reply text that other projects expect.

Reads the shared corpus (../shared/corpus): every `NAME.expected.txt`, plus
the talon standard replies whose expected text ("Hello") the corpus
MANIFEST records. Prints one line per source and the total, last.

Two contracts are measured. maild's own ("product") strips signatures and
mobile footers, as the spec asks. talon's tests expect quotation removal
only (its signature stripping is a separate step), so its cases are also
measured with `keep_signature=True` ("per-source contract").

Then, per language, maild's own corpus of replies in the twelve languages
of SPEC §12 (tests/fixtures/replies/<code>/NN-<client>.txt or .eml, each
beside its NN-<client>.expected.txt), under the product contract: the
headers Gmail, Outlook (desktop and web), Apple Mail and Thunderbird write
in each language, their forward markers, signatures and mobile footers.

Run: .venv/bin/python bench/quotes_accuracy.py [corpus-dir]
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path

from maild.inbound.parse import parse_message
from maild.inbound.quotes import extract_reply

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
LANGUAGE_CORPUS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "replies"
_PLAIN_BODY_PREFIXES = ("discourse-trimmer-", "crisp-erp-", "github-erp-", "zapier-erp-")
_IMPLIED_HELLO = 'talon expects visible text "Hello"'
_QUOTATION_ONLY_SOURCES = frozenset({"talon"})


@dataclass(frozen=True)
class Case:
    path: Path
    expected: str

    @property
    def source(self) -> str:
        return self.path.name.split("-", 1)[0]


def normalise(text: str) -> str:
    """Compare texts as a reader would: line ends, trailing spaces and outer blank lines do not count."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return "\n".join(line.rstrip() for line in text.split("\n"))


def load_cases(corpus: Path) -> list[Case]:
    cases = [
        Case(
            expected_file.with_name(expected_file.name.removesuffix(".expected.txt")),
            _read_text(expected_file),
        )
        for expected_file in sorted(corpus.rglob("*.expected.txt"))
    ]
    manifest = corpus / "MANIFEST.tsv"
    if manifest.exists():
        with manifest.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                if _IMPLIED_HELLO in (row.get("what_it_exercises") or ""):
                    cases.append(Case(corpus / row["file"], "Hello"))
    return cases


def load_language_cases(corpus: Path = LANGUAGE_CORPUS) -> dict[str, list[Case]]:
    """The replies of maild's own corpus, by language code (the folder name)."""
    languages: dict[str, list[Case]] = {}
    for expected_file in sorted(corpus.glob("*/*.expected.txt")):
        stem = expected_file.name.removesuffix(".expected.txt")
        for suffix in (".txt", ".eml"):
            source = expected_file.with_name(stem + suffix)
            if source.exists():
                case = Case(source, _read_text(expected_file))
                languages.setdefault(expected_file.parent.name, []).append(case)
                break
    return languages


def language_body(path: Path) -> str:
    """A .eml is parsed as a message; a .txt is the body as the parser would give it."""
    raw = path.read_bytes()
    return parse_message(raw).text if path.suffix == ".eml" else raw.decode("utf-8")


def language_rates(languages: dict[str, list[Case]]) -> dict[str, tuple[int, int]]:
    """(exact matches, replies) per language under the product contract, and under "TOTAL"."""
    table: dict[str, tuple[int, int]] = {}
    for code, cases in languages.items():
        good = sum(
            normalise(extract_reply(language_body(case.path))) == normalise(case.expected) for case in cases
        )
        table[code] = (good, len(cases))
    table["TOTAL"] = (sum(v[0] for v in table.values()), sum(v[1] for v in table.values()))
    return table


def _read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "replace")


def body_text(path: Path) -> str:
    """The text a reply parser sees: the body of a message, or a bare body file as it is."""
    raw = path.read_bytes()
    if path.name.startswith(_PLAIN_BODY_PREFIXES):
        return raw.decode("utf-8", "replace")
    return parse_message(raw).text


def matches(case: Case, *, per_source_contract: bool) -> bool:
    keep = per_source_contract and case.source in _QUOTATION_ONLY_SOURCES
    return normalise(extract_reply(body_text(case.path), keep_signature=keep)) == normalise(case.expected)


def rates(cases: list[Case], *, per_source_contract: bool) -> dict[str, tuple[int, int]]:
    """(exact matches, cases) per source, and under "TOTAL"."""
    table: dict[str, tuple[int, int]] = {}
    for case in cases:
        hit = matches(case, per_source_contract=per_source_contract)
        good, total = table.get(case.source, (0, 0))
        table[case.source] = (good + hit, total + 1)
    good = sum(value[0] for value in table.values())
    table["TOTAL"] = (good, len(cases))
    return table


def _print_table(title: str, table: dict[str, tuple[int, int]]) -> None:
    print(title)
    for source, (good, total) in table.items():
        share = good / total if total else 0.0
        print(f"  {source:10s} {good:3d}/{total:<3d} {share:6.1%}")


def main(argv: list[str]) -> int:
    corpus = Path(argv[1]) if len(argv) > 1 else DEFAULT_CORPUS
    cases = load_cases(corpus)
    if not cases:
        print(f"no expected results under {corpus}")
        return 1
    for case in cases:
        if not matches(case, per_source_contract=True):
            print(f"mismatch: {case.path.name}")
    _print_table(
        "product contract (signatures and footers stripped):", rates(cases, per_source_contract=False)
    )
    _print_table("per-source contract (talon: quotations only):", rates(cases, per_source_contract=True))
    languages = load_language_cases()
    for code, language_cases in languages.items():
        for case in language_cases:
            if normalise(extract_reply(language_body(case.path))) != normalise(case.expected):
                print(f"mismatch: {code}/{case.path.name}")
    _print_table(f"per language ({LANGUAGE_CORPUS.name}/, product contract):", language_rates(languages))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
