"""Scripted hostile team replies for `_server.HostileServer`, and the config that points polyteam at it.

`Scenario` answers every action of the standard team with valid JSON whose *content* is hostile:
a task list of the names a test gives (colliding with polyteam's docs or with each other, unsafe),
the caller's API key echoed into every reply, escape sequences in text that reaches the terminal,
a PRD naming a previous project. `fail` makes chosen requests fail with an HTTP status.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from _server import Request

import canary

ESC_TITLE = "\x1b]0;pwned\x07\x1b[2J"  # set the terminal title, clear the screen

#: names that pass the action gates (plausible file names) yet are polyteam's own files
RESERVED_FILES = [
    "docs/prd.md", "docs/prd.json", "docs/requirement.txt", "docs/system_design.md", "docs/tasks.json",
    "docs/tasks.md", "main.py",
]  # fmt: skip

#: names a hostile task list plans: polyteam's own files, a file/folder collision, unsafe names (the
#: action gates drop the implausible ones before the Engineer's screen sees them: either must hold)
HOSTILE_FILES = [
    "docs/prd.md", "docs/prd.json", "docs/requirement.txt", "docs/system_design.md", "docs/tasks.json",
    "collide", "collide/inner.py", "../x.py", "main\u202egnp.py", "ma\u200bin.py", "a\x1b[2Jb.py",
    "main.py",
]  # fmt: skip


@dataclass
class Scenario:
    files: list[str] = field(default_factory=lambda: ["util.py", "main.py"])
    project_name: str = "hostile_app"
    echo_key: bool = True
    #: (action, filename) -> HTTP status to answer with, while it is in the dict
    fail: dict[tuple[str, str], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, req: Request) -> str | int:
        with self._lock:
            status = self.fail.get((req.action, req.filename))
        if status is not None:
            return status
        key = req.api_key if self.echo_key else ""
        handler = getattr(self, f"_{req.action}", None)
        if handler is None:  # not a team prompt (`polyteam ask`): the key and a terminal attack, as text
            return f"your key is {key} {ESC_TITLE} \x9b2J \u202egnp done"  # also a C1 CSI and a bidi override
        return json.dumps(handler(req, key))

    def _WritePRD(self, req: Request, key: str) -> dict[str, object]:  # noqa: N802
        return {
            "project_name": self.project_name,
            "original_requirement": f"echo {key} {ESC_TITLE}",
            "product_goals": [f"goal with the key {key}", f"title {ESC_TITLE}"],
            "user_stories": ["As a user, I want it to work"],
            "requirement_pool": [{"requirement": f"run {key}", "priority": "P0"}],
            "ui_design_notes": "",
            "open_questions": [],
        }

    def _WriteDesign(self, req: Request, key: str) -> dict[str, object]:  # noqa: N802
        return {
            "implementation_approach": f"plain python; key={key}",
            "file_list": self.files,
            "data_structures_and_interfaces": "classDiagram\n  class A",
            "program_call_flow": "sequenceDiagram\n  A->>B: hi",
            "third_party_packages": [f"evil{ESC_TITLE}pkg"],
            "anything_unclear": "",
        }

    def _WriteTasks(self, req: Request, key: str) -> dict[str, object]:  # noqa: N802
        return {
            "required_packages": [f"requests{ESC_TITLE}", f"token-{key}"],
            "logic_analysis": [
                {"file": f, "description": f"the {f} module", "depends_on": []} for f in self.files
            ],
            "task_list": list(self.files),
            "shared_knowledge": f"the key is {key}",
            "anything_unclear": "",
        }

    def _WriteCode(self, req: Request, key: str) -> dict[str, object]:  # noqa: N802
        return {"filename": req.filename, "code": f'API_KEY = "{key}"\nNAME = {req.filename!r}\n'}

    def _WriteCodeReview(self, req: Request, key: str) -> dict[str, object]:  # noqa: N802
        return {"filename": req.filename, "verdict": "LGTM", "findings": [f"uses {key} {ESC_TITLE}"]}


def write_config(folder: Path, base_url: str) -> Path:
    """config.yaml: every role on the hostile server's OpenAI-compatible API, with the canary key."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(
        f'OPENAI_API_KEY: "{canary.OPENAI_API_KEY}"\nOPENAI_API_BASE: "{base_url}"\n'
        'OPENAI_API_MODEL: "gpt-4o-mini"\nCODE_REVIEW_K: 1\n'
    )
    return folder
