"""A person's view, in headless Chromium: the StitchViewer in JupyterLab, and the static report with no kernel."""

import shutil
import time
from pathlib import Path

import pytest
from conftest import ROOT
from labserver import lab_server

from stitchkit.report_check import FLAGS

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NOTEBOOK = "03_seeing_trajectories"


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `.ci/run` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def test_viewer_slider_changes_the_frame_in_jupyterlab(browser, tmp_path):
    # autosave off: running the notebook must not write outputs into the checkout's notebook files
    settings = tmp_path / "settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text('{"autosave": false}')
    args = f"--LabApp.expose_app_in_browser=True --LabApp.user_settings_dir={tmp_path / 'settings'}"
    before_src = (ROOT / "notebooks" / f"{NOTEBOOK}.py").read_text()
    with lab_server(str(tmp_path), "smoke", extra_args=args) as (base, token):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/lab/tree/{NOTEBOOK}.ipynb?token={token}")
        page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook')", timeout=120_000)
        page.wait_for_function(  # a kernel is up and idle before running
            "(() => { const w = window.jupyterapp.shell.currentWidget;"
            " return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
            " && w.sessionContext.session.kernel.status === 'idle'; })()",
            timeout=120_000,
        )
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        frame = page.locator(".stitch-viewer-frame").first
        frame.wait_for(state="visible", timeout=300_000)
        frame.scroll_into_view_if_needed()
        time.sleep(1)
        before = frame.screenshot()
        handle = page.locator(".stitch-viewer-slider .noUi-handle").first
        handle.focus()
        for _ in range(40):
            handle.press("ArrowRight")
        page.wait_for_timeout(3000)  # the kernel renders the new frame and sends it back
        after = frame.screenshot()
        assert before != after, "moving the slider did not change the displayed frame"
        page.close()
    assert (ROOT / "notebooks" / f"{NOTEBOOK}.py").read_text() == before_src


def test_report_page_animates_without_a_kernel(browser, tmp_path, monkeypatch):
    from stitchkit.report import build_report

    monkeypatch.setenv("STITCHKIT_DATA", str(tmp_path))  # restored afterwards, whatever it was
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    results = build_report("smoke", [ROOT / "notebooks" / f"{NOTEBOOK}.py"], tmp_path / "reports", timeout=600)
    assert results[0].ok, results[0].error
    page = browser.new_page()
    page.goto((tmp_path / "reports" / f"{NOTEBOOK}.html").as_uri())
    img = page.locator("img[id^='_anim_img']").first
    img.wait_for(state="attached", timeout=30_000)
    src0 = img.get_attribute("src")
    page.evaluate("""() => { const s = document.querySelector("input[id^='_anim_slider']");
                             s.value = s.max; s.dispatchEvent(new Event('input')); }""")
    page.wait_for_timeout(500)
    assert img.get_attribute("src") != src0, "the report's animation did not move to another frame"
    assert "_anim_img" in (tmp_path / "reports" / f"{NOTEBOOK}.html").read_text()
    page.close()


def test_report_reads_well_offline(tmp_path, monkeypatch):
    """`stitchkit report --check` on a real notebook's page and one with math and a player: from disk, every
    request off the disk refused, each page has a figure, typeset math, drawn buttons and no traceback."""
    from test_report import OFFLINE

    from stitchkit.report import build_report
    from stitchkit.report_check import check_pages

    monkeypatch.setenv("STITCHKIT_DATA", str(tmp_path))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    (tmp_path / "50_offline.py").write_text(OFFLINE)
    notebooks = [ROOT / "notebooks" / f"{NOTEBOOK}.py", tmp_path / "50_offline.py"]
    assert all(r.ok for r in build_report("smoke", notebooks, tmp_path / "reports", timeout=600))
    pages = {r["page"]: r for r in check_pages(tmp_path / "reports")}
    assert sorted(pages) == [f"{NOTEBOOK}.html", "50_offline.html"]
    for r in pages.values():
        assert not r["problems"], r
        assert all("mathjax" not in u.lower() and "font-awesome" not in u for u in r["external_requests"]), r
    assert pages["50_offline.html"]["math"] >= 1 and pages["50_offline.html"]["buttons"] == 9
    (tmp_path / "reports" / "50_offline.html").write_text(
        (tmp_path / "reports" / "50_offline.html").read_text() + "<pre>Traceback (most recent call last)</pre>"
    )
    shutil.rmtree(tmp_path / "reports" / "mathjax")  # what a page looked like before: raw TeX, and the check says so
    bad = {r["page"]: r["problems"] for r in check_pages(tmp_path / "reports")}["50_offline.html"]
    assert "a traceback" in bad and any("raw TeX" in p for p in bad)
