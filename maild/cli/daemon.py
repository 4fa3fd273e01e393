"""`maild db upgrade`, `check-config`, `run` and `status`: setting up and running the daemon.

Parsing and printing only. The daemon's modules are imported when a command
needs them, so `maild case list` never loads the mailbox or SMTP libraries.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from maild.app import App
from maild.cli.output import print_error, print_json
from maild.config import Settings, config_warnings
from maild.store.db import Database, upgrade

__all__ = ["cmd_check_config", "cmd_db_upgrade", "cmd_run", "cmd_status"]


def cmd_db_upgrade(settings: Settings, _args: argparse.Namespace) -> int:
    db = Database(settings.database.url)
    try:
        before, after = upgrade(db)
    finally:
        db.dispose()
    print(
        f"database schema is up to date (revision {after})"
        if before == after
        else f"database schema upgraded from {before or 'nothing'} to {after}"
    )
    return 0


def cmd_check_config(settings: Settings, _args: argparse.Namespace) -> int:
    print(f"{settings.source}: configuration is valid")
    for warning in config_warnings(settings):
        print(f"maild: warning: {warning}", file=sys.stderr)
    return 0


def cmd_run(app: App, args: argparse.Namespace) -> int:
    from maild.daemon.worker import Worker

    worker = Worker(app)
    if not args.once:
        asyncio.run(worker.run_forever())
        return 0
    report = asyncio.run(worker.run_once())
    i, d = report.ingest, report.dispatch
    print(
        f"processed {i.processed} message(s) ({_outcomes(i.outcomes)}), skipped {i.skipped}, "
        f"quarantined {i.quarantined}; escalation notices queued {report.escalations}; "
        f"notifications sent {d.sent}, deferred {d.deferred}, failed {d.failed}"
    )
    for error in report.errors:
        print_error(error)
    return 1 if report.errors else 0


def _outcomes(outcomes: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "none"


def cmd_status(app: App, args: argparse.Namespace) -> int:
    from maild.daemon.health import health_text, snapshot

    with app.db.reader() as s:
        health = snapshot(s, app.clock.now(), app.settings.teams, app.settings.escalation.warn_before)
    if args.json:
        print_json(health.as_json())
    else:
        print(health_text(health))
    return 0
