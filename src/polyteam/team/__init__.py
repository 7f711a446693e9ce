"""The team machinery: typed messages, the environment, the Role base, the Team (DESIGN §1)."""

from polyteam.team.environment import Environment
from polyteam.team.message import RunEvent, TeamMessage
from polyteam.team.role import Role
from polyteam.team.team import RunSummary, Team

__all__ = ["Environment", "Role", "RunEvent", "RunSummary", "Team", "TeamMessage"]
