"""The files a run writes into its project, as a role sees them: written, skipped, or kept.

Owns what a role may write and how: a model-named file goes through `polyteam.safepath` (unsafe
names and paths polyteam reserves for itself are reported and skipped, never a run failure), one
call writes an action's `.md` and `.json`, registered secrets are masked in every file, and a file
whose content on disk is not one polyteam wrote (a user's edit before a resume) is kept: the new
version is written beside it and a note says so. The hash of every version written is kept in the
run state before the file is written, so a resume after a kill tells polyteam's versions from a
user's. The writes themselves are `polyteam.workspace`'s.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from polyteam.errors import UnsafePathError
from polyteam.redact import redact_secrets
from polyteam.safepath import check_model_path, collisions, is_binary_asset
from polyteam.team.checkpoint import Checkpoint
from polyteam.team.events import Events
from polyteam.workspace import Workspace, content_hash

_KEEP_HASHES = 8  # versions remembered per file (a review may rewrite a file a few times)


@dataclass
class Artifacts:
    workspace: Workspace
    checkpoint: Checkpoint
    events: Events
    written: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)  # (user's file, where ours went)

    async def write(self, role: str, name: str, text: str, *, model_named: bool = False) -> bool:
        """Write project file `name`; False when it was skipped (reported as such).

        `model_named`: the name came from a model, so paths polyteam reserves are refused too.
        """
        prepared = self._prepare(role, name, text, model_named)
        return prepared is not None and await self._put(role, name, *prepared)

    async def write_doc(self, role: str, stem: str, output: Any) -> bool:
        """An action's output as `<stem>.md` (its markdown) and `<stem>.json`; False if either was skipped."""
        data = json.dumps(output.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
        files = {f"{stem}.md": output.to_markdown(), f"{stem}.json": data}
        # both hashes go into one checkpoint, written with the first file
        prepared = {name: self._prepare(role, name, text, False) for name, text in files.items()}
        ok = [p is not None and await self._put(role, name, *p) for name, p in prepared.items()]
        return all(ok)

    def _prepare(
        self, role: str, name: str, text: str, model_named: bool
    ) -> tuple[bytes, frozenset[str]] | None:
        """The bytes to write and the hashes of polyteam's versions of `name` (this one remembered in
        the checkpoint before the file is written); None when the name is skipped (reported)."""
        try:
            if model_named:
                check_model_path(name)
            data = redact_secrets(text).encode("utf-8")
        except UnsafePathError as exc:
            self.skip(role, name, str(exc))
            return None
        return data, self._remember(name, content_hash(data))

    async def _put(self, role: str, name: str, data: bytes, ours: frozenset[str]) -> bool:
        try:
            outcome = await self.workspace.awrite_guarded(name, data, ours)
        except UnsafePathError as exc:
            self.skip(role, name, str(exc))
            return False
        if outcome.beside:
            self.kept.append((name, outcome.name))
            self.events.note(
                role, f"{name}: changed since polyteam wrote it; kept, new version in {outcome.name}"
            )
        if outcome.name not in self.written:
            self.written.append(outcome.name)
        self.events.emit("written", role, detail=outcome.name)
        return True

    def screen(self, role: str, names: Sequence[str]) -> list[str]:
        """The names of a plan that may be requested and written; each other one is reported and
        skipped: unsafe, reserved for polyteam, a file that is also another's folder, or binary."""
        clashing = collisions(names)
        accepted: list[str] = []
        for name in names:
            try:
                check_model_path(name)
                self.workspace.resolve(name)
            except UnsafePathError as exc:
                self.skip(role, name, str(exc))
                continue
            if name in clashing:
                self.skip(role, name, clashing[name])
            elif is_binary_asset(name):
                self.skip(role, name, "a binary asset, not source text: not requested from the model")
            else:
                accepted.append(name)
        return accepted

    def skip(self, role: str, name: str, reason: str) -> None:
        if (name, reason) not in self.skipped:
            self.skipped.append((name, reason))
        self.events.emit("skipped", role, detail=reason)

    def _remember(self, name: str, digest: str) -> frozenset[str]:
        """Record `digest` as a version of `name` polyteam writes; the checkpoint holding it is written
        before the file (`Workspace.awrite_guarded` commits the newest snapshot first)."""
        files = self.checkpoint.state.files
        known = files.setdefault(name, [])
        if digest not in known:
            known.append(digest)
            del known[:-_KEEP_HASHES]
            self.checkpoint.save_soon()
        return frozenset(known)
