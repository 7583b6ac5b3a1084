"""`make report` machinery: a notebook is executed at a profile and written as a self-contained HTML page."""

import json
import re
from pathlib import Path

from stitchkit.report import build_report, git_commit, list_notebooks, offline_page

TINY = """# %% [markdown]
# # A tiny notebook
# %% tags=["parameters"]
import os
PROFILE = os.environ.get("STITCHKIT_PROFILE", "lab")
# %%
print("profile is", PROFILE, "report mode", os.environ.get("STITCHKIT_REPORT"))
"""


def test_report_pages_and_index(tmp_path: Path):
    nb_dir = tmp_path / "nbs"
    nb_dir.mkdir()
    (nb_dir / "01_tiny.py").write_text(TINY + "# %% [markdown]\n# a [term](GLOSSARY.md#ddim)\n")
    (nb_dir / "02_broken.py").write_text(TINY + "# %%\nraise RuntimeError('boom')\n")
    out = tmp_path / "reports"
    results = build_report("smoke", list_notebooks(nb_dir), out, timeout=120)
    assert [r.ok for r in results] == [True, False]
    assert "boom" in results[1].error
    page = (out / "01_tiny.html").read_text()
    assert "profile is smoke report mode 1" in page
    index = (out / "index.html").read_text()
    assert "href='01_tiny.html'" in index and "FAILED" in index and "smoke" in index
    assert 'href="GLOSSARY.html#ddim"' in page  # the notebooks' term links point at the glossary page
    glossary = (out / "GLOSSARY.html").read_text()
    assert 'id="ddim"' in glossary and "href='GLOSSARY.html'" in index
    assert sorted(p.name for p in out.iterdir()) == [
        "01_tiny.cells.json",
        "01_tiny.html",
        "02_broken.cells.json",
        "02_broken.html",
        "GLOSSARY.html",
        "index.html",
        "index.json",
        "mathjax",
    ]
    assert git_commit() and git_commit().split("+")[0] in index  # each page's commit, and its build date
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d UTC</td>", index)
    # rebuilding one page keeps the other's link in the index
    build_report("smoke", [nb_dir / "01_tiny.py"], out, timeout=120)
    index = (out / "index.html").read_text()
    assert "href='01_tiny.html'" in index and "href='02_broken.html'" in index


FIRST = (
    TINY
    + """# %%
import os, time
time.sleep(8.0)  # longer than a kernel takes to start: 06 would find no mark if it did not wait
open(os.path.join(os.environ["MARK_DIR"], "first.done"), "w").close()
print("threads", os.environ.get("OMP_NUM_THREADS"))
"""
)
SECOND = (
    TINY
    + """# %%
import os
assert os.path.exists(os.path.join(os.environ["MARK_DIR"], "first.done")), "started before the notebook it needs"
"""
)


def test_report_two_at_a_time_waits_for_what_a_notebook_needs(tmp_path: Path, monkeypatch):
    """Two notebooks at once, but 06_astro waits for 05_diffstitch, whose cache it reads (`course.REUSES`), and
    05 goes first because 06 waits for it; each kernel gets its share of the cores' threads; the slowest cell is
    listed first."""
    from stitchkit.cores import usable_cores

    nb_dir = tmp_path / "nbs"
    nb_dir.mkdir()
    (nb_dir / "04_offline_rl.py").write_text(TINY)
    (nb_dir / "05_diffstitch.py").write_text(FIRST)
    (nb_dir / "06_astro.py").write_text(SECOND)
    monkeypatch.setenv("MARK_DIR", str(tmp_path))
    out = tmp_path / "reports"
    results = build_report("smoke", list_notebooks(nb_dir), out, timeout=120, workers=2)
    assert [r.notebook for r in results] == ["04_offline_rl.py", "05_diffstitch.py", "06_astro.py"]
    assert all(r.ok for r in results), [r.error for r in results]
    assert f"threads {max(1, usable_cores() // 2)}" in (out / "05_diffstitch.html").read_text()
    (_, seconds, first_line), *_ = json.loads((out / "05_diffstitch.cells.json").read_text())
    assert first_line == "import os, time" and seconds >= 8.0


OFFLINE = """# %% [markdown]
# # Offline
# The state $s_T$ of the last step.
# %%
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from IPython.display import HTML, display
from matplotlib.animation import FuncAnimation
fig, ax = plt.subplots(figsize=(2, 2))
line, = ax.plot([0, 1], [0, 1])
anim = FuncAnimation(fig, lambda i: line.set_ydata([0, i]), frames=3)
display(HTML(anim.to_jshtml()))
plt.close(fig)
# %% tags=["solution"]
answer = 42  # the instructor's solution
"""


def test_report_pages_need_no_network_and_fold_solutions(tmp_path: Path):
    """A page opened from disk without internet: MathJax comes from the report folder, the animation player's
    buttons are text glyphs (not a CDN icon font), and a solution cell is folded into <details>."""
    nb_dir = tmp_path / "nbs"
    nb_dir.mkdir()
    (nb_dir / "01_offline.py").write_text(OFFLINE)
    out = tmp_path / "reports"
    (result,) = build_report("smoke", list_notebooks(nb_dir), out, timeout=120)
    assert result.ok, result.error
    page = (out / "01_offline.html").read_text()
    assert (out / "mathjax" / "MathJax.js").exists() and (out / "mathjax" / "config" / "Safe.js").exists()
    assert 'src="mathjax/MathJax.js?config=' in page and "cdnjs.cloudflare.com/ajax/libs/mathjax" not in page
    assert "font-awesome" not in page and 'class="fa ' not in page and "\u25b6" in page
    folded = page[page.index('<details class="stitchkit-solution">') :]
    assert "the instructor's solution" in folded[: folded.index("</details>")]
    assert offline_page('<i class="fa fa-play"></i>') == '<span class="stitchkit-glyph">\u25b6</span>'


def test_course_notebooks_are_found_in_order():
    names = [p.name for p in list_notebooks()]
    assert names[0] == "00_tour.py" and names == sorted(names)


def test_course_time_prints_each_notebooks_wall_time_as_one_json_line(tmp_path):
    """``benchmarks/course_time.py`` runs the chosen notebooks in fresh kernels and ends with one JSON line; an
    unknown notebook is refused with the course's list."""
    import json
    import subprocess
    import sys

    from conftest import subprocess_env

    root = Path(__file__).resolve().parents[1]
    env = subprocess_env(
        STITCHKIT_DATA=str(tmp_path), MINARI_DATASETS_PATH=str(tmp_path / "minari"), OMP_NUM_THREADS="1"
    )
    cmd = [sys.executable, str(root / "benchmarks/course_time.py"), "--profile", "smoke"]
    proc = subprocess.run([*cmd, "00"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert line["profile"] == "smoke" and list(line["notebooks"]) == ["00_tour"] and line["failed"] == []
    assert line["total_seconds"] == line["notebooks"]["00_tour"] > 0
    bad = subprocess.run([*cmd, "99"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "02_goal_stitching" in bad.stderr
