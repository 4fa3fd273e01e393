"""Attachment bytes in and out of the database without extra copies.

A bound 50 MB parameter costs SQLite two copies of it (the parameter and the
record it builds). Inserting a zeroblob of the right size and writing the
bytes into it through the incremental-blob API costs only a slice at a time.
On PostgreSQL the driver would copy a bound parameter into its own buffer;
a binary COPY takes the row as a stream instead, again a slice at a time.
"""

from __future__ import annotations

import sqlite3
import struct
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import DBAPIError

from maild.store.models import AttachmentData, table

SLICE = 1024 * 1024

_DATA = table(AttachmentData)
_INSERT = insert(_DATA)


# PostgreSQL's binary COPY format: signature, flags, header extension length;
# then per row a field count and per field its length and bytes; then -1.
_PG_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_PG_COPY_END = struct.pack("!h", -1)
_PG_COPY = "COPY attachment_data (attachment_id, data) FROM STDIN (FORMAT BINARY)"


def store(conn: Connection, attachment_id: int, data: bytes) -> None:
    """Keep `data` as the bytes of attachment `attachment_id`, in the connection's transaction.

    The driver is used directly here, so its errors are wrapped the way
    SQLAlchemy wraps them: a database that goes away mid-write is still the
    OperationalError that ingest treats as "unavailable, retry", not a reason
    to quarantine the message.
    """
    driver = conn.connection.driver_connection
    dbapi = conn.dialect.dbapi
    base_error = getattr(dbapi, "Error", Exception)
    try:
        if isinstance(driver, sqlite3.Connection):
            _store_in_zeroblob(conn, driver, attachment_id, data)
        elif conn.dialect.name == "postgresql":
            _store_by_copy(driver, attachment_id, data)
        else:
            conn.execute(_INSERT, {"attachment_id": attachment_id, "data": data})
    except DBAPIError:
        raise
    except base_error as e:
        raise DBAPIError.instance("store attachment bytes", None, e, base_error) from e


def _store_in_zeroblob(conn: Connection, driver: sqlite3.Connection, attachment_id: int, data: bytes) -> None:
    conn.execute(_INSERT.values(attachment_id=attachment_id, data=func.zeroblob(len(data))))
    if not data:
        return
    view = memoryview(data)
    with driver.blobopen(_DATA.name, "data", attachment_id) as blob:
        for start in range(0, len(view), SLICE):
            blob.write(view[start : start + SLICE])


def _store_by_copy(driver: Any, attachment_id: int, data: bytes) -> None:
    """One attachment_data row through COPY … FROM STDIN (FORMAT BINARY), written in slices."""
    view = memoryview(data)
    with driver.cursor() as cursor, cursor.copy(_PG_COPY) as copy:
        # Two fields: the id as an 8-byte bigint, then the bytea's length and bytes.
        copy.write(_PG_COPY_HEADER + struct.pack("!hiqi", 2, 8, attachment_id, len(view)))
        for start in range(0, len(view), SLICE):
            copy.write(bytes(view[start : start + SLICE]))
        copy.write(_PG_COPY_END)


def load(conn: Connection, attachment_id: int) -> bytes | None:
    """The stored bytes of an attachment, or None if it was dropped (or is not there)."""
    row = conn.execute(select(_DATA.c.data).where(_DATA.c.attachment_id == attachment_id)).first()
    return None if row is None else bytes(row[0])
