"""Workers: 1 vs 2 `maild run` daemons on PostgreSQL over the same mailbox of N messages.

For each worker count, on a fresh PostgreSQL database and a fresh mailbox
holding N mixed messages (as in throughput.py; seed cases are opened first
by one `run --once`): start the daemons together, time until every message
is recorded and every notification sent (outbox empty, sink count equal to
the rows sent), then stop them with SIGTERM and check for duplicates:
cases per opening message, comments per inbound message, outbox rows per
(case, event, recipient, source), Message-IDs delivered to the sink more than
once, and messages left without the done keyword. Per-worker shares come from
each daemon's log. The script measures whatever the code does (mailbox
lease, SKIP LOCKED claims) and asserts nothing. The worker counts run in
turn, --repeat rounds of them, and the last line gives the medians and the
ratio of each round: the same run moves by a third either way on this
machine kind as its other tenants come and go.

    .venv/bin/python bench/workers.py [--n 1000] [--workers 1,2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import time
from collections import Counter
from email import policy
from email.parser import BytesParser
from typing import Any

import psycopg
from common import (
    cpu_between,
    cpu_snapshot,
    dovecot,
    log,
    machine,
    make_env,
    postgres_db,
    seed_and_build_mailbox,
    sink,
    start_daemon,
    stop_daemon,
    workdir,
)

TIMEOUT = 900.0


def counts(url: str) -> dict[str, int]:
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    q = {
        "inbound": "SELECT count(*) FROM inbound_messages",
        "cases": "SELECT count(*) FROM cases",
        "comments": "SELECT count(*) FROM comments",
        "pending": "SELECT count(*) FROM outbox WHERE status = 'pending'",
        "sent": "SELECT count(*) FROM outbox WHERE status = 'sent'",
        "failed": "SELECT count(*) FROM outbox WHERE status = 'failed'",
        "dup_cases": "SELECT count(*) FROM (SELECT thread_root FROM cases GROUP BY thread_root"
        " HAVING count(*) > 1) d",
        "dup_comments": "SELECT count(*) FROM (SELECT inbound_message_id FROM comments"
        " WHERE inbound_message_id IS NOT NULL GROUP BY inbound_message_id"
        " HAVING count(*) > 1) d",
        "dup_outbox": "SELECT count(*) FROM (SELECT case_id, event, recipient, subject, created_at"
        " FROM outbox"
        " GROUP BY case_id, event, recipient, subject, created_at HAVING count(*) > 1) d",
        "attempts_gt1": "SELECT count(*) FROM outbox WHERE attempts > 1",
    }
    with psycopg.connect(dsn, autocommit=True) as c:
        return {k: int(c.execute(sql).fetchone()[0]) for k, sql in q.items()}


PROGRESS = (
    "SELECT (SELECT count(*) FROM inbound_messages),"
    " (SELECT count(*) FROM outbox WHERE status = 'pending'),"
    " (SELECT count(*) FROM outbox WHERE status = 'sent')"
)


def progress(conn: Any) -> dict[str, int]:
    """What the poll needs, in one cheap query on one open connection.

    The poll runs every 0.2 s during the measured run, so it must cost the
    machine next to nothing: a new connection (a forked PostgreSQL backend)
    and GROUP BY scans of the whole outbox each time took CPU from the
    workers being measured.
    """
    inbound, pending, sent = conn.execute(PROGRESS).fetchone()
    return {"inbound": int(inbound), "pending": int(pending), "sent": int(sent)}


def one(n: int, workers: int) -> tuple[float, list[str]]:
    wd = workdir(f"workers{workers}")
    try:
        with dovecot() as box, sink(wd / "sink") as s, postgres_db() as url:
            env = make_env(wd, url, box.port, s.port)
            kinds = seed_and_build_mailbox(env, box, s, n)
            base = counts(url)
            seq0 = s.last_seq()
            log(f"{workers} worker(s): mailbox of {n} ready; starting daemons")
            cpu_before = cpu_snapshot()
            start = time.perf_counter()
            procs = [start_daemon(env, f"worker{i}") for i in range(workers)]
            cpu_line = ""
            ingested_at = done_at = None
            last: dict[str, int] = {}
            poll = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
            try:
                deadline = time.monotonic() + TIMEOUT
                while time.monotonic() < deadline:
                    last = progress(poll)
                    if ingested_at is None and last["inbound"] >= base["inbound"] + n:
                        ingested_at = time.perf_counter() - start
                    if ingested_at is not None and last["pending"] == 0 and s.count() >= last["sent"]:
                        done_at = time.perf_counter() - start
                        cpu_line = cpu_between(cpu_before, cpu_snapshot(), done_at)
                        break
                    if any(p.poll() is not None for p in procs):
                        log("a daemon exited early")
                        break
                    time.sleep(0.2)
                time.sleep(1.0)  # anything sent twice after "done" still shows up
            finally:
                poll.close()
                codes = [stop_daemon(p) for p in procs]
            final = counts(url)
            client = box.connect()
            try:
                client.select_folder("INBOX", readonly=True)
                left = len(client.search(["NOT", "KEYWORD", "$MaildDone"]))
            finally:
                client.logout()
            parser = BytesParser(policy=policy.default)
            mids = Counter(
                str(parser.parsebytes(s.raw(int(m["seq"])), headersonly=True)["Message-ID"])
                for m in s.metas(seq0)
            )
            dup_sent = sum(c - 1 for c in mids.values() if c > 1)
            shares = []
            for i in range(workers):
                text = (wd / f"worker{i}.log").read_text(errors="replace")
                processed = len(re.findall(r"outcome=", text))
                sent = sum(int(x) for x in re.findall(r"outbox: sent=(\d+)", text))
                shares.append(f"worker{i}: ingested {processed}, sent {sent}")
        rate = n / done_at if done_at else float("nan")
        return rate, [
            f"{workers} worker(s), {n} messages ({kinds['reply_en'] + kinds['reply_ja']} replies): "
            f"all ingested {ingested_at if ingested_at is None else round(ingested_at, 1)} s, "
            f"all sent {done_at if done_at is None else round(done_at, 1)} s -> {rate:.1f} msg/s; "
            f"exit codes {codes}",
            f"  {'; '.join(shares)}",
            f"  {cpu_line}",
            f"  rows: inbound +{final['inbound'] - base['inbound']}, "
            f"cases +{final['cases'] - base['cases']}, "
            f"comments +{final['comments'] - base['comments']}, outbox sent +{final['sent'] - base['sent']} "
            f"(pending {final['pending']}, failed {final['failed']}, retried {final['attempts_gt1']}); "
            f"sink received {sum(mids.values())}",
            f"  duplicates: cases {final['dup_cases']}, comments {final['dup_comments']}, "
            f"outbox rows {final['dup_outbox']}, Message-IDs delivered twice {dup_sent}; "
            f"left without $MaildDone {left}",
        ]
    finally:
        shutil.rmtree(wd, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="messages in the mailbox (default 1000)")
    ap.add_argument("--workers", default="1,2", help="worker counts to compare (default 1,2)")
    ap.add_argument(
        "--repeat", type=int, default=3, help="rounds of every worker count, taken in turn (default 3)"
    )
    args = ap.parse_args()
    worker_counts = [int(x) for x in args.workers.split(",") if x.strip()]
    lines: list[str] = []
    rates: dict[int, list[float]] = {w: [] for w in worker_counts}
    for round_ in range(1, args.repeat + 1):
        for w in worker_counts:
            rate, found = one(args.n, w)
            rates[w].append(rate)
            lines += [f"round {round_}: {found[0]}", *found[1:]]
    print(machine())
    print("\n".join(lines))
    print(summary(rates))
    return 0


def summary(rates: dict[int, list[float]]) -> str:
    """Medians over the rounds, and each round's own ratio of its runs, which are minutes apart.

    The machine's other tenants move a single run by a third either way; a
    ratio taken within a round compares runs under the same conditions.
    """
    medians = {w: statistics.median(r) for w, r in rates.items()}
    parts = [f"{w} worker(s) {m:.1f} msg/s" for w, m in medians.items()]
    text = f"median of {len(next(iter(rates.values())))} round(s): {', '.join(parts)}"
    if 1 in rates and len(rates) > 1:
        for w in (w for w in rates if w != 1):
            ratios = [b / a for a, b in zip(rates[1], rates[w], strict=True)]
            text += (
                f"; {w} vs 1 worker: ratio of the medians {medians[w] / medians[1]:.2f}x, "
                f"median of the rounds' ratios {statistics.median(ratios):.2f}x "
                f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
            )
    return text


if __name__ == "__main__":
    sys.exit(main())
