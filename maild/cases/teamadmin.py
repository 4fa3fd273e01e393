"""The operator's side of SPEC §10: team memberships, and a case's owner, team and notes by number.

Kept apart from maild.cases.admin so each stays one job (and under the
size limit), with the same habits: the caller's session, the caller
commits, errors are maild.errors classes whose text is the one sentence
the command line prints. Teams live in the configuration, so a name typed
by an operator is checked against it here, case-insensitively, and stored
as configured: `--team TIER2` and `#team tier2` name the same team.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from maild.cases import admin
from maild.cases.admin import Reply, find_case, operator_address, require_agent
from maild.cases.service import CaseService
from maild.cases.teamwork import is_member
from maild.config import Settings
from maild.errors import MaildError, UsageError
from maild.store.models import Agent, AgentTeam

__all__ = [
    "AgentTeams",
    "Assigned",
    "Moved",
    "add_agent",
    "agent_note",
    "assign_case",
    "configured_team",
    "move_case",
]


def configured_team(settings: Settings, name: str) -> str:
    """The team `name` as configured; an unknown one is a usage error listing the configured ones."""
    team = settings.team(name.strip())
    if team is not None:
        return team.name
    if not settings.teams:
        raise UsageError(f"team {name!r} is not configured: this config has no [teams.<name>] tables")
    known = ", ".join(settings.teams)
    raise UsageError(f"team {name!r} is not configured (configured teams: {known})")


# ---------------------------------------------------------------- memberships


@dataclass(frozen=True, slots=True)
class AgentTeams:
    """What `maild agent add` did: a new agent or not, the teams joined now and those it was in."""

    email: str
    created: bool
    joined: tuple[str, ...]
    already: tuple[str, ...]


def add_agent(
    session: Session,
    email: str,
    *,
    name: str,
    manager: bool,
    teams: Sequence[str],
    settings: Settings,
    now: datetime,
) -> AgentTeams:
    """A new agent, or with `teams` an existing one, made a member of each configured team.

    An operator adding a team to an existing agent must not have to delete
    anything: with `teams`, an address already an agent gains the
    memberships it lacks (its name and manager flag stay as they are).
    Every team is checked before anything is written.
    """
    email = operator_address(email, "agent")
    wanted = list(dict.fromkeys(configured_team(settings, t) for t in teams))
    agent = session.execute(select(Agent).where(Agent.email == email)).scalar_one_or_none()
    created = agent is None
    if agent is None:
        agent = admin.add_agent(session, email, name=name, manager=manager, now=now)
        session.flush()
    elif not wanted:
        raise MaildError(f"agent {email} already exists (give --team NAME to add it to a team)")
    query = select(AgentTeam.team).where(AgentTeam.agent_id == agent.id)
    have = set(session.execute(query).scalars())
    joined = tuple(t for t in wanted if t not in have)
    session.add_all(AgentTeam(agent_id=agent.id, team=t, created_at=now) for t in joined)
    return AgentTeams(email, created, joined, tuple(t for t in wanted if t in have))


# ---------------------------------------------------------------- cases


@dataclass(frozen=True, slots=True)
class Assigned:
    """What `maild case assign` did: the owner now, and whether it changed."""

    number: str
    owner: str
    changed: bool
    queued: int
    outside_team: str | None = None  # the case's team when the owner is not a member of it


def assign_case(
    session: Session, service: CaseService, number: str, agent_email: str, actor_email: str
) -> Assigned:
    """Make an agent the case's owner, as `#assign EMAIL` does; both must be agents."""
    case = find_case(session, number)
    actor = require_agent(session, actor_email)
    agent = require_agent(session, agent_email)
    outside = case.team if case.team and not is_member(session, agent.id, case.team) else None
    if case.owner_id == agent.id:
        return Assigned(case.number, agent.email, False, 0, outside)
    queued = service.assign(session, case, agent, actor.email)
    return Assigned(case.number, agent.email, True, queued, outside)


@dataclass(frozen=True, slots=True)
class Moved:
    """What `maild case move` did: the teams before and after, the owner before and after."""

    number: str
    old_team: str | None
    team: str
    old_owner: str | None
    owner: str | None
    queued: int

    @property
    def changed(self) -> bool:
        return self.old_team != self.team


def move_case(session: Session, service: CaseService, number: str, team_name: str, actor_email: str) -> Moved:
    """Hand the case to a configured team, as `#team NAME` does; its owner stays only if a member."""
    team = configured_team(service.settings, team_name)
    case = find_case(session, number)
    actor = require_agent(session, actor_email)
    old_team, old_owner = case.team, case.owner_email
    queued = 0 if old_team == team else service.move(session, case, team, actor.email)
    return Moved(case.number, old_team, team, old_owner, case.owner_email, queued)


def agent_note(session: Session, service: CaseService, number: str, agent_email: str, body: str) -> Reply:
    """An internal note from the command line, as `#note` by mail: the owner and the team only."""
    return admin.agent_reply(session, service, number, agent_email, body, internal=True)
