"""The package's shape, checked on every run: the layout of ARCHITECTURE.md stays true.

Read from the source with `ast` (nothing is imported except in the one
runtime check), so a test names the exact module and import that broke a
rule:

* the pure rooms (maild.policy, the identifier and vocabulary modules, the
  parser's decisions) import no I/O library, directly or through another
  maild module — that is what lets their tests feed plain values;
* maild's modules form no import cycle, counting imports inside functions
  too (a function-level import is how a cycle usually hides);
* imports between rooms run one way, down the two flows (ROOM_IMPORTS
  below is the "may import" column of ARCHITECTURE.md);
* no module outgrows one job (500 lines; migrations excepted: each is one
  schema step, written once and never edited).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "maild"

IO_LIBRARIES = frozenset(
    {
        "sqlalchemy",
        "alembic",
        "psycopg",
        "imapclient",
        "imaplib",
        "aiosmtplib",
        "aiosmtpd",
        "smtplib",
        "socket",
    }
)

# Decisions only: data in, data out. Every module of maild.policy, plus these.
PURE_MODULES = (
    "maild.mailids",
    "maild.vocab",
    "maild.clock",
    "maild.safetext",
    "maild.inbound.message",
    "maild.inbound.parse",
    "maild.inbound.intake",
    "maild.inbound.quotes",
    "maild.inbound.addresses",
    "maild.inbound.charsets",
    "maild.outbound.i18n",
)

MAX_MODULE_LINES = 500

# Room -> the rooms it may import. The top-level modules of one job each
# (clock, errors, mailids, ...) are leaves any room may use; the settings
# (config, configread, configtransport, configteams) sit above policy (they hold its calendar and
# escalation types), so the mail-reading rooms below them may not read
# settings; `app`, the composition root, is for the daemon and the command
# line. A room missing here may import no other room.
LEAF_MODULES = frozenset({"clock", "errors", "locales", "logs", "mailids", "safetext", "tls", "vocab"})
SETTINGS = frozenset({"config", "configread", "configtransport", "configteams"})
ROOM_IMPORTS: dict[str, frozenset[str]] = {
    "inbound": frozenset({"oauth2"}),
    "policy": frozenset({"inbound"}),
    "config": frozenset({"configread", "configtransport", "configteams", "policy"}),
    "configtransport": frozenset({"configread", "oauth2"}),
    "configteams": frozenset({"configread"}),
    "configread": frozenset({"policy"}),
    "outbound": SETTINGS | {"policy", "store", "oauth2"},
    "cases": SETTINGS | {"inbound", "policy", "outbound", "store"},
    "daemon": SETTINGS | {"app", "cases", "inbound", "outbound", "policy", "store", "oauth2"},
    "app": SETTINGS | {"cases", "inbound", "outbound", "policy", "store", "oauth2"},
    "cli": SETTINGS | {"app", "cases", "daemon", "demo", "store", "oauth2"},
    "demo": SETTINGS,
    "__main__": frozenset({"entry"}),
    "entry": frozenset({"cli", "daemon"}),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    return {
        _module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.relative_to(PACKAGE).parts
    }


@cache
def _imports(module: str) -> frozenset[str]:
    """Every module this one imports, at any depth of its code, as absolute dotted names."""
    path = _modules()[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from maild.inbound import parse` imports the module maild.inbound.parse
            found.update(
                f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in _modules()
            )
    return frozenset(found)


def _maild_imports(module: str) -> set[str]:
    return {name for name in _imports(module) if name in _modules() and name != module}


def _reach(module: str) -> dict[str, str]:
    """Every module reachable from `module`, each with the module that imports it (for the message)."""
    seen: dict[str, str] = {}
    todo = [module]
    while todo:
        current = todo.pop()
        for name in _maild_imports(current):
            if name not in seen:
                seen[name] = current
                todo.append(name)
    return seen


def _pure_modules() -> list[str]:
    policy = sorted(m for m in _modules() if m == "maild.policy" or m.startswith("maild.policy."))
    return policy + [m for m in PURE_MODULES if m in _modules()]


def test_the_layout_has_the_rooms_of_the_two_flows() -> None:
    packages = {m for m, p in _modules().items() if p.name == "__init__.py"}
    assert {
        "maild.inbound",
        "maild.policy",
        "maild.cases",
        "maild.outbound",
        "maild.store",
        "maild.daemon",
    } <= (packages)
    assert len([m for m in _pure_modules() if m.startswith("maild.policy.")]) >= 5


@pytest.mark.parametrize("module", _pure_modules())
def test_a_pure_module_reaches_no_io_library(module: str) -> None:
    chain = _reach(module)
    for name in [module, *chain]:
        bad = sorted(i for i in _imports(name) if i.split(".")[0] in IO_LIBRARIES)
        via = f" (reached from {module} via {chain[name]})" if name != module else ""
        assert not bad, f"{name} imports {', '.join(bad)}{via}"


def test_importing_the_pure_modules_loads_no_io_library() -> None:
    """The same rule at run time, in a fresh interpreter, for what `ast` cannot see."""
    code = (
        "import importlib, sys\n"
        f"for m in {_pure_modules()!r}: importlib.import_module(m)\n"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in {sorted(IO_LIBRARIES - {'socket'})!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_maild_has_no_import_cycle() -> None:
    cycles = []
    for module in sorted(_modules()):
        if module in _reach(module):
            path = [module]
            # walk back along the recorded importers to show one cycle
            reached = _reach(module)
            current = reached[module]
            while current != module and current not in path:
                path.append(current)
                current = reached[current]
            cycles.append(" <- ".join([*path, module]))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def _room(module: str) -> str:
    """maild.cases.facts -> cases; maild.app -> app."""
    return module.split(".")[1] if "." in module else module


@pytest.mark.parametrize("module", sorted(m for m in _modules() if m != "maild"))
def test_imports_between_rooms_run_down_the_flows(module: str) -> None:
    room = _room(module)
    allowed = ROOM_IMPORTS.get(room, frozenset()) | LEAF_MODULES | {room}
    wrong = sorted(name for name in _maild_imports(module) if name != "maild" and _room(name) not in allowed)
    assert not wrong, f"{module} ({room}) imports {', '.join(wrong)}: not in ROOM_IMPORTS[{room!r}]"


def test_no_module_outgrows_one_job() -> None:
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in _modules().items()}
    big = {m: n for m, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not big, f"modules over {MAX_MODULE_LINES} lines: {big}"


def test_the_import_reader_sees_relative_and_package_imports() -> None:
    """The checks above are only as good as the reader: it must resolve what maild writes."""
    assert "maild.mailids" in _maild_imports("maild.inbound.parse")
    assert "sqlalchemy" in {i.split(".")[0] for i in _imports("maild.store.db")}
