"""polyteam.budget and the ledger's validation: a valid cap, which cap applies, every route priced."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from polyteam.budget import check_prices, checked_budget, resolve_budget, unpriced_routes
from polyteam.cost import CostMeter
from polyteam.errors import ConfigError, UsageError
from polyteam.ledger import read_ledger
from polyteam.providers.base import Endpoint, Price


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), 0, 0.0, -1, -0.5, "1", True])
def test_a_budget_is_a_finite_amount_above_zero(bad: object) -> None:
    with pytest.raises(UsageError) as info:
        checked_budget(bad)
    assert info.value.issue.key == "--budget" and "\n" not in str(info.value)
    with pytest.raises(ConfigError):
        checked_budget(bad, "MAX_BUDGET", "config.yaml")
    with pytest.raises(ConfigError):
        CostMeter(Path("/nonexistent-never-created"), None, None, bad)  # type: ignore[arg-type]


def test_resume_keeps_the_saved_budget_unless_one_is_given() -> None:
    assert resolve_budget(None, 0.5, 9.0) == (0.5, "saved")
    assert resolve_budget(2.0, 0.5, 9.0) == (2.0, "--budget")
    assert resolve_budget(None, None, 9.0) == (9.0, "MAX_BUDGET")
    assert resolve_budget(None, None, None) == (None, "")
    with pytest.raises(ConfigError):  # a hand-edited state cannot switch the cap off
        resolve_budget(None, float("nan"), None)


class Router:
    def __init__(self, endpoints: dict[str, Endpoint], routes: dict[str, str]) -> None:
        self.endpoints, self.routes = endpoints, routes

    def all_routes(self) -> list[SimpleNamespace]:
        return [
            SimpleNamespace(role="Engineer", action=a, llm=llm, endpoint=self.endpoints[llm])
            for a, llm in self.routes.items()
        ]

    def endpoint(self, llm: str) -> Endpoint:
        return self.endpoints[llm]


DEEPSEEK = Endpoint(llm="ds", kind="open_llm", base_url="https://api.deepseek.com/v1", model="deepseek-chat")
QWEN = Endpoint(llm="qwen", kind="open_llm", base_url="https://dashscope.aliyuncs.com/v1", model="qwen-max")
LOCAL = Endpoint(
    llm="llama", kind="open_llm", base_url="http://127.0.0.1:8000/v1", model="llama", fallback=("qwen",)
)


def test_an_unpriced_route_or_fallback_under_a_budget_is_one_line_per_llm() -> None:
    router = Router(
        {"ds": DEEPSEEK, "qwen": QWEN, "llama": LOCAL}, {"WriteCode": "qwen", "WritePRD": "llama"}
    )
    settings = SimpleNamespace(router=router, prices={})
    assert [(a, e.llm) for a, e in unpriced_routes(router, {})] == [("WriteCode, WritePRD", "qwen")]
    with pytest.raises(ConfigError) as info:
        check_prices(settings, 1.0)
    assert [str(i) for i in info.value.issues] == [
        "multi_llm_config.yaml: WriteCode, WritePRD: routes to qwen-max at dashscope.aliyuncs.com, which has "
        "no known price; add price: {input: …, output: …} under MODEL_LIST.qwen, or run without a budget"
    ]
    warning = check_prices(settings, None)
    assert warning is not None and "qwen-max at dashscope.aliyuncs.com" in warning and "\n" not in warning
    priced = SimpleNamespace(router=router, prices={"qwen-max": Price(1.6, 6.4)})
    assert check_prices(priced, 1.0) is None
    assert (
        check_prices(SimpleNamespace(router=Router({"ds": DEEPSEEK}, {"WriteCode": "ds"}), prices={}), 1.0)
        is None
    )


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ({"ok": True, "input_tokens": "12", "output_tokens": 1, "cost_usd": 0.1}, "input_tokens"),
        ({"ok": True, "input_tokens": 1, "output_tokens": 1, "cost_usd": -9000}, "cost_usd"),
        ({"ok": "yes", "input_tokens": 1, "output_tokens": 1, "cost_usd": 0.1}, "ok"),
        ({"ok": True, "input_tokens": 1, "output_tokens": 1}, "cost_usd"),
        ({"event": "started", "attempt_id": "a", "reserved_usd": "lots"}, "reserved_usd"),
    ],
)
def test_a_wrong_typed_ledger_line_is_one_config_issue(tmp_path: Path, line: dict, key: str) -> None:
    ledger = tmp_path / "ledger.jsonl"
    good = {"ok": True, "input_tokens": 1, "output_tokens": 1, "cost_usd": 0.1}
    ledger.write_text(json.dumps(good) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(ConfigError) as info:
        read_ledger(ledger)
    (issue,) = info.value.issues
    assert issue.file == f"{ledger}:2" and issue.key == key and "\n" not in str(issue)
