"""The typed cast: roles name their actions and watches as classes; names and order derive from them."""

from __future__ import annotations

from typing import ClassVar

import pytest

from polyteam.actions.base import Action
from polyteam.actions.write_design import WriteDesign
from polyteam.actions.write_prd import PRD, WritePRD
from polyteam.progress import ROLE_ORDER
from polyteam.roster import STANDARD_TEAM, role_pairs
from polyteam.team import Role, Team
from polyteam.team.environment import Environment
from polyteam.team.message import Cause, TeamMessage, UserRequirement
from polyteam.team.roles import STANDARD_ROLES


def test_the_configuration_vocabulary_matches_the_roles_in_order() -> None:
    built = [(role.name, action.name) for role in STANDARD_ROLES for action in role.actions]
    assert built == [pair for pair in role_pairs() if pair[0] != "QaEngineer"]
    assert set(STANDARD_TEAM) - {role.name for role in STANDARD_ROLES} == {"QaEngineer"}


def test_every_watched_cause_is_produced_by_an_earlier_role_or_is_the_requirement() -> None:
    produced: set[type] = {UserRequirement}
    for role in STANDARD_ROLES:
        assert role.watches and set(role.watches) <= produced, role.name
        produced.update(role.actions)


def test_display_order_and_standard_team_come_from_the_roster() -> None:
    assert tuple(role.name for role in STANDARD_ROLES) == ROLE_ORDER
    team = Team.standard(settings=None)
    assert [type(role) for role in team.roles] == list(STANDARD_ROLES)


class Critic(Role):
    actions: ClassVar[tuple[type[Action], ...]] = (WriteDesign,)
    watches: ClassVar[tuple[Cause, ...]] = (WritePRD,)


class Renamed(Role):
    name: ClassVar[str] = "Reviewer"
    actions: ClassVar[tuple[type[Action], ...]] = ()
    watches: ClassVar[tuple[Cause, ...]] = ()


def test_a_role_is_named_after_its_class_unless_it_says_otherwise() -> None:
    assert Critic.name == "Critic" and Renamed.name == "Reviewer"
    assert repr(Critic()) == "Critic(watches=['WritePRD'], actions=['WriteDesign'])"


def test_cause_by_is_derived_from_the_output() -> None:
    prd = PRD.model_validate({"project_name": "snake"})
    architect = next(role() for role in STANDARD_ROLES if role.name == "Architect")
    with pytest.raises(TypeError, match="Architect runs no action whose output is a PRD"):
        architect.cause_of(prd)
    pm = next(role() for role in STANDARD_ROLES if role.name == "ProductManager")
    assert pm.cause_of(prd) is WritePRD


def test_the_environment_delivers_by_cause_class() -> None:
    env = Environment()
    got: list[TeamMessage] = []
    env.subscribe(WritePRD, got.append)
    env.publish(TeamMessage(cause_by="WriteDesign", sent_from="Architect", content="d"))
    env.publish(TeamMessage(cause_by=WritePRD.name, sent_from="ProductManager", content="p"))
    assert [m.content for m in got] == ["p"]
    latest = env.latest(WriteDesign)
    assert latest is not None and latest.content == "d"
    assert env.latest(UserRequirement) is None
