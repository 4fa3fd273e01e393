"""Local delivery: CPU per `maild deliver` on both paths, and LMTP throughput beside the IMAP path's.

1. CPU of one `maild deliver` process (user + system, from wait4), M times
   each: through the daemon's LMTP listener (the fast path: no SQLAlchemy),
   and in-process with no listener (the slow path: the full pipeline), with
   `python -c pass` as the interpreter's own floor. SPEC §9's budget is
   150 ms of CPU per message for the pipe transport.
2. Throughput of N mixed support emails (the mix of throughput.py: new cases
   and replies to acknowledgements, 30% ISO-2022-JP), built twice the same
   way on two fresh databases: once taken by `maild run --once` from a real
   Dovecot (the IMAP figure, as throughput.py measures it), once pushed by
   an MTA-style client (smtplib.LMTP, C connections, each sending its share
   one message after the other) to a running `maild run` with `[lmtp]` and
   no mailbox. LMTP is timed to the last 250 (every message committed) and
   to the moment the outbox is empty (every notification sent, what the
   `run --once` time includes).

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

from common import (
    ALICE,
    database,
    dovecot,
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
from maild.store.models import Outbox
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


def lmtp_run(env: MaildEnv, socket_path: Path, messages: list[bytes], connections: int) -> dict[str, float]:
    env.set("mailbox", None)
    env.set("lmtp.listen", f"unix:{socket_path}")
    daemon = start_daemon(env, f"lmtp-{connections}")
    try:
        wait_until(socket_path.exists, timeout=60)
        answers: list[int] = []
        shares = [messages[i::connections] for i in range(connections)]
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
    finally:
        stop_daemon(daemon)
    ok = sum(1 for a in answers if a == 250)
    return {"recorded_s": recorded, "drained_s": drained, "ok": ok}


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
                imap = run_maild(env, "run", "--once", log_name="imap")
                box.clear()
            imap_rate = args.n / imap.seconds
            for c in counts:
                with database(args.db, part(wd, f"lmtp{c}")) as url:
                    env = make_env(wd / f"lmtp{c}", url, box.port, s.port)
                    kinds = seed_and_build_mailbox(env, box, s, args.n)
                    messages = fetch_all(box, kinds["first_uid"], kinds["last_uid"])
                    box.clear()
                    log(f"LMTP: {len(messages)} messages over {c} connection(s) …")
                    r = lmtp_run(env, wd / f"lmtp{c}" / "lmtp.sock", messages, c)
                results.append(
                    f"LMTP, {c} connection(s): {int(r['ok'])}/{len(messages)} answered 250 in "
                    f"{r['recorded_s']:.2f} s ({len(messages) / r['recorded_s']:.1f} msg/s recorded); "
                    f"outbox empty at {r['drained_s']:.2f} s "
                    f"(**{len(messages) / r['drained_s']:.1f} msg/s** end to end, "
                    f"{len(messages) / r['drained_s'] / imap_rate:.2f}× the IMAP path)"
                )
        print(machine())
        print(f"python -c pass: {cpu_figures(cpu['floor'])}")
        print(f"maild deliver through the LMTP listener: {cpu_figures(cpu['fast'])}")
        print(f"maild deliver in-process (no listener): {cpu_figures(cpu['slow'])}")
        print(
            f"IMAP, maild run --once over {args.n} messages: {imap.seconds:.2f} s, exit {imap.code} "
            f"(**{imap_rate:.1f} msg/s** end to end); db {args.db}"
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
