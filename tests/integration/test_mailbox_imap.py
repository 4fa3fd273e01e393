"""ImapSource against a real Dovecot: login modes, the done/quarantine rules,
UIDVALIDITY keys, error mapping, reconnects and IDLE wake-ups."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from maild.errors import MaildError, TransientError
from maild.inbound.imap import DONE_KEYWORD, ImapSource
from maild.vocab import Security
from tests.fixtures.dovecot import DovecotServer, free_port

DONE = DONE_KEYWORD.encode()


def message(n: int, body: bytes = b"hello") -> bytes:
    return (
        f"From: customer{n}@example.com\r\nTo: support@example.com\r\n"
        f"Subject: case {n}\r\nMessage-ID: <m{n}@example.com>\r\n\r\n".encode()
        + body
        + b"\r\n"
    )


@pytest.fixture
def make_source(imap_box: DovecotServer) -> Iterator[Callable[..., ImapSource]]:
    """Build opened sources on the test Dovecot; all closed after the test."""
    made: list[ImapSource] = []

    def make(
        security: Security = "none",
        *,
        port: int | None = None,
        open_it: bool = True,
        cls: type[ImapSource] = ImapSource,
        **kwargs: object,
    ) -> ImapSource:
        if port is None:
            port = imap_box.tls_port if security == "tls" else imap_box.port
        kwargs.setdefault("ca_file", str(imap_box.cert_path))
        kwargs.setdefault("timeout", 10.0)
        source = cls(
            "127.0.0.1",
            port,
            security,
            kwargs.pop("username", "support"),  # type: ignore[arg-type]
            kwargs.pop("password", "secret"),
            **kwargs,
        )  # type: ignore[arg-type]
        made.append(source)
        if open_it:
            source.open()
        return source

    yield make
    for source in made:
        source.close()


def later(delay: float, action: Callable[[], object]) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        action()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# ------------------------------------------------------------------ logins


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
def test_each_security_mode_logs_in_and_lists_pending(
    imap_box: DovecotServer, make_source: Callable[..., ImapSource], security: Security
) -> None:
    uid = imap_box.append(message(1))
    source = make_source(security)
    assert source.pending() == [f"{imap_box.uidvalidity()}:{uid}"]


def test_verify_tls_off_accepts_an_untrusted_certificate(make_source: Callable[..., ImapSource]) -> None:
    source = make_source("tls", ca_file=None, verify_tls=False)
    assert source.pending() == []


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_untrusted_certificate_is_a_transient_tls_error(
    make_source: Callable[..., ImapSource], security: Security
) -> None:
    source = make_source(security, ca_file=None, open_it=False)
    with pytest.raises(TransientError, match="CERTIFICATE_VERIFY_FAILED"):
        source.open()


def test_wrong_password_is_a_permanent_error_that_says_so(make_source: Callable[..., ImapSource]) -> None:
    source = make_source(password="wrong", open_it=False)
    with pytest.raises(MaildError, match=r"login as 'support' failed: authentication rejected") as info:
        source.open()
    assert not isinstance(info.value, TransientError)


def test_nothing_listening_is_transient(make_source: Callable[..., ImapSource]) -> None:
    source = make_source(port=free_port(), open_it=False)
    with pytest.raises(TransientError, match="ConnectionRefusedError"):
        source.open()


def test_missing_folder_is_a_permanent_error(make_source: Callable[..., ImapSource]) -> None:
    source = make_source(folder="NoSuchFolder", open_it=False)
    with pytest.raises(MaildError, match="SELECT NoSuchFolder") as info:
        source.open()
    assert not isinstance(info.value, TransientError)


def test_name_identifies_user_server_and_folder(make_source: Callable[..., ImapSource]) -> None:
    source = make_source(open_it=False)
    assert source.name == f"imap://support@127.0.0.1:{source.port}/INBOX"


def test_close_is_idempotent_and_calls_after_close_are_transient(
    make_source: Callable[..., ImapSource],
) -> None:
    source = make_source()
    source.close()
    source.close()
    with pytest.raises(TransientError, match="not connected"):
        source.pending()


@pytest.mark.parametrize(
    ("host", "security", "kwargs"),
    [
        ("192.0.2.1", "none", {}),
        ("127.0.0.1", "ssl", {}),
        ("127.0.0.1", "none", {"failed_folder": "INBOX"}),
        ("127.0.0.1", "none", {"processed_folder": ""}),
        ("127.0.0.1", "none", {"timeout": 0}),
    ],
)
def test_bad_settings_are_refused_up_front(host: str, security: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ImapSource(host, 143, security, "support", "secret", **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------- pending and fetch


def test_fetch_returns_exact_bytes_in_the_order_asked(
    imap_box: DovecotServer, make_source: Callable[..., ImapSource]
) -> None:
    raws = [message(1, b"caf\xe9 latin-1 bytes"), message(2, b"\xe2\x82\xac utf-8")]
    imap_box.append_many(raws)
    source = make_source()
    keys = source.pending()
    assert len(keys) == 2
    fetched = source.fetch(list(reversed(keys)))
    assert [m.key for m in fetched] == list(reversed(keys))
    assert [m.raw for m in fetched] == list(reversed(raws))


def test_pending_is_oldest_first(imap_box: DovecotServer, make_source: Callable[..., ImapSource]) -> None:
    uids = imap_box.append_many([message(n) for n in range(5)])
    source = make_source()
    assert [int(k.split(":")[1]) for k in source.pending()] == sorted(uids)


def test_fetch_does_not_set_seen(imap_box: DovecotServer, make_source: Callable[..., ImapSource]) -> None:
    uid = imap_box.append(message(1))
    source = make_source()
    assert len(source.fetch(source.pending())) == 1
    assert b"\\Seen" not in imap_box.flags()[uid]


def test_keys_embed_uidvalidity_and_stale_keys_find_nothing(
    imap_box: DovecotServer, make_source: Callable[..., ImapSource]
) -> None:
    uid = imap_box.append(message(1))
    source = make_source()
    uidvalidity = imap_box.uidvalidity()
    assert source.pending() == [f"{uidvalidity}:{uid}"]
    stale = f"{uidvalidity + 1}:{uid}"
    assert source.fetch([stale]) == []
    source.mark_done([stale])
    assert DONE not in imap_box.flags()[uid]


def test_recreated_folder_gets_new_keys_and_old_ones_are_gone(
    imap_box: DovecotServer, make_source: Callable[..., ImapSource]
) -> None:
    client = imap_box.connect()
    client.create_folder("Queue")
    client.logout()
    imap_box.append(message(1), folder="Queue")
    source = make_source(folder="Queue")
    old = source.pending()
    source.close()
    client = imap_box.connect()
    client.delete_folder("Queue")
    client.create_folder("Queue")
    client.logout()
    time.sleep(1.1)  # Dovecot derives UIDVALIDITY from the clock
    imap_box.append(message(2), folder="Queue")
    source.open()
    new = source.pending()
    assert len(old) == len(new) == 1
    assert old[0].split(":")[0] != new[0].split(":")[0]
    assert source.fetch(old) == []
    assert [m.raw for m in source.fetch(new)] == [message(2)]


def test_malformed_key_is_a_caller_bug(make_source: Callable[..., ImapSource]) -> None:
    source = make_source()
    with pytest.raises(ValueError, match="UIDVALIDITY:UID"):
        source.fetch(["not-a-key"])


# -------------------------------------------------------- done, quarantine


def test_mark_done_flags_seen_and_keyword_and_leaves_the_rest_pending(
    imap_box: DovecotServer, make_source: Callable[..., ImapSource]
) -> None:
    first, second = imap_box.append_many([message(1), message(2)])
    source = make_source()
    keys = source.pending()
    source.mark_done(keys[:1])
    flags = imap_box.flags()
    assert {b"\\Seen", DONE} <= set(flags[first])
    assert DONE not in flags[second]
    assert source.pending() == keys[1:]
    source.mark_done(keys[:1])  # idempotent
    assert source.pending() == keys[1:]


def test_a_message_a_human_read_is_still_pending(
    imap_box: DovecotServer, make_source: Callable[..., ImapSource]
) -> None:
    uid = imap_box.append(message(1))
    imap_box.add_flags([uid], [b"\\Seen"])
    source = make_source()
    assert source.pending() == [f"{imap_box.uidvalidity()}:{uid}"]


@pytest.mark.parametrize("use_move", [True, False], ids=["MOVE", "COPY+EXPUNGE"])
def test_processed_folder_receives_done_messages(
    imap_box: DovecotServer, make_source: Callable[..., ImapSource], use_move: bool
) -> None:
    class Source(ImapSource):
        def _can_move(self) -> bool:
            return use_move and super()._can_move()

    raws = [message(1), message(2)]
    imap_box.append_many(raws)
    source = make_source(processed_folder="Processed", cls=Source)
    assert "Processed" not in imap_box.folders()
    source.mark_done(source.pending())
    assert imap_box.count("INBOX") == 0
    assert sorted(imap_box.fetch_all("Processed").values()) == sorted(raws)
    assert all({b"\\Seen", DONE} <= set(f) for f in imap_box.flags("Processed").values())
    assert source.pending() == []


def test_quarantine_moves_to_a_created_failed_folder(
    imap_box: DovecotServer, make_source: Callable[..., ImapSource]
) -> None:
    imap_box.append_many([message(1, b"\xff\xfe broken"), message(2)])
    source = make_source(failed_folder="maild-failed")
    keys = source.pending()
    assert "maild-failed" not in imap_box.folders()
    source.quarantine(keys[:1])
    assert "maild-failed" in imap_box.folders()
    assert list(imap_box.fetch_all("maild-failed").values()) == [message(1, b"\xff\xfe broken")]
    assert list(imap_box.fetch_all("INBOX").values()) == [message(2)]
    assert source.pending() == keys[1:]
    source.quarantine(keys[1:])  # the folder now exists: reused, not re-created
    assert imap_box.count("maild-failed") == 2


def test_a_failed_folder_deleted_behind_our_back_is_created_again(
    imap_box: DovecotServer, make_source: Callable[..., ImapSource]
) -> None:
    imap_box.append_many([message(1), message(2)])
    source = make_source()
    keys = source.pending()
    source.quarantine(keys[:1])
    client = imap_box.connect()
    client.delete_folder("maild-failed")
    client.logout()
    source.quarantine(keys[1:])
    assert list(imap_box.fetch_all("maild-failed").values()) == [message(2)]


# ------------------------------------------------------ dropped connections


def test_server_restart_mid_session_is_transient_then_reopen_works(
    imap_box: DovecotServer, make_source: Callable[..., ImapSource]
) -> None:
    uid = imap_box.append(message(1))
    source = make_source()
    key = source.pending()[0]
    imap_box.stop()
    try:
        with pytest.raises(TransientError):
            source.fetch([key])
        with pytest.raises(TransientError):
            source.open()
    finally:
        imap_box.start()
    source.open()
    assert source.pending() == [key]
    source.mark_done([key])
    assert DONE in imap_box.flags()[uid]


def test_server_stopping_during_idle_is_transient(
    imap_box: DovecotServer, make_source: Callable[..., ImapSource]
) -> None:
    source = make_source()
    source.pending()
    stopper = later(0.3, imap_box.stop)
    started = time.monotonic()
    try:
        with pytest.raises(TransientError):
            source.wait_for_mail(20)
        assert time.monotonic() - started < 10
    finally:
        stopper.join()
        imap_box.start()


# ------------------------------------------------------------------ waiting


def test_idle_wakes_up_soon_after_an_append(
    imap_box: DovecotServer, make_source: Callable[..., ImapSource]
) -> None:
    source = make_source()
    assert source.pending() == []
    appender = later(0.3, lambda: imap_box.append(message(1)))
    started = time.monotonic()
    assert source.wait_for_mail(15) is True
    assert time.monotonic() - started < 1.3
    appender.join()
    assert len(source.pending()) == 1


def test_idle_times_out_without_mail(make_source: Callable[..., ImapSource]) -> None:
    source = make_source()
    source.pending()
    started = time.monotonic()
    assert source.wait_for_mail(1.0) is False
    assert 0.9 <= time.monotonic() - started < 3
    assert source.pending() == []  # the connection is usable after IDLE


def test_mail_that_arrived_before_the_wait_is_reported_at_once(
    imap_box: DovecotServer, make_source: Callable[..., ImapSource]
) -> None:
    source = make_source()
    source.pending()
    imap_box.append(message(1))
    started = time.monotonic()
    assert source.wait_for_mail(10) is True
    assert time.monotonic() - started < 1


def test_mail_left_pending_does_not_wake_the_wait(
    imap_box: DovecotServer, make_source: Callable[..., ImapSource]
) -> None:
    imap_box.append(message(1))
    source = make_source()
    assert len(source.pending()) == 1
    assert source.wait_for_mail(0.5) is False


def test_polling_without_idle_notices_new_mail(
    imap_box: DovecotServer, make_source: Callable[..., ImapSource]
) -> None:
    source = make_source(idle=False)
    source.pending()
    assert source.wait_for_mail(0.5) is False
    appender = later(0.3, lambda: imap_box.append(message(1)))
    started = time.monotonic()
    assert source.wait_for_mail(15) is True
    assert time.monotonic() - started < 3.5
    appender.join()


def test_large_and_many_messages_are_fetched_in_bounded_pieces(imap_box: DovecotServer) -> None:
    import os

    from maild.inbound import imapwire

    big = b"Subject: big\r\n\r\n" + os.urandom(3 * 1024 * 1024).hex().encode()[: 5 * 1024 * 1024] + b"\r\n"
    smalls = [f"Subject: small {i}\r\n\r\nbody {i}\r\n".encode() for i in range(5)]
    imap_box.append_many([smalls[0], big, *smalls[1:]])
    source = ImapSource("127.0.0.1", imap_box.port, "none", "support", "secret", verify_tls=False)
    old = (imapwire.BATCH_BYTES, imapwire.LARGE_MESSAGE, imapwire.FETCH_CHUNK)
    imapwire.BATCH_BYTES, imapwire.LARGE_MESSAGE, imapwire.FETCH_CHUNK = (
        100,
        1024 * 1024,
        700_000,
    )
    try:
        source.open()
        fetched = source.fetch(source.pending())
    finally:
        imapwire.BATCH_BYTES, imapwire.LARGE_MESSAGE, imapwire.FETCH_CHUNK = old
        source.close()
    raws = [m.raw for m in fetched]
    assert raws == [smalls[0], big, *smalls[1:]], "every message, in order, byte for byte"
    mb = 1024 * 1024
    groups = imapwire.size_groups
    assert groups([1, 2, 3, 4], {1: 60, 2: 60, 3: 5 * mb, 4: 10}) == [[1, 2, 3, 4]]
    assert groups([1, 2, 3, 4], {1: 60, 2: 60, 3: 9 * mb, 4: 10}) == [[1, 2], [3], [4]], "a large one alone"
    assert groups([1, 2, 3], {1: 7 * mb, 2: 7 * mb, 3: 7 * mb}) == [[1, 2], [3]], "at most 16 MiB a group"


def test_a_30_mb_attachment_comes_whole_and_byte_exact_through_partial_fetches(
    imap_box: DovecotServer, make_source: Callable[..., ImapSource], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped chunk sizes against a real Dovecot: one copy of the message in memory, not several."""
    import os
    import tracemalloc
    from email import policy
    from email.message import EmailMessage

    from maild.inbound import imapwire
    from maild.inbound.parse import parse_message

    data = os.urandom(30 * 1024 * 1024)
    m = EmailMessage()
    m["From"] = "customer@example.com"
    m["To"] = "support@example.com"
    m["Subject"] = "heap dump"
    m["Message-ID"] = "<heapdump@example.com>"
    m.set_content("The heap dump is attached.")
    m.add_attachment(data, maintype="application", subtype="octet-stream", filename="heap.hprof")
    raw = m.as_bytes(policy=policy.SMTP)
    del m
    assert len(raw) > imapwire.LARGE_MESSAGE and len(raw) > 8 * imapwire.FETCH_CHUNK
    imap_box.append(raw)
    source = make_source(timeout=60.0)
    chunked: list[int] = []
    fetch_in_chunks = source._fetch_in_chunks

    def spy(uid: int, size: int) -> bytes:
        chunked.append(size)
        return fetch_in_chunks(uid, size)

    monkeypatch.setattr(source, "_fetch_in_chunks", spy)
    keys = source.pending()
    tracemalloc.start()
    try:
        (fetched,) = source.fetch(keys)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert chunked == [len(raw)], "read in partial fetches"
    assert fetched.key == keys[0]
    assert fetched.raw == raw, "the whole message, byte for byte"
    held = peak / len(raw)
    assert peak < len(raw) + 3 * imapwire.FETCH_CHUNK, f"fetching held {held:.2f}x the message"
    (attachment,) = parse_message(fetched.raw, max_attachment_bytes=64 * 1024 * 1024).attachments
    assert attachment.filename == "heap.hprof" and attachment.data == data
