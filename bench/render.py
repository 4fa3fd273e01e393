"""Rendering and building notifications: µs per notification, no servers, no database.

Builds a Composer and a Notifier as maild.app does (config defaults, the
packaged templates) and renders the notifications of the common events the
way the case service asks for them: per case a case_opened to its contact and
the team's copy, per reply a comment_added to the contact and the team; half
the cases in English, half in Japanese. Prints µs per notification (median of
--rounds, CPU time of this process) and the top of a cProfile of one more round.

    .venv/bin/python bench/render.py [--n 2000] [--rounds 5] [--top 25]
    .venv/bin/python bench/render.py --dump FILE   # every event x language x role, for diffing

--dump writes every notification of every event, language and role (the
templates' sample context) with the random parts (Message-ID, MIME boundary)
masked, so two versions of the code can be compared byte for byte.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from maild.clock import FixedClock  # noqa: E402
from maild.config import parse_settings  # noqa: E402
from maild.outbound.compose import EVENTS, Composer, packaged_template_dir, sample_context  # noqa: E402
from maild.outbound.notify import Notifier, Recipient, case_view  # noqa: E402
from maild.outbound.outbox import Notification  # noqa: E402
from maild.vocab import CaseStatus, Event  # noqa: E402

NOW = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
TEAM = "support-team@example.com"
EN_BODY = (
    "Hello,\n\nthe export still fails after the update you suggested. The log says the job\n"
    "ran out of memory at 02:14, then retried twice and gave up.\n\n"
    "We need this fixed before the end of the month, our auditors rely on it.\n\nThanks,\nAlice\n"
)
JA_BODY = (
    "お世話になっております。\n\nご提案いただいた更新の後も、エクスポートが失敗します。\n"
    "ログによると 02:14 にメモリ不足で停止し、2 回再試行した後に諦めています。\n\n"
    "月末までに修正が必要です。監査で使用しています。\n\nよろしくお願いいたします。\n山田\n"
)


@dataclass
class BenchCase:
    """What Notifier reads of a case (notify.CaseRef)."""

    id: int
    number: str
    severity: int
    thread_root: str
    participants: Sequence[Any] = ()
    team: str | None = None
    owner_email: str | None = None


def build_notifier() -> Notifier:
    """Composer and Notifier as maild.app builds them from a configuration's defaults."""
    settings = parse_settings(
        {
            "support": {"address": "support@example.com", "secret": "s" * 32, "agent_address": TEAM},
            "mailbox": {"host": "127.0.0.1", "username": "support", "password": "x"},
        }
    )
    dirs = [d for d in (settings.templates_path, packaged_template_dir()) if d is not None]
    composer = Composer(dirs, settings.support.default_language)
    return Notifier(composer, settings.support, FixedClock(NOW), settings.teams)


def render_many(
    notifier: Notifier,
    event: Event,
    recipients: Sequence[Recipient],
    *,
    case: BenchCase,
    case_ctx: Mapping[str, Any],
    comment: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    in_reply_to: str | None = None,
) -> list[Notification]:
    """What Notifier.enqueue_many renders before its INSERT."""
    return notifier.render_many(
        event,
        recipients,
        case=case,  # type: ignore[arg-type]
        case_ctx=case_ctx,
        comment=comment,
        extra=extra,
        in_reply_to=in_reply_to,
    )


def workload(n_cases: int) -> list[Callable[[Notifier], list[Notification]]]:
    """One call per event: a case_opened and a comment_added per case, en and ja alternating."""
    calls: list[Callable[[Notifier], list[Notification]]] = []
    for i in range(n_cases):
        ja = i % 2 == 1
        language = "ja" if ja else "en"
        contact = f"tanaka{i:04d}@acme.example" if ja else f"user{i:04d}@acme.example"
        name = "田中 太郎" if ja else "Alice Example"
        number = f"{1000 + i:08d}"
        case = BenchCase(i + 1, number, 2 + i % 3, f"<case-{i}@acme.example>")
        ctx = case_view(
            number=number,
            subject=("ログイン画面で 500 エラー" if ja else "Login page returns 500") + f" #{i}",
            severity=case.severity,
            status=CaseStatus.NEW,
            account="Acme",
            primary_contact=contact,
            collaborators=[],
            created_at=NOW,
            first_response_due_at=NOW + timedelta(hours=4),
            first_responded_at=None,
            fields={"business_impact": "Month-end export blocked", "users_affected": "12"}
            if i % 3 == 0
            else {},
            description=JA_BODY if ja else EN_BODY,
        )
        people = [Recipient(contact, name, language, "primary_contact"), Recipient(TEAM, "", "en", "team")]
        comment = {
            "author": contact,
            "author_name": name,
            "role": "primary_contact",
            "body": JA_BODY if ja else EN_BODY,
            "attachments": [{"filename": "export.log", "size": 48213}] if i % 4 == 0 else [],
            "internal": False,
        }

        def opened(
            nf: Notifier, c: BenchCase = case, x: dict[str, Any] = ctx, p: list[Recipient] = people
        ) -> Any:
            extra = {"severity_note": None, "previous_case": None}
            return render_many(
                nf, Event.CASE_OPENED, p, case=c, case_ctx=x, extra=extra, in_reply_to=c.thread_root
            )

        by_contact = (i // 2) % 2 == 0

        def replied(
            nf: Notifier,
            c: BenchCase = case,
            x: dict[str, Any] = ctx,
            p: list[Recipient] = people,
            m: Any = comment,
            b: bool = by_contact,
        ) -> Any:
            # A contact's reply goes to the team's copy, an agent's reply to the contact.
            return render_many(nf, Event.COMMENT_ADDED, p[1:] if b else p[:1], case=c, case_ctx=x, comment=m)

        calls.extend((opened, replied))
    return calls


def one_round(
    notifier: Notifier, calls: Sequence[Callable[[Notifier], list[Notification]]]
) -> tuple[float, int]:
    count = 0
    start = time.process_time()  # this process's CPU: other processes on the machine count less
    for call in calls:
        count += len(call(notifier))
    return time.process_time() - start, count


_MASKS = (
    (re.compile(rb"=_maild_[0-9a-f]+"), b"=_maild_BOUNDARY"),
    (re.compile(rb"Message-ID: <[^@>]*@"), b"Message-ID: <ID@"),
)


def dump(path: Path) -> None:
    """Every event x language x role through the Notifier, random parts masked."""
    notifier = build_notifier()
    out = io.BytesIO()
    for language in notifier.composer.languages:
        for event in EVENTS:
            for role in ("primary_contact", "collaborator", "team", "owner", "manager", "agent"):
                ctx = sample_context(language=language, role=role)
                case = BenchCase(42, "00001042", 2, "<root@acme.example>")
                recipient = Recipient(
                    "alice@acme.example", "Alice Ex\u00e4mple" if role != "team" else "", language, role
                )
                for with_case in (True, False):
                    made = render_many(
                        notifier,
                        event,
                        [recipient],
                        case=case if with_case else None,  # type: ignore[arg-type]
                        case_ctx=ctx["case"] if with_case else None,  # type: ignore[arg-type]
                        comment=ctx["comment"],
                        extra=ctx["event"],
                        in_reply_to="<parent@acme.example>",
                    )
                    for note in made:
                        raw = note.raw
                        for pattern, mask in _MASKS:
                            raw = pattern.sub(mask, raw)
                        out.write(f"### {language} {event} {role} {with_case} {note.subject}\n".encode())
                        out.write(raw + b"\n")
    path.write_bytes(out.getvalue())
    print(f"wrote {path} ({len(out.getvalue())} bytes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="cases (each: case_opened + comment_added)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--top", type=int, default=25, help="cProfile lines shown")
    parser.add_argument("--dump", type=Path, help="write every rendered notification (masked) here and stop")
    args = parser.parse_args()
    if args.dump:
        dump(args.dump)
        return
    notifier = build_notifier()
    calls = workload(args.n)
    one_round(notifier, calls[:50])  # templates compiled, caches warm: the daemon's steady state
    times: list[float] = []
    count = 0
    for _ in range(args.rounds):
        seconds, count = one_round(notifier, calls)
        times.append(seconds / count * 1e6)
    print(
        f"{count} notifications per round ({args.n} cases: case_opened to contact + team, "
        "comment_added to team or contact)"
    )
    print(
        f"µs per notification: median {statistics.median(times):.1f}, best {min(times):.1f}, rounds {times}"
    )
    profile = cProfile.Profile()
    profile.enable()
    one_round(notifier, calls)
    profile.disable()
    stream = io.StringIO()
    pstats.Stats(profile, stream=stream).sort_stats("tottime").print_stats(args.top)
    print(stream.getvalue())


if __name__ == "__main__":
    main()
