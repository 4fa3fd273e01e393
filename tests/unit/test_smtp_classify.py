"""classify(): which SMTP outcomes are sent, retried later, or failed for good.

The outbox trusts this table to decide whether a notification is retried
or marked failed, so every row is pinned down here, without a server.
"""

from __future__ import annotations

import ssl

import pytest

from maild.outbound.smtp import EnvelopeError, SessionError, classify


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (250, "sent"),
        (251, "sent"),
        (200, "sent"),
        (299, "sent"),
        (421, "transient"),
        (450, "transient"),
        (451, "transient"),
        (452, "transient"),
        (499, "transient"),
        (500, "permanent"),
        (550, "permanent"),
        (552, "permanent"),
        (553, "permanent"),
        (554, "permanent"),
        (599, "permanent"),
    ],
)
def test_reply_code_decides(code: int, expected: str) -> None:
    assert classify(code, None) == expected


@pytest.mark.parametrize("code", [354, 334, 100, 600, 0, -1])
def test_unexpected_codes_are_kept_for_retry(code: int) -> None:
    # A reply that is neither success nor failure proves nothing was delivered;
    # keeping the message is the only safe choice.
    assert classify(code, None) == "transient"


def test_code_wins_over_the_exception_that_carried_it() -> None:
    assert classify(550, RuntimeError("550 5.1.1 no such user")) == "permanent"
    assert classify(451, RuntimeError("451 try later")) == "transient"
    assert classify(250, RuntimeError("odd")) == "sent"


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError("timed out"),
        OSError(113, "No route to host"),
        # also a ValueError, yet a handshake problem, not a bad envelope
        ssl.SSLCertVerificationError("certificate verify failed"),
        ssl.SSLError("wrong version number"),
        RuntimeError("something unforeseen"),
    ],
)
def test_errors_without_a_code_are_transient(error: BaseException) -> None:
    assert classify(None, error) == "transient"


@pytest.mark.parametrize("code", [535, 530, 554, 421, None])
def test_session_errors_are_transient_whatever_the_code(code: int | None) -> None:
    # A failed login (535) is a configuration problem, not a verdict on the
    # message: marking the whole outbox permanently failed would lose it.
    assert classify(code, SessionError("authentication failed: 535 5.7.8", code)) == "transient"


def test_an_envelope_the_server_cannot_take_is_permanent() -> None:
    assert classify(None, EnvelopeError("server does not offer SMTPUTF8")) == "permanent"
    assert classify(None, ValueError("Address 'a b@x' contains characters not permitted")) == "permanent"


def test_unicode_errors_count_as_bad_envelopes() -> None:
    try:
        "josé@example.com".encode("ascii")
    except UnicodeEncodeError as exc:
        assert classify(None, exc) == "permanent"
    else:
        pytest.fail("encoding a non-ASCII address as ASCII must fail")


def test_no_code_and_no_error_is_not_counted_as_sent() -> None:
    assert classify(None, None) == "transient"
