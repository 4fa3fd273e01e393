"""SPEC §10 on the command line: team memberships, assign, move, notes, the list filters, status, metrics.

Cases are opened by mail through the real Dovecot (`run --once`), so each
one carries the team routing gave it; everything else goes through the
CLI in-process against real SQLite and is read back through its JSON. Every
refusal is exit 2 with one sentence on stderr, never a traceback.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from maild.cli.parser import build_parser
from maild.clock import SystemClock
from maild.daemon.metrics import StateCollector
from maild.store.db import Database
from maild.store.models import Agent, AgentTeam
from tests.integration.env import AGENT, ALICE, DAVE, YAMADA, MaildEnv, Result, message

TOM = "tom@example.com"  # tier1
KIM = "kim@example.com"  # tier2
TIER1 = "tier1@example.com"
TIER2 = "tier2@example.com"
TEAMS = {
    "teams.tier1.address": TIER1,
    "teams.tier1.topics": ["billing"],
    "teams.tier2.address": TIER2,
    "teams.tier2.managers": ["tier2-managers@example.com"],
    "teams.tier2.topics": ["api", "developer"],
    "routing.default_team": "tier1",
    "routing.designated_contacts_team": "tier2",
}
# Teams, but no [routing]: a case without a topic has no team.
TEAMS_ONLY = {k: v for k, v in TEAMS.items() if not k.startswith("routing.")}


def refused(r: Result, *words: str) -> None:
    """Exit 2 with one sentence naming `words`, and no traceback."""
    assert r.code == 2, f"exit {r.code}\nstdout: {r.out}\nstderr: {r.err}"
    assert "Traceback" not in r.err and r.err.startswith("maild: ") and r.err.count("\n") == 1, r.err
    for word in words:
        assert word in r.err, (word, r.err)


def open_cases(env: MaildEnv, imap_box: Any) -> dict[str, str]:
    """Three cases by mail: billing (tier1 by topic), API (tier2 by topic), printer (tier2: designated)."""
    imap_box.append_many(
        [
            message(ALICE, "[Topic: Billing] Invoice is wrong", "The invoice total is wrong."),
            message(YAMADA, "[Topic: API] API returns 500", "Every call fails."),
            message(DAVE, "Printer jam", "The printer is jammed."),
        ]
    )
    env.run_once()
    by_subject = {c["subject"]: c["number"] for c in env.cases()}
    assert len(by_subject) == 3, by_subject
    return {
        "billing": by_subject["Invoice is wrong"],
        "api": by_subject["API returns 500"],
        "printer": by_subject["Printer jam"],
    }


def memberships(env: MaildEnv) -> dict[str, set[str]]:
    db = Database(str(env.config["database"]["url"]))
    try:
        with db.reader() as s:
            rows = s.execute(
                select(Agent.email, AgentTeam.team).join(AgentTeam, AgentTeam.agent_id == Agent.id)
            )
            out: dict[str, set[str]] = {}
            for email, team in rows:
                out.setdefault(email, set()).add(team)
            return out
    finally:
        db.dispose()


def add_team_agents(env: MaildEnv) -> None:
    env.ok("agent", "add", TOM, "--name", "Tom", "--team", "tier1")
    env.ok("agent", "add", KIM, "--name", "Kim", "--team", "TIER2")


# ------------------------------------------------------------------ agent add --team


@pytest.mark.maild_config(TEAMS)
def test_agent_add_makes_members_and_adds_teams_to_an_existing_agent(env: MaildEnv) -> None:
    out = env.ok("agent", "add", TOM, "--name", "Tom", "--team", "TIER1", "--team", "tier1").out
    assert out.strip() == f"agent {TOM} created, a member of tier1"
    assert memberships(env) == {TOM: {"tier1"}}  # stored as configured, once

    # An existing agent gains teams instead of failing; the ones it has are named, not repeated.
    out = env.ok("agent", "add", TOM, "--team", "Tier2", "--team", "tier1").out
    assert out.strip() == f"agent {TOM} is now a member of tier2 (already a member of tier1)"
    out = env.ok("agent", "add", AGENT, "--team", "tier2", "--manager").out
    assert out.strip() == f"agent {AGENT} is now a member of tier2; its name and manager flag are unchanged"
    assert memberships(env) == {TOM: {"tier1", "tier2"}, AGENT: {"tier2"}}
    out = env.ok("agent", "add", AGENT, "--team", "tier2").out
    assert out.strip() == f"agent {AGENT} exists (already a member of tier2)"

    # Without --team an existing agent is still an error, as before teams.
    r = env.run("agent", "add", TOM)
    assert r.code == 1 and f"agent {TOM} already exists" in r.err and "Traceback" not in r.err

    # An unknown team is refused before anything is written, naming the configured ones.
    refused(env.run("agent", "add", KIM, "--team", "tier1", "--team", "tier3"), "'tier3'", "tier1, tier2")
    assert KIM not in memberships(env)
    refused(env.run("agent", "add", "not-an-address", "--team", "tier1"), "not a valid agent email address")


def test_agent_add_team_without_teams_configured_says_so(env: MaildEnv) -> None:
    refused(env.run("agent", "add", TOM, "--team", "tier1"), "no [teams.<name>] tables")
    assert env.ok("agent", "add", TOM).out.strip() == f"agent {TOM} created"


# ------------------------------------------------------------------ assign, move, note


@pytest.mark.maild_config(TEAMS)
def test_case_assign_sets_the_owner_and_tells_them(env: MaildEnv, imap_box: Any) -> None:
    numbers = open_cases(env, imap_box)
    add_team_agents(env)
    api = numbers["api"]
    assert env.case(api)["owner"] is None and env.case(api)["team"] == "tier2"

    before = len(env.outbox())
    out = env.ok("case", "assign", api, KIM.upper(), "--as", AGENT).out
    assert out.startswith(f"case {api} assigned to {KIM}; ") and "notification(s) queued" in out
    queued = int(out.split("; ")[1].split()[0])
    new_rows = env.outbox()[before:]
    assert queued == len(new_rows) >= 1 and KIM in {r.recipient for r in new_rows}
    assert {r.event for r in new_rows} == {"assigned"}
    assert not {ALICE, YAMADA, DAVE} & {r.recipient for r in new_rows}  # never to contacts
    assert env.case(api)["owner"] == KIM

    assert (
        env.ok("case", "assign", api, KIM, "--as", KIM).out.strip() == f"case {api} is already owned by {KIM}"
    )
    refused(
        env.run("case", "assign", api, ALICE, "--as", AGENT), f"{ALICE} is not an agent", "maild agent add"
    )
    refused(env.run("case", "assign", api, KIM, "--as", ALICE), f"{ALICE} is not an agent", "maild agent add")
    refused(env.run("case", "assign", "999", KIM, "--as", AGENT), "case 999 does not exist")
    refused(env.run("case", "assign", api, KIM), "--as")
    assert env.case(api)["owner"] == KIM


@pytest.mark.maild_config(TEAMS)
def test_case_move_keeps_a_member_owner_and_drops_another(env: MaildEnv, imap_box: Any) -> None:
    numbers = open_cases(env, imap_box)
    add_team_agents(env)
    env.ok("agent", "add", KIM, "--team", "tier1")  # Kim is in both teams; Tom only in tier1
    billing, printer = numbers["billing"], numbers["printer"]

    env.ok("case", "assign", billing, KIM, "--as", AGENT)
    out = env.ok("case", "move", billing, "TIER2", "--as", TOM).out
    assert out.startswith(
        f"case {billing} moved from tier1 to tier2; its owner {KIM} stays (a member of tier2); "
    )
    assert (env.case(billing)["team"], env.case(billing)["owner"]) == ("tier2", KIM)
    assert {r.event for r in env.outbox()} >= {"moved"}

    env.ok("case", "assign", printer, TOM, "--as", AGENT)
    out = env.ok("case", "move", printer, "tier1", "--as", AGENT).out
    assert f"case {printer} moved from tier2 to tier1; its owner {TOM} stays" in out
    env.ok("case", "move", printer, "tier2", "--as", AGENT)
    case = env.case(printer)
    assert (case["team"], case["owner"]) == ("tier2", None)

    out = env.ok("case", "move", numbers["api"], "tier1", "--as", AGENT).out
    assert "it has no owner" in out
    assert env.ok("case", "move", printer, "Tier2", "--as", AGENT).out.strip() == (
        f"case {printer} is already in team tier2"
    )
    refused(
        env.run("case", "move", printer, "tier9", "--as", AGENT), "'tier9' is not configured", "tier1, tier2"
    )
    refused(env.run("case", "move", printer, "tier1", "--as", ALICE), "is not an agent")
    assert env.case(printer)["team"] == "tier2"


def test_case_move_without_teams_configured_says_so(env: MaildEnv, imap_box: Any) -> None:
    imap_box.append(message(ALICE, "Printer jam", "Jammed."))
    env.run_once()
    (case,) = env.cases()
    assert case["team"] is None and case["owner"] is None
    refused(env.run("case", "move", case["number"], "tier2", "--as", AGENT), "no [teams.<name>] tables")


@pytest.mark.maild_config(TEAMS)
def test_case_note_is_internal_and_reaches_the_team_only(
    env: MaildEnv, imap_box: Any, tmp_path: Path
) -> None:
    numbers = open_cases(env, imap_box)
    add_team_agents(env)
    api = numbers["api"]
    env.ok("case", "assign", api, KIM, "--as", AGENT)
    status = env.case(api)["status"]

    before = len(env.outbox())
    out = env.ok("case", "note", api, "--as", TOM, "--body", "Customer is on the old SDK; check 4.2.").out
    assert out.startswith(f"internal note added to case {api} (status {status}, unchanged); ")
    rows = env.outbox()[before:]
    assert {r.recipient for r in rows} == {KIM, TIER2} and {r.event for r in rows} == {"note_added"}

    note_file = tmp_path / "note.txt"
    note_file.write_text("\nSecond note, from a file.\n\n", encoding="utf-8")
    env.ok("case", "note", api, "--as", KIM, "--body-file", str(note_file))

    case = env.case(api)
    assert case["status"] == status and case["first_responded_at"] is None  # a note is no response
    notes = [c for c in case["comments"] if c["internal"]]
    assert [(c["author"], c["body"], c["source"]) for c in notes] == [
        (TOM, "Customer is on the old SDK; check 4.2.", "cli"),
        (KIM, "Second note, from a file.", "cli"),
    ]
    assert all(c["internal"] is False for c in case["comments"] if c not in notes)
    text = env.ok("case", "show", api).out
    assert f"--- {TOM} (agent, INTERNAL NOTE) at " in text
    assert (
        "  team tier2; owner kim@example.com; topic API" in text
        or "  team tier2; owner kim@example.com; topic api" in text
    )

    refused(env.run("case", "note", api, "--as", TOM, "--body", "  \n"), "the note body is empty")
    refused(env.run("case", "note", api, "--as", ALICE, "--body", "x"), "is not an agent")
    refused(
        env.run("case", "note", api, "--as", TOM, "--body-file", str(tmp_path / "missing.txt")), "--body-file"
    )
    refused(env.run("case", "note", api, "--as", TOM), "--body")
    assert len([c for c in env.case(api)["comments"] if c["internal"]]) == 2


# ------------------------------------------------------------------ list, show, status, metrics


@pytest.mark.maild_config(TEAMS)
def test_case_list_filters_combine(env: MaildEnv, imap_box: Any) -> None:
    numbers = open_cases(env, imap_box)
    add_team_agents(env)
    billing, api, printer = numbers["billing"], numbers["api"], numbers["printer"]
    env.ok("case", "assign", api, KIM, "--as", AGENT)
    env.ok("case", "close", printer, "--as", AGENT)

    def listed(*args: str) -> list[str]:
        return [c["number"] for c in env.ok("case", "list", *args, "--json").json()]

    (row,) = [c for c in env.ok("case", "list", "--json").json() if c["number"] == api]
    assert (row["team"], row["owner"]) == ("tier2", KIM)
    assert listed() == [billing, api]
    assert listed("--team", "tier2") == [api]
    assert listed("--team", "TIER2", "--status", "all") == [api, printer]
    assert listed("--unassigned") == [billing]
    assert listed("--unassigned", "--status", "all", "--team", "tier2") == [printer]
    assert listed("--owner", KIM.upper()) == [api]
    assert listed("--owner", KIM, "--team", "tier1") == []
    assert listed("--owner", TOM) == []

    r = env.ok("case", "list", "--team", "tier0", "--json")  # an old name is no error: a note on stderr
    assert r.json() == [] and "team 'tier0' is not configured (configured teams: tier1, tier2)" in r.err
    refused(env.run("case", "list", "--owner", KIM, "--unassigned"), "not allowed with")
    refused(env.run("case", "list", "--owner", ALICE), f"{ALICE} is not an agent")

    table = env.ok("case", "list", "--status", "all").out.splitlines()
    head = table[0].split()
    assert head[:5] == ["NUMBER", "SEV", "STATUS", "TEAM", "OWNER"]
    (api_line,) = [line for line in table if line.startswith(api)]
    assert api_line.split()[3:5] == ["tier2", KIM]
    (billing_line,) = [line for line in table if line.startswith(billing)]
    assert billing_line.split()[3:5] == ["tier1", "-"]


@pytest.mark.maild_config(TEAMS)
def test_case_show_json_has_the_team_fields(env: MaildEnv, imap_box: Any) -> None:
    numbers = open_cases(env, imap_box)
    case = env.case(numbers["api"])
    assert case["team"] == "tier2" and case["owner"] is None
    assert case["topic"] and case["topic"].lower() == "api"
    assert "next_response_due_at" in case and case["next_response_due_at"] is None
    assert env.case(numbers["printer"])["topic"] is None
    assert all(isinstance(c["internal"], bool) for c in case["comments"])
    text = env.ok("case", "show", numbers["printer"]).out
    assert "  team tier2; owner none (unassigned); topic -" in text


@pytest.mark.maild_config(TEAMS_ONLY)
def test_status_counts_open_cases_per_team_and_the_unassigned(env: MaildEnv, imap_box: Any) -> None:
    imap_box.append_many(
        [
            message(ALICE, "[Topic: Billing] Invoice is wrong", "Wrong total."),
            message(YAMADA, "[Topic: API] API returns 500", "Every call fails."),
            message(DAVE, "Printer jam", "No topic, no routing: no team."),
            message(DAVE, "[Topic: developer] SDK crash", "Crashes."),
        ]
    )
    env.run_once()
    add_team_agents(env)
    numbers = {c["subject"]: c["number"] for c in env.cases()}
    env.ok("case", "assign", numbers["API returns 500"], KIM, "--as", AGENT)
    env.ok("case", "close", numbers["Invoice is wrong"], "--as", AGENT)

    status = env.ok("status", "--json").json()
    assert status["cases_by_team"] == {"tier1": 0, "tier2": 2, "(no team)": 1}
    assert status["unassigned_cases"] == 2
    text = env.ok("status").out
    assert "  open cases by team: tier1 0, tier2 2, (no team) 1; unassigned: 2" in text

    db = Database(str(env.config["database"]["url"]))
    try:
        collector = StateCollector(db, SystemClock(), lambda: ("tier1", "tier2"))
        gauges = {
            (m.name, sample.labels.get("team")): sample.value
            for m in collector.collect()
            for sample in m.samples
            if m.name in ("maild_open_cases_by_team", "maild_unassigned_open_cases")
        }
    finally:
        db.dispose()
    assert gauges == {
        ("maild_open_cases_by_team", "tier1"): 0,
        ("maild_open_cases_by_team", "tier2"): 2,
        ("maild_open_cases_by_team", "(no team)"): 1,
        ("maild_unassigned_open_cases", "tier1"): 0,
        ("maild_unassigned_open_cases", "tier2"): 1,
        ("maild_unassigned_open_cases", "(no team)"): 1,
    }


def test_status_without_teams_has_no_team_buckets(env: MaildEnv, imap_box: Any) -> None:
    imap_box.append(message(ALICE, "Printer jam", "Jammed."))
    env.run_once()
    status = env.ok("status", "--json").json()
    assert status["cases_by_team"] == {} and status["unassigned_cases"] == 1
    assert "  unassigned open cases: 1" in env.ok("status").out
    db = Database(str(env.config["database"]["url"]))
    try:
        names = {m.name for m in StateCollector(db, SystemClock()).collect()}
    finally:
        db.dispose()
    assert "maild_open_cases" in names and "maild_open_cases_by_team" not in names


@pytest.mark.parametrize(
    ("command", "flags"),
    [
        (("agent", "add"), ["--team", "--name", "--manager"]),
        (("case", "list"), ["--team", "--owner", "--unassigned", "--status", "--json"]),
        (("case", "assign"), ["AGENT_EMAIL", "--as"]),
        (("case", "move"), ["TEAM", "--as"]),
        (("case", "note"), ["--as", "--body", "--body-file"]),
    ],
)
def test_the_contract_flags_are_in_help(command: tuple[str, ...], flags: list[str]) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        build_parser().parse_args([*command, "--help"])
    assert done.value.code == 0
    for flag in flags:
        assert flag in out.getvalue(), (command, flag)


@pytest.mark.maild_config(TEAMS)
def test_filters_and_team_counts_on_postgresql(pg_env: MaildEnv, imap_box: Any) -> None:
    numbers = open_cases(pg_env, imap_box)
    add_team_agents(pg_env)
    pg_env.ok("case", "assign", numbers["api"], KIM, "--as", AGENT)
    listed = pg_env.ok("case", "list", "--team", "TIER2", "--unassigned", "--json").json()
    assert [c["number"] for c in listed] == [numbers["printer"]]
    status = pg_env.ok("status", "--json").json()
    assert status["cases_by_team"] == {"tier1": 1, "tier2": 2, "(no team)": 0}
    assert status["unassigned_cases"] == 2
