"""Attachment bytes in and out of the database without extra copies.

A bound 50 MB parameter costs SQLite two copies of it (the parameter and the
record it builds). Inserting a zeroblob of the right size and writing the
bytes into it through the incremental-blob API costs only a slice at a time.
PostgreSQL's driver takes the bytes as one parameter, as before.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import Connection, func, insert, select

from maild.models import AttachmentData, table

SLICE = 1024 * 1024

_DATA = table(AttachmentData)
_INSERT = insert(_DATA)


def store(conn: Connection, attachment_id: int, data: bytes) -> None:
    """Keep `data` as the bytes of attachment `attachment_id`, in the connection's transaction."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, sqlite3.Connection):
        conn.execute(_INSERT, {"attachment_id": attachment_id, "data": data})
        return
    conn.execute(_INSERT.values(attachment_id=attachment_id, data=func.zeroblob(len(data))))
    if not data:
        return
    view = memoryview(data)
    with driver.blobopen(_DATA.name, "data", attachment_id) as blob:
        for start in range(0, len(view), SLICE):
            blob.write(view[start : start + SLICE])


def load(conn: Connection, attachment_id: int) -> bytes | None:
    """The stored bytes of an attachment, or None if it was dropped (or is not there)."""
    row = conn.execute(select(_DATA.c.data).where(_DATA.c.attachment_id == attachment_id)).first()
    return None if row is None else bytes(row[0])
