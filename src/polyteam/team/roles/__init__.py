"""The standard team's roles, one module each (DESIGN §1); their actions live in `polyteam.actions`.

`STANDARD_ROLES` is the roster: `Team.standard` hires these, in this order, and the live display
lists them in this order. A new role is a module here and one line below.
"""

from __future__ import annotations

from polyteam.team.role import Role
from polyteam.team.roles.architect import Architect
from polyteam.team.roles.engineer import Engineer
from polyteam.team.roles.product_manager import ProductManager
from polyteam.team.roles.project_manager import ProjectManager

STANDARD_ROLES: tuple[type[Role], ...] = (
    ProductManager,
    Architect,
    ProjectManager,
    Engineer,
)

__all__ = ["STANDARD_ROLES", "Architect", "Engineer", "ProductManager", "ProjectManager"]
