"""extract_reply: text in, new reply text out, for the clients customers use."""

from __future__ import annotations

import pytest

from maild.inbound.quotes import extract_reply

CASES: list[tuple[str, str, str]] = [
    (
        "gmail-en",
        "Thanks, that fixed it.\n\nOn Sat, Nov 21, 2026 at 10:00 AM Support <support@example.com> wrote:\n\n"
        "> Please restart the agent.\n> \n> Regards\n",
        "Thanks, that fixed it.",
    ),
    (
        "gmail-en-wrapped",
        "Works now.\n\nOn Mon, Feb 1, 2016 at 6:32 PM, Jeff Atwood <info@example.org>\nwrote:\n\n> old "
        "text\n",
        "Works now.",
    ),
    (
        "apple-mail",
        "Yes please.\n\n> On 22 Aug 2015, at 19:21, Adam <adam@example.com> wrote:\n>\n> Shall we?\n",
        "Yes please.",
    ),
    (
        "gmail-ja",
        "ご対応ありがとうございます。\n解決しました。\n\n2026年11月21日(土) 10:00 山田 "
        "<yamada@example.jp>:\n\n"
        "> 再起動をお試しください。\n",
        "ご対応ありがとうございます。\n解決しました。",
    ),
    (
        "gmail-ja-no-weekday-space",
        "了解です。\n\n2026年1月5日(月) 9:05 Support <support@example.com>:\n> 本文\n",
        "了解です。",
    ),
    (
        "apple-mail-ja",
        "承知しました。\n\n2026/11/21 10:00、山田 太郎 <yamada@example.jp> のメッセージ:\n\n> 以前の本文\n",
        "承知しました。",
    ),
    (
        "thunderbird-ja",
        "確認します。\n\n2026/11/21 10:00 に 山田 さんは書きました:\n> 以前の本文\n",
        "確認します。",
    ),
    (
        "outlook-original-message",
        "Please see the log attached.\n\n-----Original Message-----\nFrom: Support <support@example.com>\n"
        "Sent: Saturday, November 21, 2026 10:00 AM\nTo: Customer <c@example.com>\nSubject: RE: [Case "
        "#00001042]\n\n"
        "Could you send the log?\n",
        "Please see the log attached.",
    ),
    (
        "outlook-ja-original-message",
        "ログを添付します。\n\n-----元のメッセージ-----\n差出人: サポート <support@example.com>\n"
        "送信日時: 2026年11月21日 10:00\n宛先: 顧客 <c@example.jp>\n件名: RE: 問い合わせ\n\n"
        "ログを送ってください。\n",
        "ログを添付します。",
    ),
    (
        "outlook-header-block",
        "Done.\n\n________________________________\nFrom: Support <support@example.com>\n"
        "Sent: Saturday, November 21, 2026 10:00 AM\nTo: Customer\nSubject: Case\n\nOld body\n",
        "Done.",
    ),
    (
        "outlook-ja-header-block",
        "対応ありがとうございます。\n\n差出人: サポート <support@example.com>\n送信日時: 2026年11月21日 "
        "10:00\n"
        "宛先: 顧客\n件名: RE: 問い合わせ\n\n以前の本文\n",
        "対応ありがとうございます。",
    ),
    (
        "outlook-bold-header-block",
        "OK\n\n*From:* Support <support@example.com>\n*Date:* Monday\n*To:* me\n\nold\n",
        "OK",
    ),
    (
        "forwarded-gmail",
        "FYI\n\n---------- Forwarded message ---------\nFrom: A <a@example.com>\nDate: Tue\nSubject: x\n"
        "\nbody\n",
        "FYI",
    ),
    (
        "apple-forward",
        "See below.\n\nBegin forwarded message:\n\nFrom: A <a@example.com>\n\nbody\n",
        "See below.",
    ),
    (
        "signature",
        "The error is gone.\n\n-- \nJane Doe\nACME Corp\n",
        "The error is gone.",
    ),
    ("signature-no-space", "Fixed.\n\n--\nJane\n", "Fixed."),
    (
        "iphone-footer",
        "Thanks!\n\nSent from my iPhone\n\nOn Apr 3, 2012, at 4:19 PM, bob wrote:\n\n> Hi\n",
        "Thanks!",
    ),
    ("iphone-footer-ja", "ありがとうございます\n\niPhoneから送信\n", "ありがとうございます"),
    ("outlook-mobile", "Thank you.\n\nGet Outlook for iOS<https://aka.ms/o0ukef>\n", "Thank you."),
    ("android-footer-ja", "了解しました\n\nXperia から送信\n", "了解しました"),
    (
        "top-posted-quotes",
        "Here is the answer.\n\n> question one\n> question two\n",
        "Here is the answer.",
    ),
    (
        "interleaved",
        "On Mon, Nov 2, 2026 at 9:00 AM Support <s@example.com> wrote:\n> Which version?\n4.2.1\n"
        "> Which OS?\nUbuntu 24.04\n",
        "4.2.1\nUbuntu 24.04",
    ),
    (
        "interleaved-without-attribution",
        "> Which version?\n4.2.1\n\n> Which OS?\nUbuntu 24.04\n",
        "4.2.1\n\nUbuntu 24.04",
    ),
    ("quote-only-kept", "> Email with only quote.\n", "> Email with only quote."),
    ("full-width-quote", "了解\n＞ 以前の本文\n", "了解"),
    (
        "french",
        'C\'est super !\nLe 4 janv. 2016 19:03, "Neil"\n<info@example.org>\na écrit :\n\n> texte\n',
        "C'est super !",
    ),
    (
        "german",
        "Passt.\n\nAm 21.11.2026 um 10:00 schrieb Support <s@example.com>:\n> alt\n",
        "Passt.",
    ),
    (
        "russian",
        "Спасибо.\n\n21 ноября 2026 г., 10:00 пользователь Support <s@example.com> написал:\n\n> старое\n",
        "Спасибо.",
    ),
    ("chinese", "好的\n\n在 2026年11月21日，上午10:00，Support <s@example.com> 写道：\n> 旧\n", "好的"),
    ("crlf-and-cr", "line one\r\nline two\r\rOn 1 Jan 2026, A <a@b.c> wrote:\r> x\r", "line one\nline two"),
    ("no-quote-unchanged", "Just a plain message.\nTwo lines.", "Just a plain message.\nTwo lines."),
    ("leading-trailing-blank-lines", "\n\n  Hello\n\n\n", "  Hello"),
    (
        "wrote-without-date-is-text",
        "Here is what I wrote:\nthe config file\n",
        "Here is what I wrote:\nthe config file",
    ),
    (
        "footer-phrase-mid-text-kept",
        "Sent from my desk: the error again.\n" + "\n".join(f"line {n}" for n in range(40)),
        "Sent from my desk: the error again.\n" + "\n".join(f"line {n}" for n in range(40)),
    ),
    (
        "command-line-kept",
        "#escalate\nStill down after 2 hours.\n\nOn Sat, Nov 21, 2026 at 10:00 AM S <s@example.com> "
        "wrote:\n> x\n",
        "#escalate\nStill down after 2 hours.",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_extract_reply(text: str, expected: str) -> None:
    assert extract_reply(text) == expected


def test_keep_signature_removes_only_quotations() -> None:
    text = (
        "Hello\n\n-- \nxxx\nSent with Sparrow\n\n"
        "On Tuesday, April 3, 2012 at 4:55 PM, xxx wrote:\n\n> Hello\n"
    )
    assert extract_reply(text, keep_signature=True) == "Hello\n\n--\nxxx\nSent with Sparrow"
    assert extract_reply(text) == "Hello"


def test_empty_input_gives_empty_output() -> None:
    assert extract_reply("") == ""
    assert extract_reply("\n \n") == ""


def test_everything_stripped_returns_the_original() -> None:
    text = "-- \nJane Doe\n"
    assert extract_reply(text) == "-- \nJane Doe"


@pytest.mark.parametrize(
    "text",
    [
        "a" * 1_000_000,
        " " * 1_000_000,
        ("On 1 " + "a " * 150 + "wrot:\n") * 3000,
        ("On 2020 " + "x " * 190 + ":\n") * 2500,
        "> quoted\n" * 100_000,
        "From: a\n" * 50_000,
        ">" + " " * 999_999,
        "*" * 500_000 + ":",
        ("2026年11月21日(土) 10:00 山田 " + "あ" * 300 + ":\n") * 2500,
        "Sent from my iPhone\n" * 50_000,
    ],
    ids=[
        "one-line",
        "spaces",
        "long-on",
        "on-colon",
        "quotes",
        "from",
        "gt-spaces",
        "stars",
        "ja",
        "footers",
    ],
)
@pytest.mark.timeout(60)
def test_megabyte_inputs_do_not_hang(text: str) -> None:
    result = extract_reply(text)
    assert result == result.strip("\n")
    assert bool(result.strip()) == bool(text.strip())
