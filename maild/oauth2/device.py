"""The device-code flow (RFC 8628) behind `maild auth login`: a refresh token without a redirect URI.

The consent flows of other help desks need a redirect URI reachable from
the administrator's browser, which a daemon on a server rarely has. With a
device code, maild prints a URL and a short code, the administrator signs in
on any device, and maild polls the token endpoint until the sign-in is done;
the refresh token it then receives goes to the owner-only file that the
`refresh_token` flow reads. The clock and the sleep are passed in, so tests
need not wait out a real polling interval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from maild.clock import Clock
from maild.oauth2 import settings as oauth2_settings
from maild.oauth2.endpoint import post_form
from maild.oauth2.errors import LOGIN_COMMAND, OAuth2Error
from maild.oauth2.refreshfile import write_refresh_token
from maild.oauth2.settings import Flow, OAuth2Settings, Provider

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5.0  # seconds, RFC 8628 §3.2
SLOW_DOWN_STEP = 5.0  # seconds added on each slow_down, RFC 8628 §3.5


@dataclass(frozen=True)
class DeviceCode:
    """What the administrator must be shown, and what maild keeps to poll with."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_at: datetime
    interval: float

    def instructions(self) -> str:
        """The lines `maild auth login` prints."""
        lines = [f"To sign in, open {self.verification_uri} and enter the code {self.user_code}"]
        if self.verification_uri_complete:
            lines.append(f"(or open {self.verification_uri_complete})")
        lines.append(f"The code expires at {self.expires_at:%H:%M:%S} UTC. Waiting for the sign-in...")
        return "\n".join(lines)


def start(settings: OAuth2Settings, clock: Clock) -> DeviceCode:
    """Ask the provider for a device code and the URL where the administrator enters it."""
    provider = settings.provider.value
    url = oauth2_settings.device_authorization_url(settings)
    if not url:
        raise OAuth2Error(provider, "no_device_url", "set device_url for provider generic")
    answer = _post(settings, url, _client_fields(settings, scope=True))
    device_code = answer.get("device_code")
    user_code = answer.get("user_code")
    # Google says verification_url, RFC 8628 and Microsoft verification_uri.
    verification = answer.get("verification_uri") or answer.get("verification_url")
    if not (isinstance(device_code, str) and isinstance(user_code, str) and isinstance(verification, str)):
        raise OAuth2Error(provider, "bad_response", "the device authorization answer is incomplete")
    complete = answer.get("verification_uri_complete")
    return DeviceCode(
        device_code=device_code,
        user_code=user_code,
        verification_uri=verification,
        verification_uri_complete=complete if isinstance(complete, str) else "",
        expires_at=clock.now() + timedelta(seconds=_number(answer.get("expires_in"), 900.0)),
        interval=_number(answer.get("interval"), DEFAULT_INTERVAL),
    )


def wait_for_refresh_token(
    settings: OAuth2Settings, code: DeviceCode, clock: Clock, sleep: Callable[[float], None]
) -> str:
    """Poll until the sign-in is done; store the refresh token in its file and return it.

    `authorization_pending` waits another interval, `slow_down` lengthens
    it, an unreachable endpoint is tried again; a denied or expired sign-in
    is an OAuth2Error saying so.
    """
    provider = settings.provider.value
    fields = {
        **_client_fields(settings, scope=False),
        "grant_type": DEVICE_GRANT,
        "device_code": code.device_code,
    }
    interval = code.interval
    while clock.now() < code.expires_at:
        sleep(interval)
        try:
            answer = _post(settings, oauth2_settings.token_url(settings), fields, code.device_code)
        except OAuth2Error as exc:
            if exc.error == "slow_down":
                interval += SLOW_DOWN_STEP
            elif exc.error != "authorization_pending" and not exc.transient:
                raise
            continue
        return _store(settings, answer)
    raise OAuth2Error(
        provider, "expired_token", f"the code expired before the sign-in: run {LOGIN_COMMAND} again"
    )


def login(
    settings: OAuth2Settings,
    clock: Clock,
    sleep: Callable[[float], None],
    show: Callable[[str], None],
) -> str:
    """The whole of `maild auth login` for one client: show the instructions, wait, store the token."""
    if settings.flow is not Flow.REFRESH_TOKEN:
        raise OAuth2Error(
            settings.provider.value,
            "wrong_flow",
            'maild auth login is for flow = "refresh_token"; client_credentials needs no sign-in',
        )
    code = start(settings, clock)
    show(code.instructions())
    return wait_for_refresh_token(settings, code, clock, sleep)


def _store(settings: OAuth2Settings, answer: dict[str, object]) -> str:
    refresh_token = answer.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        hint = "the provider returned no refresh token"
        if settings.provider is Provider.MICROSOFT:
            hint += ": add offline_access to scopes"
        raise OAuth2Error(settings.provider.value, "no_refresh_token", hint)
    assert settings.refresh_token_file is not None  # validate() requires it for this flow
    write_refresh_token(settings.refresh_token_file, refresh_token)
    return refresh_token


def _client_fields(settings: OAuth2Settings, *, scope: bool) -> dict[str, str]:
    fields = {"client_id": settings.client_id}
    if (
        settings.client_secret
    ):  # Google's "TVs and limited input" clients have one; Microsoft's public ones not
        fields["client_secret"] = settings.client_secret
    wanted = oauth2_settings.scopes(settings)
    if scope and wanted:
        fields["scope"] = " ".join(wanted)
    return fields


def _post(
    settings: OAuth2Settings, url: str, fields: dict[str, str], extra_secret: str = ""
) -> dict[str, object]:
    return post_form(
        url,
        fields,
        provider=settings.provider.value,
        timeout=settings.timeout,
        secrets=(settings.client_secret, extra_secret),
        login=LOGIN_COMMAND,
    )


def _number(value: object, default: float) -> float:
    """A positive number of seconds from an answer (a provider may send a string), at most a day."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return default
    if isinstance(value, int | float) and 0 < value < float("inf"):
        return min(max(float(value), 1.0), 86_400.0)
    return default
