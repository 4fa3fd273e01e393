"""`maild deliver [--mailbox LABEL]`: one message on stdin from an MTA's pipe transport.

A pipe transport starts one process per message, so what this costs is
mostly Python's imports: the command line, SQLAlchemy and the database
driver take over half a second of CPU. So there are two paths:

* with `[lmtp]` configured and the daemon's listener answering, the message
  goes to it over LMTP (the standard library's smtplib only, as RT's
  rt-mailgate posts to the running server) and the answer becomes the exit
  status; this module and the settings are all that is imported.
* otherwise (no `[lmtp]`, the daemon stopped, the connection lost half-way)
  it is recorded here, with the full ingest pipeline
  (maild.daemon.delivery), under the same exactly-once rules.

Both record under the same mailbox name and key (the hash of the bytes), so
a message that reached the daemon before the connection broke is
recognised when it is recorded here, and an MTA's retry adds nothing.

Exit statuses (sysexits.h, as MTAs read them): 0 recorded (whatever its
outcome); 75 EX_TEMPFAIL, the database is unavailable (or any failure that
leaves nothing recorded), so the MTA keeps the message and retries; 65
EX_DATAERR, refused for good (over `[lmtp] max_message_size`), so the MTA
bounces it; 2 bad usage or an invalid config. No traceback without --debug.

The `maild` program's entry (maild.entry) sends `deliver` here without
importing maild.cli; `maild --help` lists it through maild.cli.parser.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from maild.config import Settings, config_path, load_settings
from maild.configtransport import LmtpSettings
from maild.errors import MaildError, TransientError, UsageError
from maild.logs import setup_logging

if TYPE_CHECKING:
    from maild.app import App

__all__ = ["EX_DATAERR", "EX_TEMPFAIL", "add_arguments", "cmd_deliver", "main"]

log = logging.getLogger("maild.deliver")

EX_OK = 0
EX_USAGE = 2  # CONTRACT.md: 2 on bad usage, as every maild command
EX_DATAERR = 65
EX_TEMPFAIL = 75
DEFAULT_MAX_SIZE = 50 * 1024 * 1024  # without [lmtp]: the listener's default limit
LISTENER_TIMEOUT = 120.0  # seconds for each step of the hand-over to the daemon
LHLO_NAME = "localhost"  # not smtplib's default, socket.getfqdn(): a DNS lookup per message


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see --help)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """deliver's own options, for this parser and maild.cli.parser's (one grammar)."""
    parser.add_argument(
        "--mailbox",
        metavar="LABEL",
        help="record it as if it had arrived in [mailboxes.LABEL] (default: the 'local' mailbox)",
    )


def _parse(argv: list[str]) -> argparse.Namespace:
    p = _Parser(prog="maild", description="Email-driven support cases.")
    p.add_argument("--config", help="config file (default: $MAILD_CONFIG or /etc/maild/maild.toml)")
    p.add_argument("--debug", action="store_true", help="show debug logs and tracebacks")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add_arguments(sub.add_parser("deliver", help="read one message on stdin and record it now"))
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    """`maild [--config F] [--debug] deliver [--mailbox LABEL]`: the exit status (see above)."""
    import os

    previous = os.umask(0o077)  # as maild.cli.main: what maild creates is owner-only
    debug = "--debug" in argv
    setup_logging("warning", debug=debug)
    try:
        return _deliver(_parse(argv))
    except MaildError as e:
        log.debug("failed", exc_info=True)
        _say(str(e))
        return EX_USAGE if isinstance(e, UsageError) else EX_TEMPFAIL
    except KeyboardInterrupt:
        return EX_TEMPFAIL
    except Exception as e:  # whatever it is, nothing was recorded: the MTA keeps the message
        log.debug("unexpected error", exc_info=True)
        _say(f"unexpected error: {type(e).__name__}: {e} (run with --debug for details)")
        return EX_TEMPFAIL
    finally:
        os.umask(previous)


def _say(text: str) -> None:
    from maild.safetext import shown

    print(f"maild: {shown(text)}", file=sys.stderr)


def _deliver(args: argparse.Namespace) -> int:
    settings = load_settings(config_path(args.config))
    if args.mailbox is not None:
        settings.mailbox_by_label(args.mailbox)  # an unknown label is a usage error, before reading
    raw = _read_stdin(settings.lmtp.max_message_size if settings.lmtp else DEFAULT_MAX_SIZE)
    if raw is None:
        return EX_DATAERR
    if settings.lmtp is not None:
        status = via_listener(settings.lmtp, raw, settings.support.address, args.mailbox)
        if status is not None:
            return status
        log.debug("the LMTP listener did not answer: recording in this process")
    return _in_process(settings, raw, args.mailbox)


def as_delivered(raw: bytes) -> bytes:
    """The bytes as LMTP carries them: no mbox "From " line (it holds the time), CRLF line ends.

    A pipe transport writes LF line ends and may prefix a "From sender date"
    line (Exim by default, Postfix with flag F); without both changes a retry
    of the same message would not be recognised by the hash of its bytes.
    """
    if raw.startswith(b"From "):
        raw = raw.partition(b"\n")[2]
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def via_listener(lmtp: LmtpSettings, raw: bytes, recipient: str, label: str | None) -> int | None:
    """Hand the message to the daemon's listener; its exit status, or None when it did not answer.

    None also when the connection broke half-way: the message may be
    recorded already, which the in-process path then recognises.
    """
    import smtplib

    try:
        if lmtp.unix_path is not None:
            client = smtplib.LMTP(str(lmtp.unix_path), local_hostname=LHLO_NAME, timeout=LISTENER_TIMEOUT)
        else:
            host, port = lmtp.host_port
            client = smtplib.LMTP(host, port, local_hostname=LHLO_NAME, timeout=LISTENER_TIMEOUT)
    except (OSError, smtplib.SMTPException):  # not listening, or not maild's listener
        return None
    try:
        if client.ehlo()[0] != 250:  # LHLO: anything else is not maild's listener either
            return None
        code, text = client.mail("", [f"X-MAILD-MAILBOX={label}"] if label is not None else [])
        if code == 250:
            code, text = client.rcpt(recipient)
        if code == 250:
            code, text = client.data(raw)
        return _status(code, text)
    except smtplib.SMTPServerDisconnected:
        return None
    except smtplib.SMTPResponseException as e:
        return None if e.smtp_code == 421 else _status(e.smtp_code, e.smtp_error)
    except (smtplib.SMTPException, OSError):
        return None
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


def _status(code: int, text: bytes | str) -> int | None:
    """An LMTP answer as an exit status: 2xx 0, 4xx 75 (421, the daemon stopping: try here), 5xx 65."""
    if 200 <= code < 300:
        return EX_OK
    if code == 421:
        return None
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    _say(f"the daemon answered {code} {said}")
    return EX_TEMPFAIL if 400 <= code < 500 else EX_DATAERR


def _in_process(settings: Settings, raw: bytes, label: str | None) -> int:
    """Record the message with the full pipeline here (the imports the fast path avoids)."""
    from maild.app import App

    app = App(settings)
    try:
        app.db.check_schema()
        return _record(app, raw, label)
    except MaildError as e:
        if isinstance(e, UsageError):
            raise
        _say(f"not recorded, the MTA will try again: {e}")
        return EX_TEMPFAIL
    finally:
        app.close()


def _record(app: App, raw: bytes, label: str | None) -> int:
    from maild.daemon.delivery import LOCAL_MAILBOX, LocalDelivery

    mailbox = app.settings.mailbox_by_label(label).name if label is not None else LOCAL_MAILBOX
    try:
        outcome = LocalDelivery.for_app(app).deliver(raw, mailbox)
    except TransientError as e:
        _say(f"not recorded, the MTA will try again: {e}")
        return EX_TEMPFAIL
    log.debug("recorded: %s", outcome)
    return EX_OK


def cmd_deliver(app: App, args: argparse.Namespace) -> int:
    """`maild deliver` reached through maild.cli (its main called in-process): always in-process."""
    raw = _read_stdin(app.settings.lmtp.max_message_size if app.settings.lmtp else DEFAULT_MAX_SIZE)
    if raw is None:
        return EX_DATAERR
    return _record(app, raw, args.mailbox)


def _read_stdin(limit: int) -> bytes | None:
    """The message on stdin as both paths record it (as_delivered); None, said, when over `limit`.

    Reads at most one byte past the limit, so an endless stdin costs no more memory than the limit.
    """
    raw = sys.stdin.buffer.read(limit + 1)
    if not raw.strip():
        raise UsageError("deliver: no message on stdin")
    if len(raw) > limit:
        _say(f"message refused: it exceeds the size limit of {limit} bytes")
        return None
    return as_delivered(raw)
