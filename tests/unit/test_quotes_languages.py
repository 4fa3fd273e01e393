"""extract_reply in the twelve languages of SPEC §12: every corpus reply gives its expected text.

The corpus (tests/fixtures/replies/<code>/) holds the reply headers, header
blocks, forward markers, signatures and footers that Gmail, Outlook (desktop
and web), Apple Mail and Thunderbird write in each language; the hostile
inputs below are built from the same phrases, so that every pattern added
for a language is shown to stay linear on a megabyte of mail.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maild.inbound.parse import parse_message
from maild.inbound.quote_words import FORWARD_OPENERS, FROM_KEYS, OTHER_KEYS, SEPARATOR_WORDS, WROTE_VERBS
from maild.inbound.quotes import extract_reply

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "replies"
LANGUAGES = ("en", "ja", "zh-CN", "zh-TW", "ko", "fr", "de", "es", "it", "pt-BR", "nl", "ru")
CASES = sorted(
    path
    for path in CORPUS.glob("*/*")
    if path.suffix in (".txt", ".eml") and not path.name.endswith(".expected.txt")
)


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").strip().split("\n"))


def _body(path: Path) -> str:
    raw = path.read_bytes()
    return parse_message(raw).text if path.suffix == ".eml" else raw.decode("utf-8")


def test_every_language_has_ten_replies_from_several_clients() -> None:
    for code in LANGUAGES:
        replies = [path for path in CASES if path.parent.name == code]
        clients = {path.stem.split("-", 2)[1] for path in replies}
        assert len(replies) >= 10, code
        assert {"gmail", "outlook", "apple", "thunderbird"} <= clients, code


@pytest.mark.parametrize("path", CASES, ids=[f"{path.parent.name}/{path.stem}" for path in CASES])
def test_corpus_reply_gives_its_expected_text(path: Path) -> None:
    expected = path.with_name(path.stem + ".expected.txt").read_text(encoding="utf-8")
    assert _normalise(extract_reply(_body(path))) == _normalise(expected)


def test_the_quote_is_cut_from_a_parsed_message_in_a_legacy_charset() -> None:
    message = EmailMessage()
    message["From"] = "王伟 <wang@customer.example>"
    message["Subject"] = "Re: 代理停止运行"
    message.set_content(
        "已经恢复了。\n\nSupport <support@example.com> 于2026年11月21日周六 10:00写道：\n\n> 请重启代理。\n",
        charset="gb18030",
    )
    assert extract_reply(parse_message(message.as_bytes()).text) == "已经恢复了。"


def test_a_reply_without_a_quote_is_kept_whole() -> None:
    text = "De : notre côté, tout va bien.\nObjet : la mise à jour de lundi.\nMerci !"
    assert extract_reply(text) == text


_PHRASES = st.sampled_from(WROTE_VERBS + SEPARATOR_WORDS + FORWARD_OPENERS + FROM_KEYS + OTHER_KEYS)
_LINE = st.lists(
    st.one_of(_PHRASES, st.sampled_from([" ", ":", "：", "-----", "> ", "<a@x>", "2026年", "10:00", "\n"])),
    max_size=40,
).map("".join)


@given(st.lists(_LINE, max_size=30).map("\n".join))
@settings(max_examples=300, deadline=None)
def test_any_mix_of_the_phrases_gives_a_reply_and_never_raises(text: str) -> None:
    result = extract_reply(text)
    assert bool(result.strip()) == bool(text.strip())
    source_lines = {line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")}
    assert all(line.strip() in source_lines for line in result.split("\n")), "text was invented"


def _repeat(line: str, size: int = 1_000_000) -> str:
    return (line + "\n") * (size // (len(line) + 1))


@pytest.mark.parametrize(
    "text",
    [
        _repeat("2026. 11. 21. 오전 10:00, " + "가" * 300 + " 작성:"),
        _repeat("сб, 21 нояб. 2026 г. в 10:00, " + "<" * 200 + "a@x" + ">" * 150 + ":"),
        _repeat("Le 21 nov. 2026 à 10:00, " + "a " * 180 + "a écrit :"),
        _repeat("-" * 990),
        _repeat("-------- " + "Message original " * 50 + "--------"),
        _repeat("보낸 사람: " + " " * 900 + "x"),
        _repeat("보낸" + " " * 990 + "사람:"),
        _repeat("Début du message réexpédié" + " " * 900 + "x"),
        "<" * 1_000_000 + ">:",
        ("написал(а)" * 100 + "\n") * 1000,
        _repeat("寄件者: a") + _repeat("主旨: b"),
    ],
    ids=[
        "ko-apple",
        "ru-gmail",
        "fr-wrote",
        "dashes",
        "separator-words",
        "ko-key-spaces",
        "ko-key-split",
        "fr-forward",
        "angle-brackets",
        "ru-verbs",
        "zh-tw-keys",
    ],
)
@pytest.mark.timeout(60)
def test_megabyte_inputs_in_every_language_do_not_hang(text: str) -> None:
    result = extract_reply(text)
    assert result == result.strip("\n")
    assert bool(result.strip()) == bool(text.strip())
