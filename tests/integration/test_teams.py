"""SPEC §10 end to end: teams, owners, internal notes and agents' commands by email.

Through the real Dovecot and the real SMTP sink, with three teams: every
message the sink took is checked (who got which event), because the risk of
this feature is a copy to the wrong side — an internal note reaching a
customer, or a team's case reaching another team's address.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.integration.env import (
    AGENT,
    ALICE,
    BOB,
    OPS,
    SUPPORT,
    YAMADA,
    MaildEnv,
    message,
    reply_address_of,
    reply_to_note,
    text_of,
)
from tests.integration.test_end_to_end import open_case

TIER1, TIER1_MANAGERS = "tier1@example.com", "tier1-managers@example.com"
TIER2, TIER2_MANAGERS = "tier2@example.com", "tier2-managers@example.com"
PLATFORM = "platform@example.com"
AGENT_DESK = "support-team@example.com"  # support.agent_address: unused while teams exist
BERT = "bert@example.com"  # tier2
CARLA = "carla@example.com"  # tier1
TRUSTED = "mx.example.com"
CUSTOMERS = {ALICE, BOB, OPS, YAMADA}
STAFF = {TIER1, TIER2, PLATFORM, TIER1_MANAGERS, TIER2_MANAGERS, AGENT_DESK, AGENT, BERT, CARLA}

TEAMS: dict[str, Any] = {
    "support.agent_address": AGENT_DESK,
    "support.trusted_authserv_ids": [TRUSTED],
    "teams.tier1.address": TIER1,
    "teams.tier1.managers": [TIER1_MANAGERS],
    "teams.tier1.topics": ["billing", "login"],
    "teams.tier2.address": TIER2,
    "teams.tier2.managers": [TIER2_MANAGERS],
    "teams.tier2.topics": ["developer", "apex", "api"],
    "teams.platform.address": PLATFORM,
    "teams.platform.topics": ["performance"],
    "routing.default_team": "tier1",
    "routing.designated_contacts_team": "tier2",
}
FAST = {**TEAMS, "sla.initial_response": {"1": "2s", "2": "2s", "3": "2s", "4": "2s"}}
PROVEN = {
    "Authentication-Results": f"{TRUSTED}; dkim=pass header.d=example.com; dmarc=pass header.from=example.com"
}


def add_agents(env: MaildEnv) -> None:
    env.ok("agent", "add", BERT, "--name", "Bert Tier2", "--team", "tier2")
    env.ok("agent", "add", CARLA, "--name", "Carla Tier1", "--team", "tier1")
    env.ok("agent", "add", AGENT, "--team", "tier1", "--team", "tier2")


def sent(sink: Any) -> list[tuple[str, str, Any]]:
    """(recipient, event, message) for every envelope recipient of every message the sink took."""
    return [
        (r.lower(), str(m.msg.get("X-Maild-Event", "")), m.msg) for m in sink.messages() for r in m.rcpt_tos
    ]


def to(sink: Any, rcpt: str, event: str | None = None) -> list[Any]:
    return [m for r, e, m in sent(sink) if r == rcpt and (event is None or e == event)]


def who(sink: Any, event: str | None = None) -> set[str]:
    return {r for r, e, _m in sent(sink) if event is None or e == event}


def about(sink: Any, number: str) -> list[tuple[str, str, Any]]:
    return [(r, e, m) for r, e, m in sent(sink) if f"#{number}]" in str(m["Subject"])]


def agent_mail(sender: str, number: str, text: str) -> bytes:
    """An agent's mail proven by a trusted Authentication-Results header (their domain's DMARC)."""
    return message(sender, f"Re: [Case #{number}] work", text, headers=PROVEN)


# ------------------------------------------------------------------ 1. routing


@pytest.mark.maild_config(TEAMS)
def test_new_cases_go_to_the_team_of_their_topic_else_designated_and_only_that_team_hears(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    imap_box.append_many(
        [
            message(ALICE, "[Topic: API] Deploy fails", "The metadata API returns 500.\n"),
            message(ALICE, "Invoice wrong", "トピック: billing\n\nThe invoice has the wrong amount.\n"),
            message(ALICE, "Something else", "No topic at all.\n"),
            message(YAMADA, "[トピック: Performance] 遅い", "ページが遅いです。\n"),
        ]
    )
    env.run_once()
    by_subject = {c["subject"]: env.case(c["number"]) for c in env.cases()}
    assert set(by_subject) == {"Deploy fails", "Invoice wrong", "Something else", "遅い"}, "topic tag removed"
    expected = {
        "Deploy fails": "tier2",  # the subject tag's topic
        "Invoice wrong": "tier1",  # the body line's topic, before the designated contact's team
        "Something else": "tier2",  # no topic: designated_contacts_team
        "遅い": "platform",
    }
    assert {s: c["team"] for s, c in by_subject.items()} == expected
    assert by_subject["Deploy fails"]["topic"].lower() == "api"
    assert by_subject["Invoice wrong"]["topic"].lower() == "billing"
    assert all(c["owner"] is None for c in by_subject.values())
    address = {"tier1": TIER1, "tier2": TIER2, "platform": PLATFORM}
    for subject, case in by_subject.items():
        got = about(smtp_sink, case["number"])
        staff = {r for r, _e, _m in got if r in STAFF}
        assert staff == {address[expected[subject]]}, (subject, staff)
        assert {e for _r, e, _m in got} == {"case_opened"}
    assert AGENT_DESK not in who(smtp_sink)


# ------------------------------------------------------------------ 2 + 3. owner and internal notes


@pytest.mark.maild_config(TEAMS)
def test_the_first_agent_to_reply_owns_the_case_and_internal_notes_never_reach_customers(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    add_agents(env)
    number, acks = open_case(env, imap_box, smtp_sink)
    assert env.case(number)["team"] == "tier2"
    assert set(acks) == {ALICE, BOB, OPS, TIER2}

    # The first agent reply (by the CLI) makes Bert the owner.
    smtp_sink.clear()
    env.ok("case", "reply", number, "--as", BERT, "--body", "We are looking at the logs.")
    env.run_once()  # sends what the command line queued
    case = env.case(number)
    assert case["owner"] == BERT
    assert who(smtp_sink) == {ALICE, BOB, OPS, TIER2}, sent(smtp_sink)

    # The customer answers; the owner gets a copy with a reply address of his own.
    smtp_sink.clear()
    imap_box.append(reply_to_note(acks[ALICE][0].msg, ALICE, "Here are the logs: ERR-4711."))
    env.run_once()
    (to_bert,) = to(smtp_sink, BERT)
    bert_address = reply_address_of(to_bert)
    assert bert_address not in {reply_address_of(m) for m in to(smtp_sink, TIER2)}

    # Bert's internal note, by replying to his own copy: proven, internal, owner and team only.
    secret = "SECRET-ROOT-CAUSE-the-db-password-rotated"
    smtp_sink.clear()
    imap_box.append(reply_to_note(to_bert, BERT, f"#note\nInternal: {secret}\nDo not tell them yet."))
    env.run_once()
    comments = env.case(number)["comments"]
    note = comments[-1]
    assert note["author"] == BERT and note["role"] == "agent" and note["internal"] is True
    assert secret in note["body"]
    assert who(smtp_sink) <= {TIER2, BERT} and TIER2 in who(smtp_sink), sent(smtp_sink)
    all_mail_after_note: list[tuple[str, str, Any]] = list(sent(smtp_sink))

    # A note by the CLI does the same.
    smtp_sink.clear()
    env.ok("case", "note", number, "--as", BERT, "--body", "CLI-NOTE-7Q: escalate to R&D.")
    env.run_once()
    assert env.case(number)["comments"][-1]["internal"] is True
    assert who(smtp_sink) <= {TIER2, BERT} and TIER2 in who(smtp_sink), sent(smtp_sink)
    all_mail_after_note += sent(smtp_sink)

    # Then a public reply by email (quoting his copy) and a customer reply: still no secret outside.
    (latest,) = to(smtp_sink, BERT) or [to_bert]
    smtp_sink.clear()
    imap_box.append(reply_to_note(latest, BERT, "Public: please restart the service."))
    env.run_once()
    public = env.case(number)["comments"][-1]
    assert public["author"] == BERT and public["internal"] is False and "restart" in public["body"]
    customer_notes = to(smtp_sink, ALICE)
    assert customer_notes, "the public reply reaches the customer"
    all_mail_after_note += sent(smtp_sink)
    smtp_sink.clear()
    imap_box.append(reply_to_note(customer_notes[-1], ALICE, "Restarted, works now."))
    env.run_once()
    assert env.case(number)["comments"][-1]["author"] == ALICE
    all_mail_after_note += sent(smtp_sink)
    assert to(smtp_sink, BERT), "the owner gets every notification"

    for rcpt, event, msg in all_mail_after_note:
        if rcpt in CUSTOMERS:
            body = text_of(msg) + str(msg.get_body(preferencelist=("html",)) or "")
            assert secret not in body and "CLI-NOTE-7Q" not in body, (rcpt, event)
            assert event != "note_added", (rcpt, event)


# ------------------------------------------------------------------ 4. commands


@pytest.mark.maild_config(FAST)
def test_agents_commands_by_email_assign_move_severity_wait_close(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    add_agents(env)
    number, acks = open_case(env, imap_box, smtp_sink, subject="[Topic: billing] Charged twice", cc=(BOB,))
    opened = time.time()
    assert env.case(number)["team"] == "tier1" and TIER1 in acks

    # Commands only: assign me, severity 1, move to tier2. No comment, no empty comment to customers.
    smtp_sink.clear()
    imap_box.append(agent_mail(AGENT, number, "#assign me\n#severity 1\n#team tier2\n"))
    env.run_once()
    case = env.case(number)
    assert (case["owner"], case["severity"], case["team"]) == (AGENT, 1, "tier2")
    assert case["comments"] == []
    (ack,) = to(smtp_sink, AGENT, "commands_applied")
    assert "tier2" in text_of(ack)
    assert to(smtp_sink, TIER2, "moved"), sent(smtp_sink)
    assert not [e for r, e, _m in sent(smtp_sink) if r in CUSTOMERS and e == "comment_added"]

    # The deadline passes: escalation to tier2's managers and the owner, not tier1's.
    smtp_sink.clear()
    time.sleep(max(0.0, opened + 2.3 - time.time()))
    env.run_once()
    escalated = who(smtp_sink, "escalated")
    assert {TIER2_MANAGERS, AGENT} <= escalated and TIER1_MANAGERS not in escalated, escalated

    # Several commands and a public reply: assign another agent, waiting.
    smtp_sink.clear()
    imap_box.append(agent_mail(AGENT, number, f"#assign {BERT}\n#waiting\nPlease send the invoice number.\n"))
    env.run_once()
    case = env.case(number)
    assert case["owner"] == BERT and case["status"] == "waiting_on_customer"
    assert [c["body"].strip() for c in case["comments"]] == ["Please send the invoice number."]
    assert to(smtp_sink, AGENT, "commands_applied")
    assert to(smtp_sink, ALICE), "the public reply reaches the customer"

    # #close by the new owner.
    smtp_sink.clear()
    imap_box.append(agent_mail(BERT, number, "#close\n"))
    env.run_once()
    assert env.case(number)["status"] == "closed"
    assert to(smtp_sink, BERT, "commands_applied")


# ------------------------------------------------------------------ 5. refusals


@pytest.mark.maild_config(TEAMS)
def test_commands_without_an_agents_proof_change_nothing(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    add_agents(env)
    number, acks = open_case(env, imap_box, smtp_sink)
    smtp_sink.clear()
    # An agent's unproven mail (subject tag only): held, nothing changes.
    imap_box.append(message(BERT, f"Re: [Case #{number}] Login", "#severity 1\n"))
    env.run_once()
    case = env.case(number)
    assert case["severity"] == 3 and case["comments"] == [] and case["owner"] is None
    held = env.ok("inbound", "list", "--outcome", "held", "--json").json()
    assert [h["from"] for h in held] == [BERT]

    # A customer's proven commands: refused with one notice; a second one within the interval: none.
    smtp_sink.clear()
    imap_box.append(reply_to_note(acks[ALICE][0].msg, ALICE, "#severity 1", quote=False))
    env.run_once()
    imap_box.append(reply_to_note(acks[ALICE][0].msg, ALICE, "#note", quote=False))
    env.run_once()
    case = env.case(number)
    assert case["severity"] == 3 and case["owner"] is None and case["team"] == "tier2"
    assert [e for _m in to(smtp_sink, ALICE) for e in [str(_m["X-Maild-Event"])]] == ["rejected"]
    assert not [r for r, e, _m in sent(smtp_sink) if e == "rejected" and r != ALICE]

    # An agent's unknown team: refused in the acknowledgement; the team stays.
    smtp_sink.clear()
    imap_box.append(agent_mail(BERT, number, "#team nosuchteam\n"))
    env.run_once()
    assert env.case(number)["team"] == "tier2"
    (ack,) = to(smtp_sink, BERT, "commands_applied")
    assert "nosuchteam" in text_of(ack)


@pytest.mark.maild_config(TEAMS)
def test_a_customers_command_only_reply_adds_no_empty_comment(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    number, acks = open_case(env, imap_box, smtp_sink)
    smtp_sink.clear()
    imap_box.append(reply_to_note(acks[ALICE][0].msg, ALICE, "#severity 1", quote=False))
    env.run_once()
    assert env.case(number)["comments"] == []
    assert who(smtp_sink, "comment_added") == set(), sent(smtp_sink)


# ------------------------------------------------------------------ 6. no teams


@pytest.mark.maild_config({"support.agent_address": AGENT_DESK})
def test_without_teams_the_agent_address_gets_the_copies(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    number, acks = open_case(env, imap_box, smtp_sink)
    assert set(acks) == {ALICE, BOB, OPS, AGENT_DESK}
    assert env.case(number)["team"] is None
    assert SUPPORT not in acks


@pytest.mark.maild_config(TEAMS)
def test_a_mailboxs_team_takes_its_new_cases_unless_their_topic_names_another(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    client = imap_box.connect()
    try:
        if not client.folder_exists("Platform"):
            client.create_folder("Platform")
    finally:
        client.logout()
    env.set("mailboxes", {"platform": {"folder": "Platform", "team": "Platform"}})
    imap_box.append(message(ALICE, "Slow dashboards", "Everything is slow.\n"), folder="Platform")
    billing = message(ALICE, "[Topic: billing] Slow invoices", "The invoice page.\n")
    imap_box.append(billing, folder="Platform")
    imap_box.append(message(ALICE, "Plain question", "No topic, default mailbox.\n"))
    env.run_once()
    teams = {c["subject"]: env.case(c["number"])["team"] for c in env.cases()}
    assert teams == {
        "Slow dashboards": "platform",  # the mailbox's team (named in any case), before the designated team
        "Slow invoices": "tier1",  # the topic before the mailbox
        "Plain question": "tier2",  # [mailbox] has no team: designated_contacts_team
    }
    copies = {r for r, e, _m in sent(smtp_sink) if e == "case_opened" and r in STAFF}
    assert copies == {PLATFORM, TIER1, TIER2}
