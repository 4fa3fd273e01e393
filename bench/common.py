"""Shared plumbing for the benchmarks: servers, a maild installation, mail, processes, figures.

Every server is real and on loopback: the tests' own Dovecot fixture
(tests/fixtures/dovecot.py), maild's SMTP sink run as a separate process
(`python -m maild.demo.sink`), SQLite or a fresh PostgreSQL database per run.
maild itself always runs as a real process (`.venv/bin/maild … run`), so
what is timed is what an operator would run. Nothing here asserts on time.
"""

from __future__ import annotations

import compileall
import contextlib
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.mime.text import MIMEText
from email.parser import BytesParser
from email.utils import format_datetime, formatdate, getaddresses, make_msgid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from maild.demo.sink import INDEX, read_index  # noqa: E402
from tests.fixtures.dovecot import DovecotServer  # noqa: E402
from tests.integration.env import ALICE, BOB, DAVE, YAMADA, MaildEnv  # noqa: E402

BIN = Path(sys.executable).parent
MAILD = str(BIN / "maild") if (BIN / "maild").exists() else None

# maild is installed in development mode, so its modules are byte-compiled on
# first import, and on every start where PYTHONDONTWRITEBYTECODE is set (as on
# this machine kind): 0.17 s of each daemon's start-up (measured). An
# installed package is compiled once by pip; so is the one measured here.
compileall.compile_dir(ROOT / "maild", quiet=1)
PG_HOST, PG_PORT, PG_USER, PG_ADMIN_DB = "127.0.0.1", 5432, "postgres", "test"
AGENT_TEAM = "support-team@example.com"

# Extra contacts so that the load does not come from three people only.
EN_CONTACTS = [ALICE, DAVE] + [f"user{i:02d}@acme.example" for i in range(8)]
JA_CONTACTS = [YAMADA] + [f"tanaka{i:02d}@acme.example" for i in range(4)]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- servers


@contextlib.contextmanager
def dovecot() -> Iterator[DovecotServer]:
    """The tests' private Dovecot on 127.0.0.1 (needs root and dovecot-imapd, as the tests do)."""
    if os.geteuid() != 0:
        raise SystemExit("the Dovecot fixture must run as root (it serves mail as uid 8)")
    root = Path(tempfile.mkdtemp(prefix="maild-bench-dovecot-", dir="/tmp"))
    server = DovecotServer(root)
    try:
        server.setup()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


class Sink:
    """maild's SMTP sink as a separate process (`python -m maild.demo.sink --dir D --port 0`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._counted = self._counted_bytes = 0
        directory.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "maild.demo.sink", "--dir", str(directory), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "listening on 127.0.0.1:PORT"
        match = re.search(r":(\d+)\s*$", line)
        if match is None:
            self.stop()
            raise RuntimeError(f"the sink did not start: {line!r}")
        self.port = int(match.group(1))

    @property
    def msgs(self) -> Path:
        return self.directory / "msgs"

    def count(self) -> int:
        """Messages accepted so far, reading only what the index gained since the last call.

        The workers and latency benchmarks call this several times a second
        while maild runs; reading the whole index each time would be work
        of the harness counted against maild.
        """
        try:
            with (self.msgs / INDEX).open("rb") as f:
                f.seek(self._counted_bytes)
                fresh = f.read()
        except FileNotFoundError:
            return self._counted
        complete = fresh[: fresh.rfind(b"\n") + 1]
        self._counted_bytes += len(complete)
        self._counted += complete.count(b'"seq":')
        return self._counted

    def metas(self, since_seq: int = 0) -> list[dict[str, Any]]:
        return [m for m in read_index(self.msgs) if int(m.get("seq", 0)) > since_seq]

    def raw(self, seq: int) -> bytes:
        return (self.msgs / f"{seq:08d}.eml").read_bytes()

    def last_seq(self) -> int:
        return max((int(m.get("seq", 0)) for m in read_index(self.msgs)), default=0)

    def wait_for(self, count: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while True:
            n = self.count()
            if n >= count or time.monotonic() > deadline:
                return n
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@contextlib.contextmanager
def sink(directory: Path) -> Iterator[Sink]:
    """The SMTP sink, storing in memory (tmpfs) when the machine has it, else in `directory`.

    The sink stands in for the remote MTA and shares this machine with the
    maild it measures, so its own cost is kept out of the way: creating a
    file on this machine kind's disk costs 0.6-1 ms of CPU (measured; tmpfs:
    15 µs), and the sink creates one per message received.
    """
    shm = Path("/dev/shm")
    memory = os.access(shm, os.W_OK) and shm.is_dir()
    where = Path(tempfile.mkdtemp(prefix="maild-bench-sink-", dir=shm)) if memory else directory
    s = Sink(where)
    try:
        yield s
    finally:
        s.stop()
        if memory:
            shutil.rmtree(where, ignore_errors=True)


def _pg_admin() -> Any:
    import psycopg

    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_ADMIN_DB, connect_timeout=5, autocommit=True
    )


@contextlib.contextmanager
def postgres_db() -> Iterator[str]:
    """A fresh PostgreSQL database on 127.0.0.1:5432 for this run, dropped afterwards."""
    name = f"maild_bench_{secrets.token_hex(6)}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with contextlib.suppress(Exception), _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'maild.db'}"
    elif kind in ("postgres", "postgresql", "pg"):
        with postgres_db() as url:
            yield url
    else:
        raise SystemExit(f"--db must be sqlite or postgres, not {kind!r}")


# --------------------------------------------------------------------------- maild


def make_env(
    workdir: Path, db_url: str, imap_port: int, smtp_port: int, overrides: dict[str, Any] | None = None
) -> MaildEnv:
    """A maild config for these servers, the schema, and the Acme world with more contacts.

    `support.agent_address` is set so that every comment also notifies the
    support team: each inbound message then causes at least one notification.
    """
    settings = {"support.agent_address": AGENT_TEAM, "mailbox.poll_interval": "30s", **(overrides or {})}
    env = MaildEnv(workdir, db_url=db_url, imap_port=imap_port, smtp_port=smtp_port, overrides=settings)
    env.setup_world()
    for email in EN_CONTACTS + JA_CONTACTS:
        if email in (ALICE, DAVE, YAMADA):
            continue
        lang = "ja" if email in JA_CONTACTS else "en"
        env.ok("contact", "add", email, "--account", "Acme", "--designated", "--language", lang)
    return env


def proc_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MAILD_")}


def maild_cmd(env: MaildEnv, *args: str) -> list[str]:
    base = [MAILD] if MAILD else [sys.executable, "-m", "maild"]
    return [*base, "--config", str(env.config_path), *args]


@dataclass
class Run:
    seconds: float
    code: int
    peak_rss_kb: int  # the child's own peak RSS (VmHWM; KiB), see run_maild
    log: Path
    cpu_seconds: float = 0.0  # user + system of the process and the children it waited for


def _process_group(pid: str) -> str:
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    if "maild.demo.sink" in cmdline or "sink.py" in cmdline:
        return "sink"
    if "maild" in cmdline and " run" in cmdline:
        return "maild"
    if comm.startswith("postgres") or "postgres:" in cmdline:
        return "postgres"
    if comm.startswith(("dovecot", "imap", "auth", "config", "log", "anvil", "stats")):
        return "dovecot"
    return "other"


def cpu_snapshot() -> dict[str, float]:
    """CPU seconds (user + system) used so far by every live process on the machine, by group.

    Two snapshots around a run show where the machine's cores went: maild,
    PostgreSQL, the SMTP sink, Dovecot, everything else.
    """
    tick = os.sysconf("SC_CLK_TCK")
    groups: dict[str, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        used = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        group = _process_group(entry)
        groups[group] = groups.get(group, 0.0) + used
    return groups


def cpu_between(
    before: dict[str, float], after: dict[str, float], wall: float, exited: dict[str, float] | None = None
) -> str:
    """`exited`: CPU of processes gone before the second snapshot (from wait4), by group."""
    used = {g: after.get(g, 0.0) - before.get(g, 0.0) for g in after if g != "gone"}
    for group, seconds in (exited or {}).items():
        used[group] = used.get(group, 0.0) + seconds
    shown = ", ".join(f"{g} {v:.1f}" for g, v in sorted(used.items(), key=lambda kv: -kv[1]) if v >= 0.05)
    cores = os.cpu_count() or 1
    return (
        f"CPU during the run (s): {shown}; total {sum(used.values()):.1f} "
        f"of {cores} cores x {wall:.1f} s = {cores * wall:.1f}"
    )


def _vm_hwm_kb(pid: int) -> int:
    """The peak RSS of `pid`'s own address space (VmHWM), 0 once it has gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def run_maild(
    env: MaildEnv, *args: str, log_name: str = "maild", timeout: float = 1800, wrap: Sequence[str] = ()
) -> Run:
    """One `maild …` process to completion: wall time, exit code and peak RSS.

    The peak is the child's VmHWM, read while it runs (a high-water mark, so
    any reading after the peak gives it exactly; the last one comes during the
    child's shutdown). Not `ru_maxrss` from wait4: Linux carries the parent's
    own high-water mark into the child at exec (vfork and fork alike), so a
    benchmark process that once held a 72 MB test message reported ~330 MiB
    for every maild it started, whatever maild used. With `wrap` the process
    is the wrapper, so there the figure is ru_maxrss (wrapper and children).
    """
    log_path = env.workdir / f"{log_name}.log"
    with log_path.open("ab") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [*wrap, *maild_cmd(env, *args)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=proc_env(),
            cwd=ROOT,
        )
        deadline = time.monotonic() + timeout
        hwm = 0
        while True:
            hwm = max(hwm, _vm_hwm_kb(proc.pid))
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak = int(usage.ru_maxrss) if wrap or not hwm else hwm
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, proc.returncode, peak, log_path, cpu)


def start_daemon(env: MaildEnv, name: str = "daemon") -> subprocess.Popen[bytes]:
    out = (env.workdir / f"{name}.log").open("ab")
    return subprocess.Popen(
        maild_cmd(env, "run"),
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=proc_env(),
        cwd=ROOT,
        start_new_session=True,
    )


def stop_daemon(proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            return proc.wait(10)
    return int(proc.returncode)


def wait_until(predicate: Callable[[], Any], timeout: float, step: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


# --------------------------------------------------------------------------- mail

EN_SUBJECTS = [
    "Login page returns 500 after SSO change",
    "Report export stuck at 99%",
    "API rate limit errors since this morning",
    "Sandbox refresh failed",
    "Emails from workflow not delivered",
    "Dashboard charts empty for EU users",
    "Cannot attach files larger than 5 MB",
    "Scheduled job runs twice",
]
JA_SUBJECTS = [
    "ログインできません",
    "レポートの出力が終わりません",
    "APIのエラーが増えています",
    "Sandboxの更新に失敗しました",
    "ワークフローのメールが届きません",
    "ダッシュボードが表示されない",
]
EN_BODY = (
    "Hello support,\n\nSince yesterday our users see an error when they open the page. "
    "It happens for about a third of the requests, mostly in the afternoon (JST). We have not "
    "changed anything on our side except the SSO certificate rotation last week.\n\n"
    "Occurred at: 2026-11-20 14:05 JST\n"
    "Steps to reproduce: log in, open Reports, click Export\n"
    "Business impact: month-end closing is blocked\n"
    "Users affected: 120\n"
    "Workaround: none\n"
    "Desired resolution date: 2026-11-25\n\n"
    "{filler}\n\nBest regards,\n{name}\nAcme Corp. IT\n"
)
JA_BODY = (
    "サポートご担当者様\n\nいつもお世話になっております。\n"
    "昨日から一部のユーザがログインできない状態が続いております。"
    "午後の時間帯に多く発生しており、SSO証明書の更新以外に変更はありません。\n\n"
    "発生日時: 2026-11-20 14:05\n"
    "再現手順: ログインしてレポートを開き、エクスポートを押す\n"
    "業務影響: 月次締めの作業が止まっています\n"
    "ユーザ数: 120\n"
    "回避策: なし\n"
    "回答希望日: 2026-11-25\n\n"
    "{filler}\n\nよろしくお願いいたします。\n{name}\nアクメ株式会社 情報システム部\n"
)
EN_FILLER = "The log shows: ERROR com.acme.export.Job - timeout after 30000 ms (request id {rid})."
JA_FILLER = "ログには「タイムアウトしました(リクエストID {rid})」と出力されています。"


def _headers(
    m: Any,
    sender: str,
    to: str,
    subject: str | Header,
    cc: Sequence[str],
    in_reply_to: str | None,
    references: str | None,
) -> None:
    m["From"] = sender
    m["To"] = to
    if cc:
        m["Cc"] = ", ".join(cc)
    m["Subject"] = subject
    m["Date"] = formatdate(localtime=False)
    m["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    if in_reply_to:
        m["In-Reply-To"] = in_reply_to
    if references:
        m["References"] = references


def ja_mail(
    sender: str,
    to: str,
    subject: str,
    body: str,
    cc: Sequence[str] = (),
    in_reply_to: str | None = None,
    references: str | None = None,
) -> bytes:
    """Mail as Japanese MUAs still send it: ISO-2022-JP body (7bit) and B-encoded subject."""
    try:
        body.encode("iso-2022-jp")
        subject.encode("iso-2022-jp")
        charset = "iso-2022-jp"
    except UnicodeEncodeError:  # a character outside JIS X 0208 (rare): send UTF-8 as such MUAs do
        charset = "utf-8"
    m = MIMEText(body, "plain", charset)
    _headers(m, sender, to, Header(subject, charset), cc, in_reply_to, references)
    return m.as_bytes()


def en_mail(
    sender: str,
    to: str,
    subject: str,
    body: str,
    cc: Sequence[str] = (),
    in_reply_to: str | None = None,
    references: str | None = None,
) -> bytes:
    m = EmailMessage()
    _headers(m, sender, to, subject, cc, in_reply_to, references)
    m.set_content(body)
    return m.as_bytes(policy=policy.SMTP)


def new_case_mail(
    rng: random.Random, i: int, japanese: bool, support: str = "support@example.com", cc_share: float = 0.2
) -> bytes:
    """A new case from a designated contact (20% Cc a colleague, who becomes a collaborator)."""
    rid = secrets.token_hex(4)
    cc = [BOB] if rng.random() < cc_share else []
    if japanese:
        sender = rng.choice(JA_CONTACTS)
        subject = rng.choice(JA_SUBJECTS) + (f" [重要度{rng.randint(2, 4)}]" if rng.random() < 0.3 else "")
        body = JA_BODY.format(
            filler="\n".join(JA_FILLER.format(rid=rid) for _ in range(rng.randint(1, 8))), name="山田"
        )
        return ja_mail(sender, support, f"{subject} #{i}", body, cc)
    sender = rng.choice(EN_CONTACTS)
    subject = rng.choice(EN_SUBJECTS) + (f" [Sev {rng.randint(2, 4)}]" if rng.random() < 0.3 else "")
    body = EN_BODY.format(
        filler="\n".join(EN_FILLER.format(rid=rid) for _ in range(rng.randint(1, 8))),
        name=sender.split("@")[0].title(),
    )
    return en_mail(sender, support, f"{subject} #{i}", body, cc)


def _text(note: EmailMessage) -> str:
    part = note.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


def reply_mail(note: EmailMessage, rng: random.Random, japanese: bool) -> bytes:
    """A reply to one notification, from its recipient to its Reply-To, threaded, original quoted."""
    sender = getaddresses([str(note["To"])])[0][1]
    reply_to = getaddresses([str(v) for v in note.get_all("Reply-To", [])])[0][1]
    mid = str(note["Message-ID"])
    refs = f"{note.get('References', '')} {mid}".strip()
    quoted = "\n".join("> " + line for line in _text(note).splitlines())
    if japanese:
        text = rng.choice(
            [
                "ご連絡ありがとうございます。追加のログを添付します。",
                "本日も同じ事象が発生しました。至急ご確認ください。",
                "回避策を試しましたが改善しませんでした。",
            ]
        )
        body = f"{text}\n\n{note['Date']} Example Support <support@example.com>:\n{quoted}\n"
        return ja_mail(sender, reply_to, f"Re: {note['Subject']}", body, in_reply_to=mid, references=refs)
    text = rng.choice(
        [
            "Thanks, we tried the workaround but it still fails.",
            "It happened again this morning, see the request id below.",
            "Any update on this? Month-end is close.",
        ]
    )
    body = f"{text}\n\nOn {note['Date']}, Example Support <support@example.com> wrote:\n{quoted}\n"
    return en_mail(sender, reply_to, f"Re: {note['Subject']}", body, in_reply_to=mid, references=refs)


def load_mailbox(
    box: DovecotServer, msgs: Sequence[bytes], user: str = "support", chunk: int = 200
) -> list[int]:
    """APPEND many messages quickly (MULTIAPPEND, `chunk` per command); returns their UIDs."""
    client = box.connect(user)
    try:
        before = int(client.select_folder("INBOX", readonly=True)[b"UIDNEXT"])
        client.unselect_folder()
        for i in range(0, len(msgs), chunk):
            client.multiappend("INBOX", list(msgs[i : i + chunk]))
        client.select_folder("INBOX", readonly=True)
        return sorted(u for u in client.search(["UID", f"{before}:*"]) if u >= before)
    finally:
        client.logout()


def acknowledgements(s: Sink, since_seq: int = 0) -> list[EmailMessage]:
    """Case-opened notifications the sink received that went to a customer (not the team)."""
    out = []
    for meta in s.metas(since_seq):
        raw = s.raw(int(meta["seq"]))
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        if msg.get("X-Maild-Event") == "case_opened" and AGENT_TEAM not in meta["rcpt_tos"]:
            out.append(msg)  # type: ignore[arg-type]
    return out


def seed_and_build_mailbox(
    env: MaildEnv,
    box: DovecotServer,
    s: Sink,
    n: int,
    seed: int = 42,
    ja_share: float = 0.3,
    reply_share: float = 0.4,
) -> dict[str, int]:
    """Run some new cases through maild, then build N mixed messages (new cases + replies to their acks).

    The seed cases are processed (and flagged done) before the measured run;
    the returned mailbox holds exactly `n` pending messages.
    """
    rng = random.Random(seed)
    n_replies = int(n * reply_share)
    n_seed = max(5, min(200, n_replies // 4 or 5))
    seeds = [new_case_mail(rng, 100000 + i, rng.random() < ja_share) for i in range(n_seed)]
    box.append_many(seeds)
    before = s.last_seq()
    done = run_maild(env, "run", "--once", log_name="seed")
    if done.code != 0:
        raise SystemExit(f"seed run failed (exit {done.code}), see {done.log}")
    acks = acknowledgements(s, before)
    if not acks:
        raise SystemExit("the seed run produced no acknowledgements")
    msgs: list[bytes] = []
    kinds = {"new_en": 0, "new_ja": 0, "reply_en": 0, "reply_ja": 0}
    for i in range(n):
        japanese = rng.random() < ja_share
        if i < n_replies:
            ack = rng.choice(acks)
            ja_ack = getaddresses([str(ack["To"])])[0][1] in JA_CONTACTS
            msgs.append(reply_mail(ack, rng, ja_ack))
            kinds["reply_ja" if ja_ack else "reply_en"] += 1
        else:
            msgs.append(new_case_mail(rng, i, japanese))
            kinds["new_ja" if japanese else "new_en"] += 1
    rng.shuffle(msgs)
    uids = load_mailbox(box, msgs)
    kinds["seed_cases"] = n_seed
    kinds["bytes"] = sum(len(m) for m in msgs)
    kinds["first_uid"], kinds["last_uid"] = min(uids), max(uids)
    return kinds


# --------------------------------------------------------------------------- figures


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


def mib(kb: int) -> float:
    return kb / 1024.0


def tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"maild-bench-{prefix}-", dir="/tmp"))


def machine() -> str:
    """Cores and load: other jobs on this small machine skew every figure, so say how busy it was."""
    one, five, _ = os.getloadavg()
    return f"machine: {os.cpu_count()} cores, load average {one:.2f} (1 min) {five:.2f} (5 min)"


def format_now() -> str:
    from datetime import UTC, datetime

    return format_datetime(datetime.now(UTC))


# --------------------------------------------------------------------------- profiles


def summarize_collapsed(path: Path, top: int = 15, only: str = "maild/") -> list[str]:
    """Top functions of a py-spy `--format raw` (collapsed stacks) file: self and inclusive share.

    Inclusive counts a function once per sample however often it recurs;
    `only` keeps frames whose file path contains it (maild's own code).
    """
    total = 0
    self_counts: dict[str, int] = {}
    incl_counts: dict[str, int] = {}
    leaf_lib: dict[str, int] = {}
    frame_re = re.compile(r"^(?P<fn>.*?) \((?P<file>[^:()]+):\d+\)$")

    def name(frame: str) -> tuple[str, str]:
        m = frame_re.match(frame.strip())
        if not m:
            return frame.strip(), ""
        f = m.group("file")
        short = f.split("site-packages/")[-1] if "site-packages/" in f else f.split("/work/main/")[-1]
        return f"{short}:{m.group('fn')}", f

    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        c = int(count)
        total += c
        frames = [name(f) for f in stack.split(";") if f]
        if not frames:
            continue
        leaf, _leaf_file = frames[-1]
        leaf_lib[leaf] = leaf_lib.get(leaf, 0) + c
        seen: set[str] = set()
        own = [fr for fr in frames if only in fr[1] and "/.venv/" not in fr[1]]
        for label, _f in own:
            if label not in seen:
                seen.add(label)
                incl_counts[label] = incl_counts.get(label, 0) + c
        if own:
            # the innermost maild frame "owns" the sample (time in libraries it called included)
            self_counts[own[-1][0]] = self_counts.get(own[-1][0], 0) + c
    lines = [f"samples: {total}"]
    if not total:
        return lines
    lines += _share_table("inclusive (maild frames):", incl_counts, total, top)
    lines += _share_table("innermost maild frame (incl. libraries it calls):", self_counts, total, top)
    lines += _share_table("leaf functions (any code):", leaf_lib, total, top)
    return lines


def _share_table(title: str, counts: dict[str, int], total: int, top: int) -> list[str]:
    """A title and the `top` largest counts as percentages of all samples."""
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
    return [title, *(f"  {100 * c / total:5.1f}%  {label}" for label, c in ranked)]
