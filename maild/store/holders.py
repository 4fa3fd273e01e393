"""Who holds a claim: process identities on claimed rows, and which holders are gone.

Three tables are claimed by a process for a while and released or left to
expire: mailbox leases, mailbox work and outbox rows. Each claim names its
holder as host:pid:random, so `maild status` can say who holds what and a
restart on the same host can take over at once from a process that crashed
(its pid no longer exists) instead of waiting for the claim to expire. The
identity rules live here, beside the database, so the outbox (mail going out)
and the daemon's work queue share them without one importing the other.
"""

from __future__ import annotations

import os
import secrets
import socket
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, bindparam, select


def new_holder_id() -> str:
    """host:pid:random — unique per process start, readable in `maild status`."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def holder_is_dead_here(holder: str) -> bool:
    """True when `holder` names a process on this host that no longer exists."""
    parts = holder.split(":")
    if len(parts) < 3 or parts[0] != socket.gethostname():
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def live_claimers(
    claimed_by: ColumnElement[str | None], claimed_until: ColumnElement[Any], *scope: Any
) -> Select[Any]:
    """The distinct holders of claims not yet expired at :now among the rows in `scope`."""
    return (
        select(claimed_by).where(*scope, claimed_until > bindparam("now"), claimed_by.is_not(None)).distinct()
    )


def dead_claimers_here(
    conn: Connection, query: Select[Any], params: dict[str, Any], holder: str
) -> list[str]:
    """Holders found by a `live_claimers` query whose process is gone (crashed on this host)."""
    return [c for c in conn.execute(query, params).scalars() if c and c != holder and holder_is_dead_here(c)]
