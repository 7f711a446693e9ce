"""The names a configuration may route: DESIGN §1's Roles and the Actions each runs (seed's spellings).

The team itself is the classes: `polyteam.team.roles.STANDARD_ROLES`, each role naming its
actions as classes. This table is the configuration's vocabulary, kept on the ground floor so
that config/ and routing.py need not import the team; it also holds DESIGN's opt-in QaEngineer,
which a configuration may name before it is built. tests/unit/test_cast.py pins the two together.
"""

from __future__ import annotations

#: Role -> the Actions it runs, in pipeline order
STANDARD_TEAM: dict[str, tuple[str, ...]] = {
    "ProductManager": ("WritePRD",),
    "Architect": ("WriteDesign",),
    "ProjectManager": ("WriteTasks",),
    "Engineer": ("WriteCode", "WriteCodeReview"),
    "QaEngineer": ("WriteTest",),  # opt-in (DESIGN §1): routable, not built
}

ROLES: tuple[str, ...] = tuple(STANDARD_TEAM)
ACTIONS: tuple[str, ...] = tuple(a for actions in STANDARD_TEAM.values() for a in actions)


def role_pairs() -> list[tuple[str, str]]:
    """Every (Role, Action) pair of the standard team, in pipeline order."""
    return [(role, action) for role, actions in STANDARD_TEAM.items() for action in actions]
