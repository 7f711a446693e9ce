"""Units of the emulator: fault spec parsing and picking, text shaping, request-log overlap."""

from __future__ import annotations

import json

import pytest
from _emu_log import LOG_FIELDS

from polyteam.emulator.faults import FaultPlan, FaultSpecError, parse_faults
from polyteam.emulator.registry import resolve_responder
from polyteam.emulator.requestlog import RequestLog, max_overlap
from polyteam.emulator.responders import ChatRequest, ScriptedResponder, echo
from polyteam.emulator.texts import corrupt, cut_to_max_tokens, estimate_tokens, split_chunks


def test_parse_defaults_counts_matches_and_aliases():
    rules = parse_faults("429, 500:3@openai ,truncate:*@WriteCode, ws-close:2, 503:25%@glm-4")
    assert [(r.kind, r.remaining, r.match) for r in rules] == [
        ("429", 1, None),
        ("500", 3, "openai"),
        ("truncate", None, "WriteCode"),
        ("wsclose", 2, None),
        ("503", None, "glm-4"),
    ]
    assert rules[4].probability == pytest.approx(0.25)
    assert parse_faults(None) == [] and parse_faults("  ") == []


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("boom", "unknown kind 'boom'"),
        ("429:0", "bad COUNT"),
        ("429:x", "bad COUNT"),
        ("500@", "empty MATCH"),
        ("500:0%", "bad percentage"),
        ("500:150%", "bad percentage"),
    ],
)
def test_parse_errors_name_the_rule_and_the_fix(spec, needle):
    with pytest.raises(FaultSpecError) as info:
        parse_faults(spec)
    assert needle in str(info.value) and str(info.value).startswith("--faults: rule")


def test_rules_apply_in_order_and_counts_run_out():
    plan = FaultPlan.coerce("429:2,500")
    picks = [plan.pick("openai", "m", None) for _ in range(5)]
    assert picks == ["429", "429", "500", None, None]
    assert plan.spec() == ""


def test_match_by_protocol_model_or_tag_prefix():
    plan = FaultPlan.coerce("quota:*@spark,500:*@glm-4,timeout:*@WriteCode")
    assert plan.pick("openai", "gpt-4o", None) is None
    assert plan.pick("spark", "generalv3.5", None) == "quota"
    assert plan.pick("zhipu", "glm-4", None) == "500"
    assert plan.pick("zhipu", "glm-4-flash", None) is None  # a model name matches exactly
    assert plan.pick("openai", "m", "WriteCode:main.py") == "timeout"
    assert plan.pick("openai", "m", "WritePRD") is None


def test_only_consumes_the_first_applicable_rule_when_its_kind_is_allowed():
    plan = FaultPlan.coerce("429,auth")
    assert plan.pick("spark", "d", None, only=frozenset({"auth"})) is None  # 429 comes first
    assert plan.pick("spark", "d", None) == "429"
    assert plan.pick("spark", "d", None, only=frozenset({"auth"})) == "auth"
    assert plan.pick("spark", "d", None) is None


def test_percentage_rules_are_seeded_and_roughly_right():
    first = FaultPlan.coerce("500:30%", seed=7)
    second = FaultPlan.coerce("500:30%", seed=7)
    a = [first.pick("openai", "m", None) for _ in range(400)]
    b = [second.pick("openai", "m", None) for _ in range(400)]
    assert a == b
    assert 80 < a.count("500") < 160


def test_corrupt_breaks_json_and_cuts_prose():
    text = json.dumps({"a": 1, "b": [1, 2]})
    broken = corrupt(text)
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken)
    assert broken.rstrip().endswith(",") and broken.startswith('{"a": 1')
    assert corrupt("abcdefgh") == "abcd"


def test_tokens_chunks_and_max_tokens():
    assert estimate_tokens("") == 0 and estimate_tokens("abcd") == 1 and estimate_tokens("abcde") == 2
    text = "the quick brown fox jumps over the lazy dog " * 5
    chunks = split_chunks(text, 24)
    assert "".join(chunks) == text and len(chunks) > 5 and all(len(c) <= 24 for c in chunks)
    cut, was_cut = cut_to_max_tokens(text, 3)
    assert was_cut and cut == text[:12]
    assert cut_to_max_tokens("short", 100) == ("short", False)


def test_max_overlap_counts_concurrency_per_model():
    records = [
        {"ts_start": 0.0, "ts_end": 2.0, "model": "a"},
        {"ts_start": 1.0, "ts_end": 3.0, "model": "a"},
        {"ts_start": 1.5, "ts_end": 1.6, "model": "b"},
        {"ts_start": 3.0, "ts_end": 4.0, "model": "a"},  # starts as the second ends: no overlap
    ]
    assert max_overlap(records) == 3
    assert max_overlap(records, "a") == 2
    assert max_overlap(records, "b") == 1


def test_request_log_writes_json_lines(tmp_path):
    log = RequestLog(tmp_path / "sub" / "log.jsonl")
    record = log.begin("openai", "/v1/chat/completions")
    assert log.in_flight == 1
    record.model, record.status = "m", 200
    log.end(record)
    log.close()
    (line,) = (tmp_path / "sub" / "log.jsonl").read_text().splitlines()
    data = json.loads(line)
    assert list(data) == list(LOG_FIELDS)
    assert data["ts_end"] >= data["ts_start"] and log.in_flight == 0 and log.records == [data]


def test_echo_and_scripted_responders(tmp_path):
    req = ChatRequest(
        "openai", "m", [{"role": "system", "content": "s"}, {"role": "user", "content": "hello  there"}]
    )
    assert echo(req).text == "echo: hello there"
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "- {model: m, pattern: 'hel+o', reply: 'HI', tag: greet}\n- {pattern: bye, reply: BYE}\n"
    )
    scripted = resolve_responder(str(rules))
    assert scripted(req).text == "HI" and scripted(req).tag == "greet"
    other = ChatRequest("openai", "x", [{"role": "user", "content": "hello"}])
    assert scripted(other).text.startswith("echo:")
    with pytest.raises(ValueError, match="unknown responder"):
        resolve_responder("nope")
    with pytest.raises(ValueError, match="reply"):
        ScriptedResponder([{"pattern": "x"}])
