"""The peer for the side-by-side benchmark: django-helpdesk's `get_email`, installed and driven by us.

Nothing of django-helpdesk is in this repository. `ensure_venv()` makes a
virtualenv of its own (python3.11, the exact versions in `PINS`, from PyPI)
under `~/.cache/maild-bench/django-helpdesk-2.6.1` and reuses it when it is
there. `Project.create()` writes a minimal Django project into a run's work
directory (SQLite, the apps django-helpdesk needs, SMTP to the bench's sink),
migrates it and adds ONE queue that reads the bench's Dovecot over IMAP and
copies the support team on new and updated tickets, as maild's bench does
with `support.agent_address`. `Project.get_email()` runs `manage.py
get_email` as a measured process; `Project.verify()` reads its SQLite
database back.

How django-helpdesk 2.6.1 works here (helpdesk/email.py, read in the venv):
- IMAP: STARTTLS whenever the server offers it (no setting turns it off;
  our Dovecot does, so its IMAP runs over TLS, maild's bench over plain
  loopback), `SEARCH NOT DELETED`, then one `FETCH n (RFC822)` per message,
  decoded with `force_str(…, errors="replace")` (ISO-2022-JP mail is 7bit, so
  nothing is lost there), parsed with `policy.default`; each message that
  made a ticket or follow-up is flagged `\\Deleted`, and the mailbox is
  EXPUNGEd at the end: processed mail is deleted from the server.
- Threading: a message whose In-Reply-To equals the Message-ID stored on an
  earlier FollowUp (every e-mail, the first of a ticket included, is stored
  as a FollowUp with its Message-ID) is a follow-up of that ticket; else a
  `[<queue slug>-<id>]` tag in the subject; else a new ticket. References is
  not read. There is no check of who the sender is.
- Body: the text/plain part decoded with its charset (iso-2022-jp works);
  the subject through the stdlib's header decoding, "Re: " stripped.
- Notifications: a new ticket mails the submitter and `new_ticket_cc`
  (`updated_ticket_cc` too when it differs) and subscribed Cc addresses; an
  update mails the submitter (its own reply confirmed back to it) and, with
  `enable_notifications_on_email_events`, `updated_ticket_cc` and the
  subscribed Cc addresses. Each mail is sent by Django's SMTP backend on a
  connection of its own.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

VERSION = "2.6.1"
# Everything django-helpdesk 2.6.1 pulls in, pinned (resolved from PyPI on 2026-12-06 with
# Python 3.11): it requires django>=5.2, and 5.2 is the LTS line.
PINS = (
    f"django-helpdesk=={VERSION}",
    "Django==5.2.19",
    "asgiref==3.13.0",
    "sqlparse==0.6.1",
    "beautifulsoup4==4.15.0",
    "soupsieve==4.1.4",
    "django-cleanup==9.0.0",
    "django-model-utils==5.0.0",
    "djangorestframework==3.18.3",
    "email-reply-parser==0.5.12",
    "Markdown==3.11.3",
    "nh3==0.3.8",
    "oauthlib==4.0.1",
    "requests-oauthlib==2.0.0",
    "requests==2.34.2",
    "certifi==2026.10.19.post1",
    "charset-normalizer==3.5.3",
    "idna==3.21",
    "urllib3==2.8.0",
    "typing_extensions==4.16.0",
)
DEFAULT_VENV = Path.home() / ".cache" / "maild-bench" / f"django-helpdesk-{VERSION}"
QUEUE_SLUG = "support"


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _python311() -> str:
    """The same Python as maild's venv (3.11): this interpreter when it is 3.11, else python3.11."""
    if sys.version_info[:2] == (3, 11):
        base = getattr(sys, "_base_executable", None) or sys.executable
        return str(base)
    return "python3.11"


def ensure_venv(path: Path | None = None) -> Path:
    """django-helpdesk's own virtualenv (created and installed once, then reused); its python."""
    venv = path or Path(os.environ.get("MAILD_BENCH_HELPDESK_VENV", DEFAULT_VENV))
    python = venv / "bin" / "python"
    stamp = venv / "maild-bench-pins.txt"
    wanted = "\n".join(PINS) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    _log(f"installing django-helpdesk {VERSION} into {venv} (once) …")
    venv.parent.mkdir(parents=True, exist_ok=True)
    if not python.exists():
        subprocess.run([_python311(), "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PINS],
        check=True,
        stdout=sys.stderr,
    )
    check = subprocess.run(
        [str(python), "-c", "import django, helpdesk; print(django.get_version())"],
        capture_output=True,
        text=True,
        check=True,
        cwd=venv,  # not the bench directory, whose helpdesk.py (this file) would shadow the package
    )
    _log(f"django-helpdesk {VERSION} installed (Django {check.stdout.strip()})")
    stamp.write_text(wanted)
    return python


# --------------------------------------------------------------------------- measured processes


@dataclass
class Measured:
    """One process tree run to completion."""

    seconds: float
    code: int
    cpu_seconds: float  # user + system of the process and every child it waited for (wait4)
    peak_kb: dict[int, int] = field(default_factory=dict)  # pid -> its own VmHWM (KiB)
    log: Path | None = None

    @property
    def largest_kb(self) -> int:
        return max(self.peak_kb.values(), default=0)

    @property
    def sum_kb(self) -> int:
        return sum(self.peak_kb.values())


def _vm_hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class _Tree:
    """The live descendants of one process, from /proc (…/task/*/children when the kernel has it)."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.children_files = Path(f"/proc/{root}/task/{root}/children").exists()
        self.ppid: dict[int, int] = {}  # pid -> parent, read once per pid (ppid scan)

    def _children(self, pid: int) -> list[int]:
        out: list[int] = []
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError, ValueError):
                    out += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        return out

    def pids(self) -> list[int]:
        if self.children_files:
            seen, todo = [], [self.root]
            while todo:
                pid = todo.pop()
                seen.append(pid)
                todo += self._children(pid)
            return seen
        # No children files: each new pid's parent is read from its stat once (cheap per scan).
        live = set()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            live.add(pid)
            if pid not in self.ppid:
                try:
                    stat = Path(f"/proc/{pid}/stat").read_text()
                    self.ppid[pid] = int(stat.rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
        ours = {self.root}
        grew = True
        while grew:
            grew = False
            for pid in live:
                if pid not in ours and self.ppid.get(pid) in ours:
                    ours.add(pid)
                    grew = True
        return sorted(ours)


def run_measured(
    cmd: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    log_path: Path,
    timeout: float = 3600,
    interval: float = 0.01,
) -> Measured:
    """Run `cmd` to completion: wall seconds, CPU from wait4, each process's peak RSS.

    Every `interval` the process tree is walked and each pid's VmHWM (its own
    high-water mark, so any reading after its peak gives the peak) is kept at
    its maximum; the figures are the largest process and the sum over pids.
    """
    with log_path.open("ab") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=cwd
        )
        tree = _Tree(proc.pid)
        peaks: dict[int, int] = {}
        deadline = time.monotonic() + timeout
        while True:
            for pid in tree.pids():
                hwm = _vm_hwm_kb(pid)
                if hwm > peaks.get(pid, 0):
                    peaks[pid] = hwm
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(interval)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(seconds, proc.returncode, usage.ru_utime + usage.ru_stime, peaks, log_path)


# --------------------------------------------------------------------------- the Django project


@dataclass
class Thread:
    """One conversation of the shared mailbox, as both systems must record it."""

    subject: str  # the new case's subject, decoded
    sender: str
    japanese: bool
    message_ids: list[str]  # the original first, then each reply, in mailbox order
    texts: list[str]  # a line of each message's own text that must come back intact, same order


SETTINGS = '''\
"""Minimal Django project for django-helpdesk, written by maild's bench/helpdesk.py."""
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "maild-bench-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "rest_framework",
    "helpdesk",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "helpdesk.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
SITE_ID = 1
STATIC_URL = "/static/"
MEDIA_ROOT = BASE_DIR / "media"
LOGIN_URL = "/login/"
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = {smtp_port}
EMAIL_USE_TLS = False
EMAIL_USE_SSL = False
EMAIL_TIMEOUT = 60
DEFAULT_FROM_EMAIL = "support@example.com"
SERVER_EMAIL = "support@example.com"
HELPDESK_TEAMS_MODE_ENABLED = False
'''

URLS = """\
from django.urls import include, path

urlpatterns = [path("", include("helpdesk.urls", namespace="helpdesk"))]
"""

MANAGE = """\
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

QUEUE = """\
from helpdesk.models import Queue
from django.contrib.sites.models import Site

Site.objects.update_or_create(id=1, defaults={{"domain": "127.0.0.1", "name": "helpdesk"}})
Queue.objects.create(
    title="Support",
    slug={slug!r},
    email_address={support!r},
    allow_email_submission=True,
    new_ticket_cc={team!r},
    updated_ticket_cc={team!r},
    enable_notifications_on_email_events=True,
    email_box_type="imap",
    email_box_host="127.0.0.1",
    email_box_port={imap_port},
    email_box_ssl=False,
    email_box_user={user!r},
    email_box_pass={password!r},
    email_box_imap_folder="INBOX",
    email_box_interval=0,
)
print("queue ready")
"""


@dataclass
class Project:
    directory: Path
    python: Path

    @property
    def db_path(self) -> Path:
        return self.directory / "helpdesk.sqlite3"

    @classmethod
    def create(
        cls,
        directory: Path,
        python: Path,
        *,
        imap_port: int,
        smtp_port: int,
        user: str,
        password: str,
        team: str,
        support: str = "support@example.com",
    ) -> Project:
        """Write the project, migrate a fresh SQLite database and add the one IMAP queue."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "settings.py").write_text(SETTINGS.replace("{smtp_port}", str(smtp_port)))
        (directory / "urls.py").write_text(URLS)
        (directory / "manage.py").write_text(MANAGE)
        project = cls(directory, python)
        project._manage("migrate", "--noinput", "-v", "0")
        script = QUEUE.format(
            slug=QUEUE_SLUG,
            support=support,
            team=team,
            imap_port=imap_port,
            user=user,
            password=password,
        )
        out = project._manage("shell", "-c", textwrap.dedent(script))
        if "queue ready" not in out:
            raise RuntimeError(f"django-helpdesk queue set-up failed: {out}")
        return project

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILD_", "DJANGO_", "VIRTUAL_ENV"))}
        env["DJANGO_SETTINGS_MODULE"] = "settings"
        env["PYTHONPATH"] = str(self.directory)
        return env

    def _manage(self, *args: str) -> str:
        done = subprocess.run(
            [str(self.python), "manage.py", *args],
            cwd=self.directory,
            env=self._env(),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"manage.py {' '.join(args)} failed ({done.returncode}): {done.stderr[-3000:]}"
            )
        return done.stdout

    def compile(self) -> None:
        """Byte-compile the project and the venv's packages first, as for maild (untimed)."""
        subprocess.run(
            [
                str(self.python),
                "-m",
                "compileall",
                "-q",
                str(self.python.parent.parent / "lib"),
                str(self.directory),
            ],
            check=False,
            capture_output=True,
        )

    def get_email(self, log_path: Path) -> Measured:
        """`manage.py get_email` to completion, measured."""
        return run_measured(
            [str(self.python), "manage.py", "get_email"],
            cwd=self.directory,
            env=self._env(),
            log_path=log_path,
        )

    def verify(self, threads: Sequence[Thread]) -> tuple[list[str], dict[str, int]]:
        """Problems (empty when exact) and counts, read from its SQLite database.

        Exact means: one ticket per thread; each thread's messages are the
        FollowUps of that one ticket (1 + its replies), found by Message-ID;
        the ticket's title is the thread's subject; each message's own line of
        text is in its FollowUp (Japanese decoded from ISO-2022-JP intact).
        """
        rec = Recorded()
        with contextlib.closing(sqlite3.connect(self.db_path)) as db:
            rec.containers = {
                tid: title for tid, title in db.execute("SELECT id, title FROM helpdesk_ticket")
            }
            for tid, mid, comment in db.execute(
                "SELECT ticket_id, message_id, comment FROM helpdesk_followup"
            ):
                rec.per_container[tid] = rec.per_container.get(tid, 0) + 1
                if mid:
                    rec.items[mid] = (tid, comment or "")
        problems = compare(
            "django-helpdesk", "ticket", rec, threads, lambda thread, title: title == thread.subject
        )
        counts = {"tickets": len(rec.containers), "followups": sum(rec.per_container.values())}
        return problems, counts


@dataclass
class Recorded:
    """What one system stored, in the one shape both verifications compare."""

    containers: dict[int, str] = field(default_factory=dict)  # ticket or case id -> its title
    items: dict[str, tuple[int, str]] = field(default_factory=dict)  # Message-ID -> (container, stored text)
    per_container: dict[int, int] = field(default_factory=dict)  # messages recorded on each (the first too)


def compare(
    system: str, what: str, rec: Recorded, threads: Sequence[Thread], title_ok: Callable[[Thread, str], bool]
) -> list[str]:
    """Problems: containers != threads; a thread's messages not all (and only) on one container; text."""
    problems: list[str] = []
    if len(rec.containers) != len(threads):
        problems.append(f"{system}: {len(rec.containers)} {what}s, expected {len(threads)}")
    bad_thread = bad_text = bad_title = 0
    for thread in threads:
        first = rec.items.get(thread.message_ids[0])
        if first is None:
            bad_thread += 1
            continue
        container = first[0]
        bad_title += not title_ok(thread, rec.containers.get(container, ""))
        bad_thread += rec.per_container.get(container) != len(thread.message_ids)
        for mid, text in zip(thread.message_ids, thread.texts, strict=True):
            got = rec.items.get(mid)
            if got is None or got[0] != container:
                bad_thread += 1
            elif text not in got[1]:
                bad_text += 1
    if bad_thread:
        problems.append(f"{system}: {bad_thread} messages not on their thread's {what} (or counts off)")
    if bad_title:
        problems.append(f"{system}: {bad_title} {what}s whose title is not the subject sent")
    if bad_text:
        problems.append(f"{system}: {bad_text} messages whose text is not intact")
    return problems
