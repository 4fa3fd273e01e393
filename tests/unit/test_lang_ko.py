"""Korean (ko) notifications: every event reads as Korean, formally, and survives the mail round trip.

Support writes to customers in the formal 합니다체, never the casual 해요체.
The checks are lang_checks_ko_ru.py's, shared with Russian; this file holds
the Korean words they look for and the 합니다체 check.
"""

from __future__ import annotations

from maild.outbound.compose import Rendered
from tests.unit.lang_checks_ko_ru import KoreanRussianChecks


class TestKorean(KoreanRussianChecks):
    LANG = "ko"
    LABELS = ("케이스: 00001042", "제목: Login page returns 500", "심각도: 3 (높음)", "팀: Tier 2")
    GREETING = "Alice 님, 안녕하십니까.\n"
    CONTACT_LINES = (
        ("comment_added", "Bob (공동 참여자) 님이 00001042번 케이스에 코멘트를 추가했습니다."),
        ("comment_added", "참조(Cc)"),
        ("comment_added", "log.txt (2.0 KB)"),
    )
    NOTE = ("[내부 메모] 고객에게는 전송되지 않았습니다.\n", "#note로 시작하십시오")
    OPENED_WRITTEN = "2026년 11월 21일 10:00 (UTC)"
    DATE_LINES = (("case_opened", "최초 응답 기한: 2026년 11월 21일 14:00 (UTC)"),)
    DUE_HTML = "2026년 11월 21일 14:00 (UTC)"
    WARNING = ("다음 응답 기한은 2026년 11월 21일 12:00 (UTC)까지입니다.", "응답으로 인정되지 않습니다")
    FIRST_RESPONSE = ("최초 응답 기한은", "최초 응답")
    REMINDER = "2026년 11월 29일 10:00 (UTC)까지 회신이 없으시면 케이스가 자동으로 종료됩니다."
    COMMANDS = (
        "✓ #assign me — 케이스 담당자가 지정되었습니다: dave@vendor.example.",
        '✗ #team nowhere — 이름이 "nowhere"인 팀이 없습니다. 팀 목록: Tier 1, Tier 2.',
        "✗ 표시된 명령은 적용되지 않았으며",
    )
    ROUND_TRIP_NAME = "김민준"

    def assert_register(self, out: Rendered, event: str, role: str) -> None:
        """합니다체 throughout, no 해요체."""
        assert "니다" in out.text and "니다" in out.html, (event, role)
        assert "요." not in out.text and "세요" not in out.text, (event, role)
