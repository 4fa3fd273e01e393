"""`maild account add`, `maild contact add`, `maild agent add [--team]`: who may write to support.

Parsing and printing only; the rules (each exists once, one primary contact
per account) are maild.cases.admin's.
"""

from __future__ import annotations

import argparse

from maild.app import App
from maild.cases import admin, teamadmin
from maild.safetext import visible

__all__ = ["cmd_account_add", "cmd_agent_add", "cmd_contact_add"]


def cmd_account_add(app: App, args: argparse.Namespace) -> int:
    with app.db.session() as s:
        account = admin.add_account(
            s,
            args.name,
            domains=args.domain,
            org_id=args.org_id,
            plan=args.plan,
            known_plans=app.settings.sla.plans,
            now=app.clock.now(),
        )
        name = account.name
    print(f"account {visible(name)} created")
    return 0


def cmd_contact_add(app: App, args: argparse.Namespace) -> int:
    with app.db.session() as s:
        contact = admin.add_contact(
            s,
            args.email,
            account_name=args.account,
            name=args.name,
            language=args.language,
            designated=args.designated,
            primary=args.primary,
            now=app.clock.now(),
        )
        email, account = contact.email, contact.account.name
    print(f"contact {visible(email)} created in account {visible(account)}")
    return 0


def cmd_agent_add(app: App, args: argparse.Namespace) -> int:
    with app.db.session() as s:
        done = teamadmin.add_agent(
            s,
            args.email,
            name=args.name,
            manager=args.manager,
            teams=args.team,
            settings=app.settings,
            now=app.clock.now(),
        )
    print(_agent_added(done, args))
    return 0


def _agent_added(done: teamadmin.AgentTeams, args: argparse.Namespace) -> str:
    email = visible(done.email)
    joined = ", ".join(visible(t) for t in done.joined)
    if done.created:
        return f"agent {email} created" + (f", a member of {joined}" if joined else "")
    text = f"agent {email} is now a member of {joined}" if joined else f"agent {email} exists"
    if done.already:
        text += f" (already a member of {', '.join(visible(t) for t in done.already)})"
    if args.name or args.manager:
        text += "; its name and manager flag are unchanged"
    return text
