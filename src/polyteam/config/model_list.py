"""MODEL_LIST entries of multi_llm_config.yaml -> endpoints (DESIGN §2), with their issues.

An entry is an OpenAI-compatible server by default (`open_llm_api_base`); `api_type` makes it
any provider (borrowing config.yaml's key, base and Spark credentials where the entry sets
none) or `local`, a GGUF served in-process. Fallback names are checked by `validate.py`,
which knows every name.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from polyteam.config.credentials import (
    Values,
    base_for,
    is_url,
    is_zhipu_key,
    proxy_issue,
    spark_domain_issue,
    strip_base,
)
from polyteam.config.local import LocalSupport, local_base_url
from polyteam.config.schema import (
    BASE_ALIASES,
    BUNDLED_INSTALL_HINT,
    BUNDLED_MODEL,
    ENTRY_EXPECTS,
    ENTRY_FIELDS,
    KEY_OF,
    LOCAL_INSTALL_HINT,
    ModelEntry,
    display,
    is_unset,
)
from polyteam.errors import ConfigIssue
from polyteam.providers.base import Endpoint, Price
from polyteam.providers.kinds import SPECS, kind_for_api_type, spec_for
from polyteam.providers.openai_spec import COMPATIBLE_BASES

_KINDS = tuple(s.name for s in SPECS)


@dataclass
class EntryResult:
    name: str
    endpoint: Endpoint | None  # None when the entry has issues
    fallback: tuple[str, ...]  # as written; validate.py resolves them
    secrets: tuple[str, ...]


class _Ctx:
    def __init__(
        self, label: str, values: Values, config_dir: Path | None, probe: Callable[[], LocalSupport]
    ):
        self.label = label
        self.values = values
        self.config_dir = config_dir
        self._probe = probe
        self._support: LocalSupport | None = None
        self.issues: list[ConfigIssue] = []

    @property
    def support(self) -> LocalSupport:
        if self._support is None:
            self._support = self._probe()
        return self._support

    def issue(self, key: str, problem: str, fix: str = "") -> None:
        self.issues.append(ConfigIssue(self.label, key, problem, fix))


def entry_name(key: Any) -> str | None:
    """A MODEL_LIST key as a name (YAML may read `7:` as a number), or None if unusable."""
    if isinstance(key, str) and key.strip():
        return key
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        return str(key)
    return None


def build_model_list(
    raw: Any, label: str, values: Values, config_dir: Path | None, probe: Callable[[], LocalSupport]
) -> tuple[dict[str, EntryResult], list[ConfigIssue]]:
    """Every MODEL_LIST entry as an EntryResult (endpoint None when it has issues), and the issues."""
    ctx = _Ctx(label, values, config_dir, probe)
    results: dict[str, EntryResult] = {}
    if raw is None:
        return results, ctx.issues
    if not isinstance(raw, dict):
        ctx.issue(
            "MODEL_LIST",
            "is not a mapping of LLM names to endpoints",
            "write NAME: on its own line, indented",
        )
        return results, ctx.issues
    for key, data in raw.items():
        name = entry_name(key)
        if name is None:
            ctx.issue(
                "MODEL_LIST", "an entry without a usable name", "give each entry a name such as my-llama:"
            )
            continue
        results[name] = _entry(ctx, name, data)
    return results, ctx.issues


def _entry(ctx: _Ctx, name: str, data: Any) -> EntryResult:
    where = f"MODEL_LIST.{name}"
    before = len(ctx.issues)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        ctx.issue(
            where,
            "is not a mapping of fields",
            f'indent open_llm_api_base: "http://HOST:PORT/v1" under {name}:',
        )
        return EntryResult(name, None, (), ())
    try:
        entry = ModelEntry.model_validate(data)
    except ValidationError as exc:
        _pydantic_issues(ctx, where, exc)
        return EntryResult(name, None, (), _raw_secrets(data))
    secrets = tuple(s for s in (entry.api_key, entry.api_secret) if s)
    kind = "open_llm" if entry.api_type is None else kind_for_api_type(entry.api_type)
    if kind is None:
        close = difflib.get_close_matches(str(entry.api_type).lower(), _KINDS, n=1)
        hint = f"did you mean {close[0]}?" if close else f"use one of {', '.join(_KINDS)}"
        ctx.issue(f"{where}.api_type", "unknown api_type", hint)
        return EntryResult(name, None, (), secrets)
    bad_proxy = proxy_issue(entry.proxy, ctx.label, f"{where}.proxy")
    if bad_proxy is not None:
        ctx.issues.append(bad_proxy)
        return EntryResult(name, None, (), secrets)
    fallback = tuple([entry.fallback] if isinstance(entry.fallback, str) else entry.fallback or ())
    common: dict[str, Any] = {
        "llm": name,
        "price": Price(entry.price.input, entry.price.output) if entry.price else None,
        "max_concurrency": entry.max_concurrency,
        "timeout": entry.timeout,
        "proxy": entry.proxy,
        "tiny": bool(entry.tiny),
        "token_param": entry.token_param,
        "extra_body": dict(entry.extra_body or {}),
        "headers": {str(k): str(v) for k, v in (entry.headers or {}).items()},
        "query": {str(k): str(v) for k, v in (entry.query or {}).items()},
    }
    endpoint = (
        _local(ctx, where, entry, common) if kind == "local" else _remote(ctx, where, kind, entry, common)
    )
    return EntryResult(name, endpoint if len(ctx.issues) == before else None, fallback, secrets)


def _pydantic_issues(ctx: _Ctx, where: str, exc: ValidationError) -> None:
    seen: set[str] = set()
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())]
        if not loc:
            continue
        field = loc[0]
        if field == "price" and len(loc) > 1 and loc[1] in ("input", "output"):
            field = f"price.{loc[1]}"
        if field in seen:
            continue
        seen.add(field)
        if error.get("type") == "extra_forbidden":
            close = difflib.get_close_matches(field, ENTRY_FIELDS, n=1)
            fix = f"did you mean {close[0]}?" if close else f"known fields: {', '.join(ENTRY_FIELDS)}"
            ctx.issue(f"{where}.{field}", "unknown field", fix)
        else:
            expected = ENTRY_EXPECTS.get(field, "another value")
            ctx.issue(f"{where}.{field}", f"is not {expected}", "fix the value (see docs/design.md §2)")


def _raw_secrets(data: dict[Any, Any]) -> tuple[str, ...]:
    return tuple(v for k, v in data.items() if k in ("api_key", "api_secret") and isinstance(v, str) and v)


def _bases(ctx: _Ctx, where: str, entry: ModelEntry) -> list[str] | None:
    """The entry's bases in order, each once (None when two spellings of the base disagree)."""
    spelled = [f for f in ("open_llm_api_base", *BASE_ALIASES) if getattr(entry, f) is not None]
    if len(spelled) > 1:
        firsts = {
            _as_list(getattr(entry, f))[0].strip().rstrip("/") for f in spelled if _as_list(getattr(entry, f))
        }
        if len(firsts) > 1:
            names = " and ".join(spelled)
            ctx.issue(where, f"{names} are both set and differ", f"keep one of {names} (they mean the same)")
            return None
    first = getattr(entry, spelled[0]) if spelled else None
    bases: list[str] = []
    seen: set[str] = set()
    for base in [*_as_list(first), *(entry.bases or [])]:
        if is_unset(base):
            continue
        base = base.strip().rstrip("/")
        if base not in seen:
            seen.add(base)
            bases.append(base)
    return bases


def _as_list(value: str | list[str] | None) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _borrowed_key(kind: str, values: Values, bases: list[str]) -> str | None:
    """config.yaml's key for `kind`, but only for an entry on the base that key was configured for."""
    key_name = KEY_OF.get(kind)
    if not key_name or values.get(key_name) is None:
        return None
    spec = spec_for(kind)
    own = values.get(spec.base_keys[0]) if spec.base_keys else None
    own_base = strip_base(kind, own or spec.default_base)
    if not own_base or any(strip_base(kind, b) != own_base for b in bases):
        return None
    return values.get(key_name)


def _remote(ctx: _Ctx, where: str, kind: str, entry: ModelEntry, common: dict[str, Any]) -> Endpoint | None:
    bases = _remote_bases(ctx, where, kind, entry)
    if bases is None:
        return None
    api_key = _remote_key(ctx, where, kind, entry, bases)
    if api_key is None and kind != "open_llm":
        return None
    model = entry.model or where.split(".", 1)[1]
    extra: dict[str, Any] = {}
    if kind == "spark":
        spark = _spark_fields(ctx, where, entry, bases[0])
        if spark is None:
            return None
        extra = spark
        model = spark["domain"] or model
    return Endpoint(
        kind=kind,  # type: ignore[arg-type]
        base_url=bases[0],
        bases=tuple(bases) if len(bases) > 1 else (),
        model=model,
        api_key=SecretStr(api_key) if api_key else None,
        json_schema=bool(entry.json_schema),
        **extra,
        **common,
    )


def _remote_bases(ctx: _Ctx, where: str, kind: str, entry: ModelEntry) -> list[str] | None:
    """The entry's bases (its own, its api_type's public base, or config.yaml's), checked as URLs."""
    bases = _bases(ctx, where, entry)
    if bases is None:
        return None
    schemes = spec_for(kind).schemes
    api_type = (entry.api_type or "").strip().lower()
    if not bases and api_type in COMPATIBLE_BASES:
        bases = [COMPATIBLE_BASES[api_type]]
    if not bases and kind == "open_llm":
        ctx.issue(
            where,
            "no open_llm_api_base",
            f'add open_llm_api_base: "http://HOST:PORT/v1" indented under {where.split(".", 1)[1]}:',
        )
        return None
    bases = [strip_base(kind, b) for b in bases or [base_for(kind, ctx.values)]]
    for base in bases:
        if not is_url(base, schemes):
            ctx.issue(
                f"{where}.open_llm_api_base",
                f"is not a {' or '.join(schemes)} URL",
                "e.g. http://127.0.0.1:8000/v1",
            )
            return None
    return bases


def _remote_key(ctx: _Ctx, where: str, kind: str, entry: ModelEntry, bases: list[str]) -> str | None:
    """The entry's key, else config.yaml's for its kind when on that key's own base; None (with an issue
    for kinds that need one) when there is none."""
    values = ctx.values
    key_name = KEY_OF[kind]
    api_key = None if is_unset(entry.api_key) else entry.api_key
    # a key goes only to the endpoint it was configured for (never OPEN_LLM_API_KEY to another host)
    api_key = api_key or _borrowed_key(kind, values, bases)
    if kind != "open_llm" and not api_key:
        own = (
            ""
            if values.get(key_name) is None
            else f" ({display(key_name)} is for {base_for(kind, values)} only)"
        )
        ctx.issue(
            where,
            f"api_type {kind} needs a key{own}",
            f"set api_key here or {display(key_name)} in config.yaml",
        )
        return None
    if kind == "zhipu" and api_key and not is_zhipu_key(api_key):
        ctx.issue(f"{where}.api_key", "is not in the form id.secret", "copy the whole Zhipu key")
        return None
    return api_key


def _spark_fields(ctx: _Ctx, where: str, entry: ModelEntry, base: str) -> dict[str, Any] | None:
    values = ctx.values
    app_id = entry.app_id or values.get("SPARK_APPID")
    secret = entry.api_secret or values.get("SPARK_API_SECRET")
    if not app_id or not secret:
        pairs = (("app_id/SPARK_APPID", app_id), ("api_secret/SPARK_API_SECRET", secret))
        missing = " and ".join(n for n, v in pairs if not v)
        ctx.issue(where, f"api_type spark needs {missing}", "set it here or in config.yaml")
        return None
    domain, issue = spark_domain_issue(base, entry.domain or entry.model, ctx.label, f"{where}.domain")
    if issue is not None:
        ctx.issues.append(issue)
        return None
    return {"app_id": app_id, "api_secret": SecretStr(secret), "domain": domain}


def _local(ctx: _Ctx, where: str, entry: ModelEntry, common: dict[str, Any]) -> Endpoint | None:
    if not entry.gguf:
        ctx.issue(
            f"{where}.gguf",
            "api_type local needs a gguf file",
            f"set gguf: {BUNDLED_MODEL} or a path to a .gguf file",
        )
        return None
    bundled = entry.gguf.strip().lower() == BUNDLED_MODEL
    ok = True
    path: Path | None
    if bundled:
        path = ctx.support.bundled_gguf
        if path is None:
            ctx.issue(f"{where}.gguf", f"the bundled {BUNDLED_MODEL} is not installed", BUNDLED_INSTALL_HINT)
            ok = False
    else:
        path = Path(entry.gguf).expanduser()
        if not path.is_absolute() and ctx.config_dir is not None:
            path = ctx.config_dir / path
        if not path.is_file():
            ctx.issue(
                f"{where}.gguf",
                f"file not found: {path}",
                "give the path of a .gguf file (relative to the config folder)",
            )
            ok = False
    if not ctx.support.has_xllamacpp:
        ctx.issue(where, "api_type local needs xllamacpp, which is not installed", LOCAL_INSTALL_HINT)
        ok = False
    if not ok or path is None:
        return None
    common = {**common, "tiny": bool(entry.tiny) if entry.tiny is not None else bundled}
    return Endpoint(
        kind="local",
        base_url=local_base_url(path),
        model=entry.model or common["llm"],
        gguf=str(path),
        n_ctx=entry.n_ctx,
        threads=entry.threads,
        json_schema=entry.json_schema if entry.json_schema is not None else True,
        **common,
    )
