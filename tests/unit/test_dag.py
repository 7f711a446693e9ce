"""The Engineer's dependency plan: layers, cycles and unknown files never fail a run."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from polyteam.team.dag import normalize_file, plan_files


def test_layers_follow_dependencies_and_independent_files_share_a_layer() -> None:
    plan = plan_files(
        ["models.py", "storage.py", "utils.py", "main.py"],
        {"storage.py": ["models.py"], "main.py": ["storage.py", "utils.py"], "models.py": [], "utils.py": []},
    )
    assert plan.layers == (("models.py", "utils.py"), ("storage.py",), ("main.py",))
    assert plan.deps["main.py"] == ("storage.py", "utils.py")
    assert plan.deps["utils.py"] == ()
    assert plan.dropped == ()


def test_task_order_is_not_trusted_over_declared_dependencies() -> None:
    # main.py is listed first but depends on util.py: it still waits for util.py
    plan = plan_files(["main.py", "util.py"], {"main.py": ["util.py"]})
    assert plan.deps["main.py"] == ("util.py",)
    assert plan.layers == (("util.py",), ("main.py",))


def test_cycle_is_broken_by_task_order_and_reported() -> None:
    plan = plan_files(["a.py", "b.py", "c.py"], {"a.py": ["c.py"], "b.py": ["a.py"], "c.py": ["b.py"]})
    # inside the cycle only edges to earlier tasks survive: b->a, c->b
    assert plan.deps == {"a.py": (), "b.py": ("a.py",), "c.py": ("b.py",)}
    assert plan.layers == (("a.py",), ("b.py",), ("c.py",))
    assert any("cycle" in line and "a.py" in line for line in plan.dropped)


def test_two_file_cycle_and_self_dependency() -> None:
    plan = plan_files(["x.py", "y.py"], {"x.py": ["y.py", "x.py"], "y.py": ["x.py"]})
    assert plan.deps == {"x.py": (), "y.py": ("x.py",)}
    assert any("itself" in line for line in plan.dropped)


def test_unknown_dependency_is_dropped_and_extra_files_are_planned() -> None:
    plan = plan_files(["main.py"], {"main.py": ["missing.py", "./helpers.py"]}, extra_files=["helpers.py"])
    assert plan.files == ("main.py", "helpers.py")
    assert plan.deps["main.py"] == ("helpers.py",)
    assert any("missing.py" in line and "not in the task list" in line for line in plan.dropped)


def test_file_names_are_normalised_before_matching() -> None:
    assert normalize_file(" ./pkg\\mod.py ") == "pkg/mod.py"
    assert normalize_file("`a//b.py`") == "a/b.py"
    plan = plan_files(["./pkg/a.py", "pkg/b.py"], {"pkg/b.py": ["pkg\\a.py"], "./pkg/a.py": []})
    assert plan.files == ("pkg/a.py", "pkg/b.py")
    assert plan.deps["pkg/b.py"] == ("pkg/a.py",)


def test_files_only_in_logic_analysis_are_kept() -> None:
    plan = plan_files([], {"a.py": [], "b.py": ["a.py"]})
    assert plan.files == ("a.py", "b.py")
    assert plan.layers == (("a.py",), ("b.py",))


names = st.sampled_from([f"f{i}.py" for i in range(8)])


@given(st.lists(names, unique=True, min_size=1), st.dictionaries(names, st.lists(names, max_size=5)))
def test_any_input_gives_an_acyclic_plan_over_every_file(
    order: list[str], deps: dict[str, list[str]]
) -> None:
    plan = plan_files(order, deps)
    layer_of = {f: i for i, layer in enumerate(plan.layers) for f in layer}
    assert set(layer_of) == set(plan.files)
    assert sum(len(layer) for layer in plan.layers) == len(plan.files)
    for f, ds in plan.deps.items():
        for d in ds:
            assert layer_of[d] < layer_of[f]  # every dependency is written in an earlier layer


def test_normalising_never_turns_an_absolute_name_into_a_relative_one() -> None:
    assert normalize_file("/etc/x") == "/etc/x"
    assert normalize_file("//etc//x") == "/etc/x"
    assert normalize_file("../../x.py") == "../../x.py"
