"""`maild inbound …`: what became of received messages, and the operator's say on held ones.

Parsing and printing only: the queries are maild.cases.admin's, releasing
and discarding held mail maild.cases.held's.
"""

from __future__ import annotations

import argparse
import sys

from maild.app import App
from maild.cases import admin
from maild.cases.held import discard, release
from maild.cases.views import inbound_json, inbound_table
from maild.cli.output import print_listing

__all__ = ["cmd_inbound_discard", "cmd_inbound_list", "cmd_inbound_raw", "cmd_inbound_release"]


def cmd_inbound_list(app: App, args: argparse.Namespace) -> int:
    with app.db.reader() as s:
        print_listing(admin.list_inbound(s, args.outcome, args.limit), args.json, inbound_json, inbound_table)
    return 0


def cmd_inbound_raw(app: App, args: argparse.Namespace) -> int:
    with app.db.reader() as s:
        sys.stdout.buffer.write(admin.inbound_raw(s, args.id))
    return 0


def cmd_inbound_release(app: App, args: argparse.Namespace) -> int:
    released = release(
        app.db,
        app.service,
        app.policy,
        app.clock,
        args.id,
        admin.operator_address(args.as_, "agent"),
        max_attachment_bytes=app.settings.support.max_attachment_size,
    )
    a = released.applied
    print(
        f"inbound message {released.inbound_id} released: {a.outcome}, case {a.case_number or '-'}; "
        f"{a.notifications} notification(s) queued"
    )
    return 0


def cmd_inbound_discard(app: App, args: argparse.Namespace) -> int:
    discard(app.db, args.id, admin.operator_address(args.as_, "agent") if args.as_ else None)
    print(f"inbound message {args.id} discarded")
    return 0
