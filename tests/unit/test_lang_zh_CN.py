"""Simplified Chinese (zh-CN) notifications: every event reads as mainland Chinese, not English.

A template copied from English and half translated would still pass the
strict render of test_compose; these checks read what a customer or a
colleague in mainland China actually gets: no English sentence left, the
polite 您, mainland words (工单, 邮件, 信息), the 年月日 date, escaped HTML,
and the same text after the message has been built and parsed back.
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

LANG = "zh-CN"
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
# Words of traditional Chinese or Taiwan usage that a mainland reader would notice.
NOT_MAINLAND = ("郵件", "資訊", "回覆", "案件", "電子", "客戶", "團隊", "您好，")


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
        for words in NOT_MAINLAND:
            assert words not in part, (event, role, words)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in out.text), out.text
    assert 'lang="zh-CN"' in out.html


def test_the_table_is_mainland_chinese() -> None:
    assert i18n.severity_name(1, LANG) == "严重" and i18n.severity_name(3, LANG) == "高"
    assert i18n.status_name("waiting_on_customer", LANG) == "等待客户回复"
    assert i18n.field_label("users_affected", LANG) == "受影响用户数"
    assert i18n.format_filesize(1, LANG) == "1 字节" and i18n.format_filesize(7, LANG) == "7 字节"
    assert i18n.format_datetime("2026-11-21T12:05:00Z", LANG) == "2026年11月21日 12:05 (UTC)"
    assert "IT 服务台" in i18n.helpdesk_message(None, LANG)


def test_contact_reads_polite_mainland_chinese(strict: Composer) -> None:
    out = strict.render("case_opened", LANG, full_context(LANG, CONTACT, severity_note=None))
    assert out.text.startswith("Alice，您好！\n")
    assert "感谢您联系我们。我们已为您的请求创建了工单。" in out.text
    assert "工单编号：00001042" in out.text and "严重级别：3（高）" in out.text
    assert "首次响应截止时间：2026年11月21日 14:00 (UTC)" in out.text
    assert "业务影响: Nobody can log in" in out.text
    assert "如需补充信息，请直接回复此邮件。" in out.text and "抄送（Cc）" in out.text
    assert "2026年11月21日 14:00 (UTC)" in out.html and "<p>Alice，您好！</p>" in out.html
    for secret in ("团队：", "负责人：", "Tier 2"):
        assert secret not in out.text  # routing stays internal


def test_nameless_recipient_is_greeted_politely(strict: Composer) -> None:
    ctx = full_context(LANG, CONTACT)
    ctx["recipient"]["name"] = ""
    assert strict.render("closed", LANG, ctx).text.startswith("您好！\n\n工单 00001042 已关闭。")


@pytest.mark.parametrize(
    ("event", "phrase"),
    [
        ("status_changed", "状态已从“新建”更改为“等待客户回复”"),
        ("escalated", "工单 00001042 已升级至我们的技术支持管理层（第 2 级）"),
        ("waiting_reminder", "如果在 2026年11月29日 10:00 (UTC) 前仍未收到您的回复，工单将自动关闭。"),
        ("auto_closed", "由于自 2026年11月22日 10:00 (UTC) 起一直未收到您的回复，工单 00001042 已自动关闭。"),
        ("closed", "请在 2026年12月5日 10:00 (UTC) 前回复此邮件，工单将重新打开"),
        ("escalate_too_early", "自 2026年11月21日 12:00 (UTC) 起可以升级"),
        ("comment_added", "Bob（协作人）在工单 00001042 中添加了评论"),
    ],
)
def test_contact_key_phrases(strict: Composer, event: str, phrase: str) -> None:
    out = strict.render(event, LANG, full_context(LANG, CONTACT))
    assert phrase in out.text
    assert out.subject.startswith(TAG)


@pytest.mark.parametrize(
    ("event", "phrase"),
    [
        ("deadline_warning", "的下次响应截止时间为 2026年11月21日 12:00 (UTC)。"),
        ("deadline_warning", "内部备注（#note、maild case note）不算作响应。"),
        ("note_added", "【内部备注】不会发送给客户。"),
        ("assigned", "工单 00001042 现已分配给 Dave <dave@vendor.example>。"),
        ("moved", "已由 erin@vendor.example 从团队“Tier 1”转至团队“Tier 2”。"),
        ("commands_applied", "✗ #team nowhere — 不存在名为“nowhere”的团队。现有团队：Tier 1、Tier 2。"),
        ("held", "maild inbound release 7 --as 您的工程师邮箱地址"),
        ("escalated", "原因：客户要求升级处理。"),
        ("auto_closed", "状态：新建 → 等待客户回复"),
    ],
)
def test_staff_key_phrases(strict: Composer, event: str, phrase: str) -> None:
    out = strict.render(event, LANG, full_context(LANG, STAFF))
    assert phrase in out.text
    if event in ("deadline_warning", "note_added", "assigned", "moved", "held", "commands_applied"):
        assert "您好" not in out.text  # colleagues get the facts, without the customer's greeting


def test_staff_footer_tells_how_to_keep_a_reply_internal(strict: Composer) -> None:
    out = strict.render("note_added", LANG, full_context(LANG, "owner"))
    assert out.text.startswith("【内部备注】")
    assert "回复此邮件即可向工单添加评论，客户也会收到。" in out.text
    assert "请在回复开头写上 #note。" in out.text and "<code>#note</code>" in out.html


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
    mail = parse_message(build(rendered, to_name="张伟"))
    assert not mail.defects
    assert mail.subject == rendered.subject
    assert mail.text == rendered.text
    assert mail.html == rendered.html
    assert any("\u4e00" <= ch <= "\u9fff" for ch in mail.text)


def test_round_trip_keeps_a_chinese_subject_and_body(strict: Composer) -> None:
    ctx = full_context(LANG, CONTACT, due_at=OPENED + timedelta(hours=2))
    ctx["case"]["subject"] = "登录页面返回 500 错误，所有用户都无法登录"
    ctx["comment"]["body"] = "问题依旧。\n请查看附件中的日志。"
    rendered = strict.render("comment_added", LANG, ctx)
    mail = parse_message(build(rendered))
    assert mail.subject == f"{TAG} 登录页面返回 500 错误，所有用户都无法登录"
    assert "问题依旧。\n请查看附件中的日志。" in mail.text and mail.text == rendered.text
