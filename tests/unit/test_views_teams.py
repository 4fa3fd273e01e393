"""The team fields in the views (SPEC §10): a note never looks like something the customer saw.

The text views show team names and owners through `safetext` like every
other stored value; the table's TEAM and OWNER columns stay aligned
whatever their width.
"""

from __future__ import annotations

from datetime import UTC, datetime

from maild.cases.views import case_table, case_text, comment_json
from maild.store.models import Agent, Case, Comment, Contact

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def _case(case_id: int, team: str | None, owner: str | None) -> Case:
    return Case(
        id=case_id,
        subject="Login fails",
        severity=2,
        status="new",
        team=team,
        owner=Agent(email=owner) if owner else None,
        primary_contact=Contact(email="alice@acme.example"),
    )


def _data(comments: list[dict[str, object]], **fields: object) -> dict[str, object]:
    return {
        "number": "00000001",
        "subject": "Login fails",
        "status": "new",
        "severity": 2,
        "account": "Acme",
        "primary_contact": "alice@acme.example",
        "collaborators": [],
        "created_at": "2026-11-22T09:00:00Z",
        "first_response_due_at": None,
        "first_responded_at": None,
        "fields": {},
        "escalations": [],
        "description": "It fails.",
        "comments": comments,
        **fields,
    }


def _comment(body: str, *, internal: bool) -> dict[str, object]:
    return {
        "author": "kim@example.com",
        "role": "agent",
        "created_at": "2026-11-22T10:00:00Z",
        "body": body,
        "attachments": [],
        "internal": internal,
    }


def test_the_case_table_has_team_and_owner_columns_aligned() -> None:
    lines = case_table(
        [_case(1, "tier2", "kim@example.com"), _case(2, None, None), _case(3, "a-much-longer-team", None)]
    ).splitlines()
    assert lines[0].split()[:5] == ["NUMBER", "SEV", "STATUS", "TEAM", "OWNER"]
    assert [line.split()[3:5] for line in lines[1:]] == [
        ["tier2", "kim@example.com"],
        ["-", "-"],
        ["a-much-longer-team", "-"],
    ]
    starts = {line.index("alice@acme.example") for line in lines[1:]}
    assert len(starts) == 1 and lines[0].index("PRIMARY CONTACT") in starts


def test_a_hostile_team_name_in_the_table_is_shown_escaped() -> None:
    (_head, line) = case_table([_case(1, "t\x1b[2J", "kim@example.com")]).splitlines()
    assert "\x1b" not in line and "t\\x1b[2J" in line


def test_an_internal_note_is_marked_in_the_text_view_and_the_public_reply_is_not() -> None:
    text = case_text(
        _data(
            [_comment("Public answer.", internal=False), _comment("Only for us.", internal=True)],
            team="tier2",
            owner="kim@example.com",
            topic="API",
        )
    )
    assert "--- kim@example.com (agent) at 2026-11-22T10:00:00Z\nPublic answer." in text
    assert "--- kim@example.com (agent, INTERNAL NOTE) at 2026-11-22T10:00:00Z\nOnly for us." in text
    assert "  team tier2; owner kim@example.com; topic API" in text


def test_the_text_view_without_team_or_owner_says_so_and_escapes_the_topic() -> None:
    text = case_text(_data([], team=None, owner=None, topic="\u202eevil"))
    assert "  team -; owner none (unassigned); topic \\u202eevil" in text


def test_a_comment_json_says_whether_it_is_internal() -> None:
    note = Comment(
        author_email="kim@example.com",
        author_name="Kim",
        role="agent",
        body="Only for us.",
        created_at=NOW,
        source="cli",
        internal=True,
        attachments=[],
    )
    data = comment_json(note)
    assert data["internal"] is True and data["source"] == "cli"
    note.internal = False
    assert comment_json(note)["internal"] is False
