"""An IMAP folder as a mail source: the only module that imports imapclient.

Keeping the library behind the `MailSource` seam (maild.inbound.source)
means the ingest loop, its tests and its error handling never depend on
IMAP details such as sequence numbers, capabilities or imaplib exceptions.

A message is "done" when it carries our private keyword `$MaildDone`, not
when it is `\\Seen`: a human reading the support mailbox in a mail client
must not make maild skip a message.
"""

from __future__ import annotations

import contextlib
import io
import logging
import ssl
import time
from collections.abc import Iterator, Sequence
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError, IMAPClientAbortError, IMAPClientError, LoginError

from maild.errors import MaildError, TransientError
from maild.inbound import imapwire
from maild.inbound.imaplogin import SessionToken, password_login, token_login
from maild.inbound.imapwire import announces_mail, parse_key, quiet_imaplib, says_bye, size_groups
from maild.inbound.listing import THREAD_HEADERS, Listed, listed_from_headers
from maild.inbound.source import FetchedMessage
from maild.oauth2.settings import Mechanism
from maild.oauth2.tokens import TokenSource
from maild.tls import client_context, is_loopback, security_mode
from maild.vocab import Security

__all__ = ["DONE_KEYWORD", "ImapSource"]

log = logging.getLogger("maild.mailbox")

DONE_KEYWORD = "$MaildDone"
"""The keyword that marks a message as handled; `\\Seen` alone is a human's business."""

IDLE_RENEW_SECONDS = 24 * 60.0
"""RFC 2177 servers may drop an IDLE after 30 minutes; re-issue well before that."""

POLL_INTERVAL_SECONDS = 2.0
"""How often the non-IDLE fallback asks the server (NOOP) or the disk for news."""

LISTING_BATCH = 500
THREAD_FIELDS = f"HEADER.FIELDS ({' '.join(h.upper() for h in THREAD_HEADERS)})"


class ImapSource:
    """One IMAP folder, UID-based, with UIDVALIDITY embedded in every key.

    Keys are `f"{uidvalidity}:{uid}"` so that a folder recreated on the
    server (new UIDVALIDITY) can never make an old key address a different
    message: such keys are simply not found any more.
    """

    def __init__(
        self,
        host: str,
        port: int,
        security: Security,
        username: str,
        password: str,
        folder: str = "INBOX",
        processed_folder: str | None = None,
        failed_folder: str = "maild-failed",
        timeout: float = 60.0,
        ca_file: str | None = None,
        verify_tls: bool = True,
        idle: bool = True,
        tokens: TokenSource | None = None,
        mechanism: Mechanism = Mechanism.XOAUTH2,
    ) -> None:
        # Validated here, not at first use, so a bad configuration fails at
        # start-up with a precise message instead of on the first message.
        security = security_mode(security, "IMAP security")
        if security == "none" and not is_loopback(host):
            raise ValueError(f"IMAP without TLS is only allowed to a loopback address, not {host!r}")
        if not 0 < port < 65536:
            raise ValueError(f"IMAP port out of range: {port}")
        if timeout <= 0:
            raise ValueError(f"IMAP timeout must be positive, not {timeout}")
        if not folder or not failed_folder:
            raise ValueError("IMAP folder names must not be empty")
        if failed_folder == folder or processed_folder == folder:
            raise ValueError(f"processed and failed folders must differ from the folder read ({folder!r})")
        if processed_folder == "":
            raise ValueError("IMAP processed_folder must be None or a folder name, not empty")
        self.host = host
        self.port = port
        self.security: Security = security
        self.username = username
        self._password = password
        self.folder = folder
        self.processed_folder = processed_folder
        self.failed_folder = failed_folder
        self.timeout = timeout
        self.ca_file = ca_file
        self.verify_tls = verify_tls
        self.use_idle = idle
        # auth = "oauth2": log in as `username` with a bearer token from `tokens` (SPEC §9)
        self._tokens = tokens
        self._mechanism = mechanism
        self._session: SessionToken | None = None  # when the token login is renewed
        self.name = f"imap://{username}@{host}:{port}/{folder}"
        self._client: Any = None
        self._uidvalidity: int | None = None
        # UIDNEXT when pending() last looked: wait_for_mail reports only
        # messages added after it, so a message the caller chose to leave
        # pending does not turn the wait into a busy loop.
        self._uidnext_at_pending: int | None = None
        self._known_folders: set[str] = set()

    # ------------------------------------------------------------ connection

    def _tls_context(self) -> ssl.SSLContext:
        return client_context(self.ca_file, self.verify_tls)

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.shutdown()

    @contextlib.contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Translate library failures: lost connections are transient, refusals are not."""
        try:
            yield
        except IMAPClientAbortError as exc:
            self._drop()
            raise TransientError(f"{self.name}: connection lost during {action}: {exc}") from exc
        except CapabilityError as exc:
            raise MaildError(f"{self.name}: {action}: {exc}") from exc
        except IMAPClientError as exc:
            if "BYE" in str(exc) or "IDLE" in action.upper():
                # The server ended the session (shutdown, restart, idle timeout): reconnect.
                self._drop()
                raise TransientError(
                    f"{self.name}: the server ended the session during {action}: {exc}"
                ) from exc
            raise MaildError(f"{self.name}: {action} failed: {exc}") from exc
        except ssl.SSLError as exc:
            self._drop()
            raise TransientError(f"{self.name}: TLS failure during {action}: {exc}") from exc
        except OSError as exc:
            # Includes refused connections, timeouts and resets.
            self._drop()
            raise TransientError(f"{self.name}: {action}: {exc.__class__.__name__}: {exc}") from exc

    def _connected(self) -> Any:
        if self._client is None:
            raise TransientError(f"{self.name}: not connected (open() it again)")
        return self._client

    def open(self) -> None:
        """Connect, secure, log in and select the folder (read-write)."""
        self.close()
        if self._tokens is not None:
            # A token first: an endpoint that refuses costs no IMAP connection (OAuth2Error, with its hint).
            self._tokens.token()
        with self._guard("connect"):
            self._client = IMAPClient(
                self.host,
                port=self.port,
                ssl=self.security == "tls",
                ssl_context=self._tls_context() if self.security == "tls" else None,
                timeout=self.timeout,
            )
        quiet_imaplib(self._client)
        try:
            self._login()
            self._select()
        except BaseException:
            self._drop()
            raise

    def _login(self) -> None:
        client = self._connected()
        if self.security == "starttls":
            with self._guard("STARTTLS"):
                if not client.has_capability("STARTTLS"):
                    raise MaildError(
                        f"{self.name}: the server does not offer STARTTLS; "
                        "use security = 'tls' or a server that supports it"
                    )
                client.starttls(self._tls_context())
        with self._guard("login"):
            if self._tokens is not None:
                self._token_login(client, self._tokens)
                return
            if client.has_capability("LOGINDISABLED"):
                raise MaildError(
                    f"{self.name}: the server refuses plaintext login on this connection; "
                    "use security = 'tls' or 'starttls'"
                )
            password_login(client, LoginError, self.name, self.username, self._password)

    def _token_login(self, client: Any, tokens: TokenSource) -> None:
        """auth = "oauth2": AUTHENTICATE as the mailbox user with a bearer token (maild.inbound.imaplogin)."""
        self._session = token_login(
            client, LoginError, self.name, self.username, tokens, self._mechanism, self._session
        )

    def _select(self) -> int:
        """(Re-)select the folder; returns UIDNEXT. A fresh SELECT also resyncs our view."""
        client = self._connected()
        with self._guard(f"SELECT {self.folder}"):
            info = client.select_folder(self.folder)
        uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        if uidvalidity != self._uidvalidity:
            if self._uidvalidity is not None:
                log.warning(
                    "%s: UIDVALIDITY changed from %s to %s; old keys no longer match",
                    self.name,
                    self._uidvalidity,
                    uidvalidity,
                )
            self._uidvalidity = uidvalidity
            self._uidnext_at_pending = None
        permanent = info.get(b"PERMANENTFLAGS", ())
        if b"\\*" not in permanent and DONE_KEYWORD.encode() not in permanent:
            raise MaildError(
                f"{self.name}: the folder does not allow the keyword {DONE_KEYWORD} "
                f"(PERMANENTFLAGS {permanent!r}); maild cannot mark messages done there"
            )
        if b"UIDNEXT" in info:
            return int(info[b"UIDNEXT"])
        # UIDNEXT is required by RFC 3501, but derive it rather than trust that.
        with self._guard("UID SEARCH"):
            return max((int(u) for u in client.search("ALL")), default=0) + 1

    def close(self) -> None:
        """Log out if we can, drop the socket regardless; never raises."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # the connection may already be gone; closing must not fail
            with contextlib.suppress(Exception):
                client.shutdown()

    # -------------------------------------------------------------- messages

    def _key(self, uid: int) -> str:
        return f"{self._uidvalidity}:{uid}"

    def _current_uids(self, keys: Sequence[str]) -> list[int]:
        """UIDs of keys from this UIDVALIDITY; stale keys are logged and left out."""
        uids: list[int] = []
        for key in keys:
            uidvalidity, uid = parse_key(key)
            if uidvalidity == self._uidvalidity:
                uids.append(uid)
            else:
                log.warning("%s: key %s is from an older UIDVALIDITY; skipped", self.name, key)
        return uids

    def pending(self) -> list[str]:
        """Keys of messages without our done keyword, lowest UID (oldest) first.

        Re-selects the folder so a UIDVALIDITY change is noticed before any
        key is handed out.
        """
        uidnext = self._select()
        client = self._connected()
        with self._guard("UID SEARCH"):
            uids = sorted(int(u) for u in client.search(["NOT", "KEYWORD", DONE_KEYWORD]))
        self._uidnext_at_pending = uidnext
        return [self._key(uid) for uid in uids]

    def listing(self, keys: Sequence[str]) -> list[Listed]:
        """Thread ids of waiting messages, from their headers only (for maild.daemon.workqueue)."""
        uids = self._current_uids(keys)
        client = self._connected()
        found: dict[int, bytes] = {}
        for start in range(0, len(uids), LISTING_BATCH):
            with self._guard("UID FETCH HEADER.FIELDS"):
                data = client.fetch(uids[start : start + LISTING_BATCH], [f"BODY.PEEK[{THREAD_FIELDS}]"])
            for uid, item in data.items():
                block = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER")), b"")
                found[int(uid)] = bytes(block or b"")
        return [listed_from_headers(self._key(uid), found[uid]) for uid in uids if uid in found]

    def fetch(self, keys: Sequence[str]) -> list[FetchedMessage]:
        """Raw bytes for keys still present, in the order asked; BODY.PEEK keeps `\\Seen` off."""
        uids = self._current_uids(keys)
        if not uids:
            return []
        client = self._connected()
        with self._guard("UID FETCH RFC822.SIZE"):
            sizes = {
                uid: int(item.get(b"RFC822.SIZE", 0))
                for uid, item in client.fetch(uids, ["RFC822.SIZE"]).items()
            }
        raws: dict[int, bytes] = {}
        for group in size_groups([u for u in uids if u in sizes], sizes):
            if len(group) == 1 and sizes[group[0]] > imapwire.LARGE_MESSAGE:
                raws[group[0]] = self._fetch_in_chunks(group[0], sizes[group[0]])
                continue
            with self._guard("UID FETCH"):
                data = client.fetch(group, ["BODY.PEEK[]"])
            for uid, item in data.items():
                raws[uid] = bytes(item.get(b"BODY[]") or b"")
        return [FetchedMessage(key=self._key(uid), raw=raws[uid]) for uid in uids if uid in raws]

    def _fetch_in_chunks(self, uid: int, size: int) -> bytes:
        """A large message in partial fetches, each written into one buffer as it arrives.

        The buffer is sized from RFC822.SIZE up front and handed out with
        `getvalue()`, which returns the buffer itself rather than a copy: the
        message exists once, plus the chunk being read. Collecting the chunks
        and joining them held it twice.
        """
        client = self._connected()
        buffer = io.BytesIO()
        if size > 0:
            # Writing the last byte first makes the buffer exactly `size` long
            # in one allocation, instead of growing it chunk by chunk.
            buffer.seek(size - 1)
            buffer.write(b"\0")
            buffer.seek(0)
        offset = 0
        while offset < size:
            with self._guard("UID FETCH partial"):
                data = client.fetch([uid], [f"BODY.PEEK[]<{offset}.{imapwire.FETCH_CHUNK}>"])
            item = data.get(uid, {})
            chunk = next((v for k, v in item.items() if k.startswith(b"BODY[]")), None)
            del data, item
            if not chunk:
                break
            buffer.write(chunk)
            offset += len(chunk)
            del chunk
        # The server may have sent fewer bytes than it announced: keep only those.
        buffer.truncate(offset)
        return buffer.getvalue()

    def _ensure_folder(self, folder: str) -> None:
        if folder in self._known_folders:
            return
        client = self._connected()
        with self._guard(f"create folder {folder}"):
            if not client.folder_exists(folder):
                try:
                    client.create_folder(folder)
                except IMAPClientError:
                    # Another worker may have created it in between.
                    if not client.folder_exists(folder):
                        raise
        self._known_folders.add(folder)

    def _can_move(self) -> bool:
        """Whether UID MOVE is available; a seam so tests can drive the COPY fallback."""
        return bool(self._connected().has_capability("MOVE"))

    def _move(self, uids: list[int], folder: str) -> None:
        try:
            self._move_once(uids, folder)
        except MaildError as exc:
            # Someone deleted the folder since we created it: make it again, once.
            if "TRYCREATE" not in str(exc) or folder not in self._known_folders:
                raise
            self._known_folders.discard(folder)
            self._move_once(uids, folder)

    def _move_once(self, uids: list[int], folder: str) -> None:
        self._ensure_folder(folder)
        client = self._connected()
        if self._can_move():
            with self._guard(f"UID MOVE to {folder}"):
                client.move(uids, folder)
            return
        with self._guard(f"UID COPY to {folder}"):
            client.copy(uids, folder)
            client.add_flags(uids, [b"\\Deleted"], silent=True)
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(uids)
            else:
                # Without UIDPLUS, EXPUNGE also removes anything else marked
                # \Deleted in the folder, exactly as any mail client would.
                client.expunge()

    def _mark(self, uids: list[int]) -> None:
        client = self._connected()
        with self._guard("UID STORE"):
            client.add_flags(uids, [b"\\Seen", DONE_KEYWORD.encode()], silent=True)

    def mark_done(self, keys: Sequence[str]) -> None:
        """Flag `\\Seen $MaildDone`, then move to the processed folder if one is set.

        Flagging comes first: if the move fails, the message is already
        done and will not be processed twice.
        """
        uids = self._current_uids(keys)
        if not uids:
            return
        self._mark(uids)
        if self.processed_folder is not None:
            self._move(uids, self.processed_folder)

    def quarantine(self, keys: Sequence[str]) -> None:
        """Mark done and move to the failed folder (created if missing), keeping the bytes."""
        uids = self._current_uids(keys)
        if not uids:
            return
        self._mark(uids)
        self._move(uids, self.failed_folder)

    # ---------------------------------------------------------------- waiting

    def wait_for_mail(self, timeout: float) -> bool:
        """Block until the folder may have new mail or `timeout` seconds pass.

        Mail that arrived since the last `pending()` is reported at once
        (UIDNEXT moved on); after that the server tells us (IDLE), or we
        ask it (NOOP) every few seconds when it has no IDLE or IDLE is
        switched off. The SELECT comes right before IDLE/NOOP with nothing
        in between, so a message arriving at any moment is either counted
        by it or announced (EXISTS) afterwards, never lost in a gap.
        """
        if self._renew_session_if_due():
            return True  # a new session: anything may have arrived meanwhile
        client = self._connected()
        with self._guard("CAPABILITY"):
            idle = self.use_idle and bool(client.has_capability("IDLE"))
        if self._arrived_since_pending():
            return True
        if timeout <= 0:
            return False
        deadline = time.monotonic() + timeout
        if idle:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                if self._idle_once(min(remaining, IDLE_RENEW_SECONDS)):
                    return True
        while True:
            with self._guard("NOOP"):
                _text, responses = client.noop()
            if says_bye(responses):
                self._drop()
                raise TransientError(f"{self.name}: the server closed the connection (BYE)")
            if announces_mail(responses):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(POLL_INTERVAL_SECONDS, remaining))

    def _arrived_since_pending(self) -> bool:
        """Re-select; whether anything may have arrived since `pending()` last looked."""
        before = self._uidnext_at_pending
        if before is None:
            return True  # pending() has not looked since open(): anything may be there
        uidnext = self._select()
        # A new UIDVALIDITY (the select forgot the old UIDNEXT), or messages added since pending().
        return self._uidnext_at_pending is None or uidnext > before

    def _renew_session_if_due(self) -> bool:
        """A new login shortly before the session's token expires (see imaplogin.SessionToken)."""
        if self._session is None or self._tokens is None or not self._session.due(self._tokens.clock.now()):
            return False
        log.info("%s: logging in again with a new OAuth2 token before the current one expires", self.name)
        self.open()
        return True

    def _idle_once(self, seconds: float) -> bool:
        """One IDLE session of at most `seconds`; always leaves IDLE before returning."""
        client = self._connected()
        found = False
        with self._guard("IDLE"):
            client.idle()
            end = time.monotonic() + seconds
            while not found:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    break
                responses = client.idle_check(timeout=remaining)
                if says_bye(responses):
                    self._drop()
                    raise TransientError(f"{self.name}: the server closed the connection during IDLE")
                found = announces_mail(responses)
                if not responses and end - time.monotonic() > 0.05:
                    # idle_check swallows EOF and returns early with nothing;
                    # leaving IDLE below surfaces a dead connection as an error.
                    break
            _text, responses = client.idle_done()
        return found or announces_mail(responses)
