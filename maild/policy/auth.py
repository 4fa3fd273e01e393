"""Is the From address proven? Reading the Authentication-Results we trust (RFC 8601).

PURE. Anyone can write an Authentication-Results header, so a message's
headers count only as far as the rules below allow; each rule closes a way
that a sender could otherwise vouch for itself.

Which header. Only headers whose authserv-id is in `support.trusted_authserv_ids`
are read, and of those only the **topmost one** (headers are in message
order, newest first; a receiving MTA adds its own above everything the
sender wrote). A lower header with the same id may have been written by the
sender, so it is never read, not even to add a method the topmost one did
not report: Gmail, for one, writes no `dkim=` entry for an unsigned message
and puts its header directly above the sender's own headers, so "every
trusted header in the first run" would let a forged `dkim=pass` in. MTAs
that split their results over several headers (Postfix with OpenDKIM and
OpenDMARC) are read by their topmost header only: with OpenDMARC after
OpenDKIM that is the DMARC one, which is the result that matters. If the
topmost trusted header cannot be read (longer than `MAX_VALUE`, an
unterminated quoted string or comment, possibly cut short by the parser's
header limit), nothing is proven; the next header down is never tried.

Microsoft 365 (Exchange Online) writes its header without an authserv-id
(`spf=pass (sender IP is …) smtp.mailfrom=…; dkim=pass … header.d=…;
dmarc=pass action=none header.from=…; compauth=pass reason=100`). The
trusted id `"microsoft365"` (`MICROSOFT365`) stands for such headers: an
Authentication-Results header whose value starts with `method=result`
then has that id, and the topmost rule applies as to any other id (Exchange
Online adds its header above the message on receipt, so a sender's own
id-less header is below it). The literal text `microsoft365` written as an
authserv-id never matches. `compauth` (Microsoft's composite verdict, which
includes its own implicit, non-standard checks) and `dmarc=bestguesspass`
(no DMARC record) prove nothing.

What proves the From domain, in that one header:
- `dmarc=pass` whose `header.from` equals the From domain (no header.from,
  or another domain, proves nothing: DMARC may have evaluated another From);
- `dkim=pass` whose signing domain (`header.d`, else the domain of
  `header.i`) is aligned with the From domain: the same domain, or the same
  organisational domain (see `organisational_domain`).
- SPF proves nothing on its own: it authenticates the envelope sender
  (smtp.mailfrom) and the connecting host, not the From header, and
  "aligned with From" is exactly what DMARC evaluates, with the domain
  owner's policy; an spf=pass for a shared sending service's domain, or a
  domain whose SPF record allows a shared platform, would let every tenant
  of that platform pass. When the From domain publishes DMARC, an aligned
  SPF pass already shows as `dmarc=pass`.
- ARC-Authentication-Results (another header name) is ignored: it records
  what an earlier hop saw.

Parsing follows RFC 8601 §2.2 with RFC 5322 CFWS: comments (nested, with
backslash escapes) and quoted strings are tokens of their own, so text in
them can never become a method, a result or a property; a property value
is a token, a quoted string or an addr-spec (`"x;y"@example`), and its
domain is what follows the last `@`. The tokenizer is a single character
loop (linear time, no regular expressions).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from maild.inbound.addresses import read_quoted, skip_comment
from maild.inbound.headers import MAX_HEADER_VALUE
from maild.inbound.message import InboundMail

MAX_VALUE = 16 * 1024
MICROSOFT365 = "microsoft365"

# maild.inbound.headers cuts header values at MAX_HEADER_VALUE characters (and says so in
# `defects`); a cut header could end in "header.d=acme.example" where the
# MTA wrote "header.d=acme.example.evil.example". Decoding and unfolding
# shrink a value, but not below a quarter of its raw length.
_TRUNCATION_DEFECT = "header value longer than"
_MAYBE_CUT = MAX_HEADER_VALUE // 4

_SPACE = frozenset(" \t\r\n")
_SINGLE = frozenset(";=/")
_STOP = _SPACE | _SINGLE | frozenset('()"')
_KEYWORD = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
_DOMAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")

# Second-level labels under which registries sell third-level names
# (acme.co.uk, acme.com.au, acme.or.jp). See `organisational_domain`.
_SECOND_LEVEL = frozenset(
    ("com", "net", "org", "edu", "gov", "mil", "gob", "nic", "ltd", "plc", "sch", "nhs", "nom", "gen", "biz")
)


@dataclass(frozen=True, slots=True)
class AuthVerdict:
    """Whether the From domain is proven, by which method and signing domain, and why."""

    proven: bool
    method: str | None
    domain: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class MethodResult:
    """One resinfo: `method[/version]=result [reason=…] [ptype.property=value …]`."""

    method: str
    result: str
    reason: str | None = None
    properties: tuple[tuple[str, str], ...] = ()

    def prop(self, name: str) -> str | None:
        """The first value of `ptype.property` (lower-case name), or None."""
        for key, value in self.properties:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class AuthResults:
    """One Authentication-Results value. `authserv_id` None: the value has none (Microsoft 365).

    `readable` is False when the value was too long or malformed: its
    authserv-id is still known (it is the first token), its results are not.
    """

    authserv_id: str | None
    results: tuple[MethodResult, ...] = ()
    readable: bool = True


# ---------------------------------------------------------------- tokenizer


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "atom", "quoted", ";", "=", "/"
    text: str
    spaced: bool  # whitespace or a comment came before it


def _tokens(value: str) -> tuple[list[_Token], bool]:
    """The tokens of a structured header value and whether it was well formed.

    One pass over the characters: comments are skipped with their nesting
    depth and backslash escapes, quoted strings become one token.
    """
    tokens: list[_Token] = []
    ok = True
    spaced = False
    i, n = 0, len(value)
    while i < n:
        char = value[i]
        if char in _SPACE:
            spaced, i = True, i + 1
        elif char == "(":
            i, closed = skip_comment(value, i)
            ok = ok and closed
            spaced = True
        elif char == '"':
            text, i, closed = read_quoted(value, i)
            ok = ok and closed
            tokens.append(_Token("quoted", text, spaced))
            spaced = False
        elif char in _SINGLE:
            tokens.append(_Token(char, char, spaced))
            spaced, i = False, i + 1
        else:
            start = i
            while i < n and value[i] not in _STOP:
                i += 1
            if i == start:  # a stray ")": not RFC 8601, and nothing we read
                ok, i = False, i + 1
                continue
            tokens.append(_Token("atom", value[start:i], spaced))
            spaced = False
    return tokens, ok


# ---------------------------------------------------------------- parser


def _is_keyword(token: _Token) -> bool:
    return token.kind == "atom" and all(c in _KEYWORD for c in token.text.lower())


class _Reader:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self, ahead: int = 0) -> _Token | None:
        at = self.pos + ahead
        return self.tokens[at] if at < len(self.tokens) else None

    def kind(self, ahead: int = 0) -> str | None:
        token = self.peek(ahead)
        return token.kind if token else None

    def skip_to_separator(self) -> None:
        while self.pos < len(self.tokens) and self.tokens[self.pos].kind != ";":
            self.pos += 1

    def value(self) -> str:
        """A value after `=`: the tokens up to the next space, comment or `;`, unquoted and joined.

        `"x;y"@evil.example` is one value; so is a base64 `header.b=ab/c+d==`.
        """
        parts: list[str] = []
        first = True
        while (token := self.peek()) is not None and token.kind != ";" and (first or not token.spaced):
            parts.append(token.text)
            self.pos += 1
            first = False
        return "".join(parts)


def _resinfo(reader: _Reader) -> MethodResult | None:
    """One `method[/version]=result …` up to the next `;`; None for `none` or anything else."""
    method = reader.peek()
    if method is None or not _is_keyword(method):
        reader.skip_to_separator()
        return None
    reader.pos += 1
    if reader.kind() == "/":
        reader.pos += 1
        if reader.kind() == "atom":
            reader.pos += 1
    result = reader.peek(1)
    if reader.kind() != "=" or result is None or not _is_keyword(result):
        reader.skip_to_separator()
        return None
    reader.pos += 2
    reason: str | None = None
    properties: list[tuple[str, str]] = []
    while (token := reader.peek()) is not None and token.kind != ";":
        if token.kind == "atom" and reader.kind(1) == "=":
            reader.pos += 2
            name = token.text.lower()
            text = reader.value()
            if name == "reason" and reason is None:
                reason = text
            elif "." in name:
                properties.append((name, text))
        else:
            reader.pos += 1
    return MethodResult(method.text.lower(), result.text.lower(), reason, tuple(properties))


def parse_authentication_results(value: str) -> AuthResults | None:
    """An Authentication-Results value parsed per RFC 8601; None when it has no authserv-id or result.

    Values longer than `MAX_VALUE`, or with an unterminated quoted string or
    comment, come back unreadable (their authserv-id only).
    """
    too_long = len(value) > MAX_VALUE
    tokens, ok = _tokens(value[:MAX_VALUE])
    reader = _Reader(tokens)
    first = reader.peek()
    if first is None or first.kind not in ("atom", "quoted"):
        return None
    ident: str | None
    if first.kind == "atom" and reader.kind(1) in ("=", "/"):
        ident = None  # Microsoft 365: the value starts with its first result
    else:
        ident = first.text.lower()
        reader.pos = 1
        version = reader.peek()
        if version is not None and version.kind == "atom" and version.text.isdigit():
            reader.pos += 1
    if too_long or not ok:
        return AuthResults(ident, (), readable=False)
    results: list[MethodResult] = []
    if ident is None:
        found = _resinfo(reader)
        if found:
            results.append(found)
    while reader.pos < len(tokens):
        if reader.kind() != ";":
            reader.skip_to_separator()
            continue
        reader.pos += 1
        found = _resinfo(reader)
        if found:
            results.append(found)
    return AuthResults(ident, tuple(results))


def authserv_id(value: str) -> str:
    """The authserv-id that wrote an Authentication-Results value; "" when it has none."""
    parsed = parse_authentication_results(value)
    return (parsed.authserv_id or "") if parsed else ""


# ---------------------------------------------------------------- domains


def _domain(text: str, *, address: bool = False) -> str | None:
    """A lower-case ASCII domain, or None; with `address`, the part after an address's last `@`."""
    if address:
        text = text.rsplit("@", 1)[-1]
    text = text.strip().lower().removesuffix(".")
    if not text or len(text) > 253:
        return None
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    labels = text.split(".")
    if any(not label or len(label) > 63 or not all(c in _DOMAIN for c in label) for label in labels):
        return None
    return text


def organisational_domain(domain: str) -> str | None:
    """The registered ("organisational") domain, by a small rule; None for a public suffix.

    The last two labels (acme.example for mail.acme.example), or the last
    three when the top-level domain has two letters and the second-level
    label has two letters or is a common registry one (com, net, org, gov,
    ac…): acme.co.uk, acme.com.au, acme.or.jp. Limitation: without the
    Public Suffix List, a shared suffix such as a hosting platform's
    (tenant.example-platform.com) counts as one organisation, and a
    two-letter name under a country code (xy.de) as a suffix, so its
    subdomains align only with themselves.
    """
    labels = domain.split(".")
    if len(labels) < 2:
        return None
    tld, second = labels[-1], labels[-2]
    suffix = 2 if len(tld) == 2 and (len(second) <= 2 or second in _SECOND_LEVEL) else 1
    if len(labels) <= suffix:
        return None
    return ".".join(labels[-(suffix + 1) :])


def aligned(signer: str, from_domain: str) -> bool:
    """Relaxed alignment (RFC 7489 §3.1): the same domain, or the same organisational domain.

    A bare top-level domain aligns with nothing, not even itself.
    """
    one, other = _domain(signer), _domain(from_domain)
    if one is None or other is None or "." not in one or "." not in other:
        return False
    if one == other:
        return True
    org = organisational_domain(one)
    return org is not None and org == organisational_domain(other)


# ---------------------------------------------------------------- verdict


def _trusted(ident: str | None, trusted: frozenset[str]) -> bool:
    if ident is None:
        return MICROSOFT365 in trusted
    return ident != MICROSOFT365 and ident in trusted


def _topmost_trusted(mail: InboundMail, trusted: frozenset[str]) -> AuthResults | None:
    for value in mail.header_all("Authentication-Results"):
        parsed = parse_authentication_results(value)
        if parsed is None or not _trusted(parsed.authserv_id, trusted):
            continue
        cut = len(value) >= _MAYBE_CUT and any(_TRUNCATION_DEFECT in d for d in mail.defects)
        return AuthResults(parsed.authserv_id, (), readable=False) if cut else parsed
    return None


def authentication(mail: InboundMail, trusted_ids: Collection[str]) -> AuthVerdict:
    """Whether the topmost trusted Authentication-Results header proves the From domain, and why."""
    from_domain = (
        _domain(mail.from_addr.email, address=True)
        if mail.from_addr and "@" in mail.from_addr.email
        else None
    )
    if from_domain is None:
        return AuthVerdict(False, None, None, "no From domain")
    trusted = frozenset(t.strip().lower() for t in trusted_ids)
    header = _topmost_trusted(mail, trusted)
    if header is None:
        return AuthVerdict(False, None, None, "no Authentication-Results header from a trusted authserv-id")
    ident = header.authserv_id or MICROSOFT365
    if not header.readable:
        return AuthVerdict(False, None, None, f"the topmost header from {ident} is unreadable")
    for result in header.results:
        if result.method == "dmarc" and result.result == "pass":
            header_from = _domain(result.prop("header.from") or "")
            if header_from == from_domain:
                return AuthVerdict(True, "dmarc", from_domain, f"dmarc=pass for {from_domain} ({ident})")
    for result in header.results:
        if result.method == "dkim" and result.result == "pass":
            # header.d names the signer; header.i (a subdomain of it, or equal) only when d is missing.
            named = result.prop("header.d")
            signer = (
                _domain(named) if named is not None else _domain(result.prop("header.i") or "", address=True)
            )
            if signer and aligned(signer, from_domain):
                why = f"dkim=pass by {signer}, aligned with {from_domain} ({ident})"
                return AuthVerdict(True, "dkim", signer, why)
    return AuthVerdict(False, None, None, f"no dmarc or aligned dkim pass for {from_domain} from {ident}")


def sender_authenticated(mail: InboundMail, trusted_ids: Collection[str]) -> bool:
    """True when the topmost trusted Authentication-Results header proves the From domain."""
    return authentication(mail, trusted_ids).proven
