"""Readings come from the run (issue 29): no notebook's prose carries a hand-typed result - a mean ± std, an
interval, a wall time - that nothing recomputes. Settings, paper values and equations are fine; a measured result
is printed by a code cell from the run (or read from committed records)."""

import re

import jupytext

from stitchkit.report import list_notebooks

TYPED_RESULT = re.compile(
    r"\d(?:\.\d+)? ± \d"  # a mean ± std
    r"|\d\.\d \[\d"  # a score with its interval
    r"|wall time \d|took \d+(?:\.\d)? min"  # a measured duration
)


def test_no_notebook_prose_types_a_run_result():
    found = []
    for path in list_notebooks():
        for cell in jupytext.read(path).cells:
            if cell.cell_type == "markdown":
                found += [
                    f"{path.stem}: ...{cell.source[max(0, m.start() - 60) : m.end() + 20]}..."
                    for m in TYPED_RESULT.finditer(cell.source)
                ]
    assert not found, "hand-typed results (print them from the run instead):\n" + "\n".join(found)


def test_the_pattern_catches_what_it_is_for():
    assert TYPED_RESULT.search("TD3+BC ends at 54.6 ± 30.1") and TYPED_RESULT.search("naive 70.4 [64.4, 77.6]")
    assert TYPED_RESULT.search("notebook wall time 7.3 min") and TYPED_RESULT.search("the notebook took 11.4 min")
    assert not TYPED_RESULT.search("pessimism 3.5, real ratio 0.7, H = 5") and not TYPED_RESULT.search("[0, 1]")
