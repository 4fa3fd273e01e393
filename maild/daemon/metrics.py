"""Prometheus metrics: events counted as they happen, state read from the database on scrape.

Counters and the latency histogram live in this process; gauges that
describe shared state (outbox depth, open cases, breached deadlines) are
computed from health.snapshot at scrape time, so every worker reports the
same truth and nothing drifts across restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator
from datetime import timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from maild.clock import Clock
from maild.daemon.health import NO_TEAM, Health, snapshot
from maild.store.db import Database

log = logging.getLogger("maild.metrics")


WarnBefore = Callable[[], timedelta | None]


class StateCollector(Collector):
    """`teams` and `warn_before` are read at scrape time, so a reload's new settings show at once."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        teams: Callable[[], Collection[str]] = lambda: (),
        warn_before: WarnBefore = lambda: None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.teams = teams
        self.warn_before = warn_before
        # Team labels reported before: one whose last case closed reads 0, not a series that vanishes.
        self.seen_teams: set[str] = set()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.clock.now()
        try:
            with self.db.reader() as s:
                h = snapshot(s, now, self.teams(), self.warn_before())
        except Exception as e:
            log.warning("metrics: cannot read the database: %s", e)
            return
        outbox = GaugeMetricFamily(
            "maild_outbox_notifications", "Notifications by outbox status", labels=["status"]
        )
        for status, count in h.outbox.items():
            outbox.add_metric([status], count)
        yield outbox
        age = (now - h.oldest_pending_at).total_seconds() if h.oldest_pending_at else 0.0
        yield GaugeMetricFamily(
            "maild_outbox_oldest_pending_age_seconds", "Age of the oldest pending notification", value=age
        )
        cases = GaugeMetricFamily("maild_open_cases", "Open cases by severity", labels=["severity"])
        for severity in (1, 2, 3, 4):
            cases.add_metric([str(severity)], h.open_by_severity.get(severity, 0))
        yield cases
        yield from self._team_gauges(h)
        yield GaugeMetricFamily(
            "maild_deadlines_breached",
            "Open unanswered cases past their initial response deadline",
            value=h.past_deadline,
        )
        yield GaugeMetricFamily(
            "maild_quarantined_messages", "Inbound messages kept in quarantine", value=h.quarantined_total
        )
        yield from deadline_gauges(h)

    def _team_gauges(self, h: Health) -> Iterator[GaugeMetricFamily]:
        """Open and unassigned cases per team (SPEC §10), from the snapshot's one GROUP BY."""
        by_team = h.cases_by_team()
        self.seen_teams.update(by_team)
        if not self.seen_teams:
            return  # no teams configured, none ever on a case: nothing to label
        unassigned = {NO_TEAM if k is None else k: v for k, v in h.unassigned_by_team.items()}
        open_cases = GaugeMetricFamily("maild_open_cases_by_team", "Open cases by team", labels=["team"])
        no_owner = GaugeMetricFamily(
            "maild_unassigned_open_cases", "Open cases without an owner, by team", labels=["team"]
        )
        for team in sorted(self.seen_teams):
            open_cases.add_metric([team], by_team.get(team, 0))
            no_owner.add_metric([team], unassigned.get(team, 0))
        yield open_cases
        yield no_owner


def deadline_gauges(h: Health) -> Iterator[GaugeMetricFamily]:
    """SPEC §11's response clocks, from the snapshot's aggregate queries (health._deadline_counts).

    Every (deadline, state) pair is always present, 0 included, so an alert on
    `maild_cases_deadline{state="overdue"} > 0` never sees a series vanish.
    """
    counts = GaugeMetricFamily(
        "maild_cases_deadline",
        "Open cases near (due_soon: within warn_before, else 1h) or past (overdue) a response deadline, "
        "and waiting on the customer",
        labels=["deadline", "state"],
    )
    for name, c in (("first_response", h.first_response), ("next_response", h.next_response)):
        counts.add_metric([name, "due_soon"], c.due_soon)
        counts.add_metric([name, "overdue"], c.overdue)
    counts.add_metric(["waiting_on_customer", "waiting"], h.waiting)
    counts.add_metric(["waiting_on_customer", "reminded"], h.reminded)
    counts.add_metric(["waiting_on_customer", "due_soon"], h.waiting_notice_due_soon)
    yield counts
    yield GaugeMetricFamily(
        "maild_cases_due_soon_window_seconds",
        "What due_soon means in maild_cases_deadline ([escalation] warn_before, else 1h)",
        value=h.due_soon.total_seconds(),
    )
    age = (h.at - h.oldest_waiting_since).total_seconds() if h.oldest_waiting_since else 0.0
    yield GaugeMetricFamily(
        "maild_cases_waiting_oldest_age_seconds",
        "How long the longest-waiting case has waited on the customer (0 when none waits)",
        value=max(age, 0.0),
    )


class Metrics:
    """The process's metrics; a no-op registry until serve() is called."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "maild_messages", "Inbound messages by outcome", ["outcome"], registry=self.registry
        )
        self.latency = Histogram(
            "maild_message_processing_seconds",
            "Time to process one inbound message",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.notifications = Counter(
            "maild_notifications", "Notification send attempts by result", ["result"], registry=self.registry
        )
        self.escalations = Counter(
            "maild_escalation_notices_queued", "Escalation notices queued", registry=self.registry
        )
        self.imap_connected = Gauge(
            "maild_imap_connected", "1 while the mailbox connection is up", registry=self.registry
        )

    def message_finished(self, outcome: str, seconds: float) -> None:
        """One inbound message recorded, from a mailbox or an MTA's delivery alike."""
        self.messages.labels(outcome).inc()
        self.latency.observe(seconds)

    def serve(
        self,
        listen: str,
        db: Database,
        clock: Clock,
        teams: Callable[[], Collection[str]] = lambda: (),
        warn_before: WarnBefore = lambda: None,
    ) -> None:
        """`teams`, `warn_before`: the live settings' getters, read at each scrape."""
        host, _, port = listen.rpartition(":")
        self.registry.register(StateCollector(db, clock, teams, warn_before))
        start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1", registry=self.registry)
        log.info("metrics on http://%s/metrics", listen)
