"""The gateway's added latency per call, against the raw `openai` SDK on the same local endpoint.

Starts an emulator (zero emulated latency) on 127.0.0.1, then alternates calls: one through
`AsyncOpenAI` directly, one through `Gateway.ask` (retry, meter, limit, timeout and fallback
wrappers around the openai provider), so both see the same server conditions. Prints one table
of median, p90 and p99 per path and the difference.

    python benchmarks/overhead.py --calls 1000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass

import openai

from polyteam.emulator import EmulatorThread
from polyteam.gateway import Gateway
from polyteam.providers.base import CallOptions, Endpoint, Message
from polyteam.routing import Route

MODEL = "gpt-4o-mini"
PROMPT = "Say hello in five words."


@dataclass
class OneRouteRouter:
    """Every (role, action) goes to one endpoint: enough of the Router contract for the gateway."""

    target: Endpoint

    def route(self, role: str, action: str) -> Route:
        return Route(role=role, action=action, llm=self.target.llm, source="default", endpoint=self.target)

    def endpoint(self, llm: str) -> Endpoint:
        return self.target


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def measure(base_url: str, calls: int, warmup: int) -> dict[str, list[float]]:
    raw = openai.AsyncOpenAI(base_url=base_url, api_key="sk-benchmark", max_retries=0)
    endpoint = Endpoint(llm="openai", kind="openai", base_url=base_url, model=MODEL, max_concurrency=8)
    gateway = Gateway(OneRouteRouter(endpoint))
    messages = [Message("user", PROMPT)]
    options = CallOptions(max_tokens=64)

    async def via_sdk() -> None:
        await raw.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": PROMPT}], max_tokens=64
        )

    async def via_gateway() -> None:
        await gateway.ask("ProductManager", "WritePRD", messages, options)

    timings: dict[str, list[float]] = {"raw openai SDK": [], "polyteam gateway": []}
    try:
        for index in range(warmup + calls):
            for name, call in (("raw openai SDK", via_sdk), ("polyteam gateway", via_gateway)):
                started = time.perf_counter()
                await call()
                if index >= warmup:
                    timings[name].append(time.perf_counter() - started)
    finally:
        await raw.close()
        await gateway.aclose()
    return timings


def render(timings: dict[str, list[float]]) -> str:
    rows = [("path", "calls", "median ms", "p90 ms", "p99 ms")]
    for name, values in timings.items():
        rows.append(
            (
                name,
                str(len(values)),
                f"{statistics.median(values) * 1000:.3f}",
                f"{percentile(values, 0.90) * 1000:.3f}",
                f"{percentile(values, 0.99) * 1000:.3f}",
            )
        )
    raw, gateway = timings["raw openai SDK"], timings["polyteam gateway"]
    rows.append(
        (
            "gateway - raw",
            "",
            f"{(statistics.median(gateway) - statistics.median(raw)) * 1000:+.3f}",
            f"{(percentile(gateway, 0.90) - percentile(raw, 0.90)) * 1000:+.3f}",
            f"{(percentile(gateway, 0.99) - percentile(raw, 0.99)) * 1000:+.3f}",
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for number, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="measured calls per path (default 1000)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured calls per path first")
    args = parser.parse_args()
    emulator = EmulatorThread(port=0, latency_ms=0).start()
    try:
        timings = asyncio.run(measure(f"{emulator.base_url}/v1", args.calls, args.warmup))
    finally:
        emulator.stop()
    print(render(timings))


if __name__ == "__main__":
    main()
