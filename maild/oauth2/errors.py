"""Token-request failures as typed errors that name the provider's code and what to do.

The failures that silently stopped mail in other help desks (a grant
revoked by a password reset, an expired client secret, an unreachable
endpoint) must each read as one clear line with the provider's own error
code, so an operator can act on it. Transient failures (endpoint down,
5xx, 429) are a subclass of maild.errors.TransientError: retried with
backoff; permanent ones need a person.

No message ever contains a token or a secret: every text that came from
the network passes through `scrub` with the secrets the request carried.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from maild.errors import MaildError, TransientError
from maild.safetext import REDACTED, shown

LOGIN_COMMAND = "maild auth login"

_AADSTS = re.compile(r"\bAADSTS\d{4,8}\b")
_DESCRIPTION_CHARS = 200

# Microsoft's AADSTS codes seen in these failures, most specific first.
_AADSTS_HINTS = {
    "AADSTS7000222": "the client secret has expired: create a new one and update client_secret",
    "AADSTS7000215": "the client secret is wrong: use the secret's value, not its ID",
    "AADSTS700016": "no such application in this tenant: check client_id and tenant",
    "AADSTS90002": "no such tenant: check tenant",
    "AADSTS65001": "consent has not been granted: an administrator must grant it for the app",
    "AADSTS50173": "the grant was revoked (a password change?): run {login}",
    "AADSTS700082": "the refresh token has expired after inactivity: run {login}",
    "AADSTS70043": "the refresh token has expired (a conditional access policy?): run {login}",
    "AADSTS50076": "multi-factor authentication is required: run {login}",
}
_CODE_HINTS = {
    "invalid_grant": "the grant was revoked or has expired (a password change?): run {login}",
    "invalid_client": "the client_id or client_secret is wrong or has expired",
    "unauthorized_client": "the application is not allowed this grant type: check the app registration",
    "invalid_scope": "a scope is not valid for this provider: check scopes",
    "invalid_request": "the provider refused the request: check the oauth2 settings",
    "access_denied": "access was denied",
    "expired_token": "the device code expired before the sign-in was finished: run {login} again",
    "no_refresh_token": "there is no refresh token yet: run {login}",
}


class OAuth2Error(MaildError):
    """A token request failed for a reason a person must fix (see `hint`)."""

    transient = False

    def __init__(self, provider: str, code: str, hint: str, detail: str = "", error: str = "") -> None:
        self.provider = provider
        self.code = code  # the OAuth2 error code, with Microsoft's AADSTS code when there is one
        self.error = error or code  # the bare OAuth2 error code (RFC 6749 §5.2, RFC 8628 §3.5)
        self.hint = hint
        self.detail = detail
        text = f"oauth2 ({provider}): {code}: {hint}"
        if detail:
            text += f" [{detail}]"
        super().__init__(text)


class OAuth2TransientError(OAuth2Error, TransientError):
    """The token endpoint is unreachable or answered 'try later': retry with backoff."""

    transient = True


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by `***`, then made safe for one log line."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return shown(text)


def hint_for(code: str, aadsts: str, login: str = LOGIN_COMMAND) -> str:
    template = _AADSTS_HINTS.get(aadsts) or _CODE_HINTS.get(code) or "the provider refused the token request"
    return template.format(login=login)


def refused(
    provider: str,
    status: int,
    body: Mapping[str, object],
    secrets: Iterable[str] = (),
    login: str = LOGIN_COMMAND,
) -> OAuth2Error:
    """The error for an HTTP error answer from a token endpoint (`body` is its JSON, maybe empty)."""
    code = str(body.get("error") or f"http_{status}")
    description = str(body.get("error_description") or "")
    found = _AADSTS.search(description)
    aadsts = found.group(0) if found else ""
    detail = scrub(description.split("\r")[0].split("\n")[0][:_DESCRIPTION_CHARS], secrets)
    if status >= 500 or status == 429 or (not body.get("error") and status in (408, 425)):
        return OAuth2TransientError(
            provider, code, f"the token endpoint answered {status}: retrying later", detail
        )
    full_code = f"{code} {aadsts}" if aadsts else code
    return OAuth2Error(provider, full_code, hint_for(code, aadsts, login), detail, error=code)


def unreachable(provider: str, reason: str, secrets: Iterable[str] = ()) -> OAuth2TransientError:
    """The error for a token endpoint that could not be reached (refused, timed out, DNS, TLS)."""
    return OAuth2TransientError(
        provider, "unreachable", "the token endpoint is unreachable: retrying later", scrub(reason, secrets)
    )
