"""`maild case …`: list, show, reply, severity, attachment, close.

Parsing and printing only: finding a case, who may answer or close it and
what a reply does are maild.cases' (admin, service); the text and JSON
views are maild.cases.views'.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from maild.app import App
from maild.cases import admin
from maild.cases.views import case_json, case_summary, case_table, case_text
from maild.cli.output import print_json, print_listing
from maild.clock import iso_utc
from maild.errors import MaildError, UsageError
from maild.vocab import CaseStatus

__all__ = [
    "cmd_case_attachment",
    "cmd_case_close",
    "cmd_case_list",
    "cmd_case_reply",
    "cmd_case_severity",
    "cmd_case_show",
]


def cmd_case_list(app: App, args: argparse.Namespace) -> int:
    with app.db.reader() as s:
        print_listing(admin.list_cases(s, args.status), args.json, case_summary, case_table)
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


def _reply_body(args: argparse.Namespace) -> str:
    if args.body_file:
        try:
            body = Path(args.body_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"cannot read --body-file {args.body_file}: {e}") from None
    else:
        body = args.body
    body = str(body).strip("\n")
    if not body.strip():
        raise UsageError("the reply body is empty")
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
        number, due = case.number, case.first_response_due_at
    if not queued:
        print(f"case {number} already has severity {args.severity}")
    else:
        print(
            f"case {number} is now severity {args.severity}; initial response due {iso_utc(due) or '-'}; "
            f"{queued} notification(s) queued"
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
