"""Local delivery (SPEC §9): an MTA-style LMTP client against a real `maild run`, and `maild deliver`.

The client is the standard library's smtplib.LMTP, driven as an MTA drives
LMTP: LHLO, MAIL, one RCPT per recipient, DATA, then one reply per accepted
recipient. Everything is checked through the public interface (`inbound
list --json`, `case list --json`, exit statuses, the SMTP sink).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import smtplib
import socket
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg

from tests.integration.env import ALICE, BOB, SUPPORT, MaildEnv, message, reply_to_note, stop, wait_until
from tests.integration.smtp_servers import free_port
from tests.integration.tcp_proxy import TcpProxy

STRANGER = "someone@elsewhere.example"


def lmtp_send(
    address: str, recipients: list[str], raw: bytes, mail_options: tuple[str, ...] = ()
) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """One LMTP transaction: each recipient's RCPT code, and the DATA replies (one per accepted one)."""
    if address.startswith("unix:"):
        client = smtplib.LMTP(address[len("unix:") :], timeout=60)
    else:
        host, port = address.rsplit(":", 1)
        client = smtplib.LMTP(host, int(port), timeout=60)
    try:
        code, _ = client.ehlo("mta.example")
        assert code == 250
        code, _ = client.mail("bounces@mta.example", list(mail_options))
        if code != 250:
            return {}, [(code, "MAIL")]
        rcpt = {r: client.rcpt(r)[0] for r in recipients}
        accepted = [r for r, c in rcpt.items() if c == 250]
        if not accepted:
            return rcpt, []
        code, text = client.data(raw)
        replies = [(code, text.decode())]
        for _ in accepted[1:]:
            code, text = client.getreply()
            replies.append((code, text.decode()))
        return rcpt, replies
    finally:
        client.quit()


def inbound(env: MaildEnv) -> list[dict[str, Any]]:
    return env.ok("inbound", "list", "--limit", "1000", "--json").json()  # type: ignore[no-any-return]


def use_lmtp(env: MaildEnv, listen: str, *, max_size: str | None = None, mailbox: bool = False) -> None:
    if not mailbox:
        env.set("mailbox", None)
    env.set("lmtp.listen", listen)
    if max_size is not None:
        env.set("lmtp.max_message_size", max_size)


def start_listening(env: MaildEnv, name: str = "daemon", **extra: str) -> subprocess.Popen[bytes]:
    daemon = env.start_daemon(name, extra_env=extra or None)
    wait_until(lambda: "LMTP listening" in env.daemon_log(name), timeout=30, what="the LMTP listener")
    return daemon


def deliver(env: MaildEnv, raw: bytes, *args: str, debug: bool = False) -> subprocess.CompletedProcess[bytes]:
    """`maild deliver` as a pipe transport runs it: a real process, the message on stdin."""
    options = ["--config", str(env.config_path), *(["--debug"] if debug else [])]
    return subprocess.run(
        [sys.executable, "-m", "maild", *options, "deliver", *args],
        input=raw,
        capture_output=True,
        timeout=120,
        check=False,
    )


def short_socket(tmp_path: Path) -> str:
    """A unix socket path short enough for AF_UNIX (108 bytes), under the test's own directory."""
    path = tmp_path / "lmtp.sock"
    return f"unix:{path}" if len(str(path)) < 100 else f"unix:/tmp/maild-lmtp-{secrets.token_hex(4)}.sock"


# ------------------------------------------------------------------ the listener


def test_mixed_mail_over_lmtp_gets_per_recipient_answers_after_the_commit(
    env: MaildEnv, tmp_path: Path, smtp_sink: Any
) -> None:
    """[lmtp] without [mailbox]: new case, reply, duplicate, junk, oversize, several recipients."""
    listen = short_socket(tmp_path)
    use_lmtp(env, listen, max_size="20KB")
    daemon = start_listening(env)
    try:
        first = message(ALICE, "Printer on fire", "It is on fire.", message_id="<fire-1@acme.example>")
        rcpt, replies = lmtp_send(listen, [SUPPORT, "support+tag@example.com", STRANGER], first)
        assert rcpt == {SUPPORT: 250, "support+tag@example.com": 250, STRANGER: 550}
        assert [code for code, _ in replies] == [250, 250], replies
        assert "case_opened" in replies[0][1]
        (case,) = env.cases()

        ack = wait_until(
            lambda: [m for m in smtp_sink.messages() if ALICE in m.rcpt_tos],
            what="the acknowledgement, sent as soon as the case opened",
        )[0]
        follow_up = reply_to_note(ack.msg, ALICE, "Still burning.")
        _, replies = lmtp_send(listen, [SUPPORT], follow_up)
        assert replies[0][0] == 250 and "comment_added" in replies[0][1], replies

        # The same Message-ID, other bytes (another route): recorded as a duplicate, answered 250.
        copy = first.replace(b"It is on fire.", b"It is on fire!")
        _, replies = lmtp_send(listen, [SUPPORT], copy)
        assert replies == [(250, replies[0][1])] and "duplicate" in replies[0][1]

        junk = b"\x00\xff\xfe not a message at all \x1b[2J\r\n\r\n\xc3\x28"
        _, replies = lmtp_send(listen, [SUPPORT], junk)
        assert replies[0][0] == 250, replies
        _, replies = lmtp_send(listen, [SUPPORT], junk)
        assert replies[0][0] == 250, "junk delivered again: recognised by its bytes"

        big = message(BOB, "Huge", "x" * 30_000)
        rcpt, replies = lmtp_send(listen, [SUPPORT, "support+big@example.com"], big)
        assert [code for code, _ in replies] == [552, 552], replies
        assert all(text.startswith("5.3.4") for _, text in replies)
        _, replies = lmtp_send(listen, [SUPPORT], big, ("SIZE=30000",))
        assert replies == [(552, "MAIL")], "SIZE= over the limit is refused at MAIL"

        # The first message again, byte for byte (an MTA retry): 250, nothing added.
        _, replies = lmtp_send(listen, [SUPPORT], first)
        assert replies[0][0] == 250
        assert daemon.poll() is None
    finally:
        assert stop(daemon) == 0
    rows = inbound(env)
    assert len(rows) == 4, rows
    assert {r["mailbox"] for r in rows} == {"local"}
    assert Counter(r["outcome"] for r in rows)["duplicate"] == 1
    assert [c["number"] for c in env.cases()] == [case["number"]]
    assert [c["body"] for c in env.case(case["number"])["comments"]] == ["Still burning."]
    assert not Path(listen[len("unix:") :]).exists(), "the socket file is removed on stop"
    assert "Traceback" not in env.daemon_log()


def test_a_database_outage_answers_451_and_nothing_is_lost_or_doubled(
    pg_env: MaildEnv, postgres_url: str
) -> None:
    """PostgreSQL behind a proxy that goes down in the middle: 451 while down, 250 after, once each."""
    env = pg_env
    real = env.config["database"]["url"]
    proxy = TcpProxy("127.0.0.1", 5432).up()
    env.set("database.url", real.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/"))
    listen = f"127.0.0.1:{free_port()}"
    use_lmtp(env, listen)
    daemon = start_listening(env)
    try:
        before = message(ALICE, "Before the outage", "x")
        assert lmtp_send(listen, [SUPPORT], before)[1][0][0] == 250
        proxy.down()
        during = [message(ALICE, f"During the outage {i}", "x", cc=(BOB,)) for i in range(3)]
        for raw in during:
            _, replies = lmtp_send(listen, [SUPPORT, "support+2@example.com"], raw)
            assert [code for code, _ in replies] == [451, 451], replies
            assert all(text.startswith("4.3.0") for _, text in replies)
        # `maild deliver` through the listener gets the same answer as an exit status.
        assert deliver(env, during[0]).returncode == 75
        proxy.up()
        for raw in [*during, before]:  # the MTA retries everything it was not told 250 for, and more
            assert lmtp_send(listen, [SUPPORT], raw)[1][0][0] == 250
        assert daemon.poll() is None
    finally:
        assert stop(daemon) == 0
        proxy.down()
    env.set("database.url", real)
    subjects = Counter(r["subject"] for r in inbound(env))
    assert subjects == Counter(["Before the outage"] + [f"During the outage {i}" for i in range(3)])
    assert len(env.cases()) == 4
    log = env.daemon_log()
    assert "LMTP message deferred (451)" in log
    assert "Traceback" not in log
    with psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,), "the real server was never touched"


def test_a_redelivery_after_kill_9_is_recorded_once(env: MaildEnv, tmp_path: Path) -> None:
    """Killed with a message in hand (no answer given), and killed after answering: each recorded once."""
    listen = f"127.0.0.1:{free_port()}"
    use_lmtp(env, listen, mailbox=True)
    answered = message(ALICE, "Answered, then killed", "x")
    hanging = message(ALICE, "HANG-HERE while recording", "x")
    daemon = start_listening(env, "first", MAILD_FAULT_HANG_SUBJECT="HANG-HERE")
    try:
        assert lmtp_send(listen, [SUPPORT], answered)[1][0][0] == 250
        client = subprocess.Popen(
            [sys.executable, "-c", _SEND_ONE, listen],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert client.stdin is not None
        client.stdin.write(hanging)
        client.stdin.close()
        wait_until(lambda: "hanging on purpose" in env.daemon_log("first"), what="the hang")
    finally:
        stop(daemon, signal.SIGKILL)
    assert client.wait(timeout=30) == 0
    assert client.stdout is not None
    out = client.stdout.read()
    assert b"250" not in out, "no success answer for a message whose transaction never committed"
    daemon = start_listening(env, "second")
    try:
        for raw in (answered, hanging, answered):
            assert lmtp_send(listen, [SUPPORT], raw)[1][0][0] == 250
    finally:
        assert stop(daemon) == 0
    subjects = Counter(r["subject"] for r in inbound(env))
    assert subjects == {"Answered, then killed": 1, "HANG-HERE while recording": 1}
    assert len(env.cases()) == 2


# The MTA side of the kill test: send one message, print what came back (or the disconnect).
_SEND_ONE = """
import smtplib, sys
host, port = sys.argv[1].rsplit(":", 1)
c = smtplib.LMTP(host, int(port), timeout=60)
c.ehlo("mta.example"); c.mail("bounces@mta.example"); c.rcpt("support@example.com")
try:
    print(c.data(sys.stdin.buffer.read()))
except smtplib.SMTPServerDisconnected as e:
    print("disconnected", e)
"""


def test_an_unknown_command_and_lmtp_rules(env: MaildEnv) -> None:
    """HELO is not LMTP, DATA needs a recipient, a stray recipient is refused by name."""
    listen = f"127.0.0.1:{free_port()}"
    use_lmtp(env, listen)
    daemon = start_listening(env)
    try:
        host, port = listen.rsplit(":", 1)
        c = smtplib.LMTP(host, int(port), timeout=30)
        assert c.helo("mta.example")[0] == 500
        assert c.docmd("MAIL", "FROM:<a@b.example>")[0] == 503, "LHLO first"
        assert c.ehlo("mta.example")[0] == 250
        assert "x-maild-mailbox" in c.esmtp_features and c.esmtp_features["size"] == str(50 * 1024 * 1024)
        assert c.mail("a@b.example")[0] == 250
        assert c.rcpt(STRANGER)[0] == 550
        assert c.docmd("DATA")[0] == 503
        assert c.rset()[0] == 250
        assert c.docmd("FOO")[0] == 500
        assert c.mail("a@b.example", ["X-MAILD-MAILBOX=nosuch"])[0] == 501
        c.quit()
    finally:
        assert stop(daemon) == 0
    assert inbound(env) == []


# ------------------------------------------------------------------ maild deliver


def test_deliver_in_process_exit_statuses(env: MaildEnv, postgres_url: str) -> None:
    """No [lmtp]: recorded here. 0 recorded (again: nothing added), 65 too big, 2 usage, 75 database down."""
    raw = message(ALICE, "Piped in", "from a pipe transport")
    assert deliver(env, raw).returncode == 0
    # Exim's pipe prefix and LF line ends: the same message, recognised.
    lf = b"From bounces@mta.example Sat Dec  5 10:00:00 2026\n" + raw.replace(b"\r\n", b"\n")
    result = deliver(env, lf)
    assert result.returncode == 0 and result.stderr == b""
    rows = inbound(env)
    assert [(r["subject"], r["mailbox"], r["outcome"]) for r in rows] == [
        ("Piped in", "local", "case_opened")
    ]

    assert deliver(env, b"").returncode == 2
    bad = deliver(env, raw, "--mailbox", "nosuch")
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr
    env.set("lmtp.listen", f"127.0.0.1:{free_port()}")  # nobody listens: recorded in-process
    env.set("lmtp.max_message_size", "10KB")
    too_big = deliver(env, message(BOB, "Huge", "x" * 20_000))
    assert too_big.returncode == 65 and b"size limit" in too_big.stderr
    unreachable = postgres_url.rsplit("@", 1)[0] + f"@127.0.0.1:{free_port()}/nothing"
    env.set("database.url", unreachable)
    down = deliver(env, message(BOB, "Database down", "x"))
    assert down.returncode == 75, down.stderr
    assert b"Traceback" not in down.stderr and b"try again" in down.stderr
    env.set("database", None)
    env.set("lmtp.listen", "not a listen address")
    assert deliver(env, raw).returncode == 2


def test_deliver_through_the_listener_and_with_the_daemon_stopped(env: MaildEnv, tmp_path: Path) -> None:
    """With the daemon's listener up, deliver hands over the message; without it, records it itself."""
    listen = short_socket(tmp_path)
    use_lmtp(env, listen, mailbox=True)
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "sales" / sub).mkdir(parents=True)
    env.set("mailboxes.sales", {"protocol": "maildir", "path": str(tmp_path / "sales")})
    daemon = start_listening(env)
    try:
        first = message(ALICE, "Via the listener", "x")
        result = deliver(env, first, debug=True)
        assert result.returncode == 0, result.stderr
        assert b"did not answer" not in result.stderr, "handed to the listener, not recorded here"
        assert "outcome=case_opened" in env.daemon_log(), "recorded by the daemon"
        assert deliver(env, first).returncode == 0
        sales = deliver(env, message(BOB, "For sales", "x"), "--mailbox", "sales")
        assert sales.returncode == 0, sales.stderr
    finally:
        assert stop(daemon) == 0
    second = message(ALICE, "With the daemon stopped", "x")
    result = deliver(env, second, debug=True)
    assert result.returncode == 0, result.stderr
    assert b"did not answer" in result.stderr
    assert deliver(env, first).returncode == 0, "recognised here too: same mailbox, same key"
    rows = {r["subject"]: r for r in inbound(env)}
    assert set(rows) == {"Via the listener", "For sales", "With the daemon stopped"}
    assert rows["For sales"]["mailbox"].startswith("maildir:")
    assert rows["Via the listener"]["mailbox"] == rows["With the daemon stopped"]["mailbox"] == "local"


def test_help_lists_deliver_and_entry_stays_light() -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "maild", "--help"], capture_output=True, check=True, timeout=60
    ).stdout
    assert b"deliver" in help_text
    probe = (
        "import sys; from maild.entry import main\n"
        "sys.argv = ['maild', '--config', '/nonexistent.toml', 'deliver']\n"
        "code = main()\n"
        "print(code, 'sqlalchemy' in sys.modules, 'maild.cli' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, check=True, timeout=60, input=b""
    ).stdout.split()
    assert out == [b"2", b"False", b"False"], out


def test_deliver_costs_little_cpu_through_the_listener(env: MaildEnv, tmp_path: Path) -> None:
    """The fast path imports no SQLAlchemy: checked by what it imports, not by the clock."""
    listen = short_socket(tmp_path)
    use_lmtp(env, listen)
    daemon = start_listening(env)
    try:
        probe = (
            "import sys, io\n"
            "from maild.entry import main\n"
            f"sys.stdin = io.TextIOWrapper(io.BytesIO({message(ALICE, 'Light', 'x')!r}))\n"
            f"code = main(['--config', {str(env.config_path)!r}, 'deliver'])\n"
            "print(code, 'sqlalchemy' in sys.modules, 'psycopg' in sys.modules)"
        )
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=60, check=False)
        assert out.stdout.split() == [b"0", b"False", b"False"], out
    finally:
        assert stop(daemon) == 0
    assert [r["subject"] for r in inbound(env)] == ["Light"]


# Stands in for systemd: the listening socket as fd 3, LISTEN_FDS=1 and LISTEN_PID of the
# process that execs `maild run` (exec keeps the pid).
_ACTIVATE = """
import os, sys
os.dup2(int(sys.argv[1]), 3)
os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
os.execv(sys.executable, [sys.executable, "-m", "maild", "--config", sys.argv[2], "run"])
"""


def test_socket_activation_serves_the_socket_systemd_passes(env: MaildEnv, tmp_path: Path) -> None:
    """maild-lmtp.socket: maild takes fd 3 instead of binding `listen` (here a path it could not bind)."""
    listen = short_socket(tmp_path)
    path = listen[len("unix:") :]
    use_lmtp(env, "unix:/nonexistent-directory/lmtp.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    with open(tmp_path / "activated.log", "ab") as log:
        daemon = subprocess.Popen(
            [sys.executable, "-c", _ACTIVATE, str(listener.fileno()), str(env.config_path)],
            pass_fds=(listener.fileno(),),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if not k.startswith(("MAILD_", "LISTEN_"))},
            start_new_session=True,
        )
    listener.close()
    try:
        wait_until(
            lambda: "socket systemd passed" in env.daemon_log("activated"), what="the activated listener"
        )
        assert lmtp_send(listen, [SUPPORT], message(ALICE, "Activated", "x"))[1][0][0] == 250
    finally:
        assert stop(daemon) == 0
    assert Path(path).exists(), "the socket is systemd's: maild leaves it in place"
    assert [r["subject"] for r in inbound(env)] == ["Activated"]


def test_a_reload_applies_to_the_listener(env: MaildEnv) -> None:
    """SIGHUP: new own addresses are accepted as recipients and route as ours (a loop, ignored)."""
    listen = f"127.0.0.1:{free_port()}"
    use_lmtp(env, listen)
    helper = "help@other.example"
    daemon = start_listening(env)
    try:
        rcpt, replies = lmtp_send(listen, [helper, SUPPORT], message(helper, "Before the reload", "x"))
        assert rcpt[helper] == 550 and "helpdesk" in replies[0][1], replies
        env.set("support.other_addresses", [helper])
        daemon.send_signal(signal.SIGHUP)
        wait_until(lambda: "reloaded" in env.daemon_log(), what="the reload")
        rcpt, replies = lmtp_send(listen, [helper], message(helper, "After the reload", "x"))
        assert rcpt[helper] == 250 and "ignored" in replies[0][1], replies
    finally:
        assert stop(daemon) == 0


def test_deliver_records_itself_when_something_else_answers_on_the_lmtp_port(env: MaildEnv) -> None:
    """A listener that is not maild's (502 to LHLO) is not a verdict on the message: no bounce."""
    impostor = socket.create_server(("127.0.0.1", 0))
    port = impostor.getsockname()[1]

    def answer() -> None:
        with contextlib.suppress(OSError):
            conn, _ = impostor.accept()
            with conn, conn.makefile("rb") as lines:
                conn.sendall(b"220 some other service\r\n")
                for _line in lines:
                    conn.sendall(b"502 5.5.1 what?\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    env.set("lmtp.listen", f"127.0.0.1:{port}")
    try:
        result = deliver(env, message(ALICE, "Not for the impostor", "x"), debug=True)
    finally:
        impostor.close()
        thread.join(5)
    assert result.returncode == 0, result.stderr
    assert b"did not answer" in result.stderr
    assert [(r["subject"], r["mailbox"]) for r in inbound(env)] == [("Not for the impostor", "local")]
