"""`polyteam report` as a subprocess: tables, --json, --html (rendered by headless Chromium), errors."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from _support import run_polyteam

from canary import canary_endpoint
from polyteam.cost import CostMeter
from polyteam.gateway import AttemptRecord

# each holds its kind's canary key: a key reaching the ledger or a report fails the suite
GPT4O = canary_endpoint(llm="openai", kind="openai", base_url="http://127.0.0.1:9/v1", model="gpt-4o")
MINI = canary_endpoint(llm="mini", kind="openai", base_url="http://127.0.0.1:9/v1", model="gpt-4o-mini")
SONNET = canary_endpoint(
    llm="claude", kind="claude", base_url="http://127.0.0.1:9", model="claude-3-5-sonnet-latest"
)
LLAMA = canary_endpoint(llm="llama", kind="open_llm", base_url="http://127.0.0.1:9/llama/v1", model="llama")


def polyteam(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_polyteam(*args, cwd=cwd, env={"COLUMNS": "160"}, timeout=60)  # checks for canary secrets


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "proj"
    meter = CostMeter(folder, None, GPT4O, budget_usd=1.0)
    calls = [
        (MINI, "ProductManager", "WritePRD", 1200, 800),
        (SONNET, "Architect", "WriteDesign", 3000, 2000),
        (MINI, "ProjectManager", "WriteTasks", 2500, 900),
        (LLAMA, "Engineer", "WriteCode", 4000, 3000),
        (SONNET, "Engineer", "WriteCodeReview", 5000, 600),
    ]
    for n, (ep, role, action, tin, tout) in enumerate(calls):
        record = AttemptRecord(
            ts=1_700_000_000.0 + n, role=role, action=action, llm=ep.llm, provider=ep.kind, model=ep.model,
            base_url=ep.base_url, attempt=1, ok=True, error=None, input_tokens=tin, output_tokens=tout,
            latency_s=1.0 + n, call_id=f"c{n}", endpoint=ep,
        )  # fmt: skip
        meter.record(record, meter.reserve(ep, tin, tout))
    return folder


def test_report_prints_tables_and_summary(project: Path, tmp_path: Path) -> None:
    result = polyteam("report", str(project), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for text in ("By Role", "By Action", "By model", "WriteCodeReview", "claude-3-5-sonnet-latest"):
        assert text in result.stdout
    assert "on gpt-4o (openai) alone the same tokens would cost" in result.stdout


def test_report_json_shape(project: Path, tmp_path: Path) -> None:
    result = polyteam("report", str(project), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["totals"]["calls"] == 5
    assert {g["role"] for g in report["by_role"]} == {
        "ProductManager",
        "Architect",
        "ProjectManager",
        "Engineer",
    }
    assert report["counterfactual"]["available"] is True
    assert report["counterfactual"]["saving_usd"] > 0
    assert report["unpriced"] == []


def test_missing_ledger_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = polyteam("report", str(tmp_path / "empty"), cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "ledger.jsonl" in lines[0] and "polyteam run" in lines[0]
    assert "Traceback" not in result.stderr


# -- the HTML page in a real browser ----------------------------------------------------------


def read_png(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, channels, raw pixel rows without filter bytes) of an 8-bit RGB/RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    assert header is not None
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, f"unsupported PNG {header}"
    bpp = 3 if color == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, b"".join(rows)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (apt-get install chromium)")
def test_html_report_renders_in_headless_chromium(project: Path, tmp_path: Path) -> None:
    page = tmp_path / "out" / "report.html"
    page.parent.mkdir()  # report --html never creates a missing folder (issue 13)
    result = polyteam("report", str(project), "--html", str(page), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    html = page.read_text()
    assert "<svg" in html and "<script" not in html and "https://" not in html
    shot = tmp_path / "shot.png"
    browser = subprocess.run(
        [
            find_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'chrome-profile'}", f"--screenshot={shot}", "--window-size=1000,800",
            page.resolve().as_uri(),
        ],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert shot.is_file(), f"no screenshot (exit {browser.returncode}): {browser.stderr[-1500:]}"
    width, height, bpp, pixels = read_png(shot.read_bytes())
    assert (width, height) == (1000, 800)
    colors: dict[bytes, int] = {}
    for i in range(0, len(pixels), bpp * 7):  # every 7th pixel is plenty
        px = pixels[i : i + 3]
        colors[px] = colors.get(px, 0) + 1
    sampled = sum(colors.values())
    background = max(colors.values())
    assert len(colors) > 20, "the screenshot has almost no colours: blank page?"
    assert sampled - background > sampled * 0.05, "over 95% of the screenshot is one colour"
    # the bar charts' colours are on screen (the first bar is #3867d6, within anti-aliasing)
    assert any(abs(p[0] - 0x38) < 8 and abs(p[1] - 0x67) < 8 and abs(p[2] - 0xD6) < 8 for p in colors)
