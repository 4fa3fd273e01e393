"""Inbound charsets of the 12 languages (SPEC §12): labelled, mislabelled and unlabelled mail reads exactly.

Real sentences in the language each charset serves are built into real
MIME messages (the standard library's MIMEText, or raw bytes the way
mailers write them) and must come out of `parse_message` as the exact
text: in bodies, in RFC 2047 and raw 8-bit headers and in RFC 2231
filenames. Outbound notifications in every language must survive
build_message -> bytes -> parse_message unchanged.
"""

from __future__ import annotations

import base64
import urllib.parse
from email.header import Header
from email.mime.text import MIMEText
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maild.inbound import charset_guess
from maild.inbound.charsets import decode_bytes
from maild.inbound.parse import parse_message, safe_filename
from maild.outbound.compose import Composer
from tests.unit.test_compose import full_context
from tests.unit.test_message import build

ZH_CN = "您好，我的订单还没有收到，请尽快帮我查询物流信息。谢谢！"
ZH_CN_GBK = "我们的服务器出现故障，请帮忙处理。喆镕堃犇昇陞"  # the last six are GBK, not GB2312
ZH_TW = "您好，我的訂單還沒有收到，請盡快幫我查詢物流資訊。謝謝！"
ZH_HK = "你好，部𨋢壞咗㗎，唔該幫手整返好佢。我哋喺銅鑼灣。"  # 𨋢 㗎 咗 哋 喺: HKSCS only
KO = "안녕하세요. 주문한 상품이 아직 도착하지 않았습니다. 확인 부탁드립니다."
RU = "Здравствуйте! Мой заказ до сих пор не доставлен, проверьте, пожалуйста."
UK = "Доброго дня! Моє замовлення ще не доставлено, перевірте, будь ласка. Ґанок, їжак."
BG = "Здравейте! Поръчката ми още не е пристигнала, моля проверете."
SR = "Поштовани, моја поруџбина још није стигла. Молим вас да проверите. Ђорђе Љубић Његош."
PL = "Dzień dobry, zamówienie jeszcze nie dotarło. Zażółć gęślą jaźń, proszę sprawdzić."
CS = "Dobrý den, objednávka ještě nedorazila. Příliš žluťoučký kůň úpěl ďábelské ódy."
DE = "Sehr geehrte Damen und Herren, die Größe ist falsch. Preis: 25 € – Grüße aus Köln"
FR = "Bonjour, mon cœur est à vous ; la facture de 30 € n'est pas arrivée. Très cordialement, Chloé"
ES = "Hola, ¿podría ayudarme? El pedido llegó dañado y costó 40 €. Gracias, señora Muñoz."
IT = "Buongiorno, la mia richiesta non è stata ancora evasa. Perché? Città di Forlì."
PT = "Olá, a minha encomenda não chegou. Informações sobre a operação, obrigação."
NL = "Goedendag, mijn bestelling is nog niet aangekomen. Hoe gaat het met de coördinatie? Één vraag."
FR15 = "Bonjour, mon cœur et l'œuvre coûtent 30 €. Très cordialement, Chloé"
DE15 = "Die Größe kostet 25 € pro Stück, Grüße aus Köln."

# (id, text, the correct label, labels mailers wrongly put on those bytes)
CASES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("zh-CN-gb2312", ZH_CN, "gb2312", ("gbk",)),
    ("zh-CN-gbk", ZH_CN_GBK, "gbk", ("gb2312",)),
    ("zh-CN-gb18030", ZH_CN_GBK, "gb18030", ("gb2312",)),
    ("zh-TW-big5", ZH_TW, "big5", ()),
    ("zh-HK-big5-hkscs", ZH_HK, "big5-hkscs", ("big5",)),
    ("ko-euc-kr", KO, "euc-kr", ("ks_c_5601-1987",)),
    ("ko-iso-2022-kr", KO, "iso-2022-kr", ()),
    ("ru-koi8-r", RU, "koi8-r", ("windows-1251", "iso-8859-1")),
    ("uk-koi8-u", UK, "koi8-u", ("koi8-r", "windows-1251")),
    ("ru-windows-1251", RU, "windows-1251", ("iso-8859-1", "koi8-r", "windows-1252")),
    ("bg-windows-1251", BG, "windows-1251", ("iso-8859-1", "koi8-r")),
    ("sr-windows-1251", SR, "windows-1251", ("iso-8859-1", "iso-8859-5")),
    ("bg-iso-8859-5", BG, "iso-8859-5", ("windows-1251", "iso-8859-1")),
    ("sr-iso-8859-5", SR, "iso-8859-5", ("windows-1251", "koi8-r")),
    ("pl-windows-1250", PL, "windows-1250", ("iso-8859-1", "windows-1252", "iso-8859-2")),
    ("cs-windows-1250", CS, "windows-1250", ("iso-8859-1", "iso-8859-2")),
    ("pl-iso-8859-2", PL, "iso-8859-2", ("iso-8859-1", "windows-1250")),
    ("cs-iso-8859-2", CS, "iso-8859-2", ("iso-8859-1", "windows-1250")),
    ("de-windows-1252", DE, "windows-1252", ("iso-8859-1", "us-ascii")),
    ("fr-windows-1252", FR, "windows-1252", ("iso-8859-1", "iso-8859-15")),
    ("es-windows-1252", ES, "windows-1252", ("iso-8859-1",)),
    ("it-iso-8859-1", IT, "iso-8859-1", ("us-ascii", "windows-1250")),
    ("pt-iso-8859-1", PT, "iso-8859-1", ("us-ascii", "iso-8859-2")),
    ("nl-iso-8859-1", NL, "iso-8859-1", ("us-ascii",)),
    ("fr-iso-8859-15", FR15, "iso-8859-15", ("iso-8859-1",)),
    ("de-iso-8859-15", DE15, "iso-8859-15", ("iso-8859-1", "us-ascii")),
)
IDS = [case[0] for case in CASES]
LABELLED = [(case[1], case[2], case[2]) for case in CASES]
# ISO-2022-KR is 7-bit: it has no raw 8-bit header form.
EIGHT_BIT = [case for case in LABELLED if case[1] != "iso-2022-kr"]
EIGHT_BIT_IDS = [case[0] for case in CASES if case[2] != "iso-2022-kr"]
MISLABELLED = [
    pytest.param(text, label, wrong, id=f"{name}-as-{wrong}")
    for name, text, label, wrongs in CASES
    for wrong in wrongs
]
EVERY_LABEL = sorted({label for case in CASES for label in (case[2], *case[3])} | {"utf-8", "us-ascii"})
HEAD = (
    b"From: a@example.com\r\nTo: support@example.com\r\nMessage-ID: <x1@example.com>\r\nMIME-Version: 1.0\r\n"
)


def encoded(text: str, label: str) -> bytes:
    return text.encode(label)


def raw_body(body: bytes, label: str | None, *, headers: bytes = b"Subject: order\r\n") -> bytes:
    """A one-part message the way mailers write it: 8-bit body, the label as given (or none)."""
    ctype = b"text/plain" + (b"; charset=" + label.encode() if label else b"")
    return (
        HEAD
        + headers
        + b"Content-Type: "
        + ctype
        + b"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + body
        + b"\r\n"
    )


def body_of(raw: bytes) -> str:
    mail = parse_message(raw)
    return mail.text.replace("\r\n", "\n").rstrip("\n")


# ---------------------------------------------------------------- bodies


@pytest.mark.parametrize(("text", "label", "_same"), LABELLED, ids=IDS)
def test_labelled_body_built_by_the_standard_library(text: str, label: str, _same: str) -> None:
    part = MIMEText(text, "plain", label)
    part["From"], part["To"], part["Subject"] = "a@example.com", "support@example.com", "order"
    assert body_of(part.as_bytes()) == text


@pytest.mark.parametrize(("text", "label", "_same"), LABELLED, ids=IDS)
def test_labelled_raw_8bit_body(text: str, label: str, _same: str) -> None:
    assert body_of(raw_body(encoded(text, label), label)) == text


@pytest.mark.parametrize(("text", "label", "wrong"), MISLABELLED)
def test_mislabelled_body(text: str, label: str, wrong: str) -> None:
    assert body_of(raw_body(encoded(text, label), wrong)) == text


@pytest.mark.parametrize(("text", "label", "_same"), LABELLED, ids=IDS)
def test_unlabelled_body(text: str, label: str, _same: str) -> None:
    assert body_of(raw_body(encoded(text, label), None)) == text


@pytest.mark.parametrize(
    "label", ["windows-1252", "us-ascii", "iso-8859-1", "koi8-r", "windows-1251", "gb2312"]
)
def test_utf8_mislabelled_as_anything_is_utf8(label: str) -> None:
    text = "Grüße, 30 € — Здравствуйте, 您好, 안녕하세요"
    assert body_of(raw_body(text.encode("utf-8"), label)) == text


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I don’t know; l’œuvre, col·lecció, 5 m², “quoted” – ½ price", "windows-1252"),
        ("Grüße aus Köln — „Müller“ zahlt 5 €", "windows-1252"),
        ("Señor Muñoz, ¿qué tal? ¡Olé!", "iso-8859-1"),
        ("Ελληνικά: Καλημέρα, η παραγγελία μου δεν έφτασε ακόμα.", "iso-8859-7"),
    ],
)
def test_correct_labels_are_kept_on_text_with_odd_characters(text: str, label: str) -> None:
    assert body_of(raw_body(text.encode(label), label)) == text


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("Καλημέρα, η παραγγελία μου δεν έφτασε ακόμα. Ευχαριστώ πολύ.", "cp1253"),
        ("お世話になっております。注文した商品がまだ届いていません。", "euc_jp"),
        ("お世話になっております。注文した商品がまだ届いていません。", "cp932"),
    ],
)
def test_unlabelled_text_outside_the_usual_charsets(text: str, codec: str) -> None:
    assert body_of(raw_body(text.encode(codec), None)) == text


def test_the_mislabel_check_is_not_vacuous() -> None:
    """Read the naive way, the mislabelled bytes really are mojibake."""
    assert RU.encode("windows-1251").decode("cp1252") != RU
    assert RU.encode("koi8-r").decode("cp1251") != RU
    assert FR15.encode("iso-8859-15").decode("latin-1") != FR15
    assert charset_guess.badness(RU.encode("windows-1251").decode("koi8-r")) > charset_guess.badness(RU)


# ---------------------------------------------------------------- headers


def subject_of(text: str) -> str:
    return text[:60].rstrip()


@pytest.mark.parametrize(("text", "label", "_same"), LABELLED, ids=IDS)
def test_rfc2047_subject_and_name_as_the_standard_library_folds_them(
    text: str, label: str, _same: str
) -> None:
    subject = subject_of(text)
    name = text.split(",")[0][:20].strip()
    folded = Header(subject, label, header_name="Subject").encode()
    sender = Header(name, label).encode()
    headers = f"Subject: {folded}\r\nReply-To: {sender} <c@example.com>\r\n".encode("ascii")
    mail = parse_message(raw_body(b"ok", "us-ascii", headers=headers))
    assert mail.subject == subject
    assert mail.reply_to[0].name == name


@pytest.mark.parametrize("encoding", ["B", "Q"])
@pytest.mark.parametrize(("text", "label", "wrong"), MISLABELLED)
def test_rfc2047_subject_mislabelled(text: str, label: str, wrong: str, encoding: str) -> None:
    data = encoded(subject_of(text), label)
    payload = base64.b64encode(data).decode() if encoding == "B" else "".join(f"={byte:02X}" for byte in data)
    headers = f"Subject: =?{wrong}?{encoding}?{payload}?=\r\n".encode("ascii")
    assert parse_message(raw_body(b"ok", None, headers=headers)).subject == subject_of(text)


@pytest.mark.parametrize("body_label", ["same", "none"])
@pytest.mark.parametrize(("text", "label", "_same"), EIGHT_BIT, ids=EIGHT_BIT_IDS)
def test_raw_8bit_subject_and_display_name(text: str, label: str, _same: str, body_label: str) -> None:
    subject = subject_of(text)
    name = text.split(",")[0][:20].strip().replace('"', "")
    headers = (
        b"Subject: "
        + encoded(subject, label)
        + b'\r\nCc: "'
        + encoded(name, label)
        + b'" <c@example.com>\r\n'
    )
    body = encoded(text, label)
    mail = parse_message(raw_body(body, label if body_label == "same" else None, headers=headers))
    assert mail.subject == subject
    assert mail.cc[0].name == name


# ---------------------------------------------------------------- filenames


def filename_of(text: str) -> str:
    """The sentence of `text` with the most non-ASCII letters, as a file name: the charset is tellable."""
    best = max(text.split("."), key=lambda piece: sum(not char.isascii() for char in piece))
    return best[:40].strip() + ".txt"


def with_attachment(disposition: str) -> bytes:
    return (
        HEAD
        + b"Subject: files\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n"
        + b"Content-Type: text/plain; charset=us-ascii\r\n\r\nsee attached\r\n--b1\r\n"
        + b"Content-Type: application/octet-stream\r\nContent-Disposition: "
        + disposition.encode("ascii")
        + b"\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b1--\r\n"
    )


@pytest.mark.parametrize(("text", "label", "_same"), LABELLED, ids=IDS)
def test_rfc2231_filename(text: str, label: str, _same: str) -> None:
    name = filename_of(text)
    quoted = urllib.parse.quote(encoded(name, label), safe="")
    mail = parse_message(with_attachment(f"attachment; filename*={label}''{quoted}"))
    assert [a.filename for a in mail.attachments] == [safe_filename(name, 1)]


# "Perché? Città di Forlì" read as Windows-1250 is "Cittŕ di Forlě": two
# letters, each at home in some alphabet; too little to overrule a label.
AMBIGUOUS_FILENAMES = frozenset({"it-iso-8859-1-as-windows-1250"})


@pytest.mark.parametrize(
    ("text", "label", "wrong"), [case for case in MISLABELLED if case.id not in AMBIGUOUS_FILENAMES]
)
def test_rfc2231_filename_mislabelled(text: str, label: str, wrong: str) -> None:
    name = filename_of(text)
    quoted = urllib.parse.quote(encoded(name, label), safe="")
    mail = parse_message(with_attachment(f"attachment; filename*={wrong}''{quoted}"))
    assert [a.filename for a in mail.attachments] == [safe_filename(name, 1)]


# ---------------------------------------------------------------- hostile bytes


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=3000), label=st.sampled_from([*EVERY_LABEL, None]))
def test_any_bytes_under_any_label_decode_to_valid_text(data: bytes, label: str | None) -> None:
    text = decode_bytes(data, label)
    assert isinstance(text, str)
    text.encode("utf-8")  # no lone surrogates
    assert (
        data.isascii() is False
        or label == "iso-2022-kr"
        or "\x1b" in data.decode("ascii")
        or text == data.decode()
    )


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=2000), label=st.sampled_from(EVERY_LABEL))
def test_any_bytes_in_a_message_parse(data: bytes, label: str) -> None:
    headers = b"Subject: " + data[:200].replace(b"\r", b"").replace(b"\n", b"") + b"\r\n"
    mail = parse_message(raw_body(data.replace(b"\r", b""), label, headers=headers))
    mail.text.encode("utf-8")
    mail.subject.encode("utf-8")


class _Counting:
    """Stands in for `unicodedata` in charset_guess and counts the characters scored."""

    def __init__(self) -> None:
        import unicodedata

        self.real = unicodedata
        self.calls = 0

    def category(self, char: str) -> str:
        self.calls += 1
        return self.real.category(char)


HOSTILE = (
    bytes(range(0x80, 0x100)) * 4096,  # every high byte, 512 KB
    b"\xd0" * (1 << 20),
    (b"\xe4\xbd" + b" ") * 350_000,
    b"\x1b$)C\x0e" + b"\x21\x7e" * 500_000,
    ("Здравствуйте " * 60_000).encode("koi8-r"),
)


@pytest.mark.parametrize("data", HOSTILE, ids=["all-high", "one-byte", "broken-utf8", "iso2022kr", "koi8"])
@pytest.mark.parametrize("label", [None, "iso-8859-1", "koi8-r", "gb2312", "big5"])
def test_megabyte_parts_are_scored_on_a_bounded_prefix(
    monkeypatch: pytest.MonkeyPatch, data: bytes, label: str | None
) -> None:
    """The plausibility work per part does not grow with the part: it sees at most SCORE_LIMIT characters."""
    counter = _Counting()
    monkeypatch.setattr(charset_guess, "unicodedata", counter)
    text = decode_bytes(data, label)
    text.encode("utf-8")
    assert len(text) >= len(data) // 4
    candidates = len(charset_guess.UNLABELLED) + 2  # every candidate, the label and the detector's pick
    assert counter.calls <= candidates * charset_guess.SCORE_LIMIT


def test_the_counter_sees_scoring() -> None:
    counter = _Counting()
    original = charset_guess.unicodedata
    charset_guess.unicodedata = counter  # type: ignore[assignment]
    try:
        decode_bytes(RU.encode("windows-1251"), "iso-8859-1")
    finally:
        charset_guess.unicodedata = original
    assert counter.calls > 0


# ---------------------------------------------------------------- outbound


LANGUAGES = ("en", "ja", "zh-CN", "zh-TW", "ko", "fr", "de", "es", "it", "pt-BR", "nl", "ru")
LONG_SUBJECTS = {
    "en": "The login page returns error 500 for every user of the accounting department since this morning",
    "ja": "経理部のすべてのユーザーで今朝からログインページがエラー500を返し、業務が完全に止まっています",
    "zh-CN": "自今天早上起财务部所有用户登录页面都返回错误500，业务已经完全停止，请尽快处理",
    "zh-TW": "自今天早上起財務部所有使用者登入頁面都回傳錯誤500，業務已經完全停止，請盡快處理",
    "ko": "오늘 아침부터 회계 부서의 모든 사용자에게 로그인 페이지가 오류 500을 반환하여 업무가 중단됨",
    "fr": "La page de connexion renvoie l'erreur 500 à tous les utilisateurs de la comptabilité, œuvre",
    "de": "Die Anmeldeseite liefert allen Benutzern der Buchhaltung den Fehler 500 – Größe 25 €",
    "es": "La página de inicio de sesión devuelve el error 500 a todos los usuarios desde esta mañana",
    "it": "La pagina di accesso restituisce l'errore 500 a tutti gli utenti della contabilità, perché?",
    "pt-BR": "A página de login retorna o erro 500 para todos os usuários desde hoje de manhã, ação",
    "nl": "De inlogpagina geeft sinds vanochtend foutmelding 500 voor alle gebruikers, coördinatie",
    "ru": "Со вчерашнего утра страница входа возвращает ошибку 500 всем пользователям, работа стоит",
}
NAMES = {
    "en": "Alice O'Neil",
    "ja": "山田 太郎",
    "zh-CN": "王小明",
    "zh-TW": "陳大文",
    "ko": "김민수",
    "fr": "Chloé Lefèvre",
    "de": "Jürgen Groß",
    "es": "José Muñoz",
    "it": "Niccolò Bellè",
    "pt-BR": "João Gonçalves",
    "nl": "Anaïs de Vries",
    "ru": "Иван Петров",
}


def _field_lines(header_block: bytes, name: bytes) -> list[bytes]:
    """The physical lines of one header field: its first line and the folded continuations."""
    found: list[bytes] = []
    for line in header_block.split(b"\r\n"):
        if found and line[:1] in (b" ", b"\t"):
            found.append(line)
        elif found:
            break
        elif line.lower().startswith(name.lower() + b":"):
            found.append(line)
    return found


@pytest.fixture(scope="module")
def composer() -> Composer:
    return Composer([], strict=True)


@pytest.mark.parametrize("language", LANGUAGES)
def test_notification_survives_the_round_trip(composer: Composer, language: str) -> None:
    context: dict[str, Any] = full_context(language, "primary_contact")
    context["case"]["subject"] = LONG_SUBJECTS[language]
    context["recipient"]["name"] = NAMES[language]
    out = composer.render("case_opened", language, context)
    assert LONG_SUBJECTS[language] in out.subject
    raw = build(out, to_name=NAMES[language], from_name=f"Support – {NAMES[language]}")
    header_block = raw.partition(b"\r\n\r\n")[0]
    assert header_block.isascii()
    lines = header_block.split(b"\r\n")
    assert all(len(line) <= 998 for line in lines)
    subject_lines = _field_lines(header_block, b"Subject")
    assert len(subject_lines) > 1 and all(len(line) <= 78 for line in subject_lines), (
        "a long subject is folded"
    )
    assert all(len(line) <= 78 for name in (b"From", b"To") for line in _field_lines(header_block, name))
    mail = parse_message(raw)
    assert not mail.defects
    assert mail.subject == out.subject
    assert mail.text.replace("\r\n", "\n").rstrip("\n") == out.text.rstrip("\n")
    assert mail.to[0].name == NAMES[language]
    assert mail.from_addr is not None and mail.from_addr.name == f"Support – {NAMES[language]}"


@pytest.mark.parametrize("language", ["ru", "zh-CN"])
def test_encoded_words_are_at_most_75_characters(composer: Composer, language: str) -> None:
    context: dict[str, Any] = full_context(language, "primary_contact")
    context["case"]["subject"] = LONG_SUBJECTS[language]
    out = composer.render("case_opened", language, context)
    raw = build(out, to_name=NAMES[language] * 4)
    words = [word for word in raw.partition(b"\r\n\r\n")[0].split() if word.startswith(b"=?")]
    assert words and all(len(word) <= 75 for word in words)
