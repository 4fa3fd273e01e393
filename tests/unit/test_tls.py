"""maild.tls: the one TLS set-up the IMAP source and the SMTP sender share."""

from __future__ import annotations

import ssl

import pytest

from maild.tls import SECURITY_MODES, client_context, is_loopback, security_mode


def test_the_three_security_modes_are_accepted_and_nothing_else() -> None:
    assert SECURITY_MODES == ("tls", "starttls", "none")
    for mode in SECURITY_MODES:
        assert security_mode(mode, "IMAP security") == mode
    with pytest.raises(ValueError, match=r"^IMAP security must be 'tls', 'starttls' or 'none', not 'ssl'$"):
        security_mode("ssl", "IMAP security")


def test_certificates_are_verified_unless_switched_off() -> None:
    strict = client_context(None, verify=True)
    assert strict.verify_mode == ssl.CERT_REQUIRED and strict.check_hostname
    lax = client_context(None, verify=False)
    assert lax.verify_mode == ssl.CERT_NONE and not lax.check_hostname


def test_loopback_is_this_machine_only() -> None:
    assert is_loopback("localhost") and is_loopback("127.0.0.1") and is_loopback("::1")
    assert not is_loopback("192.0.2.1") and not is_loopback("mail.example.com")
