"""Memory: peak RSS of `maild run --once` over N messages, and over one message with a 50 MB attachment.

Peak RSS is the maild process's own high-water mark (VmHWM, read while it
runs; see common.run_maild), Python and libraries included. Not ru_maxrss
from wait4: Linux hands the benchmark's own peak (it builds the 72 MB test
message) down to every child at exec. Runs, each on a fresh SQLite database
and mailbox:
  * empty mailbox (the baseline: imports, templates, connections);
  * N/10 and N mixed messages (default N = 10,000, as in the throughput mailbox);
  * one message with a 50 MB attachment, with the default max_attachment_size
    (25MB: the attachment is dropped but the message is parsed) and with
    "100MB" (the attachment is stored in the database).

    .venv/bin/python bench/memory.py [--n 10000] [--attachment-mb 50] [--db sqlite|postgres]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from email import policy
from email.message import EmailMessage

from common import (
    ALICE,
    database,
    dovecot,
    load_mailbox,
    log,
    machine,
    make_env,
    run_maild,
    seed_and_build_mailbox,
    sink,
    tail,
    workdir,
)


def attachment_mail(mb: int) -> bytes:
    m = EmailMessage()
    m["From"] = ALICE
    m["To"] = "support@example.com"
    m["Subject"] = f"Heap dump attached ({mb} MB)"
    m["Message-ID"] = f"<heapdump.{os.getpid()}.{time.time_ns()}@acme.example>"
    m.set_content("Hello support,\n\nthe heap dump from this morning's outage is attached.\n\nAlice\n")
    m.add_attachment(
        os.urandom(mb * 1024 * 1024), maintype="application", subtype="octet-stream", filename="heap.hprof"
    )
    return m.as_bytes(policy=policy.SMTP)


def attachment_rows(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as c:
            rows = c.execute(
                text(
                    "SELECT a.filename, a.size, length(d.data), a.dropped_reason FROM attachments a"
                    " LEFT JOIN attachment_data d ON d.attachment_id = a.id ORDER BY a.id"
                )
            ).all()
    finally:
        engine.dispose()
    described = []
    for name, size, kept, reason in rows:
        state = f"stored ({kept} bytes)" if kept is not None else "dropped"
        described.append(f"{name} {size / 1e6:.1f} MB {state}{f' ({reason})' if reason else ''}")
    return "; ".join(described) or "no attachment rows"


def outcomes(path) -> str:
    text = path.read_text(errors="replace")
    for line in reversed(text.splitlines()):
        if line.startswith("processed") or ("processed " in line and "quarantined" in line):
            return line.strip()
    return tail(path, 3)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--n", type=int, default=10_000, help="the larger mailbox (default 10000; the smaller is N/10)"
    )
    ap.add_argument("--attachment-mb", type=int, default=50)
    ap.add_argument("--db", default="sqlite", help="sqlite (default) or postgres")
    args = ap.parse_args()
    results: list[str] = []
    top = workdir("memory")
    try:
        with dovecot() as box, sink(top / "sink") as s:
            runs: list[tuple[str, int, dict[str, str]]] = [("empty mailbox", 0, {})]
            runs += [(f"{n} messages", n, {}) for n in (max(1, args.n // 10), args.n)]
            runs += [
                (
                    f"1 message, {args.attachment_mb} MB attachment, max_attachment_size default (25MB)",
                    -1,
                    {},
                ),
                (
                    f"1 message, {args.attachment_mb} MB attachment, max_attachment_size 100MB",
                    -1,
                    {"support.max_attachment_size": "100MB"},
                ),
            ]
            for i, (label, n, overrides) in enumerate(runs):
                box.clear("support")
                wd = top / f"run{i}"
                wd.mkdir()
                with database(args.db, wd) as url:
                    env = make_env(wd, url, box.port, s.port, overrides)
                    if n > 0:
                        seed_and_build_mailbox(env, box, s, n)
                    elif n < 0:
                        load_mailbox(box, [attachment_mail(args.attachment_mb)])
                    log(f"{label}: maild run --once …")
                    run = run_maild(env, "run", "--once", log_name="measured")
                    extra = f"; {attachment_rows(url)}" if n < 0 else ""
                    line = (
                        f"{label}: peak RSS {run.peak_rss_kb / 1024:.0f} MiB, {run.seconds:.1f} s, "
                        f"exit {run.code}; {outcomes(run.log)}{extra}"
                    )
                    log(line)
                    results.append(line)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    print(machine())
    print("\n".join(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
