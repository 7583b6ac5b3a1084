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
    assert len(rows) == 1 + 2 * 3 and json.loads(path.read_text()) == rows  # original + 2 points x 3 arms
    assert [r["error"] for r in rows if r["arm"] == "astro"] == ["chain accepted no generated data"] * 2
    calls.clear()
    assert bridge_search.run("smoke", ["walls"], seeds=2, path=path, log=lambda *_: None) == rows
    assert calls == []  # nothing measured twice
    bridge_search.run("smoke", ["walls"], seeds=3, path=path, log=lambda *_: None)
    assert len(calls) == 7  # another seed count is another measurement
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
