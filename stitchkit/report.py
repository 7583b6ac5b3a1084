"""``make report``: execute every notebook at a profile and write one HTML page each, plus an index.

Notebooks run through nbclient with ``STITCHKIT_REPORT=1``, which tells the viewers to emit self-contained
animations instead of widgets (a static page has no kernel to drive a widget). Each page is written to a
temporary file and renamed into place, so a failed or interrupted run never leaves a half-written report.
"""

from __future__ import annotations

import html
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from stitchkit.files import atomic_write_text
from stitchkit.paths import notebooks_dir, reports_dir
from stitchkit.profiles import get_profile


@dataclass
class PageResult:
    notebook: str
    page: str
    ok: bool
    seconds: float
    error: str = ""


def list_notebooks(folder: Path | None = None) -> list[Path]:
    """The course notebooks, in order: ``NN_name.py`` files in ``notebooks/``."""
    return sorted((folder or notebooks_dir()).glob("[0-9][0-9]_*.py"))


def execute_notebook(path: Path, profile: str, timeout: int = 3600):
    """Execute one py:percent notebook in a fresh kernel (cwd = its folder, as nbmake does); return (nb, error)."""
    import jupytext
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = jupytext.read(path)
    env = {"STITCHKIT_PROFILE": profile, "STITCHKIT_REPORT": "1"}
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


SOLUTION_TAG = "solution"


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


def build_report(
    profile: str | None = None, notebooks: list[Path] | None = None, out_dir: Path | None = None, timeout: int = 3600
) -> list[PageResult]:
    """Execute ``notebooks`` (default: all) at ``profile`` and write ``<out_dir>/<name>.html`` and ``index.html``."""
    from nbconvert import HTMLExporter

    profile = get_profile(profile).name
    out_dir = out_dir or reports_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(embed_images=True)
    results = []
    for path in notebooks or list_notebooks():
        t0 = time.perf_counter()
        nb, error = execute_notebook(path, profile, timeout)
        body, _ = exporter.from_notebook_node(nb)
        page = path.stem + ".html"
        atomic_write_text(out_dir / page, body)
        results.append(PageResult(path.name, page, not error, time.perf_counter() - t0, error))
    # the index links every page in the folder: pages built now, and earlier ones a partial run left in place
    manifest_path = out_dir / "index.json"
    try:
        earlier = {r["notebook"]: r for r in json.loads(manifest_path.read_text())}
    except (OSError, ValueError):
        earlier = {}
    found = {
        f.stem + ".py": {
            "notebook": f.stem + ".py",
            "page": f.name,
            "ok": True,
            "seconds": 0.0,
            "error": "",
            "profile": "?",
        }
        for f in out_dir.glob("[0-9][0-9]_*.html")
    }  # built before the manifest
    merged = {**found, **earlier, **{r.notebook: {**r.__dict__, "profile": profile} for r in results}}
    pages = [r for _, r in sorted(merged.items()) if (out_dir / r["page"]).exists()]
    atomic_write_text(manifest_path, json.dumps(pages, indent=1))
    atomic_write_text(
        out_dir / "index.html",
        render_index(
            [PageResult(**{k: r[k] for k in PageResult.__dataclass_fields__}) for r in pages],
            profile,
            {r["notebook"]: r.get("profile", "?") for r in pages},
        ),
    )
    return results


def render_index(results: list[PageResult], profile: str, profiles: dict[str, str] | None = None) -> str:
    profiles = profiles or {}
    rows = "\n".join(
        f"<tr><td><a href='{html.escape(r.page)}'>{html.escape(r.notebook)}</a></td>"
        f"<td>{'ok' if r.ok else 'FAILED: ' + html.escape(r.error)}</td><td>{r.seconds:.1f} s</td>"
        f"<td>{html.escape(profiles.get(r.notebook, profile))}</td></tr>"
        for r in results
    )
    stamp = time.strftime("%Y-%m-%d %H:%M")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>stitchkit report</title>"
        "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}td,th{padding:.3em 1em}</style>"
        f"</head><body><h1>stitchkit report</h1><p>Last build at profile <b>{profile}</b>, {stamp}.</p>"
        f"<table><tr><th>notebook</th><th>status</th><th>time</th><th>profile</th></tr>\n{rows}\n</table></body></html>\n"
    )
