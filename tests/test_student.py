"""The student edition as an instructor hands it out (issue 29): every notebook with its solution cells removed,
run at `smoke` with no answer filled in. Each unanswered exercise must fail in its own ``check`` cell, with "no
answer yet" and its hint, and every other cell - including those after an exercise - must run. The instructor
edition passing every check is nbmake's run of the notebooks themselves."""

import ast
import re

import nbformat
import pytest
from nbclient import NotebookClient

from stitchkit.report import list_notebooks, student_edition

NOTEBOOKS = {p.stem: p for p in list_notebooks()}


def check_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and re.search(r"^check\(", c.source, re.M)]


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_unanswered_exercises_fail_only_in_their_checks_with_their_hints(name, tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHKIT_PROFILE", "smoke")  # the kernel inherits this process's environment
    path = NOTEBOOKS[name]
    (out,) = student_edition(tmp_path, [path])
    nb = nbformat.read(out, as_version=4)
    assert not any("solution" in c.metadata.get("tags", []) for c in nb.cells)
    NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=True).execute(cwd=str(path.parent))
    checks = check_cells(nb)
    assert checks, f"{name} has no exercise"
    for cell in nb.cells:
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if cell in checks:
            assert errors, f"{name}: an unanswered check passed:\n{cell.source}"
            err = errors[0]
            assert err.ename == "AssertionError" and "no answer yet" in err.evalue, f"{name}: {err.ename}: {err.evalue}"
            assert len(err.evalue.split("no answer yet.", 1)[1].strip()) > 10, f"{name}: no hint in {err.evalue!r}"
        else:
            assert not errors, (
                f"{name}: a cell failed outside a check:\n{cell.source[:300]}\n{errors[0].ename}: "
                + (errors[0].evalue[:300])
            )


def _plain(node) -> bool:
    """A literal a reader sees as the answer: a number, a bool, a string or a -number."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and node.value is not None


def test_no_check_cell_of_the_student_edition_shows_its_expected_value(tmp_path):
    """A check holds a hash (``hashed=``), a property (``satisfies=``) or a value computed from the run, never the
    expected answer as a literal a student could copy (issue 45: 00 ex. 1 checked against 0, 03 ex. 2 True)."""
    shown = []
    for out in student_edition(tmp_path, list(NOTEBOOKS.values())):
        for cell in check_cells(nbformat.read(out, as_version=4)):
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "check":
                    expected = node.args[2] if len(node.args) > 2 else None
                    expected = next((k.value for k in node.keywords if k.arg == "expected"), expected)
                    if expected is not None and _plain(expected):
                        shown.append(f"{out.stem}: {ast.unparse(node)[:100]}")
    assert not shown, "check cells that show their answer:\n" + "\n".join(shown)
