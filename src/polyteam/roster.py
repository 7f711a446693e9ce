"""The standard team: which Role runs which Actions (DESIGN §1). Names are the seed's exact spellings."""

from __future__ import annotations

#: Role -> the Actions it runs, in pipeline order
STANDARD_TEAM: dict[str, tuple[str, ...]] = {
    "ProductManager": ("WritePRD",),
    "Architect": ("WriteDesign",),
    "ProjectManager": ("WriteTasks",),
    "Engineer": ("WriteCode", "WriteCodeReview"),
    "QaEngineer": ("WriteTest",),
}

ROLES: tuple[str, ...] = tuple(STANDARD_TEAM)
ACTIONS: tuple[str, ...] = tuple(a for actions in STANDARD_TEAM.values() for a in actions)


def role_pairs() -> list[tuple[str, str]]:
    """Every (Role, Action) pair of the standard team, in pipeline order."""
    return [(role, action) for role, actions in STANDARD_TEAM.items() for action in actions]
