"""What the daemon's loops share: the report of one `run --once` pass, and waiting on an event.

Each loop (maild.daemon.intake_loop, send_loop, deadline_loop) has a
`run_once` that adds its part to one `PassReport`, which `maild run --once`
prints; kept here so no loop imports another for it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from maild.daemon.ingest_hooks import IngestStats
from maild.outbound.outbox import DispatchStats

__all__ = ["PassReport", "wait_for_event"]


@dataclass
class PassReport:
    """What one `run --once` pass did; any error makes the command exit 1."""

    ingest: IngestStats = field(default_factory=IngestStats)
    escalations: int = 0
    dispatch: DispatchStats = field(default_factory=DispatchStats)
    errors: list[str] = field(default_factory=list)
    mailbox_busy: bool = False


async def wait_for_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until `event` is set or `timeout` passes; True when it was set."""
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        return False
    return True
