"""Traditional Chinese (zh-TW) notifications: every event reads as Taiwan Chinese, not English.

A template copied from English and half translated would still pass the
strict render of test_compose; these checks read what a customer or a
colleague in Taiwan actually gets: no English sentence left, the polite
您, Taiwan words (案件, 郵件, 資訊, 回覆, 結案) rather than converted mainland
ones, the 年月日 date, escaped HTML, and the same text after the message
has been built and parsed back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from maild.inbound.parse import parse_message
from maild.outbound import i18n
from maild.outbound.compose import EVENTS, Composer, sample_context
from tests.unit.test_compose import OPENED, TAG, full_context
from tests.unit.test_message import build

LANG = "zh-TW"
CONTACT, STAFF = "primary_contact", "agent"
SCRIPT = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"

# Sentences and labels of templates/en; none of them may survive translation.
ENGLISH = (
    "Dear ",
    "Hello,",
    "Case 0",
    "has been",
    "eply to this email",
    "To add information",
    "Subject:",
    "Severity:",
    "Status:",
    "Reason:",
    "Attachments:",
    "Thank you",
    "automatic reply",
    "Primary contact",
    "support engineer",
    "Internal note",
    "Your commands",
    "deadline",
)
# Mainland words (simplified, or only converted to traditional) that a reader in Taiwan would notice.
NOT_TAIWAN = (
    "邮件",
    "工单",
    "工單",
    "信息",
    "回复",
    "回復",
    "用户",
    "用戶",
    "创建",
    "創建",
    "添加",
    "默认",
    "默認",
    "支持",
    "通過",
    "客户",
)


@pytest.fixture(scope="module")
def strict() -> Composer:
    return Composer([], strict=True)


def contexts() -> list[tuple[str, str, dict[str, Any]]]:
    out: list[tuple[str, str, dict[str, Any]]] = []
    for event in EVENTS:
        for role in (CONTACT, STAFF):
            ctx = full_context(LANG, role)
            if event == "helpdesk":
                ctx["case"] = None
                ctx["event"]["helpdesk_message"] = ""
            out.append((event, role, ctx))
    return out


@pytest.mark.parametrize(("event", "role", "ctx"), contexts(), ids=lambda v: v if isinstance(v, str) else "")
def test_no_english_left(strict: Composer, event: str, role: str, ctx: dict[str, Any]) -> None:
    out = strict.render(event, LANG, ctx)
    for part in (out.subject, out.text, out.html):
        for words in ENGLISH:
            assert words not in part, (event, role, words)
        for words in NOT_TAIWAN:
            assert words not in part, (event, role, words)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in out.text), out.text
    assert 'lang="zh-TW"' in out.html


def test_the_table_is_taiwan_chinese() -> None:
    assert i18n.severity_name(1, LANG) == "嚴重" and i18n.severity_name(3, LANG) == "高"
    assert i18n.status_name("waiting_on_customer", LANG) == "等待客戶回覆"
    assert i18n.status_name("closed", LANG) == "已結案"
    assert i18n.field_label("users_affected", LANG) == "受影響的使用者人數"
    assert i18n.format_filesize(1, LANG) == "1 位元組" and i18n.format_filesize(7, LANG) == "7 位元組"
    assert i18n.format_datetime("2026-11-21T12:05:00Z", LANG) == "2026年11月21日 12:05 (UTC)"
    assert "資訊服務台" in i18n.helpdesk_message(None, LANG)


def test_contact_reads_polite_taiwan_chinese(strict: Composer) -> None:
    out = strict.render("case_opened", LANG, full_context(LANG, CONTACT, severity_note=None))
    assert out.text.startswith("Alice 您好：\n")
    assert "感謝您與我們聯絡。我們已為您的需求建立案件。" in out.text
    assert "案件編號：00001042" in out.text and "嚴重程度：3（高）" in out.text
    assert "首次回應期限：2026年11月21日 14:00 (UTC)" in out.text
    assert "業務影響: Nobody can log in" in out.text
    assert "如需補充資訊，請直接回覆這封郵件。" in out.text and "副本（Cc）" in out.text
    assert "2026年11月21日 14:00 (UTC)" in out.html and "<p>Alice 您好：</p>" in out.html
    for secret in ("團隊：", "負責人：", "Tier 2"):
        assert secret not in out.text  # routing stays internal


def test_nameless_recipient_is_greeted_politely(strict: Composer) -> None:
    ctx = full_context(LANG, CONTACT)
    ctx["recipient"]["name"] = ""
    assert strict.render("closed", LANG, ctx).text.startswith("您好：\n\n案件 00001042 已結案。")


@pytest.mark.parametrize(
    ("event", "phrase"),
    [
        ("status_changed", "狀態已從「新建立」變更為「等待客戶回覆」"),
        ("escalated", "案件 00001042 已升級至我們的技術支援主管（第 2 級）"),
        ("waiting_reminder", "如果在 2026年11月29日 10:00 (UTC) 前仍未收到您的回覆，案件將會自動結案。"),
        (
            "auto_closed",
            "由於自 2026年11月22日 10:00 (UTC) 起一直沒有收到您的回覆，案件 00001042 已自動結案。",
        ),
        ("closed", "請在 2026年12月5日 10:00 (UTC) 前回覆這封郵件，案件就會重新開啟"),
        ("escalate_too_early", "自 2026年11月21日 12:00 (UTC) 起即可申請"),
        ("comment_added", "Bob（協作人員）在案件 00001042 新增了留言"),
    ],
)
def test_contact_key_phrases(strict: Composer, event: str, phrase: str) -> None:
    out = strict.render(event, LANG, full_context(LANG, CONTACT))
    assert phrase in out.text
    assert out.subject.startswith(TAG)


@pytest.mark.parametrize(
    ("event", "phrase"),
    [
        ("deadline_warning", "的下次回應期限為 2026年11月21日 12:00 (UTC)。"),
        ("deadline_warning", "內部備註（#note、maild case note）不算是回應。"),
        ("note_added", "【內部備註】不會寄給客戶。"),
        ("assigned", "案件 00001042 已指派給 Dave <dave@vendor.example>。"),
        ("moved", "已由 erin@vendor.example 從「Tier 1」團隊轉給「Tier 2」團隊。"),
        ("commands_applied", "✗ #team nowhere — 沒有名為「nowhere」的團隊。現有團隊：Tier 1、Tier 2。"),
        ("held", "maild inbound release 7 --as 您的工程師電子郵件地址"),
        ("escalated", "原因：客戶要求升級處理。"),
        ("auto_closed", "狀態：新建立 → 等待客戶回覆"),
    ],
)
def test_staff_key_phrases(strict: Composer, event: str, phrase: str) -> None:
    out = strict.render(event, LANG, full_context(LANG, STAFF))
    assert phrase in out.text
    if event in ("deadline_warning", "note_added", "assigned", "moved", "held", "commands_applied"):
        assert "您好" not in out.text  # colleagues get the facts, without the customer's greeting


def test_staff_footer_tells_how_to_keep_a_reply_internal(strict: Composer) -> None:
    out = strict.render("note_added", LANG, full_context(LANG, "owner"))
    assert out.text.startswith("【內部備註】")
    assert "回覆這封郵件即可在案件中新增留言，客戶也會收到。" in out.text
    assert "請在回覆開頭寫上 #note。" in out.text and "<code>#note</code>" in out.html


@pytest.mark.parametrize("event", EVENTS)
def test_html_is_escaped(strict: Composer, event: str) -> None:
    ctx = full_context(LANG, STAFF, owner_name=SCRIPT, new_team=SCRIPT, excerpt=SCRIPT, reason_text=SCRIPT)
    ctx["case"]["subject"] = SCRIPT
    ctx["case"]["account"] = SCRIPT
    ctx["comment"]["body"] = SCRIPT
    ctx["event"]["helpdesk_message"] = SCRIPT
    out = strict.render(event, LANG, ctx)
    assert "<script>" not in out.html and "&amp;lt;" not in out.html, event
    assert (SCRIPT in out.text) == (ESCAPED in out.html), event  # every value shown is escaped once


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("role", [CONTACT, STAFF])
def test_round_trip_through_the_parser(strict: Composer, event: str, role: str) -> None:
    rendered = strict.render(event, LANG, sample_context(language=LANG, role=role))
    mail = parse_message(build(rendered, to_name="陳怡君"))
    assert not mail.defects
    assert mail.subject == rendered.subject
    assert mail.text == rendered.text
    assert mail.html == rendered.html
    assert any("\u4e00" <= ch <= "\u9fff" for ch in mail.text)


def test_round_trip_keeps_a_chinese_subject_and_body(strict: Composer) -> None:
    ctx = full_context(LANG, CONTACT, due_at=OPENED + timedelta(hours=2))
    ctx["case"]["subject"] = "登入頁面回傳 500 錯誤，所有使用者都無法登入"
    ctx["comment"]["body"] = "問題仍然存在。\n請參考附件中的記錄檔。"
    rendered = strict.render("comment_added", LANG, ctx)
    mail = parse_message(build(rendered))
    assert mail.subject == f"{TAG} 登入頁面回傳 500 錯誤，所有使用者都無法登入"
    assert "問題仍然存在。\n請參考附件中的記錄檔。" in mail.text and mail.text == rendered.text
