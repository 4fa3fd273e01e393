"""One exception hierarchy, so the command line can map every expected
failure to an exit status and one clear sentence without a traceback."""

from __future__ import annotations


class MaildError(Exception):
    """An expected failure with a message fit for an operator. Exit status 1."""

    exit_code = 1


class UsageError(MaildError):
    """Bad command-line usage, or a thing named on the command line does not exist."""

    exit_code = 2


class NotFound(UsageError):
    """A case, account, contact or agent named on the command line does not exist."""


class ConfigError(UsageError):
    """The configuration is invalid; `key` names the offending dotted key."""

    def __init__(self, key: str, problem: str, hint: str = "") -> None:
        self.key = key
        self.problem = problem
        self.hint = hint
        text = f"config: {key}: {problem}" if key else f"config: {problem}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class TransientError(MaildError):
    """A server we depend on is unreachable or answered 'try later'; retry with backoff."""
