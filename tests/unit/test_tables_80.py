"""`report` and `routes` tables fit an 80-column terminal without cutting names into the same stub."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from polyteam.commands.routes import route_tables
from polyteam.report import rich_tables


def _group(**label: Any) -> dict[str, Any]:
    numbers = {"calls": 12, "failed": 1, "input_tokens": 123_456, "output_tokens": 45_678,
               "cost_usd": 0.123456, "latency_s": 123.45, "mean_latency_s": 10.29, "unpriced": False}  # fmt: skip
    return {**numbers, **label}


def _render(tables: list[Any], width: int = 80) -> str:
    console = Console(record=True, width=width)
    for table in tables:
        console.print(table)
    return console.export_text()


def test_report_tables_fit_80_columns_and_keep_every_name_whole() -> None:
    report = {
        "by_role": [_group(role=r) for r in ("ProductManager", "Engineer")],
        "by_action": [_group(action=a) for a in ("WriteCode", "WriteCodeReview", "WritePRD")],
        "by_model": [
            _group(llm="claude", provider="claude", model="claude-3-5-haiku-20241022", unpriced=True),
            _group(llm="coder-7b", provider="open_llm", model="coder-7b"),
        ],
    }
    text = _render(rich_tables(report))
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    assert " WriteCodeReview " in text and " WriteCode " in text
    assert "claude-3-5-haiku-20241022" in text and "123,456" in text and "0.123456" in text


def test_routes_fit_80_columns_in_two_tables_and_one_when_wide() -> None:
    route = {
        "provider": "zhipu",
        "model": "glm-4-flash-250414",
        "base_url": "https://open.bigmodel.cn/api/paas/v4",
    }
    document = {
        "routes": [
            {"role": "ProductManager", "action": "WritePRD", "llm": "zhipu", "source": "role", **route},
            {"role": "Engineer", "action": "WriteCodeReview", "llm": "coder-7b-instruct", "source": "action",
             "provider": "open_llm", "model": "coder-7b-instruct", "base_url": "http://127.0.0.1:12346/v1"},
        ]
    }  # fmt: skip
    fallbacks = {"coder-7b-instruct": ("zhipu",)}
    narrow = route_tables(document, fallbacks, 80)
    text = _render(narrow)
    assert len(narrow) == 2 and max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text and "WriteCodeReview" in text and "coder-7b-instruct -> zhipu" in text
    assert "https://open.bigmodel.cn/api/paas/v4" in text.replace("│", "").replace(" ", "").replace("\n", "")
    assert len(route_tables(document, fallbacks, 250)) == 1
