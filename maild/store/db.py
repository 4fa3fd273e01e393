"""Database engine, sessions and schema migrations.

Owns every database connection detail so the rest of the code sees only
sessions: SQLite gets WAL, a busy timeout and foreign keys (one writer at a
time, readers never blocked, a CLI call while the daemon runs waits rather
than fails); PostgreSQL gets psycopg 3. The schema is only ever created by
Alembic migrations (`maild db upgrade`), never by create_all, so production
and tests run the same DDL.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from maild.errors import MaildError, TransientError
from maild.safetext import redact

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest migration's revision. Every command checks the database against it
# without loading Alembic (a test keeps it equal to Alembic's head).
SCHEMA_HEAD = "0009"


def make_engine(url: str) -> Engine:
    """An engine tuned for the backend the URL names."""
    if url.startswith("sqlite"):
        _create_sqlite_file(url)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take control so
        # a write transaction starts with BEGIN IMMEDIATE and never deadlocks
        # on lock upgrade between two processes. Read-only sessions (WAL
        # readers) begin deferred and never take the write lock.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _create_sqlite_file(url: str) -> None:
    """Create the database file, and directories missing above it, owner-only (SPEC §8).

    SQLite would create the file itself with 0644 less the umask; made here
    first it is 0600 whatever the umask, and SQLite gives its -wal and -shm
    files the database file's mode. An existing file keeps the mode its
    operator chose.
    """
    path = _sqlite_file(url)
    if path is None:
        return
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
            os.chmod(directory, 0o700)  # mkdir's mode is narrowed by the umask; never widened
        except FileExistsError:
            pass  # another process made it first
        except OSError as e:
            raise MaildError(f"cannot create the database directory {directory}: {e.strerror}") from None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # SQLite's own open reports the problem in its words
    os.close(fd)


def _sqlite_begin(conn: Connection) -> None:
    # Straight to the driver: every message's transaction starts here, and the
    # statement needs none of SQLAlchemy's execution machinery.
    # (SQLAlchemy does not wrap errors raised in this event: we do, so "locked" or
    # "disk I/O error" still arrive as the OperationalError every caller handles.)
    statement = "BEGIN" if conn.get_execution_options().get("maild_read_only", False) else "BEGIN IMMEDIATE"
    try:
        conn.connection.dbapi_connection.execute(statement)  # type: ignore[union-attr]
    except sqlite3.OperationalError as e:
        raise OperationalError(statement, None, e) from e


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see make_engine)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # 512 KiB of page cache per connection instead of 2 MiB: the hot rows are few and
    # recent, and every pooled connection keeps its own cache (peak RSS, issue 19).
    cur.execute("PRAGMA cache_size=-512")
    cur.close()


def _sqlite_file(url: str) -> Path | None:
    path = url.split("///", 1)[1].split("?", 1)[0] if "///" in url else ""
    return None if not path or path == ":memory:" or path.startswith("file:") else Path(path)


class SqliteWriteLock:
    """One SQLite writer at a time across this process's threads and other maild processes."""

    def __init__(self, database: Path | None) -> None:
        self._thread_lock = threading.Lock()
        self._path = None if database is None else database.with_name(database.name + ".write-lock")
        self._fd: int | None = None

    def _file(self) -> int | None:
        if self._fd is None and self._path is not None:
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:
                self._path = None  # e.g. a read-only directory: threads-only, busy_timeout between processes
        return self._fd

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        fd = self._file()
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX)

    def __exit__(self, *_exc: object) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


# PostgreSQL's deadlock_detected and serialization_failure: the transaction lost a race, nothing is wrong.
_CONFLICT_CODES = frozenset({"40P01", "40001"})


def is_conflict(error: OperationalError) -> bool:
    """A transaction that lost a lock race with another one (PostgreSQL); retrying it alone succeeds."""
    return getattr(error.orig, "sqlstate", None) in _CONFLICT_CODES


class Database:
    """An engine plus a session factory; `session()` is one unit of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(
            self.engine.execution_options(maild_read_only=True), expire_on_commit=False
        )
        # SQLite has one writer at a time. Writers queue on a lock of their own
        # instead of SQLite's busy handler, which sleeps in growing steps and so
        # starves a second process beside a busy one (measured: `run --once`'s
        # sending process fell 8 s behind). Threads queue on a thread lock,
        # processes on an flock of a file beside the database; a process that
        # does not take it (an older maild) still waits through busy_timeout.
        self._write_lock: AbstractContextManager[object] = (
            SqliteWriteLock(_sqlite_file(url)) if url.startswith("sqlite") else contextlib.nullcontext()
        )

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on error."""
        with self._write_lock, self._sessions() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction on a plain connection, for hot paths that use no ORM objects.

        The sending loop commits after every round of messages; skipping the
        session's bookkeeping there is a measurable share of its CPU.
        """
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A session for reads only; nothing is committed and no write lock is taken."""
        with self._readers() as s:
            try:
                yield s
            finally:
                s.rollback()

    def dispose(self) -> None:
        self.engine.dispose()

    def check_schema(self) -> None:
        """Refuse to run against a database that `maild db upgrade` has not brought up to date."""
        current: str | None
        try:
            with self.engine.connect() as conn:
                current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except (OperationalError, ProgrammingError) as e:
            if "alembic_version" not in str(e):
                raise TransientError(f"cannot connect to the database: {_first_line(e)}") from None
            current = None
        if current != SCHEMA_HEAD:
            state = "has no schema" if current is None else f"is at schema {current}, not {SCHEMA_HEAD}"
            raise MaildError(f"the database {state}: run `maild db upgrade` first")


def _alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(db: Database) -> tuple[str | None, str | None]:
    """Migrate to the newest schema; returns (before, after) revisions. Safe to repeat."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    cfg = _alembic_config(db.url)
    try:
        with db.engine.begin() as conn:
            before = MigrationContext.configure(conn).get_current_revision()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            after = MigrationContext.configure(conn).get_current_revision()
    except OperationalError as e:
        raise TransientError(f"cannot migrate the database: {_first_line(e)}") from None
    return before, after


def _first_line(e: BaseException) -> str:
    """The driver's own message, first line, with any password in it masked."""
    text = redact(str(getattr(e, "orig", None) or e))
    return text.strip().splitlines()[0] if text.strip() else type(e).__name__
