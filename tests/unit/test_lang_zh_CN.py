"""Simplified Chinese (zh-CN) notifications: every event reads as mainland Chinese, not English.

The checks are lang_checks_zh.py's, shared with zh-TW; this file holds the
mainland words they look for (工单, 邮件, 信息), the traditional or Taiwan
words a mainland reader would notice, and the mainland tables.
"""

from __future__ import annotations

from maild.outbound import i18n
from tests.unit.lang_checks_zh import ChineseChecks

LANG = "zh-CN"


class TestSimplifiedChinese(ChineseChecks):
    LANG = LANG
    # Words of traditional Chinese or Taiwan usage that a mainland reader would notice.
    NOT_OURS = ("郵件", "資訊", "回覆", "案件", "電子", "客戶", "團隊", "您好，")
    GREETING = "Alice，您好！"
    OPENED_TEXT = (
        "感谢您联系我们。我们已为您的请求创建了工单。",
        "工单编号：00001042",
        "严重级别：3（高）",
        "首次响应截止时间：2026年11月21日 14:00 (UTC)",
        "业务影响: Nobody can log in",
        "如需补充信息，请直接回复此邮件。",
        "抄送（Cc）",
    )
    ROUTING = ("团队：", "负责人：")
    UNNAMED_CLOSED = "您好！\n\n工单 00001042 已关闭。"
    CONTACT_PHRASES = (
        ("status_changed", "状态已从“新建”更改为“等待客户回复”"),
        ("escalated", "工单 00001042 已升级至我们的技术支持管理层（第 2 级）"),
        ("waiting_reminder", "如果在 2026年11月29日 10:00 (UTC) 前仍未收到您的回复，工单将自动关闭。"),
        ("auto_closed", "由于自 2026年11月22日 10:00 (UTC) 起一直未收到您的回复，工单 00001042 已自动关闭。"),
        ("closed", "请在 2026年12月5日 10:00 (UTC) 前回复此邮件，工单将重新打开"),
        ("escalate_too_early", "自 2026年11月21日 12:00 (UTC) 起可以升级"),
        ("comment_added", "Bob（协作人）在工单 00001042 中添加了评论"),
    )
    STAFF_PHRASES = (
        ("deadline_warning", "的下次响应截止时间为 2026年11月21日 12:00 (UTC)。"),
        ("deadline_warning", "内部备注（#note、maild case note）不算作响应。"),
        ("note_added", "【内部备注】不会发送给客户。"),
        ("assigned", "工单 00001042 现已分配给 Dave <dave@vendor.example>。"),
        ("moved", "已由 erin@vendor.example 从团队“Tier 1”转至团队“Tier 2”。"),
        ("commands_applied", "✗ #team nowhere — 不存在名为“nowhere”的团队。现有团队：Tier 1、Tier 2。"),
        ("held", "maild inbound release 7 --as 您的工程师邮箱地址"),
        ("escalated", "原因：客户要求升级处理。"),
        ("auto_closed", "状态：新建 → 等待客户回复"),
    )
    NOTE_FOOTER = ("【内部备注】", "回复此邮件即可向工单添加评论，客户也会收到。", "请在回复开头写上 #note。")
    ROUND_TRIP_NAME = "张伟"
    ROUND_TRIP = ("登录页面返回 500 错误，所有用户都无法登录", "问题依旧。\n请查看附件中的日志。")


def test_the_table_is_mainland_chinese() -> None:
    assert i18n.severity_name(1, LANG) == "严重" and i18n.severity_name(3, LANG) == "高"
    assert i18n.status_name("waiting_on_customer", LANG) == "等待客户回复"
    assert i18n.field_label("users_affected", LANG) == "受影响用户数"
    assert i18n.format_filesize(1, LANG) == "1 字节" and i18n.format_filesize(7, LANG) == "7 字节"
    assert i18n.format_datetime("2026-11-21T12:05:00Z", LANG) == "2026年11月21日 12:05 (UTC)"
    assert "IT 服务台" in i18n.helpdesk_message(None, LANG)
