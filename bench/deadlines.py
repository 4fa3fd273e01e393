"""Deadlines: `maild.daemon.deadline_loop.scan_deadlines(app)` with 100,000 open cases, SQLite and PostgreSQL.

The schema comes from `maild db upgrade`; the cases (one participant each)
are inserted directly with SQLAlchemy Core. Timed: the scan when no case is
due (every next escalation in the future: the common case, run every second
by each worker) and with 100 cases due (each escalated once: notifications
queued). The SQL the scan really issues is captured and its plan printed
(SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN (ANALYZE, BUFFERS), inside a
transaction that is rolled back).

    .venv/bin/python bench/deadlines.py [--n 100000] [--db both|sqlite|postgres] [--due 100]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from common import database, log, machine, make_env, workdir

REPEAT_IDLE = 20
REPEAT_DUE = 3
CHUNK = 5000


def load_cases(app: Any, n: int, now: datetime) -> None:
    from sqlalchemy import insert, select

    from maild.store.models import Account, Case, Contact, Participant

    with app.db.session() as s:
        account_id = s.scalar(select(Account.id).limit(1))
        contacts = s.execute(select(Contact.id, Contact.email)).all()
    rng = random.Random(1)
    made = 0
    while made < n:
        rows = []
        size = min(CHUNK, n - made)
        for _ in range(size):
            created = now - timedelta(minutes=rng.randint(1, 50))
            due = created + timedelta(hours=4)
            rows.append(
                {
                    "subject": "Report export stuck at 99%",
                    "description": "Since yesterday our users see an error.",
                    "description_full": "Since yesterday our users see an error.",
                    "severity": 3,
                    "status": "new",
                    "account_id": account_id,
                    "primary_contact_id": contacts[made % len(contacts)][0],
                    "fields": {},
                    "language": "en",
                    "thread_root": f"<bench.{made}.{rng.random()}@acme.example>",
                    "created_at": created,
                    "updated_at": created,
                    "first_response_due_at": due,
                    "next_escalation_at": due,
                }
            )
            made += 1
        with app.db.session() as s:
            ids = s.execute(insert(Case).returning(Case.id), rows).scalars().all()
            s.execute(
                insert(Participant),
                [
                    {
                        "case_id": cid,
                        "email": contacts[(made - size + k) % len(contacts)][1],
                        "name": "",
                        "role": "primary",
                        "contact_id": contacts[(made - size + k) % len(contacts)][0],
                        "created_at": now,
                    }
                    for k, cid in enumerate(ids)
                ],
            )


def make_due(app: Any, count: int, now: datetime, seed: int) -> list[int]:
    """Put `count` random cases past their deadline, as if opened 5 hours ago."""
    from sqlalchemy import delete, func, select, update

    from maild.store.models import Case, Escalation, Outbox

    with app.db.session() as s:
        s.execute(delete(Outbox))
        s.execute(delete(Escalation))
        top = int(s.scalar(select(func.max(Case.id))) or 0)
        ids = random.Random(seed).sample(range(1, top + 1), count)
        s.execute(
            update(Case)
            .where(Case.id.in_(ids))
            .values(
                created_at=now - timedelta(hours=5),
                first_response_due_at=now - timedelta(hours=1),
                next_escalation_at=now - timedelta(hours=1),
            )
        )
    return ids


def analyze(app: Any) -> None:
    from sqlalchemy import text

    with app.db.engine.connect() as c:
        c.execute(text("ANALYZE"))
        c.commit()


def capture_scan_sql(app: Any) -> list[tuple[str, Any]]:
    """Run one scan and keep the statements that read the cases table."""
    from sqlalchemy import event

    from maild.daemon.deadline_loop import scan_deadlines

    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM cases" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(app.db.engine, "before_cursor_execute", grab)
    try:
        scan_deadlines(app)
    finally:
        event.remove(app.db.engine, "before_cursor_execute", grab)
    return seen


def explain(app: Any, statement: str, parameters: Any) -> list[str]:
    postgres = app.db.engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    raw = app.db.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(prefix + statement, parameters)
        rows = cur.fetchall()
        raw.rollback()
    finally:
        raw.close()
    if postgres:
        return [str(r[0]) for r in rows]
    return [f"{'  ' * 0}{r[-1]}" for r in rows]


def bench(kind: str, n: int, due: int) -> list[str]:
    from maild.app import App
    from maild.config import load_settings
    from maild.daemon.deadline_loop import scan_deadlines

    wd = workdir(f"deadlines-{kind}")
    out: list[str] = []
    try:
        with database(kind, wd) as url:
            env = make_env(wd, url, 1, 1)  # the mailbox and SMTP are never contacted
            app = App(load_settings(env.config_path))
            now = datetime.now(UTC)
            t = time.perf_counter()
            load_cases(app, n, now)
            analyze(app)
            log(f"{kind}: {n} open cases loaded in {time.perf_counter() - t:.1f}s")
            idle = []
            for _ in range(REPEAT_IDLE):
                t = time.perf_counter()
                queued = scan_deadlines(app)
                idle.append(time.perf_counter() - t)
                assert queued == 0, "nothing should be due"
            sql = capture_scan_sql(app)
            plans = [(stmt, explain(app, stmt, params)) for stmt, params in sql[:1]]
            due_times, queued_counts = [], []
            for r in range(REPEAT_DUE):
                make_due(app, due, datetime.now(UTC), seed=r)
                t = time.perf_counter()
                queued = scan_deadlines(app)
                due_times.append(time.perf_counter() - t)
                queued_counts.append(queued)
            again = scan_deadlines(app)
            app.close()
            out.append(
                f"{kind}: {n} open cases, none due: median {statistics.median(idle) * 1000:.1f} ms, "
                f"max {max(idle) * 1000:.1f} ms over {REPEAT_IDLE} scans"
            )
            out.append(
                f"{kind}: {n} open cases, {due} due: median {statistics.median(due_times) * 1000:.0f} ms "
                f"({statistics.median(due_times) / due * 1000:.1f} ms/case), notifications queued "
                f"{queued_counts}, next scan queued {again}"
            )
            for stmt, plan in plans:
                out.append(f"{kind} scan query: {' '.join(stmt.split())}")
                out.append(f"{kind} plan:")
                out.extend(f"    {line}" for line in plan)
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="open cases (default 100000)")
    ap.add_argument("--due", type=int, default=100, help="cases due in the second measurement (default 100)")
    ap.add_argument("--db", default="both", help="both (default), sqlite or postgres")
    args = ap.parse_args()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    lines: list[str] = []
    for kind in kinds:
        lines += bench(kind, args.n, min(args.due, args.n))
    print(machine())
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
