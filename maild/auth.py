"""Is the From address proven? Reading Authentication-Results (RFC 8601) we trust.

PURE. Anyone can write an Authentication-Results header, so only those whose
authserv-id the operator configured (their own receiving MTA, which strips
look-alikes from incoming mail) count. The sender is proven when one of them
reports, for the From domain: dmarc=pass, or dkim=pass with an aligned
signing domain (header.d), or spf=pass with an aligned envelope domain
(smtp.mailfrom). Used only when `support.trusted_authserv_ids` is set.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from maild.inbound import InboundMail
from maild.rules import without_comments

_RESULT = re.compile(r"\b(dmarc|dkim|spf)\s*=\s*([a-z]+)\b([^;]*)", re.I)
_PROPERTY = re.compile(r"\b(header\.from|header\.d|header\.i|smtp\.mailfrom)\s*=\s*\"?([^\s;\"]+)", re.I)


def _aligned(domain: str, sender_domain: str) -> bool:
    """Relaxed alignment: the same organisational domain, roughly (exact, or one a subdomain of the other)."""
    domain, sender_domain = domain.lower().strip("."), sender_domain.lower().strip(".")
    if domain == sender_domain:
        return True
    shorter, longer = sorted((domain, sender_domain), key=len)
    # A bare top-level domain ("com") aligns with nothing.
    return "." in shorter and longer.endswith("." + shorter)


def authserv_id(value: str) -> str:
    """The authserv-id that wrote an Authentication-Results value (its first token)."""
    head = without_comments(value).split(";", 1)[0].strip()
    return head.split()[0].lower() if head else ""


def sender_authenticated(mail: InboundMail, trusted_ids: Collection[str]) -> bool:
    """True when a trusted Authentication-Results header proves the From domain."""
    if mail.from_addr is None or "@" not in mail.from_addr.email:
        return False
    sender_domain = mail.from_addr.email.rsplit("@", 1)[1]
    trusted = {t.lower() for t in trusted_ids}
    for value in mail.header_all("Authentication-Results"):
        if authserv_id(value) not in trusted:
            continue
        body = without_comments(value).split(";", 1)[1] if ";" in value else ""
        for method, result, rest in _RESULT.findall(body):
            if result.lower() != "pass":
                continue
            props = {k.lower(): v for k, v in _PROPERTY.findall(rest)}
            method = method.lower()
            if method == "dmarc" and _aligned(props.get("header.from", sender_domain), sender_domain):
                return True
            if method == "dkim":
                signer = props.get("header.d") or props.get("header.i", "").rsplit("@", 1)[-1]
                if signer and _aligned(signer, sender_domain):
                    return True
            if method == "spf":
                envelope = props.get("smtp.mailfrom", "").rsplit("@", 1)[-1]
                if envelope and _aligned(envelope, sender_domain):
                    return True
    return False
