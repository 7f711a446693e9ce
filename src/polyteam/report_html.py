"""The cost report as one self-contained HTML page (`polyteam report --html FILE`).

Owns only the rendering: inline CSS, inline SVG bar charts (cost by Role and by model) and the
tables. No scripts, no fonts, nothing fetched from the network. Every value is HTML-escaped;
the numbers come from `polyteam.report.build_report`.
"""

from __future__ import annotations

from html import escape
from typing import Any

from polyteam.report import format_usd as _usd
from polyteam.report import summary_lines

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:24px;
color:#1d2330;background:#f6f7fb}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.sub{color:#5b6375;font-size:13px;margin-bottom:16px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid #dde1ea;border-radius:8px;padding:12px 16px;min-width:150px}
.card b{display:block;font-size:20px;margin-top:4px}.card span{color:#5b6375;font-size:12px}
.save b{color:#137a3a}.extra b{color:#b3261e}.warn{background:#fff4e0;border:1px solid #f0b96b;border-radius:8px;padding:10px 14px;
margin-top:14px}
.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{background:#fff;border:1px solid #dde1ea;
border-radius:8px;padding:10px}
table{border-collapse:collapse;background:#fff;font-size:13px;margin-bottom:8px}
th,td{border:1px solid #dde1ea;padding:5px 9px;text-align:right}th{background:#eef1f7}
td.l,th.l{text-align:left}ul{font-size:13px}
"""

_COLORS = ("#3867d6", "#20bf6b", "#f7b731", "#eb3b5a", "#8854d0", "#0fb9b1", "#fa8231", "#4b6584")


def bar_chart_svg(title: str, items: list[tuple[str, float]], width: int = 440) -> str:
    """A horizontal bar chart as inline SVG: one labelled bar per (label, USD) item."""
    bar_h, gap, label_w, top = 22, 8, 150, 30
    height = top + len(items) * (bar_h + gap) + 10
    biggest = max((v for _, v in items), default=0.0) or 1.0
    parts = [
        f'<svg width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="18" font-size="14" font-weight="bold" fill="#1d2330">{escape(title)}</text>',
    ]
    span = width - label_w - 90
    for i, (label, value) in enumerate(items):
        y = top + i * (bar_h + gap)
        w = max(2.0, span * value / biggest) if value > 0 else 0.0
        short = label if len(label) <= 22 else label[:21] + "…"
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12" fill="#1d2330">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="3" '
            f'fill="{_COLORS[i % len(_COLORS)]}"><title>{escape(label)}: {_usd(value)}</title></rect>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="12" fill="#1d2330">{_usd(value)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(rows: list[dict[str, Any]], label_fields: tuple[str, ...]) -> str:
    head = "".join(f'<th class="l">{escape(f)}</th>' for f in label_fields)
    head += "".join(
        f"<th>{c}</th>"
        for c in ("calls", "failed", "input tokens", "output tokens", "cost USD", "latency s", "mean s")
    )
    body = []
    for g in rows:
        label = [escape(str(g[f])) for f in label_fields]
        if g.get("unpriced"):
            label[-1] += " <b>(unpriced)</b>"
        cells = "".join(f'<td class="l">{c}</td>' for c in label)
        cells += (
            f"<td>{g['calls']}</td><td>{g['failed']}</td><td>{g['input_tokens']:,}</td>"
            f"<td>{g['output_tokens']:,}</td><td>{g['cost_usd']:.6f}</td><td>{g['latency_s']:.2f}</td>"
            f"<td>{g['mean_latency_s']:.2f}</td>"
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(report: dict[str, Any]) -> str:
    """The whole report as one HTML document (no external resources)."""
    t, cf = report["totals"], report["counterfactual"]
    cards = [
        ("total cost", _usd(t["cost_usd"]), ""),
        ("LLM calls", f"{t['calls']} ({t['failed']} failed)", ""),
        ("tokens in / out", f"{t['input_tokens']:,} / {t['output_tokens']:,}", ""),
        ("retries / fallbacks", f"{report['retries']} / {report['fallbacks']}", ""),
    ]
    flight = report.get("in_flight_at_stop") or {}
    if flight.get("calls"):
        cards.append(
            ("in flight at stop", f"{flight['calls']} ({_usd(flight['reserved_usd'])} reserved)", "extra")
        )
    if report.get("repairs") is not None or report.get("reasks") is not None:
        cards.append(("repairs / re-asks", f"{report.get('repairs') or 0} / {report.get('reasks') or 0}", ""))
    if cf.get("available"):
        cards.append((f"all on {cf['model']}", _usd(cf["cost_usd"]), ""))
        if cf["saving_usd"] >= 0:
            cards.append(("saved by routing", _usd(cf["saving_usd"]), "save"))
        else:  # the routing chose dearer models than the default: say so, not "saved $-x"
            cards.append(("extra cost of routing", _usd(-cf["saving_usd"]), "extra"))
    card_html = "".join(
        f'<div class="card {cls}"><span>{escape(k)}</span><b>{escape(v)}</b></div>' for k, v, cls in cards
    )
    warn = ""
    if report["unpriced"]:
        names = ", ".join(escape(u["model"]) for u in report["unpriced"])
        warn = (
            f'<div class="warn"><b>Unpriced models</b> (counted as $0): {names}. Add <code>price:</code> '
            "to the MODEL_LIST entry or a <code>PRICES:</code> entry in config.yaml.</div>"
        )
    charts = (
        '<div class="charts"><div class="chart">'
        + bar_chart_svg("Cost by Role", [(g["role"], g["cost_usd"]) for g in report["by_role"]])
        + '</div><div class="chart">'
        + bar_chart_svg("Cost by model", [(f"{g['model']}", g["cost_usd"]) for g in report["by_model"]])
        + "</div></div>"
    )
    summary = "".join(f"<li>{escape(line)}</li>" for line in summary_lines(report))
    sources = ", ".join(escape(s) for s in report.get("price_sources") or [])
    as_of = (f"price sources: {sources}; " if sources else "") + "; ".join(
        f"{escape(k)}: {escape(str(v))}" for k, v in (report.get("prices_as_of") or {}).items()
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>polyteam cost report</title><style>{_CSS}</style></head><body>"
        f'<h1>polyteam cost report</h1><div class="sub">{escape(report["project"])}</div>'
        f'<div class="cards">{card_html}</div>{warn}'
        f"<h2>Charts</h2>{charts}"
        f"<h2>Summary</h2><ul>{summary}</ul>"
        f"<h2>By Role</h2>{_table(report['by_role'], ('role',))}"
        f"<h2>By Action</h2>{_table(report['by_action'], ('action',))}"
        f"<h2>By model</h2>{_table(report['by_model'], ('llm', 'provider', 'model'))}"
        f'<div class="sub">Prices in USD per million tokens, as of: {as_of}</div>'
        "</body></html>\n"
    )
