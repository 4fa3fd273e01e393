"""What one `[… .oauth2]` table says, and what each provider implies.

Kept apart from config parsing (which resolves `client_secret_file` and
friends into `client_secret`) so that the token code depends on a small
frozen value, and the provider knowledge (endpoints, default scopes) lives
in one place instead of in every caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from maild.errors import ConfigError


class Provider(StrEnum):
    MICROSOFT = "microsoft"
    GOOGLE = "google"
    GENERIC = "generic"


class Flow(StrEnum):
    CLIENT_CREDENTIALS = "client_credentials"  # app-only: no user, no refresh token
    REFRESH_TOKEN = "refresh_token"  # delegated: a refresh token from `maild auth login`


class Mechanism(StrEnum):
    XOAUTH2 = "xoauth2"
    OAUTHBEARER = "oauthbearer"


MICROSOFT_LOGIN = "https://login.microsoftonline.com"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
GOOGLE_DEVICE_URL = "https://oauth2.googleapis.com/device/code"
GOOGLE_AUTH_URL = "https://accounts.google.com/o/oauth2/v2/auth"

# App-only access to Exchange Online: the `.default` scope of the Exchange
# resource carries the IMAP.AccessAsApp / SMTP.SendAsApp roles granted to the app.
MICROSOFT_APP_SCOPES = ("https://outlook.office365.com/.default",)
# Delegated access: IMAP and SMTP for the signed-in user, and offline_access,
# without which Microsoft returns no refresh token.
MICROSOFT_DELEGATED_SCOPES = (
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "https://outlook.office.com/SMTP.Send",
    "offline_access",
)
GOOGLE_SCOPES = ("https://mail.google.com/",)


@dataclass(frozen=True)
class OAuth2Settings:
    """One OAuth2 client as configured; `client_secret` already read from its file or variable."""

    provider: Provider
    flow: Flow
    client_id: str
    client_secret: str = field(default="", repr=False)
    tenant: str = ""
    token_url: str = ""
    device_url: str = ""
    auth_url: str = ""
    scopes: tuple[str, ...] = ()
    refresh_token_file: Path | None = None
    mechanism: Mechanism = Mechanism.XOAUTH2
    timeout: float = 30.0


def token_url(settings: OAuth2Settings) -> str:
    """The token endpoint: derived for Microsoft (per tenant) and Google, configured for generic.

    A configured `token_url` wins for every provider: Microsoft's national
    clouds (login.microsoftonline.us, login.chinacloudapi.cn) have other hosts.
    """
    return _endpoint(settings, settings.token_url, "token", GOOGLE_TOKEN_URL)


def device_authorization_url(settings: OAuth2Settings) -> str:
    """The device authorization endpoint of RFC 8628, for `maild auth login` (`device_url` wins)."""
    return _endpoint(settings, settings.device_url, "devicecode", GOOGLE_DEVICE_URL)


def authorization_url(settings: OAuth2Settings) -> str:
    """The authorization endpoint a browser opens in the loopback sign-in (`auth_url` wins).

    Google's device flow does not allow the Gmail scope, so a Google mailbox
    gets its refresh token through this endpoint and a 127.0.0.1 redirect.
    """
    return _endpoint(settings, settings.auth_url, "authorize", GOOGLE_AUTH_URL)


def _endpoint(settings: OAuth2Settings, configured: str, microsoft_path: str, google_url: str) -> str:
    """A configured URL wins; else Microsoft's per-tenant one, Google's fixed one, or none for generic."""
    if configured:
        return configured
    if settings.provider is Provider.MICROSOFT:
        return f"{MICROSOFT_LOGIN}/{settings.tenant}/oauth2/v2.0/{microsoft_path}"
    if settings.provider is Provider.GOOGLE:
        return google_url
    return ""


def scopes(settings: OAuth2Settings) -> tuple[str, ...]:
    """The configured scopes, else the provider's defaults for the flow (none for generic)."""
    if settings.scopes:
        return settings.scopes
    if settings.provider is Provider.MICROSOFT:
        if settings.flow is Flow.CLIENT_CREDENTIALS:
            return MICROSOFT_APP_SCOPES
        return MICROSOFT_DELEGATED_SCOPES
    if settings.provider is Provider.GOOGLE:
        return GOOGLE_SCOPES
    return ()


def validate(settings: OAuth2Settings, key: str) -> None:
    """Refuse a combination that cannot work, naming the key (`key` is the table, e.g. `smtp.oauth2`).

    Caught at startup rather than at the first token request, which may be
    hours later in a daemon.
    """
    if not settings.client_id:
        raise ConfigError(f"{key}.client_id", "is required")
    if settings.provider is Provider.MICROSOFT and not settings.tenant:
        raise ConfigError(f"{key}.tenant", "is required for provider microsoft", "the directory (tenant) ID")
    if settings.provider is Provider.GENERIC and not settings.token_url:
        raise ConfigError(f"{key}.token_url", "is required for provider generic")
    if settings.flow is Flow.CLIENT_CREDENTIALS:
        if not settings.client_secret:
            raise ConfigError(
                f"{key}.client_secret", "is required for flow client_credentials", "or client_secret_file"
            )
        if settings.provider is Provider.GOOGLE:
            raise ConfigError(
                f"{key}.flow",
                "google does not offer client_credentials for Gmail",
                'use flow = "refresh_token" and maild auth login',
            )
    if settings.flow is Flow.REFRESH_TOKEN and settings.refresh_token_file is None:
        raise ConfigError(f"{key}.refresh_token_file", "is required for flow refresh_token")
