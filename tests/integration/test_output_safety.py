"""SPEC §8 through the command line: no control character printed raw, no password shown, owner-only files.

Mail arrives through a Maildir (no IMAP server needed) and the notifications go
to the test SMTP sink. Some text with raw controls is written straight into
the database, as an older maild or another path could have stored it: the CLI
must show it escaped whatever its source. Every negative check has a positive
control: ordinary text comes out unchanged.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import stat
import subprocess
import sys
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.env import AGENT, ALICE, SUPPORT, YAMADA, MaildEnv, Result

PASSWORD = "s3cretpw"
PG_URL = f"postgresql+psycopg://maild:{PASSWORD}@127.0.0.1:1/x"  # nothing listens on port 1
BIDI = "\u202e"


def raw_controls(text: str) -> list[str]:
    """Characters a terminal would act on: C0 but newline and tab, DEL, C1, the bidi override."""
    return [
        ch for ch in text if (ord(ch) < 0x20 and ch not in "\n\t") or 0x7F <= ord(ch) <= 0x9F or ch == BIDI
    ]


def deliver(maildir: Path, raw: bytes) -> None:
    name = f"{secrets.token_hex(8)}.test"
    (maildir / "tmp" / name).write_bytes(raw)
    (maildir / "tmp" / name).rename(maildir / "new" / name)


def mail(sender: str, name: str, subject: str, body: str, *, html: bool = False) -> bytes:
    m = EmailMessage()
    m["From"] = f"{name} <{sender}>"
    m["To"] = SUPPORT
    m["Subject"] = subject
    m["Message-ID"] = make_msgid(domain="acme.example")
    m.set_content(body, subtype="html" if html else "plain")
    return m.as_bytes(policy=SMTP)


@pytest.fixture
def maildir_env(tmp_path: Path, smtp_sink: Any) -> MaildEnv:
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    env = MaildEnv(
        tmp_path, db_url=f"sqlite:///{tmp_path / 'maild.db'}", imap_port=1, smtp_port=smtp_sink.port
    )
    env.config["mailbox"] = {"protocol": "maildir", "path": str(maildir), "poll_interval": "1s"}
    env.write()
    env.setup_world()
    return env


def db_one(env: MaildEnv, sql: str, *params: object) -> Any:
    with sqlite3.connect(env.workdir / "maild.db") as conn:
        return conn.execute(sql, params).fetchone()[0]


def db_exec(env: MaildEnv, sql: str, *params: object) -> None:
    with sqlite3.connect(env.workdir / "maild.db") as conn:
        conn.execute(sql, params)


def test_cli_never_prints_raw_control_characters(maildir_env: MaildEnv) -> None:
    env = maildir_env
    maildir = env.workdir / "Maildir"
    deliver(
        maildir,
        mail(
            ALICE,
            f"Alice {BIDI}Evil",
            f"Invoice {BIDI}fdp.exe broken",
            f"<p>Hello&#27;[2J there&#x9b;31m and {BIDI}reversed</p><p>Second paragraph.</p>",
            html=True,
        ),
    )
    env.run_once()
    deliver(
        maildir, mail(YAMADA, "山田 太郎", "Printer jam", "Hello,\n\tthe printer on floor 3 is jammed.\n")
    )
    env.run_once()
    hostile, ordinary = (c["number"] for c in sorted(env.cases(), key=lambda c: c["number"]))

    # What the parser stored: entities decoded, and no control character from them.
    description = db_one(env, "SELECT description FROM cases WHERE id = ?", int(hostile))
    assert "Hello[2J there" in description and "\x1b" not in description and "\x9b" not in description
    # Text with raw controls already in the database (an older version, another path) and from the CLI.
    db_exec(env, "UPDATE cases SET subject = subject || ? WHERE id = ?", " \x1b[2J\x9b31m\x07", int(hostile))
    db_exec(
        env,
        "UPDATE inbound_messages SET reason = ?, from_addr = ? WHERE case_id = ?",
        "odd\x1b]0;owned\x07reason",
        f"eve\x1b[2J{BIDI}@acme.example",
        int(hostile),
    )
    reply = f"Fixed\x1b[2J\x9b{BIDI}.\n\tDetails follow.\n"
    env.ok("case", "reply", hostile, "--as", AGENT, "--body", reply)
    subject = db_one(env, "SELECT subject FROM cases WHERE id = ?", int(hostile))
    assert "\x1b[2J" in subject and BIDI in subject

    outputs: dict[str, Result] = {
        " ".join(args): env.ok(*args)
        for args in (
            ("case", "show", hostile),
            ("case", "show", hostile, "--json"),
            ("case", "list"),
            ("case", "list", "--json"),
            ("case", "list", "--status", "all"),
            ("inbound", "list"),
            ("inbound", "list", "--json"),
            ("status",),
            ("status", "--json"),
        )
    }
    for command, result in outputs.items():
        assert not raw_controls(result.out), (command, result.out)
        assert not raw_controls(result.err), (command, result.err)

    shown = outputs[f"case show {hostile}"].out
    assert "\\x1b[2J\\x9b31m\\x07" in shown and "\\u202efdp.exe" in shown
    assert "Fixed\\x1b[2J\\x9b\\u202e.\n\tDetails follow." in shown  # newline and tab kept in bodies
    assert "\\x1b[2J\\x9b31m" in outputs["case list"].out
    assert "eve\\x1b[2J\\u202e@acme.example" in outputs["inbound list"].out
    assert "odd\\x1b]0;owned\\x07reason" in outputs["inbound list"].out

    # JSON carries the stored text exactly: only its printing is escaped.
    data = outputs[f"case show {hostile} --json"].json()
    assert data["subject"] == subject
    assert data["comments"][-1]["body"] == reply.strip("\n")
    listed = {c["number"]: c for c in outputs["case list --json"].json()}
    assert listed[hostile]["subject"] == subject
    inbound = {m["case"]: m for m in outputs["inbound list --json"].json()}
    assert inbound[hostile]["from"] == f"eve\x1b[2J{BIDI}@acme.example"
    assert inbound[hostile]["reason"] == "odd\x1b]0;owned\x07reason"

    # Positive control: ordinary text, Japanese included, prints unchanged.
    plain = env.ok("case", "show", ordinary).out
    assert f"Case {ordinary}: Printer jam" in plain
    assert "Hello,\n\tthe printer on floor 3 is jammed." in plain
    assert "yamada@acme.example" in plain
    plain_json = env.ok("case", "show", ordinary, "--json")
    assert '"subject": "Printer jam"' in plain_json.out and plain_json.json()["subject"] == "Printer jam"
    assert f"{ordinary:<9}" in outputs["case list"].out and "Printer jam" in outputs["case list"].out


def test_errors_quoting_user_input_show_controls(maildir_env: MaildEnv) -> None:
    env = maildir_env
    for args in (
        ("case", "show", "12\x1b[2J"),
        ("case", "frobnicate\x9b"),
        ("case", "list", "--status", f"open{BIDI}"),
        ("case", "list", "extra\x1b[2J"),
        ("agent", "add", "x\x1b[2J@example.com"),
        ("case", "reply", "1", "--as", AGENT, "--body-file", "/nonexistent/\x1b[2J"),
    ):
        r = env.run(*args)
        assert r.code != 0, args
        assert r.err.startswith("maild: ") and not raw_controls(r.err + r.out), (args, r.err)
    # Positive control: an ordinary not-found message reads as before.
    r = env.run("case", "show", "99999")
    assert r.code == 2 and r.err == "maild: case 99999 does not exist\n"


# ---------------------------------------------------------------- secrets


def maild_process(config: Path, *args: str, umask: int | None = None) -> subprocess.CompletedProcess[str]:
    """A real `python -m maild`, optionally started under a given umask."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILD_")}

    def set_umask() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run(
        [sys.executable, "-m", "maild", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
        preexec_fn=set_umask,
    )


@pytest.mark.parametrize(
    "url",
    [PG_URL, PG_URL.replace("postgresql+psycopg:", "postgres:"), PG_URL.replace(":1/", ":bad/")],
    ids=["refused", "postgres-scheme", "bad-port"],
)
def test_database_password_is_never_printed(tmp_path: Path, url: str) -> None:
    env = MaildEnv(tmp_path, db_url=url, imap_port=1, smtp_port=1)
    valid_url = url.startswith("postgresql+psycopg:")
    for args in (
        ("check-config",),
        ("--debug", "check-config"),
        ("case", "list"),
        ("--debug", "case", "list"),
        ("db", "upgrade"),
        ("status",),
        ("--debug", "run", "--once"),
    ):
        proc = maild_process(env.config_path, *args)
        assert PASSWORD not in proc.stdout + proc.stderr, (args, proc.stdout, proc.stderr)
        if args[-1] == "check-config":
            assert proc.returncode == (0 if valid_url else 2), proc.stderr
            if not valid_url:
                assert "maild:***@127.0.0.1" in proc.stderr  # the URL is still named, its password masked
        else:
            assert proc.returncode != 0
            if url == PG_URL and "--debug" not in args:  # positive control: the error still says what failed
                assert "Connection refused" in proc.stderr, proc.stderr


# ---------------------------------------------------------------- owner-only files


def test_database_and_directories_maild_creates_are_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "new" / "deeper" / "maild.db"
    env = MaildEnv(tmp_path, db_url=f"sqlite:///{db}", imap_port=1, smtp_port=1)
    proc = maild_process(env.config_path, "db", "upgrade", umask=0o022)
    assert proc.returncode == 0, proc.stderr
    for directory in (tmp_path / "new", tmp_path / "new" / "deeper"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    files = [p for p in db.parent.iterdir() if p.name.startswith("maild.db")]
    assert db in files
    for path in files:  # the database, its -wal/-shm if present, the write lock
        assert path.stat().st_mode & 0o077 == 0, (path, oct(path.stat().st_mode))
    # A second command (the daemon opening WAL files, say) keeps them so.
    proc = maild_process(env.config_path, "case", "list", umask=0o022)
    assert proc.returncode == 0, proc.stderr
    for path in db.parent.iterdir():
        assert path.stat().st_mode & 0o077 == 0, (path, oct(path.stat().st_mode))


def test_an_existing_database_keeps_the_operators_mode(tmp_path: Path) -> None:
    db = tmp_path / "maild.db"
    db.touch(mode=0o640)
    os.chmod(db, 0o640)
    env = MaildEnv(tmp_path, db_url=f"sqlite:///{db}", imap_port=1, smtp_port=1)
    proc = maild_process(env.config_path, "db", "upgrade", umask=0o022)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(db.stat().st_mode) == 0o640  # positive control: not maild's to change


def test_main_in_process_restores_the_callers_umask(tmp_path: Path) -> None:
    env = MaildEnv(tmp_path, db_url=f"sqlite:///{tmp_path / 'maild.db'}", imap_port=1, smtp_port=1)
    previous = os.umask(0o022)
    try:
        env.ok("db", "upgrade")
        assert os.umask(0o022) == 0o022
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "maild.db").stat().st_mode) == 0o600
