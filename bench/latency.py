"""Latency: APPEND of a reply -> its notification arriving at the SMTP sink, with the daemon on IDLE.

`maild run` runs as a daemon process (poll_interval 30s, so it is IDLE, not
polling, that wakes it). A few cases are opened first; then N replies (default
50) to their acknowledgements are appended one at a time, each waiting for its
notification (to the support team's agent address) before the next. The
latency of one reply is the sink's receive time (the "time" in its index line)
minus the wall time just before the APPEND.

    .venv/bin/python bench/latency.py [--n 50] [--db sqlite|postgres]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses

from common import (
    AGENT_TEAM,
    JA_CONTACTS,
    acknowledgements,
    database,
    dovecot,
    log,
    machine,
    make_env,
    new_case_mail,
    percentile,
    reply_mail,
    run_maild,
    sink,
    start_daemon,
    stop_daemon,
    tail,
    wait_until,
    workdir,
)
from sqlalchemy import create_engine, text

PER_REPLY_TIMEOUT = 30.0


def idle_baseline(box, rounds: int) -> list[float]:
    """Dovecot's own part: APPEND on one connection -> EXISTS seen by a bare imapclient IDLE on another."""
    watcher = box.connect()
    out: list[float] = []
    try:
        watcher.select_folder("INBOX")
        for i in range(rounds):
            watcher.idle()
            time.sleep(0.2)
            t0 = time.time()
            box.append(new_case_mail(random.Random(i), 900 + i, False), folder="INBOX")
            end = time.monotonic() + 10
            seen = None
            while seen is None and time.monotonic() < end:
                for item in watcher.idle_check(timeout=max(0.01, end - time.monotonic())):
                    if isinstance(item, tuple) and len(item) >= 2 and item[1] == b"EXISTS":
                        seen = time.time()
            watcher.idle_done()
            if seen is not None:
                out.append(seen - t0)
    finally:
        watcher.logout()
    return out


def received_at(engine, message_id: str) -> float | None:
    """When maild recorded the inbound message (its received_at, UTC), as a Unix time."""
    with engine.connect() as c:
        value = c.execute(
            text("SELECT received_at FROM inbound_messages WHERE message_id = :m"), {"m": message_id}
        ).scalar()
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50, help="replies, one at a time (default 50)")
    ap.add_argument("--db", default="sqlite", help="sqlite (default) or postgres")
    args = ap.parse_args()
    rng = random.Random(7)
    wd = workdir("latency")
    latencies: list[float] = []
    to_db: list[float] = []
    to_sink: list[float] = []
    timeouts = 0
    try:
        with dovecot() as box, sink(wd / "sink") as s, database(args.db, wd) as url:
            env = make_env(wd, url, box.port, s.port)
            baseline = idle_baseline(box, 10)
            box.clear("support")
            # Seed cases without Cc: a reply from the primary contact then notifies the team only.
            box.append_many([new_case_mail(rng, i, rng.random() < 0.3, cc_share=0.0) for i in range(10)])
            seeded = run_maild(env, "run", "--once", log_name="seed")
            if seeded.code != 0:
                print(tail(seeded.log), file=sys.stderr)
                return 1
            acks = acknowledgements(s)
            engine = create_engine(url)
            parser = BytesParser(policy=policy.default)
            daemon = start_daemon(env)
            try:
                ready = wait_until(lambda: "watching" in (wd / "daemon.log").read_text(errors="replace"), 30)
                if not ready:
                    log("daemon did not say it is watching the mailbox within 30s; measuring anyway")
                time.sleep(1.0)  # let it enter IDLE
                for i in range(args.n):
                    ack = acks[i % len(acks)]
                    ja = getaddresses([str(ack["To"])])[0][1] in JA_CONTACTS
                    raw = reply_mail(ack, rng, ja)
                    last = s.last_seq()
                    t0 = time.time()
                    box.append(raw)

                    def arrived(last: int = last) -> list[dict]:
                        return [m for m in s.metas(last) if AGENT_TEAM in m["rcpt_tos"]]

                    got = wait_until(arrived, PER_REPLY_TIMEOUT, step=0.005)
                    if not got:
                        timeouts += 1
                        log(f"reply {i}: no notification within {PER_REPLY_TIMEOUT}s")
                        continue
                    latencies.append(float(got[0]["time"]) - t0)
                    mid = str(parser.parsebytes(raw, headersonly=True)["Message-ID"])
                    recorded = received_at(engine, mid)
                    if recorded is not None:
                        to_db.append(recorded - t0)
                        to_sink.append(float(got[0]["time"]) - recorded)
                    time.sleep(0.2)  # let the daemon settle back into IDLE
            finally:
                code = stop_daemon(daemon)
            if code != 0:
                print(tail(wd / "daemon.log"), file=sys.stderr)
        print(machine())
        ms = [x * 1000 for x in latencies]
        print(
            f"replies: {args.n}, measured {len(ms)}, timed out {timeouts}; db {args.db}; daemon exit {code}"
        )
        if ms:
            print(f"min {min(ms):.0f} ms, max {max(ms):.0f} ms, mean {sum(ms) / len(ms):.0f} ms")
            print(f"p50 APPEND->notification: {percentile(ms, 50):.0f} ms")
            if to_db:
                a = [x * 1000 for x in to_db]
                b = [x * 1000 for x in to_sink]
                print(
                    f"of which APPEND->inbound row recorded (received_at): p50 {percentile(a, 50):.0f} ms, "
                    f"p95 {percentile(a, 95):.0f} ms; recorded->at sink: p50 {percentile(b, 50):.0f} ms, "
                    f"p95 {percentile(b, 95):.0f} ms"
                )
            if baseline:
                c = [x * 1000 for x in baseline]
                print(
                    f"baseline, bare IDLE client APPEND->EXISTS ({len(c)} rounds): "
                    f"p50 {percentile(c, 50):.0f} ms,"
                    f" p95 {percentile(c, 95):.0f} ms"
                )
            print(f"p95 APPEND->notification: {percentile(ms, 95):.0f} ms")
        return 0
    finally:
        shutil.rmtree(wd, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
