"""Property: any YAML for either file gives routes or a clean ConfigError, never another exception."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyteam.config import LocalSupport, load_settings
from polyteam.config.schema import ENTRY_FIELDS, MULTI_SPECIAL_KEYS, NUMBER_KEYS, STRING_KEYS
from polyteam.errors import ConfigError
from polyteam.roster import ACTIONS, ROLES

NAMES = [*ROLES, *ACTIONS, *MULTI_SPECIAL_KEYS, *STRING_KEYS, *NUMBER_KEYS, "PRICES", "Anthropic_API_KEY",
         *ENTRY_FIELDS, "input", "output", "llama", "WritePDR"]  # fmt: skip
WORDS = ["openai", "claude", "spark", "zhipu", "open_llm", "open llm", "local", "llama", "smollm2-135m",
         "http://127.0.0.1:1/v1", "wss://spark-api.xf-yun.com/v2.1/chat", "generalv2", "YOUR_API_KEY",
         "0123456789abcdef.secretpart00", "sk-test-0000000000", "", "true"]  # fmt: skip

leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(WORDS)
    | st.text(max_size=20)
)
keys = st.sampled_from(NAMES) | st.text(max_size=12) | st.integers(min_value=-5, max_value=5)
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=25,
)
documents = st.dictionaries(keys, values, max_size=10)
PROBES = [LocalSupport(None, False), LocalSupport(None, True)]


def _check(config_text: str, multi_text: str, probe_index: int, config2_text: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "config.yaml").write_text(config_text, encoding="utf-8")
        (folder / "multi_llm_config.yaml").write_text(multi_text, encoding="utf-8")
        if config2_text is not None:
            (folder / "config2.yaml").write_text(config2_text, encoding="utf-8")
        try:
            loaded = load_settings(folder, {}, probe=lambda: PROBES[probe_index], on_warning=None)
        except ConfigError as exc:
            assert exc.issues
            for issue in exc.issues:
                line = str(issue)
                assert line and "\n" not in line and "Traceback" not in line
            return
        document = loaded.router.explain()
        json.dumps(document)
        assert len(document["routes"]) == len(loaded.router.all_routes())
        for llm in loaded.router.llm_names():
            loaded.router.chain(llm)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=documents, multi=documents, probe_index=st.integers(0, 1))
def test_any_yaml_mapping_gives_routes_or_a_config_error(config: dict, multi: dict, probe_index: int) -> None:
    _check(yaml.safe_dump(config, allow_unicode=True), yaml.safe_dump(multi, allow_unicode=True), probe_index)


@settings(max_examples=100, deadline=None)
@given(config=st.text(max_size=80), multi=st.text(max_size=80))
def test_any_text_gives_routes_or_a_config_error(config: str, multi: str) -> None:
    _check(config, multi, 0)


entry = st.dictionaries(st.sampled_from([*ENTRY_FIELDS, "price"]), values, max_size=6)
structured = st.fixed_dictionaries(
    {
        "MODEL_LIST": st.dictionaries(
            st.sampled_from(["llama", "glm", "openai", "x"]), entry | values, max_size=4
        )
    },
    optional={
        "DEFAULT_LLM": values,
        "INHERIT_ROLE_LLM": values,
        **{
            name: st.sampled_from(["llama", "glm", "openai", "x", *WORDS]) | values
            for name in (*ROLES, *ACTIONS)
        },
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=documents, multi=structured, probe_index=st.integers(0, 1))
def test_any_model_list_gives_routes_or_a_config_error(config: dict, multi: dict, probe_index: int) -> None:
    _check(yaml.safe_dump(config, allow_unicode=True), yaml.safe_dump(multi, allow_unicode=True), probe_index)


llm_config = st.dictionaries(
    st.sampled_from(
        ["api_type", "base_url", "api_key", "model", "proxy", "timeout", "max_token", "api_version"]
    ),
    st.sampled_from(["openai", "azure", "anthropic", "zhipuai", "ollama", "deepseek", "qianfan", "spark"])
    | values,
    max_size=6,
)
config2 = st.fixed_dictionaries(
    {},
    optional={
        "llm": llm_config | values,
        "models": st.dictionaries(st.sampled_from(["a", "b", "gpt-4o"]), llm_config | values, max_size=3),
        "roles": st.lists(
            st.fixed_dictionaries(
                {"role": st.sampled_from([*ROLES, "Nobody"]) | values, "llm": llm_config | values}
            ),
            max_size=3,
        )
        | values,
        "repair_llm_output": values,
    },
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=documents, multi=documents, second=config2)
def test_any_config2_gives_routes_or_a_config_error(config: dict, multi: dict, second: dict) -> None:
    dump = yaml.safe_dump
    _check(
        dump(config, allow_unicode=True), dump(multi, allow_unicode=True), 0, dump(second, allow_unicode=True)
    )
