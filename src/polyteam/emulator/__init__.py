"""Local servers speaking the openai, anthropic, zhipu and spark wire protocols (docs/emulator.md).

`Emulator` (async context manager) and `EmulatorThread` (a background thread, for sync code) serve every
protocol on one port; replies come from a responder (`echo`, `team`, a rules YAML file, or a callable),
faults from a `--faults` spec, and every request is logged (`emu.requests`, optional JSONL file).
"""

from polyteam.emulator.faults import FaultPlan, FaultRule, FaultSpecError, parse_faults
from polyteam.emulator.registry import resolve_responder
from polyteam.emulator.requestlog import max_overlap
from polyteam.emulator.responders import ChatRequest, Reply, Responder, echo
from polyteam.emulator.server import Emulator
from polyteam.emulator.thread import EmulatorThread

__all__ = [
    "ChatRequest",
    "Emulator",
    "EmulatorThread",
    "FaultPlan",
    "FaultRule",
    "FaultSpecError",
    "Reply",
    "Responder",
    "echo",
    "max_overlap",
    "parse_faults",
    "resolve_responder",
]
