"""Traditional Chinese (zh-TW) notifications: every event reads as Taiwan Chinese, not English.

The checks are lang_checks_zh.py's, shared with zh-CN; this file holds the
Taiwan words they look for (案件, 郵件, 資訊, 回覆, 結案), its own list of
mainland words (simplified, or only converted to traditional) that must not
appear, and the Taiwan tables.
"""

from __future__ import annotations

from maild.outbound import i18n
from tests.unit.lang_checks_zh import ChineseChecks

LANG = "zh-TW"


class TestTraditionalChinese(ChineseChecks):
    LANG = LANG
    # Mainland words (simplified, or only converted to traditional) that a reader in Taiwan would notice.
    NOT_OURS = (
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
    GREETING = "Alice 您好："
    OPENED_TEXT = (
        "感謝您與我們聯絡。我們已為您的需求建立案件。",
        "案件編號：00001042",
        "嚴重程度：3（高）",
        "首次回應期限：2026年11月21日 14:00 (UTC)",
        "業務影響: Nobody can log in",
        "如需補充資訊，請直接回覆這封郵件。",
        "副本（Cc）",
    )
    ROUTING = ("團隊：", "負責人：")
    UNNAMED_CLOSED = "您好：\n\n案件 00001042 已結案。"
    CONTACT_PHRASES = (
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
    )
    STAFF_PHRASES = (
        ("deadline_warning", "的下次回應期限為 2026年11月21日 12:00 (UTC)。"),
        ("deadline_warning", "內部備註（#note、maild case note）不算是回應。"),
        ("note_added", "【內部備註】不會寄給客戶。"),
        ("assigned", "案件 00001042 已指派給 Dave <dave@vendor.example>。"),
        ("moved", "已由 erin@vendor.example 從「Tier 1」團隊轉給「Tier 2」團隊。"),
        ("commands_applied", "✗ #team nowhere — 沒有名為「nowhere」的團隊。現有團隊：Tier 1、Tier 2。"),
        ("held", "maild inbound release 7 --as 您的工程師電子郵件地址"),
        ("escalated", "原因：客戶要求升級處理。"),
        ("auto_closed", "狀態：新建立 → 等待客戶回覆"),
    )
    NOTE_FOOTER = (
        "【內部備註】",
        "回覆這封郵件即可在案件中新增留言，客戶也會收到。",
        "請在回覆開頭寫上 #note。",
    )
    ROUND_TRIP_NAME = "陳怡君"
    ROUND_TRIP = ("登入頁面回傳 500 錯誤，所有使用者都無法登入", "問題仍然存在。\n請參考附件中的記錄檔。")


def test_the_table_is_taiwan_chinese() -> None:
    assert i18n.severity_name(1, LANG) == "嚴重" and i18n.severity_name(3, LANG) == "高"
    assert i18n.status_name("waiting_on_customer", LANG) == "等待客戶回覆"
    assert i18n.status_name("closed", LANG) == "已結案"
    assert i18n.field_label("users_affected", LANG) == "受影響的使用者人數"
    assert i18n.format_filesize(1, LANG) == "1 位元組" and i18n.format_filesize(7, LANG) == "7 位元組"
    assert i18n.format_datetime("2026-11-21T12:05:00Z", LANG) == "2026年11月21日 12:05 (UTC)"
    assert "資訊服務台" in i18n.helpdesk_message(None, LANG)
