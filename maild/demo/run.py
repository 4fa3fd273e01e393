"""`maild demo`: the main job on embedded defaults, start to finish, in one command.

A new user sees what maild does without any server of their own: a SQLite
database, a local Maildir seeded with sample mail in English and Japanese,
and a local SMTP sink (maild.demo.sink) that keeps what it receives. Everything
goes through the same command-line code paths an operator uses (the
command line hands its entry point to run_demo); the demo only writes the
config, seeds mail and prints what happened.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable, Sequence
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from maild.clock import SystemClock
from maild.demo.sink import SinkMessage, SinkServer
from maild.safetext import visible, visible_text

SUPPORT = "support@example.com"
AGENT = "agent@example.com"
ALICE = "alice@acme.example"
BOB = "bob@acme.example"
YAMADA = "yamada@acme.example"
ERIN = "erin@acme.example"


def _config(root: Path, smtp_port: int) -> str:
    return f"""# written by `maild demo`
[database]
url = "sqlite:///{root / "maild.db"}"

[mailbox]
protocol = "maildir"
path = "{root / "Maildir"}"
poll_interval = "2s"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"

[support]
address = "{SUPPORT}"
name = "Example Support"
secret = "{secrets.token_hex(24)}"
agent_address = "support-team@example.com"

[escalation]
recipients = ["support-managers@example.com"]

[logging]
level = "warning"
"""


def _message(
    sender: str,
    name: str,
    subject: str,
    body: str,
    *,
    cc: tuple[str, ...] = (),
    to: str = SUPPORT,
    headers: dict[str, str] | None = None,
    charset: str = "utf-8",
    in_reply_to: str | None = None,
) -> bytes:
    m = EmailMessage()
    m["From"] = f"{name} <{sender}>"
    m["To"] = to
    if cc:
        m["Cc"] = ", ".join(cc)
    m["Subject"] = subject
    m["Date"] = format_datetime(SystemClock().now())
    m["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    if in_reply_to:
        m["In-Reply-To"] = in_reply_to
        m["References"] = in_reply_to
    for k, v in (headers or {}).items():
        m[k] = v
    m.set_content(body, charset=charset)
    return m.as_bytes(policy=policy.SMTP)


def _deliver(maildir: Path, raw: bytes) -> None:
    name = f"{secrets.token_hex(8)}.demo"
    (maildir / "tmp" / name).write_bytes(raw)
    (maildir / "tmp" / name).rename(maildir / "new" / name)


def _first_mail() -> list[bytes]:
    return [
        _message(
            ALICE,
            "Alice Example",
            "[Sev 2] Login page returns 500",
            "Since 09:00 the login page returns HTTP 500 for every user.\n\n"
            "Business impact: nobody can log in to the order system\n"
            "Users affected: about 300\n"
            "Workaround: none\n\nRegards,\nAlice\n",
            cc=(BOB,),
        ),
        _message(
            YAMADA,
            "山田 太郎",
            "【至急】レポートが表示されません",
            "お世話になっております。山田です。\n\n月次レポート画面を開くとエラーになります。\n\n"
            "重要度: 2\n業務影響: 月次締め処理ができません\nユーザ数: 20\n\nよろしくお願いいたします。\n",
            charset="iso-2022-jp",
        ),
        _message(ERIN, "Erin Ordinary", "Please reset my password", "I cannot log in.\n"),
        _message(
            BOB,
            "Bob Builder",
            "Automatic reply: out of office",
            "I am out of the office until Monday.\n",
            headers={"Auto-Submitted": "auto-replied"},
        ),
    ]


def _reply_to(note: SinkMessage, sender: str, name: str, text: str, quote_header: str) -> bytes:
    msg = note.msg
    original = (msg.get_body(preferencelist=("plain",)) or msg).get_content()
    quoted = "\n".join("> " + line for line in str(original).splitlines())
    return _message(
        sender,
        name,
        "Re: " + str(msg["Subject"]),
        f"{text}\n\n{quote_header}\n{quoted}\n",
        to=str(msg["Reply-To"]),
        in_reply_to=str(msg["Message-ID"]),
    )


def run_demo(root: Path, maild: Callable[[Sequence[str]], int]) -> int:
    """Set up, feed and show the demo under `root`, running each step through `maild`.

    `maild` is the command line's entry point (argv in, exit status out),
    passed in by `maild demo`, so the demo uses exactly the code paths an
    operator does without this package importing the command line back.
    """
    root = root.resolve()
    if root.exists():
        shutil.rmtree(root)
    maildir = root / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    sink = SinkServer(root / "sink").start()
    try:
        config = root / "maild.toml"
        config.write_text(_config(root, sink.port), encoding="utf-8")

        def run(*args: str) -> None:
            code = maild(["--config", str(config), *args])
            if code != 0:
                raise SystemExit(code)

        _title(f"Setting up in {root} (SQLite, a Maildir, an SMTP sink on 127.0.0.1:{sink.port})")
        run("db", "upgrade")
        run("account", "add", "Acme", "--domain", "acme.example", "--org-id", "00D000000000ACME")
        run(
            "contact",
            "add",
            ALICE,
            "--account",
            "Acme",
            "--name",
            "Alice Example",
            "--designated",
            "--primary",
        )
        run(
            "contact",
            "add",
            YAMADA,
            "--account",
            "Acme",
            "--name",
            "山田 太郎",
            "--designated",
            "--language",
            "ja",
        )
        run("contact", "add", BOB, "--account", "Acme", "--name", "Bob Builder")
        run("contact", "add", ERIN, "--account", "Acme", "--name", "Erin Ordinary")
        run("agent", "add", AGENT, "--name", "Agnes Agent")

        _title(
            "1. Four messages arrive: two new cases (English, Japanese ISO-2022-JP), "
            "one from a non-designated contact, one auto-reply"
        )
        for raw in _first_mail():
            _deliver(maildir, raw)
        run("run", "--once")

        _title(
            "2. Bob replies to his acknowledgement (quoted history below his text); "
            "Yamada replies in Japanese; an agent answers Alice's case"
        )
        acks = {m.rcpt_tos[0]: m for m in sink.messages() if m.msg.get("X-Maild-Event") == "case_opened"}
        if BOB in acks:
            _deliver(
                maildir,
                _reply_to(
                    acks[BOB],
                    BOB,
                    "Bob Builder",
                    "It fails for the admin accounts too; the error started at 08:55.",
                    f"On {acks[BOB].msg['Date']}, Example Support <{SUPPORT}> wrote:",
                ),
            )
        if YAMADA in acks:
            _deliver(
                maildir,
                _reply_to(
                    acks[YAMADA],
                    YAMADA,
                    "山田 太郎",
                    "追加情報です。Chrome と Edge の両方で発生します。",
                    "2026年11月22日(日) 10:00 Example Support <support@example.com>:",
                ),
            )
        run("run", "--once")
        run(
            "case",
            "reply",
            "00000001",
            "--as",
            AGENT,
            "--body",
            "We found the cause (an expired certificate on the login service) and are fixing it.",
        )
        run("run", "--once")

        _title(
            "3. A forged message: 'From: Agnes Agent' with only the case tag, '#close' and a link. "
            "It proves nothing about its sender, so it is held (SECURITY.md)"
        )
        forged = _message(
            AGENT,
            "Agnes Agent",
            "Re: [Case #00000001] Login page returns 500",
            "#close\nPlease log in again at http://phish.example/login",
        )
        _deliver(maildir, forged)
        run("run", "--once")
        run("inbound", "list", "--outcome", "held")

        _title("Cases")
        run("case", "list", "--status", "all")
        for number in ("00000001", "00000002"):
            _title(f"Case {number}")
            run("case", "show", number)
        received = sink.messages()
        _title(f"Notifications the SMTP sink received ({len(received)})")
        for m in received:
            event, subject = visible(str(m.msg.get("X-Maild-Event", ""))), visible(str(m.msg["Subject"]))
            print(f"  to {visible(m.rcpt_tos[0]):<34} {event:<14} {subject}")
        first = received[0].msg
        _title(f"What {received[0].rcpt_tos[0]} received first (text part; an HTML part is sent too)")
        for name in ("From", "Reply-To", "Subject"):
            print(f"{name}: {visible(str(first[name]))}")
        print()
        print(visible_text((first.get_body(preferencelist=("plain",)) or first).get_content().rstrip()))
        print(f"\nEverything is kept in {root}: maild.toml, maild.db, Maildir/, sink/msgs/*.eml")
    finally:
        sink.stop()
    return 0


def _title(text: str) -> None:
    print(f"\n=== {text}")
