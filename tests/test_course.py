"""The course map (issue 29): every notebook listed once with what it needs first, minutes read from a record."""

from stitchkit import course
from stitchkit.report import list_notebooks


def test_the_map_lists_every_notebook_and_its_prerequisites_come_first():
    stems = [p.stem for p in list_notebooks()]
    assert list(course.COURSE) == stems
    for nb, (_, needs) in course.COURSE.items():
        assert all(stems.index(n) < stems.index(nb) for n in needs), nb
    assert set(course.LIVE_2H) <= set(stems)


def test_minutes_come_from_the_record_and_say_when_missing(tmp_path):
    secs = {nb: 60.0 * (i + 1) for i, nb in enumerate(course.COURSE)}  # 1, 2, ..., 10 minutes
    secs["09_benchmark"] = 13 * 60.0
    line = {"profile": "lab", "machine": "test box", "notebooks": secs, "failed": []}
    path = course.record_times(line, tmp_path / "lab.json")
    text = course.course_map("lab", course.load_times(path=path))
    assert "| `01_datasets` | the datasets, built offline; headroom | 2.0 | 00_tour |" in text
    assert "13.0 (over budget)" in text and "on test box" in text
    live = sum(secs[nb] for nb in course.LIVE_2H) / 60
    assert f"({live:.0f} min of" in text and f"({sum(secs.values()) / 60:.0f} min of computing" in text
    empty = course.course_map("lab", {})
    assert "not yet measured" in empty and "min of computing" not in empty


def test_readmes_notebook_map_is_the_record():
    from stitchkit.paths import project_root

    readme = (project_root() / "README.md").read_text()
    assert course.readme_block(course.load_times("lab")) in readme  # rewrite it: course.update_readme()


def test_the_readme_block_is_rewritten_between_its_markers(tmp_path):
    path = tmp_path / "README.md"
    path.write_text(f"intro\n{course.README_START}\nold table\n{course.README_END}\noutro\n")
    line = {"profile": "lab", "machine": "box", "notebooks": {"00_tour": 30.0}, "failed": []}
    text = course.update_readme(line, path).read_text()
    assert text.startswith("intro\n") and text.endswith("\noutro\n") and "old table" not in text
    assert "| `00_tour` |" in text and "| 0.5 |" in text and "| `01_datasets` |" in text and " | - |" in text
