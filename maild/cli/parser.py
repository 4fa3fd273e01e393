"""The command line's grammar (CONTRACT.md): every command, option and help text.

Kept apart from what the commands do so the whole interface reads in one
place, and so a change to it is visibly a change to the contract. Each
command that runs on an App names its function here (`args.handler`), so
the grammar and what runs are one list, not two tables kept in step.
argparse's own error path (usage dump, exit 2) is replaced by a UsageError,
which main prints as one sentence like every other expected failure.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

from maild.cli.auth import cmd_auth_check, cmd_auth_login
from maild.cli.cases import (
    cmd_case_assign,
    cmd_case_attachment,
    cmd_case_close,
    cmd_case_list,
    cmd_case_move,
    cmd_case_note,
    cmd_case_reply,
    cmd_case_severity,
    cmd_case_show,
)
from maild.cli.daemon import cmd_run, cmd_status
from maild.cli.inbound import cmd_inbound_discard, cmd_inbound_list, cmd_inbound_raw, cmd_inbound_release
from maild.cli.people import cmd_account_add, cmd_agent_add, cmd_contact_add
from maild.daemon import deliver
from maild.errors import UsageError

if TYPE_CHECKING:
    from maild.app import App

__all__ = ["ArgumentParser", "Handler", "build_parser"]

Handler: TypeAlias = "Callable[[App, argparse.Namespace], int]"


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but errors are one sentence and exit 2 without the usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see --help)")


if TYPE_CHECKING:
    # What add_subparsers returns (argparse names its class only privately).
    _Commands: TypeAlias = argparse._SubParsersAction[ArgumentParser]


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="maild", description="Email-driven support cases.")
    p.add_argument("--config", help="config file (default: $MAILD_CONFIG or /etc/maild/maild.toml)")
    p.add_argument("--debug", action="store_true", help="show debug logs and tracebacks")
    sub = p.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    _daemon_commands(sub)
    _people_commands(sub)
    _case_commands(sub)
    status = _command(
        sub, "status", cmd_status, "health at a glance: mailbox, outbox, cases near or past deadline"
    )
    status.add_argument("--json", action="store_true")
    _inbound_commands(sub)
    _auth_commands(sub)
    deliver.add_arguments(
        _command(sub, "deliver", deliver.cmd_deliver, "read one message on stdin and record it now")
    )
    demo = sub.add_parser("demo", help="run the main job on embedded defaults and show what happened")
    demo.add_argument(
        "--dir", default="demo-output", help="where the demo keeps its database, Maildir and sink"
    )
    return p


def _command(sub: _Commands, name: str, handler: Handler, help_text: str) -> ArgumentParser:
    """A command that runs on an App: maild.cli.dispatch calls `args.handler`."""
    parser = sub.add_parser(name, help=help_text)
    parser.set_defaults(handler=handler)
    return parser


def _group(sub: _Commands, name: str, help_text: str, dest: str = "sub") -> _Commands:
    return sub.add_parser(name, help=help_text).add_subparsers(
        dest=dest, required=True, parser_class=ArgumentParser
    )


def _daemon_commands(sub: _Commands) -> None:
    db = _group(sub, "db", "database schema", dest="db_command")
    db.add_parser("upgrade", help="create or migrate the schema to the newest version")
    sub.add_parser("check-config", help="validate the config")
    run = _command(sub, "run", cmd_run, "the daemon: fetch mail, scan deadlines, send notifications")
    run.add_argument("--once", action="store_true", help="one full pass, then exit")


def _people_commands(sub: _Commands) -> None:
    a_add = _command(_group(sub, "account", "accounts"), "add", cmd_account_add, "create an account")
    a_add.add_argument("name")
    a_add.add_argument("--org-id")
    a_add.add_argument("--domain", action="append", default=[])
    a_add.add_argument("--plan")

    c_add = _command(_group(sub, "contact", "contacts"), "add", cmd_contact_add, "create a contact")
    c_add.add_argument("email")
    c_add.add_argument("--account", required=True)
    c_add.add_argument("--name", default="")
    c_add.add_argument("--designated", action="store_true")
    c_add.add_argument("--primary", action="store_true")
    c_add.add_argument("--language")

    g_add = _command(_group(sub, "agent", "agents"), "add", cmd_agent_add, "create an agent")
    g_add.add_argument("email")
    g_add.add_argument("--name", default="")
    g_add.add_argument("--manager", action="store_true")
    g_add.add_argument(
        "--team",
        action="append",
        default=[],
        metavar="NAME",
        help="make the agent a member of this configured team (repeatable; adds teams to an existing agent)",
    )


def _case_commands(sub: _Commands) -> None:
    case = _group(sub, "case", "cases")
    k_list = _command(case, "list", cmd_case_list, "list cases")
    k_list.add_argument("--status", choices=("open", "closed", "all"), default="open")
    k_list.add_argument("--team", metavar="NAME", help="only cases of this team (any case)")
    whose = k_list.add_mutually_exclusive_group()
    whose.add_argument("--owner", metavar="EMAIL", help="only cases owned by this agent")
    whose.add_argument("--unassigned", action="store_true", help="only cases without an owner")
    k_list.add_argument("--json", action="store_true")
    k_show = _command(case, "show", cmd_case_show, "one case with its comments")
    k_show.add_argument("number")
    k_show.add_argument("--json", action="store_true")
    k_reply = _command(case, "reply", cmd_case_reply, "an agent's reply")
    k_reply.add_argument("number")
    k_reply.add_argument("--as", dest="as_", required=True, metavar="AGENT_EMAIL")
    body = k_reply.add_mutually_exclusive_group(required=True)
    body.add_argument("--body")
    body.add_argument("--body-file")
    k_reply.add_argument(
        "--waiting", action="store_true", help="ask the customer something: waiting_on_customer"
    )
    _team_commands(case)
    k_sev = _command(
        case, "severity", cmd_case_severity, "change a case's severity (recomputes its deadline)"
    )
    k_sev.add_argument("number")
    k_sev.add_argument("severity", type=int, choices=(1, 2, 3, 4))
    k_sev.add_argument("--as", dest="as_", required=True, metavar="AGENT_EMAIL")
    k_sev.add_argument("--reason", default="")
    k_file = _command(
        case, "attachment", cmd_case_attachment, "write a stored attachment's bytes to stdout or a file"
    )
    k_file.add_argument("number")
    k_file.add_argument("attachment", help="its id (as `case show` lists it) or its file name")
    k_file.add_argument("--output", "-o", metavar="PATH", help="write here instead of stdout")
    k_close = _command(case, "close", cmd_case_close, "close a case")
    k_close.add_argument("number")
    k_close.add_argument("--as", dest="as_", metavar="EMAIL")


def _team_commands(case: _Commands) -> None:
    """`case assign|move|note` (SPEC §10): the command line's `#assign`, `#team` and `#note`."""
    k_assign = _command(case, "assign", cmd_case_assign, "make an agent the case's owner")
    k_assign.add_argument("number")
    k_assign.add_argument("agent", metavar="AGENT_EMAIL", help="the new owner (an agent)")
    k_assign.add_argument("--as", dest="as_", required=True, metavar="AGENT_EMAIL")
    k_move = _command(
        case, "move", cmd_case_move, "hand a case to another team (its owner stays only if a member)"
    )
    k_move.add_argument("number")
    k_move.add_argument("team", metavar="TEAM", help="a configured team ([teams.TEAM])")
    k_move.add_argument("--as", dest="as_", required=True, metavar="AGENT_EMAIL")
    k_note = _command(
        case, "note", cmd_case_note, "an internal note: to the owner and the team only, never to contacts"
    )
    k_note.add_argument("number")
    k_note.add_argument("--as", dest="as_", required=True, metavar="AGENT_EMAIL")
    body = k_note.add_mutually_exclusive_group(required=True)
    body.add_argument("--body")
    body.add_argument("--body-file")


def _inbound_commands(sub: _Commands) -> None:
    inbound = _group(sub, "inbound", "what became of inbound messages")
    i_list = _command(inbound, "list", cmd_inbound_list, "recent inbound messages and their outcomes")
    i_list.add_argument("--outcome", help="only this outcome (e.g. quarantined, ignored, rejected)")
    i_list.add_argument("--limit", type=int, default=50)
    i_list.add_argument("--json", action="store_true")
    i_raw = _command(inbound, "raw", cmd_inbound_raw, "write a quarantined message's raw bytes to stdout")
    i_raw.add_argument("id", type=int)
    i_release = _command(
        inbound,
        "release",
        cmd_inbound_release,
        "process a held message as if its sender were proven (its comment by its From)",
    )
    i_release.add_argument("id", type=int)
    i_release.add_argument("--as", dest="as_", required=True, metavar="AGENT_EMAIL")
    i_discard = _command(
        inbound, "discard", cmd_inbound_discard, "drop a held message from the case (kept as discarded)"
    )
    i_discard.add_argument("id", type=int)
    i_discard.add_argument("--as", dest="as_", metavar="AGENT_EMAIL")


def _auth_commands(sub: _Commands) -> None:
    auth = _group(sub, "auth", 'OAuth2 sign-in and checks for auth = "oauth2"')
    login = _command(
        auth, "login", cmd_auth_login, "sign in (device code) and store the refresh token of one client"
    )
    which = login.add_mutually_exclusive_group()
    which.add_argument("--mailbox", metavar="LABEL", help="[mailboxes.LABEL] (default: [mailbox])")
    which.add_argument("--smtp", action="store_true", help="[smtp]")
    login.add_argument(
        "--browser",
        action="store_true",
        help="sign in with a browser and a 127.0.0.1 redirect, not a device code (always for google)",
    )
    login.set_defaults(needs_database=False)
    check = _command(
        auth, "check", cmd_auth_check, "get a token and log in to every mailbox and the SMTP server"
    )
    check.set_defaults(needs_database=False)
