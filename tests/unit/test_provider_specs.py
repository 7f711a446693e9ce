"""One spec per provider kind: the tables config and routing read, hosted, make_provider's error, and
the emulator's import graph without circles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from polyteam.config.schema import BASE_KEY, DEFAULT_MODEL, KEY_OF, REQUIRED_KEYS, STRING_KEYS
from polyteam.errors import ConfigError
from polyteam.providers import PROVIDER_CLASSES, make_provider
from polyteam.providers.base import Endpoint
from polyteam.providers.kinds import BUILTIN, SPECS, kind_for_api_type, provider_name
from polyteam.providers.spark_spec import SPARK_DOMAINS
from polyteam.routing import PROVIDER_NAMES

SRC = Path(__file__).resolve().parents[2] / "src" / "polyteam"


def test_config_and_routing_tables_are_read_off_the_specs() -> None:
    assert (
        PROVIDER_NAMES == tuple(s.name for s in BUILTIN) == ("openai", "claude", "spark", "zhipu", "open_llm")
    )
    assert set(PROVIDER_CLASSES) == {s.name for s in SPECS}
    for spec in BUILTIN:
        assert REQUIRED_KEYS[spec.name] == spec.required
        assert KEY_OF.get(spec.name) == spec.key
        assert all(k in STRING_KEYS for k in spec.all_keys())
    assert BASE_KEY["openai"] == "OPENAI_API_BASE" and "OPENAI_BASE_URL" in STRING_KEYS
    assert DEFAULT_MODEL["claude"] != "claude-3-5-sonnet-20241022"


@pytest.mark.parametrize(
    ("name", "kind"),
    [("Anthropic", "claude"), ("zhipuai", "zhipu"), ("class openai", "open_llm"), ("azure", "openai"),
     ("deepseek", "open_llm"), ("ollama", "open_llm"), ("local", "local"), ("qianfan", None)],
)  # fmt: skip
def test_names_and_api_types(name: str, kind: str | None) -> None:
    assert kind_for_api_type(name) == kind
    if kind in PROVIDER_NAMES and name not in ("azure", "deepseek", "ollama"):
        assert provider_name(name) == kind


@pytest.mark.parametrize(
    ("kind", "base", "hosted"),
    [("open_llm", "http://127.0.0.1:8000/v1", False), ("open_llm", "http://192.168.1.5:11434/v1", False),
     ("open_llm", "http://localhost:8000/v1", False), ("open_llm", "https://api.deepseek.com/v1", True),
     ("openai", "http://127.0.0.1:1/v1", True), ("local", "local://x.gguf", False), ("claude", "https://a", True)],
)  # fmt: skip
def test_hosted(kind: str, base: str, hosted: bool) -> None:
    assert Endpoint(llm="x", kind=kind, base_url=base, model="m").hosted is hosted  # type: ignore[arg-type]


def test_make_provider_raises_a_polyteam_error_for_an_unknown_kind() -> None:
    with pytest.raises(ConfigError, match="no provider serves kind 'nope'"):
        make_provider(Endpoint(llm="x", kind="nope", base_url="http://h", model="m"))  # type: ignore[arg-type]


def test_the_emulator_serves_the_one_spark_domain_table() -> None:
    from polyteam.emulator.spark_ws import DOMAINS

    assert DOMAINS is SPARK_DOMAINS and SPARK_DOMAINS["/v1.1/chat"][0] == "lite" and "/v1/x1" in SPARK_DOMAINS


def _imports(module: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("polyteam.emulator"):
            names.add(node.module.rsplit(".", 1)[-1])
        elif isinstance(node, ast.Import):
            names |= {a.name.rsplit(".", 1)[-1] for a in node.names if a.name.startswith("polyteam.emulator")}
    return names


def test_the_emulator_has_no_import_circle() -> None:
    folder = SRC / "emulator"
    graph = {p.stem: _imports(p) - {p.stem} for p in folder.glob("*.py") if p.stem != "__init__"}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    circles = sorted(m for m in graph if reaches(m, m, {m}))
    assert circles == []
