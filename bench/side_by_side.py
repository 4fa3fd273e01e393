"""Side by side, in one run: maild, "the limit" and django-helpdesk on the same mailbox (issue 19).

ONE mailbox of N raw messages is built once and reused every round: about
22% new cases from designated contacts, the rest replies from the case's own
contact, each after the message it answers in mailbox order, threaded by
In-Reply-To (the previous message of the thread) and References (the
original … the previous), subject "Re: <original subject>", the original
quoted; about 30% Japanese in ISO-2022-JP. Every message carries an
Authentication-Results header from a trusted authserv-id (dmarc=pass and an
aligned dkim=pass), the shape a receiving MTA writes, so maild counts the
sender as proven (SPEC §8) without any notification of its own having been
replied to; django-helpdesk threads by In-Reply-To against the Message-IDs
it stored and checks no sender.

Each round, in rotating order, on a freshly loaded Dovecot mailbox (the same
bytes), a fresh database and a fresh sink:
  maild            `maild run --once` (SQLite unless --db postgres; team copies on)
  limit            right after maild: UID FETCH (batches of 100) + stdlib parse,
                   then a bare aiosmtplib send, over ONE connection, of the
                   notifications maild sent in that round (bytes and envelopes)
  django-helpdesk  `manage.py get_email` (bench/helpdesk.py installs and sets it up)
Both systems' results are verified exactly (cases/tickets, comments/follow-ups
per thread, Japanese text); a failed verification prints why and exits 1.

    .venv/bin/python bench/side_by_side.py [--n 2000] [--rounds 2] [--db sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, getaddresses
from pathlib import Path
from typing import Any

from common import (
    AGENT_TEAM,
    ROOT,
    cpu_between,
    cpu_snapshot,
    database,
    dovecot,
    en_mail,
    ja_mail,
    load_mailbox,
    log,
    machine,
    maild_cmd,
    make_env,
    new_case_mail,
    proc_env,
    sink,
    tail,
    workdir,
)
from helpdesk import Measured, Project, Recorded, Thread, compare, ensure_venv, run_measured
from throughput import bare_send, fetch_and_parse

SUPPORT = "support@example.com"
AUTHSERV = "mx.example.com"  # the receiving MTA both systems sit behind; trusted by maild
NEW_SHARE = 0.22
JA_SHARE = 0.30
RECENT = 60  # a reply answers one of the last RECENT threads opened

EN_REPLIES = (
    "Thanks, we tried the workaround but it still fails",
    "It happened again this morning, see the request id below",
    "Any update on this? Month-end is close",
)
JA_REPLIES = (
    "ご連絡ありがとうございます。追加のログを添付します",
    "本日も同じ事象が発生しました。至急ご確認ください",
    "回避策を試しましたが改善しませんでした",
)


# --------------------------------------------------------------------------- the mailbox


def authenticated(raw: bytes, sender: str) -> bytes:
    """The message as the receiving MTA hands it on: its Authentication-Results on top."""
    domain = sender.rsplit("@", 1)[1]
    eol = b"\r\n" if b"\r\n" in raw[:2000] else b"\n"
    header = (
        f"Authentication-Results: {AUTHSERV}; spf=pass smtp.mailfrom={sender}; "
        f"dkim=pass header.d={domain} header.s=sel1; dmarc=pass (p=reject) header.from={domain}"
    )
    return header.encode("ascii") + eol + raw


def _text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


def build_mailbox(n: int, seed: int) -> tuple[list[bytes], list[Thread], dict[str, int]]:
    """N raw messages in mailbox order, the threads they make, and what kinds they are."""
    rng = random.Random(seed)
    parser = BytesParser(policy=policy.default)
    n_new = max(1, round(n * NEW_SHARE))
    kinds = ["new"] * n_new + ["reply"] * (n - n_new)
    rng.shuffle(kinds)
    first_new = kinds.index("new")
    kinds[0], kinds[first_new] = kinds[first_new], kinds[0]
    msgs: list[bytes] = []
    threads: list[Thread] = []
    state: list[dict[str, Any]] = []  # per thread: original text, the References chain
    counts = {"new_en": 0, "new_ja": 0, "reply_en": 0, "reply_ja": 0}
    for i, kind in enumerate(kinds):
        if kind == "new":
            japanese = rng.random() < JA_SHARE
            raw = new_case_mail(rng, i, japanese)
            msg = parser.parsebytes(raw)
            sender = getaddresses([str(msg["From"])])[0][1]
            body = _text(msg)  # type: ignore[arg-type]
            marker = "リクエストID" if japanese else "request id"
            line = next(ln for ln in body.splitlines() if marker in ln)
            mid = str(msg["Message-ID"])
            threads.append(Thread(str(msg["Subject"]), sender, japanese, [mid], [line]))
            state.append({"body": body, "date": str(msg["Date"]), "refs": [mid]})
            counts["new_ja" if japanese else "new_en"] += 1
        else:
            t = rng.randrange(max(0, len(threads) - RECENT), len(threads))
            thread, st = threads[t], state[t]
            quoted = "\n".join("> " + ln for ln in st["body"].splitlines())
            refs = st["refs"]
            chain = refs if len(refs) <= 10 else [refs[0], *refs[-9:]]
            if thread.japanese:
                line = f"{rng.choice(JA_REPLIES)}（返信{i}）"
                body = f"{line}\n\n{st['date']} {thread.sender}:\n{quoted}\n"
                raw = ja_mail(
                    thread.sender,
                    SUPPORT,
                    f"Re: {thread.subject}",
                    body,
                    in_reply_to=refs[-1],
                    references=" ".join(chain),
                )
            else:
                line = f"{rng.choice(EN_REPLIES)} (reply {i})."
                body = f"{line}\n\nOn {st['date']}, {thread.sender} wrote:\n{quoted}\n"
                raw = en_mail(
                    thread.sender,
                    SUPPORT,
                    f"Re: {thread.subject}",
                    body,
                    in_reply_to=refs[-1],
                    references=" ".join(chain),
                )
            mid = str(parser.parsebytes(raw, headersonly=True)["Message-ID"])
            thread.message_ids.append(mid)
            thread.texts.append(line)
            refs.append(mid)
            counts["reply_ja" if thread.japanese else "reply_en"] += 1
            sender = thread.sender
        msgs.append(authenticated(raw, sender))
    counts["bytes"] = sum(len(m) for m in msgs)
    counts["ja"] = counts["new_ja"] + counts["reply_ja"]
    return msgs, threads, counts


def fresh_mailbox(box: Any, msgs: list[bytes]) -> list[int]:
    """Empty the INBOX and load the mailbox's bytes again; the new UIDs."""
    box.clear()
    return load_mailbox(box, msgs)


def pending(box: Any) -> int:
    client = box.connect()
    try:
        client.select_folder("INBOX", readonly=True)
        return len(client.search(["NOT", "KEYWORD", "$MaildDone"]))
    finally:
        client.logout()


def in_inbox(box: Any) -> int:
    client = box.connect()
    try:
        return int(client.select_folder("INBOX", readonly=True)[b"EXISTS"])
    finally:
        client.logout()


# --------------------------------------------------------------------------- verification


def verify_maild(url: str, threads: list[Thread]) -> tuple[list[str], dict[str, int]]:
    """Cases == threads; each reply a comment on its thread's case; subjects and text intact.

    A thread's first message is the case (its text in the description), each
    reply one comment found by its inbound record: comments per case ==
    replies of that thread.
    """
    from sqlalchemy import create_engine, text

    rec = Recorded()
    outcomes: dict[str, int] = {}
    engine = create_engine(url)
    try:
        with engine.connect() as db:
            cases = db.execute(text("SELECT id, subject, description_full || ' ' || description FROM cases"))
            described = {}
            for cid, subject, description in cases:
                rec.containers[cid] = subject
                rec.per_container[cid] = 1
                described[cid] = description
            by_row: dict[int, tuple[int, str]] = {}
            comments = db.execute(text("SELECT case_id, inbound_message_id, body, full_body FROM comments"))
            for case_id, inbound_id, body, full in comments:
                rec.per_container[case_id] = rec.per_container.get(case_id, 0) + 1
                if inbound_id is not None:
                    by_row[inbound_id] = (case_id, f"{body}\n{full}")
            inbound = db.execute(text("SELECT id, message_id, outcome, case_id FROM inbound_messages"))
            for rid, mid, outcome, case_id in inbound:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
                if outcome == "case_opened":
                    rec.items[mid] = (case_id, described.get(case_id, ""))
                elif rid in by_row:
                    rec.items[mid] = by_row[rid]
    finally:
        engine.dispose()

    def title_ok(thread: Thread, subject: str) -> bool:
        # maild keeps the severity tag out of the subject ("[Sev 3]", "[重要度3]"): compare the rest.
        core = thread.subject.split(" [")[0].split(" #")[0]
        return core in subject and "#" + thread.subject.rsplit("#", 1)[1] in subject

    problems = compare("maild", "case", rec, threads, title_ok)
    n_replies = sum(len(t.message_ids) - 1 for t in threads)
    if outcomes.get("case_opened", 0) != len(threads) or outcomes.get("comment_added", 0) != n_replies:
        problems.append(
            f"maild: outcomes {outcomes}, expected {len(threads)} case_opened, {n_replies} comment_added"
        )
    comments_total = sum(rec.per_container.values()) - len(rec.containers)
    return problems, {"cases": len(rec.containers), "comments": comments_total, **outcomes}


# --------------------------------------------------------------------------- the three runs


def mib(kb: int) -> float:
    return kb / 1024.0


def run_maild(
    args: argparse.Namespace, wd: Path, box: Any, msgs: list[bytes], threads: list[Thread]
) -> tuple[dict[str, Any], list[tuple[str, list[str], bytes]]]:
    wd.mkdir(parents=True)
    with sink(wd / "sink") as s, database(args.db, wd) as url:
        env = make_env(wd, url, box.port, s.port, overrides={"support.trusted_authserv_ids": [AUTHSERV]})
        fresh_mailbox(box, msgs)
        log("maild run --once …")
        before = cpu_snapshot()
        m = run_measured(maild_cmd(env, "run", "--once"), cwd=ROOT, env=proc_env(), log_path=wd / "maild.log")
        cpu_line = cpu_between(before, cpu_snapshot(), m.seconds, {"maild": m.cpu_seconds})
        problems: list[str] = []
        if m.code != 0:
            problems.append(f"maild exited {m.code}:\n{tail(wd / 'maild.log')}")
        left = pending(box)
        if left:
            problems.append(f"maild: {left} messages left without $MaildDone")
        more, counts = verify_maild(url, threads)
        problems += more
        metas = s.metas()
        envelopes = [(mt["mail_from"], list(mt["rcpt_tos"]), s.raw(int(mt["seq"]))) for mt in metas]
        if not envelopes:
            problems.append("maild: no notifications reached the sink")
    log(
        f"maild: {m.seconds:.1f}s, CPU {m.cpu_seconds:.1f}s, {len(envelopes)} sent, "
        f"peak RSS largest {mib(m.largest_kb):.0f} MiB, all {mib(m.sum_kb):.0f} MiB "
        f"({len(m.peak_kb)} pids); {counts}"
    )
    return {
        "m": m,
        "sent": len(envelopes),
        "problems": problems,
        "cpu_line": cpu_line,
        "counts": counts,
    }, envelopes


def run_limit(
    wd: Path, box: Any, msgs: list[bytes], envelopes: list[tuple[str, list[str], bytes]]
) -> dict[str, Any]:
    wd.mkdir(parents=True)
    uids = fresh_mailbox(box, msgs)
    log("the limit: fetch + parse …")
    fetched, fetch_s, _size = fetch_and_parse(box, min(uids), max(uids))
    with sink(wd / "sink") as s:
        log(f"the limit: bare send of {len(envelopes)} over one connection …")
        send_s = asyncio.run(bare_send(s.port, envelopes)) if envelopes else 0.0
        got = s.wait_for(len(envelopes), 30)
    problems = []
    if fetched != len(msgs):
        problems.append(f"limit: fetched {fetched} of {len(msgs)}")
    if got != len(envelopes):
        problems.append(f"limit: the sink got {got} of {len(envelopes)}")
    log(f"limit: fetch+parse {fetch_s:.1f}s, send {send_s:.1f}s")
    return {"fetch_s": fetch_s, "send_s": send_s, "seconds": fetch_s + send_s, "problems": problems}


def run_helpdesk(
    wd: Path, python: Path, box: Any, msgs: list[bytes], threads: list[Thread]
) -> dict[str, Any]:
    wd.mkdir(parents=True)
    with sink(wd / "sink") as s:
        project = Project.create(
            wd / "project",
            python,
            imap_port=box.port,
            smtp_port=s.port,
            user="support",
            password=box.password,
            team=AGENT_TEAM,
            support=SUPPORT,
        )
        project.compile()
        fresh_mailbox(box, msgs)
        log("django-helpdesk get_email …")
        before = cpu_snapshot()
        m = project.get_email(wd / "get_email.log")
        cpu_line = cpu_between(before, cpu_snapshot(), m.seconds, {"django-helpdesk": m.cpu_seconds})
        sent = s.count()
        problems: list[str] = []
        if m.code != 0:
            problems.append(f"django-helpdesk exited {m.code}:\n{tail(wd / 'get_email.log')}")
        more, counts = project.verify(threads)
        problems += more
        left = in_inbox(box)
        if not sent:
            problems.append("django-helpdesk: no notifications reached the sink")
    log(
        f"django-helpdesk: {m.seconds:.1f}s, CPU {m.cpu_seconds:.1f}s, {sent} sent, "
        f"peak RSS {mib(m.largest_kb):.0f} MiB; {counts}; {left} messages left in the INBOX"
    )
    return {"m": m, "sent": sent, "problems": problems, "cpu_line": cpu_line, "left": left, "counts": counts}


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="messages in the mailbox (default 2000)")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (default 2)")
    ap.add_argument("--db", default="sqlite", help="maild's database: sqlite (default) or postgres")
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()

    started = machine()
    python = ensure_venv()
    msgs, threads, kinds = build_mailbox(args.n, args.seed)
    log(f"mailbox: {kinds}")
    wd = workdir("side-by-side")
    rounds: list[dict[str, Any]] = []
    problems: list[str] = []
    try:
        with dovecot() as box:
            for r in range(args.rounds):
                order = ["maild", "django-helpdesk"] if r % 2 == 0 else ["django-helpdesk", "maild"]
                log(f"round {r + 1}: {' then '.join(order)} (the limit right after maild)")
                result: dict[str, Any] = {"order": order}
                for unit in order:
                    if unit == "maild":
                        result["maild"], envelopes = run_maild(
                            args, wd / f"r{r + 1}-maild", box, msgs, threads
                        )
                        result["limit"] = run_limit(wd / f"r{r + 1}-limit", box, msgs, envelopes)
                    else:
                        result["helpdesk"] = run_helpdesk(
                            wd / f"r{r + 1}-helpdesk", python, box, msgs, threads
                        )
                for key in ("maild", "limit", "helpdesk"):
                    problems += [f"round {r + 1}: {p}" for p in result[key]["problems"]]
                rounds.append(result)
    finally:
        if args.keep:
            print(f"work directory kept: {wd}", file=sys.stderr)
        else:
            shutil.rmtree(wd, ignore_errors=True)

    n = len(msgs)
    print(started + " (at the start)")
    print(machine() + " (at the end)")
    print(f"date: {formatdate(localtime=False)}")
    print(
        f"mailbox: {n} messages, {kinds['new_en'] + kinds['new_ja']} new cases "
        f"({kinds['new_ja']} ja), {kinds['reply_en'] + kinds['reply_ja']} replies ({kinds['reply_ja']} ja), "
        f"{kinds['ja']} in ISO-2022-JP, {kinds['bytes'] / 1e6:.1f} MB; maild db {args.db}"
    )
    rates: dict[str, list[float]] = {"maild": [], "limit": [], "helpdesk": []}
    cpu_ms: dict[str, list[float]] = {"maild": [], "helpdesk": []}
    rss: dict[str, list[float]] = {"maild_largest": [], "maild_sum": [], "helpdesk": []}
    for i, res in enumerate(rounds, 1):
        mm: Measured = res["maild"]["m"]
        hm: Measured = res["helpdesk"]["m"]
        lim = res["limit"]
        rates["maild"].append(n / mm.seconds)
        rates["limit"].append(n / lim["seconds"])
        rates["helpdesk"].append(n / hm.seconds)
        cpu_ms["maild"].append(1000 * mm.cpu_seconds / n)
        cpu_ms["helpdesk"].append(1000 * hm.cpu_seconds / n)
        rss["maild_largest"].append(mib(mm.largest_kb))
        rss["maild_sum"].append(mib(mm.sum_kb))
        rss["helpdesk"].append(mib(hm.largest_kb))
        print(f"round {i} ({', '.join(res['order'])}):")
        print(
            f"  maild run --once: {mm.seconds:.2f} s = {n / mm.seconds:.1f} msg/s, exit {mm.code}, "
            f"CPU {mm.cpu_seconds:.2f} s = {1000 * mm.cpu_seconds / n:.2f} ms/msg (both processes), "
            f"peak RSS largest {mib(mm.largest_kb):.0f} MiB, all processes {mib(mm.sum_kb):.0f} MiB "
            f"({len(mm.peak_kb)}), {res['maild']['sent']} notifications"
        )
        print(f"    {res['maild']['cpu_line']}")
        print(
            f"  limit: fetch+parse {lim['fetch_s']:.2f} s + bare send of {res['maild']['sent']} "
            f"over 1 connection {lim['send_s']:.2f} s = {n / lim['seconds']:.1f} msg/s"
        )
        print(
            f"  django-helpdesk get_email: {hm.seconds:.2f} s = {n / hm.seconds:.1f} msg/s, exit {hm.code}, "
            f"CPU {hm.cpu_seconds:.2f} s = {1000 * hm.cpu_seconds / n:.2f} ms/msg, "
            f"peak RSS {mib(hm.largest_kb):.0f} MiB, {res['helpdesk']['sent']} notifications, "
            f"{res['helpdesk']['left']} messages left in the INBOX (it deletes what it processed)"
        )
        print(f"    {res['helpdesk']['cpu_line']}")
        print(
            f"  maild / limit {rates['maild'][-1] / rates['limit'][-1]:.2f}, "
            f"maild / django-helpdesk {rates['maild'][-1] / rates['helpdesk'][-1]:.2f}"
        )

    def med(values: list[float]) -> float:
        return statistics.median(values)

    verified = "both verified exact" if not problems else "VERIFICATION FAILED"
    print(f"medians of {len(rounds)} rounds ({verified}):")
    print(
        f"maild: {med(rates['maild']):.1f} msg/s, CPU {med(cpu_ms['maild']):.2f} ms/msg (both processes), "
        f"peak RSS largest {med(rss['maild_largest']):.0f} MiB, "
        f"all maild processes {med(rss['maild_sum']):.0f} MiB"
    )
    print(f"limit: {med(rates['limit']):.1f} msg/s")
    print(
        f"django-helpdesk 2.6.1: {med(rates['helpdesk']):.1f} msg/s, "
        f"CPU {med(cpu_ms['helpdesk']):.2f} ms/msg, "
        f"peak RSS {med(rss['helpdesk']):.0f} MiB"
    )
    print(f"maild / limit: {med([a / b for a, b in zip(rates['maild'], rates['limit'], strict=True)]):.2f}")
    vs_peer = med([a / b for a, b in zip(rates["maild"], rates["helpdesk"], strict=True)])
    print(f"maild / django-helpdesk: {vs_peer:.2f}")
    if problems:
        print("verification failed:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
            print(f"FAILED: {p}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
