"""Model-derived text on a terminal: escapes, bidi overrides and zero-width characters are shown, not obeyed."""

from __future__ import annotations

import pytest
from rich.console import Console

from polyteam.progress import LiveProgress, PlainProgress, describe
from polyteam.team.message import RunEvent
from polyteam.terminal import printable

HOSTILE = "a\x1b]0;pwned\x07\x1b[2J\u202egnp\u200b\x7f\x85\u2028.py"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text\nwith a newline\tand a tab", "plain text\nwith a newline\tand a tab"),
        ("\x1b[2J", "\\x1b[2J"),
        ("main\u202egnp.py", "main\\u202egnp.py"),
        ("ma\u200bin", "ma\\u200bin"),
        ("é ü 中文", "é ü 中文"),
    ],
)
def test_printable_escapes_what_a_terminal_would_obey(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_printable_leaves_no_control_or_format_character() -> None:
    import unicodedata

    out = printable(HOSTILE, keep_newlines=False)
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp") for c in out)


def test_the_display_never_passes_an_escape_on() -> None:
    event = RunEvent(
        kind="start", role="Engineer", action="WriteCode", key=f"WriteCode:{HOSTILE}", llm="x[bold]y"
    )
    assert "\x1b" not in (describe(event) or "")
    console = Console(record=True, width=120, force_terminal=False)
    live = LiveProgress(console)
    live(event)
    live(RunEvent(kind="skipped", role="Engineer", detail=HOSTILE))
    console.print(live.render())
    PlainProgress(console)(RunEvent(kind="note", role="Engineer", detail=HOSTILE))
    text = console.export_text(styles=False)
    assert "\x1b" not in text and "\u202e" not in text and "x[bold]y" in text


def test_json_printable_is_the_same_json_without_a_raw_control() -> None:
    import json

    from polyteam.terminal import json_printable

    doc = {"text": HOSTILE + " 中文 \U0001f600", "n": 1}
    out = json_printable(json.dumps(doc, ensure_ascii=False))
    assert json.loads(out) == doc
    assert "中文" in out and not any(c in out for c in "\x1b\x7f\x85\u202e\u200b\u2028")
