"""The public API is what `polyteam.__all__` lists; each name resolves, and importing stays light."""

from __future__ import annotations

import subprocess
import sys

import polyteam


def test_exported_members() -> None:
    assert sorted(polyteam.__all__) == sorted(
        ["__version__", "Team", "RunSummary", "load_settings", "Settings", "Router", "Route", "Gateway",
         "Answer", "Endpoint", "Message", "CallOptions", "Completion", "build_report", "Emulator",
         "PolyteamError", "ConfigError", "UsageError", "FallbackExhaustedError", "ProviderError", "BudgetExceededError", "MalformedReplyError"]
    )  # fmt: skip
    for name in polyteam.__all__:
        assert getattr(polyteam, name) is not None, name
    assert polyteam.Team.standard is not None and callable(polyteam.load_settings)


def test_importing_polyteam_loads_no_sdk_and_no_team() -> None:
    code = (
        "import sys, polyteam; heavy = {'openai', 'anthropic', 'websockets', 'aiohttp', 'polyteam.team'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
