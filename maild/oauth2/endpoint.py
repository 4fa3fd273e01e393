"""One form-encoded POST to a token or device endpoint, and its answer as JSON.

Plain urllib (stdlib): every provider's token endpoint speaks the same
RFC 6749 form POST, and a pipe-transport `maild deliver` must not pay for
importing an HTTP stack it does not use. The request carries secrets, so
failures are turned into OAuth2Error texts scrubbed of them here, at the
one place they are built.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

from maild.oauth2.errors import OAuth2Error, refused, unreachable

_MAX_ANSWER = 1 << 20  # a token answer is a few KB; never read an endless body
_USER_AGENT = "maild-oauth2"


def post_form(
    url: str,
    fields: Mapping[str, str],
    *,
    provider: str,
    timeout: float,
    secrets: tuple[str, ...],
    login: str,
) -> dict[str, object]:
    """POST `fields` to `url`; the JSON answer of a 2xx, else the typed error for what went wrong."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("https", "http"):
        raise OAuth2Error(provider, "bad_url", "the token endpoint must be an https:// URL", url)
    data = urllib.parse.urlencode(fields).encode("ascii")
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, body = answer.status, answer.read(_MAX_ANSWER)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, _read_error_body(exc)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise unreachable(provider, f"{url}: {reason}", secrets) from None
    parsed = _json_object(body)
    if 200 <= status < 300:
        if parsed is None:
            raise OAuth2Error(provider, "bad_response", "the token endpoint did not answer JSON", url)
        return parsed
    raise refused(provider, status, parsed or {}, secrets, login)


def _read_error_body(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read(_MAX_ANSWER)
    except OSError:
        return b""
    finally:
        exc.close()


def _json_object(body: bytes) -> dict[str, object] | None:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None
