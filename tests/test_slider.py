"""ParameterSlider: the live slider swaps to the frame of the value chosen; the report's player holds one frame per
value, self-contained (no kernel); a slider over one value is an error."""

import matplotlib
import pytest

from stitchkit.slider import ParameterSlider

matplotlib.use("Agg")


def _draw(fig, value: float) -> None:
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, value])
    ax.set_ylim(0, 3)


def test_the_live_slider_shows_the_frame_of_the_value_chosen():
    s = ParameterSlider("slope", (0.5, 1.0, 2.0), _draw, figsize=(3, 2), start=1)
    box = s.widget()
    slider, image = box.children
    assert image.value == s.png(1) and slider.value == 1
    slider.value = 2
    assert image.value == s.png(2) and s.png(2) != s.png(1)


def test_the_report_player_holds_one_frame_per_value_and_needs_no_kernel(monkeypatch):
    monkeypatch.setenv("STITCHKIT_REPORT", "1")
    s = ParameterSlider("slope", (0.5, 1.0, 2.0, 3.0), _draw, figsize=(3, 2))
    html = s.to_html()
    assert html.count("data:image/png;base64,") == 4  # every value precomputed, embedded in the page
    assert "<script" in html and "slope" in html and "http" not in html.split("<script", 1)[1].split("</script>")[0]


def test_a_slider_needs_two_values_and_a_valid_start():
    with pytest.raises(ValueError, match="at least two values"):
        ParameterSlider("x", (1,), _draw)
    with pytest.raises(ValueError, match="start=5 is not an index of the 2 values"):
        ParameterSlider("x", (1, 2), _draw, start=5)
