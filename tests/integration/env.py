"""Driving maild through its command line against real servers, for the end-to-end tests.

`MaildEnv` writes a config for the test's Dovecot, SMTP sink and database,
runs CLI commands in-process (fast) or as real processes (for the daemon,
signals and crashes), and reads results only through the public interface:
`case show --json`, `case list --json`, and what the sink received.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from pathlib import Path
from typing import Any

from maild.cli import main as maild_main
from maild.clock import SystemClock

SUPPORT = "support@example.com"
MANAGERS = "support-managers@example.com"
AGENT = "agent@example.com"
ALICE = "alice@acme.example"  # designated, primary
BOB = "bob@acme.example"  # contact, not designated
YAMADA = "yamada@acme.example"  # designated, ja
DAVE = "dave@acme.example"  # designated, never in the test cases' sharing settings
OPS = "ops-team@acme.example"  # not a contact
MALLORY = "mallory@evil.example"
HELPDESK = "Please contact your company's help desk (HD-4711)."


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    lines: list[str] = []
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    if prefix and scalars:
        lines.append(f"[{prefix}]")
    for k, v in scalars.items():
        key = k if k.replace("_", "").isalnum() else json.dumps(k)
        lines.append(f"{key} = {toml_value(v)}")
    for k, v in tables.items():
        lines.append(to_toml(v, f"{prefix}.{k}" if prefix else k))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class OutboxRow:
    """One queued notification as the database holds it: the retry state no command prints."""

    recipient: str
    event: str
    message_id: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime


class MaildEnv:
    def __init__(
        self,
        workdir: Path,
        *,
        db_url: str,
        imap_port: int,
        smtp_port: int,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        self.workdir = workdir
        self.config_path = workdir / "maild.toml"
        self.config: dict[str, Any] = {
            "database": {"url": db_url},
            "mailbox": {
                "protocol": "imap",
                "host": "127.0.0.1",
                "port": imap_port,
                "security": "none",
                "username": "support",
                "password": "secret",
                "folder": "INBOX",
                "poll_interval": "1s",
            },
            "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none"},
            "support": {
                "address": SUPPORT,
                "name": "Example Support",
                "secret": "e2e-" + secrets.token_hex(16),
                "helpdesk_message": HELPDESK,
                "default_severity": 3,
                "default_language": "en",
            },
            "sla": {"initial_response": {"1": "1h", "2": "2h", "3": "4h", "4": "8h"}},
            "escalation": {"recipients": [MANAGERS], "notify_contacts": True},
            "outbox": {"retry_initial": "1s", "retry_max": "2s"},
        }
        for dotted, value in (overrides or {}).items():
            self.set(dotted, value, write=False)
        self.write()

    def set(self, dotted: str, value: Any, write: bool = True) -> None:
        *path, last = dotted.split(".")
        table = self.config
        for p in path:
            table = table.setdefault(p, {})
        if value is None:
            table.pop(last, None)
        else:
            table[last] = value
        if write:
            self.write()

    def write(self) -> None:
        self.config_path.write_text(to_toml(self.config), encoding="utf-8")

    # ------------------------------------------------------------------ commands

    def run(self, *args: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = maild_main(["--config", str(self.config_path), *args])
        return Result(code, out.getvalue(), err.getvalue())

    def ok(self, *args: str) -> Result:
        r = self.run(*args)
        assert r.code == 0, f"maild {' '.join(args)} exited {r.code}\nstdout: {r.out}\nstderr: {r.err}"
        return r

    def run_process(self, *args: str) -> bytes:
        """A real `python -m maild` process; its stdout as bytes (for binary output)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILD_")}
        proc = subprocess.run(
            [sys.executable, "-m", "maild", "--config", str(self.config_path), *args],
            capture_output=True,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        return proc.stdout

    def smtp_connections(self) -> int:
        """[smtp] connections as this config sets it: a crash can re-send one message per connection."""
        from maild.config import load_settings

        return load_settings(self.config_path).smtp.connections

    def outbox(self) -> list[OutboxRow]:
        """Every outbox row, in the order queued (times aware UTC, as maild stores them)."""
        from sqlalchemy import select

        from maild.store.db import Database
        from maild.store.models import Outbox

        db = Database(str(self.config["database"]["url"]))
        try:
            with db.reader() as s:
                return [
                    OutboxRow(
                        r.recipient,
                        r.event,
                        r.message_id,
                        r.status,
                        r.attempts,
                        r.next_attempt_at,
                        r.last_error,
                        r.created_at,
                    )
                    for r in s.scalars(select(Outbox).order_by(Outbox.id))
                ]
        finally:
            db.dispose()

    def run_once(self) -> Result:
        return self.ok("run", "--once")

    def case(self, number: str) -> dict[str, Any]:
        return self.ok("case", "show", number, "--json").json()  # type: ignore[no-any-return]

    def cases(self, status: str = "all") -> list[dict[str, Any]]:
        return self.ok("case", "list", "--status", status, "--json").json()  # type: ignore[no-any-return]

    def setup_world(self) -> None:
        self.ok("db", "upgrade")
        self.ok("account", "add", "Acme", "--domain", "acme.example", "--org-id", "00D000000000ACME")
        self.ok(
            "contact",
            "add",
            ALICE,
            "--account",
            "Acme",
            "--name",
            "Alice Example",
            "--designated",
            "--primary",
            "--language",
            "en",
        )
        self.ok("contact", "add", BOB, "--account", "Acme", "--name", "Bob Builder", "--language", "en")
        self.ok(
            "contact",
            "add",
            YAMADA,
            "--account",
            "Acme",
            "--name",
            "山田 太郎",
            "--designated",
            "--language",
            "ja",
        )
        self.ok("contact", "add", DAVE, "--account", "Acme", "--name", "Dave Designated", "--designated")
        self.ok("agent", "add", AGENT, "--name", "Agnes Agent")

    # ------------------------------------------------------------------ the daemon as a real process

    def start_daemon(
        self, name: str = "daemon", extra_env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """`maild run` as a real process; `extra_env` for test seams such as MAILD_FAULT_HANG_SUBJECT."""
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILD_")} | (extra_env or {})
        return subprocess.Popen(
            [sys.executable, "-m", "maild", "--config", str(self.config_path), "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )

    def daemon_log(self, name: str = "daemon") -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    return proc.wait(timeout)


def wait_until(
    predicate: Callable[[], Any], timeout: float = 30, what: str = "condition", interval: float = 0.1
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ------------------------------------------------------------------ mail


def message(
    sender: str,
    subject: str,
    body: str,
    *,
    name: str = "",
    to: str | Iterable[str] = SUPPORT,
    cc: Iterable[str] = (),
    headers: dict[str, str] | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    message_id: str | None = None,
    charset: str = "utf-8",
    attachments: Iterable[tuple[str, bytes, str]] = (),
) -> bytes:
    m = EmailMessage()
    m["From"] = f"{name} <{sender}>" if name else sender
    m["To"] = to if isinstance(to, str) else ", ".join(to)
    cc = list(cc)
    if cc:
        m["Cc"] = ", ".join(cc)
    m["Subject"] = subject
    m["Date"] = format_datetime(SystemClock().now())
    m["Message-ID"] = message_id or make_msgid(domain=sender.rsplit("@", 1)[-1])
    if in_reply_to:
        m["In-Reply-To"] = in_reply_to
    if references:
        m["References"] = references
    for k, v in (headers or {}).items():
        m[k] = v
    m.set_content(body, charset=charset)
    for filename, data, ctype in attachments:
        maintype, subtype = ctype.split("/", 1)
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return m.as_bytes(policy=policy.SMTP)


def reply_to_note(
    note: EmailMessage,
    sender: str,
    text: str,
    *,
    name: str = "",
    quote: bool = True,
    to: str | None = None,
    subject: str | None = None,
    thread: bool = True,
) -> bytes:
    """A reply as a mail client writes it: to the Reply-To, threaded, with the original quoted below."""
    original = note.get_body(preferencelist=("plain",))
    quoted_text = original.get_content() if original is not None else ""
    body = text + "\n"
    if quote:
        quoted = "\n".join("> " + line for line in str(quoted_text).splitlines())
        body += f"\nOn {note['Date']}, Example Support <{SUPPORT}> wrote:\n{quoted}\n"
    mid = str(note["Message-ID"])
    refs = f"{note.get('References', '')} {mid}".strip()
    return message(
        sender,
        subject or f"Re: {note['Subject']}",
        body,
        name=name,
        to=to or reply_address_of(note),
        in_reply_to=mid if thread else None,
        references=refs if thread else None,
    )


def reply_address_of(note: EmailMessage) -> str:
    addrs = [a for _n, a in getaddresses([str(v) for v in note.get_all("Reply-To", [])])]
    assert len(addrs) == 1, f"expected one Reply-To, got {addrs}"
    return addrs[0]


def resent_copies(sent: Iterable[Any], limit: int) -> Counter[str]:
    """Copies per Message-ID of what an SMTP server took; asserts that re-sends are exact copies.

    After a crash maild may send again a notification the server took but
    whose answer it never recorded (SPEC §6, README "Exactly once"): at most
    one per SMTP connection in flight, `limit` in all, each the same bytes
    under the same Message-ID, so a mail client shows it once. Any other
    difference (a second notification for the same event) is a real duplicate.
    """
    copies: dict[str, list[Any]] = {}
    for m in sent:
        copies.setdefault(str(m.msg["Message-ID"]).strip(), []).append(m)
    for message_id, group in copies.items():
        assert all(m.raw == group[0].raw for m in group), f"{message_id}: a re-send differs from the first"
        assert all(list(m.rcpt_tos) == list(group[0].rcpt_tos) for m in group), message_id
    counts = Counter({message_id: len(group) for message_id, group in copies.items()})
    extra = {message_id: n - 1 for message_id, n in counts.items() if n > 1}
    assert sum(extra.values()) <= limit, f"more re-sends than SMTP connections ({limit}): {extra}"
    return counts


def text_of(note: EmailMessage) -> str:
    part = note.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""
