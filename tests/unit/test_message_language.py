"""The language of a message from someone with no language of their own (SPEC §12, issue 18 item 4)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maild.inbound.language import declared_language, message_language, sender_language, text_language
from maild.inbound.language_words import SIMPLIFIED_ONLY, TRADITIONAL_ONLY
from maild.inbound.message import InboundMail
from maild.inbound.parse import parse_message
from maild.locales import language_codes

ALL = frozenset(language_codes())

SAMPLES = {
    "en": "Hello, the printer on the third floor is not working since this morning. "
    "Could you please have a look? Thanks",
    "fr": "Bonjour, l'imprimante du troisième étage ne fonctionne plus depuis ce matin. "
    "Pouvez-vous regarder ? Merci, cordialement",
    "de": "Guten Tag, der Drucker im dritten Stock funktioniert seit heute Morgen nicht mehr. "
    "Können Sie bitte nachsehen? Danke",
    "es": "Hola, la impresora del tercer piso no funciona desde esta mañana. ¿Pueden revisarla, por favor? "
    "Gracias, saludos",
    "it": "Buongiorno, la stampante del terzo piano non funziona da stamattina. Potete controllare? "
    "Grazie, cordiali saluti",
    "pt-BR": "Olá, a impressora do terceiro andar não está funcionando desde hoje de manhã. "
    "Vocês podem verificar? Obrigado, atenciosamente",
    "nl": "Goedemorgen, de printer op de derde verdieping werkt sinds vanochtend niet meer. "
    "Kunt u er naar kijken? Bedankt, met vriendelijke groet",
    "ru": "Здравствуйте, принтер на третьем этаже не работает с утра. Посмотрите, пожалуйста.",
    "ja": "お世話になっております。3階のプリンターが今朝から動きません。確認をお願いします。",
    "ko": "안녕하세요, 3층 프린터가 오늘 아침부터 작동하지 않습니다. 확인 부탁드립니다.",
    "zh-CN": "你好，三楼的打印机从今天早上开始不能用了。请帮忙看一下这个问题，谢谢。",
    "zh-TW": "你好，三樓的印表機從今天早上開始不能用了。請幫忙看一下這個問題，謝謝。",
}


def mail(
    body: str, *, charset: str = "utf-8", subject: str = "Printer", content_language: str | None = None
) -> InboundMail:
    """A parsed message, so the charset and headers travel the way they do in production."""
    head = f"From: Someone <someone@customer.example>\nTo: support@maild.example\nSubject: {subject}\n"
    if content_language is not None:
        head += f"Content-Language: {content_language}\n"
    head += f"MIME-Version: 1.0\nContent-Type: text/plain; charset={charset}\n"
    head += "Content-Transfer-Encoding: 8bit\n\n"
    return parse_message(head.encode("utf-8") + body.encode(charset))


def test_every_language_maild_speaks_has_a_sample() -> None:
    assert set(SAMPLES) == ALL


@pytest.mark.parametrize("code", sorted(SAMPLES))
def test_every_language_is_told_from_its_text(code: str) -> None:
    assert message_language(mail(SAMPLES[code])) == code


@pytest.mark.parametrize("code", sorted(SAMPLES))
def test_a_language_maild_lacks_is_never_answered(code: str) -> None:
    others = ALL - {code}
    assert message_language(mail(SAMPLES[code]), available=others) in others | {None}
    assert message_language(mail(SAMPLES[code]), available={"en"}) in ("en", None)


@pytest.mark.parametrize(
    ("body", "charset", "expected"),
    [
        ("你好，印表機壞了", "big5", "zh-TW"),  # traditional characters and Big5
        ("你好", "big5", "zh-TW"),  # no telling character: Big5 decides
        ("你好", "gb2312", "zh-CN"),
        ("你好", "gb18030", "zh-CN"),
        ("你好", "utf-8", "zh-CN"),  # undecided Chinese is answered in simplified
        ("東京本社", "iso-2022-jp", "ja"),  # kanji alone from a Japanese mail client
        ("東京本社", "shift_jis", "ja"),
        ("서울 본사", "euc-kr", "ko"),
        ("Принтер не работает, помогите пожалуйста", "koi8-r", "ru"),
        ("Принтер не работает, помогите пожалуйста", "windows-1251", "ru"),
        ("Bonjour, l'imprimante ne marche pas depuis lundi. Merci", "iso-8859-15", "fr"),
    ],
)
def test_charsets(body: str, charset: str, expected: str) -> None:
    parsed = mail(body, charset=charset)
    assert parsed.body_charset == charset
    assert message_language(parsed) == expected


def test_traditional_and_simplified_are_decided_by_counts() -> None:
    assert text_language("這個問題 发", None, ALL) == "zh-TW"
    assert text_language("这个问题 發", None, ALL) == "zh-CN"
    # Big5 weighs like a few characters, not like a whole text of the other form.
    assert text_language("这个问题谢谢请时间发现", "big5", ALL) == "zh-CN"
    assert not TRADITIONAL_ONLY & SIMPLIFIED_ONLY


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("お世話になります。Outlook 365 の SMTP relay が timeout します。", "ja"),  # Latin words, kana
        ("Outlook에서 메일 전송이 안 됩니다. SMTP error 550 이 나옵니다.", "ko"),
        ("韓國 본사의 서버가 응답하지 않습니다", "ko"),  # hanja in Korean text
        ("我们的 Exchange server 无法发送邮件，错误代码 550", "zh-CN"),
        ("Сервер Exchange не отвечает, ошибка 550", "ru"),
        ("Hi, our office in 東京 cannot print since this morning. Could you please help?", "en"),
        ("Привіт, принтер не працює з ранку. Допоможіть, будь ласка.", None),  # Ukrainian, not Russian
    ],
)
def test_mixed_scripts(text: str, expected: str | None) -> None:
    assert text_language(text, None, ALL) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "OK",
        "12345 550 5.7.1",
        "Gracias",  # one word is no evidence
        "https://intranet.example/ticket/42",
        "Dziękuję, drukarka nie działa od rana.",  # Polish: no language maild speaks
        "🙂🙂🙂",
    ],
)
def test_unclear_text_is_none(text: str) -> None:
    assert message_language(mail(text)) is None


def test_content_language_wins_over_the_text() -> None:
    assert message_language(mail(SAMPLES["en"], content_language="fr-FR")) == "fr"
    assert message_language(mail(SAMPLES["en"], content_language="zh-Hant-TW")) == "zh-TW"
    assert message_language(mail(SAMPLES["ko"], content_language="pt")) == "pt-BR"
    assert message_language(mail(SAMPLES["en"], content_language="sv, de")) == "de"  # first one maild has


@pytest.mark.parametrize("header", ["sv", "uk-UA", "x-klingon", "", ",,,", "=?utf-8?q?sv?=", "a" * 5000])
def test_a_content_language_maild_lacks_falls_back_to_the_text(header: str) -> None:
    assert message_language(mail(SAMPLES["de"], content_language=header)) == "de"


def test_declared_language_reads_few_tags() -> None:
    assert declared_language(", " * 20 + "fr", ALL) is None  # only the first tags are read
    assert declared_language("FR_ca.UTF-8", ALL) == "fr"
    assert declared_language(None, ALL) is None


def test_quoted_history_in_another_language_is_ignored() -> None:
    quote = "\n".join(f"> {SAMPLES['en']}" for _ in range(30))
    body = (
        f"Bonjour, c'est toujours en panne. Merci de regarder.\n\nLe 3 mars 2026, Support a écrit :\n{quote}"
    )
    assert message_language(mail(body, subject="Re: Printer")) == "fr"
    header_block = (
        "Sehr geehrte Damen und Herren, das Problem besteht leider immer noch. Danke\n\n"
        "-----Original Message-----\nFrom: Support\nSent: Monday\nSubject: Printer\n\n" + SAMPLES["en"] * 20
    )
    assert message_language(mail(header_block, subject="AW: Printer")) == "de"


def test_the_subject_counts() -> None:
    assert message_language(mail("", subject="Le serveur ne répond plus depuis ce matin, merci")) == "fr"


def test_a_contacts_own_language_always_wins() -> None:
    assert sender_language("ja", mail(SAMPLES["en"])) == "ja"
    assert sender_language(None, mail(SAMPLES["ko"])) == "ko"
    assert sender_language(None, mail("OK")) is None


@pytest.mark.parametrize(
    "filler", ["a", "é", "的", "ж", "は", "한", "the ", "\n> quoted\n", "x" * 999 + "\n"]
)
def test_hostile_megabyte(filler: str) -> None:
    body = filler * (1024 * 1024 // len(filler.encode("utf-8")))
    result = message_language(mail(body))
    assert result is None or result in ALL


def test_only_a_bounded_head_of_the_text_is_read() -> None:
    # A megabyte of Korean after 4 KB of French: the head decides.
    body = (SAMPLES["fr"] + "\n") * 40 + SAMPLES["ko"] * 10000
    assert message_language(mail(body)) == "fr"


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=3000),
    st.one_of(st.none(), st.text(max_size=60)),
    st.one_of(st.none(), st.sampled_from(["big5", "gb2312", "euc-kr", "shift_jis", "koi8-r", "x-unknown"])),
)
def test_never_raises(text: str, header: str | None, charset: str | None) -> None:
    fake = InboundMail(
        message_id="<x@example>",
        from_addr=None,
        subject=text[:50],
        text=text,
        raw_size=0,
        raw_sha256="",
        headers=(("Content-Language", header),) if header is not None else (),
        body_charset=charset,
    )
    result = message_language(fake)
    assert result is None or result in ALL
    assert text_language(text, charset, ALL) in ALL | {None}


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_never_raises_on_parsed_bytes(raw: bytes) -> None:
    result = message_language(parse_message(raw))
    assert result is None or result in ALL
