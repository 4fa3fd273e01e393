"""The evidence maild reads a message's language from, as data (SPEC §12).

`maild.inbound.language` decides; this module only lists what it counts:
common function words of each Latin-script language maild speaks (articles,
pronouns, prepositions, greetings: the words every message has, whatever it
is about), the Chinese characters that only one of the two written forms
uses, and the charset labels that say which language a sender's mail
client was writing. Changing what maild recognises is changing a table here.
"""

from __future__ import annotations

__all__ = ["CHARSET_LANGUAGES", "LATIN_WORDS", "SIMPLIFIED_ONLY", "TRADITIONAL_ONLY", "WORD_LANGUAGES"]


def _words(text: str) -> frozenset[str]:
    """A table written as prose, one word per whitespace gap, so it reads like the language."""
    return frozenset(text.split())


# A few dozen function words per language, lower case. A word several
# languages share ("de", "la", "que") counts as a fraction for each.
LATIN_WORDS: dict[str, frozenset[str]] = {
    "en": _words(
        """the and is are was were be been you your we our us this that these those with for
        from have has had not please thanks thank can could would will should it its of to in on at
        there what when which who but or if an do does did my me hello hi regards sincerely dear
        any some about after since still also just get got"""
    ),
    "fr": _words(
        """le la les des du un une est et je vous nous pas pour que qui dans sur avec ce cette ces
        mais ou il elle ils sont merci bonjour cordialement avons avez notre nos votre vos ne au
        aux se plus très aussi depuis être été ai qu cela donc lors madame monsieur sommes fait
        peut toujours encore"""
    ),
    "de": _words(
        """der die das und ist nicht ich sie wir ein eine einen einem mit für auf den dem des zu
        von bitte danke haben hat wird werden sind auch es bei noch nach wie aber oder mein meine
        unser unsere ihr ihre ihnen guten tag grüße grüßen freundlichen kann können dass im vom
        zum zur seit immer wieder leider"""
    ),
    "es": _words(
        """el la los las de que y en un una es por para con no se su sus al del lo como pero más
        muy hola gracias saludos tenemos hemos estamos está están nuestro nuestra usted ustedes le
        desde cuando este esta puede ayuda estimados todavía también sigue pudieron"""
    ),
    "it": _words(
        """il lo la gli le di che e è un una per non con del della dei delle nel nella sono
        abbiamo grazie buongiorno saluti cordiali ci si ma anche questo questa nostro nostra
        vostro può come da al alla ho ha ancora sempre dopo gentili salve più"""
    ),
    "pt-BR": _words(
        """o a os as de que e do da dos das em no na nos um uma para com não se por mais muito
        obrigado obrigada olá bom dia atenciosamente você vocês estamos temos nosso nossa está são
        é ao pelo pela ainda também desde quando prezados tudo"""
    ),
    "nl": _words(
        """de het een en van is niet ik wij we u jij je dat die met voor op te zijn hebben heeft
        maar ook om bij naar er nog dank bedankt graag groet groeten vriendelijke alstublieft
        goedemiddag goedemorgen ons onze uw wordt kunnen kan sinds steeds geachte"""
    ),
}


def _by_word(tables: dict[str, frozenset[str]]) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for code, words in tables.items():
        for word in words:
            found[word] = (*found.get(word, ()), code)
    return found


# Each word with the languages that have it, built once.
WORD_LANGUAGES: dict[str, tuple[str, ...]] = _by_word(LATIN_WORDS)

# Common characters whose forms differ between traditional (zh-TW) and
# simplified (zh-CN) Chinese, as pairs in the same order. Simplified forms
# that are also ordinary traditional characters (后 系 云 台 干 里 只 面 准
# 几 着 余) are left out: they prove nothing.
_TRADITIONAL = (
    "這個們來說為會問題謝請時間發現開關過還對嗎點無與麼經進種樣當從應體務單號電話郵統辦處據數庫"
    "級錯誤測試線網絡戶帳碼錄頁顯載傳檔報嚴緊續幫讓給東見覺學習書長門車頭實際變動機構產業專復議"
    "論設計劃認識證驗態歡價費買賣錢銀聯預約內選擇項標確雖響場區國灣萬億員團隊組織舊歷壓寫讀記氣"
    "況狀總結維護順盡謹啟貴簡換禮資訊儲備廠"
)
_SIMPLIFIED = (
    "这个们来说为会问题谢请时间发现开关过还对吗点无与么经进种样当从应体务单号电话邮统办处据数库"
    "级错误测试线网络户帐码录页显载传档报严紧续帮让给东见觉学习书长门车头实际变动机构产业专复议"
    "论设计划认识证验态欢价费买卖钱银联预约内选择项标确虽响场区国湾万亿员团队组织旧历压写读记气"
    "况状总结维护顺尽谨启贵简换礼资讯储备厂"
)
# The subtraction guards the tables: a character typed into both proves nothing.
TRADITIONAL_ONLY = frozenset(_TRADITIONAL) - frozenset(_SIMPLIFIED)
SIMPLIFIED_ONLY = frozenset(_SIMPLIFIED) - frozenset(_TRADITIONAL)

# Charset labels (lower case, as declared) that only one language's mail clients write.
CHARSET_LANGUAGES: dict[str, str] = {
    "big5": "zh-TW",
    "big5-hkscs": "zh-TW",
    "cp950": "zh-TW",
    "x-x-big5": "zh-TW",
    "gb2312": "zh-CN",
    "gbk": "zh-CN",
    "x-gbk": "zh-CN",
    "gb18030": "zh-CN",
    "cp936": "zh-CN",
    "euc-cn": "zh-CN",
    "hz-gb-2312": "zh-CN",
    "iso-2022-jp": "ja",
    "shift_jis": "ja",
    "shift-jis": "ja",
    "x-sjis": "ja",
    "cp932": "ja",
    "windows-31j": "ja",
    "euc-jp": "ja",
    "euc-kr": "ko",
    "ks_c_5601-1987": "ko",
    "iso-2022-kr": "ko",
    "cp949": "ko",
    "koi8-r": "ru",
}
