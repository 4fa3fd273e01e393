"""Teams (SPEC §10): which team a new case goes to, who may use the agents' commands, and routing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from maild.inbound.message import Address
from maild.policy.lifecycle import AGENT_COMMANDS, command_refusal
from maild.policy.route import AddComment, Hold, OpenCase, Reject, RoutingPolicy, new_case_subject
from maild.policy.teams import TeamRouting, choose_team, topic_team
from maild.vocab import Role
from tests.unit.test_route import POLICY, FakeFacts, decide, mail, token_to

TOPICS = {
    "apex": "apex",
    "flow": "automation",
    "sales cloud": "sales",
    "billing": "billing",
    "請求": "billing",
    "data loader": "data",
}
ROUTING = TeamRouting(topics=TOPICS, default_team="tier1", designated_contacts_team="tier2")


# ------------------------------------------------------------------ topic_team


@pytest.mark.parametrize(
    ("topic", "team"),
    [
        ("apex", "apex"),
        ("Apex", "apex"),
        ("APEX", "apex"),
        ("  Sales   Cloud ", "sales"),  # the whole topic, whitespace folded
        ("Apex triggers", "apex"),  # a topic word among its words
        ("Problem with Apex-triggers!", "apex"),
        ("Sales Cloud reports", "sales"),  # a phrase among its words
        ("reports in sales cloud", "sales"),
        ("請求", "billing"),
        ("Data Loader export", "data"),
        ("Flow and Apex", "automation"),  # the earliest wins
        ("Apex and Flow", "apex"),
    ],
)
def test_topic_team(topic: str, team: str) -> None:
    assert topic_team(topic, TeamRouting(TOPICS)) == team


@pytest.mark.parametrize(
    "topic",
    [None, "", "   ", "Apexes", "sales", "cloud", "loader data", "Marketing", "salescloud", "請"],
)
def test_topic_team_no_match(topic: str | None) -> None:
    assert topic_team(topic, TeamRouting(TOPICS)) is None


def test_topic_team_with_no_topics() -> None:
    assert topic_team("Apex", TeamRouting({})) is None


def test_the_longest_phrase_at_the_earliest_word_wins() -> None:
    topics = {"sales": "a", "sales cloud": "b", "cloud": "c"}
    assert topic_team("sales cloud reports", TeamRouting(topics)) == "b"
    assert topic_team("new sales figures in the cloud", TeamRouting(topics)) == "a"
    assert topic_team("cloud sales", TeamRouting(topics)) == "c"


@pytest.mark.parametrize(
    ("topic", "team"),
    [
        ("請求書について", "billing"),  # Japanese: no spaces, the topic word inside a longer word
        ("账单问题", "billing"),
        ("帳單問題", "billing"),
        ("결제가 안 됩니다", "billing"),  # a Korean particle attached to the word
        ("API 連携", "dev"),
        ("請", None),  # one character of a two-character word is not the word
    ],
)
def test_words_of_scripts_without_spaces_are_found_inside_longer_ones(topic: str, team: str | None) -> None:
    topics = {"請求": "billing", "账单": "billing", "帳單": "billing", "결제": "billing", "api": "dev"}
    assert topic_team(topic, TeamRouting(topics)) == team


def test_only_the_first_fifty_words_of_a_topic_are_looked_at() -> None:
    assert topic_team("x " * 49 + "apex", TeamRouting(TOPICS)) == "apex"
    assert topic_team("x " * 60 + "apex", TeamRouting(TOPICS)) is None


def test_a_hostile_topic_finishes() -> None:
    """About 1 MB of words against long phrases: the words are cut before the phrase scan."""
    topics = {"a b c d e f g h i j": "x", **TOPICS}
    assert topic_team("a " * 500_000, TeamRouting(topics)) is None
    assert topic_team("a" * 1_000_000, TeamRouting(topics)) is None


# ------------------------------------------------------------------ choose_team


def choose(
    topic: str | None = None, mailbox_team: str | None = None, *, designated: bool = False
) -> str | None:
    return choose_team(ROUTING, topic=topic, mailbox_team=mailbox_team, designated=designated)


def test_order_topic_then_mailbox_then_designated_then_default() -> None:
    assert choose("Apex triggers", "sales", designated=True) == "apex"
    assert choose("Marketing", "sales", designated=True) == "sales"
    assert choose(None, "sales", designated=True) == "sales"
    assert choose("Marketing", None, designated=True) == "tier2"
    assert choose("Marketing", None, designated=False) == "tier1"
    assert choose(None, None) == "tier1"


def test_designated_without_a_designated_team_goes_to_the_default() -> None:
    routing = TeamRouting(topics=TOPICS, default_team="tier1")
    assert choose_team(routing, topic=None, mailbox_team=None, designated=True) == "tier1"


def test_no_teams_means_no_team() -> None:
    routing = TeamRouting()
    assert choose_team(routing, topic="Apex", mailbox_team=None, designated=True) is None
    assert choose_team(routing, topic=None, mailbox_team=None, designated=False) is None


def test_no_default_and_nothing_matches() -> None:
    routing = TeamRouting(topics=TOPICS)
    assert choose_team(routing, topic="Marketing", mailbox_team=None, designated=False) is None


# ------------------------------------------------------------------ command_refusal


@pytest.mark.parametrize("name", sorted(AGENT_COMMANDS))
def test_agents_commands_are_for_agents_only(name: str) -> None:
    assert command_refusal(name, Role.AGENT, False) is None
    for role in (Role.PRIMARY_CONTACT, Role.COLLABORATOR, None):
        for designated in (False, True):
            assert command_refusal(name, role, designated) == "agent_command"


def test_agent_commands_are_the_spec_ones() -> None:
    assert {"note", "assign", "team", "severity", "waiting"} == AGENT_COMMANDS


def test_close_follows_may_close() -> None:
    assert command_refusal("close", Role.AGENT, False) is None
    assert command_refusal("close", Role.PRIMARY_CONTACT, False) is None
    assert command_refusal("close", Role.COLLABORATOR, True) == "close_not_allowed"
    assert command_refusal("close", None, True) == "close_not_allowed"


def test_escalate_follows_may_escalate() -> None:
    assert command_refusal("escalate", Role.PRIMARY_CONTACT, True) is None
    assert command_refusal("escalate", Role.COLLABORATOR, True) is None
    assert command_refusal("escalate", Role.PRIMARY_CONTACT, False) == "escalate_refused"
    assert command_refusal("escalate", Role.AGENT, True) == "escalate_refused"
    assert command_refusal("escalate", None, True) == "escalate_refused"


def test_unknown_command() -> None:
    assert command_refusal("delete", Role.AGENT, True) == "unknown_command"


# ------------------------------------------------------------------ routing


def test_new_case_subject_drops_the_topic_tag() -> None:
    assert new_case_subject("Re: [Sev 2] [Topic: Apex] Trigger fails") == "Trigger fails"
    assert new_case_subject("【トピック：請求】 請求書について") == "請求書について"
    assert new_case_subject("Trigger fails") == "Trigger fails"


def test_a_new_case_keeps_the_topic_out_of_its_subject() -> None:
    d = decide(mail(subject="[Topic: Apex] Trigger fails", text="Topic: Flow"))
    assert isinstance(d, OpenCase) and d.subject == "Trigger fails"


def test_an_agents_commands_are_carried_in_order() -> None:
    text = "#note\n#assign me\n#team apex\n#severity 1\nLooked at the logs."
    d = decide(mail(sender="agent@example.com", to=[token_to(1, "agent@example.com")], text=text))
    assert isinstance(d, AddComment) and d.role == Role.AGENT
    assert d.command_names == ("note", "assign", "team", "severity")
    assert [(c.name, c.argument) for c in d.commands] == [
        ("note", ""),
        ("assign", "me"),
        ("team", "apex"),
        ("severity", "1"),
    ]


def test_a_comment_without_commands_has_none() -> None:
    d = decide(mail(sender="alice@acme.example", text="Thanks!\n#close", in_reply_to=["<ack1@example.com>"]))
    assert isinstance(d, AddComment) and d.commands == () and d.command_names == ()


@pytest.mark.parametrize("unproven", ["hold", "accept"])
def test_an_agents_unproven_command_is_held(unproven: str) -> None:
    policy = replace(POLICY, unproven=unproven)  # type: ignore[arg-type]
    forged = mail(sender="agent@example.com", subject="Re: [Case #00000001] Help", text="#severity 1\n")
    d = decide(forged, policy=policy)
    assert isinstance(d, Hold) and d.case.id == 1
    proven = replace(forged, to=(Address(token_to(1, "agent@example.com")),))
    d = decide(proven, policy=policy)
    assert isinstance(d, AddComment) and d.command_names == ("severity",)


def test_a_contacts_unproven_agent_command_is_held_too() -> None:
    policy = replace(POLICY, unproven="accept")
    d = decide(
        mail(sender="alice@acme.example", subject="Re: [Case #00000001] Help", text="#note\nx"), policy=policy
    )
    assert isinstance(d, Hold)


TEAM_POLICY: RoutingPolicy = replace(
    POLICY,
    agent_address="agents@example.com",
    team_addresses=("apex-team@example.com", "apex-mgr@example.com"),
)


def test_a_team_address_in_cc_never_becomes_a_collaborator() -> None:
    cc = ["apex-team@example.com", "APEX-MGR@example.com", "agents@example.com", "carol@acme.example"]
    d = decide(mail(subject="Login fails", cc=cc), policy=TEAM_POLICY)
    assert isinstance(d, OpenCase)
    assert [a.email for a in d.collaborators] == ["carol@acme.example"]
    reply = mail(sender="alice@acme.example", to=[token_to(1, "alice@acme.example")], cc=cc)
    d = decide(reply, FakeFacts(), TEAM_POLICY)
    assert isinstance(d, AddComment)
    assert [a.email for a in d.new_collaborators] == ["carol@acme.example"]
    assert d.not_added == ()


def test_a_reply_address_issued_to_a_team_is_ours_but_proves_nothing_for_the_agent() -> None:
    """A team's copy carries a reply address issued to the team: it threads, but is not the agent's."""
    assert TEAM_POLICY.staff_addresses == (
        "agents@example.com",
        "apex-team@example.com",
        "apex-mgr@example.com",
    )
    reply = mail(sender="agent@example.com", to=[token_to(1, "apex-team@example.com")], text="#waiting")
    d = decide(reply, FakeFacts(), TEAM_POLICY)
    assert isinstance(d, Hold) and d.case.id == 1
    # Without the team's address among ours, the same reply address is not one we issued.
    d = decide(reply, FakeFacts(), POLICY)
    assert isinstance(d, Reject) and d.case is None
