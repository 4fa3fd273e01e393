"""Subjects, case tags, severity, intake fields and reply commands, text in and value out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maild.inbound.intake import (
    FIELD_VALUE_LIMIT,
    NO_SUBJECT,
    SeverityChoice,
    clean_subject,
    read_command,
    read_fields,
    read_severity,
    strip_command,
    strip_severity_tag,
)
from maild.mailids import find_case_tag

# ------------------------------------------------------------------ clean_subject


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: Login fails", "Login fails"),
        ("RE: Login fails", "Login fails"),
        ("re:Login fails", "Login fails"),
        ("Fwd: Login fails", "Login fails"),
        ("FW: Login fails", "Login fails"),
        ("Fw: Login fails", "Login fails"),
        ("AW: Login fails", "Login fails"),
        ("WG: Login fails", "Login fails"),
        ("SV: Login fails", "Login fails"),
        ("VS: Login fails", "Login fails"),
        ("TR: Login fails", "Login fails"),
        ("R: Login fails", "Login fails"),
        ("RIF: Login fails", "Login fails"),
        ("Réf: Login fails", "Login fails"),
        ("RÉF : Login fails", "Login fails"),
        ("Re : Login fails", "Login fails"),
        ("回复: 登录失败", "登录失败"),
        ("答复：登录失败", "登录失败"),
        ("转发: 登录失败", "登录失败"),
        ("返信: ログインできない", "ログインできない"),
        ("転送：ログインできない", "ログインできない"),
        ("Re[2]: Login fails", "Login fails"),
        ("RE [3] : Login fails", "Login fails"),
        ("Re(4): Login fails", "Login fails"),
        ("Re^2: Login fails", "Login fails"),
        ("Re: Re: Fwd: Login fails", "Login fails"),
        ("Re：Re：Login fails", "Login fails"),
        ("R: R: R: I: FR-selca LA selcaE", "FR-selca LA selcaE"),
        ("Re: [Case #00001042] Login fails", "Login fails"),
        ("[Case #00001042] Re: Login fails", "Login fails"),
        ("Re: [Case #00001042] RE: AW: Login fails", "Login fails"),
        ("Login fails [case #00001042]", "Login fails"),
        ("[Fwd: Login fails]", "Login fails"),
        ("  Login \t  fails  \n", "Login fails"),
        ("Login\u3000fails", "Login fails"),
    ],
)
def test_clean_subject_strips_prefixes_and_tags(subject: str, expected: str) -> None:
    assert clean_subject(subject) == expected


@pytest.mark.parametrize(
    "subject",
    [
        "Fix the Re: handling",  # a prefix word inside the subject is text
        "Regression: login fails",  # "Re" must be a whole prefix, not the start of a word
        "Return values wrong",
        "Forward button missing",
        "FWIW: the export is slow",
        "Ref: invoice 42",  # plain "Ref" is too common an English word
        "Iteration: slow",
        "Resolve: nothing",
        "Case #00001042 is still open",  # not a tag: no brackets
        "[Case #0001042] short number stays",
        "RSVP: meeting",
    ],
)
def test_clean_subject_keeps_ordinary_words(subject: str) -> None:
    assert clean_subject(subject) == subject


@pytest.mark.parametrize(
    "subject", ["", "   ", "Re:", "Re: Fwd: ", "[Case #00001042]", "RE: [Case #00001042] RE:"]
)
def test_clean_subject_is_never_empty(subject: str) -> None:
    assert clean_subject(subject) == NO_SUBJECT


@pytest.mark.timeout(60)
def test_clean_subject_handles_thousands_of_prefixes_without_hanging() -> None:
    hostile = "Re: " * 20_000 + "Login fails"
    assert clean_subject(hostile) == "Login fails"


@given(st.text(max_size=200))
def test_clean_subject_is_idempotent_and_single_line(subject: str) -> None:
    once = clean_subject(subject)
    assert once
    assert clean_subject(once) == once or once == NO_SUBJECT
    assert "\n" not in once
    assert once == once.strip()


# ------------------------------------------------------------------ case tag


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: [Case #00001042] Login fails", "00001042"),
        ("[case #00001042]", "00001042"),
        ("[CASE #12345678] x", "12345678"),
        ("[Case#00001042] x", "00001042"),
        ("[ Case #00001042 ] x", "00001042"),
        ("Re: [Case #00000001] Fwd: [Case #00000002]", "00000001"),
        ("[Case #1042]", None),
        ("[Case #000010420]", None),
        ("[Case #0000104]", None),
        ("[Case #0000104a]", None),
        ("[Case #００００１０４２]", None),  # full-width digits are not a case number
        ("Case #00001042", None),
        ("[Case 00001042]", None),
        ("[Ticket #00001042]", None),
        ("", None),
    ],
)
def test_find_case_tag(subject: str, expected: str | None) -> None:
    assert find_case_tag(subject) == expected


# ------------------------------------------------------------------ severity


@pytest.mark.parametrize(
    ("subject", "value"),
    [
        ("[Sev 1] Production down", 1),
        ("[Sev1] Production down", 1),
        ("[sev 2] x", 2),
        ("[S1] Production down", 1),
        ("[s4] x", 4),
        ("[SEV-2] x", 2),
        ("[Severity 3] x", 3),
        ("[Severity: 4] x", 4),
        ("[重要度1] 本番停止", 1),
        ("[重要度：2] 本番停止", 2),
        ("[重要度: 3] x", 3),
        ("[重要度１] x", 1),
        ("[重要度：４] x", 4),
        ("【重要度２】 x", 2),
        ("［Sev ３］ x", 3),
        ("Re: Login fails [Sev 2]", 2),
    ],
)
def test_severity_from_subject(subject: str, value: int) -> None:
    assert read_severity(subject, "Severity: 4", 3) == SeverityChoice(value, "subject", None)


@pytest.mark.parametrize(
    ("subject", "invalid"),
    [
        ("[Sev 7] x", "7"),
        ("[Sev 0] x", "0"),
        ("[Sev high] x", "high"),
        ("[SEV-10] x", "10"),
        ("[S5] x", "5"),
        ("[重要度高] x", "高"),
        ("[重要度：５] x", "５"),
    ],
)
def test_invalid_subject_severity_falls_back_and_says_so(subject: str, invalid: str) -> None:
    # the subject is where the customer stated it, so a valid body line does not override the mistake
    assert read_severity(subject, "Severity: 1", 3) == SeverityChoice(3, "default", invalid)


@pytest.mark.parametrize(
    "subject",
    [
        "[Slack] notifications",
        "[Severe] outage",
        "[Service] down",
        "[S] x",
        "Sev 1 without brackets",
        "[Several] x",
    ],
)
def test_words_that_only_look_like_severity_tags_are_ignored(subject: str) -> None:
    assert read_severity(subject, "", 4) == SeverityChoice(4, "default", None)
    assert strip_severity_tag(subject) == subject


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Hello\nSeverity: 2\nthanks", SeverityChoice(2, "body", None)),
        ("severity:1", SeverityChoice(1, "body", None)),
        ("  - Severity: 2 (Urgent)", SeverityChoice(2, "body", None)),
        ("重要度: 2", SeverityChoice(2, "body", None)),
        ("重要度：２", SeverityChoice(2, "body", None)),
        ("重要度：２ 緊急", SeverityChoice(2, "body", None)),
        ("Severity: 2\nSeverity: 1", SeverityChoice(2, "body", None)),  # the first line wins
        ("Severity: high", SeverityChoice(3, "default", "high")),
        ("Severity: 10", SeverityChoice(3, "default", "10")),
        ("Severity: -1", SeverityChoice(3, "default", "-1")),
        ("Severity:\nSeverity: 1", SeverityChoice(1, "body", None)),  # an unfilled template line is skipped
        ("> Severity: 1\nnothing else", SeverityChoice(3, "default", None)),  # quoted text is not a statement
        ("The severity: it is bad", SeverityChoice(3, "default", None)),  # not at the start of the line
        ("", SeverityChoice(3, "default", None)),
    ],
)
def test_severity_from_body(body: str, expected: SeverityChoice) -> None:
    assert read_severity("Login fails", body, 3) == expected


def test_invalid_body_value_is_bounded() -> None:
    choice = read_severity("x", "Severity: " + "z" * 500, 2)
    assert choice.value == 2
    assert choice.invalid is not None and len(choice.invalid) <= 40


def test_default_severity_must_itself_be_valid() -> None:
    with pytest.raises(ValueError, match="default severity 5"):
        read_severity("x", "", 5)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("[Sev 1] Production down", "Production down"),
        ("Production [S2] down", "Production down"),
        ("[重要度：２] 本番停止", "本番停止"),
        ("[Sev high] x", "x"),
        ("Re: [Case #00001042] [Sev 1] x", "Re: [Case #00001042] x"),
    ],
)
def test_strip_severity_tag(subject: str, expected: str) -> None:
    assert strip_severity_tag(subject) == expected


def test_severity_tag_and_prefixes_together_give_the_case_subject() -> None:
    assert clean_subject(strip_severity_tag("Fwd: [Sev 1] [Case #00001042] Re: Login")) == "Login"


# ------------------------------------------------------------------ intake fields

ENGLISH_BODY = """\
Hello support,

Our users cannot log in since this morning.

Occurred at: 2026-11-21 09:40 JST
Steps to reproduce:
1. Open the login page
2. Enter valid credentials
3. Observe the 500 error

Business impact: Sales team cannot work
Users affected: 40
Workaround: none
Desired resolution date: 2026-11-22
Reason for that date: quarter-end closing
Impact if missed: revenue cannot be booked
Login access granted: yes
Org ID: 00D5g000001AbCd
Username: alice@acme.example

Thanks, Alice
"""

JAPANESE_BODY = """\
お世話になっております。

【発生日時】2026/11/21 9:40
【再現手順】
１．ログイン画面を開く
２．ログインする
業務影響：営業部門が業務を行えない
影響ユーザ数：40
回避策: なし
回答希望日：2026/11/22
理由：月末締め
期限を超えた場合の影響：売上計上ができない
ログインアクセス許可：はい
組織ID：00D5g000001AbCd
ユーザ名：yamada@acme.example
"""


def test_read_fields_english() -> None:
    assert read_fields(ENGLISH_BODY) == {
        "occurred_at": "2026-11-21 09:40 JST",
        "steps_to_reproduce": "1. Open the login page\n2. Enter valid credentials\n3. Observe the 500 error",
        "business_impact": "Sales team cannot work",
        "users_affected": "40",
        "workaround": "none",
        "desired_resolution_date": "2026-11-22",
        "desired_resolution_reason": "quarter-end closing",
        "impact_if_missed": "revenue cannot be booked",
        "login_access_granted": "yes",
        "org_id": "00D5g000001AbCd",
        "username": "alice@acme.example",
    }


def test_read_fields_japanese() -> None:
    assert read_fields(JAPANESE_BODY) == {
        "occurred_at": "2026/11/21 9:40",
        "steps_to_reproduce": "１．ログイン画面を開く\n２．ログインする",
        "business_impact": "営業部門が業務を行えない",
        "users_affected": "40",
        "workaround": "なし",
        "desired_resolution_date": "2026/11/22",
        "desired_resolution_reason": "月末締め",
        "impact_if_missed": "売上計上ができない",
        "login_access_granted": "はい",
        "org_id": "00D5g000001AbCd",
        "username": "yamada@acme.example",
    }


@pytest.mark.parametrize(
    ("line", "key", "value"),
    [
        ("When did it occur: yesterday", "occurred_at", "yesterday"),
        ("When did it occur?: yesterday", "occurred_at", "yesterday"),
        ("OCCURRED AT: now", "occurred_at", "now"),
        ("Number of users affected: 12", "users_affected", "12"),
        ("ユーザ数：12", "users_affected", "12"),
        ("Organization ID: 00D1", "org_id", "00D1"),
        ("Reason: audit", "desired_resolution_reason", "audit"),
        ("- Workaround: restart", "workaround", "restart"),
        ("* Workaround: restart", "workaround", "restart"),
        ("  * Business impact:   high  ", "business_impact", "high"),
        ("**Business impact:** high", "business_impact", "high"),
        ("Ｏｒｇ ＩＤ：00D1", "org_id", "00D1"),
        ("【業務影響】：大", "business_impact", "大"),
        ("・回避策：再起動", "workaround", "再起動"),
        ("User name: bob", "username", "bob"),
    ],
)
def test_read_fields_label_variants(line: str, key: str, value: str) -> None:
    assert read_fields(line) == {key: value}


def test_value_continues_on_indented_lines() -> None:
    body = "Business impact: the whole\n  sales team\n\tis blocked\nnext paragraph\n"
    assert read_fields(body) == {"business_impact": "the whole\nsales team\nis blocked"}


def test_empty_label_takes_lines_until_blank_or_next_label() -> None:
    body = "Steps to reproduce:\nopen\nclick\nWorkaround: none\n\nSteps to reproduce: later copy\n"
    assert read_fields(body) == {"steps_to_reproduce": "open\nclick", "workaround": "none"}


def test_first_occurrence_wins() -> None:
    assert read_fields("Username: first\nUsername: second") == {"username": "first"}


def test_empty_values_are_not_stored() -> None:
    assert read_fields("Workaround:\n\nBusiness impact:   \n") == {}


def test_values_are_capped() -> None:
    fields = read_fields("Business impact: " + "x" * 10_000)
    assert len(fields["business_impact"]) == FIELD_VALUE_LIMIT


@pytest.mark.parametrize(
    "body",
    [
        "We met at 10:00 and it broke.",
        "See https://status.example.com/incidents",
        "Note: unrelated label",
        "> Business impact: quoted from an earlier mail",
        "The business impact: is large",  # a sentence, not a label
        "Business impact - large",
    ],
)
def test_prose_is_not_a_field(body: str) -> None:
    assert read_fields(body) == {}


def test_quoted_lines_end_a_multiline_value() -> None:
    body = "Steps to reproduce:\nopen\n> On Monday Bob wrote:\n> Org ID: 00D\n"
    assert read_fields(body) == {"steps_to_reproduce": "open"}


@pytest.mark.timeout(60)
def test_crlf_and_huge_bodies() -> None:
    body = "Org ID: 00D1\r\nUsername: bob\r\n" + "filler line\r\n" * 50_000
    assert read_fields(body) == {"org_id": "00D1", "username": "bob"}


@given(st.text(max_size=500))
def test_read_fields_never_fails_and_keys_are_known(body: str) -> None:
    fields = read_fields(body)
    assert set(fields) <= {
        "occurred_at",
        "steps_to_reproduce",
        "business_impact",
        "users_affected",
        "workaround",
        "desired_resolution_date",
        "desired_resolution_reason",
        "impact_if_missed",
        "login_access_granted",
        "org_id",
        "username",
    }
    assert all(v and len(v) <= FIELD_VALUE_LIMIT for v in fields.values())


# ------------------------------------------------------------------ reply commands


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#escalate\nWe are still down.", "escalate"),
        ("#close\nThanks!", "close"),
        ("#ESCALATE", "escalate"),
        ("#Close", "close"),
        ("\n\n   #close   \nthanks", "close"),
        ("＃escalate\n至急お願いします", "escalate"),
        ("# close", "close"),
        ("\ufeff#close", "close"),
        ("\r\n#close\r\nthanks", "close"),
        ("Please #close this", None),
        ("Thanks\n#close", None),  # not at the top
        ("> #close", None),  # quoted
        ("#closed", None),
        ("#close please", None),
        ("#escalation", None),
        ("#", None),
        ("close", None),
        ("", None),
        ("   \n  ", None),
    ],
)
def test_read_command(text: str, expected: str | None) -> None:
    assert read_command(text) == expected


def test_strip_command_removes_only_the_command_line() -> None:
    reply = "#escalate\n\nWe are still down.\n\n> quoted\n"
    assert strip_command(reply) == "We are still down.\n\n> quoted\n"
    assert strip_command("\n  ＃CLOSE\r\nThanks!\r\n") == "Thanks!\r\n"
    assert strip_command("#close") == ""


def test_strip_command_leaves_other_text_unchanged() -> None:
    for text in ("Thanks\n#close\n", "  hello\n\n", "", "#closed\nx"):
        assert strip_command(text) == text
