"""Every language of SPEC §12 end to end: real Dovecot in, the real SMTP sink out (issue 18 item 5).

A contact with `--language <code>` opens a case as a customer of that
language writes one (a severity tag in the subject, intake lines in the body),
gets the acknowledgement in their language, replies once as Gmail/Apple Mail
would (localized attribution, "> " quote, UTF-8) and once as Outlook desktop
would (localized header block, the original below, the language's legacy
charset), and reads the agent's answer in their language. The case's
comments must hold exactly what the contact wrote, nothing of the quote.

The attribution and header lines are the ones of the reply corpus
(tests/fixtures/replies/<code>, what the clients really write in each
language), so this test and the quote-stripping benchmark speak of the same
clients; the customer's own words (subject, intake lines) are written here,
independently of maild/locales/intake, so a missing synonym fails here.
"""

from __future__ import annotations

import base64
import html
import re
import tomllib
from dataclasses import dataclass
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.integration.env import AGENT, SUPPORT, MaildEnv, message, reply_address_of, text_of

ROOT = Path(__file__).resolve().parents[2]
REPLIES = ROOT / "tests" / "fixtures" / "replies"
ORG_ID = "00D000000000ACME"


@dataclass(frozen=True)
class Language:
    """What a customer of one language writes to open a case, and the legacy charsets of their clients."""

    code: str
    severity: int
    tag: str  # the subject's severity tag as people of that language write it
    subject: str
    description: str
    fields: dict[str, tuple[str, str]]  # field name -> (label as written, value)
    opening: str  # the legacy charset the opening message is written in
    legacy: str  # the one Outlook desktop writes its reply in (it must hold the quoted notification)
    colon: str = ": "

    def body(self) -> str:
        lines = [f"{label}{self.colon}{value}" for label, value in self.fields.values()]
        return self.description + "\n\n" + "\n".join(lines) + "\n"


def _fields(impact: tuple[str, str], users: str, workaround: tuple[str, str], org: str) -> dict[str, Any]:
    return {
        "business_impact": impact,
        "users_affected": (users, "120"),
        "workaround": workaround,
        "org_id": (org, ORG_ID),
    }


LANGUAGES = [
    Language(
        "en", 2, "[Sev 2]", "Monthly report export fails",
        "Since this morning the monthly report export stops with an error.",
        _fields(("Business impact", "month-end closing is blocked"), "Users affected",
                ("Workaround", "none"), "Org ID"),
        "windows-1252", "windows-1252",
    ),
    Language(
        "ja", 1, "【重要度1】", "月次レポートの出力が失敗します",
        "今朝から月次レポートの出力がエラーで止まります。",
        _fields(("業務影響", "月末の締め処理ができません"), "影響ユーザー数", ("回避策", "なし"), "組織ID"),
        "iso-2022-jp", "iso-2022-jp", "：",
    ),
    Language(
        "zh-CN", 2, "[严重性：2]", "月度报表导出失败",
        "从今天早上开始，月度报表导出时报错中断。",
        _fields(("业务影响", "月末结账无法进行"), "受影响用户数", ("临时解决方案", "暂无"), "组织 ID"),
        "gb2312", "gb18030", "：",
    ),
    Language(
        "zh-TW", 4, "[嚴重性：4]", "月報表匯出失敗",
        "從今天早上開始，月報表匯出時發生錯誤而中斷。",
        _fields(("營運影響", "無法進行月底結帳"), "受影響使用者數", ("暫時解決方案", "目前沒有"), "組織編號"),
        "big5", "big5", "：",
    ),
    Language(
        "ko", 2, "[심각도 2]", "월간 보고서 내보내기 실패",
        "오늘 아침부터 월간 보고서를 내보낼 때 오류가 발생하며 중단됩니다.",
        _fields(("업무 영향", "월말 결산을 진행할 수 없습니다"), "영향받는 사용자 수",
                ("임시 해결책", "없음"), "조직 ID"),
        "euc-kr", "euc-kr",
    ),
    Language(
        "fr", 1, "[Gravité : 1]", "L'export du rapport mensuel échoue",
        "Depuis ce matin, l'export du rapport mensuel s'arrête avec une erreur.",
        _fields(("Impact métier", "la clôture mensuelle est bloquée"), "Utilisateurs concernés",
                ("Solution de contournement", "aucune"), "Identifiant de l'organisation"),
        "iso-8859-15", "windows-1252", " : ",
    ),
    Language(
        "de", 2, "[Schweregrad: 2]", "Export des Monatsberichts schlägt fehl",
        "Seit heute Morgen bricht der Export des Monatsberichts mit einem Fehler ab.",
        _fields(("Geschäftliche Auswirkungen", "Der Monatsabschluss ist blockiert"), "Betroffene Benutzer",
                ("Umgehungslösung", "keine"), "Organisations-ID"),
        "windows-1252", "iso-8859-15",
    ),
    Language(
        "es", 4, "[Severidad: 4]", "Falla la exportación del informe mensual",
        "Desde esta mañana la exportación del informe mensual se detiene con un error.",
        _fields(("Impacto en el negocio", "el cierre mensual está bloqueado"), "Usuarios afectados",
                ("Solución alternativa", "ninguna"), "ID de organización"),
        "windows-1252", "iso-8859-15",
    ),
    Language(
        "it", 2, "[Gravità: 2]", "L'esportazione del report mensile non riesce",
        "Da stamattina l'esportazione del report mensile si interrompe con un errore.",
        _fields(("Impatto sul business", "la chiusura mensile è bloccata"), "Utenti coinvolti",
                ("Soluzione alternativa", "nessuna"), "ID organizzazione"),
        "iso-8859-15", "windows-1252",
    ),
    Language(
        "pt-BR", 1, "[Severidade: 1]", "Falha na exportação do relatório mensal",
        "Desde hoje cedo a exportação do relatório mensal para com um erro.",
        _fields(("Impacto no negócio", "o fechamento do mês está bloqueado"), "Usuários afetados",
                ("Solução de contorno", "nenhuma"), "ID da organização"),
        "windows-1252", "iso-8859-15",
    ),
    Language(
        "nl", 4, "[Ernst: 4]", "Export van het maandrapport mislukt",
        "Sinds vanochtend stopt de export van het maandrapport met een foutmelding.",
        _fields(("Impact op de bedrijfsvoering", "de maandafsluiting ligt stil"), "Getroffen gebruikers",
                ("Tijdelijke oplossing", "geen"), "Organisatie-ID"),
        "iso-8859-15", "windows-1252",
    ),
    Language(
        "ru", 2, "[Критичность: 2]", "Не выгружается ежемесячный отчёт",
        "С утра выгрузка ежемесячного отчёта прерывается с ошибкой.",
        _fields(("Влияние на бизнес", "закрытие месяца заблокировано"), "Затронутые пользователи",
                ("Обходное решение", "нет"), "ID организации"),
        "koi8-r", "windows-1251",
    ),
]  # fmt: skip


# ------------------------------------------------------------------ what the corpus says each client writes


def _corpus(code: str, name: str) -> str:
    return (REPLIES / code / name).read_text(encoding="utf-8")


def gmail_attribution(code: str) -> str:
    """The Gmail attribution line of the corpus ("Le sam. 21 nov. 2026 à 10:00, Support <…> a écrit :")."""
    lines = _corpus(code, "01-gmail.txt").splitlines()
    first_quoted = next(i for i, line in enumerate(lines) if line.startswith(">"))
    return next(line for line in reversed(lines[:first_quoted]) if line.strip())


def outlook_block(code: str, subject: str) -> list[str]:
    """The corpus's Outlook desktop rule and header block (De : / Envoyé : / À : / Objet :), for `subject`."""
    lines = _corpus(code, "03-outlook-desktop.txt").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("_____"))
    end = lines.index("", start)
    block = lines[start:end]
    assert "[Case #00001042]" in block[-1], f"{code}: the block's last line is its subject line"
    block[-1] = re.sub(r"\[Case #00001042\].*", lambda _m: subject, block[-1])
    return block


def agent_question(code: str) -> str:
    """What the agent asks, in the contact's language: the corpus's quoted original under the block."""
    lines = _corpus(code, "03-outlook-desktop.txt").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("_____"))
    return next(line for line in lines[lines.index("", start) :] if line.strip())


def new_text(code: str, name: str) -> str:
    """The contact's new words: exactly what extract_reply must keep of the corpus reply `name`."""
    return _corpus(code, f"{name}.expected.txt").strip()


@cache
def locale(code: str) -> dict[str, Any]:
    with (ROOT / "maild" / "locales" / f"{code}.toml").open("rb") as f:
        return tomllib.load(f)


def english_sentences(*templates: str) -> list[str]:
    """The English template's own words (three words or more between markup and punctuation)."""
    found: list[str] = []
    for name in templates:
        text = (ROOT / "templates" / "en" / name).read_text(encoding="utf-8")
        text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "\n", text)
        for piece in re.split(r"[\n.:;,!?()\"]", text):
            piece = piece.strip()
            if len(piece.split()) >= 3:
                found.append(piece)
    return found


ACK_ENGLISH = english_sentences("case_opened.txt", "_case_summary.txt", "_how_to_reply.txt", "base.txt")
COMMENT_ENGLISH = english_sentences("comment_added.txt", "_case_summary.txt", "_how_to_reply.txt")


# ------------------------------------------------------------------ replies as the clients write them


def rfc2047(text: str, charset: str) -> bytes:
    """RFC 2047 words labelled with `charset` as clients write it (email.header would write "big5_tw").

    One word when it fits in 75 octets, else words of ten characters, each
    encoded on its own so an ISO-2022-JP word ends back in ASCII as the RFC
    requires.
    """

    def word(chunk: str) -> str:
        return f"=?{charset}?b?{base64.b64encode(chunk.encode(charset)).decode('ascii')}?="

    if len(word(text)) <= 75:
        return word(text).encode("ascii")
    return "\r\n ".join(word(text[i : i + 10]) for i in range(0, len(text), 10)).encode("ascii")


def encoded(
    sender: str, name: str, subject: str, body: str, charset: str, note: EmailMessage | None = None
) -> bytes:
    """A message whose body and headers are all in `charset`, as the client writes them; a reply to `note`."""
    mid = str(note["Message-ID"]) if note is not None else None
    raw = message(
        sender,
        "placeholder-subject",
        body,
        to=reply_address_of(note) if note is not None else SUPPORT,
        in_reply_to=mid,
        references=f"{note.get('References', '')} {mid}".strip() if note is not None else None,
        charset=charset,
    )
    encoded_subject = rfc2047(subject, charset)
    encoded_from = rfc2047(name, charset) + f" <{sender}>".encode()
    raw = raw.replace(b"Subject: placeholder-subject", b"Subject: " + encoded_subject, 1)
    return raw.replace(f"From: {sender}".encode(), b"From: " + encoded_from, 1)


def gmail_reply(lang: Language, note: EmailMessage, sender: str, name: str, text: str) -> bytes:
    """Gmail/Apple Mail: the new text, the localized attribution, the notification quoted with "> "."""
    quoted = "\n".join("> " + line if line else ">" for line in text_of(note).splitlines())
    body = f"{text}\n\n{gmail_attribution(lang.code)}\n{quoted}\n"
    return encoded(sender, name, f"Re: {note['Subject']}", body, "utf-8", note)


def outlook_reply(lang: Language, note: EmailMessage, sender: str, name: str, text: str) -> bytes:
    """Outlook desktop: the new text, a rule and the localized header block, the original unquoted below."""
    subject = str(note["Subject"])
    block = "\n".join(outlook_block(lang.code, subject))
    body = f"{text}\n\n{block}\n\n{text_of(note)}\n"
    return encoded(sender, name, f"RE: {subject}", body, lang.legacy, note)


# ------------------------------------------------------------------ the test


def _contact(lang: Language) -> tuple[str, str]:
    """The corpus's customer of that language ("À : Marie Dupont <marie@client.example>"), at Acme."""
    to_line = outlook_block(lang.code, "")[3]
    match = re.search(r"[:：]\s*(.+?)\s*<([^@>]+)@", to_line)
    assert match, to_line
    return match.group(1), f"{match.group(2)}.{lang.code.lower()}@acme.example"


def _only_note(sink: Any, rcpt: str, event: str) -> EmailMessage:
    notes: list[EmailMessage] = [m.msg for m in sink.messages() if rcpt in m.rcpt_tos]
    assert [str(n["X-Maild-Event"]) for n in notes] == [event], f"{rcpt} received {len(notes)} notes"
    return notes[0]


def html_text(note: EmailMessage) -> str:
    """The HTML part's visible text, so the HTML a mail client shows first is checked as well."""
    part = note.get_body(preferencelist=("html",))
    assert part is not None, "notifications have an HTML part"
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", str(part.get_content()))).split())


def _assert_in_language(lang: Language, text: str, english: list[str]) -> None:
    if lang.code == "en":
        assert any(sentence in text for sentence in english), "the English template was used"
        return
    left = [sentence for sentence in english if sentence in text]
    assert not left, f"{lang.code}: English left in the notification: {left}\n{text}"


@pytest.mark.parametrize("lang", LANGUAGES, ids=[lang.code for lang in LANGUAGES])
def test_a_contact_works_a_case_in_their_language(
    lang: Language, env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    words = locale(lang.code)
    name, address = _contact(lang)
    env.ok(
        "contact",
        "add",
        address,
        "--account",
        "Acme",
        "--name",
        name,
        "--designated",
        "--language",
        lang.code,
    )

    # A new case with the severity tag and intake lines of the language, in its legacy charset.
    imap_box.append(encoded(address, name, f"{lang.tag} {lang.subject}", lang.body(), lang.opening))
    env.run_once()
    (listed,) = env.cases()
    number = listed["number"]
    case = env.case(number)
    assert case["subject"] == lang.subject, "the tag is read and taken off the subject"
    assert case["severity"] == lang.severity
    assert case["primary_contact"] == address
    assert lang.description in case["description"]
    assert case["fields"] == {key: value for key, (_label, value) in lang.fields.items()}

    # The acknowledgement in the contact's language.
    ack = _only_note(smtp_sink, address, "case_opened")
    ack_text = text_of(ack)
    assert f"[Case #{number}] {lang.subject}" in str(ack["Subject"])
    assert words["severity"][str(lang.severity)] in ack_text, "the severity's name in the language"
    assert words["field_labels"]["business_impact"] in ack_text, "the fields under the language's labels"
    assert lang.fields["business_impact"][1] in ack_text
    _assert_in_language(lang, ack_text, ACK_ENGLISH)
    _assert_in_language(lang, html_text(ack), ACK_ENGLISH)
    assert words["severity"][str(lang.severity)] in html_text(ack)

    # A reply as Gmail writes it: UTF-8, localized attribution, the acknowledgement quoted.
    first = new_text(lang.code, "01-gmail")
    smtp_sink.clear()
    imap_box.append(gmail_reply(lang, ack, address, name, first))
    env.run_once()
    bodies = [c["body"].strip() for c in env.case(number)["comments"]]
    assert bodies == [first], f"{lang.code} Gmail reply: only the new text"

    # The agent answers; the contact reads it in their language.
    question = agent_question(lang.code)
    env.ok("case", "reply", number, "--as", AGENT, "--body", question)
    env.run_once()
    answer = _only_note(smtp_sink, address, "comment_added")
    answer_text = text_of(answer)
    assert question in answer_text
    assert words["status"]["in_progress"] in answer_text
    assert words["severity"][str(lang.severity)] in answer_text
    _assert_in_language(lang, answer_text, COMMENT_ENGLISH)
    _assert_in_language(lang, html_text(answer), COMMENT_ENGLISH)
    assert question in html_text(answer)

    # A reply to that answer as Outlook desktop writes it: legacy charset, localized header block.
    second = new_text(lang.code, "16-gmail-charset")
    smtp_sink.clear()
    imap_box.append(outlook_reply(lang, answer, address, name, second))
    env.run_once()
    comments = env.case(number)["comments"]
    assert [(c["author"], c["body"].strip()) for c in comments] == [
        (address, first),
        (AGENT, question),
        (address, second),
    ], f"{lang.code} Outlook reply in {lang.legacy}: only the new text"
    assert env.case(number)["status"] == "in_progress"
