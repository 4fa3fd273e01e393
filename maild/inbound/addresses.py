"""Address headers (From, Sender, Reply-To, To, Cc) split into mailboxes the way mail clients show them.

PURE. The sender maild acts for must be the address every mail client and
DMARC checker would show: the addr-spec inside the angle brackets, never an
address-looking display name, comment, group name or encoded-word before
it. Python 3.11's `email.utils.getaddresses` reads
`alice@acme.example <mallory@evil.example>` as two mailboxes, Alice first,
and `alice@acme.example (mallory@evil.example)` with the comment as the
name; `parseaddr(..., strict=True)` exists only in later patch releases. So
this is a small hand-written splitter, one pass over the characters
(linear time), following RFC 5322 §3.4 loosely where that is safe:

- mailboxes are separated by top-level commas (outside quoted strings,
  comments and angle brackets);
- `name: a, b;` is a group: its members are mailboxes of the list, and the
  list records that it had one;
- when a mailbox has angle brackets, its address is what the LAST top-level
  `<…>` holds (comments and surrounding whitespace removed, an obsolete
  route `@a,@b:` dropped); the rest, quoted strings unquoted, is the display
  name, still RFC 2047-encoded (the caller decodes it: an encoded-word is
  only ever a name);
- without angle brackets the address is the text outside comments;
  comments are never names or addresses;
- a mailbox whose address is empty, holds whitespace, control characters
  (C0, DEL, C1) or bidirectional formatting characters, or that has an
  unterminated quoted string, comment or angle bracket, or a `<` inside
  angle brackets, has no usable address (`Mailbox.addr` is "").

What a header may hold is the caller's rule: From and Sender are usable
only as exactly one plain mailbox (see `single_mailbox`).
"""

from __future__ import annotations

from dataclasses import dataclass

_SPACE = frozenset(" \t\r\n")
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True, slots=True)
class Mailbox:
    """One mailbox as written: `addr` is the addr-spec ("" when unusable), `name` the raw display name."""

    addr: str
    name: str = ""
    in_group: bool = False


@dataclass(frozen=True, slots=True)
class MailboxList:
    """The mailboxes of one or more header values, in order, and whether any group was seen."""

    mailboxes: tuple[Mailbox, ...]
    has_group: bool = False


def usable_address(addr: str) -> bool:
    """No whitespace, control characters (C0, DEL, C1) or bidi formatting characters, and not empty."""
    if not addr:
        return False
    for char in addr:
        code = ord(char)
        if code < 0x20 or 0x7F <= code <= 0x9F or char.isspace() or char in _BIDI:
            return False
    return True


class _Item:
    """The pieces of one mailbox while its characters are read."""

    def __init__(self) -> None:
        self.outside: list[str] = []  # text outside comments and angle brackets, as written
        self.name: list[str] = []  # the same, quoted strings unquoted
        self.angle: list[str] | None = None  # the last <…>'s content, comments removed
        self.bad = False
        self.touched = False  # anything but whitespace was seen

    def add(self, raw: str, text: str, in_angle: bool) -> None:
        if in_angle and self.angle is not None:
            self.angle.append(raw)
        else:
            self.outside.append(raw)
            self.name.append(text)

    def mailbox(self, in_group: bool) -> Mailbox | None:
        if not self.touched:
            return None
        if self.angle is None:
            addr, name = "".join(self.outside).strip(), ""
        else:
            addr, name = "".join(self.angle).strip(), " ".join("".join(self.name).split())
            if addr.startswith("@") and ":" in addr:  # obsolete route: <@relay.example:alice@acme.example>
                addr = addr.rsplit(":", 1)[1].strip()
        if self.bad or not usable_address(addr) or not _well_quoted(addr):
            addr = ""
        return Mailbox(addr, name, in_group)


def _well_quoted(addr: str) -> bool:
    """No quotes, or one quoted local part: `"john.doe"@example.com` (a quoted name alone is no address)."""
    if '"' not in addr:
        return True
    end = addr.find('"', 1)
    return addr.startswith('"') and end > 0 and addr.startswith('"@', end) and '"' not in addr[end + 1 :]


def skip_comment(value: str, i: int) -> tuple[int, bool]:
    """The index after the comment that starts at `value[i]` ("("), and whether it was closed."""
    depth, i, n = 1, i + 1, len(value)
    while i < n and depth:
        char = value[i]
        if char == "\\":
            i += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        i += 1
    return i, depth == 0


def read_quoted(value: str, i: int) -> tuple[str, int, bool]:
    """The content of the quoted string starting at `value[i]`, the index after it, and whether it closed."""
    pieces: list[str] = []
    i, n = i + 1, len(value)
    start = i
    while i < n:
        char = value[i]
        if char == "\\":
            pieces.append(value[start:i])
            start, i = i + 1, i + 2
        elif char == '"':
            pieces.append(value[start:i])
            return "".join(pieces), i + 1, True
        else:
            i += 1
    pieces.append(value[start:n])
    return "".join(pieces), n, False


def mailbox_list(values: list[str]) -> MailboxList:
    """The mailboxes of address header values, each value read on its own."""
    mailboxes: list[Mailbox] = []
    has_group = False
    for value in values:
        reader = _ValueReader()
        reader.read(value)
        mailboxes.extend(reader.found)
        has_group = has_group or reader.has_group
    return MailboxList(tuple(mailboxes), has_group)


class _ValueReader:
    """One header value read once, left to right, into its mailboxes (linear time)."""

    def __init__(self) -> None:
        self.found: list[Mailbox] = []
        self.has_group = False
        self.in_group = False
        self.in_angle = False
        self.item = _Item()

    def read(self, value: str) -> None:
        i, n = 0, len(value)
        while i < n:
            char = value[i]
            if char == "(":
                i, closed = skip_comment(value, i)
                self.item.bad = self.item.bad or not closed
                self.item.add(" ", " ", self.in_angle)
            elif char == '"':
                text, i, closed = read_quoted(value, i)
                self.item.bad = self.item.bad or not closed
                self.item.touched = True
                self.item.add(f'"{text}"', text, self.in_angle)
            else:
                i += 1
                if self.in_angle:
                    self._in_angle(char)
                else:
                    self._at_top_level(char)
        self.item.bad = self.item.bad or self.in_angle
        self._finish()

    def _in_angle(self, char: str) -> None:
        if char == ">":
            self.in_angle = False
        elif char == "<":
            self.item.bad = True
        else:
            self.item.add(char, char, True)

    def _at_top_level(self, char: str) -> None:
        item = self.item
        if char in _SPACE:
            item.add(" ", " ", False)
        elif char == "<":
            self.in_angle, item.angle, item.touched = True, [], True
        elif char == ">":
            item.bad = item.touched = True
        elif char == ",":
            self._finish()
        elif char == ":" and not self.in_group:
            # A group's name; what came before it is no mailbox.
            self.item, self.in_group, self.has_group = _Item(), True, True
        elif char == ";" and self.in_group:
            self._finish()
            self.in_group = False
        else:
            item.add(char, char, False)
            item.touched = True

    def _finish(self) -> None:
        mailbox = self.item.mailbox(self.in_group)
        if mailbox is not None:
            self.found.append(mailbox)
        self.item = _Item()


def single_mailbox(values: list[str]) -> Mailbox | None:
    """The one mailbox of a From or Sender header, or None.

    None for no mailbox, several (in one header or over several header
    fields), a group, or a mailbox without a usable address: RFC 5322 wants
    exactly one From header and a Sender when From has several mailboxes,
    and which of several a client would show is anyone's guess.
    """
    parsed = mailbox_list(values)
    if parsed.has_group or len(parsed.mailboxes) != 1 or not parsed.mailboxes[0].addr:
        return None
    return parsed.mailboxes[0]
