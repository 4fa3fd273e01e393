"""SmtpSender's TLS, STARTTLS and AUTH against bare aiosmtpd servers on 127.0.0.1.

The certificate is made by `openssl` for this run (tests/integration/
conftest.py), so verification against it can succeed with `ca_file` and
must fail without it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, Session
from aiosmtpd.smtp import Envelope as ServerEnvelope

from maild.demo.sink import SinkServer
from maild.outbound.smtp import SmtpSender
from tests.integration.smtp_servers import (
    StartServer,
    envelope,
    mail,
    send,
    server_context,
)

pytestmark = pytest.mark.timeout(120)


# --- TLS ----------------------------------------------------------------------------------


@pytest.mark.parametrize("trust", ["verify_off", "ca_file"])
def test_starttls(start_server: StartServer, certificate: tuple[Path, Path], trust: str) -> None:
    recorder, port = start_server(tls_context=server_context(certificate), require_starttls=True)
    if trust == "ca_file":
        sender = SmtpSender("127.0.0.1", port, "starttls", ca_file=str(certificate[0]))
    else:
        sender = SmtpSender("127.0.0.1", port, "starttls", verify_tls=False)
    results = send(sender, [envelope(1), envelope(2)])

    assert [r.outcome for r in results] == ["sent", "sent"]
    assert [(r.tls, r.data) for r in recorder.received] == [
        (True, mail(1)),
        (True, mail(2)),
    ]
    assert len(recorder.connections) == 1


@pytest.mark.parametrize("trust", ["verify_off", "ca_file"])
def test_implicit_tls(start_server: StartServer, certificate: tuple[Path, Path], trust: str) -> None:
    recorder, port = start_server(ssl_context=server_context(certificate))
    if trust == "ca_file":
        sender = SmtpSender("127.0.0.1", port, "tls", ca_file=str(certificate[0]))
    else:
        sender = SmtpSender("127.0.0.1", port, "tls", verify_tls=False)
    results = send(sender, [envelope(1)])

    assert results[0].outcome == "sent"
    assert recorder.received[0].tls
    assert recorder.received[0].data == mail(1)


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_untrusted_certificate_is_transient_and_says_so(
    start_server: StartServer, certificate: tuple[Path, Path], security: str
) -> None:
    if security == "tls":
        recorder, port = start_server(ssl_context=server_context(certificate))
    else:
        recorder, port = start_server(tls_context=server_context(certificate))
    started = time.monotonic()
    results = send(SmtpSender("127.0.0.1", port, "tls" if security == "tls" else "starttls"), [envelope(1)])

    assert results[0].outcome == "transient"
    assert "CERTIFICATE_VERIFY_FAILED" in results[0].detail
    assert "ca_file" in results[0].detail
    assert time.monotonic() - started < 3  # not retried: waiting cannot fix a certificate
    assert recorder.received == []


def test_starttls_required_but_not_offered(sink: SinkServer) -> None:
    results = send(
        SmtpSender("127.0.0.1", sink.port, "starttls", verify_tls=False),
        [envelope(1), envelope(2)],
    )

    assert [r.outcome for r in results] == ["transient", "transient"]
    assert (
        results[0].detail
        == f"server 127.0.0.1:{sink.port} does not offer STARTTLS, which security = 'starttls' requires"
    )
    assert sink.messages() == []


def test_security_none_never_upgrades(start_server: StartServer, certificate: tuple[Path, Path]) -> None:
    recorder, port = start_server(tls_context=server_context(certificate))
    results = send(SmtpSender("127.0.0.1", port, "none"), [envelope(1)])

    assert results[0].outcome == "sent"
    assert recorder.received[0].tls is False


# --- AUTH ---------------------------------------------------------------------------------


# AUTH without TLS is what these loopback tests mean to do; aiosmtpd warns about it.
_plain_auth_on_loopback = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def _authenticator(
    server: SMTP, session: Session, envelope: ServerEnvelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"maild", b"s3cret")
    # handled=False: aiosmtpd answers 535 itself
    return AuthResult(success=ok, handled=False)


@_plain_auth_on_loopback
def test_auth_success(start_server: StartServer) -> None:
    recorder, port = start_server(authenticator=_authenticator, auth_required=True, auth_require_tls=False)
    sender = SmtpSender("127.0.0.1", port, "none", username="maild", password="s3cret")
    results = send(sender, [envelope(1)])

    assert results[0].outcome == "sent"
    assert len(recorder.received) == 1


@_plain_auth_on_loopback
def test_auth_failure_is_transient_with_a_clear_detail(start_server: StartServer) -> None:
    recorder, port = start_server(authenticator=_authenticator, auth_required=True, auth_require_tls=False)
    sender = SmtpSender("127.0.0.1", port, "none", username="maild", password="wrong")
    results = send(sender, [envelope(1), envelope(2)])

    assert [r.outcome for r in results] == ["transient", "transient"]
    assert results[0].code == 535
    assert results[0].detail.startswith(f"authentication as 'maild' at 127.0.0.1:{port} failed: 535")
    assert "username and password" in results[0].detail
    assert recorder.received == []


@_plain_auth_on_loopback
def test_auth_required_but_not_given_is_refused_by_the_server(start_server: StartServer) -> None:
    recorder, port = start_server(authenticator=_authenticator, auth_required=True, auth_require_tls=False)
    (result,) = send(SmtpSender("127.0.0.1", port, "none"), [envelope(1)])

    assert result.code == 530
    assert "Authentication required" in result.detail
    assert recorder.received == []
