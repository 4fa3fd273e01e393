"""A local Maildir as a mail source (maild owns the directory; see MaildirSource)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from maild.errors import MaildError, TransientError
from maild.inbound.listing import Listed, listed_from_headers
from maild.inbound.source import FetchedMessage

__all__ = ["MaildirSource"]

HEADER_READ = 256 * 1024  # a Maildir file's header block is read up to this much


class MaildirSource:
    """A local Maildir that maild owns.

    The rule, chosen because it needs no state outside the Maildir: a
    message is pending exactly while it is in `new/`; done means moved to
    `cur/` with the `S` flag (`:2,S`); quarantined means moved into the
    `.failed` sub-maildir (Maildir++ naming, so IMAP servers show it as a
    folder). A mail reader that moves files out of `new/` therefore hides
    them from maild: point deliveries at a Maildir no human reads directly.
    Keys are the file's unique base name (the part before `:`).
    """

    def __init__(self, path: Path, failed_subdir: str = ".failed") -> None:
        if not failed_subdir.startswith(".") or "/" in failed_subdir or failed_subdir in (".", ".."):
            raise ValueError(
                f"failed_subdir must be one Maildir++ folder name starting with '.', not {failed_subdir!r}"
            )
        self.path = Path(os.path.abspath(path))
        self.failed_subdir = failed_subdir
        self.name = f"maildir:{self.path}"
        self._last_pending: frozenset[str] = frozenset()

    @contextlib.contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except (PermissionError, NotADirectoryError) as exc:
            raise MaildError(f"{self.name}: {action}: {exc}") from exc
        except OSError as exc:
            raise TransientError(f"{self.name}: {action}: {exc}") from exc

    @staticmethod
    def _make_maildir(root: Path) -> None:
        for sub in ("tmp", "new", "cur"):
            (root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)

    def open(self) -> None:
        with self._guard("create maildir"):
            self._make_maildir(self.path)

    def close(self) -> None:
        """Nothing to release; present so both sources are used alike."""

    def _scan_new(self) -> dict[str, Path]:
        """Base name -> file in new/, oldest first; dot files are not messages."""
        entries: list[tuple[int, str, Path]] = []
        with self._guard("list new/"):
            for entry in os.scandir(self.path / "new"):
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                with contextlib.suppress(FileNotFoundError):
                    entries.append((entry.stat().st_mtime_ns, entry.name, Path(entry.path)))
        entries.sort()
        found: dict[str, Path] = {}
        for _mtime, name, path in entries:
            found.setdefault(name.split(":", 1)[0], path)
        return found

    @staticmethod
    def _valid_key(key: str) -> bool:
        return bool(key) and "/" not in key and ":" not in key and not key.startswith(".")

    def _locate(self, key: str) -> Path | None:
        if not self._valid_key(key):
            return None
        new = self.path / "new" / key
        if new.is_file():
            return new
        for sub in ("new", "cur"):
            with self._guard(f"list {sub}/"):
                for entry in os.scandir(self.path / sub):
                    if entry.name.split(":", 1)[0] == key and entry.is_file():
                        return Path(entry.path)
        return None

    def pending(self) -> list[str]:
        keys = list(self._scan_new())
        self._last_pending = frozenset(keys)
        return keys

    def fetch(self, keys: Sequence[str]) -> list[FetchedMessage]:
        out: list[FetchedMessage] = []
        for key in keys:
            raw = self._read(self._locate(key), shown=None)
            if raw is not None:
                out.append(FetchedMessage(key=key, raw=raw))
        return out

    def listing(self, keys: Sequence[str]) -> list[Listed]:
        """Thread ids of waiting messages, from the header block of each file."""
        out: list[Listed] = []
        for key in keys:
            head = self._read(self._in_new(key), shown=key, limit=HEADER_READ)
            if head is None:
                continue
            end = min((i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0), default=len(head))
            out.append(listed_from_headers(key, head[:end]))
        return out

    def _read(self, path: Path | None, *, shown: str | None, limit: int = -1) -> bytes | None:
        """A message file's bytes (up to `limit`); None when it is not there or went away meanwhile.

        Gone is normal (another worker marked it done); any other failure to
        read is transient, named by `shown` (else the file name).
        """
        if path is None:
            return None
        try:
            with path.open("rb") as f:
                return f.read(limit)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TransientError(f"{self.name}: read {shown or path.name}: {exc}") from exc

    @staticmethod
    def _seen_name(key: str, current: str) -> str:
        """The cur/ name: existing flags kept, S added, flags sorted as the spec asks."""
        _base, sep, info = current.partition(":")
        flags = set(info[2:]) if sep and info.startswith("2,") else set()
        flags.add("S")
        return f"{key}:2,{''.join(sorted(flags))}"

    def _in_new(self, key: str) -> Path | None:
        if not self._valid_key(key):
            return None
        plain = self.path / "new" / key
        return plain if plain.is_file() else self._scan_new().get(key)

    def mark_done(self, keys: Sequence[str]) -> None:
        """Move from new/ to cur/ with `S`; a key no longer in new/ is already done."""
        for key in keys:
            source = self._in_new(key)
            if source is None:
                continue
            with self._guard(f"mark {key} done"), contextlib.suppress(FileNotFoundError):
                os.rename(source, self.path / "cur" / self._seen_name(key, source.name))

    def quarantine(self, keys: Sequence[str]) -> None:
        failed = self.path / self.failed_subdir
        with self._guard(f"create {self.failed_subdir}"):
            self._make_maildir(failed)
        for key in keys:
            path = self._locate(key)
            if path is None:
                continue
            with self._guard(f"quarantine {key}"), contextlib.suppress(FileNotFoundError):
                os.rename(path, failed / "cur" / self._seen_name(key, path.name))

    def wait_for_mail(self, timeout: float) -> bool:
        """Poll new/ for a key the last `pending()` did not return."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            if set(self._scan_new()) - self._last_pending:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(0.2, remaining))
