import json
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
