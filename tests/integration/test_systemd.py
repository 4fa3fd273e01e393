"""maild as a systemd service: the unit files, and the daemon's side of the contract.

No systemd runs as PID 1 here, so the unit is checked offline with
`systemd-analyze verify` and `systemd-analyze security --offline=true`, the
sysusers/tmpfiles snippets are applied to a scratch root, and the daemon is
run as a real process in the environment systemd would give it: a
$NOTIFY_SOCKET we listen on, $WATCHDOG_USEC, $CREDENTIALS_DIRECTORY, SIGTERM
from the service manager, and the kernel's refusal of writable+executable
memory (what MemoryDenyWriteExecute= enforces with seccomp).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.ci import unavailable
from tests.fixtures.dovecot import apt_install, free_port
from tests.integration.env import ALICE, BOB, MaildEnv, message, stop, text_of, wait_until

SYSTEMD_DIR = Path(__file__).resolve().parents[2] / "systemd"
UNIT = SYSTEMD_DIR / "maild.service"
INSTALLED_BINARY = "/usr/local/bin/maild"
VENV_BINARY = Path(sys.executable).parent / "maild"

# Measured with systemd 252 (Debian 12): 1.2. A new ✗ check or a dropped
# hardening line pushes it over; systemd/README.md records the measured value.
MAX_EXPOSURE = 1.4

# Variables systemd sets for a service; the test process may itself run under
# systemd, so none of them leak into the daemons started here.
SYSTEMD_VARS = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "CREDENTIALS_DIRECTORY", "LISTEN_FDS")


# --------------------------------------------------------------------------- tools


def systemd_tool(name: str) -> str:
    """The path of a systemd tool; installed if missing, else skipped (failed in CI)."""
    path = shutil.which(name)
    if path is None:
        why = apt_install("systemd")
        path = shutil.which(name)
        if path is None:
            unavailable(f"{name} is not installed ({why or 'the systemd package does not provide it'})")
    return path


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [systemd_tool("systemd-analyze"), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
        env=dict(os.environ, SYSTEMD_COLORS="0", SYSTEMD_PAGER="", LC_ALL="C.UTF-8"),
    )


def unit_copy(directory: Path, binary: Path | str) -> Path:
    """The shipped unit with its commands pointed at `binary`, under the same name."""
    text = UNIT.read_text(encoding="utf-8")
    assert INSTALLED_BINARY in text
    directory.mkdir(parents=True, exist_ok=True)
    copy = directory / UNIT.name
    copy.write_text(text.replace(INSTALLED_BINARY, str(binary)), encoding="utf-8")
    return copy


def unit_settings() -> dict[str, list[str]]:
    """`Key=value` lines of the unit's [Service] section (no continuation lines are used)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif line and not line.startswith(("#", ";")) and section == "[Service]":
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


# --------------------------------------------------------------------------- the unit, offline


def test_unit_verifies_without_warnings(tmp_path: Path) -> None:
    assert VENV_BINARY.exists(), VENV_BINARY
    done = analyze("verify", str(unit_copy(tmp_path / "good", VENV_BINARY)))
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 0 and output == "", output
    # The check is real: the same unit with a binary that does not exist fails.
    broken = analyze("verify", str(unit_copy(tmp_path / "broken", tmp_path / "no-such-maild")))
    assert broken.returncode != 0 and "no-such-maild" in broken.stdout + broken.stderr


def test_lmtp_socket_unit_verifies_beside_the_service(tmp_path: Path) -> None:
    """maild-lmtp.socket (socket activation of the LMTP listener) names the service and a unix socket."""
    socket_unit = SYSTEMD_DIR / "maild-lmtp.socket"
    unit_copy(tmp_path, VENV_BINARY)
    shutil.copy(socket_unit, tmp_path / socket_unit.name)
    done = analyze("verify", str(tmp_path / socket_unit.name))
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 0 and output == "", output
    text = socket_unit.read_text(encoding="utf-8")
    assert "ListenStream=/run/maild/lmtp.sock" in text and "Service=maild.service" in text
    # The service keeps /run/maild (where maild binds the socket itself) across restarts.
    assert unit_settings()["RuntimeDirectory"] == ["maild"]
    assert unit_settings()["RuntimeDirectoryPreserve"] == ["yes"]


def test_unit_exposure_score_stays_low(tmp_path: Path) -> None:
    done = analyze("security", "--offline=true", "--no-pager", str(unit_copy(tmp_path, VENV_BINARY)))
    output = done.stdout + done.stderr
    m = re.search(r"Overall exposure level for maild\.service: (\d+(?:\.\d+)?)", output)
    assert m, output
    failing = "\n".join(line for line in output.splitlines() if line.startswith("✗"))
    assert float(m.group(1)) <= MAX_EXPOSURE, (
        f"exposure {m.group(1)} > {MAX_EXPOSURE}; failing checks:\n{failing}"
    )


def test_unit_declares_the_service_contract() -> None:
    s = unit_settings()
    expect = {
        "Type": ["notify"],
        "NotifyAccess": ["main"],
        "ExecStart": [f"{INSTALLED_BINARY} run"],
        "ExecReload": ["/bin/kill -HUP $MAINPID"],
        "Restart": ["on-failure"],
        "RestartSec": ["5"],
        "TimeoutStopSec": ["45"],
        "WatchdogSec": ["60"],
        "StateDirectory": ["maild"],
        "ConfigurationDirectory": ["maild"],
        "UMask": ["0077"],
        "MemoryDenyWriteExecute": ["yes"],
        "SystemCallFilter": ["@system-service", "~@privileged @resources"],
        "CapabilityBoundingSet": [""],
    }
    for key, values in expect.items():
        assert s.get(key) == values, f"{key}={s.get(key)}"
    assert "MAILD_CONFIG=/etc/maild/maild.toml" in s["Environment"]
    # TimeoutStopSec must outlast the time maild may spend finishing the message in hand.
    example = (SYSTEMD_DIR.parent / "config.example.toml").read_text(encoding="utf-8")
    shutdown = re.search(r'^shutdown_timeout = "(\d+)s"', example, re.M)
    assert shutdown and int(s["TimeoutStopSec"][0]) >= int(shutdown.group(1)) + 10
    creds = dict(v.split(":", 1) for v in s["LoadCredential"])
    assert creds == {
        name: f"/etc/maild/credentials/{name}" for name in ("imap-password", "smtp-password", "reply-secret")
    }
    # The config example names the same credentials, relative to $CREDENTIALS_DIRECTORY.
    for line in (
        'password_file = "imap-password"',
        'secret_file = "reply-secret"',
        'password_file = "smtp-password"',
    ):
        assert line in example


def test_sysusers_and_tmpfiles_match_the_unit(tmp_path: Path) -> None:
    """Applied to a scratch root: the unit's user exists, owns the state directory; credentials are root's."""
    user = unit_settings()["User"][0]
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    for tool, snippet in (
        ("systemd-sysusers", "maild.sysusers.conf"),
        ("systemd-tmpfiles", "maild.tmpfiles.conf"),
    ):
        args = [systemd_tool(tool), f"--root={root}"]
        if tool == "systemd-tmpfiles":
            args.append("--create")
        done = subprocess.run(
            [*args, str(SYSTEMD_DIR / snippet)], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
    passwd = {line.split(":")[0]: line.split(":") for line in (root / "etc/passwd").read_text().splitlines()}
    assert user in passwd, passwd
    uid = int(passwd[user][2])
    assert 0 < uid < 1000 and passwd[user][5] == "/var/lib/maild"
    state = (root / "var/lib/maild").stat()
    assert (state.st_uid, stat.S_IMODE(state.st_mode)) == (uid, 0o700)
    creds = (root / "etc/maild/credentials").stat()
    assert (creds.st_uid, stat.S_IMODE(creds.st_mode)) == (0, 0o700)


# --------------------------------------------------------------------------- the daemon under systemd's rules


@contextlib.contextmanager
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    """A $NOTIFY_SOCKET to listen on (a short path: AF_UNIX paths are limited to 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="maild-sd-") as d:
        path = os.path.join(d, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(path)
            yield sock, path
        finally:
            sock.close()


class Notifications:
    """Every sd_notify datagram received, as (monotonic time, line) pairs."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lines: list[tuple[float, str]] = []

    def drain(self, timeout: float = 0.1) -> None:
        if self.sock.fileno() == -1:  # closed: keep what was received
            return
        self.sock.settimeout(timeout)
        with contextlib.suppress(TimeoutError, BlockingIOError):
            while True:
                data = self.sock.recv(4096)
                now = time.monotonic()
                self.lines += [(now, line) for line in data.decode().splitlines() if line]
                self.sock.settimeout(0.0)

    def wait_for(self, line: str, timeout: float) -> float:
        """The time `line` arrived, waiting up to `timeout` seconds for it."""

        def seen() -> float | None:
            self.drain()
            return next((t for t, got in self.lines if got == line), None)

        return float(wait_until(seen, timeout=timeout, what=f"{line!r} on the notify socket"))

    def texts(self) -> list[str]:
        self.drain(0.0)
        return [line for _t, line in self.lines]

    def count(self, line: str, after: float = 0.0) -> int:
        self.drain()
        return sum(1 for t, got in self.lines if got == line and t > after)

    def has_prefix(self, prefix: str) -> bool:
        return any(line.startswith(prefix) for line in self.texts())


def start_daemon(
    env: MaildEnv,
    name: str,
    extra: dict[str, str],
    *,
    prefix: Sequence[str] = (),
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Like env.start_daemon, with the given environment added (systemd's variables, credentials)."""
    log = open(env.workdir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
    penv = {k: v for k, v in os.environ.items() if not k.startswith("MAILD_") and k not in SYSTEMD_VARS}
    penv.update(extra)
    return subprocess.Popen(
        [*prefix, sys.executable, "-m", "maild", "--config", str(env.config_path), "run"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=penv,
        cwd=cwd or env.workdir,
        start_new_session=True,
    )


def test_daemon_speaks_sd_notify(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    with notify_socket() as (sock, path):
        note = Notifications(sock)
        daemon = start_daemon(env, "notify", {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
        try:
            ready_at = note.wait_for("READY=1", timeout=30)
            # WATCHDOG_USEC=2 s: a ping at least every second.
            wait_until(
                lambda: note.count("WATCHDOG=1", after=ready_at) >= 2,
                timeout=3.5,
                what="two WATCHDOG=1 pings after READY=1",
            )
            imap_box.append(message(ALICE, "Under systemd", "Body"))
            wait_until(lambda: len(env.cases()) == 1, timeout=30, what="the message processed")
            assert "STOPPING=1" not in note.texts()
        finally:
            code = stop(daemon, signal.SIGTERM, timeout=30)
        note.wait_for("STOPPING=1", timeout=5)
    assert code == 0, env.daemon_log("notify")
    texts = note.texts()
    assert texts.count("READY=1") == 1, texts
    statuses = [i for i, t in enumerate(texts) if t.startswith("STATUS=")]
    assert statuses and statuses[0] < texts.index("READY=1"), texts
    assert texts[-1] == "STOPPING=1", texts


def test_not_ready_while_the_mailbox_is_unreachable(env: MaildEnv) -> None:
    env.set("mailbox.port", free_port())  # nothing listens there
    with notify_socket() as (sock, path):
        note = Notifications(sock)
        daemon = start_daemon(env, "unreachable", {"NOTIFY_SOCKET": path})
        try:
            wait_until(
                lambda: note.has_prefix("STATUS=mailbox unavailable"),
                timeout=30,
                what="a STATUS= line about the mailbox",
            )
            time.sleep(2)
            assert "READY=1" not in note.texts(), "READY=1 before the mailbox was ever connected"
            assert daemon.poll() is None, env.daemon_log("unreachable")
        finally:
            code = stop(daemon, signal.SIGTERM, timeout=30)
    assert code == 0, env.daemon_log("unreachable")


def test_watchdog_pings_only_for_the_watched_pid(env: MaildEnv) -> None:
    """$WATCHDOG_PID names another process (systemd set it for our parent): maild must not ping."""
    with notify_socket() as (sock, path):
        note = Notifications(sock)
        extra = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "500000", "WATCHDOG_PID": str(os.getpid())}
        daemon = start_daemon(env, "otherpid", extra)
        try:
            note.wait_for("READY=1", timeout=30)
            time.sleep(1.5)
        finally:
            code = stop(daemon, signal.SIGTERM, timeout=30)
    assert code == 0, env.daemon_log("otherpid")
    assert "WATCHDOG=1" not in note.texts()


def test_secrets_come_from_the_credentials_directory(
    env: MaildEnv, imap_box: Any, smtp_sink: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = tmp_path / "credentials"
    creds.mkdir(mode=0o700)
    (creds / "imap-password").write_text("secret\n")
    (creds / "reply-secret").write_text(secrets.token_hex(16) + "\n")
    for key, value in (
        ("mailbox.password", None),
        ("mailbox.password_file", "imap-password"),
        ("support.secret", None),
        ("support.secret_file", "reply-secret"),
    ):
        env.set(key, value)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()

    # Without $CREDENTIALS_DIRECTORY the relative names mean nothing: a config error naming the key.
    daemon = start_daemon(env, "nocreds", {}, cwd=elsewhere)
    assert daemon.wait(60) == 2
    assert "mailbox.password_file" in env.daemon_log("nocreds")

    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))  # for the in-process `maild case list`
    daemon = start_daemon(env, "creds", {"CREDENTIALS_DIRECTORY": str(creds)}, cwd=elsewhere)
    try:
        wait_until(lambda: "watching" in env.daemon_log("creds"), timeout=30, what="the mailbox login")
        imap_box.append(message(ALICE, "Credentials", "Body", cc=(BOB,)))
        wait_until(lambda: len(env.cases()) == 1, timeout=30, what="a case")
        wait_until(lambda: len(smtp_sink.messages()) >= 2, timeout=30, what="acknowledgements")
    finally:
        code = stop(daemon, signal.SIGTERM, timeout=30)
    assert code == 0, env.daemon_log("creds")
    assert [c["subject"] for c in env.cases()] == ["Credentials"]


@pytest.mark.slow
def test_sigterm_mid_batch_exits_cleanly_and_loses_nothing(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    count = 150  # six claims of 25, each processed in one transaction: SIGTERM lands between them
    subjects = [f"Batch {i:03d}" for i in range(count)]
    imap_box.append_many([message(ALICE, s, f"Message {s}.", cc=(BOB,)) for s in subjects])
    daemon = start_daemon(env, "batch", {})
    try:
        # The sink is cheap to poll: SIGTERM lands just after the first message's commit.
        wait_until(lambda: smtp_sink.messages(), timeout=60, what="the first acknowledgement")
    finally:
        started = time.monotonic()
        code = stop(daemon, signal.SIGTERM, timeout=30)
        elapsed = time.monotonic() - started
    log = env.daemon_log("batch")
    assert code == 0 and elapsed < 30, f"exit {code} after {elapsed:.1f}s\n{log}"
    assert "received SIGTERM" in log and "Traceback" not in log, log
    recorded = {c["number"]: c["subject"] for c in env.cases()}
    assert 0 < len(recorded) < count, "SIGTERM must land mid-batch for this test to mean anything"

    env.run_once()  # the rest of the mailbox, and whatever the daemon left in the outbox
    cases = env.cases()
    assert sorted(c["subject"] for c in cases) == subjects, "every message became exactly one case"
    assert {c["number"]: c["subject"] for c in cases if c["number"] in recorded} == recorded
    sent = Counter((m.rcpt_tos[0], m.msg["X-Maild-Case"]) for m in smtp_sink.messages())
    assert {k: v for k, v in sent.items() if v > 1} == {}, "an acknowledgement went out twice"
    assert set(sent) == {(who, c["number"]) for c in cases for who in (ALICE, BOB)}
    assert all(b"\\Seen" in f for f in imap_box.flags().values())


def test_sighup_reloads_without_stopping(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    """ExecReload=/bin/kill -HUP $MAINPID: RELOADING=1, READY=1 again, the new config in force, no restart."""
    reloaded = "Reloaded: ask your help desk (HD-9999)."
    with notify_socket() as (sock, path):
        note = Notifications(sock)
        daemon = start_daemon(env, "reload", {"NOTIFY_SOCKET": path})
        try:
            note.wait_for("READY=1", timeout=30)
            env.set("support.helpdesk_message", reloaded)
            os.kill(daemon.pid, signal.SIGHUP)
            reloading_at = note.wait_for("RELOADING=1", timeout=10)
            wait_until(
                lambda: note.count("READY=1", after=reloading_at - 0.001) >= 1, timeout=10, what="READY=1"
            )
            assert daemon.poll() is None, f"SIGHUP ended the daemon (exit {daemon.returncode})"
            imap_box.append(message(BOB, "After reload", "Body"))  # not designated: the help-desk answer
            to_bob = wait_until(
                lambda: [m for m in smtp_sink.messages() if BOB in m.rcpt_tos], timeout=30, what="the answer"
            )
        finally:
            code = stop(daemon, signal.SIGTERM, timeout=30)
    assert code == 0, env.daemon_log("reload")
    assert reloaded in " ".join(text_of(to_bob[0].msg).split())
    assert note.texts().count("READY=1") == 2


MDWE_LAUNCHER = """
import ctypes, mmap, os, sys
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    sys.exit(77)
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
except OSError:
    pass
else:
    sys.exit(78)
os.execv(sys.argv[1], sys.argv[1:])
"""


def test_daemon_runs_without_writable_executable_memory(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    """MemoryDenyWriteExecute=yes, as the kernel's PR_SET_MDWE (Linux >= 6.3) enforces it across exec."""
    probe = subprocess.run([sys.executable, "-c", MDWE_LAUNCHER, "/bin/true"], timeout=30, check=False)
    if probe.returncode == 77:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux < 6.3)")
    assert probe.returncode == 0, "PR_SET_MDWE set but a W+X mapping still succeeded"
    daemon = start_daemon(env, "mdwe", {}, prefix=(sys.executable, "-c", MDWE_LAUNCHER))
    try:
        imap_box.append(message(ALICE, "No W+X", "Body", cc=(BOB,)))
        wait_until(lambda: len(smtp_sink.messages()) >= 2, timeout=30, what="acknowledgements")
    finally:
        code = stop(daemon, signal.SIGTERM, timeout=30)
    assert code == 0, env.daemon_log("mdwe")
    assert len(env.cases()) == 1
