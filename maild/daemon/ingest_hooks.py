"""The interface between an Ingestor and the loop that runs it: its hooks and its figures.

Ingest (maild.daemon.ingest) runs in a thread of its own and knows nothing
of the daemon around it; the daemon's intake loop (maild.daemon.intake_loop)
knows nothing of how a message is processed. What passes between them is
this: the hooks ingest calls at each step, and the counts a pass returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["IngestHooks", "IngestStats", "NoHooks"]


class IngestHooks(Protocol):
    """What the loop around an Ingestor hears from it, and how it asks it to stop.

    Ingest runs in a thread of its own; these are its only ways out of that
    thread, so each must be cheap and thread-safe.
    """

    def stop_requested(self) -> bool:
        """Checked before each claim and each message: True ends the pass after the one in hand."""
        ...

    def making_progress(self) -> None:
        """Called as often: the pass is alive (what the systemd watchdog vouches for)."""
        ...

    def claim_finished(self) -> None:
        """After each claim: the lease holder renews its lease."""
        ...

    def notifications_queued(self) -> None:
        """A message queued notifications: the outbox can send them now."""
        ...

    def message_finished(self, outcome: str, seconds: float) -> None:
        """One message ended with `outcome` after `seconds` (metrics)."""
        ...

    def pending_listed(self, count: int) -> None:
        """Listing found `count` messages waiting (a big `run --once` starts sending apart)."""
        ...


class NoHooks:
    """Hooks that hear nothing and never stop: an Ingestor on its own (tests, one-off use)."""

    def stop_requested(self) -> bool:
        return False

    def making_progress(self) -> None:
        pass

    def claim_finished(self) -> None:
        pass

    def notifications_queued(self) -> None:
        pass

    def message_finished(self, outcome: str, seconds: float) -> None:
        pass

    def pending_listed(self, count: int) -> None:
        pass


@dataclass
class IngestStats:
    processed: int = 0
    skipped: int = 0
    quarantined: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    notifications: int = 0

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def merge(self, other: IngestStats) -> None:
        """Add another mailbox's figures to these."""
        self.processed += other.processed
        self.skipped += other.skipped
        self.quarantined += other.quarantined
        self.notifications += other.notifications
        for outcome, n in other.outcomes.items():
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + n
