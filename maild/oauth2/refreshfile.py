"""The refresh token on disk: the only token maild ever writes, owner-only and replaced atomically.

A refresh token is a long-lived credential to a whole mailbox, so the file
is created 0600 and never exists half-written: a new token (some providers
rotate it on every refresh) goes to a temporary file in the same directory,
is flushed, then renamed over the old one. A crash leaves the old token or
the new one, never neither.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def read_refresh_token(path: Path) -> str | None:
    """The stored refresh token, or None when there is none yet (the file is missing or empty)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def write_refresh_token(path: Path, token: str) -> None:
    """Store `token` at `path`, mode 0600, atomically (temporary file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(token + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (on Linux a directory can be fsynced; elsewhere skip)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
