"""polyteam.price_cache: genai-prices' answers remembered per installed version, never trusted blindly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import genai_prices
import pytest

from polyteam import price_cache
from polyteam.prices import price_for
from polyteam.providers.base import Endpoint

PROBE = """
import json, sys
from polyteam.prices import price_for
from polyteam.providers.base import Endpoint
quotes = []
for kind, model, base in [("openai", "gpt-5-mini", "http://127.0.0.1:9/v1"),
                          ("openai", "gpt-5.4", "http://127.0.0.1:9/v1"),
                          ("open_llm", "deepseek-chat", "https://api.deepseek.com/v1"),
                          ("claude", "brand-new-model", "http://127.0.0.1:9/v1")]:
    q = price_for(Endpoint(llm="x", kind=kind, base_url=base, model=model))
    quotes.append([q.source, q.price.input, q.price.output, q.cost(3359, 512), q.cost(300000, 10)])
print(json.dumps({"quotes": quotes, "imported": "genai_prices" in sys.modules}))
"""


def _probe(cache: Path) -> dict[str, object]:
    env = {**os.environ, "POLYTEAM_CACHE_DIR": str(cache)}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_a_second_process_prices_flat_models_without_importing_genai_prices(tmp_path: Path) -> None:
    first = _probe(tmp_path)
    assert first["imported"] is True
    files = list(tmp_path.glob("genai-prices-*.json"))
    assert [f.name for f in files] == [f"genai-prices-{genai_prices.__version__}.json"]
    entries = json.loads(files[0].read_text())
    assert entries["claude||brand-new-model"] is None  # unknown to genai-prices: remembered as such
    second = _probe(tmp_path)
    assert second["quotes"] == first["quotes"]  # same source, rates and costs, tiers included
    assert second["quotes"][3][0] == "unpriced"


def test_the_tiered_model_is_still_costed_by_genai_prices(tmp_path: Path) -> None:
    _probe(tmp_path)
    probe = PROBE.replace('("openai", "gpt-5-mini", "http://127.0.0.1:9/v1"),', "")
    env = {**os.environ, "POLYTEAM_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["imported"] is True  # gpt-5.4's tiers need the library


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        "[1, 2]",
        json.dumps({"openai||gpt-5-mini": {"input": -1, "output": 2, "provider": "openai", "flat": True}}),
        json.dumps({"openai||gpt-5-mini": {"input": "0", "output": 0, "provider": "openai", "flat": True}}),
        json.dumps({"openai||gpt-5-mini": {"input": 0, "output": 0, "provider": "", "flat": True}}),
        json.dumps({"openai||gpt-5-mini": {"input": 1e999, "output": 0, "provider": "openai", "flat": 1}}),
        json.dumps({"openai||gpt-5-mini": "free"}),
    ],
)
def test_a_malformed_file_or_entry_is_asked_again_and_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setenv("POLYTEAM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(price_cache, "_memo", {})
    path = tmp_path / f"genai-prices-{genai_prices.__version__}.json"
    path.write_text(bad)
    quote = price_for(Endpoint(llm="x", kind="openai", base_url="http://127.0.0.1:9/v1", model="gpt-5-mini"))
    expected = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=1_000_000, output_tokens=0), "gpt-5-mini", provider_id="openai"
    )
    assert quote.price.input == pytest.approx(float(expected.total_price))
    assert json.loads(path.read_text())["openai||gpt-5-mini"]["input"] == quote.price.input


def test_a_cache_folder_that_cannot_be_written_is_no_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("POLYTEAM_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(price_cache, "_memo", {})
    quote = price_for(Endpoint(llm="x", kind="openai", base_url="http://127.0.0.1:9/v1", model="gpt-5-mini"))
    assert quote.source.startswith("genai-prices") and quote.price.input > 0


def test_the_version_names_the_file_and_the_folder_follows_xdg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert price_cache.installed_version() == genai_prices.__version__
    monkeypatch.delenv("POLYTEAM_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert price_cache.cache_dir() == tmp_path / "xdg" / "polyteam"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert price_cache.cache_dir() == tmp_path / "home" / ".cache" / "polyteam"
