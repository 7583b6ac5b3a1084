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
