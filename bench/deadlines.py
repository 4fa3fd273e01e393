"""Deadlines: `maild.daemon.deadline_loop.scan_deadlines(app)` with 100,000 open cases, SQLite and PostgreSQL.

The schema comes from `maild db upgrade`; the cases (one participant each)
are inserted directly with SQLAlchemy Core, carrying every clock of issue 17
under a configuration that turns them all on (two escalation levels,
`warn_before`, `[sla.next_response]`, `waiting_reminder`, `auto_close_after`):

    40% new, unanswered, opened 1-50 min ago: first-response warning and levels
    30% answered, in_progress, a next-response clock running (next_response_due_at)
    20% waiting_on_customer (waiting_since within the last 2 days)
    10% answered, in_progress, nothing running (next_escalation_at NULL)

`cases.next_escalation_at` is what maild itself would store:
maild.policy.followup.next_check_at over the case's clocks and the rules of
maild.cases.clocks.rules. Timed: the scan when nothing is due (the common
case, run every second by each worker) and with `--due` cases made due at
the scan across every kind of timer (first-response warning, level 1,
levels 1+2, next-response warning and escalation, waiting reminder,
automatic close). Each due scan is checked: the escalations and
deadline_notices rows it wrote are exactly the due timers' keys (each once),
the outbox rows it added are the notifications it reports, no case is left
due, and a second scan does nothing. The SQL the scan really issues is
captured and its plan printed (SQLite: EXPLAIN QUERY PLAN; PostgreSQL:
EXPLAIN (ANALYZE, BUFFERS), inside a transaction that is rolled back).

    .venv/bin/python bench/deadlines.py [--n 100000] [--db both|sqlite|postgres] [--due 350]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import database, log, machine, make_env, workdir

REPEAT_IDLE = 50
REPEAT_DUE = 3
CHUNK = 5000
INITIAL = timedelta(hours=4)  # sla.initial_response for severity 3, MaildEnv's default
NEXT = timedelta(hours=8)  # sla.next_response for severity 3, below
CLOCKS = {
    "sla.next_response": {"1": "2h", "2": "4h", "3": "8h", "4": "1d"},
    "sla.waiting_reminder": "3d",
    "sla.auto_close_after": "7d",
    "escalation.warn_before": "15m",
}
LEVELS = "levels = [{ percent = 100 }, { percent = 200 }]"

Row = dict[str, Any]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def spread(values: list[float]) -> str:
    """min / median / max in ms: one noisy scan on a shared machine should not hide in a mean."""
    return f"min {ms(min(values))} / median {ms(statistics.median(values))} / max {ms(max(values))} ms"


# --------------------------------------------------------------------------- the clocks of one case


def new_case(now: datetime, opened: timedelta) -> Row:
    created = now - opened
    return {
        "status": "new",
        "created_at": created,
        "first_response_due_at": created + INITIAL,
        "first_responded_at": None,
        "next_response_due_at": None,
        "waiting_since": None,
    }


def answered(now: datetime, next_due: datetime | None) -> Row:
    created = now - timedelta(days=2)
    return {
        "status": "in_progress",
        "created_at": created,
        "first_response_due_at": created + INITIAL,
        "first_responded_at": created + timedelta(hours=1),
        "next_response_due_at": next_due,
        "waiting_since": None,
    }


def waiting(now: datetime, since: datetime) -> Row:
    row = answered(now, None)
    row.update(status="waiting_on_customer", waiting_since=since)
    return row


def mixed(now: datetime, k: int, rng: random.Random) -> Row:
    """The k-th open case of the load, none due at `now`: 40/30/20/10 (see the module's docstring)."""
    share = k % 10
    if share < 4:
        return new_case(now, timedelta(minutes=rng.randint(1, 50)))
    if share < 7:  # the next-response warning (15 min before) is at least 15 min away
        return answered(now, now + timedelta(minutes=rng.randint(30, 470)))
    if share < 9:  # the reminder (3 days) is at least a day away
        return waiting(now, now - timedelta(minutes=rng.randint(1, 2 * 24 * 60)))
    return answered(now, None)


# Every kind of due timer: the case's clocks at `now`, so that exactly these timers are due.
DUE_KINDS: dict[str, Callable[[datetime], Row]] = {
    "first-response warning": lambda now: new_case(now, INITIAL - timedelta(minutes=10)),
    "first-response level 1": lambda now: new_case(now, INITIAL + timedelta(minutes=10)),
    "first-response levels 1+2": lambda now: new_case(now, 2 * INITIAL + timedelta(minutes=10)),
    "next-response warning": lambda now: answered(now, now + timedelta(minutes=10)),
    "next-response escalation": lambda now: answered(now, now - timedelta(minutes=5)),
    "waiting reminder": lambda now: waiting(now, now - timedelta(days=3, minutes=5)),
    "auto close": lambda now: waiting(now, now - timedelta(days=7, minutes=5)),
}


def clocks(row: Row) -> Any:
    from maild.policy.followup import Clocks

    return Clocks(severity=3, **{k: row[k] for k in Clocks.__dataclass_fields__ if k != "severity"})


# --------------------------------------------------------------------------- loading


def load_cases(app: Any, rules: Any, n: int, now: datetime) -> dict[str, int]:
    """Insert n open cases; returns how many of each next_escalation_at state (due ones: none)."""
    from sqlalchemy import insert, select

    from maild.policy.followup import next_check_at
    from maild.store.models import Account, Case, Contact, Participant

    with app.db.session() as s:
        account_id = s.scalar(select(Account.id).limit(1))
        contacts = s.execute(select(Contact.id, Contact.email)).all()
    rng = random.Random(1)
    made, scheduled, due = 0, 0, 0
    while made < n:
        rows = []
        for _ in range(min(CHUNK, n - made)):
            row = mixed(now, made, rng)
            row["next_escalation_at"] = next_check_at(clocks(row), rules, set(), now)
            scheduled += row["next_escalation_at"] is not None
            due += row["next_escalation_at"] is not None and row["next_escalation_at"] <= now
            contact = contacts[made % len(contacts)]
            row.update(
                subject="Report export stuck at 99%",
                description="Since yesterday our users see an error.",
                description_full="Since yesterday our users see an error.",
                severity=3,
                account_id=account_id,
                primary_contact_id=contact[0],
                fields={},
                language="en",
                thread_root=f"<bench.{made}.{rng.random()}@acme.example>",
                updated_at=row["created_at"],
                _contact=contact,
            )
            rows.append(row)
            made += 1
        people = [r.pop("_contact") for r in rows]
        with app.db.session() as s:
            ids = s.execute(insert(Case).returning(Case.id), rows).scalars().all()
            s.execute(
                insert(Participant),
                [
                    {
                        "case_id": cid,
                        "email": p[1],
                        "name": "",
                        "role": "primary",
                        "contact_id": p[0],
                        "created_at": now,
                    }
                    for cid, p in zip(ids, people, strict=True)
                ],
            )
    return {"scheduled": scheduled, "nothing running": n - scheduled, "due": due}


def make_due(app: Any, rules: Any, ids: list[int], now: datetime) -> set[tuple[int, str, str, int]]:
    """Give `ids` clocks due now, every kind in turn; returns the due timers' (case, key)s."""
    from sqlalchemy import bindparam, update

    from maild.policy.followup import due_timers, next_check_at
    from maild.store.models import Case

    kinds = list(DUE_KINDS.values())
    rows: list[Row] = []
    expected: set[tuple[int, str, str, int]] = set()
    for k, case_id in enumerate(ids):
        row = kinds[k % len(kinds)](now)
        row["next_escalation_at"] = next_check_at(clocks(row), rules, set(), now)
        expected.update((case_id, *t.key) for t in due_timers(clocks(row), rules, set(), now))
        rows.append({"b_id": case_id, **row, "closed_at": None})
    with app.db.session() as s:
        s.connection().execute(update(Case).where(Case.id == bindparam("b_id")), rows)
    return expected


def acted(app: Any, ids: list[int]) -> tuple[list[tuple[int, str, str, int]], int]:
    """The timer keys recorded for `ids` (duplicates kept) and the outbox rows of those cases."""
    from sqlalchemy import func, select

    from maild.store.models import DeadlineNotice, Escalation, Outbox

    with app.db.reader() as s:
        keys = [
            (c, "escalation", d, lv)
            for c, d, lv in s.execute(
                select(Escalation.case_id, Escalation.deadline, Escalation.level).where(
                    Escalation.case_id.in_(ids)
                )
            )
        ]
        keys += [
            (c, kind, d, 0)
            for c, kind, d in s.execute(
                select(DeadlineNotice.case_id, DeadlineNotice.kind, DeadlineNotice.deadline).where(
                    DeadlineNotice.case_id.in_(ids)
                )
            )
        ]
        outbox = int(s.scalar(select(func.count()).select_from(Outbox).where(Outbox.case_id.in_(ids))) or 0)
    return keys, outbox


def cases_where(app: Any, ids: list[int], due_at: datetime | None = None) -> int:
    """How many of `ids` are due at `due_at`, or (None) closed."""
    from sqlalchemy import func, select

    from maild.store.models import Case

    test = Case.status == "closed" if due_at is None else Case.next_escalation_at <= due_at
    with app.db.reader() as s:
        return int(s.scalar(select(func.count()).where(Case.id.in_(ids), test)) or 0)


def analyze(app: Any) -> None:
    from sqlalchemy import text

    with app.db.engine.connect() as c:
        c.execute(text("ANALYZE"))
        c.commit()


# --------------------------------------------------------------------------- the plan


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
    return [str(r[-1]) for r in rows]


def later(parameters: Any) -> Any:
    """The captured parameters with every instant moved to now (the due cases fall before it)."""

    def moved(value: Any) -> Any:
        if isinstance(value, datetime):
            return datetime.now(value.tzinfo) + timedelta(seconds=1)
        if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in " T":
            stamp = (datetime.now(UTC) + timedelta(seconds=1)).replace(tzinfo=None)
            return stamp.isoformat(sep=value[10])[: len(value)]
        return value

    if isinstance(parameters, dict):
        return {k: moved(v) for k, v in parameters.items()}
    return type(parameters)(moved(v) for v in parameters)


# --------------------------------------------------------------------------- the runs


def setup(kind: str, wd: Path, url: str) -> Any:
    from maild.app import App
    from maild.config import load_settings

    env = make_env(wd, url, 1, 1, overrides=CLOCKS)  # the mailbox and SMTP are never contacted
    text = env.config_path.read_text(encoding="utf-8")
    env.config_path.write_text(
        text.replace("[escalation]\n", f"[escalation]\n{LEVELS}\n", 1), encoding="utf-8"
    )
    app = App(load_settings(env.config_path))
    assert len(app.settings.escalation.levels) == 2, "two escalation levels expected"
    return app


def due_round(
    app: Any, rules: Any, ids: list[int], before: Callable[[], None] | None = None
) -> tuple[float, str, list[str]]:
    """One scan with `ids` due (then `before` runs): its time, the rows it wrote, what did not hold."""
    from maild.daemon.deadline_loop import scan_deadlines

    expected = make_due(app, rules, ids, datetime.now(UTC))
    if before is not None:
        before()
    keys_before, outbox_before = acted(app, ids)
    t = time.perf_counter()
    queued = scan_deadlines(app)
    took = time.perf_counter() - t
    keys, outbox = acted(app, ids)
    new_keys = [k for k in keys if k not in set(keys_before)]
    wrong = []
    if sorted(new_keys) != sorted(expected) or len(new_keys) != len(set(new_keys)):
        wrong.append(
            f"keys: {len(new_keys)} recorded, {len(expected)} due, {len(set(new_keys) ^ expected)} differ"
        )
    if outbox - outbox_before != queued:
        wrong.append(f"outbox: {outbox - outbox_before} rows, scan reported {queued}")
    if left := cases_where(app, ids, datetime.now(UTC)):
        wrong.append(f"{left} cases still due after the scan")
    again = scan_deadlines(app)
    keys_again, outbox_again = acted(app, ids)
    if again or len(keys_again) != len(keys) or outbox_again != outbox:
        wrong.append(
            f"second scan: queued {again}, keys +{len(keys_again) - len(keys)}, "
            f"outbox +{outbox_again - outbox}"
        )
    escalations = sum(k[1] == "escalation" for k in new_keys)
    rows = f"{escalations}/{len(new_keys) - escalations}/{outbox - outbox_before}"
    return took, rows, wrong


def count_kinds(expected: set[tuple[int, str, str, int]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, kind, deadline, _level in expected:
        name = f"{kind}:{deadline.split(':', 1)[0]}"
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def bench(kind: str, n: int, due: int) -> list[str]:
    from maild.cases.clocks import rules as rules_of
    from maild.daemon.deadline_loop import scan_deadlines

    wd = workdir(f"deadlines-{kind}")
    out: list[str] = []
    try:
        with database(kind, wd) as url:
            app = setup(kind, wd, url)
            rules = rules_of(app.service.env, None)
            now = datetime.now(UTC)
            t = time.perf_counter()
            states = load_cases(app, rules, n, now)
            analyze(app)
            log(f"{kind}: {n} open cases loaded in {time.perf_counter() - t:.1f}s: {states}")
            idle = []
            for _ in range(REPEAT_IDLE):
                t = time.perf_counter()
                queued = scan_deadlines(app)
                idle.append(time.perf_counter() - t)
                assert queued == 0, "nothing should be due"
            sql = capture_scan_sql(app)
            plans = [(stmt, explain(app, stmt, params)) for stmt, params in sql[:1]]
            picked = random.Random(7).sample(range(1, n + 1), due * REPEAT_DUE)
            times, queued_counts, problems = [], [], []
            timers = count_kinds(make_due_preview(rules, picked[:due]))
            for r in range(REPEAT_DUE):

                def explain_due() -> None:
                    """The same SELECT once cases are due (PostgreSQL's estimate changes)."""
                    for stmt, params in sql[:1]:
                        plans.append((stmt + "  -- with cases due", explain(app, stmt, later(params))))

                before = explain_due if r == 0 else None
                took, rows, wrong = due_round(app, rules, picked[r * due : (r + 1) * due], before)
                times.append(took)
                queued_counts.append(rows)
                problems += [f"round {r + 1}: {w}" for w in wrong]
            closes = cases_where(app, picked)
            app.close()
            out.append(
                f"{kind}: {n} open cases ({states['scheduled']} with a next check, "
                f"{states['nothing running']} with none), none due: {spread(idle)} over {REPEAT_IDLE} scans"
            )
            out.append(
                f"{kind}: {n} open cases, {due} due per scan ({sum(timers.values())} timers: {timers}): "
                f"{spread(times)} over {REPEAT_DUE} scans "
                f"({statistics.median(times) / due * 1000:.1f} ms/case); rows written per scan "
                f"(escalations/deadline_notices/outbox = notifications reported) {' '.join(queued_counts)}; "
                f"cases auto-closed {closes}"
            )
            out.append(
                f"{kind}: checks: "
                + (
                    "every due timer acted once, second scans did nothing"
                    if not problems
                    else "; ".join(problems)
                )
            )
            for stmt, plan in plans:
                out.append(f"{kind} scan query: {' '.join(stmt.split())}")
                out.append(f"{kind} plan:")
                out.extend(f"    {line}" for line in plan)
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    return out


def make_due_preview(rules: Any, ids: list[int]) -> set[tuple[int, str, str, int]]:
    """The due timers make_due would give `ids`, without touching the database (for the summary)."""
    from maild.policy.followup import due_timers

    now = datetime.now(UTC)
    kinds = list(DUE_KINDS.values())
    found: set[tuple[int, str, str, int]] = set()
    for k, case_id in enumerate(ids):
        found.update(
            (case_id, *t.key) for t in due_timers(clocks(kinds[k % len(kinds)](now)), rules, set(), now)
        )
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="open cases (default 100000)")
    ap.add_argument(
        "--due", type=int, default=350, help="cases due in each due scan, at most 500 (default 350)"
    )
    ap.add_argument("--db", default="both", help="both (default), sqlite or postgres")
    args = ap.parse_args()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    due = min(args.due, args.n // REPEAT_DUE, 500)  # 500: scan_deadlines' limit per scan
    lines: list[str] = []
    for kind in kinds:
        lines += bench(kind, args.n, due)
    print(machine())
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
