"""Reply commands (SPEC §3, §10): the run of `#…` lines at the top of a reply, and nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maild.inbound.commands import MAX_COMMANDS, MAX_LINE, ReplyCommand, ReplyCommands, read_commands


def pairs(text: str) -> list[tuple[str, str]]:
    return [(c.name, c.argument) for c in read_commands(text).commands]


# ------------------------------------------------------------------ the grammar


@pytest.mark.parametrize("name", ["close", "escalate", "note", "waiting"])
def test_commands_without_an_argument(name: str) -> None:
    got = read_commands(f"#{name}\nThe rest.")
    assert got.commands == (ReplyCommand(name, "", f"#{name}"),)  # type: ignore[arg-type]
    assert got.body == "The rest."


@pytest.mark.parametrize(
    ("line", "name", "argument"),
    [
        ("#assign me", "assign", "me"),
        ("#assign bob@example.com", "assign", "bob@example.com"),
        ("#team apex", "team", "apex"),
        ("#team Tier-2", "team", "Tier-2"),  # the argument keeps its case
        ("#severity 1", "severity", "1"),
        ("#severity   2", "severity", "2"),
    ],
)
def test_commands_with_one_argument(line: str, name: str, argument: str) -> None:
    assert pairs(f"{line}\nbody") == [(name, argument)]


def test_a_known_name_with_a_wrong_or_missing_word_is_still_a_command() -> None:
    """Its author is told why it did nothing, instead of seeing it posted."""
    assert pairs("#severity high\nx") == [("severity", "high")]
    assert pairs("#assign\nx") == [("assign", "")]
    assert pairs("#team\nx") == [("team", "")]
    assert pairs("#severity\nx") == [("severity", "")]


@pytest.mark.parametrize(
    "text",
    [
        "#close now",  # a command without an argument takes none
        "#close please, thanks",
        "#note this is internal",
        "#severity 1 2",  # one word only
        "#assign me and bob",
        "#unknown",
        "#closed",
        "#",
        "##close",
        "close",
        "#!close",
        "# #close",
    ],
)
def test_not_commands(text: str) -> None:
    got = read_commands(f"{text}\nbody\n")
    assert got.commands == () and got.body == f"{text}\nbody\n"


def test_case_does_not_matter_in_the_name() -> None:
    assert pairs("#CLOSE") == [("close", "")]
    assert pairs("#Severity 1\n#Team Apex") == [("severity", "1"), ("team", "Apex")]


def test_line_keeps_what_was_written() -> None:
    got = read_commands("   #Team   Apex  \nbody")
    assert got.commands[0].line == "#Team   Apex" and got.commands[0].argument == "Apex"


def test_several_commands_in_order_and_names_and_internal() -> None:
    got = read_commands("#note\n#assign me\n#severity 2\n#waiting\nCustomer must send logs.\n")
    assert got.names == ("note", "assign", "severity", "waiting")
    assert got.internal
    assert got.body == "Customer must send logs.\n"
    assert not read_commands("#close\nthanks").internal
    assert not read_commands("no commands").internal


def test_blank_lines_between_commands_and_before_the_text() -> None:
    got = read_commands("\n\n#close\n\n   \n#escalate\n\n\nThanks.\n\nBye.\n")
    assert got.names == ("close", "escalate")
    assert got.body == "Thanks.\n\nBye.\n"


def test_commands_after_text_are_text() -> None:
    text = "Hello,\n#close\n#escalate\n"
    assert read_commands(text) == ReplyCommands((), text)


def test_the_first_text_line_ends_the_run() -> None:
    got = read_commands("#close\nThanks!\n#escalate\n")
    assert got.names == ("close",)
    assert got.body == "Thanks!\n#escalate\n"


@pytest.mark.parametrize("quoted", ["> #close", ">#close", "> > #close", "| #close"])
def test_quoted_commands_are_text(quoted: str) -> None:
    text = f"{quoted}\nsome answer\n"
    assert read_commands(text) == ReplyCommands((), text)


def test_a_command_inside_a_sentence_is_text() -> None:
    text = "Please #close this case.\n"
    assert read_commands(text).commands == ()


def test_no_text_after_the_commands() -> None:
    assert read_commands("#close") == ReplyCommands((ReplyCommand("close", "", "#close"),), "")
    assert read_commands("#close\n\n\n").body == ""


def test_empty_and_blank_input() -> None:
    assert read_commands("") == ReplyCommands((), "")
    assert read_commands("\n \n\t\n") == ReplyCommands((), "\n \n\t\n")


# ------------------------------------------------------------------ Japanese input methods


def test_full_width_hash_and_digits() -> None:
    assert pairs("＃close\n本文") == [("close", "")]
    assert pairs("＃severity １\n本文") == [("severity", "1")]
    assert pairs("#severity ２") == [("severity", "2")]
    # An ideographic space separates words too.
    assert pairs("＃severity\u3000３") == [("severity", "3")]
    assert pairs("＃assign ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ") == [("assign", "ｂｏｂ@ｅｘａｍｐｌｅ.ｃｏｍ")]


def test_full_width_line_is_kept_as_written() -> None:
    got = read_commands("＃severity　１\n本文")
    assert got.commands[0].line == "＃severity\u3000１" and got.body == "本文"


def test_full_width_letters_are_not_a_command_name() -> None:
    """Only `＃` and the digits are folded: `ｃｌｏｓｅ` is not a name maild knows."""
    assert pairs("＃ｃｌｏｓｅ") == []


# ------------------------------------------------------------------ hostile input


def test_crlf_line_endings() -> None:
    got = read_commands("#close\r\n\r\n#note\r\nhello\r\nworld\r\n")
    assert got.names == ("close", "note")
    assert got.body == "hello\r\nworld\r\n"


def test_other_line_breaks_split_lines() -> None:
    assert read_commands("#close\rThanks").body == "Thanks"
    assert read_commands("#close\u2028Thanks").body == "Thanks"


@pytest.mark.parametrize("invisible", ["\ufeff", "\u200b", "\u200c", "\u200d", "\u2060"])
def test_zero_width_characters_around_a_command(invisible: str) -> None:
    assert pairs(f"{invisible}#close{invisible}\nbody") == [("close", "")]
    # A line of only invisible characters is blank.
    assert pairs(f"{invisible}\n#close\nbody") == [("close", "")]


def test_zero_width_character_inside_a_name_is_not_a_command() -> None:
    assert pairs("#clo\u200bse\nbody") == []


def test_at_most_max_commands_are_read_the_rest_is_text() -> None:
    lines = [f"#severity {i % 4 + 1}" for i in range(MAX_COMMANDS + 5)]
    got = read_commands("\n".join(lines) + "\nbody")
    assert len(got.commands) == MAX_COMMANDS
    assert got.body == "\n".join(lines[MAX_COMMANDS:]) + "\nbody"


def test_exactly_max_commands() -> None:
    got = read_commands("#waiting\n" * MAX_COMMANDS + "body")
    assert len(got.commands) == MAX_COMMANDS and got.body == "body"


def test_a_long_line_is_never_a_command() -> None:
    long_argument = "#assign " + "a" * 250 + "@example.com"
    assert pairs(long_argument) == []
    padded = "#close" + " " * 300 + "\nbody"  # stripped first: still a command
    assert pairs(padded) == [("close", "")]
    at_limit = "#team " + "t" * (MAX_LINE - len("#team "))
    assert pairs(at_limit) == [("team", "t" * (MAX_LINE - 6))]
    assert pairs(at_limit + "t") == []


def test_a_long_line_ends_the_run() -> None:
    text = "#close\n#team " + "x" * 300 + "\n#escalate\n"
    got = read_commands(text)
    assert got.names == ("close",) and got.body.startswith("#team x")


@pytest.mark.parametrize(
    "text",
    [
        "#\n" * 500_000,
        "#close\n" * 150_000,
        "\n" * 1_000_000,
        "#" * 1_000_000,
        "＃" * 500_000,
        " \u200b\n" * 300_000 + "#close",
    ],
)
def test_a_megabyte_of_hash_lines_is_read_quickly(text: str) -> None:
    """Only the top of the reply is looked at, with no regular expression to backtrack."""
    got = read_commands(text)
    assert len(got.commands) <= MAX_COMMANDS


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "#close",
                    "#note",
                    "#severity 1",
                    "#severity high",
                    "#assign me",
                    "＃team apex",
                    "> #close",
                    "",
                    " ",
                    "\u200b",
                    "#",
                    "text",
                ]
            ),
            st.text(max_size=30),
        ),
        max_size=20,
    ),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_never_raises_and_the_body_is_a_suffix_of_the_input(lines: list[str], eol: str) -> None:
    text = eol.join(lines)
    got = read_commands(text)
    assert text.endswith(got.body)
    assert len(got.commands) <= MAX_COMMANDS
    if not got.commands:
        assert got.body == text
    for c in got.commands:
        assert c.line and len(c.line) <= MAX_LINE


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_never_raises_and_the_body_is_a_suffix(text: str) -> None:
    got = read_commands(text)
    assert text.endswith(got.body)
    assert got.commands or got.body == text
