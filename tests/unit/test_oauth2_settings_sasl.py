"""OAuth2 settings (endpoints and default scopes per provider, refused combinations) and SASL messages."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from maild.errors import ConfigError
from maild.oauth2 import sasl
from maild.oauth2.settings import (
    Flow,
    Mechanism,
    OAuth2Settings,
    Provider,
    device_authorization_url,
    scopes,
    token_url,
    validate,
)


def make(provider: Provider, flow: Flow = Flow.CLIENT_CREDENTIALS, **kw: object) -> OAuth2Settings:
    base: dict[str, object] = {"client_id": "app", "client_secret": "s3cret-value"}
    base.update(kw)
    return OAuth2Settings(provider=provider, flow=flow, **base)  # type: ignore[arg-type]


def test_token_and_device_urls_per_provider() -> None:
    ms = make(Provider.MICROSOFT, tenant="contoso.onmicrosoft.com")
    assert token_url(ms) == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert device_authorization_url(ms) == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode"
    )
    google = make(Provider.GOOGLE, Flow.REFRESH_TOKEN)
    assert token_url(google) == "https://oauth2.googleapis.com/token"
    assert device_authorization_url(google) == "https://oauth2.googleapis.com/device/code"
    generic = make(Provider.GENERIC, token_url="http://127.0.0.1:9/t", device_url="http://127.0.0.1:9/d")
    assert (token_url(generic), device_authorization_url(generic)) == (
        "http://127.0.0.1:9/t",
        "http://127.0.0.1:9/d",
    )


def test_default_scopes_per_provider_and_flow() -> None:
    assert scopes(make(Provider.MICROSOFT)) == ("https://outlook.office365.com/.default",)
    delegated = scopes(make(Provider.MICROSOFT, Flow.REFRESH_TOKEN))
    assert "offline_access" in delegated
    assert "https://outlook.office.com/IMAP.AccessAsUser.All" in delegated
    assert "https://outlook.office.com/SMTP.Send" in delegated
    assert scopes(make(Provider.GOOGLE, Flow.REFRESH_TOKEN)) == ("https://mail.google.com/",)
    assert scopes(make(Provider.GENERIC)) == ()
    assert scopes(make(Provider.GOOGLE, Flow.REFRESH_TOKEN, scopes=("a", "b"))) == ("a", "b")


def test_repr_never_shows_the_client_secret() -> None:
    assert "s3cret-value" not in repr(make(Provider.GENERIC, token_url="http://x"))


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        (make(Provider.MICROSOFT), "smtp.oauth2.tenant"),
        (make(Provider.GENERIC), "smtp.oauth2.token_url"),
        (make(Provider.GENERIC, token_url="http://x", client_id=""), "smtp.oauth2.client_id"),
        (make(Provider.GENERIC, token_url="http://x", client_secret=""), "smtp.oauth2.client_secret"),
        (make(Provider.GOOGLE), "smtp.oauth2.flow"),
        (make(Provider.GOOGLE, Flow.REFRESH_TOKEN), "smtp.oauth2.refresh_token_file"),
    ],
)
def test_validate_names_the_offending_key(settings: OAuth2Settings, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate(settings, "smtp.oauth2")
    assert caught.value.key == key


def test_validate_accepts_working_combinations(tmp_path: Path) -> None:
    validate(make(Provider.MICROSOFT, tenant="t"), "mailbox.oauth2")
    validate(make(Provider.GOOGLE, Flow.REFRESH_TOKEN, refresh_token_file=tmp_path / "rt"), "mailbox.oauth2")
    # A public client (device flow) has no secret.
    validate(
        make(
            Provider.MICROSOFT,
            Flow.REFRESH_TOKEN,
            tenant="t",
            client_secret="",
            refresh_token_file=tmp_path / "r",
        ),
        "mailbox.oauth2",
    )


def test_xoauth2_initial_response_is_exact() -> None:
    message = sasl.xoauth2("shared@example.com", "tok.en")
    assert message == b"user=shared@example.com\x01auth=Bearer tok.en\x01\x01"
    assert sasl.encoded(message) == base64.b64encode(message).decode()
    assert sasl.initial_response(Mechanism.XOAUTH2, "shared@example.com", "tok.en") == message
    assert sasl.mechanism_name(Mechanism.XOAUTH2) == "XOAUTH2"


def test_oauthbearer_initial_response_follows_rfc7628() -> None:
    message = sasl.oauthbearer("user@example.com", "tok", host="mail.example.com", port=587)
    assert message == b"n,a=user@example.com,\x01host=mail.example.com\x01port=587\x01auth=Bearer tok\x01\x01"
    assert sasl.oauthbearer("a,b=c", "t") == b"n,a=a=2Cb=3Dc,\x01auth=Bearer t\x01\x01"
    assert sasl.initial_response(Mechanism.OAUTHBEARER, "u", "t", "h", 1).startswith(
        b"n,a=u,\x01host=h\x01port=1"
    )
    assert sasl.mechanism_name(Mechanism.OAUTHBEARER) == "OAUTHBEARER"


@pytest.mark.parametrize(("user", "token"), [("u\x01auth=Bearer evil", "t"), ("u", "t\x01x"), ("u", "")])
def test_a_field_separator_or_empty_token_is_refused(user: str, token: str) -> None:
    with pytest.raises(ValueError):
        sasl.xoauth2(user, token)
    with pytest.raises(ValueError):
        sasl.oauthbearer(user, token)


def test_error_challenge_and_abort() -> None:
    body = {"status": "401", "schemes": "bearer", "scope": "https://mail.google.com/"}
    challenge = base64.b64encode(json.dumps(body).encode()).decode()
    assert sasl.error_challenge(challenge) == body
    assert sasl.error_challenge("not base64!") == {}
    assert sasl.abort_response(Mechanism.XOAUTH2) == b""
    assert sasl.abort_response(Mechanism.OAUTHBEARER) == b"\x01"


def test_a_configured_endpoint_wins_for_every_provider() -> None:
    us_gov = make(
        Provider.MICROSOFT, tenant="t", token_url="https://login.microsoftonline.us/t/oauth2/v2.0/token"
    )
    assert token_url(us_gov) == "https://login.microsoftonline.us/t/oauth2/v2.0/token"
    google = make(Provider.GOOGLE, Flow.REFRESH_TOKEN, device_url="https://example.test/device")
    assert device_authorization_url(google) == "https://example.test/device"
