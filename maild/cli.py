"""The command line of CONTRACT.md: argument parsing and printing only.

Every expected failure is a MaildError whose class carries the exit status
(2 usage/config/not found, 1 anything else) and whose text is one clear
sentence on stderr. A traceback appears only with --debug.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, selectinload

from maild.app import App
from maild.cases.service import load_case
from maild.clock import iso_utc
from maild.config import ConfigErrors, Settings, config_path, config_warnings, load_settings
from maild.errors import MaildError, NotFound, UsageError
from maild.logs import setup_logging
from maild.policy.route import may_close
from maild.safetext import json_safe, redact, visible, visible_text
from maild.store.db import Database, upgrade
from maild.store.models import Account, AccountDomain, Agent, Attachment, Case, Contact, InboundMessage

log = logging.getLogger("maild")

_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_LANGUAGE = re.compile(r"^[a-z]{2}(?:-[A-Za-z]{2})?$")


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but errors are one sentence and exit 2 without the usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see --help)")


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="maild", description="Email-driven support cases.")
    p.add_argument("--config", help="config file (default: $MAILD_CONFIG or /etc/maild/maild.toml)")
    p.add_argument("--debug", action="store_true", help="show debug logs and tracebacks")
    sub = p.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)

    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, parser_class=ArgumentParser
    )
    db.add_parser("upgrade", help="create or migrate the schema to the newest version")

    sub.add_parser("check-config", help="validate the config")

    run = sub.add_parser("run", help="the daemon: fetch mail, scan deadlines, send notifications")
    run.add_argument("--once", action="store_true", help="one full pass, then exit")
    run.add_argument("--send-child", action="store_true", help=argparse.SUPPRESS)  # see maild.daemon.sendproc

    account = sub.add_parser("account", help="accounts").add_subparsers(
        dest="sub", required=True, parser_class=ArgumentParser
    )
    a_add = account.add_parser("add", help="create an account")
    a_add.add_argument("name")
    a_add.add_argument("--org-id")
    a_add.add_argument("--domain", action="append", default=[])
    a_add.add_argument("--plan")

    contact = sub.add_parser("contact", help="contacts").add_subparsers(
        dest="sub", required=True, parser_class=ArgumentParser
    )
    c_add = contact.add_parser("add", help="create a contact")
    c_add.add_argument("email")
    c_add.add_argument("--account", required=True)
    c_add.add_argument("--name", default="")
    c_add.add_argument("--designated", action="store_true")
    c_add.add_argument("--primary", action="store_true")
    c_add.add_argument("--language")

    agent = sub.add_parser("agent", help="agents").add_subparsers(
        dest="sub", required=True, parser_class=ArgumentParser
    )
    g_add = agent.add_parser("add", help="create an agent")
    g_add.add_argument("email")
    g_add.add_argument("--name", default="")
    g_add.add_argument("--manager", action="store_true")

    case = sub.add_parser("case", help="cases").add_subparsers(
        dest="sub", required=True, parser_class=ArgumentParser
    )
    k_list = case.add_parser("list", help="list cases")
    k_list.add_argument("--status", choices=("open", "closed", "all"), default="open")
    k_list.add_argument("--json", action="store_true")
    k_show = case.add_parser("show", help="one case with its comments")
    k_show.add_argument("number")
    k_show.add_argument("--json", action="store_true")
    k_reply = case.add_parser("reply", help="an agent's reply")
    k_reply.add_argument("number")
    k_reply.add_argument("--as", dest="as_", required=True, metavar="AGENT_EMAIL")
    body = k_reply.add_mutually_exclusive_group(required=True)
    body.add_argument("--body")
    body.add_argument("--body-file")
    k_reply.add_argument(
        "--waiting", action="store_true", help="ask the customer something: waiting_on_customer"
    )
    k_sev = case.add_parser("severity", help="change a case's severity (recomputes its deadline)")
    k_sev.add_argument("number")
    k_sev.add_argument("severity", type=int, choices=(1, 2, 3, 4))
    k_sev.add_argument("--as", dest="as_", required=True, metavar="AGENT_EMAIL")
    k_sev.add_argument("--reason", default="")
    k_file = case.add_parser("attachment", help="write a stored attachment's bytes to stdout or a file")
    k_file.add_argument("number")
    k_file.add_argument("attachment", help="its id (as `case show` lists it) or its file name")
    k_file.add_argument("--output", "-o", metavar="PATH", help="write here instead of stdout")
    k_close = case.add_parser("close", help="close a case")
    k_close.add_argument("number")
    k_close.add_argument("--as", dest="as_", metavar="EMAIL")

    status = sub.add_parser("status", help="health at a glance: mailbox, outbox, cases near or past deadline")
    status.add_argument("--json", action="store_true")

    inbound = sub.add_parser("inbound", help="what became of inbound messages").add_subparsers(
        dest="sub", required=True, parser_class=ArgumentParser
    )
    i_list = inbound.add_parser("list", help="recent inbound messages and their outcomes")
    i_list.add_argument("--outcome", help="only this outcome (e.g. quarantined, ignored, rejected)")
    i_list.add_argument("--limit", type=int, default=50)
    i_list.add_argument("--json", action="store_true")
    i_raw = inbound.add_parser("raw", help="write a quarantined message's raw bytes to stdout")
    i_raw.add_argument("id", type=int)
    i_release = inbound.add_parser(
        "release", help="process a held message as if its sender were proven (its comment by its From)"
    )
    i_release.add_argument("id", type=int)
    i_release.add_argument("--as", dest="as_", required=True, metavar="AGENT_EMAIL")
    i_discard = inbound.add_parser("discard", help="drop a held message from the case (kept as discarded)")
    i_discard.add_argument("id", type=int)
    i_discard.add_argument("--as", dest="as_", metavar="AGENT_EMAIL")

    demo = sub.add_parser("demo", help="run the main job on embedded defaults and show what happened")
    demo.add_argument(
        "--dir", default="demo-output", help="where the demo keeps its database, Maildir and sink"
    )
    return p


# --------------------------------------------------------------------------- helpers


def _email(value: str, what: str) -> str:
    value = value.strip().lower()
    if not _EMAIL.match(value):
        raise UsageError(f"{value!r} is not a valid {what} email address")
    return value


def _case(s: Session, number: str) -> Case:
    if not re.fullmatch(r"#?\d{1,12}", number.strip()):
        raise UsageError(f"{number!r} is not a case number (like 00001042)")
    case = s.get(
        Case,
        int(number.strip().lstrip("#")),
        options=[selectinload(Case.participants), selectinload(Case.comments)],
    )
    if case is None:
        raise NotFound(f"case {number} does not exist")
    return case


def _print_json(data: object) -> None:
    """Exact data, but no control character raw: C1 and bidi controls as \\uXXXX too."""
    print(json_safe(json.dumps(data, ensure_ascii=False, indent=2)))


def _print_error(text: str) -> None:
    """An error on stderr: passwords masked, control characters visible (SPEC §8)."""
    print(f"maild: {visible_text(redact(text))}", file=sys.stderr)


# --------------------------------------------------------------------------- commands


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
    import asyncio

    from maild.daemon.worker import Worker

    if args.send_child:
        from maild.daemon.sendproc import serve

        return asyncio.run(serve(app))
    worker = Worker(app)
    if args.once:
        report = asyncio.run(worker.run_once())
        i, d = report.ingest, report.dispatch
        print(
            f"processed {i.processed} message(s) ({_outcomes(i.outcomes)}), skipped {i.skipped}, "
            f"quarantined {i.quarantined}; escalation notices queued {report.escalations}; "
            f"notifications sent {d.sent}, deferred {d.deferred}, failed {d.failed}"
        )
        for error in report.errors:
            _print_error(error)
        return 1 if report.errors else 0
    asyncio.run(worker.run_forever())
    return 0


def _outcomes(outcomes: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "none"


def cmd_account_add(app: App, args: argparse.Namespace) -> int:
    name = args.name.strip()
    if not name:
        raise UsageError("the account name must not be empty")
    domains = [d.strip().lower().lstrip("@") for d in args.domain]
    for d in domains:
        if not re.fullmatch(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?\.[a-z0-9-]+|[a-z0-9-]+", d):
            raise UsageError(f"{d!r} is not a mail domain")
    if args.plan and args.plan not in app.settings.sla.plans:
        raise UsageError(
            f"plan {args.plan!r} is not configured (known: {', '.join(sorted(app.settings.sla.plans))})"
        )
    with app.db.session() as s:
        if s.scalar(select(Account.id).where(Account.name == name)):
            raise MaildError(f"account {name!r} already exists")
        for d in domains:
            if s.scalar(select(AccountDomain.id).where(AccountDomain.domain == d)):
                raise MaildError(f"domain {d} already belongs to another account")
        account = Account(
            name=name, org_id=args.org_id, plan=args.plan or "default", created_at=app.clock.now()
        )
        account.domains = [AccountDomain(domain=d) for d in dict.fromkeys(domains)]
        s.add(account)
    print(f"account {visible(name)} created")
    return 0


def cmd_contact_add(app: App, args: argparse.Namespace) -> int:
    email = _email(args.email, "contact")
    if args.language and not _LANGUAGE.match(args.language):
        raise UsageError(f"{args.language!r} is not a language code like en or ja")
    with app.db.session() as s:
        account = s.execute(select(Account).where(Account.name == args.account.strip())).scalar_one_or_none()
        if account is None:
            raise NotFound(f"account {args.account!r} does not exist")
        if s.scalar(select(Contact.id).where(Contact.email == email)):
            raise MaildError(f"contact {email} already exists")
        if args.primary:
            for other in s.execute(
                select(Contact).where(Contact.account_id == account.id, Contact.primary.is_(True))
            ).scalars():
                other.primary = False
        s.add(
            Contact(
                account_id=account.id,
                email=email,
                name=args.name.strip(),
                language=args.language,
                designated=args.designated or args.primary,
                primary=args.primary,
                created_at=app.clock.now(),
            )
        )
    print(f"contact {visible(email)} created in account {visible(account.name)}")
    return 0


def cmd_agent_add(app: App, args: argparse.Namespace) -> int:
    email = _email(args.email, "agent")
    with app.db.session() as s:
        if s.scalar(select(Agent.id).where(Agent.email == email)):
            raise MaildError(f"agent {email} already exists")
        s.add(Agent(email=email, name=args.name.strip(), manager=args.manager, created_at=app.clock.now()))
    print(f"agent {visible(email)} created")
    return 0


def cmd_case_list(app: App, args: argparse.Namespace) -> int:
    from maild.cases.views import case_summary, case_table

    with app.db.reader() as s:
        query = select(Case).order_by(Case.id)
        if args.status == "open":
            query = query.where(Case.status != "closed")
        elif args.status == "closed":
            query = query.where(Case.status == "closed")
        cases = list(
            s.execute(query.options(selectinload(Case.account), selectinload(Case.primary_contact))).scalars()
        )
        if args.json:
            _print_json([case_summary(c) for c in cases])
        else:
            print(case_table(cases))
    return 0


def cmd_case_show(app: App, args: argparse.Namespace) -> int:
    from maild.cases.views import case_json, case_text

    with app.db.reader() as s:
        case = _case(s, args.number)
        opening = list(
            s.execute(
                select(Attachment).where(Attachment.case_id == case.id, Attachment.comment_id.is_(None))
            ).scalars()
        )
        data = case_json(case, opening)
    if args.json:
        _print_json(data)
    else:
        print(case_text(data))
    return 0


def cmd_case_attachment(app: App, args: argparse.Namespace) -> int:
    from maild.store import blobs

    with app.db.reader() as s:
        case = _case(s, args.number)
        wanted = args.attachment.strip()
        rows = list(s.execute(select(Attachment).where(Attachment.case_id == case.id)).scalars())
        found = [a for a in rows if (str(a.id) == wanted if wanted.isdigit() else a.filename == wanted)]
        if not found:
            raise NotFound(f"case {args.number} has no attachment {wanted!r}")
        if len(found) > 1:
            ids = ", ".join(str(a.id) for a in found)
            raise UsageError(
                f"case {args.number} has {len(found)} attachments named {wanted!r}: give an id ({ids})"
            )
        (attachment,) = found
        if attachment.dropped_reason:
            raise NotFound(f"attachment {attachment.id} was not stored: {attachment.dropped_reason}")
        data = blobs.load(s.connection(), attachment.id)
    if data is None:
        raise NotFound(f"attachment {attachment.id} has no stored bytes")
    if args.output:
        try:
            Path(args.output).write_bytes(data)
        except OSError as e:
            raise MaildError(f"cannot write {args.output}: {e.strerror}") from None
    else:
        sys.stdout.buffer.write(data)
    return 0


def cmd_case_reply(app: App, args: argparse.Namespace) -> int:
    agent_email = _email(args.as_, "agent")
    if args.body_file:
        try:
            body = Path(args.body_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"cannot read --body-file {args.body_file}: {e}") from None
    else:
        body = args.body
    body = body.strip("\n")
    if not body.strip():
        raise UsageError("the reply body is empty")
    with app.db.session() as s:
        case = _case(s, args.number)
        agent = s.execute(select(Agent).where(Agent.email == agent_email)).scalar_one_or_none()
        if agent is None:
            raise NotFound(f"{agent_email} is not an agent (add it with `maild agent add`)")
        row = load_case(s, case.id)
        assert row is not None
        comment = app.service.add_comment(s, row, agent.email, agent.name, "agent", body, body, source="cli")
        queued = app.service.after_comment(s, row, comment, "agent", in_reply_to=None, waiting=args.waiting)
        number, status = row.number, row.status
    print(f"reply added to case {number} (status {status}); {queued} notification(s) queued")
    return 0


def cmd_case_severity(app: App, args: argparse.Namespace) -> int:
    agent_email = _email(args.as_, "agent")
    with app.db.session() as s:
        case = _case(s, args.number)
        if not s.scalar(select(Agent.id).where(Agent.email == agent_email)):
            raise NotFound(f"{agent_email} is not an agent (add it with `maild agent add`)")
        queued = app.service.change_severity(s, case, args.severity, agent_email, args.reason.strip())
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
        case = _case(s, args.number)
        actor = "operator"
        if args.as_:
            actor = _email(args.as_, "closing")
            is_agent = s.scalar(select(Agent.id).where(Agent.email == actor))
            roles = {p.email: p.role for p in case.participants}
            if not may_close("agent" if is_agent else roles.get(actor)):
                raise UsageError(
                    f"{actor} may not close case {case.number}: only its primary contact or an agent"
                )
        if case.status == "closed":
            print(f"case {case.number} is already closed")
            return 0
        queued = app.service.close(s, case, actor)
        number = case.number
    print(f"case {number} closed; {queued} notification(s) queued")
    return 0


def cmd_status(app: App, args: argparse.Namespace) -> int:
    from maild.daemon.health import health_text, snapshot

    with app.db.reader() as s:
        health = snapshot(s, app.clock.now())
    if args.json:
        _print_json(health.as_json())
    else:
        print(health_text(health))
    return 0


def cmd_inbound_list(app: App, args: argparse.Namespace) -> int:
    from maild.cases.views import inbound_json, inbound_table

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    with app.db.reader() as s:
        query = select(InboundMessage).order_by(InboundMessage.id.desc()).limit(args.limit)
        if args.outcome:
            query = query.where(InboundMessage.outcome == args.outcome)
        rows = list(reversed(s.execute(query).scalars().all()))
        if args.json:
            _print_json([inbound_json(r) for r in rows])
        else:
            print(inbound_table(rows))
    return 0


def cmd_inbound_raw(app: App, args: argparse.Namespace) -> int:
    with app.db.reader() as s:
        row = s.get(InboundMessage, args.id)
        if row is None:
            raise NotFound(f"inbound message {args.id} does not exist")
        if row.raw is None:
            raise NotFound(f"inbound message {args.id} was processed; its raw bytes stay in the mailbox")
        sys.stdout.buffer.write(row.raw)
    return 0


def cmd_inbound_release(app: App, args: argparse.Namespace) -> int:
    from maild.cases.held import release

    released = release(
        app.db,
        app.service,
        app.policy,
        app.clock,
        args.id,
        _email(args.as_, "agent"),
        max_attachment_bytes=app.settings.support.max_attachment_size,
    )
    a = released.applied
    print(
        f"inbound message {released.inbound_id} released: {a.outcome}, case {a.case_number or '-'}; "
        f"{a.notifications} notification(s) queued"
    )
    return 0


def cmd_inbound_discard(app: App, args: argparse.Namespace) -> int:
    from maild.cases.held import discard

    discard(app.db, args.id, _email(args.as_, "agent") if args.as_ else None)
    print(f"inbound message {args.id} discarded")
    return 0


COMMANDS: dict[tuple[str, str | None], Callable[[App, argparse.Namespace], int]] = {
    ("run", None): cmd_run,
    ("status", None): cmd_status,
    ("account", "add"): cmd_account_add,
    ("contact", "add"): cmd_contact_add,
    ("agent", "add"): cmd_agent_add,
    ("case", "list"): cmd_case_list,
    ("case", "show"): cmd_case_show,
    ("case", "reply"): cmd_case_reply,
    ("case", "close"): cmd_case_close,
    ("case", "attachment"): cmd_case_attachment,
    ("case", "severity"): cmd_case_severity,
    ("inbound", "list"): cmd_inbound_list,
    ("inbound", "raw"): cmd_inbound_raw,
    ("inbound", "release"): cmd_inbound_release,
    ("inbound", "discard"): cmd_inbound_discard,
}


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from maild.demo.run import run_demo

        return run_demo(Path(args.dir))
    settings = load_settings(config_path(args.config))
    setup_logging(
        settings.logging.level if args.command == "run" else "warning", settings.logging.format, args.debug
    )
    if args.command == "check-config":
        return cmd_check_config(settings, args)
    if args.command == "db":
        return cmd_db_upgrade(settings, args)
    app = App(settings)
    try:
        app.db.check_schema()
        return COMMANDS[(args.command, getattr(args, "sub", None))](app, args)
    finally:
        app.close()


def _brief(error: MaildError, argv: Sequence[str]) -> str:
    """All config problems for check-config; elsewhere the first, and where to see the rest."""
    if isinstance(error, ConfigErrors) and "check-config" not in argv:
        more = len(error.problems) - 1
        return f"{error.problems[0]} (and {more} more problem(s): run `maild check-config`)"
    return str(error)


def main(argv: Sequence[str] | None = None) -> int:
    # What maild creates (the SQLite database, token files) is owner-only (SPEC §8);
    # the caller's mask comes back for those that run main() in-process.
    previous = os.umask(0o077)
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    finally:
        os.umask(previous)


def _main(argv: list[str]) -> int:
    debug = "--debug" in argv
    if debug:
        setup_logging(debug=True)
    try:
        args = build_parser().parse_args(argv)
        return dispatch(args)
    except MaildError as e:
        if debug:
            log.exception("failed")
        _print_error(_brief(e, argv))
        return e.exit_code
    except IntegrityError as e:
        if debug:
            log.exception("failed")
        _print_error(f"the change conflicts with existing data: {str(e.orig).splitlines()[0]}")
        return 1
    except OperationalError as e:
        if debug:
            log.exception("failed")
        _print_error(f"database error: {str(e.orig).strip().splitlines()[0]}")
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if debug:
            log.exception("unexpected error")
        else:
            _print_error(f"unexpected error: {type(e).__name__}: {e} (run with --debug for details)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
