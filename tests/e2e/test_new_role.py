"""Adding a role is one module and one roster line: a role defined here joins the standard team.

`DesignCritic` watches an existing action (WritePRD, by its class) and runs an existing action
(WriteDesign) for a second opinion; the team runs in-process against the emulator's team
responder, over real sockets. Nothing else of polyteam is told about the new role: its calls
take the default route, its ledger lines carry its name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from _support import REQUIREMENT, write_team_config

from polyteam.actions.base import Action
from polyteam.actions.write_design import WriteDesign
from polyteam.actions.write_prd import WritePRD
from polyteam.config import load_settings
from polyteam.team import Role, Team
from polyteam.team.context import RunContext
from polyteam.team.message import Cause, TeamMessage
from polyteam.team.roles import STANDARD_ROLES


class DesignCritic(Role):
    """A second design from the same PRD, kept beside the Architect's (not published)."""

    actions: ClassVar[tuple[type[Action], ...]] = (WriteDesign,)
    watches: ClassVar[tuple[Cause, ...]] = (WritePRD,)

    async def react(self, message: TeamMessage, ctx: RunContext) -> None:
        design = await ctx.act(
            self.name, WriteDesign(), "WriteDesign:second-opinion", {"prd": message.content}
        )
        await ctx.artifacts.write(self.name, "docs/second_opinion.md", design.to_markdown())


ROSTER = (
    *STANDARD_ROLES,
    DesignCritic,  # the one new line
)


async def test_a_role_defined_in_a_test_joins_the_team_and_runs_against_the_emulator(
    make_emulator: Any, tmp_path: Path
) -> None:
    emu = make_emulator(responder="team")
    settings = load_settings(write_team_config(tmp_path / "config", emu.base_url))
    team = Team(settings, [role() for role in ROSTER])

    project, summary = await team.arun(REQUIREMENT, workdir=tmp_path / "work", review_k=0)

    assert summary.ok, summary.error
    assert DesignCritic.name == "DesignCritic" and "DesignCritic" in repr(team.roles[-1])
    second = (project / "docs" / "second_opinion.md").read_text()
    assert second.strip() and second == (project / "docs" / "system_design.md").read_text()
    designs = [r for r in emu.requests if (r.get("tag") or "").startswith("WriteDesign")]
    assert len(designs) == 2  # the Architect's and the critic's: each a real request
    ledger = [json.loads(line) for line in (project / ".polyteam" / "ledger.jsonl").read_text().splitlines()]
    critic = [line for line in ledger if line["role"] == "DesignCritic" and line.get("event") != "started"]
    assert [line["action"] for line in critic] == ["WriteDesign"] and critic[0]["ok"]
    # the Architect's design, not the critic's, went on to the ProjectManager: one WriteTasks
    assert sum(1 for r in emu.requests if (r.get("tag") or "") == "WriteTasks") == 1
