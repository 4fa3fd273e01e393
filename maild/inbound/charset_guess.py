"""Which of several candidate decodings of mail bytes reads like real text.

A single-byte charset decodes any bytes, so Windows-1251 Russian labelled
ISO-8859-1 "succeeds" as "Çäðàâñòâóéòå", and KOI8-R read as Windows-1251
gives "зДРАВСТВУЙТЕ". Strict decoding cannot catch these; a plausibility
score can. `badness` counts, in one linear pass over a bounded prefix,
what real text in the languages mail is written in does not do:

* letters of two scripts touching (Latin next to Cyrillic, Cyrillic next
  to Han), and symbols wedged between letters ("Za¿ó³æ", "Мо╓");
* lower case followed by upper case inside a word ("пРИВЕТ");
* a Latin word made only of accented letters ("Ïâàí");
* accented letters that no one language's alphabet holds together (Czech
  read as Windows-1252 mixes ø with è and ù);
* control characters, replacement characters, unassigned code points,
  the currency sign ¤ (ISO-8859-15's € read as ISO-8859-1), half-width
  katakana and Han or Hangul outside the common national sets (what
  single-byte text turns into when read as a CJK codec).

Lower is better; 0 means nothing suspicious. Pure and table-driven: no
regular expressions, no external detector, bounded work per call.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

# Characters of a decoding that are scored; the rest of a long part is
# judged by its beginning, which keeps the work per part bounded.
SCORE_LIMIT = 4096

# Single-byte codecs that stand in for one another when a label lies, and
# the multi-byte ones an unlabelled part may be in. Order breaks ties.
SINGLE_BYTE = ("cp1252", "iso8859_15", "cp1250", "iso8859_2", "cp1251", "koi8_r", "koi8_u", "iso8859_5")
MULTI_BYTE = ("gb18030", "big5hkscs", "cp949", "cp932", "euc_jp")
# Greek last: Windows-1251 Russian reads as plausible Greek too (same case layout).
UNLABELLED = ("cp1252", *MULTI_BYTE, *SINGLE_BYTE[1:], "cp1253")

_LATIN_ALPHABETS = (
    "àâæçéèêëîïôœùûüÿ",  # French
    "äöüßé",  # German (with the loanword é)
    "áéíñóúü",  # Spanish
    "àèéìíîòóù",  # Italian
    "áâãàçéêíóôõúü",  # Portuguese
    "áéíóúàèëïöüĳ",  # Dutch
    "àçèéíïòóú·",  # Catalan
    "ąćęłńóśźż",  # Polish
    "áčďéěíňóřšťúůýž",  # Czech
    "áäčďéíĺľňóôŕšťúýž",  # Slovak
    "áéíóöőúüű",  # Hungarian
    "ăâîșțşţ",  # Romanian
    "čćđšž",  # Croatian, Slovene, Bosnian
    "åäöéæø",  # Scandinavian
    "äöåšž",  # Finnish, Estonian (õ below)
    "äöõüšž",  # Estonian
    "áðéíóúýþæö",  # Icelandic
    "çğıöşüâî",  # Turkish
)
_CYRILLIC_ALPHABETS = (
    "абвгдежзийклмнопрстуфхцчшщъыьэюяё",  # Russian
    "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя",  # Ukrainian
    "абвгдежзийклмнопрстуфхцчшщъьюя",  # Bulgarian
    "абвгдђежзијклљмнњопрстћуфхцчџш",  # Serbian
    "абвгдѓежзѕијклљмнњопрстќуфхцчџш",  # Macedonian
    "абвгдеёжзійклмнопрстуўфхцчшыьэюя",  # Belarusian
)
# Punctuation that real words contain: the typographic apostrophe (don’t,
# l’œuvre), the Catalan middle dot (col·lecció), hyphens.
_IN_WORD = frozenset("\u2019\u2018\u02bc\u00b7\u2010\u2011")
# Accented words of one letter that languages written in Latin have (à, è, é, ó, ô, ù ...).
_ONE_LETTER_WORDS = frozenset("àáèéìíòóôùú")
_LATIN_SETS = tuple(frozenset(alphabet) for alphabet in _LATIN_ALPHABETS)
_CYRILLIC_SETS = tuple(frozenset(alphabet) for alphabet in _CYRILLIC_ALPHABETS)

_CONTROL, _REPLACEMENT, _ODD_SYMBOL, _WEDGED, _SCRIPT_MIX, _CASE_FLIP = 5, 5, 3, 3, 2, 3
_ALL_ACCENTED, _ODD_SINGLE, _STRAY_LETTER, _RARE_CJK, _HALFWIDTH = 2, 3, 2, 1, 2


def _decoded_table(codec: str, leads: Iterable[int], trails: Iterable[int]) -> frozenset[str]:
    """The characters one block of a national double-byte set holds: its common characters."""
    chars: set[str] = set()
    trail_list = list(trails)
    for lead in leads:
        for trail in trail_list:
            try:
                chars.add(bytes((lead, trail)).decode(codec))
            except UnicodeDecodeError:
                continue
    return frozenset(chars)


def _common_cjk() -> frozenset[str]:
    """GB2312 level 1, Big5 level 1, JIS X 0208 level 1 kanji and KS X 1001 Hangul.

    Real Chinese, Japanese and Korean text is made almost entirely of these;
    bytes of another charset read as a CJK codec land outside them often.
    """
    high = range(0xA1, 0xFF)
    return (
        _decoded_table("gb2312", range(0xB0, 0xD8), high)
        | _decoded_table("big5", range(0xA4, 0xC7), [*range(0x40, 0x7F), *high])
        | _decoded_table("euc_jp", range(0xB0, 0xD0), high)
        | _decoded_table("euc_kr", range(0xB0, 0xC9), high)
    )


_COMMON_CJK = _common_cjk()
# JIS X 0208 level 1, the common kanji: Han characters in text with kana are mostly these.
_JIS_KANJI = _decoded_table("euc_jp", range(0xB0, 0xD0), range(0xA1, 0xFF))


def _script(char: str) -> str:
    """A coarse script name for a letter: the granularity mislabelled text mixes at."""
    code = ord(char)
    if code < 0x250 or 0x1E00 <= code < 0x1F00:
        return "latin"
    if 0x400 <= code < 0x530:
        return "cyrillic"
    if 0xFF61 <= code <= 0xFF9F:
        return "halfwidth"
    if 0x3040 <= code < 0x3100 or 0x3400 <= code < 0xA000 or 0xF900 <= code < 0xFB00 or code >= 0x20000:
        return "cjk"
    if 0xAC00 <= code < 0xD7B0 or 0x1100 <= code < 0x1200 or 0x3130 <= code < 0x3190:
        return "hangul"
    return "other"


def _letter_cost(char: str, script: str) -> int:
    """What one non-ASCII letter costs on its own."""
    if script == "halfwidth":
        return _HALFWIDTH
    if script in ("cjk", "hangul"):
        is_kana = 0x3040 <= ord(char) < 0x3100
        return 0 if is_kana or char in _COMMON_CJK else _RARE_CJK
    return 0


def _char_cost(char: str, category: str) -> int:
    """What one non-ASCII character that is not a letter costs on its own."""
    if char == "\ufffd":
        return _REPLACEMENT
    if category in ("Cc", "Co", "Cn", "Cs"):
        return _CONTROL
    if char == "\xa4" or 0x2500 <= ord(char) < 0x25A0:
        return _ODD_SYMBOL
    return 0


def _alphabet_misses(letters: set[str], alphabets: tuple[frozenset[str], ...]) -> int:
    """Letters that the best-fitting alphabet of their script lacks."""
    if not letters:
        return 0
    return min(len(letters - alphabet) for alphabet in alphabets)


class _Word:
    """The state of the word being scanned."""

    __slots__ = ("ascii", "last", "length", "lower", "script")

    def __init__(self) -> None:
        self.last = ""
        self.ascii = False
        self.length = 0
        self.script = ""
        self.lower = False


def badness(text: str) -> int:
    """How implausible `text` is as human writing; 0 when nothing is suspicious."""
    text = text[:SCORE_LIMIT]
    cost = 0
    latin: set[str] = set()
    cyrillic: set[str] = set()
    word = _Word()
    previous_letter = False
    for index, char in enumerate(text):
        if char.isascii():
            if char.isalpha():
                cost += _letter_step(word, char, "latin")
                word.ascii = True
                previous_letter = True
            else:
                cost += _end_word(word)
                previous_letter = False
            continue
        category = unicodedata.category(char)
        if category[0] == "L":
            script = _script(char)
            cost += _letter_cost(char, script) + _letter_step(word, char, script)
            lowered = char.lower()
            if script == "latin":
                latin.add(lowered)
            elif script == "cyrillic":
                cyrillic.add(lowered)
            previous_letter = True
            continue
        if category[0] == "M":
            continue
        cost += _char_cost(char, category)
        wedge = previous_letter and category[0] in "SPN" and char not in _IN_WORD
        if wedge and index + 1 < len(text) and text[index + 1].isalpha():
            cost += _WEDGED
        cost += _end_word(word)
        previous_letter = False
    cost += _end_word(word) + _spaced_han(text) + _kana_with_foreign_han(text)
    return cost + _STRAY_LETTER * (
        _alphabet_misses(latin, _LATIN_SETS) + _alphabet_misses(cyrillic, _CYRILLIC_SETS)
    )


def _letter_step(word: _Word, char: str, script: str) -> int:
    """Extend the current word by one letter; the cost of how it joins the previous one."""
    cost = 0
    if word.length and script != word.script:
        cost += _touch_cost(word.script, script)
    if word.length and word.lower and char.isupper() and (not char.isascii() or not word.ascii):
        cost += _CASE_FLIP
    word.length += 1
    word.last = char
    word.script = script
    word.lower = char.islower()
    return cost


def _touch_cost(left: str, right: str) -> int:
    """What two different scripts cost written next to each other without a space.

    Han or Hangul next to Latin is ordinary ("iPhone手机"); Han next to
    Hangul happens in older Korean but is what Chinese read as EUC-KR
    looks like, so it costs a little; anything else is mojibake.
    """
    pair = {left, right}
    if pair == {"cjk", "hangul"}:
        return 1
    if pair in ({"cjk", "latin"}, {"hangul", "latin"}):
        return 0
    return _SCRIPT_MIX


def _kana_with_foreign_han(text: str) -> int:
    """Han characters outside JIS level 1 in text with kana: EUC-JP read as GBK looks like that."""
    kana = foreign = 0
    for char in text:
        code = ord(char)
        if 0x3041 <= code < 0x3100:
            kana += 1
        elif 0x4E00 <= code < 0xA000 and char not in _JIS_KANJI:
            foreign += 1
    return foreign if kana else 0


def _spaced_han(text: str) -> int:
    """Han characters separated by spaces: Chinese and Japanese do not, EUC-KR Korean read as GBK does."""
    count = 0
    after_han = spaced = False
    for char in text:
        if char == " ":
            spaced = after_han
        elif _script(char) == "cjk" and not 0x3040 <= ord(char) < 0x3100:
            count += after_han and spaced
            after_han, spaced = True, False
        elif char.isalpha():
            after_han = spaced = False
    return count


def _end_word(word: _Word) -> int:
    """Close the current word; a Latin word of accented letters only costs, unless a usual one-letter word.

    ("Ïâàí" is Windows-1251 read as Latin-1; "non č stata" is Italian read as Windows-1250.)
    """
    accented = word.script == "latin" and not word.ascii
    odd_single = word.length == 1 and word.last.lower() not in _ONE_LETTER_WORDS
    cost = 0
    if accented and word.length >= 3:
        cost = _ALL_ACCENTED
    elif accented and odd_single:
        cost = _ODD_SINGLE
    word.ascii = False
    word.length = 0
    word.script = ""
    word.lower = False
    return cost


def strict(data: bytes, codec: str) -> str | None:
    """`data` decoded by `codec`, or None when the codec refuses the bytes."""
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def best_decoding(
    data: bytes, codecs: Iterable[str], label_text: str | None = None
) -> tuple[str, str] | None:
    """(codec, text) of the most plausible strict decoding, or None when no codec decodes the bytes.

    `label_text` is what the label's own codec gave: it is kept unless a
    candidate is clearly better (the label scores at least twice the
    candidate's score plus 3: one foreign letter in a text, say a Spanish
    ó in French, is not enough), because a label is usually right and
    short texts are ambiguous.
    """
    label_score = badness(label_text) if label_text is not None else None
    if label_score == 0:
        return None
    best: tuple[int, str, str] | None = None
    for codec in codecs:
        text = strict(data, codec)
        if text is None:
            continue
        score = badness(text)
        if best is None or score < best[0]:
            best = (score, codec, text)
        if score == 0:
            break
    if best is None:
        return None
    if label_score is not None and 2 * best[0] + 3 > label_score:
        return None
    return best[1], best[2]
