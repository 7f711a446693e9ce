"""Fuzz (hypothesis) over config.yaml, multi_llm_config.yaml and config2.yaml through the real CLI:
`polyteam check` exits 0 or 2, prints one line per issue, and never a traceback."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from _support import run_polyteam
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyteam.config.schema import ENTRY_FIELDS, NUMBER_KEYS, STRING_KEYS

NAMES = [*STRING_KEYS, *NUMBER_KEYS, "PRICES", "MODEL_LIST", "DEFAULT_LLM", "WritePRD", "Engineer", "llm",
         "models", "roles", "api_type", "OPENAI_BASE_URL", "MAX_BUDGT", "RPM", *ENTRY_FIELDS]  # fmt: skip
WORDS = ["openai", "azure", "qianfan", "ollama", "deepseek", "${NOPE}", "os.environ/NOPE", "http://127.0.0.1:1/v1",
         "socks9://x", "gpt-5-mini", "", "YOUR_API_KEY", "sk-fuzz-000000"]  # fmt: skip
leaves = (
    st.none()
    | st.booleans()
    | st.integers(-5, 10**6)
    | st.floats()
    | st.sampled_from(WORDS)
    | st.text(max_size=8)
)
keys = st.sampled_from(NAMES) | st.text(max_size=6)
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
documents = st.dictionaries(keys, values, max_size=6)
texts = documents.map(lambda d: yaml.safe_dump(d, allow_unicode=True)) | st.text(max_size=60)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=texts, multi=texts, config2=texts | st.none())
def test_check_exits_0_or_2_without_a_traceback(config: str, multi: str, config2: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "config.yaml").write_text(config, encoding="utf-8")
        (folder / "multi_llm_config.yaml").write_text(multi, encoding="utf-8")
        if config2 is not None:
            (folder / "config2.yaml").write_text(config2, encoding="utf-8")
        done = run_polyteam("check", "--config-dir", str(folder), timeout=60)
    assert done.returncode in (0, 2), done.stderr
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    if done.returncode == 2:
        assert done.stderr.strip(), "exit 2 says why"
