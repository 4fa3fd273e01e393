"""The SASL messages that carry a bearer token: XOAUTH2 (Google's, Microsoft's) and OAUTHBEARER (RFC 7628).

For the SMTP side: imapclient has its own `oauth2_login` and
`oauthbearer_login`, but aiosmtplib only knows password mechanisms, so the
SMTP seam sends `AUTH <MECH> <base64>` itself with these bytes. Pure: no I/O.

On failure both mechanisms answer with a challenge carrying a JSON error
(status, schemes, scope); the client must then send the abort message
(`abort_response`) to get the final failure reply.
"""

from __future__ import annotations

import base64
import binascii
import json

from maild.oauth2.settings import Mechanism

_SEP = "\x01"


def xoauth2(user: str, token: str) -> bytes:
    """`user=U ^A auth=Bearer T ^A ^A`: the user is the mailbox, which may differ from the token's owner."""
    _check(user, token)
    return f"user={user}{_SEP}auth=Bearer {token}{_SEP}{_SEP}".encode()


def oauthbearer(user: str, token: str, host: str = "", port: int | None = None) -> bytes:
    """RFC 7628: a GS2 header naming the authorization identity, then host, port and the token."""
    _check(user, token)
    authzid = user.replace("=", "=3D").replace(",", "=2C")
    parts = [f"n,a={authzid},"]
    if host:
        parts.append(f"host={host}")
    if port is not None:
        parts.append(f"port={port}")
    parts.append(f"auth=Bearer {token}")
    return (_SEP.join(parts) + _SEP + _SEP).encode()


def initial_response(
    mechanism: Mechanism, user: str, token: str, host: str = "", port: int | None = None
) -> bytes:
    if mechanism is Mechanism.OAUTHBEARER:
        return oauthbearer(user, token, host, port)
    return xoauth2(user, token)


def encoded(message: bytes) -> str:
    """The base64 text sent after `AUTH <MECH> ` (or as the reply to an empty 334 challenge)."""
    return base64.b64encode(message).decode("ascii")


def mechanism_name(mechanism: Mechanism) -> str:
    return mechanism.value.upper()


def abort_response(mechanism: Mechanism) -> bytes:
    """The client's answer to an error challenge: empty for XOAUTH2, a lone ^A for OAUTHBEARER."""
    return _SEP.encode() if mechanism is Mechanism.OAUTHBEARER else b""


def error_challenge(challenge: str) -> dict[str, object]:
    """The JSON error a server sent as a 334 challenge (`status`, `schemes`, `scope`); {} if unreadable."""
    try:
        value = json.loads(base64.b64decode(challenge, validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _check(user: str, token: str) -> None:
    # A ^A would end a field early and let the rest be read as other fields.
    if _SEP in user or _SEP in token or not token:
        raise ValueError("a SASL user or token must be non-empty and contain no \\x01")
