"""TLS for the connections maild makes: the IMAP source and the SMTP sender.

Both ask the same of a mail server's certificate (`ca_file`, `verify_tls`)
and both accept the same three `Security` modes; defined once here, a fix to
how maild verifies servers cannot reach one connection and miss the other.
"""

from __future__ import annotations

import ipaddress
import ssl
from typing import get_args

from maild.vocab import Security

__all__ = ["SECURITY_MODES", "client_context", "is_loopback", "security_mode"]

SECURITY_MODES: tuple[Security, ...] = get_args(Security)


def security_mode(value: str, what: str) -> Security:
    """`value` as a `Security` mode; a ValueError naming `what` (say "IMAP security") otherwise.

    Checked when a source or sender is built, so a bad configuration fails at
    start-up with a precise message instead of at the first connection.
    """
    for mode in SECURITY_MODES:
        if value == mode:
            return mode
    raise ValueError(f"{what} must be 'tls', 'starttls' or 'none', not {value!r}")


def client_context(ca_file: str | None, verify: bool) -> ssl.SSLContext:
    """The context a connection to a mail server uses: the system's CAs, or `ca_file`.

    `verify=False` (a test server with a self-signed certificate) accepts any
    certificate for any name; the connection is still encrypted.
    """
    context = ssl.create_default_context(cafile=ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine: the one place a connection without TLS is allowed."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
