"""`polyteam run --capture`: each attempt's prompt and reply kept in `<project>/.polyteam/calls/`.

One JSON file per attempt (first try, retry, re-ask or fallback), named in the order the attempts
ended: `0007-WriteCode-main.py-coder-7b-a2.json` holds the role, action, LLM, provider, model,
attempt, call id (the ledger's), outcome, request id, finish reason, the messages sent and the
reply. Every string passes through `polyteam.redact` before it is written, so a key that reached
a prompt is masked here too. Written when the attempt ends (`polyteam.attempts.AttemptScope`);
the folder moves with the project when the PRD renames it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

from polyteam.redact import redact_obj

log = logging.getLogger("polyteam.capture")
_lock = threading.Lock()
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _name(seq: int, action: str, llm: str, attempt: int) -> str:
    label = _UNSAFE.sub("-", f"{action}-{llm}").strip("-.")[:80] or "call"
    return f"{seq:04d}-{label}-a{attempt}.json"


def write_call(scope: Any, attempt: Any, completion: Any | None, error: str | None) -> None:
    """Write one attempt's file under `scope.calls_dir()`; a disk error is logged, never raised."""
    call, endpoint = attempt.call, attempt.endpoint
    with _lock:
        scope.seq += 1
        seq = scope.seq
    action = call.action if call is not None else ""
    document = {
        "role": call.role if call is not None else "",
        "action": action,
        "key": attempt.key,
        "llm": endpoint.llm,
        "provider": endpoint.kind,
        "model": endpoint.model,
        "attempt": attempt.number,
        "attempt_kind": attempt.how,
        "call_id": call.call_id if call is not None else "",
        "ok": completion is not None and error is None,
        "error": error,
        "request_id": getattr(completion, "request_id", None),
        "finish_reason": getattr(completion, "finish_reason", None),
        "input_tokens": getattr(completion, "input_tokens", None),
        "output_tokens": getattr(completion, "output_tokens", None),
        "messages": [{"role": m.role, "content": m.content} for m in attempt.messages],
        "reply": getattr(completion, "text", None),
    }
    text = json.dumps(redact_obj(document), indent=2, ensure_ascii=False) + "\n"
    try:
        folder = scope.calls_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / _name(seq, attempt.key or action, endpoint.llm, attempt.number)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:  # a full disk must not fail the call it records
        log.warning("capture: could not write call %d: %s", seq, exc)
        return
    log.debug("captured %s", path.name)
