"""Token-endpoint failures: the provider's code, the next step, transient or not, no secret shown."""

from __future__ import annotations

import pytest

from maild.errors import MaildError, TransientError
from maild.oauth2.errors import OAuth2Error, OAuth2TransientError, refused, scrub, unreachable

SECRET = "Sup3r~Secret.Value"


@pytest.mark.parametrize(
    ("status", "body", "code", "hint"),
    [
        (
            401,
            {
                "error": "invalid_client",
                "error_description": "AADSTS7000222: The provided client secret keys...",
            },
            "invalid_client AADSTS7000222",
            "the client secret has expired",
        ),
        (
            400,
            {"error": "invalid_grant", "error_description": "AADSTS50173: The provided grant has expired"},
            "invalid_grant AADSTS50173",
            "run maild auth login",
        ),
        (
            400,
            {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
            "invalid_grant",
            "run maild auth login",
        ),
        (400, {"error": "invalid_scope"}, "invalid_scope", "check scopes"),
        (400, {"error": "something_new"}, "something_new", "the provider refused the token request"),
        (403, {}, "http_403", "the provider refused the token request"),
    ],
)
def test_permanent_refusals_name_the_code_and_what_to_do(
    status: int, body: dict[str, str], code: str, hint: str
) -> None:
    error = refused("microsoft", status, body)
    assert type(error) is OAuth2Error and isinstance(error, MaildError)
    assert not error.transient and not isinstance(error, TransientError)
    assert error.code == code and error.error == body.get("error", f"http_{status}")
    assert hint in error.hint and hint in str(error)
    assert str(error).startswith(f"oauth2 (microsoft): {code}: ")


@pytest.mark.parametrize(
    ("status", "body"), [(503, {}), (500, {"error": "server_error"}), (429, {"error": "x"})]
)
def test_server_trouble_is_transient(status: int, body: dict[str, str]) -> None:
    error = refused("google", status, body)
    assert isinstance(error, OAuth2TransientError) and isinstance(error, TransientError) and error.transient
    assert str(status) in error.hint


def test_unreachable_is_transient_and_says_so() -> None:
    error = unreachable("generic", "http://127.0.0.1:9/token: [Errno 111] Connection refused")
    assert error.transient and error.code == "unreachable"
    assert "the token endpoint is unreachable" in str(error)


def test_no_secret_and_no_control_character_reaches_the_message() -> None:
    body = {
        "error": "invalid_request",
        "error_description": f"bad client_secret {SECRET}\x1b[2J\nsecond line",
    }
    error = refused("generic", 400, body, secrets=(SECRET, ""), login="maild auth login --smtp")
    assert SECRET not in str(error) and "***" in error.detail
    assert "\x1b" not in str(error) and "second line" not in str(error)
    assert scrub(f"token={SECRET}", [SECRET]) == "token=***"
    assert (
        "maild auth login --smtp"
        in refused("google", 400, {"error": "invalid_grant"}, login="maild auth login --smtp").hint
    )
