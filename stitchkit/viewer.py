"""StitchViewer: play a (stitched) trajectory as rendered frames beside its state curves and oracle errors.

One Play button and one slider drive three views: the rendered frame, the state curves with the source part,
the generated bridge and the target part shaded differently, and the per-step physics-oracle error. A dropdown
picks the trajectory. In a live kernel these are ipywidgets; in a report (``STITCHKIT_REPORT=1``, or a static
HTML page with no kernel) the viewer renders itself as a self-contained JavaScript animation instead, because a
widget's slider callbacks need a kernel.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from stitchkit.data.episodes import Episode
from stitchkit.oracle import PhysicsOracle
from stitchkit.render import render_frames
from stitchkit.slider import ReportAware

SHADES = {"source": "tab:blue", "bridge": "tab:red", "target": "tab:green"}


@dataclass
class ViewItem:
    name: str
    observations: np.ndarray  # (T+1, obs_dim)
    oracle_error: np.ndarray  # (T,) per transition
    segments: tuple[int, int] | None  # (source_end, bridge_end) or None for an ordinary episode
    x: np.ndarray | None = None
    goal: np.ndarray | None = None

    @classmethod
    def from_episode(
        cls,
        env: str,
        ep: Episode,
        name: str | None = None,
        oracle: PhysicsOracle | None = None,
        goal: np.ndarray | None = None,
    ) -> ViewItem:
        own = oracle is None
        oracle = oracle or PhysicsOracle(env)
        err = oracle.check_episode(ep).norm
        if own:
            oracle.close()
        return cls(
            name or f"episode {ep.id}",
            ep.observations,
            err,
            ep.provenance.segments(len(ep)),
            ep.infos.get("x_position"),
            goal,
        )


class StitchViewer(ReportAware):
    """``StitchViewer(env, items)`` then display it (the last expression of a cell) or call ``.widget()``."""

    def __init__(
        self, env: str, items: list[ViewItem], dims: list[int] | None = None, size: int = 240, report_frames: int = 30
    ):
        if not items:
            raise ValueError("StitchViewer needs at least one trajectory")
        self.env, self.items, self.size, self.report_frames = env, items, size, report_frames
        self.dims = dims if dims is not None else list(range(min(3, items[0].observations.shape[1])))
        self._png: dict[tuple[int, int], bytes] = {}

    # ------------------------------------------------------------------ pieces
    def frames(self, k: int) -> np.ndarray:
        it = self.items[k]
        return render_frames(self.env, it.observations, it.x, self.size, self.size, it.goal)

    def _draw_curves(self, axes, it: ViewItem) -> list:
        t_axis = np.arange(len(it.observations))
        ax_s, ax_e = axes
        for d in self.dims:
            ax_s.plot(t_axis, it.observations[:, d], lw=1, label=f"s[{d}]")
        err = np.maximum(it.oracle_error, 1e-17)
        ax_e.semilogy(t_axis[1:], err, ".", ms=3, color="k")
        if it.segments is not None:
            a, b = it.segments
            for ax in axes:
                ax.axvspan(0, a, color=SHADES["source"], alpha=0.12, label="source")
                ax.axvspan(a, b, color=SHADES["bridge"], alpha=0.2, label="bridge")
                ax.axvspan(b, t_axis[-1], color=SHADES["target"], alpha=0.12, label="target")
        ax_s.legend(fontsize=7, loc="upper right", ncol=2)
        ax_s.set_ylabel("state")
        ax_e.set(ylabel="oracle error", xlabel="step", ylim=(1e-17, max(1.0, err.max() * 2)))
        return [ax.axvline(0, color="k", lw=1) for ax in axes]

    def curves_png(self, k: int, t: int) -> bytes:
        """The curve panel of trajectory ``k`` with its cursor at step ``t`` (cached)."""
        if (k, t) not in self._png:
            import matplotlib
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            matplotlib.rcParams.setdefault("font.size", 8)
            fig = Figure(figsize=(4.2, self.size / 100), dpi=100)
            FigureCanvasAgg(fig)
            axes = fig.subplots(2, 1, sharex=True)
            for line in self._draw_curves(axes, self.items[k]):
                line.set_xdata([t, t])
            fig.subplots_adjust(left=0.16, right=0.98, top=0.97, bottom=0.17, hspace=0.08)
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
            self._png[(k, t)] = buf.getvalue()
        return self._png[(k, t)]

    @staticmethod
    def _png_of(frame: np.ndarray) -> bytes:
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        plt.imsave(buf, frame, format="png")
        return buf.getvalue()

    # ------------------------------------------------------------------ live widget
    def widget(self):
        import ipywidgets as W

        names = [it.name for it in self.items]
        pick = W.Dropdown(options=list(zip(names, range(len(names)))), value=0, description="trajectory")
        n = len(self.items[0].observations)
        play = W.Play(min=0, max=n - 1, interval=80, description="play")
        slider = W.IntSlider(min=0, max=n - 1, description="step", continuous_update=True)
        W.jslink((play, "value"), (slider, "value"))
        frame = W.Image(value=self._png_of(self.frames(0)[0]), format="png", width=self.size, height=self.size)
        curves = W.Image(value=self.curves_png(0, 0), format="png")
        label = W.HTML(self._label(0, 0))

        def show(_=None):
            k, t = pick.value, slider.value
            frame.value = self._png_of(self.frames(k)[t])
            curves.value = self.curves_png(k, t)
            label.value = self._label(k, t)

        def repick(_=None):
            m = len(self.items[pick.value].observations)
            play.max = slider.max = m - 1
            slider.value = min(slider.value, m - 1)
            show()

        slider.observe(show, names="value")
        pick.observe(repick, names="value")
        box = W.VBox([pick, W.HBox([play, slider, label]), W.HBox([frame, curves])])
        box.add_class("stitch-viewer")
        frame.add_class("stitch-viewer-frame")
        slider.add_class("stitch-viewer-slider")
        return box

    def _label(self, k: int, t: int) -> str:
        it = self.items[k]
        part = ""
        if it.segments is not None:
            a, b = it.segments
            part = "source" if t <= a else "bridge" if t < b else "target"
            part = f" · <b style='color:{SHADES[part]}'>{part}</b>"
        err = f"{it.oracle_error[t - 1]:.1e}" if t > 0 else "–"
        return f"t = {t}{part} · oracle error {err}"

    # ------------------------------------------------------------------ report mode
    def to_html(self) -> str:
        """A self-contained JavaScript animation of every trajectory (no kernel needed)."""
        import matplotlib.pyplot as plt
        from matplotlib.animation import FuncAnimation

        parts = []
        for k, it in enumerate(self.items):
            frames = self.frames(k)
            steps = np.unique(np.linspace(0, len(frames) - 1, min(self.report_frames, len(frames))).astype(int))
            fig = plt.figure(figsize=(7.4, 2.6), dpi=72)
            ax_img = fig.add_axes((0, 0, 0.35, 1))
            ax_img.axis("off")
            img = ax_img.imshow(frames[0])
            axes = (fig.add_axes((0.43, 0.55, 0.55, 0.42)), fig.add_axes((0.43, 0.12, 0.55, 0.38)))
            cursors = self._draw_curves(axes, it)

            def update(i, img=img, frames=frames, cursors=cursors, steps=steps):
                img.set_data(frames[steps[i]])
                for c in cursors:
                    c.set_xdata([steps[i], steps[i]])
                return [img, *cursors]

            anim = FuncAnimation(fig, update, frames=len(steps), interval=120, blit=False)
            parts.append(f"<h4>{it.name}</h4>" + anim.to_jshtml(default_mode="loop"))
            plt.close(fig)
        return "\n".join(parts)
