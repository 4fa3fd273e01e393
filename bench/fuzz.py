"""Mutation fuzzing of maild's pure pipeline: bytes -> parse -> rules -> route -> compose.

Each input is a seed message (every full RFC 5322 message of the real-world
corpus in ../shared/corpus when it is there, plus built-in seeds) with 1-8
random mutations: bit flips, inserted random bytes, inserted "interesting"
fragments (CR/LF, boundaries, encoded-words, ISO-2022-JP escapes, header
lines, reply tokens, case tags), deletions, truncations, duplicated chunks
and splices of two seeds. For each input it checks:

* parse_message, classify_automatic and route never raise, and no input
  takes longer than --max-seconds (a hang is reported as a failure);
* route's invariants (tests/unit/test_route_properties.check_invariants,
  under a random routing policy): automatic mail is Ignore and only it is;
  an AddComment's author is the sender and in the case's sharing settings
  or an agent; a token that does not verify never yields AddComment or
  OpenCase; an outsider never adds a comment;
* composing the notification the message would cause (comment_added, or
  case_opened / helpdesk / rejected, in en or ja) with the customer-controlled
  values (subject, reply text, display name) succeeds, and its header block
  holds exactly the headers the template set: no Bcc, one From/To/Subject;
* composing it *to the sender's own address* either succeeds with the same
  header check or raises ValueError (build_message's documented refusal of
  an address that is not one plain mailbox); those refusals are counted,
  because cases.py does not catch them (see the report of tests/integration/
  test_real_world_mail.py: such a message is quarantined).

A failing input is saved under --out (default bench/fuzz-failures/) as
<sha256>.eml with a <sha256>.txt holding the traceback; the run goes on.

Repeat it (from the project root, with the test venv):

    .venv/bin/python bench/fuzz.py                   # 3 minutes, random seed printed
    .venv/bin/python bench/fuzz.py --minutes 10 --seed 12345
    .venv/bin/python bench/fuzz.py --replay bench/fuzz-failures/<sha>.eml

Exit status: 0 when no input failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import signal
import sys
import time
import traceback
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import compat32
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from maild.inbound.message import InboundMail  # noqa: E402
from maild.inbound.parse import parse_message  # noqa: E402
from maild.inbound.quotes import extract_reply  # noqa: E402
from maild.outbound.compose import Composer, sample_context  # noqa: E402
from maild.outbound.message import build_message, make_message_id  # noqa: E402
from maild.policy.route import AddComment, Helpdesk, OpenCase, Reject, RoutingPolicy  # noqa: E402
from maild.policy.rules import classify_automatic  # noqa: E402
from maild.policy.tokens import make_token, reply_address  # noqa: E402
from tests.unit.test_message import NOTIFICATION_HEADERS  # noqa: E402
from tests.unit.test_route import POLICY, SECRET  # noqa: E402
from tests.unit.test_route_properties import SEEDS, check_invariants  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
INTERESTING = [
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n\r\n",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"--",
    b"--b--\r\n",
    b"=?utf-8?q?x=0D=0ABcc:_evil@evil.example?=",
    b"=?ISO-2022-JP?B?GyRCJCIbKEI=?=",
    b"\x1b$B",
    b"\x1b(B",
    b"=?utf-8?b?",
    b"?=",
    b'Content-Type: multipart/mixed; boundary="b"\r\n',
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=r\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Auto-Submitted: auto-replied\r\n",
    b"Precedence: bulk\r\n",
    b"From: alice@acme.example\r\n",
    b"From: agent@example.com\r\n",
    b"From: mallory@evil.example\r\n",
    b"Bcc: evil@evil.example\r\n",
    b"To: support+1-aaaaaaaaaaaaaaaaaaaa@example.com\r\n",
    b"[Case #00000001]",
    b"[Case #00000002]",
    b"In-Reply-To: <ack1@example.com>\r\n",
    b"#close\r\n",
    b"#escalate\r\n",
    b"\xe2\x80\xae",
    b"filename*=UTF-8''..%2F..%2Fetc%2Fpasswd",
    b"charset=x-unknown",
    b"charset=utf-16",
    f"To: {reply_address('support@example.com', make_token(SECRET, 1, 'alice@acme.example'))}\r\n".encode(),
]
POLICIES = [
    replace(
        POLICY, require_reply_token=r, restrict_to_designated_contacts=d, collaborators=c, agent_address=a
    )
    for r in (False, True)
    for d in (True, False)
    for c in ("any", "account_domains", "none")
    for a in (None, "agents@example.com")
]
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


class Hang(Exception):
    pass


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise Hang("input took longer than the time limit")


# ------------------------------------------------------------------ inputs


def corpus_seeds() -> list[bytes]:
    if not CORPUS.is_dir():
        return []
    skip = ("discourse-trimmer-", "crisp-erp-", "github-erp-", "zapier-erp-")
    out = []
    for p in sorted(CORPUS.rglob("*")):
        name = p.name
        if not p.is_file() or p.parent == CORPUS or name.endswith(".expected.txt") or name.startswith(skip):
            continue
        if name.startswith("talon-html_replies-") and name.endswith(".html"):
            continue
        out.append(p.read_bytes())
    return out


def mutate(rng: random.Random, raw: bytes, seeds: list[bytes]) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(data) + 1)
        op = rng.randrange(8)
        if op == 0 and data:  # flip bits
            j = min(i, len(data) - 1)
            data[j] ^= 1 << rng.randrange(8)
        elif op == 1:
            data[i:i] = rng.randbytes(rng.randint(1, 16))
        elif op in (2, 3):
            data[i:i] = rng.choice(INTERESTING)
        elif op == 4:
            del data[i : i + rng.randint(1, 64)]
        elif op == 5 and rng.random() < 0.3:
            del data[i:]
        elif op == 6:
            data[i:i] = data[i : i + rng.randint(1, 256)] * rng.randint(1, 4)
        else:  # splice the tail of another seed
            other = rng.choice(seeds)
            data[i:] = other[rng.randrange(len(other) + 1) :]
    return bytes(data)


# ------------------------------------------------------------------ checks


def header_check(data: bytes) -> None:
    head = data.partition(b"\r\n\r\n")[0]
    names = [k.lower() for k in message_from_bytes(head + b"\r\n\r\n", policy=compat32)]
    counts = Counter(names)
    assert "bcc" not in counts, f"Bcc in a composed notification: {names}"
    for one in ("from", "to", "subject"):
        assert counts[one] == 1, f"{one} appears {counts[one]} times: {names}"
    extra = set(names) - NOTIFICATION_HEADERS
    assert not extra, f"headers the template did not set: {sorted(extra)}"


def notification(mail: InboundMail, decision: object) -> tuple[str, dict[str, Any]]:
    """The event and template context the decision would cause, filled with the message's own values."""
    language = random.choice(("en", "ja"))  # seeded in main()
    ctx = sample_context(language=language)
    name = mail.from_addr.name if mail.from_addr else ""
    ctx["case"] = {**ctx["case"], "subject": mail.subject[:1000], "description": mail.text[:20000]}
    event = "comment_added"
    if isinstance(decision, AddComment):
        ctx["comment"] = {
            "author": decision.author,
            "author_name": decision.author_name,
            "role": decision.role,
            "body": extract_reply(mail.text),
            "attachments": [{"filename": a.filename, "size": a.size} for a in mail.attachments],
        }
    elif isinstance(decision, OpenCase):
        event = "case_opened"
        ctx["case"]["collaborators"] = [a.email for a in decision.collaborators]
    elif isinstance(decision, Helpdesk):
        event = "helpdesk"
        ctx["case"] = None
        ctx["event"] = {**ctx["event"], "original_subject": mail.subject}
    elif isinstance(decision, Reject):
        event = "rejected"
        ctx["event"] = {**ctx["event"], "reason_text": decision.reason}
    else:  # Ignore: nothing would be sent; compose the reply anyway, as a stress of the templates
        ctx["comment"] = {**ctx["comment"], "body": extract_reply(mail.text), "author_name": name}
    ctx["recipient"] = {**ctx["recipient"], "name": name}
    return event, ctx


def compose_checks(composer: Composer, mail: InboundMail, decision: object, stats: Counter[str]) -> None:
    event, ctx = notification(mail, decision)
    rendered = composer.render(event, ctx["recipient"]["language"], ctx)
    common: dict[str, Any] = {
        "from_addr": "support@example.com",
        "from_name": "Example Support",
        "reply_to": "support+1-aaaaaaaaaaaaaaaaaaaa@example.com",
        "message_id": make_message_id("example.com", mail.raw_sha256[:20]),
        "in_reply_to": mail.message_id,
        "references": [*mail.references[-10:], mail.message_id],
        "date": NOW,
        "extra_headers": {"X-Maild-Event": event},
    }
    name = mail.from_addr.name if mail.from_addr else None
    header_check(build_message(rendered, to_addr="alice@acme.example", to_name=name or None, **common))
    if mail.from_addr is not None and "@" in mail.from_addr.email:
        try:
            data = build_message(rendered, to_addr=mail.from_addr.email, to_name=name or None, **common)
        except ValueError:
            stats["sender address refused by build_message (ValueError)"] += 1
        else:
            header_check(data)


def run_one(raw: bytes, policy: RoutingPolicy, composer: Composer, stats: Counter[str]) -> None:
    mail = parse_message(raw)
    own = policy.own_addresses
    classify_automatic(mail, own)
    decision = check_invariants(mail, policy)
    stats[type(decision).__name__] += 1
    compose_checks(composer, mail, decision, stats)


def save_failure(out: Path, raw: bytes, policy: RoutingPolicy, error: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(raw).hexdigest()[:24]
    path = out / f"{digest}.eml"
    path.write_bytes(raw)
    (out / f"{digest}.txt").write_text(f"policy: {policy}\n\n{error}", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--minutes", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--max-seconds", type=int, default=10, help="a single input slower than this is a hang")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "fuzz-failures")
    p.add_argument("--replay", type=Path, nargs="*", help="run these saved inputs under every policy")
    args = p.parse_args(argv)

    composer = Composer([], "en")
    signal.signal(signal.SIGALRM, _alarm)
    stats: Counter[str] = Counter()
    failures: list[str] = []

    def attempt(raw: bytes, policy: RoutingPolicy) -> None:
        signal.alarm(args.max_seconds)
        try:
            run_one(raw, policy, composer, stats)
        except BaseException as exc:  # every failure is a finding
            if isinstance(exc, KeyboardInterrupt):
                raise
            error = "".join(traceback.format_exception(exc))
            saved = save_failure(args.out, raw, policy, error)
            failures.append(f"{saved}: {type(exc).__name__}: {str(exc)[:300]}")
            print(f"FAILURE saved to {saved}: {type(exc).__name__}: {str(exc)[:300]}", flush=True)
        finally:
            signal.alarm(0)

    if args.replay:
        for path in args.replay:
            for policy in POLICIES:
                attempt(path.read_bytes(), policy)
        print(
            f"replayed {len(args.replay)} input(s) under {len(POLICIES)} policies; {len(failures)} failure(s)"
        )
        return 1 if failures else 0

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    seeds = corpus_seeds() + list(SEEDS)
    print(
        f"fuzz: seed {seed}, {len(seeds)} seed messages ({len(seeds) - len(SEEDS)} from the corpus), "
        f"{args.minutes} minute(s)",
        flush=True,
    )
    random.seed(seed)
    start = time.monotonic()
    deadline = start + args.minutes * 60
    runs = 0
    slowest = 0.0
    next_report = start + 30
    for raw in seeds:  # every unmutated seed once first
        attempt(raw, rng.choice(POLICIES))
        runs += 1
    while time.monotonic() < deadline:
        raw = mutate(rng, rng.choice(seeds), seeds)
        t0 = time.monotonic()
        attempt(raw, rng.choice(POLICIES))
        slowest = max(slowest, time.monotonic() - t0)
        runs += 1
        if time.monotonic() > next_report:
            next_report += 30
            print(f"  {runs} inputs, {len(failures)} failure(s)", flush=True)
    elapsed = time.monotonic() - start
    print(
        f"ran {runs} inputs in {elapsed:.0f}s ({runs / elapsed:.0f}/s), slowest {slowest:.2f}s, "
        f"seed {seed}; {len(failures)} failure(s)"
    )
    for key, value in sorted(stats.items()):
        print(f"  {key}: {value}")
    for failure in failures[:50]:
        print(f"  FAILED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
