"""stitchkit bench: grid validation, records that survive a kill and a corrupted file, and the Ray executor giving
the local executor's records."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import stitchkit_cmd, subprocess_env

from stitchkit import bench
from stitchkit.profiles import get_profile

GRID = """
name = "t"
datasets = ["stitchkit/hopper/medium-replay-v0"]
augmenters = ["none", "tatu"]
algorithms = ["td3bc", "bc", "dt"]
seeds = [0, 1]
[ratios]
tatu = 2.0
[augment_options.tatu]
pessimism = 1.0
transitions = 100
"""


def env_for(root: Path) -> dict[str, str]:
    return subprocess_env(
        STITCHKIT_DATA=str(root),
        MINARI_DATASETS_PATH=str(root / "minari"),
        OMP_NUM_THREADS="1",
        STITCHKIT_PROFILE="smoke",
    )


def results(root: Path) -> dict[str, dict]:
    """file name -> (cell, result) of every record under ``root``'s results folder."""
    out = {}
    for p in sorted((root / "results" / "t" / "smoke").glob("*-s*-*.json")):
        rec = json.loads(p.read_text())
        out[p.name] = {"cell": rec["cell"], "result": rec["result"]}
    return out


def test_grid_validation_names_what_is_accepted():
    g = bench.parse_grid(GRID)
    assert len(g.groups()) == 6 and len(g.cells()) == 12
    assert g.ratio("tatu") == 2.0 and g.ratio("none") == 4.0
    assert g.options_for("tatu", "stitchkit/hopper/medium-replay-v0") == {"pessimism": 1.0, "transitions": 100}
    per = bench.parse_grid(GRID + '[augment_options.tatu."stitchkit/hopper/medium-replay-v0"]\npessimism = 0.5\n')
    assert per.options_for("tatu", "stitchkit/hopper/medium-replay-v0")["pessimism"] == 0.5
    with pytest.raises(bench.BenchError, match="unknown augmenter 'synther'; accepted: none, diffstitch"):
        bench.parse_grid(GRID.replace('"tatu"]', '"synther"]'))
    with pytest.raises(bench.BenchError, match="unknown algorithm 'ppo'"):
        bench.parse_grid(GRID.replace('"dt"]', '"ppo"]'))
    with pytest.raises(bench.BenchError, match=r"unknown key\(s\) \['seed'\]"):
        bench.parse_grid("seed = 3\n" + GRID)
    with pytest.raises(
        bench.BenchError, match=r"\[augment_options.tatu\] unknown tatu option 'seed'; accepted: horizon, penalty"
    ):
        bench.parse_grid(GRID + "seed = 3\n")  # lands in [augment_options.tatu]
    with pytest.raises(bench.BenchError, match="no grid file 'nope'"):
        bench.load_grid("nope")
    assert {"smoke", "lab", "full"} <= {bench.load_grid(n).name for n in ("smoke", "lab", "full")}


def test_records_are_checked_and_a_corrupt_one_is_redone(tmp_path):
    cell = bench.Cell("d", "none", "td3bc", 0)
    path = bench.write_record(tmp_path, cell, {"ratio": 4.0}, {"status": "done", "score_last": 1.5}, {"seconds": 1})
    assert bench.read_record(path)["result"]["score_last"] == 1.5
    rec = json.loads(path.read_text())
    rec["result"]["score_last"] = 99.0  # edited by hand: the checksum no longer matches
    path.write_text(json.dumps(rec))
    assert bench.read_record(path) is None
    path.write_text(path.read_text()[:40])  # truncated
    assert bench.read_record(path) is None
    assert bench.read_record(tmp_path / "missing.json") is None


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The grid run once, locally, start to end: (grid file, its records)."""
    tmp = tmp_path_factory.mktemp("bench")
    grid_file = tmp / "t.toml"
    grid_file.write_text(GRID)
    whole = tmp / "whole"
    subprocess.run(
        stitchkit_cmd() + ["bench", str(grid_file), "--profile", "smoke"],
        env=env_for(whole),
        check=True,
        capture_output=True,
        timeout=600,
    )
    expected = results(whole)
    assert len(expected) == 12
    assert sum(r["result"]["status"] == "skipped" for r in expected.values()) == 2  # DT refuses TATU's rollouts
    return grid_file, expected


def test_a_killed_run_resumes_and_ends_as_an_uninterrupted_one(tmp_path, uninterrupted):
    grid_file, expected = uninterrupted
    cmd = stitchkit_cmd() + ["bench", str(grid_file), "--profile", "smoke"]
    # killed as soon as the first group's records are written, then rerun
    part = tmp_path / "part"
    proc = subprocess.Popen(
        cmd, env=env_for(part), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    t0 = time.time()
    while len(results(part)) < 2 and time.time() - t0 < 300:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.name: p.stat().st_mtime_ns for p in (part / "results" / "t" / "smoke").glob("*-s*-*.json")}
    assert 2 <= len(done_before) < 12, "the kill came too late to test a resume"
    # a corrupt record (a write cut short) must be redone, not averaged
    group_of = {n: n.split("-s")[0] for n in done_before}  # "td3bc-none-s0-<hash>.json" -> "td3bc-none"
    complete = sorted({g for g in group_of.values() if list(group_of.values()).count(g) == 2})
    victim = next(n for n in sorted(done_before) if group_of[n] == complete[0])
    (part / "results" / "t" / "smoke" / victim).write_text('{"cell": ')
    out = subprocess.run(cmd + ["--json"], env=env_for(part), check=True, capture_output=True, text=True, timeout=600)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["groups_run"] == 6 - (len(complete) - 1)
    after = {p.name: p.stat().st_mtime_ns for p in (part / "results" / "t" / "smoke").glob("*-s*-*.json")}
    untouched = [n for n in done_before if group_of[n] in complete[1:]]
    assert all(after[n] == done_before[n] for n in untouched)
    assert results(part) == expected
    assert (
        bench.table(
            bench.parse_grid(GRID), [{"cell": r["cell"], "result": r["result"]} for r in results(part).values()]
        ).count("|")
        > 10
    )


@pytest.mark.slow
def test_ray_executor_gives_the_local_records(tmp_path, uninterrupted):
    pytest.importorskip("ray")
    grid_file, expected = uninterrupted
    viaray = tmp_path / "ray"
    base = stitchkit_cmd() + ["bench", str(grid_file), "--profile", "smoke"]
    proc = subprocess.run(
        base + ["--executor", "ray", "--json"], env=env_for(viaray), capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["groups_run"] == 6
    recs = [json.loads(p.read_text()) for p in (viaray / "results" / "t" / "smoke").glob("*-s*-*.json")]
    assert recs and all(r["provenance"]["executor"] == "ray" for r in recs)
    assert results(viaray) == expected


def test_two_local_processes_give_the_one_process_records(tmp_path, uninterrupted):
    """``--processes 2`` trains two groups at a time (one per core) and writes the same records as one process."""
    grid_file, expected = uninterrupted
    two = tmp_path / "two"
    cmd = stitchkit_cmd() + ["bench", str(grid_file), "--profile", "smoke", "--processes", "2", "--json"]
    proc = subprocess.run(cmd, env=env_for(two), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["groups_run"] == 6
    assert results(two) == expected


def test_a_reused_augmented_dataset_must_match_the_grid_options(data_root):
    from stitchkit.augment import run as augment_run

    augment_run(
        "tatu",
        "stitchkit/hopper/medium-replay-v0",
        profile="smoke",
        log=lambda *_: None,
        pessimism=1.0,
        transitions=100,
    )
    grid = bench.parse_grid(GRID)  # pessimism 1.0, transitions 100: the same, reused
    assert bench.build_augmented(
        grid, "stitchkit/hopper/medium-replay-v0", "tatu", get_profile("smoke"), log=lambda *_: None
    )["ok"]
    other = bench.parse_grid(GRID.replace("pessimism = 1.0", "pessimism = 2.0"))
    with pytest.raises(bench.BenchError, match=r"built with pessimism=1.0; the grid asks for pessimism=2.0"):
        bench.build_augmented(
            other, "stitchkit/hopper/medium-replay-v0", "tatu", get_profile("smoke"), log=lambda *_: None
        )


def test_a_record_made_under_other_settings_is_stale(tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHKIT_DATA", str(tmp_path))
    grid = bench.parse_grid(GRID)
    group = bench.Group("stitchkit/hopper/medium-replay-v0", "tatu", "td3bc")
    folder = bench.results_dir(grid, "smoke")
    for s in grid.seeds:
        bench.write_record(
            folder,
            bench.Cell(group.dataset, group.augmenter, group.algorithm, s),
            bench.group_spec(grid, group),
            {"status": "done", "score_last": 1.0},
            {},
        )
    assert group not in bench.pending_groups(grid, "smoke")
    assert len(bench.load_records(grid, "smoke")) == 2
    changed = bench.parse_grid(GRID.replace("tatu = 2.0", "tatu = 3.0"))
    assert group in bench.pending_groups(changed, "smoke") and bench.load_records(changed, "smoke") == []


def test_goal_conditioned_rows_are_na_off_the_maze_and_full_only_rows_are_marked():
    """The lab grid: GCBC and chains need a maze (n/a on hopper); the maze's single-task TD rows run at full only,
    and the table says so with the grid's reason."""
    lab = bench.load_grid("lab")
    hopper, maze = "stitchkit/hopper/medium-replay-v0", "stitchkit/pointmaze-medium/stitch-v0"
    at_lab, at_full = set(lab.groups("lab")), set(lab.groups("full"))
    assert bench.Group(hopper, "none", "gcbc") not in at_full and bench.Group(hopper, "chain", "td3bc") not in at_full
    assert bench.Group(maze, "chain", "gcbc") in at_lab and bench.Group(maze, "none", "gcbc") in at_lab
    assert bench.Group(maze, "none", "td3bc") not in at_lab and bench.Group(maze, "none", "td3bc") in at_full
    assert len(lab.cells("lab")) == len(at_lab) * len(lab.seeds)
    assert lab.excluded(bench.Group(maze, "none", "iql"), "lab").startswith("full only: single-task TD")
    text = bench.table(lab, [], profile="lab")
    assert "| pointmaze-medium/stitch-v0 | td3bc | full only [1] |" in text and "[1] full only: single-task" in text
    assert "| hopper/medium-replay-v0 | gcbc |" not in text  # a row that is n/a everywhere is left out
    hopper_td3bc = next(line for line in text.splitlines() if line.startswith("| hopper/medium-replay-v0 | td3bc"))
    assert hopper_td3bc.rstrip(" |").endswith("n/a")  # chains need positions in a maze


def test_estimates_skip_runs_already_in_the_training_cache(data_root, monkeypatch):
    """A run the cache holds costs nothing in the estimates: ``is_finished`` is false before training and true
    after, names the folder ``run`` wrote; a longer run is another run."""
    from stitchkit.data import registry
    from stitchkit.train import is_finished, run, run_key

    job = dict(algo_name="bc", dataset_id="stitchkit/hopper/medium-replay-v0", seeds=2, profile="smoke")
    assert not is_finished(job)  # the dataset is not even built yet
    registry.load_episodes(job["dataset_id"], "smoke", build_missing=True)
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    seen = []
    real = bench.steps_per_second
    monkeypatch.setattr(
        bench, "steps_per_second", lambda *a, **k: seen.append(torch.get_num_threads()) or real(*a, **k)
    )
    assert not is_finished(job) and bench.estimate_runs([job]) > 0
    threads_after = torch.get_num_threads()
    torch.set_num_threads(before)
    assert seen == [1] and threads_after == 2  # probed at the workers' one thread; the kernel's own restored
    out = run(**job, progress=False)
    assert is_finished(job) and Path(out["run_dir"]) == run_key(**job)[0]
    assert bench.estimate_runs([job]) == 0.0
    assert not is_finished({**job, "steps": 2 * out["steps"]})  # a longer run is another run
    # a learner's per-dataset settings are part of the key: a run made before CORL's reward scale was declared for
    # IQL on hopper medium-replay is not taken for one made with it
    iql_key = run_key(**{**job, "algo_name": "iql"})[1]
    assert '["normalize_reward", true]' in iql_key and "normalize_reward" not in run_key(**job)[1]
