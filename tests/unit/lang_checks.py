"""What every language's notification tests share: the strict composer, the markup probe, HTML reading.

The per-language checks live in lang_checks_<family>.py as base classes
whose tests read their phrases from a subclass in test_lang_<code>.py; this
module holds only what all of those families use, so a change to how a
test renders or reads HTML is made once.
"""

from __future__ import annotations

import html as entities
import re

import pytest

from maild.outbound.compose import Composer

SCRIPT = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
_TAG = re.compile(r"<[^<>]*>")  # our own HTML only, never a mail: no backtracking either way


def untagged(html: str) -> str:
    """The HTML with its tags dropped but its entities kept, to find escaped text between the markup."""
    return _TAG.sub("", html)


def words(html: str) -> str:
    """What a reader of the HTML part sees: tags dropped, entities read, spaces collapsed."""
    return " ".join(entities.unescape(untagged(html)).split())


class StrictComposer:
    """One strict Composer per class for every language's checks: a template typo fails, never falls back."""

    @pytest.fixture(scope="class")
    @classmethod
    def strict(cls) -> Composer:
        return Composer([], strict=True)
