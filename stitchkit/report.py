"""``make report``: execute every notebook at a profile and write one HTML page each, plus an index.

Notebooks run through nbclient with ``STITCHKIT_REPORT=1``, which tells the viewers to emit self-contained
animations instead of widgets (a static page has no kernel to drive a widget). Each page is written to a
temporary file and renamed into place, so a failed or interrupted run never leaves a half-written report.

Pages work offline, opened from disk: nbconvert's template and matplotlib's animation player fetch MathJax and an
icon font from CDNs, so the report ships MathJax (from the ``jupyter-server-mathjax`` package) in
``reports/mathjax/`` and the players' buttons get text glyphs instead of icons. Exercise solutions are folded
away (``<details>``), as a course would publish them.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from stitchkit.files import atomic_write_text
from stitchkit.paths import notebooks_dir, project_root, reports_dir
from stitchkit.profiles import get_profile


@dataclass
class PageResult:
    notebook: str
    page: str
    ok: bool
    seconds: float
    error: str = ""
    profile: str = "?"
    date: str = ""  # when the page was built (UTC)
    commit: str = ""  # the kit's git commit it was built from ("+changes": uncommitted edits)


MATHJAX = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
SOLUTION_TAG = "solution"  # an exercise's answer: folded in reports, removed from the student edition
#: a solution cell folds into <details> (the lab template's cells, otherwise unchanged)
TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{% block any_cell %}
{%- if 'SOLUTION_TAG' in cell.metadata.get('tags', []) -%}
<details class="stitchkit-solution"><summary>Solution (click to show)</summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{% endblock any_cell %}
""".replace("SOLUTION_TAG", SOLUTION_TAG)
#: matplotlib's animation player draws its buttons with Font Awesome from a CDN: blank offline. Text glyphs that
#: every system font has replace them.
PLAYER_GLYPHS = {
    "fa-minus": "\u2212",
    "fa-fast-backward": "|\u25c0\u25c0",
    "fa-step-backward": "|\u25c0",
    "fa-play fa-flip-horizontal": "\u25c0",
    "fa-pause": "\u275a\u275a",
    "fa-play": "\u25b6",
    "fa-step-forward": "\u25b6|",
    "fa-fast-forward": "\u25b6\u25b6|",
    "fa-plus": "+",
}


def offline_page(body: str) -> str:
    """Drop the player's icon-font link and put text glyphs in its buttons (see :data:`PLAYER_GLYPHS`)."""
    body = re.sub(r"<link[^>]*font-awesome[^>]*>", "", body)
    return re.sub(
        r'<i class="fa (fa-[a-z-]+(?: fa-flip-horizontal)?)"></i>',
        lambda m: f'<span class="stitchkit-glyph">{PLAYER_GLYPHS.get(m.group(1), m.group(1))}</span>',
        body,
    )


def install_mathjax(out_dir: Path) -> None:
    """Copy MathJax 2.7 from the ``jupyter-server-mathjax`` package into ``out_dir/mathjax`` (once; no
    translations), so ``$s_T$`` renders in a page opened without internet."""
    target = out_dir / "mathjax"
    if (target / "MathJax.js").exists():
        return
    try:
        import jupyter_server_mathjax
    except ImportError as err:
        raise RuntimeError(
            "the report needs MathJax from the 'jupyter-server-mathjax' package (in stitchkit[notebooks]): "
            "pip install jupyter-server-mathjax"
        ) from err
    src = Path(jupyter_server_mathjax.__file__).parent / "static"
    tmp = out_dir / ".mathjax.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("localization", "unpacked", "*.md"))
    tmp.rename(target)


def git_commit() -> str:
    """The short commit the kit runs from, "+changes" when the tree has uncommitted edits; "" outside git."""
    try:
        run = lambda *a: subprocess.run(
            ["git", *a], cwd=project_root(), capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = run("status", "--porcelain", "--untracked-files=no")
        return run("rev-parse", "--short", "HEAD") + ("+changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def list_notebooks(folder: Path | None = None) -> list[Path]:
    """The course notebooks, in order: ``NN_name.py`` files in ``notebooks/``."""
    return sorted((folder or notebooks_dir()).glob("[0-9][0-9]_*.py"))


def execute_notebook(path: Path, profile: str, timeout: int = 3600, threads: int | None = None):
    """Execute one py:percent notebook in a fresh kernel (cwd = its folder, as nbmake does); return (nb, error).
    ``threads``: the kernel's torch/BLAS threads (unset: the library's default, every core)."""
    import jupytext
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = jupytext.read(path)
    env = {"STITCHKIT_PROFILE": profile, "STITCHKIT_REPORT": "1"}
    if threads:
        env |= {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        ).execute()
        return nb, ""
    except CellExecutionError as err:
        return nb, str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def cell_seconds(nb) -> list[tuple[int, float, str]]:
    """Each executed code cell's wall time from nbclient's timing metadata: (cell index, seconds, first line),
    slowest first; what to cut when a notebook runs over its budget."""
    from datetime import datetime

    rows = []
    for i, cell in enumerate(nb.cells):
        ex = cell.get("metadata", {}).get("execution", {})
        a, b = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
        if cell.cell_type == "code" and a and b:
            secs = (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()
            first = cell.source.strip().splitlines()[0][:80] if cell.source.strip() else ""
            rows.append((i, round(secs, 1), first))
    return sorted(rows, key=lambda r: -r[1])


def student_edition(out_dir: Path | None = None, notebooks: list[Path] | None = None) -> list[Path]:
    """The notebooks as handed out in a course lab: every cell tagged ``solution`` removed, the exercise prompts
    (``answer_k = None  # your code here``) and the ``check`` cells kept, so each check fails with its hint until
    the student writes an answer. Written as ``.ipynb`` (what JupyterLab opens) into ``out_dir`` (default
    ``student/`` in the project), each atomically."""
    import jupytext

    from stitchkit.paths import project_root

    out_dir = Path(out_dir or project_root() / "student")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks or list_notebooks():
        nb = jupytext.read(path)
        nb.cells = [c for c in nb.cells if SOLUTION_TAG not in c.metadata.get("tags", [])]
        target = out_dir / f"{path.stem}.ipynb"
        atomic_write_text(target, jupytext.writes(nb, fmt="ipynb"))
        written.append(target)
    return written


def _exporter():
    import jinja2
    from nbconvert import HTMLExporter

    return HTMLExporter(
        embed_images=True,
        mathjax_url=MATHJAX,
        extra_loaders=[jinja2.DictLoader({"stitchkit.html.j2": TEMPLATE})],
        template_file="stitchkit.html.j2",
    )


def build_page(path: Path, profile: str, out_dir: Path, timeout: int, commit: str, threads: int | None) -> PageResult:
    """Execute one notebook and write its page; its per-cell times go to ``<name>.cells.json`` beside it."""
    t0 = time.perf_counter()
    nb, error = execute_notebook(path, profile, timeout, threads)
    body, _ = _exporter().from_notebook_node(nb)
    body = body.replace('href="GLOSSARY.md', 'href="GLOSSARY.html')  # the glossary travels as a page too
    page = path.stem + ".html"
    atomic_write_text(out_dir / page, offline_page(body))
    atomic_write_text(out_dir / f"{path.stem}.cells.json", json.dumps(cell_seconds(nb)) + "\n")
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return PageResult(path.name, page, not error, time.perf_counter() - t0, error, profile, stamp, commit)


def build_report(
    profile: str | None = None,
    notebooks: list[Path] | None = None,
    out_dir: Path | None = None,
    timeout: int = 3600,
    workers: int = 1,
) -> list[PageResult]:
    """Execute ``notebooks`` (default: all) at ``profile`` and write ``<out_dir>/<name>.html`` and ``index.html``.

    ``workers`` > 1 executes that many notebooks at once, each kernel with its share of the cores' threads; a
    notebook starts only after those whose cache it reads (``stitchkit.course.REUSES``), and among the ready ones
    those that others wait for go first. Why: a notebook's single-core stretches (environment steps, plotting,
    kernel start) leave a 2-core machine half idle; its training cells already use both cores (``run_many``), so
    the gain is in those stretches only (``results/course_time/report_lab.json``). Its times are then each
    notebook's time beside another, not alone: only a one-at-a-time build of the course is recorded as its timing."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from multiprocessing import get_context

    from stitchkit.course import REUSES

    profile = get_profile(profile).name
    out_dir = out_dir or reports_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    install_mathjax(out_dir)
    commit = git_commit()
    paths = list(notebooks or list_notebooks())
    if workers <= 1:
        results = [build_page(path, profile, out_dir, timeout, commit, None) for path in paths]
    else:
        from stitchkit.cores import usable_cores

        threads = max(1, usable_cores() // workers)
        stems = {p.stem for p in paths}
        needs = {p.stem: [n for n in REUSES.get(p.stem, ()) if n in stems] for p in paths}
        waiters = {s: sum(s in needs[t] for t in stems) for s in stems}  # notebooks that wait for it
        order = {p.stem: i for i, p in enumerate(paths)}
        done: dict[str, PageResult] = {}
        waiting, running = list(paths), {}
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            while waiting or running:
                ready = [p for p in waiting if all(n in done for n in needs[p.stem])]
                ready.sort(key=lambda p: (-waiters[p.stem], order[p.stem]))
                for path in ready[: workers - len(running)]:
                    waiting.remove(path)
                    running[pool.submit(build_page, path, profile, out_dir, timeout, commit, threads)] = path
                if not running:  # nothing can start: the notebooks wait on each other
                    raise ValueError(f"course.REUSES has a cycle among {[p.stem for p in waiting]}")
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    done[running.pop(fut).stem] = fut.result()
        results = [done[p.stem] for p in paths]
    write_glossary(out_dir)
    if notebooks is None and workers <= 1 and results and all(r.ok for r in results):  # the course's timing
        import platform

        from stitchkit.course import record_times, update_readme

        machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
        secs = {Path(r.notebook).stem: round(r.seconds, 1) for r in results}
        line = {"profile": profile, "machine": machine, "notebooks": secs, "failed": [], "source": "make report"}
        record_times(line)
        if profile == "lab":
            update_readme(line)
    # the index links every page in the folder: pages built now, and earlier ones a partial run left in place
    manifest_path = out_dir / "index.json"
    try:
        earlier = {r["notebook"]: r for r in json.loads(manifest_path.read_text())}
    except (OSError, ValueError):
        earlier = {}
    found = {
        f.stem + ".py": PageResult(f.stem + ".py", f.name, True, 0.0).__dict__
        for f in out_dir.glob("[0-9][0-9]_*.html")
    }
    merged = {**found, **earlier, **{r.notebook: r.__dict__ for r in results}}
    fields = PageResult.__dataclass_fields__
    pages = [PageResult(**{k: v for k, v in r.items() if k in fields}) for _, r in sorted(merged.items())]
    pages = [r for r in pages if (out_dir / r.page).exists()]
    atomic_write_text(manifest_path, json.dumps([r.__dict__ for r in pages], indent=1))
    atomic_write_text(out_dir / "index.html", render_index(pages, profile))
    return results


def write_glossary(out_dir: Path) -> Path | None:
    """``notebooks/GLOSSARY.md`` as ``GLOSSARY.html`` beside the pages, so the notebooks' term links work in the
    report as they do in JupyterLab."""
    from nbconvert.filters.markdown import markdown2html

    from stitchkit.paths import project_root

    src = project_root() / "notebooks" / "GLOSSARY.md"
    if not src.exists():
        return None
    body = markdown2html(src.read_text())
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>stitchkit glossary</title>"
        "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto;line-height:1.45}</style></head>"
        f"<body><p><a href='index.html'>stitchkit report</a></p>{body}</body></html>\n"
    )
    atomic_write_text(out_dir / "GLOSSARY.html", page)
    return out_dir / "GLOSSARY.html"


def render_index(results: list[PageResult], profile: str) -> str:
    """The report's front page: every notebook with its status, wall time, profile, build date and commit."""
    rows = "\n".join(
        f"<tr><td><a href='{html.escape(r.page)}'>{html.escape(r.notebook)}</a></td>"
        f"<td>{'ok' if r.ok else 'FAILED: ' + html.escape(r.error)}</td><td>{_minutes(r.seconds)}</td>"
        f"<td>{html.escape(r.profile)}</td><td>{html.escape(r.date)}</td><td><code>{html.escape(r.commit)}</code></td></tr>"
        for r in results
    )
    total = sum(r.seconds for r in results)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>stitchkit report</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:.3em 1em;text-align:left}"
        "</style></head><body><h1>stitchkit report</h1><p><a href='GLOSSARY.html'>Glossary</a></p>"
        f"<p>Last build at profile <b>{html.escape(profile)}</b>. Wall time is each notebook's own run (a fresh "
        f"kernel; <code>make report</code> runs two at a time, so most ran beside another); listed pages together: "
        f"{_minutes(total)}.</p>"
        "<table><tr><th>notebook</th><th>status</th><th>wall time</th><th>profile</th><th>built</th><th>commit</th>"
        f"</tr>\n{rows}\n</table></body></html>\n"
    )


def _minutes(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:02.0f} s"
