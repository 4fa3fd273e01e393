"""SPEC §8 end to end: only proven senders act, and no message can stall or abuse maild.

Each test is one reproduction from the security review (issue 13), sent through
the real Dovecot and the real SMTP sink and checked through the command line,
with a positive control beside each negative check: the same message with proof
does act, so a check that passes only because nothing works cannot pass here.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from tests.integration.env import (
    AGENT,
    ALICE,
    BOB,
    DAVE,
    MALLORY,
    OPS,
    MaildEnv,
    message,
    reply_to_note,
)
from tests.integration.test_end_to_end import by_rcpt, open_case

TEAM = "support-team@example.com"
TRUSTED = "mx.example.com"
PHISH = "http://phish.example/login"
TRUST = {"support.agent_address": TEAM, "support.trusted_authserv_ids": [TRUSTED]}


def held(env: MaildEnv) -> list[dict[str, Any]]:
    return list(env.ok("inbound", "list", "--outcome", "held", "--json").json())


def rcpts(sink: Any) -> Counter[str]:
    return Counter(r.lower() for m in sink.messages() for r in m.rcpt_tos)


def texts_to(sink: Any, rcpt: str) -> str:
    out = []
    for m in sink.messages():
        if rcpt in [r.lower() for r in m.rcpt_tos]:
            part = m.msg.get_body(preferencelist=("plain",))
            out.append(str(part.get_content()) if part is not None else "")
    return "\n".join(out)


# ------------------------------------------------------------------ forged agents


@pytest.mark.maild_config(TRUST)
def test_a_forged_agent_with_the_subject_tag_is_held_not_an_agent_comment(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    number, _acks = open_case(env, imap_box, smtp_sink)
    smtp_sink.clear()
    forged = message(
        AGENT, f"Re: [Case #{number}] Login", f"#close\nPlease log in again at {PHISH}", name="Agnes"
    )
    imap_box.append(forged)
    env.run_once()
    case = env.case(number)
    assert case["comments"] == [] and case["status"] == "new" and case["first_responded_at"] is None
    assert PHISH not in texts_to(smtp_sink, ALICE), "nothing reaches the customer from our domain"
    assert rcpts(smtp_sink)[ALICE] == 0
    (h,) = held(env)
    assert h["from"] == AGENT and h["case"] == number and "no proof" in h["reason"]
    # One notice to the team, naming the held message; the customer and the agent hear nothing.
    notice = [m for m in smtp_sink.messages() if TEAM in m.rcpt_tos]
    assert len(notice) == 1 and f"inbound release {h['id']}" in texts_to(smtp_sink, TEAM)
    assert notice[0].msg.get("Reply-To") is None, "answering the notice cannot reach the case"

    # Positive control: the same message with a trusted Authentication-Results header acts.
    proven = message(
        AGENT,
        f"Re: [Case #{number}] Login",
        "#close\nSolved by the restart.",
        headers={
            "Authentication-Results": f"{TRUSTED}; dkim=pass header.d=example.com; "
            "dmarc=pass header.from=example.com"
        },
    )
    imap_box.append(proven)
    env.run_once()
    case = env.case(number)
    assert [(c["author"], c["role"]) for c in case["comments"]] == [(AGENT, "agent")]
    assert case["status"] == "closed" and case["first_responded_at"] is not None


@pytest.mark.maild_config(TRUST)
def test_authentication_results_tricks_prove_nothing(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    number, _acks = open_case(env, imap_box, smtp_sink)
    tricks = [
        f'{TRUSTED}; spf=pass smtp.mailfrom="x;dkim=pass.header.d=example.com"@evil.example',
        f"{TRUSTED}; dmarc=pass",  # no header.from: aligned with nothing
        f"{TRUSTED}; dkim=pass header.d=evil.example",
        "mx.evil.example; dmarc=pass header.from=example.com",  # not a trusted authserv-id
        f"{TRUSTED} (dmarc=pass header.from=example.com); dmarc=fail header.from=example.com",
    ]
    for i, value in enumerate(tricks):
        imap_box.append(
            message(
                AGENT,
                f"Re: [Case #{number}] x",
                f"#close\nTrick {i}",
                headers={"Authentication-Results": value},
            )
        )
    env.run_once()
    assert env.case(number)["comments"] == [] and env.case(number)["status"] == "new"
    assert len(held(env)) == len(tricks)


# ------------------------------------------------------------------ reply addresses used by others


def test_a_reply_address_proves_nothing_about_a_forged_from(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    """Mallory, Cc'd on Alice's case, writes to her own reply address as the agent and as Alice."""
    number, acks = open_case(env, imap_box, smtp_sink, cc=(MALLORY,))
    mallorys_copy = acks[MALLORY][0].msg
    smtp_sink.clear()
    imap_box.append(reply_to_note(mallorys_copy, AGENT, f"Log in again at {PHISH}"))
    imap_box.append(reply_to_note(mallorys_copy, ALICE, "#close\nAll good now."))
    env.run_once()
    case = env.case(number)
    assert case["comments"] == [] and case["status"] == "new" and case["first_responded_at"] is None
    assert rcpts(smtp_sink)[ALICE] == 0
    assert sorted(h["from"] for h in held(env)) == sorted([AGENT, ALICE])

    # Positive control: Mallory writing as herself to her own reply address is her comment.
    imap_box.append(reply_to_note(mallorys_copy, MALLORY, "Any news?"))
    env.run_once()
    assert [(c["author"], c["role"]) for c in env.case(number)["comments"]] == [(MALLORY, "collaborator")]


def test_a_forged_participant_cannot_comment_or_add_collaborators(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    number, acks = open_case(env, imap_box, smtp_sink)
    imap_box.append(message(BOB, f"Re: [Case #{number}] Login", "Forged Bob.", cc=[MALLORY]))
    env.run_once()
    case = env.case(number)
    assert case["comments"] == [] and MALLORY not in case["collaborators"]

    # Positive control: Bob's reply to his own copy adds his comment and his Cc.
    own = reply_to_note(acks[BOB][0].msg, BOB, "Real Bob.")
    imap_box.append(own.replace(b"\r\nSubject:", f"\r\nCc: {DAVE}\r\nSubject:".encode(), 1))
    env.run_once()
    case = env.case(number)
    assert [c["author"] for c in case["comments"]] == [BOB]
    assert DAVE in case["collaborators"]


# ------------------------------------------------------------------ held messages: release, discard


@pytest.mark.maild_config({"support.agent_address": TEAM})
def test_held_messages_are_released_or_discarded_by_an_agent(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    number, _acks = open_case(env, imap_box, smtp_sink)
    imap_box.append(message(BOB, f"Re: [Case #{number}] Login", "First, by tag only."))
    imap_box.append(message(OPS, f"Re: [Case #{number}] Login", "Second, by tag only."))
    env.run_once()
    first, second = sorted(held(env), key=lambda h: h["id"])
    assert env.case(number)["comments"] == []
    smtp_sink.clear()

    r = env.run("inbound", "release", str(first["id"]), "--as", BOB)
    assert r.code == 2 and BOB in r.err, "only an agent releases"
    env.ok("inbound", "release", str(first["id"]), "--as", AGENT)
    comments = env.case(number)["comments"]
    assert [(c["author"], c["body"].strip()) for c in comments] == [(BOB, "First, by tag only.")]
    env.run_once()
    assert rcpts(smtp_sink)[ALICE] == 1, "the released comment is notified like any other"
    released = [m for m in env.ok("inbound", "list", "--json").json() if m["id"] == first["id"]]
    assert released[0]["outcome"] == "comment_added" and AGENT in released[0]["reason"]

    env.ok("inbound", "discard", str(second["id"]), "--as", AGENT)
    assert held(env) == []
    discarded = env.ok("inbound", "list", "--outcome", "discarded", "--json").json()
    assert [d["id"] for d in discarded] == [second["id"]]
    assert len(env.case(number)["comments"]) == 1
    again = env.run("inbound", "release", str(second["id"]), "--as", AGENT)
    assert again.code == 2 and "not held" in again.err
    assert env.run("inbound", "discard", "999999").code == 2


@pytest.mark.maild_config({"support.unproven": "refuse"})
def test_unproven_refuse_rejects_with_a_notice(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    number, _acks = open_case(env, imap_box, smtp_sink)
    smtp_sink.clear()
    imap_box.append(message(BOB, f"Re: [Case #{number}] Login", "By tag only."))
    env.run_once()
    assert env.case(number)["comments"] == [] and held(env) == []
    rejected = env.ok("inbound", "list", "--outcome", "rejected", "--json").json()
    assert [r["from"] for r in rejected] == [BOB]
    assert rcpts(smtp_sink)[BOB] == 1


@pytest.mark.maild_config({"support.unproven": "accept"})
def test_unproven_accept_adds_plain_comments_but_never_commands(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    number, _acks = open_case(env, imap_box, smtp_sink)
    imap_box.append(message(BOB, f"Re: [Case #{number}] Login", "By tag only."))
    imap_box.append(message(ALICE, f"Re: [Case #{number}] Login", "#close\nDone."))
    env.run_once()
    case = env.case(number)
    assert [c["author"] for c in case["comments"]] == [BOB]
    assert case["status"] != "closed" and [h["from"] for h in held(env)] == [ALICE]
    warned = env.run("check-config")
    assert warned.code == 0 and "spoofable" in warned.err


# ------------------------------------------------------------------ amplification and backscatter


def test_collaborators_are_capped_and_the_rest_listed(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    cc = tuple(f"user{i:03d}@acme.example" for i in range(60))
    number, acks = open_case(env, imap_box, smtp_sink, subject="Cheap meds at http://spam.example", cc=cc)
    case = env.case(number)
    assert case["collaborators"] == list(cc[:10])
    assert case["collaborators_not_added"] == list(cc[10:])
    assert sum(len(v) for v in acks.values()) == 11, "the contact and ten collaborators"


def test_a_non_designated_contact_cannot_open_a_case_by_replying_to_an_old_one(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    env.set("support.reopen_window", "1s")
    number, acks = open_case(env, imap_box, smtp_sink)
    env.ok("case", "close", number, "--as", AGENT)
    env.run_once()  # sends the closing notices
    time.sleep(1.5)
    smtp_sink.clear()
    imap_box.append(reply_to_note(acks[BOB][0].msg, BOB, "Please look again."))
    env.run_once()
    assert len(env.cases()) == 1, "Bob is not designated: no new case"
    outcome = env.ok("inbound", "list", "--outcome", "helpdesk", "--json").json()
    assert [o["from"] for o in outcome] == [BOB] and rcpts(smtp_sink)[BOB] == 1

    # Positive control: Alice (designated) opens a new case that refers to the old one.
    imap_box.append(reply_to_note(acks[ALICE][0].msg, ALICE, "Please look again."))
    env.run_once()
    assert len(env.cases()) == 2


@pytest.mark.maild_config({"support.notice_limit": 2})
def test_helpdesk_replies_have_a_fixed_subject_and_a_total_limit(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    spam = "Cheap meds at http://spam.example"
    senders = [f"victim{i}@else.example" for i in range(3)]
    imap_box.append_many([message(s, spam, "Buy now") for s in senders])
    env.run_once()
    sent = [m for m in smtp_sink.messages() if any(r in senders for r in m.rcpt_tos)]
    assert len(sent) == 2, "notice_limit holds across senders"
    for m in sent:
        assert "spam.example" not in str(m.msg["Subject"])
        part = m.msg.get_body(preferencelist=("plain",))
        assert "spam.example" not in str(part.get_content())
    assert len(env.ok("inbound", "list", "--outcome", "helpdesk", "--json").json()) == 3


# ------------------------------------------------------------------ regex denial of service


def test_a_hostile_bounce_does_not_stall_ingest(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    body = "The following recipients failed:" + " \n" * 3000 + "<"
    poison = message("MAILER-DAEMON@mx.else.example", "Undelivered", body)
    loops = b"".join(b"X-Loop: " + b"a@" * 4000 + b"\r\n" for _ in range(200))
    header_bomb = message(ALICE, "Header bomb", "y").replace(
        b"\r\nSubject:", b"\r\n" + loops + b"Subject:", 1
    )
    long_line = message(ALICE, "Long line", "Severity: " + "x" * 20000 + "\n")
    imap_box.append_many([poison, header_bomb, long_line, message(ALICE, "Control", "After the bombs.")])
    r = env.run_once()
    assert r.code == 0, r
    subjects = sorted(c["subject"] for c in env.cases())
    assert subjects == ["Control", "Header bomb", "Long line"]
    outcomes = Counter(m["outcome"] for m in env.ok("inbound", "list", "--json").json())
    assert outcomes["ignored"] >= 1 and outcomes["quarantined"] == 0


def test_a_forged_tag_from_an_outsider_gets_a_fixed_notice(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    number, _acks = open_case(env, imap_box, smtp_sink)
    smtp_sink.clear()
    imap_box.append(message(MALLORY, f"Re: [Case #{number}] {PHISH}", "hi"))
    env.run_once()
    (note,) = by_rcpt(smtp_sink.messages()).get(MALLORY, [])  # exactly one refusal
    assert PHISH not in str(note.msg["Subject"]) and note.msg.get("Reply-To") is None
