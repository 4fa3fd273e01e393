"""`maild account add`, `maild contact add`, `maild agent add`: who may write to support.

Parsing and printing only; the rules (each exists once, one primary contact
per account) are maild.cases.admin's.
"""

from __future__ import annotations

import argparse

from maild.app import App
from maild.cases import admin
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
        agent = admin.add_agent(s, args.email, name=args.name, manager=args.manager, now=app.clock.now())
        email = agent.email
    print(f"agent {visible(email)} created")
    return 0
