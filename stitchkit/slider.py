"""ParameterSlider: one figure redrawn for each value of one parameter, to look at an idea instead of reading it.

In a live kernel it is an ipywidgets slider over the values (each frame drawn when first shown, then kept); in the
HTML report (``STITCHKIT_REPORT=1``, or any page without a kernel) it renders every value up front as a
self-contained JavaScript player whose own slider steps through them, because a widget's callbacks need a kernel.
Either way the figure for a value is drawn by the same ``draw(fig, value)`` function.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

from stitchkit.profiles import report_mode


class ReportAware:
    """Shown as its widget in a live kernel, as self-contained HTML in a report (``STITCHKIT_REPORT=1``) or wherever
    no widget can be shown: a widget's callbacks need a kernel. Subclasses give ``widget()`` and ``to_html()``."""

    def widget(self):
        raise NotImplementedError

    def to_html(self) -> str:
        raise NotImplementedError

    def _repr_html_(self) -> str:  # where no widget can be shown
        return self.to_html()

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        if report_mode():
            display(HTML(self.to_html()))
        else:
            display(self.widget())


class ParameterSlider(ReportAware):
    """``ParameterSlider("RADIUS", values, draw)`` as a cell's last expression. ``draw(fig, value)`` draws one
    frame on an empty figure (it makes its own axes); ``fmt`` labels a value."""

    def __init__(
        self,
        name: str,
        values: Sequence[Any],
        draw: Callable[[Any, Any], None],
        figsize: tuple[float, float] = (6.0, 4.0),
        fmt: Callable[[Any], str] = str,
        start: int = 0,
    ) -> None:
        if len(values) < 2:
            raise ValueError(f"ParameterSlider {name!r} needs at least two values, got {len(values)}")
        if not 0 <= start < len(values):
            raise ValueError(f"start={start} is not an index of the {len(values)} values")
        self.name, self.values, self.draw, self.figsize, self.fmt, self.start = (
            name,
            list(values),
            draw,
            figsize,
            fmt,
            start,
        )
        self._png: dict[int, bytes] = {}

    def png(self, i: int) -> bytes:
        """Frame ``i`` as PNG bytes (drawn once)."""
        if i not in self._png:
            import matplotlib.pyplot as plt

            fig = plt.figure(figsize=self.figsize, dpi=80)
            self.draw(fig, self.values[i])
            fig.suptitle(f"{self.name} = {self.fmt(self.values[i])}", fontsize=10)
            buf = io.BytesIO()
            fig.savefig(buf, format="png")  # a fixed size: every frame the same shape, so the player can swap them
            plt.close(fig)
            self._png[i] = buf.getvalue()
        return self._png[i]

    def widget(self):
        """The live slider: a SelectionSlider over the values and the frame of the one selected."""
        import ipywidgets as w

        image = w.Image(value=self.png(self.start), format="png")
        slider = w.SelectionSlider(
            options=[(self.fmt(v), i) for i, v in enumerate(self.values)],
            value=self.start,
            description=self.name,
            continuous_update=False,
            layout=w.Layout(width="60%"),
        )
        slider.observe(lambda change: setattr(image, "value", self.png(change["new"])), names="value")
        return w.VBox([slider, image])

    def to_html(self) -> str:
        """Every frame in a self-contained JavaScript player (matplotlib's, with its own slider): no kernel needed."""
        import matplotlib.pyplot as plt
        from matplotlib.animation import FuncAnimation

        images = [plt.imread(io.BytesIO(self.png(i)), format="png") for i in range(len(self.values))]
        h, w_ = images[0].shape[:2]
        fig = plt.figure(figsize=(w_ / 80, h / 80), dpi=80)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.axis("off")
        shown = ax.imshow(images[self.start])

        def update(i: int):
            shown.set_data(images[i])
            return [shown]

        anim = FuncAnimation(fig, update, frames=len(images), interval=700, blit=False)
        html = anim.to_jshtml(default_mode="once")
        plt.close(fig)
        values = ", ".join(self.fmt(v) for v in self.values)
        return (
            f"<p><b>{self.name}</b>: one frame per value ({values}); the player's slider steps through them.</p>" + html
        )
