"""The command line of CONTRACT.md: argument parsing and printing only.

Every expected failure is a MaildError whose class carries the exit status
(2 usage/config/not found, 1 anything else) and whose text is one clear
sentence on stderr. A traceback appears only with --debug.

The grammar, with the function each command runs, is in .parser; the
commands by group in .daemon, .people, .cases and .inbound; what they do to
the data is maild.cases'. This module only builds what a command runs on,
calls it and turns failures into exit statuses.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import IntegrityError, OperationalError

from maild.app import App
from maild.cli.daemon import cmd_check_config, cmd_db_upgrade
from maild.cli.output import print_error
from maild.cli.parser import Handler, build_parser
from maild.config import ConfigErrors, config_path, load_settings
from maild.errors import MaildError
from maild.logs import setup_logging

__all__ = ["main"]

log = logging.getLogger("maild")


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from maild.demo.run import run_demo

        # The demo drives maild through this same entry point, as a user would.
        return run_demo(Path(args.dir), main)
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
        if getattr(args, "needs_database", True):  # `auth` works before `db upgrade` and without it
            app.db.check_schema()
        handler: Handler = args.handler
        return handler(app, args)
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
        print_error(_brief(e, argv))
        return e.exit_code
    except IntegrityError as e:
        if debug:
            log.exception("failed")
        print_error(f"the change conflicts with existing data: {str(e.orig).splitlines()[0]}")
        return 1
    except OperationalError as e:
        if debug:
            log.exception("failed")
        print_error(f"database error: {str(e.orig).strip().splitlines()[0]}")
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if debug:
            log.exception("unexpected error")
        else:
            print_error(f"unexpected error: {type(e).__name__}: {e} (run with --debug for details)")
        return 1
