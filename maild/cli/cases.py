"""`maild case …`: list, show, reply, assign, move, note, severity, attachment, close.

Parsing and printing only: finding a case, who may answer or close it and
what a reply does are maild.cases' (admin, teamadmin, service); the text and JSON
views are maild.cases.views'.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from maild.app import App
from maild.cases import admin, teamadmin
from maild.cases.views import case_json, case_summary, case_table, case_text
from maild.cli.output import print_error, print_json, print_listing
from maild.clock import iso_utc
from maild.errors import MaildError, UsageError
from maild.safetext import visible
from maild.vocab import CaseStatus

__all__ = [
    "cmd_case_assign",
    "cmd_case_attachment",
    "cmd_case_close",
    "cmd_case_list",
    "cmd_case_move",
    "cmd_case_note",
    "cmd_case_reply",
    "cmd_case_severity",
    "cmd_case_show",
]


def cmd_case_list(app: App, args: argparse.Namespace) -> int:
    team = args.team
    if team is not None:
        known = app.settings.team(team)
        if known is not None:
            team = known.name
        elif app.settings.teams:
            # Not an error: cases keep the team they were routed to, even one since renamed.
            print_error(
                f"note: team {team!r} is not configured (configured teams: {', '.join(app.settings.teams)}); "
                "listing the cases that still carry that name"
            )
    with app.db.reader() as s:
        owner = admin.require_agent(s, args.owner) if args.owner else None
        cases = admin.list_cases(s, args.status, team=team, owner=owner, unassigned=args.unassigned)
        print_listing(cases, args.json, case_summary, case_table)
    return 0


def cmd_case_show(app: App, args: argparse.Namespace) -> int:
    with app.db.reader() as s:
        case = admin.find_case(s, args.number)
        data = case_json(case, admin.opening_attachments(s, case))
    if args.json:
        print_json(data)
    else:
        print(case_text(data))
    return 0


def cmd_case_attachment(app: App, args: argparse.Namespace) -> int:
    with app.db.reader() as s:
        data = admin.attachment_bytes(s, args.number, args.attachment)
    if args.output:
        try:
            Path(args.output).write_bytes(data)
        except OSError as e:
            raise MaildError(f"cannot write {args.output}: {e.strerror}") from None
    else:
        sys.stdout.buffer.write(data)
    return 0


def _reply_body(args: argparse.Namespace, what: str = "reply") -> str:
    if args.body_file:
        try:
            body = Path(args.body_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"cannot read --body-file {args.body_file}: {e}") from None
    else:
        body = args.body
    body = str(body).strip("\n")
    if not body.strip():
        raise UsageError(f"the {what} body is empty")
    return body


def cmd_case_reply(app: App, args: argparse.Namespace) -> int:
    agent = admin.operator_address(args.as_, "agent")
    body = _reply_body(args)
    with app.db.session() as s:
        reply = admin.agent_reply(s, app.service, args.number, agent, body, waiting=args.waiting)
    print(
        f"reply added to case {reply.number} (status {reply.status}); {reply.queued} notification(s) queued"
    )
    return 0


def cmd_case_severity(app: App, args: argparse.Namespace) -> int:
    agent = admin.operator_address(args.as_, "agent")
    with app.db.session() as s:
        case = admin.find_case(s, args.number)
        admin.require_agent(s, agent)
        queued = app.service.change_severity(s, case, args.severity, agent, args.reason.strip())
        number, due, next_due = case.number, case.first_response_due_at, case.next_response_due_at
        answered = case.first_responded_at is not None
    if not queued:
        print(f"case {number} already has severity {args.severity}")
    else:
        clock = (
            f"next response due {iso_utc(next_due) or '-'}"
            if answered
            else (f"initial response due {iso_utc(due) or '-'}")
        )
        print(f"case {number} is now severity {args.severity}; {clock}; {queued} notification(s) queued")
    return 0


def cmd_case_assign(app: App, args: argparse.Namespace) -> int:
    agent = admin.operator_address(args.agent, "agent")
    actor = admin.operator_address(args.as_, "agent")
    with app.db.session() as s:
        done = teamadmin.assign_case(s, app.service, args.number, agent, actor)
    if not done.changed:
        print(f"case {done.number} is already owned by {visible(done.owner)}")
    else:
        print(f"case {done.number} assigned to {visible(done.owner)}; {done.queued} notification(s) queued")
    if done.outside_team:
        # Allowed (anyone may help), but a later move would drop them: say so while it is fixable.
        team = visible(done.outside_team)
        print(f"note: {visible(done.owner)} is not a member of {team} (maild agent add EMAIL --team {team})")
    return 0


def cmd_case_move(app: App, args: argparse.Namespace) -> int:
    actor = admin.operator_address(args.as_, "agent")
    with app.db.session() as s:
        done = teamadmin.move_case(s, app.service, args.number, args.team, actor)
    team = visible(done.team)
    if not done.changed:
        print(f"case {done.number} is already in team {team}")
        return 0
    if done.old_owner is None:
        owner = "it has no owner"
    elif done.owner == done.old_owner:
        owner = f"its owner {visible(done.owner)} stays (a member of {team})"
    else:
        owner = f"its owner {visible(done.old_owner)} is not a member of {team}, so it is now unassigned"
    old = visible(done.old_team) if done.old_team else "no team"
    print(f"case {done.number} moved from {old} to {team}; {owner}; {done.queued} notification(s) queued")
    return 0


def cmd_case_note(app: App, args: argparse.Namespace) -> int:
    agent = admin.operator_address(args.as_, "agent")
    body = _reply_body(args, "note")
    with app.db.session() as s:
        note = teamadmin.agent_note(s, app.service, args.number, agent, body)
    print(
        f"internal note added to case {note.number} (status {note.status}, unchanged); "
        f"{note.queued} notification(s) queued to the owner and the team"
    )
    return 0


def cmd_case_close(app: App, args: argparse.Namespace) -> int:
    with app.db.session() as s:
        case = admin.find_case(s, args.number)
        actor = admin.closing_actor(s, case, args.as_)
        if case.status == CaseStatus.CLOSED:
            print(f"case {case.number} is already closed")
            return 0
        queued = app.service.close(s, case, actor)
        number = case.number
    print(f"case {number} closed; {queued} notification(s) queued")
    return 0
