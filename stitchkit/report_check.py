"""``stitchkit report --check``: open the report as a reader would, from disk, with the network cut off.

Why a browser: whether a page shows its figures, renders ``$s_T$`` and draws the animation player's buttons is
decided by what the browser loads, not by the HTML text. Headless Chromium (Debian's ``chromium`` package, driven
by Playwright; both in ``stitchkit[dev]``) opens ``index.html`` and every page it links, every request that
leaves the disk refused, and checks on each page: at least one figure, no traceback, no raw TeX left after
MathJax has run, and no blank player button.
"""

from __future__ import annotations

import shutil
from pathlib import Path

FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# MathJax 2 has typeset the page when its queue is empty; a page without MathJax has nothing to wait for
_MATH_DONE = (
    "() => !window.MathJax || (MathJax.Hub && MathJax.Hub.queue.pending === 0 && MathJax.Hub.queue.running === 0)"
)
_INSPECT = r"""() => {
  const outputs = document.querySelectorAll('.jp-OutputArea-output');
  let figures = 0;
  outputs.forEach(o => { figures += o.querySelectorAll('img, svg').length; });
  const text = document.body.innerText;
  const raw = [];
  document.querySelectorAll('.jp-RenderedMarkdown').forEach(m => {
    const found = m.innerText.match(/\$[^$\s][^$\n]{0,40}\$/g);
    if (found) raw.push(...found);
  });
  const buttons = [...document.querySelectorAll('.anim-buttons button')];
  return {
    figures,
    traceback: text.includes('Traceback (most recent call last)'),
    math: document.querySelectorAll('.MathJax, .MathJax_CHTML, .MathJax_SVG, mjx-container').length,
    raw_tex: raw.slice(0, 5),
    buttons: buttons.length,
    blank_buttons: buttons.filter(b => !b.innerText.trim() || b.getBoundingClientRect().width === 0).length,
  };
}"""


def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError(f"no Chromium at {path}: install Debian's 'chromium' package (`.ci/run` does)")
    return path


def check_pages(out_dir: Path, timeout_ms: int = 60_000) -> list[dict]:
    """One dict per page linked from ``out_dir/index.html``: its figures, math and player buttons, the external
    requests it tried (all refused), and ``problems`` (empty when the page reads well offline)."""
    from playwright.sync_api import sync_playwright

    index = Path(out_dir).resolve() / "index.html"
    if not index.exists():
        raise FileNotFoundError(f"no report at {index}; build one with `make report` or `stitchkit report`")
    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=FLAGS)
        context = browser.new_context(offline=True)
        external: list[str] = []

        def refuse(route) -> None:
            url = route.request.url
            if url.startswith("file:"):
                route.continue_()
            else:
                external.append(url)
                route.abort()

        context.route("**/*", refuse)
        page = context.new_page()
        page.goto(index.as_uri())
        links = page.eval_on_selector_all("table a", "as => as.map(a => a.getAttribute('href'))")
        for link in links:
            external.clear()
            page.goto((index.parent / link).as_uri(), wait_until="load")
            page.wait_for_function(_MATH_DONE, timeout=timeout_ms)
            seen = page.evaluate(_INSPECT)
            problems = []
            if seen["figures"] == 0:
                problems.append("no figure")
            if seen["traceback"]:
                problems.append("a traceback")
            if seen["raw_tex"]:
                problems.append(f"raw TeX {seen['raw_tex']}")
            if seen["blank_buttons"]:
                problems.append(f"{seen['blank_buttons']} blank player buttons")
            results.append({"page": link, **seen, "external_requests": sorted(set(external)), "problems": problems})
        browser.close()
    return results
