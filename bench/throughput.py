"""Throughput: `maild run --once` end to end over N mixed support emails, against "the limit".

A real Dovecot on loopback holds N messages (default 2,000): new cases from
designated contacts and replies to acknowledgements of earlier cases (made by
running seed cases through maild first and replying to what the sink got),
about 30% in ISO-2022-JP. maild runs once as a process to a real SMTP sink
(maild.demo.sink as a process). Then, on the same mailbox and sink, the limit:
imapclient UID FETCH in batches of 100 + stdlib BytesParser(policy.default) +
get_body()/get_content() per message, plus a bare aiosmtplib send of as many
notifications as maild sent, over ONE connection.

    .venv/bin/python bench/throughput.py [--n 2000] [--db sqlite|postgres] [--profile FILE]

--profile FILE wraps the maild run in `py-spy record --format raw` (py-spy must
be installed; the timed figure is then the profiled one) and prints the top frames.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import sys
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

from common import (
    cpu_between,
    cpu_snapshot,
    database,
    dovecot,
    log,
    machine,
    make_env,
    run_maild,
    seed_and_build_mailbox,
    sink,
    summarize_collapsed,
    tail,
    workdir,
)

FETCH_BATCH = 100


def fetch_and_parse(box, first_uid: int, last_uid: int) -> tuple[int, float, int]:
    """UID FETCH BODY.PEEK[] in batches of 100, parse each with the stdlib; (count, seconds, bytes)."""
    parser = BytesParser(policy=policy.default)
    start = time.perf_counter()
    client = box.connect()
    count = size = 0
    try:
        client.select_folder("INBOX", readonly=True)
        uids = [u for u in client.search("ALL") if first_uid <= u <= last_uid]
        for i in range(0, len(uids), FETCH_BATCH):
            data = client.fetch(uids[i : i + FETCH_BATCH], ["BODY.PEEK[]"])
            for item in data.values():
                raw = bytes(item[b"BODY[]"])
                msg = parser.parsebytes(raw)
                body = msg.get_body(preferencelist=("plain", "html"))
                if body is not None:
                    body.get_content()
                count += 1
                size += len(raw)
    finally:
        client.logout()
    return count, time.perf_counter() - start, size


async def bare_send(port: int, envelopes: list[tuple[str, list[str], bytes]]) -> float:
    """All envelopes over one aiosmtplib connection, as fast as the protocol allows."""
    import aiosmtplib

    start = time.perf_counter()
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, use_tls=False, timeout=60)
    await client.connect()
    try:
        for mail_from, rcpts, raw in envelopes:
            await client.sendmail(mail_from, rcpts, raw)
    finally:
        await client.quit()
    return time.perf_counter() - start


def pass_phases(log_path: Path) -> str:
    """When ingest ended and the sending process finished, from maild's own log lines."""
    text = log_path.read_text(errors="replace")
    ingest = re.search(r"mail processed in ([0-9.]+) s", text)
    sent = re.search(r"the sending process sent \d+ in ([0-9.]+) s \(its CPU ([0-9.]+) s\)", text)
    if not ingest or not sent:
        return ""
    return (
        f"phases: mail processed at {ingest.group(1)} s, sending process done at {sent.group(1)} s "
        f"(its CPU {sent.group(2)} s)"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="messages in the mailbox (default 2000)")
    ap.add_argument("--db", default="sqlite", help="sqlite (default) or postgres")
    ap.add_argument("--profile", type=Path, help="py-spy raw (collapsed) output file for the maild run")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    wrap: list[str] = []
    if args.profile:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(spy).exists():
            print("--profile needs py-spy (pip install py-spy)", file=sys.stderr)
            return 2
        out = str(args.profile.resolve())
        wrap = [spy, "record", "--subprocesses", "--format", "raw", "--rate", "200", "-o", out, "--"]

    wd = workdir("throughput")
    try:
        with dovecot() as box, sink(wd / "sink") as s, database(args.db, wd) as url:
            env = make_env(wd, url, box.port, s.port)
            log(f"building the mailbox: {args.n} messages (seeding cases first)")
            t = time.perf_counter()
            kinds = seed_and_build_mailbox(env, box, s, args.n)
            log(f"mailbox ready in {time.perf_counter() - t:.1f}s: {kinds}")
            before = s.last_seq()
            log("maild run --once …")
            cpu_before = cpu_snapshot()
            run = run_maild(env, "run", "--once", log_name="measured", wrap=wrap)
            # maild has exited by now: its CPU (with its sending process) comes from wait4.
            cpu_line = cpu_between(cpu_before, cpu_snapshot(), run.seconds, {"maild": run.cpu_seconds})
            if run.code != 0:
                print(tail(run.log), file=sys.stderr)
            metas = s.metas(before)
            sent = len(metas)
            client = box.connect()
            try:
                client.select_folder("INBOX", readonly=True)
                left = len(client.search(["NOT", "KEYWORD", "$MaildDone"]))
            finally:
                client.logout()
            log(f"maild done in {run.seconds:.1f}s, {sent} notifications, {left} left pending")

            log("the limit: fetch + parse …")
            fetched, fetch_s, _size = fetch_and_parse(box, kinds["first_uid"], kinds["last_uid"])
            envelopes = [(m["mail_from"], list(m["rcpt_tos"]), s.raw(int(m["seq"]))) for m in metas]
            log(f"the limit: bare send of {len(envelopes)} …")
            send_s = asyncio.run(bare_send(s.port, envelopes)) if envelopes else 0.0

        maild_rate = args.n / run.seconds
        limit_s = fetch_s + send_s
        limit_rate = fetched / limit_s if limit_s else float("nan")
        if args.profile:
            print("\n".join(summarize_collapsed(args.profile.resolve(), top=20)))
        print(machine())
        print(
            f"mailbox: {args.n} messages ({kinds['new_en']} new en, {kinds['new_ja']} new ja ISO-2022-JP, "
            f"{kinds['reply_en']} replies en, {kinds['reply_ja']} replies ja), "
            f"{kinds['bytes'] / 1e6:.1f} MB; "
            f"db {args.db}{' (profiled)' if args.profile else ''}"
        )
        print(
            f"maild run --once: {run.seconds:.2f} s, exit {run.code}, {sent} notifications sent, "
            f"{left} messages left pending, peak RSS {run.peak_rss_kb / 1024:.0f} MiB, "
            f"CPU {run.cpu_seconds:.2f} s (maild and its sending process)"
        )
        print(
            f"limit: fetch+parse {fetched} msgs {fetch_s:.2f} s ({fetched / fetch_s:.0f} msg/s), "
            f"bare send {len(envelopes)} msgs over 1 connection {send_s:.2f} s "
            f"({len(envelopes) / send_s if send_s else float('nan'):.0f} msg/s)"
        )
        phases = pass_phases(run.log)
        if phases:
            print(phases)
        print(cpu_line)
        print(f"maild: {maild_rate:.1f} msg/s")
        print(f"limit: {limit_rate:.1f} msg/s")
        print(f"maild / limit: {maild_rate / limit_rate:.2f}")
        print("peers: bench/side_by_side.py measures django-helpdesk in the same run (no stale figure here)")
        return 0
    finally:
        if args.keep:
            print(f"work directory kept: {wd}", file=sys.stderr)
        else:
            shutil.rmtree(wd, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
