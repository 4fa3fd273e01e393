"""Per-recipient reply addresses: support+TOKEN@domain.

A token names the case and carries an HMAC over (case, recipient) with the
configured secret. So a token can be neither guessed nor moved to another
case, and a reply proves which recipient's copy it answers: the recipient
is the address whose MAC matches. Tokens are lower-case base32 so that
mail systems that fold the local part's case do not break them.
"""

from __future__ import annotations

import base64
import functools
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

MAC_LENGTH = 20  # base32 characters: 100 bits
_TOKEN = re.compile(rf"^(\d{{1,12}})-([a-z2-7]{{{MAC_LENGTH}}})$")


@dataclass(frozen=True, slots=True)
class ParsedToken:
    case_id: int
    mac: str


@functools.lru_cache(maxsize=8192)
def _mac(secret: str, case_id: int, recipient: str) -> str:
    """Cached: a case's people get a notification for every comment, and each
    reply is checked against every participant's token."""
    message = f"maild-reply\x00{case_id}\x00{recipient.strip().lower()}".encode()
    digest = hmac.digest(secret.encode(), message, "sha256")
    return base64.b32encode(digest).decode("ascii").lower()[:MAC_LENGTH]


def make_token(secret: str, case_id: int, recipient: str) -> str:
    return f"{case_id}-{_mac(secret, case_id, recipient)}"


def reply_address(support_address: str, token: str) -> str:
    local, domain = support_address.rsplit("@", 1)
    return f"{local}+{token}@{domain}"


def parse_token(token: str) -> ParsedToken | None:
    """The token's parts, or None when it is not of our shape at all."""
    m = _TOKEN.match(token.strip().lower())
    if not m:
        return None
    return ParsedToken(case_id=int(m.group(1)), mac=m.group(2))


def issued_to(secret: str, token: ParsedToken, candidates: Iterable[str]) -> str | None:
    """Which of `candidates` this token was issued to, or None (forged or tampered)."""
    for candidate in candidates:
        if hmac.compare_digest(token.mac, _mac(secret, token.case_id, candidate)):
            return candidate.strip().lower()
    return None


def tokens_in(addresses: Iterable[str], support_address: str) -> list[str]:
    """The TOKEN parts of every support+TOKEN@domain address among `addresses`."""
    local, domain = support_address.lower().rsplit("@", 1)
    found: list[str] = []
    for address in addresses:
        addr = address.strip().lower()
        if "@" not in addr:
            continue
        addr_local, addr_domain = addr.rsplit("@", 1)
        if addr_domain == domain and addr_local.startswith(local + "+"):
            token = addr_local[len(local) + 1 :]
            if token and token not in found:
                found.append(token)
    return found
