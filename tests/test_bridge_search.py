"""The bridge search's bookkeeping (issue 28): rows append and resume, errors are rows, and the verdict applies the
issue's bar (>= 10 points with the 95% intervals apart) to the numbers it is given."""

import json

import pytest

from stitchkit import bridge_search


def fake_row(axis, point, arm, learner, seeds, profile, options, success=50.0, ci=(40.0, 60.0)):
    return {
        "axis": axis,
        "point": point,
        "arm": arm,
        "learner": learner,
        "options": options,
        "success": success,
        "ci95": list(ci),
        "per_seed": [success] * seeds,
        "control": 100.0,
        "seconds": 0.0,
    }


def test_rows_are_appended_as_they_finish_and_a_rerun_skips_them(tmp_path, monkeypatch):
    calls = []

    def measure(*args):
        calls.append(args[:4])
        if args[2] == "astro":
            raise ValueError("chain accepted no generated data")
        return fake_row(*args)

    monkeypatch.setattr(bridge_search, "measure", measure)
    path = tmp_path / "rows.json"
    rows = bridge_search.run("smoke", ["walls"], seeds=2, path=path, log=lambda *_: None)
    arms = len(bridge_search.ARMS)
    assert len(rows) == 1 + 2 * arms and json.loads(path.read_text()) == rows  # original + 2 points x the arms
    assert [r["error"] for r in rows if r["arm"] == "astro"] == ["chain accepted no generated data"] * 2
    calls.clear()
    assert bridge_search.run("smoke", ["walls"], seeds=2, path=path, log=lambda *_: None) == rows
    assert calls == []  # nothing measured twice
    bridge_search.run("smoke", ["walls"], seeds=3, path=path, log=lambda *_: None)
    assert len(calls) == 1 + 2 * arms  # another seed count is another measurement


def test_processes_split_by_arm_share_one_rows_file(tmp_path, monkeypatch):
    """Two searches on separate cores, one arm each: a row the other process wrote meanwhile is kept."""
    path = tmp_path / "rows.json"

    def measure(*args):
        other = fake_row("walls", "elsewhere", "diffstitch", "gcbc", 2, None, None)
        path.write_text(json.dumps(json.loads(path.read_text() or "[]") + [other]) if path.exists() else "[]")
        return fake_row(*args)

    path.write_text("[]")
    monkeypatch.setattr(bridge_search, "measure", measure)
    rows = bridge_search.run("smoke", ["walls"], seeds=2, path=path, log=lambda *_: None, arms=["naive"])
    mine = [r for r in rows if r["point"] != "elsewhere"]
    assert {r["arm"] for r in mine} == {"naive"} and len(mine) == 2  # only the arm asked for, at both points
    assert sum(r["point"] == "elsewhere" for r in rows) == 2  # the other process's rows survived each append
    with pytest.raises(ValueError, match="unknown axis 'wall'"):
        bridge_search.run("smoke", ["wall"], path=path)


def test_the_verdict_needs_ten_points_and_intervals_apart():
    rows = [
        fake_row("gap", "near 6", "naive", "gcbc", 5, None, {"near": 6.0}, 43.0, (37.0, 52.0)),
        fake_row("gap", "near 6", "diffstitch", "gcbc", 5, None, {"near": 6.0}, 69.0, (63.0, 74.0)),  # +26, apart
        fake_row("gap", "near 6", "astro", "gcbc", 5, None, {"near": 6.0}, 54.0, (44.0, 64.0)),  # +11, overlapping
        fake_row("gap", "near 1", "naive", "gcbc", 5, None, {"near": 1.0}, 70.0, (65.0, 75.0)),
        fake_row("gap", "near 1", "diffstitch", "gcbc", 5, None, {"near": 1.0}, 76.0, (76.0, 80.0)),  # apart, +6
    ]
    text = bridge_search.verdicts(rows)
    assert len(text) == 3
    assert "diffstitch 69.0" in text[0] and "+26.0: **bridges pay**" in text[0]
    assert "astro 54.0" in text[1] and "+11.0: **not shown**" in text[1]
    assert "near 1" in text[2] and "+6.0: **not shown**" in text[2]


def test_is_the_model_needed_reads_the_last_evaluation_and_applies_the_bar():
    def result(finals, algo="td3bc"):
        early = [{"step": 10, "seed": s, "score": 99.0} for s in range(len(finals))]  # not the last evaluation
        return {"algo": algo, "curves": early + [{"step": 20, "seed": s, "score": v} for s, v in enumerate(finals)]}

    assert bridge_search.last_scores(result([1.0, 2.0])).tolist() == [1.0, 2.0]
    pays = bridge_search.model_needed("DiffStitch", result([60.0, 62.0, 64.0]), result([40.0, 41.0, 42.0]))
    assert pays.startswith("td3bc: DiffStitch 62.0") and "+21.0 points" in pays
    assert "**the generated bridges pay**" in pays
    close = bridge_search.model_needed("ASTRO", result([30.0, 50.0, 70.0]), result([25.0, 45.0, 65.0]))
    assert "+5.0 points" in close and "**not told apart" in close
    worse = bridge_search.model_needed("ASTRO", result([20.0, 21.0, 22.0]), result([40.0, 41.0, 42.0]))
    assert "**the naive joints do better**" in worse
    small = bridge_search.model_needed("ASTRO", result([20.0, 21.0, 22.0]), result([25.0, 26.0, 27.0]))
    assert "-5.0 points" in small and "**apart, but under the 10-point bar**" in small


def test_the_locomotion_axis_pairs_every_learner_with_original_naive_and_diffstitch(tmp_path, monkeypatch):
    def measure_locomotion(point, arm, learner, seeds, profile):
        row = fake_row("locomotion", point, arm, learner, seeds, profile, None) | {"control": None}
        return row if arm == "original" else row | {"joint_oracle_error": 0.5}

    monkeypatch.setattr(bridge_search, "measure_locomotion", measure_locomotion)
    rows = bridge_search.run("smoke", ["locomotion"], seeds=2, path=tmp_path / "rows.json", log=lambda *_: None)
    assert sorted((r["learner"], r["arm"]) for r in rows) == sorted(
        (algo, arm) for algo in ("td3bc", "iql", "dt") for arm in ("original", "naive", "diffstitch")
    )
    text = bridge_search.format_row(rows[1])
    assert text.startswith("locomotion ") and "control" not in text and "oracle 0.500" in text
    assert "through a wall" not in bridge_search.verdicts(rows)[0]


def test_the_reading_separates_the_filter_from_the_bridges_from_the_rows_alone():
    def row(point, arm, success, ci, **joints):
        r = fake_row("gap", point, arm, "gcbc", 10, None, {"near": float(point.split()[1])}, success, ci)
        return r | {"joint_gap": 3.0, "joint_wall_share": 0.2, "joint_oracle_error": 4.0} | joints

    rows = [
        row("near 1", "naive", 70.0, (65.0, 75.0)),
        row("near 8", "naive", 36.0, (24.0, 47.0)),
        row("near 8", "diffstitch", 84.0, (77.0, 90.0), joint_qualification_rate=0.27),
        row("near 8", "naive-kept", 83.0, (77.0, 90.0)),  # the same chains glued: level -> the filter
        row("near 8", "naive-blind", 35.0, (29.0, 40.0)),
        row("near 6", "naive", 41.0, (35.0, 47.0)),
        row("near 6", "diffstitch", 65.0, (58.0, 71.0), joint_qualification_rate=0.53),
        row("near 6", "naive-kept", 39.0, (28.0, 48.0)),  # glued falls below bridged -> the bridges
        row("near 6", "naive-blind", 34.0, (25.0, 43.0)),
    ]
    text = "\n".join(bridge_search.explain(rows))
    assert "from 70.0 [65.0, 75.0] at `near` 1 to 36.0 [24.0, 47.0] at 8" in text
    assert "at `near` 8 the chains DiffStitch keeps teach as much glued as bridged" in text
    assert "at `near` 6 the bridges themselves add" in text
    assert "**The walls.**" not in text and "**ASTRO.**" not in text  # their rows are missing: left out


def test_the_locomotion_reading_compares_bridges_with_the_same_pairs_glued():
    rows = [
        fake_row("locomotion", f"hopper-mr, {algo}", arm, algo, 5, None, None, score, ci)
        for algo in ("td3bc", "iql", "dt")
        for arm, score, ci in (("original", 20.0, (18, 22)), ("naive", 21.0, (19, 23)), ("diffstitch", 30.0, (28, 32)))
    ]
    (text,) = bridge_search.explain(rows, ("locomotion",))
    assert text.count("(DiffStitch against glued: +9.0, above, intervals apart)") == 3 and "- dt: original 20.0" in text
    rows[-1] = rows[-1] | {"ci95": (12.0, 48.0)}  # the same lead, noisy seeds: neither a win nor a tie
    (text,) = bridge_search.explain(rows, ("locomotion",))
    assert "- dt: original 20.0 [18.0, 22.0], DiffStitch 30.0 [12.0, 48.0]" in text
    assert text.endswith("(DiffStitch against glued: +9.0, intervals overlap)")
