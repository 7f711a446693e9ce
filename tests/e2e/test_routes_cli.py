"""`polyteam routes` and `polyteam check` as subprocesses: --json shape, table, exit status 2, --ping."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from _support import run_polyteam as polyteam  # checks stdout and stderr for canary secrets

from canary import ANTHROPIC_API_KEY, OPEN_LLM_API_KEY, OPENAI_API_KEY, ZHIPUAI_API_KEY
from polyteam.providers.openai_spec import OPENAI as OPENAI_SPEC
from polyteam.providers.zhipu_spec import ZHIPU as ZHIPU_SPEC

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FIFTH = EXAMPLES / "providers-and-open-models"


def test_routes_json_on_the_seed_fifth_example() -> None:
    done = polyteam("routes", "--config-dir", str(FIFTH), "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert list(document) == ["routing", "default", "routes"]
    assert document["routing"] == "on"
    assert document["default"].pop("price")["source"].startswith("genai-prices ")  # issue 11
    assert document["default"] == {
        "llm": "openai",
        "provider": "openai",
        "model": OPENAI_SPEC.default_model,
        "base_url": "https://api.openai.com/v1",
    }
    by_action = {r["action"]: r for r in document["routes"]}
    for route in document["routes"]:
        assert list(route) == ["role", "action", "llm", "provider", "model", "base_url", "source", "price"]
        assert route.pop("price")["source"]  # issue 11: every route shows its price and source
    expected = {
        "WritePRD": ("ProductManager", "deepseek-llm-67b-chat", "http://0.0.0.0:12345/v1"),
        "WriteDesign": ("Architect", "Llama-2-13b-chat-hf", "http://0.0.0.0:12346/v1"),
        "WriteTasks": ("ProjectManager", "baichuan2-13b", "http://0.0.0.0:12347/v1"),
        "WriteCode": ("Engineer", "chatglm3-6b", "http://0.0.0.0:12348/v1"),
    }
    for action, (role, model, base) in expected.items():
        assert by_action[action] == {
            "role": role, "action": action, "llm": model, "provider": "open_llm",
            "model": model, "base_url": base, "source": "action",
        }  # fmt: skip
    assert by_action["WriteCodeReview"] == {
        "role": "Engineer", "action": "WriteCodeReview", "llm": "zhipu", "provider": "zhipu",
        "model": ZHIPU_SPEC.default_model, "base_url": "https://open.bigmodel.cn/api/paas/v4", "source": "role",
    }  # fmt: skip
    assert by_action["WriteTest"]["source"] == "default"
    config = (FIFTH / "config.yaml").read_text()
    for secret in (
        "sk-example-not-a-real-key-0000",
        "ExampleSparkApiSecretNotReal0000",
        "ExampleZhipuSecret",
    ):
        assert secret in config and secret not in done.stdout


def test_routes_table_shows_every_pair_and_why() -> None:
    done = polyteam("routes", "--config-dir", str(FIFTH))
    assert done.returncode == 0, done.stderr
    for text in (
        "WritePRD",
        "WriteCodeReview",
        "deepseek-llm-67b-chat",
        "http://0.0.0.0:12348/v1",
        "role",
        "action",
    ):
        assert text in done.stdout
    assert "sk-example" not in done.stdout


def test_environment_overrides_in_a_real_run(tmp_path: Path) -> None:
    done = polyteam(
        "routes",
        "--json",
        cwd=tmp_path,
        env={"OPENAI_API_KEY": OPENAI_API_KEY, "OPENAI_API_MODEL": "gpt-4.1"},
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["routing"] == "off"
    assert (document["default"]["llm"], document["default"]["model"]) == ("openai", "gpt-4.1")
    assert OPENAI_API_KEY not in done.stdout + done.stderr


def test_config_folder_in_the_working_directory_is_found(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(f'Anthropic_API_KEY: "{ANTHROPIC_API_KEY}"\n')
    done = polyteam("routes", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["default"]["provider"] == "claude"


def test_check_ok() -> None:
    done = polyteam("check", "--config-dir", str(FIFTH))
    assert (done.returncode, done.stdout, done.stderr) == (0, "ok\n", "")


def test_check_reports_every_error_with_exit_status_2(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(f'OPENAI_API_KEY: "{OPENAI_API_KEY}"\nMAX_BUDGET: lots\n')
    (tmp_path / "multi_llm_config.yaml").write_text(
        "WritePDR: openai\nArchitect: claude\nWriteCode: nosuch\nMODEL_LIST:\n  x:\n    model: m\n"
    )
    done = polyteam("check", "--config-dir", str(tmp_path))
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert "Traceback" not in done.stderr and OPENAI_API_KEY not in done.stderr
    assert len(lines) == 5, lines
    multi, config = str(tmp_path / "multi_llm_config.yaml"), str(tmp_path / "config.yaml")
    assert f"{config}: MAX_BUDGET: is not a number of USD > 0; set MAX_BUDGET to a number of USD > 0" in lines
    assert f"{multi}: WritePDR: unknown Action name; did you mean WritePRD?" in lines
    assert any(
        ln.startswith(f"{multi}: Architect: routes to claude, but Anthropic_API_KEY is not set")
        for ln in lines
    )
    assert any(
        ln.startswith(f"{multi}: WriteCode: nosuch is neither a provider nor in MODEL_LIST") for ln in lines
    )
    assert any(ln.startswith(f"{multi}: MODEL_LIST.x: no open_llm_api_base") for ln in lines)


def test_yaml_error_exit_status_2_with_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "multi_llm_config.yaml").write_text('WritePRD: "openai\n')
    for command in ("check", "routes"):
        done = polyteam(command, "--config-dir", str(tmp_path))
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert "multi_llm_config.yaml: YAML does not parse at line" in done.stderr
        assert "column" in done.stderr


def test_nothing_configured_exit_status_2(tmp_path: Path) -> None:
    # the bundled model would be the default if installed: hide it by claiming nothing but an incomplete spark
    (tmp_path / "config.yaml").write_text('SPARK_APPID: "ab12cd34"\n')
    done = polyteam("check", "--config-dir", str(tmp_path))
    assert done.returncode == 2
    assert "spark is missing SPARK_API_KEY and SPARK_API_SECRET" in done.stderr
    assert "OPENAI_API_KEY" in done.stderr


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_check_ping_reaches_every_routed_endpoint(tmp_path: Path, make_emulator) -> None:
    emu = make_emulator()
    (tmp_path / "config.yaml").write_text(
        f'OPENAI_API_KEY: "{OPENAI_API_KEY}"\nOPENAI_API_BASE: "{emu.base_url}/v1"\n'
        f'ZHIPUAI_API_KEY: "{ZHIPUAI_API_KEY}"\nZHIPUAI_API_BASE: "{emu.base_url}/api/paas/v4"\n'
    )
    (tmp_path / "multi_llm_config.yaml").write_text(
        f'Engineer: zhipu\nWritePRD: llama\nMODEL_LIST:\n  llama:\n    open_llm_api_base: "{emu.base_url}/llama/v1"\n'
        f'    api_key: "{OPEN_LLM_API_KEY}"\n'
    )
    done = polyteam("check", "--ping", "--config-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "ok"
    assert sorted(ln.split()[1] for ln in lines[:-1]) == ["llama", "openai", "zhipu"]
    assert all(ln.startswith("ok ") for ln in lines[:-1])
    assert sorted(r["protocol"] for r in emu.requests) == ["openai", "openai", "zhipu"]
    assert OPENAI_API_KEY not in done.stdout


def test_check_ping_fails_on_an_unreachable_endpoint(tmp_path: Path, make_emulator) -> None:
    emu = make_emulator()
    port = _closed_port()
    (tmp_path / "config.yaml").write_text(
        f'OPENAI_API_KEY: "{OPENAI_API_KEY}"\nOPENAI_API_BASE: "{emu.base_url}/v1"\n'
    )
    (tmp_path / "multi_llm_config.yaml").write_text(
        f'WriteCode: gone\nMODEL_LIST:\n  gone:\n    open_llm_api_base: "http://127.0.0.1:{port}/v1"\n    fallback: [openai]\n'
    )
    done = polyteam("check", "--ping", "--config-dir", str(tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    fail = [ln for ln in done.stdout.splitlines() if ln.startswith("FAIL")]
    assert len(fail) == 1 and " gone " in fail[0] and f"127.0.0.1:{port}" in fail[0]
    assert any(ln.startswith("ok") and " openai " in ln for ln in done.stdout.splitlines())


@pytest.mark.parametrize("command", ["routes", "check"])
def test_help_mentions_config_dir(command: str) -> None:
    done = polyteam(command, "--help")
    assert done.returncode == 0 and "--config-dir" in done.stdout
