"""A new case's topic as its contact wrote it (SPEC §10): subject tags and body lines."""

from __future__ import annotations

import pytest

from maild.inbound.topics import TOPIC_MAX, read_topic, strip_topic_tag

# ------------------------------------------------------------------ subject tags


@pytest.mark.parametrize(
    ("subject", "topic"),
    [
        ("[Topic: Apex] Trigger fails", "Apex"),
        ("Trigger fails [Topic: Apex]", "Apex"),
        ("Re: [Topic:Apex] x", "Apex"),
        ("[ Topic : Sales Cloud ] x", "Sales Cloud"),
        ("[topic: apex] x", "apex"),
        ("[TOPIC: APEX] x", "APEX"),
        ("[Category: Billing] x", "Billing"),
        ("［Topic：Apex］ x", "Apex"),  # full-width brackets and colon
        ("【Topic: Apex】 x", "Apex"),
        ("[トピック: Apex] x", "Apex"),
        ("【トピック：請求】 請求書について", "請求"),
        ("[カテゴリ: Apex] x", "Apex"),
        ("[カテゴリー: Apex] x", "Apex"),
        ("[Topic: Apex\tTriggers ] x", "Apex Triggers"),  # whitespace is folded
        ("[Topic: Apex] [Topic: Flow]", "Apex"),  # the first tag
    ],
)
def test_subject_tag(subject: str, topic: str) -> None:
    assert read_topic(subject, "") == topic


@pytest.mark.parametrize(
    "subject",
    [
        "",
        "Apex fails",
        "[Topic: ] x",
        "[Topic:] x",
        "[Topic Apex] x",  # no colon
        "[Subject: Apex] x",
        "[Topic: Apex",  # never closed
        "Topic: Apex",  # a subject needs the brackets
        "[Case #00000001] [Sev 2] x",
    ],
)
def test_no_subject_tag(subject: str) -> None:
    assert read_topic(subject, "") is None


def test_the_subject_tag_wins_over_the_body() -> None:
    assert read_topic("[Topic: Apex] x", "Topic: Flow\n") == "Apex"


def test_a_long_topic_is_not_a_tag_but_the_body_still_counts() -> None:
    assert read_topic("[Topic: " + "a" * (TOPIC_MAX + 1) + "] x", "Topic: Flow") == "Flow"
    assert read_topic("[Topic: " + "a" * TOPIC_MAX + "] x", "") == "a" * TOPIC_MAX


def test_only_the_start_of_a_long_subject_is_searched() -> None:
    assert read_topic("x" * 5000 + " [Topic: Apex]", "") is None


# ------------------------------------------------------------------ body lines


@pytest.mark.parametrize(
    ("body", "topic"),
    [
        ("Topic: Apex\n\nHello", "Apex"),
        ("topic: apex", "apex"),
        ("TOPIC :  Sales   Cloud  ", "Sales Cloud"),
        ("Category: Billing", "Billing"),
        ("トピック: Apex", "Apex"),
        ("トピック：請求", "請求"),
        ("カテゴリ：請求", "請求"),
        ("カテゴリー: Apex", "Apex"),
        ("Topic：Apex", "Apex"),
        ("- Topic: Apex", "Apex"),
        ("* Topic: Apex", "Apex"),
        ("• Topic: Apex", "Apex"),
        ("・トピック：Apex", "Apex"),
        ("■ カテゴリ: Apex", "Apex"),
        ("   \tTopic: Apex", "Apex"),
        ("Hello,\n\nTopic: Apex\nThe trigger fails.", "Apex"),
        ("Topic: Salesforce: Apex", "Salesforce: Apex"),  # the first colon ends the label
        ("トピック：Salesforce: Apex", "Salesforce: Apex"),  # of either width
        ("Topic: Apex\r\nmore", "Apex"),
    ],
)
def test_body_line(body: str, topic: str) -> None:
    assert read_topic("Help", body) == topic


@pytest.mark.parametrize(
    "body",
    [
        "",
        "Hello",
        "> Topic: Apex",  # quoted: someone else's message
        ">Topic: Apex",
        "| Topic: Apex",
        "- > Topic: Apex",
        "Our topic: Apex",
        "The topic is Apex",
        "Topics: Apex",
        "Subject: Apex",
        "Topic Apex",
    ],
)
def test_no_body_line(body: str) -> None:
    assert read_topic("Help", body) is None


def test_the_first_topic_line_of_the_body() -> None:
    assert read_topic("Help", "Topic: Apex\nCategory: Flow\n") == "Apex"


def test_a_topic_line_far_below_the_top_is_ignored() -> None:
    assert read_topic("Help", "line\n" * 100 + "Topic: Apex\n") is None
    assert read_topic("Help", "line\n" * 10 + "Topic: Apex\n") == "Apex"


def test_a_long_body_topic_is_cut() -> None:
    topic = read_topic("Help", "Topic: " + "a" * 1000)
    assert topic == "a" * TOPIC_MAX


# ------------------------------------------------------------------ strip_topic_tag


@pytest.mark.parametrize(
    ("subject", "stripped"),
    [
        ("[Topic: Apex] Trigger fails", "Trigger fails"),
        ("Trigger [Topic: Apex] fails", "Trigger fails"),
        ("Re: 【トピック：請求】 請求書", "Re: 請求書"),
        ("［Category: Apex］Login", "Login"),
        ("[Topic: Apex][Topic: Flow] x", "x"),
        ("No tag  here", "No tag  here"),  # unchanged, spaces and all
        ("[Topic: ] x", "[Topic: ] x"),
        ("", ""),
    ],
)
def test_strip_topic_tag(subject: str, stripped: str) -> None:
    assert strip_topic_tag(subject) == stripped


# ------------------------------------------------------------------ hostile input


HOSTILE = [
    "[Topic:" * 150_000,
    "[Topic: " + "a" * 1_000_000,
    "[" * 1_000_000,
    "【トピック：" * 150_000,
    "[Topic: " + "a" * (TOPIC_MAX - 1) + "[Topic: " * 120_000,
    "[ " + " " * 1_000_000 + "Topic",
    "[Topic:" + " " * 1_000_000 + "x",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_subjects_and_bodies_finish(text: str) -> None:
    """Each runs over about 1 MB: a backtracking pattern would hang here, not merely slow down."""
    read_topic(text, text)
    read_topic("", text.replace("[", "\n"))
    assert strip_topic_tag(text) == text or len(strip_topic_tag(text)) <= len(text)


def test_a_megabyte_of_topic_lines_takes_the_first() -> None:
    assert read_topic("", "Topic: Apex\n" * 90_000) == "Apex"
    assert read_topic("", "> Topic: Apex\n" * 80_000) is None
