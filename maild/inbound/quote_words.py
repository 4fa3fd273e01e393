"""The words mail clients write above quoted history, per language, as data.

Kept apart from the matching rules in quotes.py so that a new language or
client is a new phrase here, not a new regex there. Every entry is a plain
phrase (escaped when compiled), so no entry can make a pattern backtrack.
Sources: what Gmail, Outlook (desktop and web), Apple Mail and Thunderbird
write in en, ja, zh-CN, zh-TW, ko, fr, de, es, it, pt-BR, nl, ru (plus the
Nordic, Polish and Czech forms the module already knew).
"""

from __future__ import annotations

# "-----Original Message-----", "-------- Message transféré --------": the
# words between the dashes of a separator line.
SEPARATOR_WORDS: tuple[str, ...] = (
    # en
    "Original Message",
    "Forwarded message",
    # fr
    "Message transféré",
    "Message d'origine",
    "Message original",
    # de
    "Ursprüngliche Nachricht",
    "Original-Nachricht",
    "Weitergeleitete Nachricht",
    # es
    "Mensaje original",
    "Mensaje reenviado",
    # it
    "Messaggio originale",
    "Messaggio inoltrato",
    # pt-BR
    "Mensagem original",
    "Mensagem encaminhada",
    # nl
    "Oorspronkelijk bericht",
    "Origineel bericht",
    "Doorgestuurd bericht",
    # da, sv, pl
    "Oprindelig meddelelse",
    "Videresendt meddelelse",
    "Ursprungligt meddelande",
    "Vidarebefordrat meddelande",
    "Wiadomość oryginalna",
    # ru, uk
    "Исходное сообщение",
    "Пересылаемое сообщение",
    "Перенаправленное сообщение",
    "Оригінальне повідомлення",
    # ja
    "元のメッセージ",
    "転送メッセージ",
    "転送されたメッセージ",
    # zh-CN
    "原始邮件",
    "原始消息",
    "转发的邮件",
    "转发的消息",
    # zh-TW
    "原始郵件",
    "原始訊息",
    "轉寄的郵件",
    "轉寄的訊息",
    # ko
    "원본 메시지",
    "전달된 메시지",
    "전달된 메일",
)

# Apple Mail's forward line, "Begin forwarded message:", alone on its line.
FORWARD_OPENERS: tuple[str, ...] = (
    "Begin forwarded message",
    "Début du message réexpédié",
    "Début du message transféré",
    "Anfang der weitergeleiteten Nachricht",
    "Inicio del mensaje reenviado",
    "Comienzo del mensaje reenviado",
    "Inizio messaggio inoltrato",
    "Início da mensagem encaminhada",
    "Início da mensagem reencaminhada",
    "Begin doorgestuurd bericht",
    "Начало переадресованного сообщения",
    "Начало пересылаемого сообщения",
    "転送されたメッセージ",
    "以下是转发的邮件",
    "转发的邮件",
    "以下為轉寄的郵件",
    "轉寄的郵件",
    "전달된 메일",
    "전달된 메시지",
)

# The verb that ends an attribution line ("... wrote:").
WROTE_VERBS: tuple[str, ...] = (
    "wrote",
    "writes",
    "a écrit",
    "escribió",
    "ha scritto",
    "schrieb",
    "schreef",
    "geschreven",
    "skrev",
    "napisał",
    "napisał(a)",
    "napsal",
    "napsal(a)",
    "написал",
    "написала",
    "написали",
    "написал(а)",
    "написав",
    "писал",
    "писала",
    "писали",
    "пишет",
    "пише",
    "写道",
    "寫道",
    "のメッセージ",
    "書きました",
    "작성하였습니다",
    "작성",
    "쓴 글",
    "escreveu",
    "kirjoitti",
    "yazdı",
    "írta",
    "scrisse",
)

# The first key of an Outlook-style header block ("From:").
FROM_KEYS: tuple[str, ...] = (
    "from",
    "差出人",
    "送信者",
    "送信元",
    "von",
    "de",
    "van",
    "fra",
    "från",
    "od",
    "da",
    "mittente",
    "от",
    "від",
    "发件人",
    "寄件者",
    "寄件人",
    "보낸 사람",
    "보낸사람",
    "lähettäjä",
    "kimden",
    "feladó",
)

# The other keys of such a block (Sent:, Date:, To:, Subject:, Cc:).
OTHER_KEYS: tuple[str, ...] = (
    # en
    "sent",
    "date",
    "to",
    "subject",
    "cc",
    "bcc",
    "reply-to",
    # ja
    "送信日時",
    "送信日",
    "日時",
    "日付",
    "宛先",
    "件名",
    # de
    "gesendet",
    "datum",
    "an",
    "betreff",
    # fr
    "envoyé",
    "à",
    "objet",
    "sujet",
    "pour",
    # es
    "enviado",
    "enviado el",
    "fecha",
    "para",
    "asunto",
    # it
    "inviato",
    "data",
    "a",
    "oggetto",
    # pt-BR
    "assunto",
    # nl
    "verzonden",
    "aan",
    "onderwerp",
    # da, sv, pl
    "sendt",
    "til",
    "emne",
    "skickat",
    "till",
    "ämne",
    "wysłano",
    "do",
    "temat",
    # ru, uk
    "отправлено",
    "дата",
    "кому",
    "тема",
    "копия",
    "надіслано",
    # zh-CN
    "发送时间",
    "日期",
    "收件人",
    "主题",
    "抄送",
    # zh-TW
    "寄件日期",
    "收件者",
    "主旨",
    "副本",
    # ko
    "보낸 날짜",
    "날짜",
    "받는 사람",
    "받는사람",
    "제목",
    "참조",
)

# Mobile footers that are not already covered by a general rule in quotes.py.
FOOTERS: tuple[str, ...] = (
    "나의 iPhone에서 보냄",
    "나의 iPad에서 보냄",
    "Samsung Galaxy 스마트폰에서 보냄",
)
