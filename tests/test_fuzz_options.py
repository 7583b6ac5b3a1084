"""Every option of every learner and stitching method, given the values a new user types by mistake, through the
real command line at the smoke profile: each case either runs (a dry run: everything checked, the data loaded, one
update made on a copy of the model for a learner; the config settled for a method) or ends in exactly one line,
``stitchkit: error: ...``, that names the option - never a traceback."""

from __future__ import annotations

import typing

import pytest

from stitchkit import augment, cli
from stitchkit import options as opts
from stitchkit.plugins import LEARNERS, STITCHING_METHODS
from stitchkit.train import learner

HOPPER = "stitchkit/hopper/medium-replay-v0"
MAZE = "stitchkit/pointmaze-medium/stitch-v0"
NUMBER = {"zero": "0", "negative": "-5", "huge": "1000000000000", "nan": "nan", "wrong type": "abc"}
LIST = {"zero": "0", "negative": "-5", "empty": "", "malformed": "1,,x", "wrong type": "abc"}
OTHER = {"wrong value": "bogus", "empty": ""}


def edge_values(tp) -> dict[str, str]:
    """The mistakes worth trying for an option of type ``tp``."""
    base = opts._base(tp)
    if typing.get_origin(base) is tuple:
        return LIST
    if base in (int, float):
        return NUMBER
    return OTHER


def cases() -> list[tuple[str, str, str, str, str]]:
    """(command, name, option, label, value) for every option of every declaration."""
    out = []
    for name in LEARNERS:
        for key, tp in learner(name).fields().items():
            out += [("train", name, key, label, v) for label, v in edge_values(tp).items()]
    for name in STITCHING_METHODS:
        for key, tp in augment.method(name).fields().items():
            out += [("augment", name, key, label, v) for label, v in edge_values(tp).items()]
    return out


CASES = cases()


def dataset_for(command: str, name: str) -> str:
    if command == "train":
        return MAZE if learner(name).goal_conditioned else HOPPER
    return MAZE if augment.method(name).needs_maze or name == "naive" else HOPPER


def test_the_fuzz_covers_every_declaration_with_enough_cases(capsys):
    """The issue's floor: at least 150 option x value cases, over every learner and method."""
    assert len(CASES) >= 150
    assert {c[1] for c in CASES} == set(LEARNERS) | set(STITCHING_METHODS) - {
        n for n in STITCHING_METHODS if not augment.method(n).fields()
    }
    with capsys.disabled():  # shown in the test log, not captured
        print(f"\nfuzz: {len(CASES)} option x value cases over {len({c[1] for c in CASES})} declarations")


@pytest.mark.parametrize("command,name", sorted({(c[0], c[1]) for c in CASES}))
def test_every_bad_value_runs_or_gives_one_line_naming_the_option(command, name, capsys, data_root):
    ran, refused = 0, 0
    for _, _, key, label, value in (c for c in CASES if c[:2] == (command, name)):
        argv = [command, name, "--dataset", dataset_for(command, name), "--option", f"{key}={value}", "--dry-run"]
        rc = cli.main([*argv, "--profile", "smoke"])
        out, err = capsys.readouterr()
        where = f"stitchkit {' '.join(argv)} ({label})"
        if rc == 0:  # a dry run: a learner prints its estimate, a method its settled config
            assert ("updates at" in out) if command == "train" else (key in out), f"{where}: {out}"
            ran += 1
            continue
        lines = err.strip().splitlines()
        assert rc == 2 and len(lines) == 1 and lines[0].startswith("stitchkit: error: "), f"{where}: {err}"
        assert key in lines[0], f"{where}: the error does not name the option: {lines[0]}"
        refused += 1
    assert ran + refused > 0


def test_the_three_reported_cases_give_one_line_with_the_range_or_the_estimate(capsys, data_root):
    base = ["train", "td3bc", "--dataset", HOPPER, "--profile", "smoke"]
    for extra, expect in (
        (["--option", "hidden=0"], "td3bc option hidden='0' is out of range: each value must be >= 1"),
        (["--option", "hidden=-5"], "td3bc option hidden='-5' is out of range: each value must be >= 1"),
        (["--seeds", "100000"], "td3bc with 100,000 seed(s) (hidden=(32, 32)) would hold about"),
    ):
        assert cli.main(base + extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expect in err[0], err
    assert "lower --seeds or the widths" in err[0]
