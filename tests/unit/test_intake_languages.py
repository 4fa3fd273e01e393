"""New cases in the twelve languages of SPEC §12: intake labels, severity and topic read from each.

One realistic new case per language, written the way a customer of that
language writes it (several label synonyms across the file, full-width
colons in Chinese, the French space before the colon), plus the words that
must not be read: forwarded-message headers ("Sujet :", "Тема:", "主题：")
and Outlook's importance line, which are not a topic or a severity.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from maild.inbound.intake import SeverityChoice, clean_subject, read_fields, read_severity, strip_severity_tag
from maild.inbound.intake_words import intake_words, normalize_label
from maild.inbound.topics import read_topic, strip_topic_tag
from maild.locales import locales

LANGUAGES = ("en", "ja", "zh-CN", "zh-TW", "ko", "fr", "de", "es", "it", "pt-BR", "nl", "ru")


@dataclass(frozen=True)
class NewCase:
    code: str
    subject: str  # with a severity tag: 2
    body: str  # labelled lines, a severity line (3) and a topic line
    fields: dict[str, str]
    clean: str  # the case subject once the tags are gone
    topic_tag: str  # a subject tag giving the topic "Billing"


CASES = [
    NewCase(
        "en",
        "[Severity: 2] Login fails for all users",
        "Hello,\n\nCategory: Authentication\nSeverity: 3\nWhen did the issue occur? 2026-11-21 09:40\n"
        "Business impact: sales cannot work\nNumber of users affected: 120\nWorkaround: none\n"
        "Organization ID: 00D5g000004\nUser name: ops@example.com\n",
        {
            "business_impact": "sales cannot work",
            "users_affected": "120",
            "workaround": "none",
            "org_id": "00D5g000004",
            "username": "ops@example.com",
        },
        "Login fails for all users",
        "[Topic: Billing]",
    ),
    NewCase(
        "ja",
        "【重要度：２】ログインできない",
        "お世話になっております。\n\nトピック：認証\n重要度：３\n発生日時：2026-11-21 09:40\n"
        "【業務への影響】営業部門が業務を行えません\n影響ユーザー数：120名\n回避策：なし\n組織ID：00D5g000004\n",
        {
            "occurred_at": "2026-11-21 09:40",
            "business_impact": "営業部門が業務を行えません",
            "users_affected": "120名",
            "workaround": "なし",
            "org_id": "00D5g000004",
        },
        "ログインできない",
        "[トピック：Billing]",
    ),
    NewCase(
        "zh-CN",
        "[严重性：2] 所有用户无法登录",
        "您好，\n\n问题类别：认证\n严重程度：3\n发生时间：2026-11-21 09:40\n业务影响：销售部门无法工作\n"
        "受影响用户数：120\n临时解决办法：无\n组织 ID：00D5g000004\n",
        {
            "occurred_at": "2026-11-21 09:40",
            "business_impact": "销售部门无法工作",
            "users_affected": "120",
            "workaround": "无",
            "org_id": "00D5g000004",
        },
        "所有用户无法登录",
        "【类别：Billing】",
    ),
    NewCase(
        "zh-TW",
        "【嚴重性2】所有使用者無法登入",
        "您好：\n\n類別：驗證\n嚴重程度：3\n發生時間：2026-11-21 09:40\n對業務的影響：業務部門無法作業\n"
        "受影響使用者數：120\n暫時解決方案：無\n使用者名稱：ops@example.com\n",
        {
            "occurred_at": "2026-11-21 09:40",
            "business_impact": "業務部門無法作業",
            "users_affected": "120",
            "workaround": "無",
            "username": "ops@example.com",
        },
        "所有使用者無法登入",
        "［分類：Billing］",
    ),
    NewCase(
        "ko",
        "[심각도: 2] 모든 사용자가 로그인할 수 없습니다",
        "안녕하세요.\n\n카테고리: 인증\n심각도: 3\n발생 일시: 2026-11-21 09:40\n"
        "비즈니스 영향: 영업팀이 업무를 할 수 없습니다\n"
        "영향받는 사용자 수: 120명\n우회 방법: 없음\n조직 ID: 00D5g000004\n",
        {
            "occurred_at": "2026-11-21 09:40",
            "business_impact": "영업팀이 업무를 할 수 없습니다",
            "users_affected": "120명",
            "workaround": "없음",
            "org_id": "00D5g000004",
        },
        "모든 사용자가 로그인할 수 없습니다",
        "[주제: Billing]",
    ),
    NewCase(
        "fr",
        "[Gravité : 2] Impossible de se connecter",
        "Bonjour,\n\nCatégorie : Authentification\nGravité : 3\n"
        "Date et heure de l’incident : 21/11/2026 09h40\n"
        "Impact métier : les commerciaux ne peuvent plus travailler\nNombre d’utilisateurs concernés : 120\n"
        "Solution de contournement : aucune\nÉtapes pour reproduire :\n1. Ouvrir la page de connexion\n"
        "2. Saisir son mot de passe\n\nCordialement,\n",
        {
            "occurred_at": "21/11/2026 09h40",
            "business_impact": "les commerciaux ne peuvent plus travailler",
            "users_affected": "120",
            "workaround": "aucune",
            "steps_to_reproduce": "1. Ouvrir la page de connexion\n2. Saisir son mot de passe",
        },
        "Impossible de se connecter",
        "[Thème : Billing]",
    ),
    NewCase(
        "de",
        "[Schweregrad 2] Anmeldung schlägt fehl",
        "Hallo zusammen,\n\nKategorie: Authentifizierung\nSchweregrad: 3\nAufgetreten am: 21.11.2026 09:40\n"
        "Auswirkung auf das Geschäft: Vertrieb kann nicht arbeiten\nAnzahl betroffener Benutzer: 120\n"
        "Workaround: keiner\nOrganisations-ID: 00D5g000004\nBenutzername: ops@example.com\n",
        {
            "occurred_at": "21.11.2026 09:40",
            "business_impact": "Vertrieb kann nicht arbeiten",
            "users_affected": "120",
            "workaround": "keiner",
            "org_id": "00D5g000004",
            "username": "ops@example.com",
        },
        "Anmeldung schlägt fehl",
        "[Thema: Billing]",
    ),
    NewCase(
        "es",
        "[Severidad: 2] No se puede iniciar sesión",
        "Hola:\n\nCategoría: Autenticación\nGravedad: 3\n¿Cuándo ocurrió? : 21/11/2026 09:40\n"
        "Impacto en el negocio: ventas no puede trabajar\nUsuarios afectados: 120\n"
        "Solución temporal: ninguna\n"
        "Nombre de usuario: ops@example.com\n",
        {
            "occurred_at": "21/11/2026 09:40",
            "business_impact": "ventas no puede trabajar",
            "users_affected": "120",
            "workaround": "ninguna",
            "username": "ops@example.com",
        },
        "No se puede iniciar sesión",
        "[Tema: Billing]",
    ),
    NewCase(
        "it",
        "[Gravità: 2] Impossibile accedere",
        "Buongiorno,\n\nArgomento: Autenticazione\nSeverità: 3\nData e ora: 21/11/2026 09:40\n"
        "Impatto sul business: le vendite sono ferme\nNumero di utenti coinvolti: 120\n"
        "Soluzione temporanea: nessuna\nID organizzazione: 00D5g000004\n",
        {
            "occurred_at": "21/11/2026 09:40",
            "business_impact": "le vendite sono ferme",
            "users_affected": "120",
            "workaround": "nessuna",
            "org_id": "00D5g000004",
        },
        "Impossibile accedere",
        "[Categoria: Billing]",
    ),
    NewCase(
        "pt-BR",
        "[Severidade: 2] Não é possível fazer login",
        "Olá,\n\nCategoria: Autenticação\nGravidade: 3\nOcorreu em: 21/11/2026 09:40\n"
        "Impacto no negócio: a equipe de vendas está parada\nUsuários afetados: 120\n"
        "Solução de contorno: nenhuma\nNome de usuário: ops@example.com\n",
        {
            "occurred_at": "21/11/2026 09:40",
            "business_impact": "a equipe de vendas está parada",
            "users_affected": "120",
            "workaround": "nenhuma",
            "username": "ops@example.com",
        },
        "Não é possível fazer login",
        "[Tópico: Billing]",
    ),
    NewCase(
        "nl",
        "[Ernst: 2] Inloggen mislukt",
        "Beste support,\n\nCategorie: Authenticatie\nErnst: 3\nTijdstip: 21-11-2026 09:40\n"
        "Impact op de bedrijfsvoering: verkoop kan niet werken\nAantal getroffen gebruikers: 120\n"
        "Tijdelijke oplossing: geen\nOrganisatie-ID: 00D5g000004\n",
        {
            "occurred_at": "21-11-2026 09:40",
            "business_impact": "verkoop kan niet werken",
            "users_affected": "120",
            "workaround": "geen",
            "org_id": "00D5g000004",
        },
        "Inloggen mislukt",
        "[Thema: Billing]",
    ),
    NewCase(
        "ru",
        "[Критичность: 2] Не удаётся войти в систему",
        "Здравствуйте!\n\nКатегория: Аутентификация\nСерьёзность: 3\n"
        "Дата и время возникновения: 21.11.2026 09:40\n"
        "Влияние на бизнес: отдел продаж не может работать\nКоличество затронутых пользователей: 120\n"
        "Обходное решение: нет\nИмя пользователя: ops@example.com\n",
        {
            "occurred_at": "21.11.2026 09:40",
            "business_impact": "отдел продаж не может работать",
            "users_affected": "120",
            "workaround": "нет",
            "username": "ops@example.com",
        },
        "Не удаётся войти в систему",
        "[Категория: Billing]",
    ),
]


def test_every_language_has_a_case_and_a_table() -> None:
    assert tuple(c.code for c in CASES) == LANGUAGES
    assert set(intake_words().languages) == set(LANGUAGES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.code)
def test_a_new_case_in_each_language(case: NewCase) -> None:
    assert read_fields(case.body) == case.fields
    # The subject tag is where the customer stated it; the body line only counts without one.
    assert read_severity(case.subject, case.body, 4) == SeverityChoice(2, "subject", None)
    assert read_severity(case.clean, case.body, 4) == SeverityChoice(3, "body", None)
    assert clean_subject(strip_severity_tag(case.subject)) == case.clean
    assert read_topic(case.clean, case.body) not in (None, "Billing")
    assert read_topic(f"{case.topic_tag} {case.clean}", case.body) == "Billing"
    assert strip_topic_tag(f"Re: {case.topic_tag} {case.clean}") == f"Re: {case.clean}"


@pytest.mark.parametrize(
    ("subject", "value"),
    [
        ("[Sévérité 1] x", 1),
        ("[GRAVITÉ-4] x", 4),
        ("[Kritikalität: 1] x", 1),
        ("[Fehlerklasse 2] x", 2),
        ("[Severità：３] x", 3),
        ("【严重级别１】 x", 1),
        ("[嚴重程度：4] x", 4),
        ("[심각도1] x", 1),
        ("[Ernstniveau 2] x", 2),
        ("[Nível de severidade: 3] x", 3),
        ("[Серьезность 1] x", 1),
        ("[severidad-2] x", 2),
    ],
)
def test_severity_tags_in_every_language(subject: str, value: int) -> None:
    assert read_severity(subject, "", 4) == SeverityChoice(value, "subject", None)
    assert strip_severity_tag(subject) == "x"


@pytest.mark.parametrize(
    ("subject", "body", "invalid"),
    [
        # Words are not values in any language, as in English ("[Sev high]"): only 1-4.
        ("[Gravité haute] x", "", "haute"),
        ("[严重性高] x", "", "高"),
        ("x", "Schweregrad: hoch", "hoch"),
        ("x", "Критичность: высокая", "высокая"),
        ("x", "심각도: 7", "7"),
    ],
)
def test_severity_words_are_reported_invalid(subject: str, body: str, invalid: str) -> None:
    assert read_severity(subject, body, 3) == SeverityChoice(3, "default", invalid)


@pytest.mark.parametrize(
    "body",
    [
        "Importance : Haute",  # Outlook's forwarded-header importance, not a severity
        "Wichtigkeit: Hoch",
        "Важность: Высокая",
        "重要性：高",
        "중요도: 높음",
        "> Gravité : 1",  # quoted
        "La gravité : elle est grande",  # not at the start of the line
    ],
)
def test_lines_that_are_not_a_severity(body: str) -> None:
    assert read_severity("x", body, 3) == SeverityChoice(3, "default", None)


@pytest.mark.parametrize(
    "body",
    [
        "-------- Message transféré --------\nSujet : Re: facture\nDe : a@example.com\n",
        "Von: a@example.com\nBetreff: Rechnung\n",
        "От: a@example.com\nТема: Счёт\n",
        "发件人：a@example.com\n主题：发票\n",
        "보낸 사람: a@example.com\n제목: 청구서\n",
        "De: a@example.com\nAssunto: Fatura\n",
        "Van: a@example.com\nOnderwerp: Factuur\n",
    ],
)
def test_a_forwarded_subject_line_is_not_a_topic(body: str) -> None:
    assert read_topic("x", body) is None


def test_every_new_language_gives_several_labels_per_field_and_its_own_words() -> None:
    import tomllib
    from importlib import resources

    fields = set(locales()["en"].field_labels)
    for code in LANGUAGES[2:]:
        text = resources.files("maild.locales").joinpath("intake", f"{code}.toml").read_text(encoding="utf-8")
        table = tomllib.loads(text)
        assert set(table["fields"]) == fields, code
        assert all(len(labels) >= 2 for labels in table["fields"].values()), code
        assert table["severity"]["words"] and table["topic"]["words"], code


def test_the_acknowledgement_labels_are_read_back_in_every_language() -> None:
    """A customer who copies the labels maild sent them into a new case is understood."""
    for code, table in locales().items():
        body = "\n".join(f"{label}: value of {field}" for field, label in table.field_labels.items())
        expected = {field: f"value of {field}" for field in table.field_labels}
        assert read_fields(body) == expected, code


def test_labels_are_normalised_before_lookup() -> None:
    labels = intake_words().field_labels
    assert labels[normalize_label("Nom d’utilisateur")] == "username"
    assert labels[normalize_label("¿Cuándo ocurrió?")] == "occurred_at"
    assert labels[normalize_label("**GESCHÄFTLICHE  AUSWIRKUNGEN**")] == "business_impact"
    assert labels[normalize_label("組織ＩＤ")] == "org_id"
    assert read_fields("- **Impact métier :** fort\n") == {"business_impact": "fort"}
    assert read_fields("【业务影响】：严重\n") == {"business_impact": "严重"}


HUGE = 1_000_000


@pytest.mark.parametrize(
    "text",
    [
        "Impact métier " * (HUGE // 14),
        "Impact métier :" * (HUGE // 15),
        "业务影响" * (HUGE // 4) + "：x",
        "[Gravité " * (HUGE // 9),
        "[严重性：" * (HUGE // 5),
        "[Серьёзность " + " " * HUGE + "1",
        "Schweregrad" + " " * HUGE + ":" + " " * HUGE + "x",
        "[Thème : " + "a" * HUGE,
        "Catégorie" + " " * HUGE + "x",
        "- " * (HUGE // 2) + "Gravité : 2",
    ],
    ids=range(10),
)
def test_hostile_label_like_lines_are_read_in_one_pass(text: str) -> None:
    """A megabyte of label-like text is just text: the patterns never backtrack over it."""
    assert set(read_fields(text)) <= {"business_impact"}
    choice = read_severity(text[:HUGE], text, 3)
    assert choice.value in (2, 3)
    assert read_topic(text, text) is None
    assert len(strip_severity_tag(text[: 32 * 1024])) <= 32 * 1024


@pytest.mark.parametrize(
    "body",
    [
        "原因：不明",  # "cause", not the reason for a date
        "Причина: неизвестна",
        "Datum: 21.11.2026",  # a forwarded header, not when it occurred
        "Date : 21/11/2026",
        "Remarque : l'impact métier est fort",  # prose with a colon
        "> Impact métier : fort",  # quoted
        "Impact métier",  # no colon
    ],
)
def test_lines_that_are_not_intake_fields(body: str) -> None:
    assert read_fields(body) == {}
