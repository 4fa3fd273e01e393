"""Several mailboxes in one configuration ([mailboxes.<label>]), read by one pass and by a daemon."""

from __future__ import annotations

from typing import Any

from tests.integration.env import ALICE, YAMADA, MaildEnv, message, stop, wait_until


def _make_folder(imap_box: Any, name: str) -> None:
    client = imap_box.connect()
    try:
        if not client.folder_exists(name):
            client.create_folder(name)
    finally:
        client.logout()


def test_one_pass_reads_every_configured_mailbox(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    _make_folder(imap_box, "Japanese")
    env.set("mailboxes", {"ja": {"folder": "Japanese"}})
    imap_box.append(message(ALICE, "English product question", "How do I export?\n"))
    imap_box.append(
        message(YAMADA, "日本語の問い合わせ", "エクスポートの方法を教えてください。\n"), folder="Japanese"
    )
    result = env.run_once()
    assert "processed 2 message(s) (case_opened 2)" in result.out
    assert sorted(c["subject"] for c in env.cases()) == ["English product question", "日本語の問い合わせ"]
    status = env.ok("status", "--json").json()
    names = sorted(m["name"] for m in status["mailboxes"])
    assert names == [
        f"imap://support@127.0.0.1:{imap_box.port}/INBOX",
        f"imap://support@127.0.0.1:{imap_box.port}/Japanese",
    ]
    assert all(m["waiting"] == 0 for m in status["mailboxes"])
    assert env.run_once().out.startswith("processed 0 message(s)"), "each message once"


def test_a_daemon_watches_every_configured_mailbox(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    _make_folder(imap_box, "Billing")
    env.set("mailboxes", {"billing": {"folder": "Billing"}})
    daemon = env.start_daemon()
    try:
        wait_until(lambda: env.daemon_log().count("watching") >= 2, timeout=30, what="both mailboxes watched")
        imap_box.append(message(ALICE, "Invoice question", "Why two invoices?\n"), folder="Billing")
        wait_until(lambda: len(env.cases()) == 1, timeout=30, what="the Billing message")
        imap_box.append(message(ALICE, "Login question", "Cannot log in.\n"))
        wait_until(lambda: len(env.cases()) == 2, timeout=30, what="the INBOX message")
    finally:
        assert stop(daemon) == 0
    assert sorted(c["subject"] for c in env.cases()) == ["Invoice question", "Login question"]
