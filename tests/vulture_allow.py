"""Names vulture reports as unused that are used on purpose (not a test module: read by vulture only).

    python -m vulture        # paths and options are in pyproject.toml [tool.vulture]

Each line names why the code is alive: a framework or reflection calls it, it is public API, or it
is the emulator's/test harness's API. What vulture reports beyond this list is dead code.
"""

# ruff: noqa: B018, F821
# mypy: ignore-errors

from polyteam import emulator, errors, gateway, team
from polyteam.emulator import team_responder, thread

# reflection and frameworks
__getattr__  # polyteam/__init__.py's (PEP 562): called by the import system
errors.FallbackExhaustedError.derive  # ExceptionGroup.split()/subgroup() call it
team_responder.TeamResponder._WritePRD  # dispatched by getattr(self, f"_{action}")
team_responder.TeamResponder._WriteDesign
team_responder.TeamResponder._WriteTasks
team_responder.TeamResponder._WriteCode
team_responder.TeamResponder._WriteCodeReview
_.content_length  # aiohttp's Response attribute: setting it sends Content-Length
_.n_parallel  # xllamacpp's CommonParams fields, read by the native server
_.kv_unified
_.n_threads
_.ui
_.model_alias
_.api_keys
_._pool  # the plain-http client's connection pool, closed in aclose()
_.open_llm_api_base  # pydantic schema fields (read by validation, not by name)
_.api_base
version  # cli.py: typer's --version option parameter
exc_type  # __aexit__'s parameters (providers/_chat_wire.py)
tb
AnthropicProvider  # providers are looked up in the kind table by name
SparkProvider
ZhipuProvider

# public API (polyteam.__all__ and the classes it names) and the data a message carries
gateway.Gateway.add_observer
team.Team.hire
team.TeamMessage.sent_from
_.ts_start  # emulator request-log record field (JSON contract)
_.hits  # emulator fault-rule counters, shown in the request log

# observable state that tests read (the meter's reservations, the shared local servers)
_.reserved_usd
_.running_servers

# the emulator's API for tests and benchmarks
thread.EmulatorThread.wait_for_requests
emulator.signing.spark_sign_url
