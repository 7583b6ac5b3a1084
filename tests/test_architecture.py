"""The kit's shape (ARCHITECTURE.md): layers import only downward, no import cycles, and a stitching method or a
learner is its own module plus one line in stitchkit/plugins.py."""

import ast
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

PACKAGE = ROOT / "stitchkit"
# lowest first; a module may import its own layer and the layers below it, never above
LAYERS = {
    "core": [
        "stitchkit",
        "stitchkit.profiles",
        "stitchkit.paths",
        "stitchkit.files",
        "stitchkit.device",
        "stitchkit.seeding",
        "stitchkit.gl",
        "stitchkit.envs",
        "stitchkit.env_pool",
        "stitchkit.oracle",
        "stitchkit.render",
        "stitchkit.toy",
        "stitchkit.tabular",
        "stitchkit.exercises",
        "stitchkit.options",
        "stitchkit.plugins",
    ],
    "data": ["stitchkit.data"],
    "models": ["stitchkit.nets", "stitchkit.tsidm", "stitchkit.algos", "stitchkit.evaluate"],
    "augment": ["stitchkit.augment"],
    "train": [
        "stitchkit.train",
        "stitchkit.runner",
        "stitchkit.bench",
        "stitchkit.campaign",
        "stitchkit.parity",
        "stitchkit.bridge_search",
        "stitchkit.capacity_sweep",
        "stitchkit.course",
        "stitchkit.stats",
        "stitchkit.report",
        "stitchkit.report_check",
    ],
    "top": ["stitchkit.cli", "stitchkit.__main__", "stitchkit.viewer", "stitchkit.slider"],
}
RANK = {name: i for i, name in enumerate(LAYERS)}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    best = max((p for ps in LAYERS.values() for p in ps if module == p or module.startswith(p + ".")), key=len)
    return next(layer for layer, ps in LAYERS.items() if best in ps)


def is_module(name: str) -> bool:
    base = ROOT / Path(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def imports(path: Path) -> set[str]:
    """Every stitchkit module ``path`` imports, at the top or inside functions (``from pkg import submodule``
    counts as the submodule)."""
    mod, out = module_name(path), set()
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "stitchkit"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            if base.split(".")[0] != "stitchkit":
                continue
            subs = {f"{base}.{a.name}" for a in node.names if is_module(f"{base}.{a.name}")}
            out |= subs or {base}
            if len(subs) < len(node.names):
                out.add(base)
    return out


GRAPH = {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}


def test_every_module_has_a_layer():
    assert all(layer_of(m) for m in GRAPH)


def test_no_module_imports_a_layer_above_its_own():
    upward = [
        f"{m} ({layer_of(m)}) -> {d} ({layer_of(d)})"
        for m, deps in sorted(GRAPH.items())
        for d in sorted(deps)
        if RANK[layer_of(d)] > RANK[layer_of(m)]
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_the_data_layer_never_imports_augmentation_learners_or_the_benchmark():
    bad = [
        f"{m} -> {d}"
        for m, deps in GRAPH.items()
        if layer_of(m) == "data"
        for d in deps
        if layer_of(d) in ("models", "augment", "train", "top")
    ]
    assert not bad


def test_no_import_cycles():
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> list[str] | None:
        state[m] = 1
        for d in sorted(GRAPH.get(m, ())):
            if d == m or d not in GRAPH:
                continue
            if state.get(d) == 1:
                return path + [m, d]
            if d not in state and (cycle := visit(d, path + [m])):
                return cycle
        state[m] = 2
        return None

    for m in sorted(GRAPH):
        if m not in state:
            cycle = visit(m, [])
            assert cycle is None, " -> ".join(cycle)


def test_the_walk_sees_imports_inside_functions(tmp_path):
    f = tmp_path / "stitchkit" / "data" / "x.py"
    f.parent.mkdir(parents=True)
    f.write_text("def f():\n    from stitchkit.augment import run\n")
    import conftest

    old = conftest.ROOT
    try:  # the same walk, pointed at a planted file
        globals()["ROOT"] = tmp_path
        assert "stitchkit.augment" in imports(f)
    finally:
        globals()["ROOT"] = old


# ------------------------------------------------------------------------------------------------- plug-ins
@pytest.fixture
def toy_plugins(monkeypatch):
    """The toy method and learner of tests/toy_plugins, each registered by exactly one line in the tables."""
    from stitchkit import plugins

    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    monkeypatch.setitem(plugins.STITCHING_METHODS, "tail", "toy_plugins.tail:METHOD")
    monkeypatch.setitem(plugins.LEARNERS, "constant", "toy_plugins.constant:LEARNER")


MAZE = "stitchkit/pointmaze-medium/stitch-v0"


def test_a_new_stitching_method_is_its_module_plus_one_line(data_root, toy_plugins):
    from stitchkit import augment
    from stitchkit.data import registry

    assert augment.options_accepted("tail") == ["episodes", "steps"]
    with pytest.raises(augment.OptionError, match="unknown tail option 'color'; accepted: episodes, steps"):
        augment.run("tail", MAZE, profile="smoke", color=1)
    summary = augment.run("tail", MAZE, profile="smoke", log=lambda *_: None)
    assert summary["config"]["steps"] == 4  # the method's per-dataset default for the maze
    out = registry.load_episodes("stitchkit/pointmaze-medium/stitch-tail-v0", "smoke")
    assert len(out) == 3 and all(len(e) == 4 and e.provenance.method == "tail" for e in out)
    meta = registry.read_metadata("stitchkit/pointmaze-medium/stitch-tail-v0")
    assert (
        meta["stitchkit"]["parent"] == MAZE and meta["eval_env_spec"] == registry.read_metadata(MAZE)["eval_env_spec"]
    )


def test_a_new_learner_is_its_module_plus_one_line(data_root, toy_plugins):
    from stitchkit.train import learner, run

    assert learner("constant").dataset_defaults(MAZE) == {"lr": 0.5}
    out = run("constant", MAZE, seeds=2, profile="smoke", progress=False)
    assert len(out["seeds"]) == 2 and np.isfinite(out["score"]["last_mean"])


HOPPER = "stitchkit/hopper/medium-replay-v0"


def test_a_realistic_method_is_its_module_plus_one_line(data_root, monkeypatch):
    """tests/toy_plugins/rollout.py: a method with its own model (trained once, cached, costed), its own sizes per
    profile and per-dataset defaults, registered by one line; it runs through augment, train, bench and --help."""
    import dataclasses

    from stitchkit import augment, bench, plugins
    from stitchkit.cli import option_help
    from stitchkit.data import registry
    from stitchkit.profiles import get_profile, with_sizes
    from stitchkit.train import run

    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    monkeypatch.setitem(plugins.STITCHING_METHODS, "rollout", "toy_plugins.rollout:METHOD")  # the one line
    from toy_plugins import rollout

    smoke = get_profile("smoke")
    sizes = rollout.SIZES.of(smoke)
    assert dataclasses.asdict(sizes) == {"model_steps": 60, "hidden": 32, "rollouts": 12, "length": 3}
    fewer = with_sizes(smoke, {"rollout": {"rollouts": 5}}, augment.method("rollout").sizes)  # a campaign's way
    assert rollout.SIZES.of(fewer).rollouts == 5 and rollout.SIZES.of(smoke).rollouts == 12

    summary = augment.run("rollout", HOPPER, profile="smoke", log=lambda *_: None)
    assert summary["config"]["noise"] == 0.05  # its hopper default
    out_id = registry.augmented_id(HOPPER, "rollout")
    eps = registry.load_episodes(out_id, "smoke")
    assert len(eps) == 12 and all(len(e) == 3 and e.provenance.method == "rollout" for e in eps)
    parent = registry.load_episodes(HOPPER, "smoke")
    ckpt = Path(os.environ["STITCHKIT_DATA"]) / "checkpoints" / "rollout" / rollout.config_key(HOPPER, smoke, 0)
    assert (ckpt / "models.pt").exists() and rollout.estimate_train_seconds(parent, smoke, ckpt) == 0.0
    assert rollout.estimate_train_seconds(parent, smoke, probe=3) > 0.0

    out = run("td3bc", HOPPER, seeds=1, profile="smoke", augmented_id=out_id, ratio=4.0, progress=False)
    assert np.isfinite(out["score"]["last_mean"])

    grid = bench.parse_grid(
        f'name = "plug"\ndatasets = ["{HOPPER}"]\naugmenters = ["none", "rollout"]\nalgorithms = ["bc"]\nseeds = [0]\n'
        "augment_seed = 1\n[augment_options.rollout]\nnoise = 0.2\n"  # its own build, with the grid's option
    )
    bench.run(grid, "smoke", log=lambda *_: None)
    records = bench.load_records(grid, "smoke")
    assert sorted(r["cell"]["augmenter"] for r in records) == ["none", "rollout"]
    assert all(r["result"]["status"] == "done" for r in records)
    built = registry.read_metadata(bench.augmented_id(grid, HOPPER, "rollout"))["stitchkit"]["augment"]["config"]
    assert built["noise"] == 0.2 and built["seed"] == 1

    text = option_help("augment", "rollout")
    assert "noise" in text and "sizes [rollout]" in text and "model_steps            60 / 2000 / 50000" in text


def test_the_train_layer_special_cases_no_learner_or_method_by_name():
    """Behaviour that differs by learner or method comes from its declaration (``sequence``, ``goal_conditioned``,
    ``needs_maze``), never from comparing a name (issue 31)."""
    import re

    from stitchkit.plugins import LEARNERS, STITCHING_METHODS

    names = "|".join(re.escape(n) for n in [*LEARNERS, *STITCHING_METHODS])
    quoted = rf"""["']({names})["']"""
    compare = re.compile(rf"(==|!=)\s*{quoted}|{quoted}\s*(==|!=)|\bin\s*\(\s*{quoted}")
    found = []
    generic = ("train", "runner", "bench", "campaign/records", "campaign/running", "campaign/readings")
    for module in generic:  # the generic machinery (bridge_search studies named methods)
        text = (ROOT / "stitchkit" / f"{module}.py").read_text()
        found += [f"{module}.py:{text[: m.start()].count(chr(10)) + 1}: {m.group(0)}" for m in compare.finditer(text)]
    assert not found, found


def test_no_module_of_the_package_is_over_700_lines():
    """Small modules, one idea each (issue 46: the campaign was split by job when it reached 1,400 lines)."""
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "stitchkit").rglob("*.py")
        if "__pycache__" not in p.parts and (n := len(p.read_text().splitlines())) > 700
    }
    assert not long, long


def test_notebooks_read_the_campaign_through_its_readings_only():
    """Notebooks read records (``readings``, ``attribution``: two campaigns read together) and draw them (``plots``);
    running them (processes, Ray, git commits) is the command's job."""
    import re

    found = []
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        text = nb.read_text()
        found += [
            f"{nb.name}: {m.group(0)}"
            for m in re.finditer(r"stitchkit\.campaign(\.\w+)? import [^\n]+", text)
            if not re.fullmatch(r"stitchkit\.campaign import (attribution, )?(plots, )?readings", m.group(0))
        ]
        found += [f"{nb.name}: {m.group(0)}" for m in re.finditer(r"from stitchkit import [^\n]*\bcampaign\b", text)]
    assert not found, found
