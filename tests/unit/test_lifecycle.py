"""maild.policy.lifecycle: who may close or escalate a case, and the status it takes next.

Table tests name every (status, change) pair the product knows; hypothesis
checks the invariants that every path (e-mail, command line, deadline scan)
relies on: a closed case opens again only by a reopening, a close always
closes, and an agent's reply never leaves a case new. When escalations fall
due is policy.followup's (test_followup.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maild.policy.lifecycle import (
    CaseChange,
    may_close,
    may_escalate,
    next_status,
    unanswered_and_open,
)
from maild.vocab import CaseStatus, Role

NEW, IN_PROGRESS, WAITING, CLOSED = (
    CaseStatus.NEW,
    CaseStatus.IN_PROGRESS,
    CaseStatus.WAITING_ON_CUSTOMER,
    CaseStatus.CLOSED,
)
OPENED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ANSWERED_AT = OPENED + timedelta(hours=1)

statuses = st.sampled_from(list(CaseStatus))
changes = st.sampled_from(list(CaseChange))
roles = st.sampled_from([None, "", "other", "manager", *Role])


# ------------------------------------------------------------------ who may


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.AGENT, True),
        (Role.PRIMARY_CONTACT, True),
        (Role.COLLABORATOR, False),
        ("agent", True),
        ("primary_contact", True),
        ("collaborator", False),
        (None, False),
        ("", False),
        ("manager", False),
        ("AGENT", False),
    ],
)
def test_may_close(role: str | None, allowed: bool) -> None:
    assert may_close(role) is allowed


@pytest.mark.parametrize(
    ("role", "designated", "allowed"),
    [
        (Role.PRIMARY_CONTACT, True, True),
        (Role.COLLABORATOR, True, True),
        (Role.PRIMARY_CONTACT, False, False),
        (Role.COLLABORATOR, False, False),
        (Role.AGENT, True, False),
        (Role.AGENT, False, False),
        (None, True, False),
        (None, False, False),
    ],
)
def test_may_escalate(role: str | None, designated: bool, allowed: bool) -> None:
    assert may_escalate(role, designated) is allowed


@given(roles)
def test_an_agent_may_close_but_never_escalates_by_mail(role: str | None) -> None:
    if role == Role.AGENT:
        assert may_close(role) and not may_escalate(role, True)


@given(roles, st.booleans())
def test_escalating_needs_a_designated_contact(role: str | None, designated: bool) -> None:
    if may_escalate(role, designated):
        assert designated and role not in (None, Role.AGENT)


# ------------------------------------------------------------------ unanswered and open


@pytest.mark.parametrize(
    ("status", "responded", "expected"),
    [
        (NEW, None, True),
        (IN_PROGRESS, None, True),
        (WAITING, None, True),
        (CLOSED, None, False),
        (NEW, ANSWERED_AT, False),
        (IN_PROGRESS, ANSWERED_AT, False),
        (WAITING, ANSWERED_AT, False),
        (CLOSED, ANSWERED_AT, False),
        ("new", None, True),
        ("closed", None, False),
    ],
)
def test_unanswered_and_open(status: str, responded: datetime | None, expected: bool) -> None:
    assert unanswered_and_open(status, responded) is expected


# ------------------------------------------------------------------ status transitions


@pytest.mark.parametrize(
    ("current", "change", "answered", "expected"),
    [
        # An agent's reply puts the case in progress, or waiting for the customer.
        (NEW, CaseChange.AGENT_REPLIED, False, IN_PROGRESS),
        (NEW, CaseChange.AGENT_ASKED, False, WAITING),
        (IN_PROGRESS, CaseChange.AGENT_REPLIED, True, IN_PROGRESS),
        (IN_PROGRESS, CaseChange.AGENT_ASKED, True, WAITING),
        (WAITING, CaseChange.AGENT_REPLIED, True, IN_PROGRESS),
        (WAITING, CaseChange.AGENT_ASKED, True, WAITING),
        # ... but never opens a closed case again.
        (CLOSED, CaseChange.AGENT_REPLIED, True, CLOSED),
        (CLOSED, CaseChange.AGENT_ASKED, False, CLOSED),
        # A contact's reply answers the agent's question, and otherwise changes nothing.
        (WAITING, CaseChange.CONTACT_REPLIED, True, IN_PROGRESS),
        (WAITING, CaseChange.CONTACT_REPLIED, False, IN_PROGRESS),  # SPEC §11: any contact's reply
        (NEW, CaseChange.CONTACT_REPLIED, False, NEW),
        (IN_PROGRESS, CaseChange.CONTACT_REPLIED, True, IN_PROGRESS),
        (CLOSED, CaseChange.CONTACT_REPLIED, True, CLOSED),
        # Reopening: back to work, new again while no agent has answered.
        (CLOSED, CaseChange.REOPENED, True, IN_PROGRESS),
        (CLOSED, CaseChange.REOPENED, False, NEW),
        # Closing closes whatever the status.
        (NEW, CaseChange.CLOSED, False, CLOSED),
        (IN_PROGRESS, CaseChange.CLOSED, True, CLOSED),
        (WAITING, CaseChange.CLOSED, True, CLOSED),
        (CLOSED, CaseChange.CLOSED, True, CLOSED),
        # A status read from the database is a plain string.
        ("waiting_on_customer", CaseChange.CONTACT_REPLIED, True, IN_PROGRESS),
        ("closed", CaseChange.REOPENED, False, NEW),
    ],
)
def test_next_status(current: str, change: CaseChange, answered: bool, expected: CaseStatus) -> None:
    assert next_status(current, change, answered=answered) is expected


def test_next_status_refuses_an_unknown_status() -> None:
    with pytest.raises(ValueError):
        next_status("open", CaseChange.AGENT_REPLIED, answered=True)


@given(statuses, changes, st.booleans())
def test_next_status_is_always_a_known_status(
    current: CaseStatus, change: CaseChange, answered: bool
) -> None:
    assert isinstance(next_status(current, change, answered=answered), CaseStatus)


@given(statuses, changes, st.booleans())
def test_only_a_reopening_opens_a_closed_case(
    current: CaseStatus, change: CaseChange, answered: bool
) -> None:
    after = next_status(current, change, answered=answered)
    if current is CLOSED and after is not CLOSED:
        assert change is CaseChange.REOPENED


@given(statuses, st.booleans())
def test_closing_always_closes(current: CaseStatus, answered: bool) -> None:
    assert next_status(current, CaseChange.CLOSED, answered=answered) is CLOSED


@given(statuses, changes, st.booleans())
def test_only_closing_closes_an_open_case(current: CaseStatus, change: CaseChange, answered: bool) -> None:
    if current is not CLOSED and next_status(current, change, answered=answered) is CLOSED:
        assert change is CaseChange.CLOSED


@given(statuses, st.sampled_from([CaseChange.AGENT_REPLIED, CaseChange.AGENT_ASKED]), st.booleans())
def test_an_agents_reply_never_leaves_a_case_new(
    current: CaseStatus, change: CaseChange, answered: bool
) -> None:
    assert next_status(current, change, answered=answered) is not NEW


@given(statuses, changes)
def test_an_answered_case_is_never_new_again(current: CaseStatus, change: CaseChange) -> None:
    if current is not NEW:
        assert next_status(current, change, answered=True) is not NEW


@given(statuses, changes, st.booleans())
def test_a_customer_is_waited_on_only_after_an_agent_asked(
    current: CaseStatus, change: CaseChange, answered: bool
) -> None:
    after = next_status(current, change, answered=answered)
    if after is WAITING and current is not WAITING:
        assert change is CaseChange.AGENT_ASKED


@given(statuses, st.booleans())
def test_a_contacts_reply_never_waits_on_the_customer(current: CaseStatus, answered: bool) -> None:
    assert next_status(current, CaseChange.CONTACT_REPLIED, answered=answered) is not WAITING
