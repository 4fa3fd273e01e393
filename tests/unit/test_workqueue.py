"""Sharing a mailbox among workers: thread groups (pure), header listing, and claims on real SQLite."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from maild.clock import FixedClock
from maild.daemon.workqueue import WorkQueue
from maild.inbound.listing import Listed, listed_from_headers
from maild.policy.threads import thread_groups
from maild.store.db import Database, upgrade

BOX = "imap://support@127.0.0.1:143/INBOX"


def L(key: str, own: str | None, *refs: str) -> Listed:
    return Listed(key, own, refs)


# --------------------------------------------------------------------------- thread_groups


def test_unrelated_messages_get_groups_of_their_own() -> None:
    groups = thread_groups([L("1", "<a@x>"), L("2", "<b@x>"), L("3", None)], {})
    assert groups == {"1": "1", "2": "2", "3": "3"}


def test_a_reply_joins_the_message_it_answers_named_after_the_oldest() -> None:
    listed = [L("1", "<a@x>"), L("2", "<b@x>"), L("3", "<c@x>", "<a@x>"), L("4", "<d@x>", "<a@x>", "<c@x>")]
    assert thread_groups(listed, {}) == {"1": "1", "2": "2", "3": "1", "4": "1"}


def test_replies_to_one_thread_root_share_a_group_even_without_the_root() -> None:
    # Two customers answer notifications of the same case: both name its thread root.
    listed = [L("7", "<r1@y>", "<note1@maild>", "<root@x>"), L("9", "<r2@y>", "<note2@maild>", "<root@x>")]
    assert thread_groups(listed, {}) == {"7": "7", "9": "7"}


def test_copies_of_one_message_share_a_group() -> None:
    assert thread_groups([L("1", "<same@x>"), L("2", "<same@x>")], {}) == {"1": "1", "2": "1"}


def test_a_reply_to_a_message_listed_earlier_joins_its_group() -> None:
    assert thread_groups([L("5", "<e@x>", "<a@x>")], {"<a@x>": "1"}) == {"5": "1"}


def test_a_message_linking_two_listed_groups_joins_one_of_them_the_same_every_time() -> None:
    groups = thread_groups([L("9", "<z@x>", "<a@x>", "<b@x>")], {"<a@x>": "3", "<b@x>": "12"})
    assert groups == {"9": "12"}  # the smaller name
    assert thread_groups([L("9", "<z@x>", "<b@x>", "<a@x>")], {"<b@x>": "12", "<a@x>": "3"}) == groups


ids = st.sampled_from([f"<{c}@x>" for c in "abcdef"])


@given(st.lists(st.tuples(st.none() | ids, st.lists(ids, max_size=3)), min_size=1, max_size=12))
def test_linked_messages_always_share_a_group_and_groups_are_named_by_a_member(
    rows: list[tuple[str | None, list[str]]],
) -> None:
    listed = [Listed(str(i), own, tuple(refs)) for i, (own, refs) in enumerate(rows)]
    groups = thread_groups(listed, {})
    assert set(groups) == {m.key for m in listed}
    for m in listed:
        assert groups[m.key] in groups, "a new group is named after one of its messages"
        assert int(groups[m.key]) <= int(m.key), "… its oldest"
        for other in listed:
            shared = {m.message_id, *m.refs} & {other.message_id, *other.refs} - {None}
            if shared:
                assert groups[m.key] == groups[other.key]


# --------------------------------------------------------------------------- headers


def test_thread_ids_are_read_from_a_header_block() -> None:
    block = (
        b"Message-ID: <reply@example.com>\r\n"
        b"In-Reply-To: <parent@example.com>\r\n"
        b"References: <root@example.com>\r\n <parent@example.com>\r\n\r\n"
    )
    listed = listed_from_headers("1:5", block)
    assert listed == Listed("1:5", "<reply@example.com>", ("<parent@example.com>", "<root@example.com>"))


@given(st.binary(max_size=400))
def test_any_header_block_lists_without_raising(block: bytes) -> None:
    listed = listed_from_headers("k", block)
    assert listed.key == "k"
    assert listed.message_id is None or listed.message_id.startswith("<")


# --------------------------------------------------------------------------- claims


def queue(tmp_path: Path, holder: str, clock: FixedClock) -> WorkQueue:
    d = Database(f"sqlite:///{tmp_path / 'work.db'}")
    upgrade(d)
    return WorkQueue(d, clock, holder, claim_ttl=timedelta(minutes=5))


def test_two_workers_never_claim_the_same_message_and_a_reply_waits_for_its_parent(tmp_path: Path) -> None:
    clock = FixedClock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
    a = queue(tmp_path, "remote-a:1:x", clock)
    b = queue(tmp_path, "remote-b:2:y", clock)
    added = a.add(BOX, [L("1", "<p@x>"), L("2", "<q@x>"), L("3", "<r@x>", "<p@x>"), L("4", "<s@x>")])
    assert added == 4
    assert a.add(BOX, [L("1", "<p@x>")]) == 0, "listing again adds nothing"
    first = a.claim(BOX, 2)
    assert [c.key for c in first] == ["1", "2"]
    second = b.claim(BOX, 10)
    assert [c.key for c in second] == ["4"], "3 answers 1, which is not done yet"
    with a.db.session() as s:
        assert a.done_in(s, first[0].work_id)
    assert [c.key for c in b.claim(BOX, 10)] == ["3", "4"], "the reply is free once its parent is done"
    with a.db.session() as s:
        assert not a.done_in(s, second[0].work_id), "a worker cannot finish another's claim"
    assert a.waiting(BOX) == 3


def test_an_expired_claim_or_a_dead_local_claimer_frees_the_message(tmp_path: Path) -> None:
    clock = FixedClock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    dead = queue(tmp_path, f"{socket.gethostname()}:{proc.pid}:zz", clock)
    remote = queue(tmp_path, "remote-a:1:x", clock)
    alive = queue(tmp_path, "remote-b:2:y", clock)
    remote.add(BOX, [L("1", "<a@x>")])
    assert [c.key for c in remote.claim(BOX, 1)] == ["1"]
    dead.add(BOX, [L("2", "<b@x>")])
    assert [c.key for c in dead.claim(BOX, 1)] == ["2"]
    assert [c.key for c in alive.claim(BOX, 10)] == ["2"], "a dead process's claim is taken back at once"
    clock.advance(timedelta(minutes=6))
    assert [c.key for c in alive.claim(BOX, 10)] == ["1", "2"], "an unrenewed claim expires"


def test_release_and_forget(tmp_path: Path) -> None:
    clock = FixedClock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
    a = queue(tmp_path, "remote-a:1:x", clock)
    b = queue(tmp_path, "remote-b:2:y", clock)
    a.add(BOX, [L("1", "<a@x>"), L("2", "<b@x>")])
    claims = a.claim(BOX, 10)
    assert b.claim(BOX, 10) == []
    a.release(BOX)
    assert [c.key for c in b.claim(BOX, 10)] == ["1", "2"]
    b.forget([c.work_id for c in claims])
    assert b.waiting(BOX) == 0
    assert a.listed_keys(BOX, ["1", "2", "3"]) == set()


# --------------------------------------------------------------------------- crashes (SPEC §8)


def check_crash_counting(make: Callable[[str, FixedClock], WorkQueue], dead_holder: str) -> None:
    """The queue's poison-message rules, on any database (the PostgreSQL test calls this too).

    `dead_holder` names a process on this host that no longer exists.
    """
    clock = FixedClock(datetime(2026, 12, 6, 9, 0, tzinfo=UTC))
    dead = make(dead_holder, clock)
    alive = make("remote-b:2:y", clock)
    dead.add(BOX, [L(str(i), f"<m{i}@x>") for i in range(1, 6)])
    claim = dead.claim(BOX, 5)
    assert [c.crashes for c in claim] == [0] * 5
    with dead.db.session() as s:
        assert dead.done_in(s, claim[0].work_id)  # message 1 finished
    dead.start(claim[1].work_id)  # message 2 started, then the worker died: 3-5 never started
    taken = alive.claim(BOX, 10)
    assert [(c.key, c.crashes) for c in taken] == [("2", 1), ("3", 0), ("4", 0), ("5", 0)], (
        "the dead worker's claim of 4 blames only the message it had started"
    )
    alive.start(taken[0].work_id)  # the restarted worker starts 2 again and dies again
    clock.advance(timedelta(minutes=6))
    third = make("remote-c:3:z", clock)
    assert [(c.key, c.crashes) for c in third.claim(BOX, 10)] == [("2", 2), ("3", 0), ("4", 0), ("5", 0)]

    # A clean stop hands back what was claimed and not started: nothing counts.
    third.release(BOX)
    assert [(c.key, c.crashes) for c in alive.claim(BOX, 10)][1:] == [("3", 0), ("4", 0), ("5", 0)]

    # A living worker that gave up message 3 on a transient failure retries it: one start, not two.
    alive.start(taken[1].work_id)
    alive.interrupted(taken[1].work_id)
    again = {c.key: c.crashes for c in alive.claim(BOX, 10)}
    assert again["3"] == 0, "this process's own interrupted try is no crash"
    alive.start(taken[1].work_id)  # the retry is not counted again …
    clock.advance(timedelta(minutes=6))
    later = {c.key: c.crashes for c in make("remote-d:4:w", clock).claim(BOX, 10)}
    assert later["3"] == 1, "… so had the worker died in the retry, that is one crash"
    with alive.db.session() as s:
        alive.done_in(s, taken[1].work_id)


def test_crashes_count_only_starts_that_never_finished(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    db = Database(f"sqlite:///{tmp_path / 'work.db'}")
    upgrade(db)
    check_crash_counting(
        lambda holder, clock: WorkQueue(db, clock, holder), f"{socket.gethostname()}:{proc.pid}:zz"
    )
