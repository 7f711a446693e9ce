"""MetaGPT's configurations as polyteam reads them: 0.6's flat config.yaml keys and 0.7+'s config2.yaml.

`FLAT_IGNORED` are keys of MetaGPT's config.yaml (0.5/0.6) that polyteam recognises but does not use:
one warning each, never an error. `translate_config2` turns a config2.yaml (`llm:`, `models:`, `roles:`;
provider-quirks.md) into the multi_llm_config.yaml shape polyteam routes by: `llm:` becomes the default
LLM, `models:` MODEL_LIST entries, `roles:` Role routes. What it cannot serve is one issue; what it
recognises but ignores is one warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from polyteam.config.schema import is_unset
from polyteam.errors import ConfigIssue
from polyteam.providers.kinds import kind_for_api_type
from polyteam.roster import ROLES

if TYPE_CHECKING:
    from polyteam.config.loading import ConfigFiles

#: MetaGPT 0.5/0.6 config.yaml keys polyteam does not use (its own keys are read, not listed here)
FLAT_IGNORED: frozenset[str] = frozenset(
    {
        "OPENAI_API_TYPE", "OPENAI_API_VERSION", "DEPLOYMENT_NAME", "DEPLOYMENT_ID", "MAX_TOKENS", "RPM",
        "LLM_TYPE", "GEMINI_API_KEY", "FIREWORKS_API_KEY", "FIREWORKS_API_BASE", "FIREWORKS_API_MODEL",
        "OLLAMA_API_BASE", "OLLAMA_API_MODEL", "SEARCH_ENGINE", "SERPAPI_API_KEY", "SERPER_API_KEY",
        "GOOGLE_API_KEY", "GOOGLE_CSE_ID", "WEB_BROWSER_ENGINE", "PLAYWRIGHT_BROWSER_TYPE",
        "SELENIUM_BROWSER_TYPE", "LONG_TERM_MEMORY", "AZURE_TTS_SUBSCRIPTION_KEY", "AZURE_TTS_REGION",
        "IFLYTEK_APP_ID", "IFLYTEK_API_KEY", "IFLYTEK_API_SECRET", "METAGPT_TEXT_TO_IMAGE_MODEL_URL",
        "OPENAI_VISION_MODEL", "VISION_MAX_TOKENS", "PROMPT_FORMAT", "MERMAID_ENGINE", "PUPPETEER_CONFIG",
        "MMDC", "PYPPETEER_EXECUTABLE_PATH", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_DB",
        "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_ENDPOINT_URL", "S3_BUCKET", "S3_SECURE", "UPDATE_COSTS",
        "CALC_USAGE", "WORKSPACE_PATH", "DISABLE_LLM_PROVIDER_CHECK", "REPAIR_LLM_OUTPUT",
        "MODEL_FOR_RESEARCHER_SUMMARY", "MODEL_FOR_RESEARCHER_REPORT", "GLOBAL_PROXY", "TOTAL_BUDGET",
        "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "LANGUAGE", "METAGPT_PROJECT_ROOT",
        "CLAUDE_API_KEY", "QIANFAN_AK", "QIANFAN_SK", "DASHSCOPE_API_KEY", "MISTRAL_API_KEY",
        "MODEL_FOR_RESEARCHER", "OPENAI_API_RPM", "MAX_AUTO_SUMMARIZE_CODE", "SEARCH_ENGINE_API_KEY",
    }
)  # fmt: skip

#: config2.yaml sections polyteam reads
CONFIG2_SECTIONS = ("llm", "models", "roles")
#: LLM fields (MetaGPT's LLMConfig) mapped onto a MODEL_LIST field
_FIELD_MAP = {
    "base_url": "base_url",
    "api_key": "api_key",
    "model": "model",
    "proxy": "proxy",
    "timeout": "timeout",
    "api_secret": "api_secret",
    "app_id": "app_id",
    "domain": "domain",
}
#: api_types MetaGPT knows and polyteam cannot serve (no wire module)
UNSERVED = ("qianfan", "bedrock", "ark", "anthropic_bedrock")


@dataclass
class Translation:
    multi: dict[str, Any] = field(default_factory=dict)  # the multi_llm_config.yaml shape
    issues: list[ConfigIssue] = field(default_factory=list)
    warnings: list[ConfigIssue] = field(default_factory=list)


def has_config2_sections(data: Any) -> bool:
    return isinstance(data, dict) and any(k in data for k in CONFIG2_SECTIONS)


def translate_config2(data: Any, label: str) -> Translation:
    """A config2.yaml as MODEL_LIST entries, DEFAULT_LLM and Role routes."""
    out = Translation()
    if data is None:
        return out
    if not isinstance(data, dict):
        out.issues.append(ConfigIssue(label, "", "is not a mapping of sections (llm:, models:, roles:)", ""))
        return out
    entries: dict[str, Any] = {}
    llm = data.get("llm")
    if llm is not None:
        name = _entry(out, label, "llm", llm, entries, preferred=_model_name(llm, "llm"))
        if name:
            out.multi["DEFAULT_LLM"] = name
    models = data.get("models")
    if isinstance(models, dict):
        for key, config in models.items():
            _entry(out, label, f"models.{key}", config, entries, preferred=str(key))
    elif models is not None:
        out.issues.append(ConfigIssue(label, "models", "is not a mapping of names to LLM settings", ""))
    _roles(out, label, data.get("roles"), entries)
    for key in data:
        if key not in CONFIG2_SECTIONS:
            out.warnings.append(
                ConfigIssue(label, str(key), "is a MetaGPT setting polyteam does not use", "ignored")
            )
    if entries:
        out.multi["MODEL_LIST"] = entries
    return out


def _model_name(config: Any, fallback: str) -> str:
    if isinstance(config, dict) and isinstance(config.get("model"), str) and config["model"].strip():
        return config["model"].strip()
    return fallback


def _roles(out: Translation, label: str, roles: Any, entries: dict[str, Any]) -> None:
    if roles is None:
        return
    if not isinstance(roles, list):
        out.issues.append(ConfigIssue(label, "roles", "is not a list of {role: NAME, llm: {…}}", ""))
        return
    for index, item in enumerate(roles):
        where = f"roles[{index}]"
        role = item.get("role") if isinstance(item, dict) else None
        if role not in ROLES:
            fix = f"use one of {', '.join(ROLES)}"
            out.issues.append(ConfigIssue(label, where, f"{role!r} is not a polyteam Role", fix))
            continue
        name = _entry(out, label, f"{where}.llm", item.get("llm"), entries, preferred=f"{role}-llm")
        if name:
            out.multi[role] = name


def _entry(
    out: Translation, label: str, where: str, config: Any, entries: dict[str, Any], *, preferred: str
) -> str | None:
    """Add one LLM config as a MODEL_LIST entry; its name, or None when it cannot be served."""
    if not isinstance(config, dict):
        out.issues.append(
            ConfigIssue(label, where, "is not a mapping of LLM settings (api_type, model, …)", "")
        )
        return None
    api_type = str(config.get("api_type") or "openai").strip().lower()
    kind = kind_for_api_type(api_type)
    if kind is None or api_type in UNSERVED:
        fix = "route this Role to another LLM (openai, azure, anthropic, zhipuai, spark, ollama, deepseek, …)"
        out.issues.append(
            ConfigIssue(label, f"{where}.api_type", f"polyteam cannot serve api_type {api_type}", fix)
        )
        return None
    entry: dict[str, Any] = {"api_type": api_type}
    for key, value in config.items():
        if key == "api_type" or is_unset(value):
            continue  # MetaGPT's example ships placeholders (YOUR_PROXY) and empty strings
        if key == "base_url" and api_type == "ollama" and str(value).rstrip("/").endswith("/api"):
            entry["base_url"] = (
                str(value).rstrip("/")[: -len("/api")] + "/v1"
            )  # MetaGPT speaks Ollama's own API
        elif key in _FIELD_MAP:
            entry[_FIELD_MAP[key]] = value
        elif key == "api_version":
            entry["query"] = {"api-version": value}
        else:
            out.warnings.append(
                ConfigIssue(label, f"{where}.{key}", "is a MetaGPT setting polyteam does not use", "ignored")
            )
    name = preferred
    while name in entries:
        name = f"{name}-{len(entries)}"
    entries[name] = entry
    return name


def merge_config2(files: ConfigFiles) -> tuple[ConfigFiles, Translation]:
    """`files` with MetaGPT 0.7+ sections (config2.yaml, or llm:/models:/roles: pasted into config.yaml)
    merged into the multi_llm_config.yaml data; multi_llm_config.yaml's own entries win on a clash."""
    total = Translation()
    sources = [(files.config2, files.config2_label)]
    if has_config2_sections(files.config):
        sources.append(({k: v for k, v in files.config.items() if k in CONFIG2_SECTIONS}, files.config_label))
    for data, label in sources:
        if data is None:
            continue
        part = translate_config2(data, label)
        total.issues += part.issues
        total.warnings += part.warnings
        for key, value in part.multi.items():
            if key == "MODEL_LIST":
                total.multi.setdefault("MODEL_LIST", {}).update(value)
            else:
                total.multi.setdefault(key, value)
    if not total.multi:
        return files, total
    multi = files.multi if isinstance(files.multi, dict) else {}
    merged: dict[str, Any] = {**total.multi, **{k: v for k, v in multi.items() if k != "MODEL_LIST"}}
    own_list = multi.get("MODEL_LIST")
    merged["MODEL_LIST"] = {
        **total.multi.get("MODEL_LIST", {}),
        **(own_list if isinstance(own_list, dict) else {}),
    }
    label = files.multi_label if files.multi is not None else files.config2_label
    if files.multi is not None and not isinstance(files.multi, dict):
        return files, total  # validate.py reports the unreadable multi_llm_config.yaml
    return replace(files, multi=merged, multi_label=label), total
