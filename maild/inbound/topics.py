"""A new case's topic, as its contact wrote it (SPEC §10).

The support process asks the customer to pick a topic ("the more precise
the selection, the faster you get help"); by email that is a subject tag
`[Topic: X]` / `[トピック: X]` / `[Kategorie: X]` (brackets ASCII, full-width or
【】) or a body line `Topic:` / `Category:` / `Thème :` / `类别：` near the top, in
any language of maild/locales/intake (the words are data: maild.inbound.intake_words). Which
team a topic means is maild.policy.teams'; here is only where it is written.
The subject tag is taken out of the case subject like the severity tag.

Pure functions of text: each pattern is possessive or bounded, so no mail
can make them backtrack.
"""

from __future__ import annotations

import re

from maild.inbound.intake_words import alternation, intake_words

__all__ = ["TOPIC_MAX", "read_topic", "strip_topic_tag"]

TOPIC_MAX = 200
_WORDS = intake_words().topic_words
_LABELS = rf"(?:{alternation(_WORDS)})"
# The value is bounded and cannot contain the closing bracket: each start costs at most 200 steps.
_TAG = re.compile(rf"[\[［【]\s*+{_LABELS}\s*+[:：]\s*+([^\]］】\n]{{1,{TOPIC_MAX}}})[\]］】]", re.IGNORECASE)
_BODY_LABELS = frozenset(_WORDS)
_BULLET = "-*•・■◆● \t"
_TOP_LINES = 60  # a topic line is near the top of a new case, not in a quoted history


def _clean(value: str) -> str | None:
    value = " ".join(value.split())[:TOPIC_MAX].strip()
    return value or None


def read_topic(subject: str, body: str) -> str | None:
    """The topic the contact gave: the subject tag first, else the first `Topic:` line of the body."""
    m = _TAG.search(subject[:2000])
    if m:
        return _clean(m.group(1))
    for line in body.splitlines()[:_TOP_LINES]:
        stripped = line.strip().lstrip(_BULLET)
        if stripped.startswith((">", "|")):
            continue
        # The first colon of either width ends the label: `トピック：Salesforce: Apex` keeps its value.
        cut = min((i for i in (stripped.find(":"), stripped.find("：")) if i >= 0), default=-1)
        if cut >= 0 and " ".join(stripped[:cut].lower().split()) in _BODY_LABELS:
            return _clean(stripped[cut + 1 :])
    return None


def strip_topic_tag(subject: str) -> str:
    """The subject without its `[Topic: X]` tag (and the space the tag leaves)."""
    return " ".join(_TAG.sub(" ", subject).split()) if _TAG.search(subject) else subject
