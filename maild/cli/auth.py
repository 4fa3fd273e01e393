"""`maild auth login` and `maild auth check`: getting and proving the OAuth2 sign-ins (SPEC §9).

`login` runs the sign-in of one OAuth2 client with flow = "refresh_token"
(the device-code flow of maild.oauth2.device; for Google, whose device flow
refuses the Gmail scope, or with --browser, the loopback flow of
maild.oauth2.loopback) and stores the refresh token in its owner-only file,
where a running daemon picks it up without a restart. `check` does what the
daemon will do, once, for every mailbox and the SMTP server, and says per
line what works and what does not, so an administrator sees a revoked
grant or an expired secret before mail stops. Neither prints a token or a
secret: every line passes through `scrub` with the secrets of the config.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from maild.app import App
from maild.configtransport import MailboxSettings, SmtpSettings
from maild.errors import MaildError, UsageError
from maild.oauth2.errors import OAuth2Error, scrub
from maild.oauth2.settings import Flow, OAuth2Settings, Provider
from maild.oauth2.tokens import TokenSource

__all__ = ["cmd_auth_check", "cmd_auth_login"]


# ------------------------------------------------------------------ login


def cmd_auth_login(app: App, args: argparse.Namespace) -> int:
    owner = _owner(app, args)
    settings = _refresh_token_client(owner)
    if args.browser or settings.provider is Provider.GOOGLE:
        _loopback_login(app, settings)
    else:
        from maild.oauth2 import device

        device.login(settings, app.clock, time.sleep, _show)
    print(
        f"signed in: the refresh token is stored in {settings.refresh_token_file} (owner-only); "
        "a running maild uses it at its next token request"
    )
    return 0


def _owner(app: App, args: argparse.Namespace) -> MailboxSettings | SmtpSettings:
    """The section named on the command line: --smtp, --mailbox LABEL, or [mailbox]."""
    if args.smtp:
        return app.settings.smtp
    return app.settings.mailbox_by_label(args.mailbox)


def _section(owner: MailboxSettings | SmtpSettings) -> str:
    return f"[{owner.section}]" if isinstance(owner, MailboxSettings) else "[smtp]"


def _refresh_token_client(owner: MailboxSettings | SmtpSettings) -> OAuth2Settings:
    """The OAuth2 client to sign in for, or a UsageError saying why there is nothing to sign in."""
    where = _section(owner)
    if owner.oauth2 is None:
        raise UsageError(
            f'{where} has auth = "{owner.auth}": maild auth login is only for auth = "oauth2" '
            f'(with an oauth2 table and flow = "refresh_token")'
        )
    if owner.oauth2.flow is Flow.CLIENT_CREDENTIALS:
        raise UsageError(
            f'{where} uses flow = "client_credentials" (app-only): there is nothing to sign in; '
            "run maild auth check to test its token and login"
        )
    return owner.oauth2


def _loopback_login(app: App, settings: OAuth2Settings) -> None:
    """The authorization code + PKCE sign-in with a 127.0.0.1 redirect (Google, or --browser)."""
    import webbrowser

    from maild.oauth2 import loopback

    paste = sys.stdin.readline if sys.stdin is not None and sys.stdin.isatty() else None
    loopback.login(settings, app.clock, _show, open_browser=_browser_opener(webbrowser.open), paste=paste)


def _browser_opener(opener: Callable[[str], object]) -> Callable[[str], object] | None:
    """A browser only where one can open (a desktop session); on a server the URL is shown instead."""
    return opener if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") else None


def _show(text: str) -> None:
    print(text, flush=True)


# ------------------------------------------------------------------ check


def cmd_auth_check(app: App, _args: argparse.Namespace) -> int:
    secrets = _config_secrets(app)
    results = [_check_mailbox(app, m, secrets) for m in app.settings.mailboxes]
    results.append(_check_smtp(app, secrets))
    for ok, line in results:
        print(("ok   " if ok else "FAIL ") + scrub(line, secrets))
    return 0 if all(ok for ok, _line in results) else 1


def _config_secrets(app: App) -> list[str]:
    """Every secret of the config, masked in every line as a last line of defence."""
    found = [m.password for m in app.settings.mailboxes]
    found.append(app.settings.smtp.password or "")
    found += [o.oauth2.client_secret for o in app.oauth2_owners() if o.oauth2 is not None]
    return [s for s in found if s]


def _token_line(tokens: TokenSource | None, secrets: list[str]) -> str:
    """A token for the login to come (its value joins `secrets`); the words for the ok line."""
    if tokens is None:
        return "password"
    token = tokens.current()
    secrets.append(token.value)
    return (
        f"oauth2 {tokens.settings.mechanism.value}, token valid until {token.expires_at:%Y-%m-%d %H:%M:%SZ}"
    )


def _failure(exc: Exception) -> str:
    """The reason and, where there is one, what to do: "reason (hint)"."""
    if isinstance(exc, OAuth2Error):
        detail = f" [{exc.detail}]" if exc.detail else ""
        return f"token request failed: {exc.code}{detail} ({exc.hint})"
    # MaildError and the SMTP seam's SessionError say it in a sentence; anything else by its kind too.
    text = str(exc)
    return (
        text
        if isinstance(exc, MaildError) or type(exc).__name__ == "SessionError"
        else f"{type(exc).__name__}: {text}"
    )


def _check_mailbox(app: App, m: MailboxSettings, secrets: list[str]) -> tuple[bool, str]:
    what = f"mailbox [{m.section}] {m.name}"
    if m.protocol == "maildir":
        problem = _maildir_problem(m.path)
        return (False, f"{what}: {problem}") if problem else (True, f"{what}: a writable Maildir")
    source = app.make_source(m)
    try:
        how = _token_line(app.token_source(m), secrets)
        source.open()  # connect, log in, select the folder
    except Exception as exc:
        reason = _failure(exc)
        return False, f"{what}: {reason.removeprefix(f'{m.name}: ')}"  # the source names itself too
    finally:
        source.close()
    return True, f"{what}: logged in ({how}) and selected {m.folder}"


def _maildir_problem(path: Path | None) -> str:
    """Why maild could not read and mark mail in `path`, or "" (nothing is created here)."""
    if path is None:
        return "no path configured"
    for sub in ("cur", "new", "tmp"):
        directory = path / sub
        if not directory.is_dir():
            return f"{directory} is not a directory (not a Maildir yet?)"
        if not os.access(directory, os.R_OK | os.W_OK | os.X_OK):
            return f"{directory} is not readable and writable by this user"
    return ""


def _check_smtp(app: App, secrets: list[str]) -> tuple[bool, str]:
    s = app.settings.smtp
    what = f"smtp {s.host}:{s.port}"
    sender = app.make_sender()
    try:
        how = _token_line(app.token_source(s), secrets) if s.oauth2 else "password" if s.username else ""
        asyncio.run(sender.check_login())
    except Exception as exc:
        return False, f"{what}: {_failure(exc)}"
    return True, f"{what}: logged in ({how})" if how else f"{what}: connected (no login configured)"
