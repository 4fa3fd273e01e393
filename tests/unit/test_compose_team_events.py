"""Notifications of SPEC §10 (owners, teams, internal notes, agents' commands by email).

These four events go to the support side only (the team's copy, the owner,
the acting agent), so they speak to colleagues and may show internal
routing; the case summary still hides team, owner and topic from customers.
"""

from __future__ import annotations

from typing import Any

import pytest

from maild.outbound import i18n
from maild.outbound.compose import Composer
from tests.unit.test_compose import TAG, full_context

TEAM_EVENTS = ("assigned", "moved", "note_added", "commands_applied")
STAFF_ROLES = ("agent", "owner", "team", "manager")
CUSTOMER_ROLES = ("primary_contact", "collaborator", "other")
SCRIPT = '<script>alert("x")</script>'

# (line, ok, code, detail, English words, Japanese words): what each result must read.
RESULTS: list[tuple[str, bool, str, str, str, str]] = [
    ("#assign me", True, "assigned", "dave@vendor.example", "assigned to dave@vendor.example",
     "担当エンジニアを dave@vendor.example に変更しました"),
    ("#team Tier 2", True, "moved", "Tier 2", "moved to team Tier 2",
     "チーム「Tier 2」に移動しました"),
    ("#severity 2", True, "severity_changed", "2", "severity is now 2 (Urgent)",
     "重要度を 2（緊急）に変更しました"),
    ("#waiting", True, "waiting", "", "status is now Waiting on customer",
     "ステータスを「お客様の回答待ち」に変更しました"),
    ("#close", True, "closed", "", "The case is closed",
     "ケースをクローズしました"),
    ("#note", True, "noted", "", "stored as an internal note",
     "社内メモとして保存しました"),
    ("#team Tier 1", True, "unchanged", "Tier 1", "Nothing to change: it is already Tier 1",
     "変更はありません（現在の設定: Tier 1）"),
    ("#assign eve@acme.example", False, "not_an_agent", "eve@acme.example",
     "eve@acme.example is not a support engineer",
     "eve@acme.example はサポートエンジニアとして登録されていません"),
    ("#team Nowhere", False, "unknown_team", "Nowhere", 'no team named "Nowhere". Teams: Tier 1, Tier 2.',
     "「Nowhere」というチームはありません。設定されているチーム: Tier 1、Tier 2"),
    ("#severity 9", False, "bad_severity", "9", '"9" is not a severity; use a number from 1 to 4',
     "「9」は重要度として指定できません。1～4 の数字"),
    ("#waiting", False, "agent_command", "", "Only support engineers can use this command",
     "サポートエンジニアのみ使用できます"),
    ("#close", False, "close_not_allowed", "", "You may not close this case",
     "クローズする権限がありません"),
    ("#escalate", False, "escalate_refused", "", "through their managers, not with #escalate",
     "マネージャーを通じてエスカレーション"),
    ("#assign", False, "missing_argument", "", "Something must follow this command, e.g. #assign me",
     "コマンドの後に内容を指定してください（例: #assign me、"),
    ("#close", True, "unchanged", "closed", "Nothing to change: it is already Closed",
     "変更はありません（現在の設定: クローズ）"),
    ("#frobnicate", False, "frobnicated", "", "frobnicated", "frobnicated"),
]  # fmt: skip

# The languages whose exact phrases these tests know; every language renders strictly in
# test_compose.py and says its own phrases in tests/unit/test_lang_<code>.py.
PHRASED = ("en", "ja")


def results(*wanted: str) -> list[dict[str, Any]]:
    return [
        {"line": line, "ok": ok, "code": code, "detail": detail}
        for line, ok, code, detail, _en, _ja in RESULTS
        if not wanted or code in wanted
    ]


def staff_context(language: str = "en", role: str = "team", **event: Any) -> dict[str, Any]:
    ctx = full_context(language, role, **event)
    ctx["recipient"] = {"email": "tier2@vendor.example", "name": "", "language": language, "role": role}
    ctx["comment"] = {
        "author": "erin@vendor.example",
        "author_name": "Erin",
        "role": "agent",
        "body": "Customer's proxy strips the session cookie.\nAsked network team.",
        "attachments": [{"filename": "har.txt", "size": 4096}],
    }
    return ctx


@pytest.fixture(scope="module")
def strict() -> Composer:
    return Composer([], strict=True)


@pytest.mark.parametrize("language", PHRASED)
@pytest.mark.parametrize("event", TEAM_EVENTS)
@pytest.mark.parametrize("role", STAFF_ROLES)
def test_team_events_render_for_colleagues(strict: Composer, event: str, language: str, role: str) -> None:
    out = strict.render(event, language, staff_context(language, role, results=results()))
    assert out.subject.startswith(TAG) and "Login page returns 500" in out.subject
    assert "Example Support" in out.text
    for part in (out.text, out.html):
        # Colleagues, not customers: no customer greeting or closing.
        assert "お世話になっております" not in part and "お客様\n" not in part
        assert "Dear" not in part and "よろしくお願いいたします" not in part
        assert "#note" in part  # how to keep a reply internal
        assert "Tier 2" in part  # the team, shown to staff in the summary


@pytest.mark.parametrize(
    ("language", "to_you", "to_other"),
    [
        ("en", f"{TAG} Assigned to you: Login page returns 500",
         f"{TAG} Assigned to Dave: Login page returns 500"),
        ("ja", f"{TAG} 担当に割り当てられました: Login page returns 500",
         f"{TAG} 担当エンジニア変更（Dave）: Login page returns 500"),
    ],
)  # fmt: skip
def test_assigned_subject_says_you_to_the_new_owner(
    strict: Composer, language: str, to_you: str, to_other: str
) -> None:
    mine = staff_context(language, "owner")
    mine["recipient"]["email"] = "Dave@Vendor.example"
    assert strict.render("assigned", language, mine).subject == to_you
    assert strict.render("assigned", language, staff_context(language, "team")).subject == to_other
    unnamed = staff_context(language, "team", owner_name="")
    assert "dave@vendor.example" in strict.render("assigned", language, unnamed).subject


def test_assigned_names_owner_previous_owner_and_who(strict: Composer) -> None:
    out = strict.render("assigned", "en", staff_context())
    assert "Case 00001042 is now assigned to Dave <dave@vendor.example>." in out.text
    assert "Assigned by: erin@vendor.example" in out.text
    assert "Previous owner: erin@vendor.example" in out.text
    first = strict.render("assigned", "en", staff_context(previous_owner=None))
    assert "The case had no owner before." in first.text
    ja = strict.render("assigned", "ja", staff_context("ja"))
    assert "担当エンジニアが Dave さん（dave@vendor.example）に変更されました。" in ja.text
    assert "変更前の担当エンジニア: erin@vendor.example" in ja.text


@pytest.mark.parametrize(
    ("language", "moved", "pick_up"),
    [
        ("en", "moved from team Tier 1 to team Tier 2 by erin@vendor.example", "reply with #assign me"),
        ("ja", "チーム「Tier 1」からチーム「Tier 2」に移動されました", "「#assign me」と返信してください"),
    ],
)
def test_moved_names_both_teams_and_asks_the_team_to_pick_up_an_ownerless_case(
    strict: Composer, language: str, moved: str, pick_up: str
) -> None:
    owned = strict.render("moved", language, staff_context(language))
    assert moved in owned.text and pick_up not in owned.text
    assert "dave@vendor.example" in owned.text
    ownerless = staff_context(language, owner=None, old_team=None)
    ownerless["case"]["owner"] = None
    out = strict.render("moved", language, ownerless)
    assert pick_up in out.text and "#assign me" in out.html
    assert "Tier 1" not in out.text and "dave@" not in out.text


@pytest.mark.parametrize(
    ("language", "banner", "subject"),
    [
        ("en", "INTERNAL NOTE: not sent to the customer.", f"{TAG} Internal note: Login page returns 500"),
        ("ja", "【社内メモ】お客様には送信されていません。", f"{TAG} 社内メモ: Login page returns 500"),
    ],
)
def test_note_says_first_that_it_is_internal(
    strict: Composer, language: str, banner: str, subject: str
) -> None:
    out = strict.render("note_added", language, staff_context(language, "owner"))
    assert out.subject == subject
    assert out.text.startswith(banner + "\n")
    assert "Customer's proxy strips the session cookie.\nAsked network team." in out.text
    assert "har.txt" in out.text and "har.txt" in out.html
    banner_html = "<strong>Internal note:</strong>" if language == "en" else "<strong>社内メモ</strong>"
    assert out.html.index("<body") < out.html.index(banner_html) < out.html.index("proxy")


@pytest.mark.parametrize("language", PHRASED)
def test_note_tells_how_to_keep_the_answer_internal(strict: Composer, language: str) -> None:
    out = strict.render("note_added", language, staff_context(language))
    footer = out.text[out.text.index("Tier 2") :]
    if language == "en":
        assert "the customer receives it" in footer and "start it with #note" in footer
    else:
        assert "お客様にも送信されます" in footer and "先頭に「#note」" in footer


@pytest.mark.parametrize("language", PHRASED)
def test_commands_applied_renders_every_code(strict: Composer, language: str) -> None:
    out = strict.render("commands_applied", language, staff_context(language, "agent", results=results()))
    lines = out.text.splitlines()
    for line, ok, _code, _detail, en, ja in RESULTS:
        mark = "✓" if ok else "✗"
        expected = en if language == "en" else ja
        assert any(t.startswith(f"{mark} {line} — ") and expected in t for t in lines), (line, expected)
        assert expected in out.html
    not_applied = "were not applied" if language == "en" else "実行されていません"
    assert not_applied in out.text and not_applied in out.html


@pytest.mark.parametrize("language", PHRASED)
def test_commands_applied_all_ok_says_nothing_about_failures(strict: Composer, language: str) -> None:
    out = strict.render(
        "commands_applied", language, staff_context(language, "agent", results=results("noted"))
    )
    assert "✗" not in out.text and "✗" not in out.html
    assert "not applied" not in out.text and "実行されていません" not in out.text


@pytest.mark.parametrize("language", PHRASED)
def test_unknown_team_without_team_list_still_reads(strict: Composer, language: str) -> None:
    out = strict.render(
        "commands_applied", language, staff_context(language, results=results("unknown_team"), teams=[])
    )
    assert "Nowhere" in out.text and "Tier 1" not in out.text.split("\n\n")[1]


@pytest.mark.parametrize("language", PHRASED)
def test_team_events_escape_html(strict: Composer, language: str) -> None:
    ctx = staff_context(
        language,
        owner_name=SCRIPT,
        new_team=SCRIPT,
        teams=[SCRIPT],
        results=[
            {"line": f"#team {SCRIPT}", "ok": False, "code": "unknown_team", "detail": SCRIPT},
            {"line": "#x", "ok": False, "code": SCRIPT, "detail": SCRIPT},
        ],
    )
    ctx["comment"]["body"] = f"Look: {SCRIPT} & <b>bold</b>"
    ctx["case"]["team"] = SCRIPT
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
    for event in TEAM_EVENTS:
        out = strict.render(event, language, ctx)
        assert "<script>" not in out.html and escaped in out.html, event
        assert "&amp;lt;" not in out.html, event  # escaped once, not twice
        assert "<script>" in out.text, event  # plain text keeps what was written
    note = strict.render("note_added", language, ctx)
    assert "Look: &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in note.html


@pytest.mark.parametrize("language", PHRASED)
@pytest.mark.parametrize("event", ["case_opened", "comment_added", "status_changed", "closed"])
def test_summary_shows_routing_to_staff_only(strict: Composer, event: str, language: str) -> None:
    labels = (
        ("Team: ", "Owner: ", "Topic: ")
        if language == "en"
        else ("チーム: ", "担当エンジニア: ", "トピック: ")
    )
    for role in CUSTOMER_ROLES:
        out = strict.render(event, language, full_context(language, role))
        for secret in ("Tier 2", "dave@vendor.example", *labels):
            assert secret not in out.text and secret not in out.html, (role, secret)
        # Exactly what a customer got before teams existed.
        unrouted = full_context(language, role)
        unrouted["case"].update(team=None, owner=None, topic=None)
        assert strict.render(event, language, unrouted) == out
    for role in STAFF_ROLES:
        out = strict.render(event, language, full_context(language, role))
        for label, value in zip(labels, ("Tier 2", "dave@vendor.example", "Login"), strict=True):
            assert f"{label}{value}\n" in out.text, (role, label)
            assert f">{label.rstrip(': ')}<" in out.html and f">{value}<" in out.html


@pytest.mark.parametrize("language", PHRASED)
def test_summary_leaves_out_unset_routing(strict: Composer, language: str) -> None:
    ctx = full_context(language, "team")
    ctx["case"].update(owner=None, topic=None)
    out = strict.render("comment_added", language, ctx)
    assert "Tier 2" in out.text
    for label in ("Owner", "Topic", "担当エンジニア", "トピック"):
        assert label not in out.text and f">{label}<" not in out.html


@pytest.mark.parametrize("language", PHRASED)
def test_agent_command_rejection_reason(language: str) -> None:
    text = i18n.rejection_reason_text("agent_command", language)
    assert text != "agent_command"
    for command in ("#note", "#assign", "#team", "#severity", "#waiting"):
        assert command in text


@pytest.mark.parametrize("role", ["owner", "team"])
def test_owner_and_team_copy_get_the_staff_wording_of_every_event(strict: Composer, role: str) -> None:
    """notify.py sends the team's copy as role "team" (was "agent"); it must not read like a customer's."""
    en = strict.render("comment_added", "en", full_context("en", role))
    assert "everyone on the case receives it" in en.text and "Cc them" not in en.text
    ja = strict.render("comment_added", "ja", full_context("ja", role))
    assert "お世話になっております" not in ja.text and "関係者全員に送信されます" in ja.text
