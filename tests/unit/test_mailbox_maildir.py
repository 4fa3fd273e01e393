"""MaildirSource: pending is exactly new/, done is cur/ with S, quarantine is .failed/."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from maild.errors import MaildError
from maild.inbound.maildir import MaildirSource


def deliver(root: Path, name: str, raw: bytes, mtime: float | None = None) -> Path:
    """Deliver as an MDA does: write in tmp/, rename into new/."""
    tmp = root / "tmp" / name
    tmp.write_bytes(raw)
    target = root / "new" / name
    os.rename(tmp, target)
    if mtime is not None:
        os.utime(target, (mtime, mtime))
    return target


@pytest.fixture
def source(tmp_path: Path) -> MaildirSource:
    src = MaildirSource(tmp_path / "Maildir")
    src.open()
    return src


def test_open_creates_the_maildir(tmp_path: Path) -> None:
    src = MaildirSource(tmp_path / "a" / "Maildir")
    src.open()
    assert sorted(p.name for p in (tmp_path / "a" / "Maildir").iterdir()) == ["cur", "new", "tmp"]
    assert src.name == f"maildir:{tmp_path / 'a' / 'Maildir'}"
    assert src.pending() == []


def test_pending_is_new_oldest_first_and_skips_dot_files(source: MaildirSource) -> None:
    now = time.time()
    deliver(source.path, "200.M2.host", b"second", mtime=now - 10)
    deliver(source.path, "100.M1.host", b"first", mtime=now - 20)
    deliver(source.path, "300.M3.host", b"third", mtime=now - 5)
    (source.path / "new" / ".hidden").write_bytes(b"not a message")
    (source.path / "new" / "subdir").mkdir()
    assert source.pending() == ["100.M1.host", "200.M2.host", "300.M3.host"]


def test_fetch_returns_exact_bytes_in_the_order_asked(source: MaildirSource) -> None:
    raw1 = b"Subject: a\r\n\r\nbare\rCR and \xff bytes\r\n"
    raw2 = b"Subject: b\n\nunix line ends\n"
    deliver(source.path, "1.a.host", raw1)
    deliver(source.path, "2.b.host", raw2)
    fetched = source.fetch(["2.b.host", "1.a.host", "missing.host"])
    assert [(m.key, m.raw) for m in fetched] == [("2.b.host", raw2), ("1.a.host", raw1)]


def test_mark_done_moves_to_cur_with_seen_and_is_idempotent(source: MaildirSource) -> None:
    deliver(source.path, "1.a.host", b"one")
    deliver(source.path, "2.b.host", b"two")
    source.mark_done(["1.a.host"])
    assert source.pending() == ["2.b.host"]
    assert (source.path / "cur" / "1.a.host:2,S").read_bytes() == b"one"
    source.mark_done(["1.a.host"])
    assert sorted(p.name for p in (source.path / "cur").iterdir()) == ["1.a.host:2,S"]
    # A done message can still be read by its key (e.g. to quarantine it later).
    assert [m.raw for m in source.fetch(["1.a.host"])] == [b"one"]


def test_existing_info_flags_are_kept_when_marking_done(source: MaildirSource) -> None:
    deliver(source.path, "1.a.host:2,F", b"flagged")
    assert source.pending() == ["1.a.host"]
    assert [m.raw for m in source.fetch(["1.a.host"])] == [b"flagged"]
    source.mark_done(["1.a.host"])
    assert (source.path / "cur" / "1.a.host:2,FS").exists()


def test_quarantine_moves_into_the_failed_sub_maildir(source: MaildirSource) -> None:
    deliver(source.path, "1.a.host", b"bad")
    deliver(source.path, "2.b.host", b"good")
    source.quarantine(["1.a.host"])
    failed = source.path / ".failed"
    assert sorted(p.name for p in failed.iterdir()) == ["cur", "new", "tmp"]
    assert (failed / "cur" / "1.a.host:2,S").read_bytes() == b"bad"
    assert source.pending() == ["2.b.host"]
    assert source.fetch(["1.a.host"]) == []


def test_a_done_message_can_be_quarantined_later(source: MaildirSource) -> None:
    deliver(source.path, "1.a.host", b"x")
    source.mark_done(["1.a.host"])
    source.quarantine(["1.a.host"])
    assert list((source.path / "cur").iterdir()) == []
    assert (source.path / ".failed" / "cur" / "1.a.host:2,S").exists()


@pytest.mark.parametrize("key", ["../escape", "a/b", ".hidden", "", "x:2,S"])
def test_keys_that_could_leave_the_maildir_match_nothing(source: MaildirSource, key: str) -> None:
    (source.path.parent / "escape").write_bytes(b"outside")
    assert source.fetch([key]) == []
    source.mark_done([key])
    source.quarantine([key])
    assert (source.path.parent / "escape").read_bytes() == b"outside"


@pytest.mark.parametrize("subdir", ["failed", ".", "..", ".a/b"])
def test_failed_subdir_must_be_one_maildirplusplus_name(tmp_path: Path, subdir: str) -> None:
    with pytest.raises(ValueError, match="failed_subdir"):
        MaildirSource(tmp_path, failed_subdir=subdir)


def test_unwritable_location_is_a_permanent_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(MaildError, match="create maildir"):
        MaildirSource(blocker / "Maildir").open()


def test_wait_for_mail_wakes_on_delivery(source: MaildirSource) -> None:
    def deliver_later() -> None:
        time.sleep(0.3)
        deliver(source.path, "9.z.host", b"z")

    source.pending()
    thread = threading.Thread(target=deliver_later)
    thread.start()
    started = time.monotonic()
    assert source.wait_for_mail(10) is True
    assert time.monotonic() - started < 9, "woke for the delivery, not at the timeout"
    thread.join()


def test_wait_for_mail_times_out_and_ignores_mail_left_pending(source: MaildirSource) -> None:
    deliver(source.path, "1.a.host", b"left pending")
    assert source.pending() == ["1.a.host"]
    started = time.monotonic()
    assert source.wait_for_mail(0.5) is False
    assert time.monotonic() - started >= 0.5


def test_wait_for_mail_reports_delivery_since_pending_at_once(source: MaildirSource) -> None:
    source.pending()
    deliver(source.path, "1.a.host", b"new")
    started = time.monotonic()
    assert source.wait_for_mail(10) is True
    assert time.monotonic() - started < 9, "reported at once, not at the timeout"


def test_the_mailbox_seam_imports_no_database_code() -> None:
    """The sources need thread ids (maild.inbound.listing), never the work queue or its drivers."""
    code = (
        "import sys, maild.inbound.source, maild.inbound.maildir, maild.inbound.imap\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'psycopg', 'aiosmtplib'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
