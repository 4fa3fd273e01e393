"""The operator's rules (maild.cases.admin), without the command line around them.

Each exists once (account name, mail domain, contact, agent); an account has
one primary contact; a case is named by its number; only its primary
contact or an agent closes it. Errors are the maild.errors classes whose
exit status the command line uses: 2 for usage and not found, 1 otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from maild.cases import admin, teamadmin
from maild.config import Settings, parse_settings
from maild.errors import MaildError, NotFound, UsageError
from maild.mailids import is_email_address
from maild.store.db import Database
from maild.store.models import Agent, AgentTeam, Base, Case, Contact, Participant
from maild.vocab import CaseStatus, Role
from tests.unit.test_config import cfg

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'admin.db'}")
    Base.metadata.create_all(database.engine)
    try:
        yield database
    finally:
        database.dispose()


def _account(s: Session, name: str = "Acme", domains: tuple[str, ...] = ("acme.example",)) -> None:
    admin.add_account(s, name, domains=domains, org_id=None, plan=None, known_plans={"default"}, now=NOW)


def _contact(s: Session, email: str, *, primary: bool = False) -> Contact:
    return admin.add_contact(
        s, email, account_name="Acme", name="", language=None, designated=False, primary=primary, now=NOW
    )


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("alice@acme.example", True),
        ("a.b+c@x-y.example", True),
        ("Alice <alice@acme.example>", False),
        ("alice@", False),
        ("@acme.example", False),
        ("alice@-acme.example", False),
        ("al ice@acme.example", False),
        ("alice@acme.example.", False),
    ],
)
def test_an_operator_address_is_a_bare_local_at_domain(value: str, ok: bool) -> None:
    assert is_email_address(value) is ok


def test_an_operator_address_is_stored_stripped_and_lower_case() -> None:
    assert admin.operator_address("  Agnes@Example.COM ", "agent") == "agnes@example.com"
    with pytest.raises(UsageError, match="'agnes' is not a valid agent email address"):
        admin.operator_address("agnes", "agent")


def test_an_account_name_and_each_domain_exist_once(db: Database) -> None:
    with db.session() as s:
        _account(s, domains=("@ACME.example", "acme.example"))
    with db.session() as s, pytest.raises(MaildError, match="account 'Acme' already exists") as taken:
        _account(s, " Acme ", ())
    assert taken.value.exit_code == 1
    with db.session() as s, pytest.raises(MaildError, match=re.escape("domain acme.example already belongs")):
        _account(s, "Other", ("acme.example",))


@pytest.mark.parametrize(
    ("name", "domains", "plan", "error"),
    [
        ("  ", (), None, "the account name must not be empty"),
        ("Acme", ("not a domain",), None, "'not a domain' is not a mail domain"),
        ("Acme", (), "gold", "plan 'gold' is not configured \\(known: default, silver\\)"),
    ],
)
def test_an_account_is_checked_before_anything_is_written(
    db: Database, name: str, domains: tuple[str, ...], plan: str | None, error: str
) -> None:
    with db.session() as s, pytest.raises(UsageError, match=error):
        admin.add_account(
            s, name, domains=domains, org_id=None, plan=plan, known_plans={"default", "silver"}, now=NOW
        )


def test_a_new_primary_contact_demotes_the_previous_one_and_is_designated(db: Database) -> None:
    with db.session() as s:
        _account(s)
        _contact(s, "alice@acme.example", primary=True)
    with db.session() as s:
        bob = _contact(s, "Bob@Acme.example", primary=True)
        assert (bob.email, bob.designated, bob.account.name) == ("bob@acme.example", True, "Acme")
    with db.reader() as s:
        primaries = s.execute(select(Contact.email).where(Contact.primary.is_(True))).scalars().all()
    assert primaries == ["bob@acme.example"]


def test_a_contact_needs_its_account_a_new_address_and_a_language_code(db: Database) -> None:
    with db.session() as s:
        _account(s)
        _contact(s, "alice@acme.example")
    with db.session() as s, pytest.raises(NotFound, match="account 'Nope' does not exist"):
        admin.add_contact(
            s,
            "x@acme.example",
            account_name="Nope",
            name="",
            language=None,
            designated=False,
            primary=False,
            now=NOW,
        )
    with (
        db.session() as s,
        pytest.raises(MaildError, match=re.escape("contact alice@acme.example already exists")),
    ):
        _contact(s, "ALICE@acme.example")
    with db.session() as s, pytest.raises(UsageError, match="'english' is not a language code"):
        admin.add_contact(
            s,
            "y@acme.example",
            account_name="Acme",
            name="",
            language="english",
            designated=False,
            primary=False,
            now=NOW,
        )


@pytest.mark.parametrize(
    ("tag", "stored"),
    [
        ("ja-JP", "ja"),
        ("zh-Hant", "zh-TW"),
        ("zh_CN", "zh-CN"),
        ("pt", "pt-BR"),
        ("pt-BR", "pt-BR"),
        ("FR", "fr"),
    ],
)
def test_a_contacts_language_is_stored_as_mailds_code(db: Database, tag: str, stored: str) -> None:
    with db.session() as s:
        _account(s)
        contact = admin.add_contact(
            s,
            "z@acme.example",
            account_name="Acme",
            name="",
            language=tag,
            designated=False,
            primary=False,
            now=NOW,
        )
        assert contact.language == stored


def test_an_agent_exists_once_and_is_required_by_address(db: Database) -> None:
    with db.session() as s:
        admin.add_agent(s, "agnes@example.com", name=" Agnes ", manager=False, now=NOW)
    with (
        db.session() as s,
        pytest.raises(MaildError, match=re.escape("agent agnes@example.com already exists")),
    ):
        admin.add_agent(s, "Agnes@example.com", name="", manager=True, now=NOW)
    with db.reader() as s:
        assert admin.require_agent(s, "AGNES@example.com").name == "Agnes"
        with pytest.raises(NotFound, match=re.escape("bob@example.com is not an agent")):
            admin.require_agent(s, "bob@example.com")


def _case(s: Session) -> Case:
    _account(s)
    alice = _contact(s, "alice@acme.example", primary=True)
    _contact(s, "bob@acme.example")
    s.flush()
    case = Case(
        subject="Login fails",
        severity=2,
        status=CaseStatus.NEW,
        account_id=alice.account_id,
        primary_contact_id=alice.id,
        thread_root="<root@acme.example>",
        created_at=NOW,
        updated_at=NOW,
    )
    s.add(case)
    s.flush()
    for email, role in (
        ("alice@acme.example", Role.PRIMARY_CONTACT),
        ("bob@acme.example", Role.COLLABORATOR),
    ):
        s.add(Participant(case_id=case.id, email=email, role=role, created_at=NOW))
    return case


def test_a_case_is_named_by_its_number(db: Database) -> None:
    with db.session() as s:
        _case(s)
    with db.reader() as s:
        assert admin.find_case(s, "00000001").id == admin.find_case(s, " #1 ").id == 1
        with pytest.raises(UsageError, match="'1a' is not a case number"):
            admin.find_case(s, "1a")
        with pytest.raises(NotFound, match="case 00000002 does not exist"):
            admin.find_case(s, "00000002")
        assert [c.id for c in admin.list_cases(s, "open")] == [1]
        assert admin.list_cases(s, "closed") == []


def test_only_the_primary_contact_or_an_agent_closes_a_case(db: Database) -> None:
    with db.session() as s:
        _case(s)
        admin.add_agent(s, "agnes@example.com", name="", manager=False, now=NOW)
    with db.reader() as s:
        case = admin.find_case(s, "1")
        assert admin.closing_actor(s, case, None) == "operator"
        assert admin.closing_actor(s, case, "") == "operator"
        assert admin.closing_actor(s, case, "Alice@acme.example") == "alice@acme.example"
        assert admin.closing_actor(s, case, "agnes@example.com") == "agnes@example.com"
        with pytest.raises(UsageError, match=re.escape("bob@acme.example may not close case 00000001")):
            admin.closing_actor(s, case, "bob@acme.example")


def test_inbound_listing_and_raw_bytes_are_checked(db: Database) -> None:
    with db.reader() as s:
        with pytest.raises(UsageError, match="--limit must be at least 1"):
            admin.list_inbound(s, None, 0)
        assert admin.list_inbound(s, "held", 5) == []
        with pytest.raises(NotFound, match="inbound message 7 does not exist"):
            admin.inbound_raw(s, 7)


# ---------------------------------------------------------------- teams (SPEC §10)


def _teams_settings() -> Settings:
    return parse_settings(cfg(teams={"tier1": {}, "Tier2": {"topics": ["api"]}}))


def test_a_team_named_by_an_operator_is_matched_in_any_case_and_stored_as_configured() -> None:
    settings = _teams_settings()
    assert teamadmin.configured_team(settings, " TIER2 ") == "Tier2"
    with pytest.raises(
        UsageError, match=re.escape("team 'tier3' is not configured (configured teams: tier1, Tier2)")
    ):
        teamadmin.configured_team(settings, "tier3")
    with pytest.raises(UsageError, match=re.escape("this config has no [teams.<name>] tables")):
        teamadmin.configured_team(parse_settings(cfg()), "tier1")


def test_agent_add_with_teams_adds_memberships_to_an_existing_agent(db: Database) -> None:
    settings = _teams_settings()
    with db.session() as s:
        done = teamadmin.add_agent(
            s,
            "Kim@example.com",
            name="Kim",
            manager=False,
            teams=["tier2", "TIER2"],
            settings=settings,
            now=NOW,
        )
        assert done == teamadmin.AgentTeams("kim@example.com", True, ("Tier2",), ())
    with db.session() as s:
        done = teamadmin.add_agent(
            s, "kim@example.com", name="", manager=True, teams=["tier1", "tier2"], settings=settings, now=NOW
        )
        assert done == teamadmin.AgentTeams("kim@example.com", False, ("tier1",), ("Tier2",))
    with db.session() as s, pytest.raises(MaildError, match="already exists") as exists:
        teamadmin.add_agent(
            s, "kim@example.com", name="", manager=False, teams=[], settings=settings, now=NOW
        )
    assert exists.value.exit_code == 1
    with db.session() as s, pytest.raises(UsageError, match="'nope' is not configured"):
        teamadmin.add_agent(
            s, "new@example.com", name="", manager=False, teams=["nope"], settings=settings, now=NOW
        )
    with db.reader() as s:
        kim = admin.require_agent(s, "kim@example.com")
        assert (kim.name, kim.manager) == ("Kim", False)  # an existing agent keeps its name and flag
        rows = s.execute(select(AgentTeam.team).where(AgentTeam.agent_id == kim.id)).scalars()
        assert sorted(rows) == ["Tier2", "tier1"]
        assert s.scalar(select(Agent.id).where(Agent.email == "new@example.com")) is None


def test_cases_are_listed_by_team_in_any_case_owner_or_no_owner(db: Database) -> None:
    with db.session() as s:
        case = _case(s)
        agnes = admin.add_agent(s, "agnes@example.com", name="", manager=False, now=NOW)
        s.flush()
        case.team, case.owner_id = "Tier2", agnes.id
    with db.reader() as s:
        agnes = admin.require_agent(s, "agnes@example.com")
        assert [c.id for c in admin.list_cases(s, "open", team="tier2")] == [1]
        assert admin.list_cases(s, "open", team="tier1") == []
        assert [c.owner_email for c in admin.list_cases(s, "all", owner=agnes)] == ["agnes@example.com"]
        assert admin.list_cases(s, "open", unassigned=True) == []
        assert admin.list_cases(s, "closed", team="tier2", owner=agnes) == []
