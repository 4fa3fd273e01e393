"""Local delivery: CPU per `maild deliver` on both paths, and LMTP throughput beside the IMAP path's.

1. CPU of one `maild deliver` process (user + system, from wait4), M times
   each: through the daemon's LMTP listener (the fast path: no SQLAlchemy),
   and in-process with no listener (the slow path: the full pipeline), with
   `python -c pass` as the interpreter's own floor. SPEC §9's budget is
   150 ms of CPU per message for the pipe transport.
2. Throughput of N mixed support emails (the mix of throughput.py: new cases
   and replies to acknowledgements, 30% ISO-2022-JP), built the same way on
   a fresh database each time: taken by `maild run --once` from a real
   Dovecot (throughput.py's figure; it sends from a second process), arriving
   in the mailbox of a running `maild run` (the daemon's IMAP path, woken by
   IDLE), and pushed by an MTA-style client (smtplib.LMTP, C connections,
   each sending its share one message after the other) to a running `maild
   run` with `[lmtp]` and no mailbox. Each is timed to the moment every
   message is recorded and the outbox is empty (every notification sent);
   LMTP also to its last 250. The daemons are started before the clock
   starts; `run --once` includes its start-up (about 0.5 s).

    .venv/bin/python bench/deliver.py [--n 1000] [--m 30] [--connections 1,4] [--db sqlite|postgres]
"""

from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from common import (
    ALICE,
    cpu_between,
    cpu_snapshot,
    database,
    dovecot,
    load_mailbox,
    log,
    machine,
    maild_cmd,
    make_env,
    proc_env,
    run_maild,
    seed_and_build_mailbox,
    sink,
    start_daemon,
    stop_daemon,
    wait_until,
    workdir,
)
from sqlalchemy import func, select

from maild.store.db import Database
from maild.store.models import InboundMessage, Outbox
from maild.vocab import OutboxStatus
from tests.integration.env import SUPPORT, MaildEnv, message


def child_cpu(cmd: list[str], stdin: bytes) -> tuple[int, float]:
    """Run `cmd` with `stdin`; its exit status and CPU seconds (user + system, its own wait4 figure)."""
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=proc_env(),
    )
    assert proc.stdin is not None
    proc.stdin.write(stdin)
    proc.stdin.close()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime


def cpu_figures(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return (
        f"median {statistics.median(ms):.0f} ms, min {ms[0]:.0f}, max {ms[-1]:.0f}, "
        f"mean {statistics.fmean(ms):.0f} (n={len(ms)})"
    )


def deliver_cpu(env: MaildEnv, m: int, tag: str) -> list[float]:
    cpu: list[float] = []
    for i in range(m):
        raw = message(ALICE, f"deliver {tag} {i}", "One message from a pipe transport.")
        code, seconds = child_cpu(maild_cmd(env, "deliver"), raw)
        if code != 0:
            raise SystemExit(f"maild deliver exited {code} ({tag} path)")
        cpu.append(seconds)
    return cpu


def measure_deliver(wd: Path, url: str, imap_port: int, smtp_port: int, m: int) -> dict[str, list[float]]:
    env = make_env(wd / "cpu", url, imap_port, smtp_port)
    env.set("mailbox", None)
    env.set("lmtp.listen", f"unix:{wd / 'cpu' / 'lmtp.sock'}")
    floor = [child_cpu([sys.executable, "-c", "pass"], b"")[1] for _ in range(m)]
    daemon = start_daemon(env, "cpu-daemon")
    try:
        wait_until(lambda: (wd / "cpu" / "lmtp.sock").exists(), timeout=60)
        fast = deliver_cpu(env, m, "fast")
    finally:
        stop_daemon(daemon)
    slow = deliver_cpu(env, m, "slow")  # nobody listens now: recorded in-process
    return {"floor": floor, "fast": fast, "slow": slow}


def fetch_all(box: object, first: int, last: int) -> list[bytes]:
    client = box.connect()  # type: ignore[attr-defined]
    try:
        client.select_folder("INBOX", readonly=True)
        uids = [u for u in client.search("ALL") if first <= u <= last]
        data = client.fetch(uids, ["BODY.PEEK[]"])
        return [bytes(data[u][b"BODY[]"]) for u in uids]
    finally:
        client.logout()


def outbox_pending(db: Database) -> int:
    """Notifications not yet sent: one COUNT, so the polling costs the measured daemon nothing much."""
    with db.reader() as session:
        query = select(func.count()).select_from(Outbox).where(Outbox.status == OutboxStatus.PENDING)
        return int(session.execute(query).scalar_one())


def recorded_count(db: Database) -> int:
    with db.reader() as session:
        return int(session.execute(select(func.count()).select_from(InboundMessage)).scalar_one())


def imap_daemon_run(env: MaildEnv, box: Any, messages: list[bytes]) -> dict[str, Any]:
    """The same mail arriving in the mailbox of a running `maild run` (IDLE): to the outbox empty."""
    db = Database(str(env.config["database"]["url"]))
    try:
        expected = recorded_count(db) + len(messages)
        env.set("mailbox.poll_interval", "1s")
        daemon = start_daemon(env, "imap-daemon")
        try:
            wait_until(lambda: "watching imap:" in (env.workdir / "imap-daemon.log").read_text(), 60)
            cpu_before = cpu_snapshot()
            start = time.perf_counter()
            load_mailbox(box, messages)
            wait_until(lambda: recorded_count(db) >= expected and outbox_pending(db) == 0, 600, 0.25)
            seconds = time.perf_counter() - start
            cpu = cpu_between(cpu_before, cpu_snapshot(), seconds)
        finally:
            stop_daemon(daemon)
        return {"seconds": seconds, "cpu": cpu, "ok": recorded_count(db) - expected + len(messages)}
    finally:
        db.dispose()


def send_share(address: str, messages: list[bytes], answers: list[int]) -> None:
    client = smtplib.LMTP(address, timeout=120)
    try:
        client.ehlo("mta.example")
        for raw in messages:
            client.mail("bounces@mta.example")
            client.rcpt(SUPPORT)
            code, _ = client.data(raw)
            answers.append(code)
    finally:
        client.quit()


def lmtp_run(env: MaildEnv, socket_path: Path, messages: list[bytes], connections: int) -> dict[str, Any]:
    env.set("mailbox", None)
    env.set("lmtp.listen", f"unix:{socket_path}")
    daemon = start_daemon(env, f"lmtp-{connections}")
    try:
        wait_until(socket_path.exists, timeout=60)
        answers: list[int] = []
        shares = [messages[i::connections] for i in range(connections)]
        cpu_before = cpu_snapshot()
        threads = [threading.Thread(target=send_share, args=(str(socket_path), s, answers)) for s in shares]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        recorded = time.perf_counter() - start
        db = Database(str(env.config["database"]["url"]))
        try:
            wait_until(lambda: outbox_pending(db) == 0, timeout=600, step=0.25)
        finally:
            db.dispose()
        drained = time.perf_counter() - start
        cpu = cpu_between(cpu_before, cpu_snapshot(), drained)
    finally:
        stop_daemon(daemon)
    ok = sum(1 for a in answers if a == 250)
    return {"recorded_s": recorded, "drained_s": drained, "ok": ok, "cpu": cpu}


def part(wd: Path, name: str) -> Path:
    """A directory of its own per part: its config, log, SQLite file and socket."""
    (wd / name).mkdir(parents=True, exist_ok=True)
    return wd / name


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="messages for the throughput part (default 1000)")
    ap.add_argument("--m", type=int, default=30, help="maild deliver processes per path (default 30)")
    ap.add_argument("--connections", default="1,4", help="LMTP connections to try (default 1,4)")
    ap.add_argument("--db", default="sqlite", help="sqlite (default) or postgres")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    counts = [int(c) for c in args.connections.split(",")]
    wd = workdir("deliver")
    results: list[str] = []
    try:
        with dovecot() as box, sink(wd / "sink") as s:
            with database(args.db, part(wd, "cpu")) as url:
                log(f"maild deliver: {args.m} processes per path …")
                cpu = measure_deliver(wd, url, box.port, s.port, args.m)
            log(f"IMAP: building {args.n} messages and running maild run --once …")
            with database(args.db, part(wd, "imap")) as url:
                env = make_env(wd / "imap", url, box.port, s.port)
                kinds = seed_and_build_mailbox(env, box, s, args.n)
                cpu_before = cpu_snapshot()
                imap = run_maild(env, "run", "--once", log_name="imap")
                imap_cpu = cpu_between(cpu_before, cpu_snapshot(), imap.seconds, {"maild": imap.cpu_seconds})
                box.clear()
            imap_rate = args.n / imap.seconds
            log("IMAP: the same mix arriving in the mailbox of a running maild run …")
            with database(args.db, part(wd, "imapd")) as url:
                env = make_env(wd / "imapd", url, box.port, s.port)
                kinds = seed_and_build_mailbox(env, box, s, args.n)
                messages = fetch_all(box, kinds["first_uid"], kinds["last_uid"])
                box.clear()
                daemon_run = imap_daemon_run(env, box, messages)
                box.clear()
            daemon_rate = args.n / daemon_run["seconds"]
            for c in counts:
                with database(args.db, part(wd, f"lmtp{c}")) as url:
                    env = make_env(wd / f"lmtp{c}", url, box.port, s.port)
                    kinds = seed_and_build_mailbox(env, box, s, args.n)
                    messages = fetch_all(box, kinds["first_uid"], kinds["last_uid"])
                    box.clear()
                    log(f"LMTP: {len(messages)} messages over {c} connection(s) …")
                    r = lmtp_run(env, wd / f"lmtp{c}" / "lmtp.sock", messages, c)
                rate = len(messages) / r["drained_s"]
                results.append(
                    f"LMTP, {c} connection(s): {int(r['ok'])}/{len(messages)} answered 250 in "
                    f"{r['recorded_s']:.2f} s ({len(messages) / r['recorded_s']:.1f} msg/s recorded); "
                    f"outbox empty at {r['drained_s']:.2f} s (**{rate:.1f} msg/s** end to end: "
                    f"{rate / daemon_rate:.2f}× the IMAP daemon, {rate / imap_rate:.2f}× run --once); "
                    f"{r['cpu']}"
                )
        print(machine())
        print(f"python -c pass: {cpu_figures(cpu['floor'])}")
        print(f"maild deliver through the LMTP listener: {cpu_figures(cpu['fast'])}")
        print(f"maild deliver in-process (no listener): {cpu_figures(cpu['slow'])}")
        print(
            f"IMAP, maild run --once over {args.n} messages: {imap.seconds:.2f} s, exit {imap.code} "
            f"(**{imap_rate:.1f} msg/s** end to end); db {args.db}; {imap_cpu}"
        )
        print(
            f"IMAP, the same {args.n} arriving in the mailbox of a running maild run: "
            f"{int(daemon_run['ok'])} recorded and the outbox empty at {daemon_run['seconds']:.2f} s "
            f"(**{daemon_rate:.1f} msg/s** end to end); {daemon_run['cpu']}"
        )
        for line in results:
            print(line)
        return 0
    finally:
        if args.keep:
            print(f"work directory kept: {wd}", file=sys.stderr)
        else:
            shutil.rmtree(wd, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
