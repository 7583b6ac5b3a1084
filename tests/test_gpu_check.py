"""benchmarks/gpu_check.py at --device cpu --tiny: every line the GPU check runs, so it cannot rot between the
rare device runs. The figures themselves mean nothing on a CPU; the JSON line's shape and invariants do."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT, subprocess_env


@pytest.mark.slow
def test_gpu_check_runs_on_the_cpu_and_prints_its_json_line(tmp_path):
    out = tmp_path / "check.json"
    env = subprocess_env(
        STITCHKIT_DATA=str(tmp_path / "data"),
        MINARI_DATASETS_PATH=str(tmp_path / "data/minari"),
        PYTHONPATH=str(ROOT),
        OMP_NUM_THREADS="1",
    )
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks/gpu_check.py"),
            "--device",
            "cpu",
            "--tiny",
            "--strict",
            "--seconds",
            "0.05",
            "--out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert line == json.loads(out.read_text())
    assert line["device"] == "cpu" and line["tiny"]
    for algo in ("bc", "td3bc", "iql", "cql", "dt", "gcbc", "gcivl"):
        row = line["learners"][algo]
        assert all(row[k] > 0 for k in ("eager_1", "eager_8", "graph_1", "graph_8"))
    for algo in ("bc", "td3bc", "iql", "cql", "gcbc", "gcivl"):  # same seed, same batches: graphed = eager
        assert line["learners"][algo]["graph_vs_eager_max_abs_diff"] == 0.0
    m = line["models"]
    assert m["diffstitch_unet_bf16_steps_per_s"] > 0
    assert m["diffstitch_unet_steps_per_s"] > 0 and m["ser_steps_per_s"] > 0 and m["astro_distance_steps_per_s"] > 0
    assert {"full", "strided"} <= {k.removeprefix("stitch_") for k in m}
    assert line["tels"]["tsidm_steps_per_s_8"] > 0
    assert line["evaluation"]["env_steps_per_s"] > 0
    est = line["estimate_full_grid"]
    from stitchkit import bench

    full = bench.load_grid("full").groups("full")  # 76: goal-conditioned learners and chains only on the maze
    assert est["groups"] == len(full) == 76 and est["total_hours"] > est["train_hours"] > 0
    assert not est["learners_not_timed"]


def test_gpu_check_refuses_a_device_this_machine_lacks(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/gpu_check.py"), "--device", "cuda"],
        env=subprocess_env(PYTHONPATH=str(ROOT), STITCHKIT_DATA=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "torch sees no CUDA GPU here" in proc.stderr
