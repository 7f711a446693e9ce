"""The Engineer's file dependency graph: which file waits for which, and in what layers.

Owns turning WriteTasks' `task_list` and `logic_analysis[].depends_on` into a DAG that never
fails: file names are normalised (`./a.py` == `a.py`), dependencies on unknown files and on the
file itself are dropped, and a dependency cycle is broken by task order (inside a cycle a file
keeps only the dependencies listed before it in the task list). Every dropped edge is reported.
Leaves path safety to `polyteam.workspace` and scheduling to `roles/engineer.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


def normalize_file(name: str) -> str:
    """The form a file name is compared in: stripped, forward slashes, no leading `./`, no `//`.

    Only spelling is normalised; whether the name is safe is `polyteam.workspace`'s judgement.
    """
    text = (name or "").strip().strip("`'\"").replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts:
        return ""
    # an absolute name stays absolute: the workspace must see it to reject it, not a quietly fixed one
    return ("/" if text.startswith("/") else "") + "/".join(parts)


@dataclass(frozen=True)
class FilePlan:
    """The order to write files in and what each one waits for."""

    files: tuple[str, ...]  # task order
    deps: Mapping[str, tuple[str, ...]]  # file -> the files it waits for (a DAG)
    layers: tuple[tuple[str, ...], ...]  # files grouped by longest dependency chain below them
    dropped: tuple[str, ...] = field(default=())  # one line per dependency that was ignored, and why


def _ordered_files(task_list: Iterable[str], analysed: Iterable[str], extra: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for group in (task_list, analysed, extra):
        for raw in group:
            name = normalize_file(raw)
            if name and name not in seen:
                seen[name] = None
    return list(seen)


def _strongly_connected(nodes: list[str], edges: Mapping[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (no recursion limit on long chains)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work: list[tuple[str, int]] = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = edges.get(node, [])
            if i < len(succ):
                work.append((node, i + 1))
                nxt = succ[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                components.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def plan_files(
    task_list: Iterable[str],
    depends_on: Mapping[str, Iterable[str]],
    extra_files: Iterable[str] = (),
) -> FilePlan:
    """Build the write plan from the task list (order), per-file dependencies and any other known files.

    Never raises on bad input: unknown or self dependencies are dropped and cycles broken by task
    order; `FilePlan.dropped` says what was ignored.
    """
    norm_deps: dict[str, list[str]] = {}
    for raw_file, raw_deps in depends_on.items():
        name = normalize_file(raw_file)
        if name:
            norm_deps.setdefault(name, []).extend(normalize_file(d) for d in (raw_deps or ()))
    files = _ordered_files(task_list, norm_deps.keys(), extra_files)
    position = {f: i for i, f in enumerate(files)}
    dropped: list[str] = []

    edges: dict[str, list[str]] = {}
    for f in files:
        kept: list[str] = []
        for d in norm_deps.get(f, []):
            if not d:
                continue
            if d == f:
                dropped.append(f"{f}: depends on itself; ignored")
            elif d not in position:
                dropped.append(f"{f}: depends on {d}, which is not in the task list; ignored")
            elif d not in kept:
                kept.append(d)
        edges[f] = kept

    # inside a cycle, keep only edges to files earlier in the task list: the cycle is broken by task order
    for comp in _strongly_connected(files, edges):
        if len(comp) < 2:
            continue
        members = set(comp)
        for f in comp:
            keep = []
            for d in edges[f]:
                if d in members and position[d] > position[f]:
                    dropped.append(
                        f"{f}: depends on {d} in a cycle; {d} comes later in the task list, ignored"
                    )
                else:
                    keep.append(d)
            edges[f] = keep

    depth: dict[str, int] = {}
    for f in _topological(files, edges):
        depth[f] = 1 + max((depth.get(d, -1) for d in edges[f]), default=-1)
    n_layers = 1 + max(depth.values(), default=-1)
    layers = tuple(tuple(f for f in files if depth[f] == i) for i in range(n_layers))
    deps = {f: tuple(sorted(edges[f], key=position.__getitem__)) for f in files}
    return FilePlan(files=tuple(files), deps=deps, layers=layers, dropped=tuple(dropped))


def _topological(files: list[str], edges: Mapping[str, list[str]]) -> list[str]:
    """Dependencies first, ties in task order (Kahn)."""
    remaining = {f: len(edges[f]) for f in files}
    users: dict[str, list[str]] = {f: [] for f in files}
    for f in files:
        for d in edges[f]:
            users[d].append(f)
    position = {f: i for i, f in enumerate(files)}
    ready = sorted((f for f in files if remaining[f] == 0), key=position.__getitem__)
    out: list[str] = []
    while ready:
        f = ready.pop(0)
        out.append(f)
        for u in users[f]:
            remaining[u] -= 1
            if remaining[u] == 0:
                ready.append(u)
                ready.sort(key=position.__getitem__)
    if len(out) != len(files):  # cannot happen after cycle breaking; keep task order for safety
        out += [f for f in files if f not in out]
    return out
