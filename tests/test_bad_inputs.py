"""Bad input, through the real CLI (issue 30): each case is one command, the exact one-line error it must print
(``stderr``, exit code 2, no traceback) and, for the cases refused before any work, a check that nothing was
written. Placeholders: {maze} is a built smoke maze dataset, {nan}/{cut} copies of it with a NaN reward / a
truncated file."""

import shutil
import subprocess

import h5py
import numpy as np
import pytest
from conftest import stitchkit_cmd, subprocess_env

HOP = ["--dataset", "stitchkit/hopper/medium-v0"]
MAZE = ["--dataset", "stitchkit/pointmaze-medium/stitch-v0"]
NO_WORK = True  # refused before any data is built or any model trained

CASES = [  # (name, args, extra env, the error line, or a list of fragments it must hold; refused before any work?)
    (
        "a loss that turns NaN",
        ["train", "bc", "--dataset", "{maze}", "--option", "lr=1e30"],
        {},
        ["training stopped at step", "is nan", "learning rate too high for this data"],
        False,
    ),
    (
        "zero seeds",
        ["train", "td3bc", *HOP, "--seeds", "0"],
        {},
        "stitchkit train: error: argument --seeds: must be a positive integer, got 0 (see stitchkit train --help)",
        NO_WORK,
    ),
    (
        "non-number option",
        ["train", "td3bc", *HOP, "--option", "lr=abc"],
        {},
        "stitchkit: error: td3bc option lr='abc' is not a valid float (e.g. lr=1.5)",
        NO_WORK,
    ),
    (
        "negative learning rate",
        ["train", "td3bc", *HOP, "--option", "lr=-1"],
        {},
        "stitchkit: error: td3bc option lr=-1.0 is out of range: it must be > 0",
        NO_WORK,
    ),
    (
        "tau above 1",
        ["train", "td3bc", *HOP, "--option", "tau=2"],
        {},
        "stitchkit: error: td3bc option tau=2.0 is out of range: it must be > 0 and <= 1",
        NO_WORK,
    ),
    (
        "expectile of 1",
        ["train", "iql", *HOP, "--option", "expectile=1"],
        {},
        "stitchkit: error: iql option expectile=1.0 is out of range: it must be > 0 and < 1",
        NO_WORK,
    ),
    (
        "probability above 1",
        ["train", "gcbc", *MAZE, "--option", "actor_p_swap=2"],
        {},
        "stitchkit: error: gcbc option actor_p_swap=2.0 is out of range: it must be >= 0 and <= 1",
        NO_WORK,
    ),
    (
        "dropout above 1",
        ["train", "dt", *HOP, "--option", "dropout=1.5"],
        {},
        "stitchkit: error: dt option dropout=1.5 is out of range: it must be >= 0 and <= 1",
        NO_WORK,
    ),
    (
        "unknown option",
        ["train", "td3bc", *HOP, "--option", "colour=red"],
        {},
        ["unknown td3bc option 'colour'; accepted: alpha, discount,"],
        NO_WORK,
    ),
    (
        "maze learner on hopper",
        ["train", "gcbc", *HOP],
        {},
        "stitchkit: error: goal-conditioned learners train on maze datasets (stitchkit/pointmaze-*/...), not "
        "stitchkit/hopper/medium-v0",
        NO_WORK,
    ),
    (
        "unknown dataset id",
        ["train", "td3bc", "--dataset", "stitchkit/hopper/bogus-v0"],
        {},
        ["unknown dataset id 'stitchkit/hopper/bogus-v0'; buildable ids: stitchkit/pointmaze-medium/stitch-v0"],
        NO_WORK,
    ),
    (
        "NaN ratio",
        ["train", "td3bc", *HOP, "--ratio", "nan"],
        {},
        "stitchkit train: error: argument --ratio: must be a positive number, got nan (see stitchkit train --help)",
        NO_WORK,
    ),
    (
        "unknown profile",
        ["train", "td3bc", *HOP, "--profile", "bogus"],
        {},
        "stitchkit train: error: argument --profile: invalid choice: 'bogus' (choose from 'smoke', 'lab', 'full') "
        "(see stitchkit train --help)",
        NO_WORK,
    ),
    (
        "top fraction above 1",
        ["train", "td3bc", *HOP, "--top-fraction", "1.5"],
        {},
        "stitchkit: error: top_fraction must be in (0, 1], got 1.5",
        NO_WORK,
    ),
    (
        "augmented data of another environment",
        ["train", "td3bc", *HOP, "--augmented", "stitchkit/walker2d/medium-replay-diffstitch-v0"],
        {},
        "stitchkit: error: augmented dataset stitchkit/walker2d/medium-replay-diffstitch-v0 was generated from "
        "stitchkit/walker2d/medium-replay-v0, not from stitchkit/hopper/medium-v0; train on --dataset "
        "stitchkit/walker2d/medium-replay-v0, or augment stitchkit/hopper/medium-v0 first",
        NO_WORK,
    ),
    (
        "fraction above 1",
        ["augment", "diffstitch", *HOP, "--option", "source_top=1.5"],
        {},
        "stitchkit: error: diffstitch option source_top=1.5 is out of range: it must be > 0 and <= 1",
        NO_WORK,
    ),
    (
        "real ratio above 1",
        ["augment", "tatu", *HOP, "--option", "real_ratio=1.5"],
        {},
        "stitchkit: error: tatu option real_ratio=1.5 is out of range: it must be >= 0 and <= 1",
        NO_WORK,
    ),
    (
        "zero hops",
        ["augment", "chain", *MAZE, "--option", "hops_min=0"],
        {},
        "stitchkit: error: chain option hops_min=0 is out of range: it must be >= 1",
        NO_WORK,
    ),
    (
        "negative distance",
        ["augment", "chain", *MAZE, "--option", "near=-1"],
        {},
        "stitchkit: error: chain option near=-1.0 is out of range: it must be > 0",
        NO_WORK,
    ),
    (
        "a choice not offered",
        ["augment", "diffstitch", *HOP, "--option", "sampler=fast"],
        {},
        "stitchkit: error: diffstitch option sampler='fast' is not a valid one of full, strided",
        NO_WORK,
    ),
    (
        "unknown method",
        ["augment", "diffusion", *HOP],
        {},
        ["argument method: invalid choice: 'diffusion' (choose from 'diffstitch', 'astro'"],
        NO_WORK,
    ),
    (
        "pairs from another parent",
        ["augment", "naive", *MAZE, "--option", "pairs_from=stitchkit/hopper/medium-diffstitch-v0"],
        {},
        "stitchkit: error: pairs_from 'stitchkit/hopper/medium-diffstitch-v0' must be a diffstitch or astro dataset "
        "built from 'stitchkit/pointmaze-medium/stitch-v0' (e.g. 'stitchkit/pointmaze-medium/stitch-diffstitch-v0')",
        False,
    ),
    ("empty subsample", ["data", "build", "stitchkit/hopper/medium-0k-v0"], {}, ["budget 0 must be in 1.."], False),
    ("unknown grid", ["bench", "nope"], {}, ["no grid file 'nope'; give a TOML path or one of the kit's:"], NO_WORK),
    (
        "unknown campaign",
        ["campaign", "status", "nope"],
        {},
        ["no campaign file 'nope'; give a TOML path or one of the kit's:"],
        NO_WORK,
    ),
    (
        "missing GL backend",
        ["info", "--check-gl"],
        {"MUJOCO_GL": "bogus"},
        ["MuJoCo cannot render with MUJOCO_GL=bogus", "Set MUJOCO_GL before starting Python to one of: egl"],
        NO_WORK,
    ),
    (
        "a NaN reward in the file",
        ["train", "bc", "--dataset", "{nan}"],
        {},
        "stitchkit: error: {nan}: rewards holds NaN at episode 1, step 7; rebuild it: stitchkit data build {nan} "
        "--force",
        False,
    ),
    (
        "a truncated file (a killed write or a full disk)",
        ["data", "info", "{cut}"],
        {},
        ["{cut}", "stitchkit data build {cut} --force"],
        False,
    ),
    (
        "zero learning rate on a built dataset",
        ["train", "bc", "--dataset", "{maze}", "--option", "lr=0"],
        {},
        "stitchkit: error: bc option lr=0.0 is out of range: it must be > 0",
        NO_WORK,
    ),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A smoke maze dataset, built once, and two damaged copies of it under other ids (same recipe)."""
    root = tmp_path_factory.mktemp("bad_inputs")
    env = subprocess_env(STITCHKIT_DATA=str(root), MINARI_DATASETS_PATH=str(root / "minari"), STITCHKIT_PROFILE="smoke")
    maze = "stitchkit/pointmaze-medium/stitch-v0"
    for copy in ("stitch-2k-v0", "stitch-3k-v0"):  # small-sample ids of the same maze: built, then damaged
        ds = f"stitchkit/pointmaze-medium/{copy}"
        assert subprocess.run(stitchkit_cmd() + ["data", "build", ds], env=env, capture_output=True).returncode == 0
    nan, cut = "stitchkit/pointmaze-medium/stitch-2k-v0", "stitchkit/pointmaze-medium/stitch-3k-v0"
    with h5py.File(root / "minari" / nan / "data" / "main_data.hdf5", "r+") as f:
        f["episode_1"]["rewards"][7] = np.nan
    hdf = root / "minari" / cut / "data" / "main_data.hdf5"
    hdf.write_bytes(hdf.read_bytes()[: hdf.stat().st_size // 3])
    return env, root, {"maze": maze, "nan": nan, "cut": cut}


def files(root) -> set:
    return {p for p in root.rglob("*") if p.is_file() and "runs" not in p.parts}


@pytest.mark.parametrize("name, args, extra, expected, no_work", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line(data, name, args, extra, expected, no_work):
    env, root, ids = data
    args = [a.format(**ids) for a in args]
    before = files(root)
    out = subprocess.run(stitchkit_cmd() + args, env={**env, **extra}, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in out.stderr.splitlines() if ln.strip() and "%|" not in ln]
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert len(lines) == 1, out.stderr[-2000:]
    if isinstance(expected, str):
        assert lines[0] == expected.format(**ids)
    else:
        for fragment in expected:
            assert fragment.format(**ids) in lines[0], lines[0]
    if no_work:
        assert files(root) == before, "a refused command wrote something"


def test_the_table_covers_what_the_issue_asks():
    assert len(CASES) >= 25
    names = " ".join(c[0] for c in CASES)
    for topic in ("NaN", "negative learning rate", "truncated", "another environment", "GL", "empty"):
        assert topic in names, topic
    # a hand-edited dataset is not an error but a new run: tests/test_validate.py; a kill mid-write: tests/test_kill.py


def test_a_damaged_copy_does_not_touch_the_original(data):
    env, root, ids = data
    shutil.rmtree(root / "runs", ignore_errors=True)
    out = subprocess.run(stitchkit_cmd() + ["data", "info", ids["maze"]], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
