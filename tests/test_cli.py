import json
import re
import subprocess

from conftest import stitchkit_cmd, subprocess_env


def run(*args, **env):
    return subprocess.run(stitchkit_cmd() + list(args), env=subprocess_env(**env), capture_output=True, text=True)


def test_help_lists_subcommands():
    out = run("--help")
    assert out.returncode == 0
    for sub in ("info", "profiles", "report"):
        assert sub in out.stdout


def test_bogus_profile_is_one_line_error():
    out = run("info", STITCHKIT_PROFILE="bogus")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "bogus" in lines[0] and "smoke, lab, full" in lines[0]


def test_json_is_the_last_line():
    out = run("info", "--json", STITCHKIT_PROFILE="smoke")
    assert out.returncode == 0
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["profile"] == "smoke" and info["device"] in ("cpu", "cuda") and info["mujoco_gl"]
    out = run("profiles", "--json", "--profile", "full")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["current"] == "full" and set(result["profiles"]) == {"smoke", "lab", "full"}


def test_data_commands_build_info_list_and_errors(tmp_path):
    env = {"STITCHKIT_DATA": str(tmp_path), "MINARI_DATASETS_PATH": str(tmp_path / "minari")}
    ds = "stitchkit/pointmaze-medium/stitch-1k-v0"
    out = run("data", "build", ds, "--profile", "smoke", "--json", **env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["id"] == ds
    info = json.loads(run("data", "info", ds, "--profile", "smoke", "--json", **env).stdout.strip().splitlines()[-1])
    assert info["steps"] == 1000 and info["parent"] == "stitchkit/pointmaze-medium/stitch-v0"
    listing = json.loads(run("data", "list", "--json", **env).stdout.strip().splitlines()[-1])["datasets"]
    states = {r["id"]: r["state"] for r in listing}
    assert states[ds] == "built" and states["stitchkit/pointmaze-medium/stitch-v0"] == "built"
    assert states["stitchkit/hopper/expert-v0"] == "missing"
    bad = run("data", "build", "stitchkit/nowhere/stitch-v0", **env)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "unknown dataset id" in bad.stderr
    mismatch = run("data", "info", ds, "--profile", "lab", **env)
    assert mismatch.returncode == 2 and "built at profile 'smoke'" in mismatch.stderr


def test_data_defaults_builds_the_course_data_and_models_two_at_a_time(tmp_path, monkeypatch):
    """What `make lab` and `make report` run first: every dataset the notebooks read, then DiffStitch's and ASTRO's
    models for hopper medium-replay and the maze, where the notebooks load them, and the generated data of notebooks 06
    and 08; a second run finds them all."""
    from stitchkit.augment import astro
    from stitchkit.augment import diffstitch as ds
    from stitchkit.cli import COURSE_MODELS, DEFAULT_DATASETS
    from stitchkit.data import registry
    from stitchkit.profiles import get_profile

    env = {"STITCHKIT_DATA": str(tmp_path), "MINARI_DATASETS_PATH": str(tmp_path / "minari"), "OMP_NUM_THREADS": "1"}
    out = run("data", "defaults", "--profile", "smoke", "--json", **env)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert sorted(result["built"]) == sorted(DEFAULT_DATASETS) and result["models"] == list(COURSE_MODELS)
    listing = json.loads(run("data", "list", "--json", **env).stdout.strip().splitlines()[-1])["datasets"]
    assert all(r["state"] == "built" for r in listing if r["id"] in DEFAULT_DATASETS)
    smoke = get_profile("smoke")
    monkeypatch.setenv("STITCHKIT_DATA", env["STITCHKIT_DATA"])  # the model keys hold the datasets' fingerprints
    monkeypatch.setenv("MINARI_DATASETS_PATH", env["MINARI_DATASETS_PATH"])
    for d in COURSE_MODELS:
        assert (tmp_path / "checkpoints" / "diffstitch" / ds.config_key(d, smoke, 0, False) / "models.pt").exists()
        assert (tmp_path / "checkpoints" / "astro" / astro.config_key(d, smoke, 0) / "astro.pt").exists()
    built = {r["id"] for r in listing if r["state"] == "built"}  # SER always keeps its samples, even at smoke
    assert {registry.augmented_id(d, "ser") for d in COURSE_MODELS} <= built
    again = json.loads(run("data", "defaults", "--profile", "smoke", "--json", **env).stdout.strip().splitlines()[-1])
    assert again["built"] == []


def one_line_error(out, *needles):
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_bad_options_and_numbers_fail_at_once_on_one_line(tmp_path):
    """Checked before any data is loaded or model trained (the datasets here are not even built)."""
    import time

    env = {"STITCHKIT_DATA": str(tmp_path), "MINARI_DATASETS_PATH": str(tmp_path / "minari")}
    hopper = ["--dataset", "stitchkit/hopper/medium-v0", "--profile", "smoke"]
    cases = [
        (["augment", "diffstitch", *hopper, "--option", "delta=abc"], ["delta='abc'", "float"]),
        (["train", "td3bc", *hopper, "--seeds", "0"], ["--seeds", "positive integer"]),
        (["train", "td3bc", *hopper, "--option", "colour=red"], ["unknown td3bc option 'colour'", "accepted: alpha"]),
        (["train", "iql", *hopper, "--option", "deterministic=maybe"], ["deterministic='maybe'", "bool"]),
        (["train", "td3bc", *hopper, "--ratio", "-2"], ["--ratio", "positive number"]),
        (["augment", "astro", *hopper, "--option", "sampler=fast"], ["sampler='fast'", "one of full, strided"]),
        (["augment", "tatu", *hopper, "--option", "horizon=2.5"], ["horizon='2.5'", "int"]),
        (["train", "nope", *hopper], ["invalid choice: 'nope'", "td3bc"]),
    ]
    for args, needles in cases:
        t0 = time.perf_counter()
        out = run(*args, **env)
        one_line_error(out, *needles)
        assert time.perf_counter() - t0 < 20  # generous for a loaded CI machine; about 1.3 s here
    assert not (tmp_path / "minari").exists() or not any((tmp_path / "minari").rglob("main_data.hdf5"))


def test_a_damaged_dataset_file_is_a_one_line_error_naming_the_rebuild(tmp_path):
    env = {"STITCHKIT_DATA": str(tmp_path), "MINARI_DATASETS_PATH": str(tmp_path / "minari")}
    ds = "stitchkit/pointmaze-medium/stitch-v0"
    assert run("data", "build", ds, "--profile", "smoke", **env).returncode == 0
    data = tmp_path / "minari" / ds / "data" / "main_data.hdf5"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 3])  # truncated, as a full disk or a kill leaves it
    for args in (["data", "info", ds], ["train", "bc", "--dataset", ds]):
        one_line_error(run(*args, "--profile", "smoke", **env), ds, f"stitchkit data build {ds} --force")
    data.write_bytes(b"not hdf5 at all")
    one_line_error(run("data", "info", ds, "--profile", "smoke", **env), ds, "--force")
    assert run("data", "build", ds, "--profile", "smoke", "--force", **env).returncode == 0  # the named fix works
    assert run("data", "info", ds, "--profile", "smoke", **env).returncode == 0


def test_help_for_a_learner_or_method_lists_its_options_from_the_declaration():
    out = run("train", "td3bc", "--help")
    assert out.returncode == 0 and "td3bc options (--option KEY=VALUE):" in out.stdout
    assert re.search(r"\n  lr +float, > 0; default 0.0003\n", out.stdout)
    assert "hidden                 comma-separated ints, each >= 1; default (256, 256) (smoke: (32, 32)" in out.stdout
    out = run("augment", "chain", "--help")
    assert out.returncode == 0 and "chain options (--option KEY=VALUE):" in out.stdout
    assert re.search(r"\n  near +float, > 0; default 1.0 - a fragment may continue into another", out.stdout)
    assert re.search(r"\n  joint +one of naive, diffstitch, astro; default 'naive'", out.stdout)
