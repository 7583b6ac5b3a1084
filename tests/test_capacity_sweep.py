"""Notebook 02's recorded capacity sweep: the runs it asks for, and the sentences it prints from a record."""

from __future__ import annotations

import json

from stitchkit import capacity_sweep
from stitchkit.profiles import get_profile


def test_sweep_runs_both_arms_at_two_widths_to_twice_the_budget():
    prof = get_profile("lab")
    jobs = capacity_sweep.jobs(prof, seeds=3)
    assert set(jobs) == {(arm, w) for arm in capacity_sweep.ARMS for w in capacity_sweep.widths(prof)}
    assert capacity_sweep.widths(prof) == (prof.goals.hidden, tuple(2 * w for w in prof.goals.hidden))
    for (arm, width), job in jobs.items():
        assert job["steps"] == 2 * prof.goals.steps and job["hidden"] == width and job["seeds"] == 3
        assert job.get("augmented_id") == capacity_sweep.ARMS[arm]  # the original arm has no generated data
        assert ("ratio" in job) == (arm != "original")


def _record(original_last: float, chains_last: float) -> dict:
    runs = []
    for width in ((128, 128), (256, 256)):
        for arm, last in (("original", original_last), ("DiffStitch chains", chains_last)):
            runs.append(
                {
                    "arm": arm,
                    "width": list(width),
                    "steps": [5000, 10000, 15000, 20000],
                    "mean": [0.0, 10.0, 15.0, last],
                    "per_seed": [[0, 0], [10, 10], [15, 15], [last - 1, last + 1]],
                }
            )
    return {"budget": 10000, "seeds": 2, "runs": runs}


def test_verdicts_say_who_leads_at_the_largest_budget():
    lead = capacity_sweep.verdicts(_record(original_last=20.0, chains_last=60.0))
    assert len(lead) == 2 and all("original 20%, DiffStitch chains 60%: the chains keep their lead" in v for v in lead)
    caught = capacity_sweep.verdicts(_record(original_last=60.0, chains_last=55.0))
    assert all("the original data have caught up" in v for v in caught)
    assert "MLP (256, 256), 20000 steps (2 seeds)" in lead[1]


def test_table_reads_a_half_one_and_two_budgets_per_seed():
    rows = capacity_sweep.table(_record(20.0, 60.0)).splitlines()[2:]
    assert len(rows) == 2 * 2 * len(capacity_sweep.BUDGETS)  # widths x arms x budgets (5k, 10k, 20k are recorded)
    assert "| (128, 128) | 20000 | DiffStitch chains | 60 | [59, 61] |" in rows


def test_load_reads_a_record_and_says_none_when_absent(tmp_path):
    assert capacity_sweep.load("lab", tmp_path / "missing.json") is None
    path = tmp_path / "lab.json"
    path.write_text(json.dumps(_record(1.0, 2.0)))
    assert capacity_sweep.curve(capacity_sweep.load("lab", path), "original", (256, 256))["mean"][-1] == 1.0
