"""Frames of a trajectory: MuJoCo's own renderer for locomotion, a top-down map for the point maze.

Locomotion frames come from ``mujoco.Renderer`` (offscreen; EGL on Linux, see :mod:`stitchkit.gl`) with a camera
that tracks the torso, as Gymnasium's defaults do; the renderer is closed after use so re-running a cell leaks
no GL context. The maze is drawn top-down with matplotlib: walls, the point, its trail. Frames are cached by
content, so scrubbing a viewer back and forth never renders the same state twice.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

from stitchkit.envs import env_info, make, state_from_obs

_CACHE: OrderedDict[str, np.ndarray] = OrderedDict()
CACHE_FRAMES = 4000  # about 700 MB at 240x240 worst case; typical use is far below


def _key(*parts) -> str:
    h = hashlib.sha1()
    for p in parts:
        h.update(np.ascontiguousarray(p).tobytes() if isinstance(p, np.ndarray) else repr(p).encode())
    return h.hexdigest()


def render_frames(
    name: str,
    observations: np.ndarray,
    x: np.ndarray | None = None,
    width: int = 240,
    height: int = 240,
    goal: np.ndarray | None = None,
) -> np.ndarray:
    """(T, height, width, 3) uint8 frames of the states ``observations`` (T, obs_dim) of environment ``name``."""
    observations = np.asarray(observations, np.float64)
    key = _key(name, observations, x, width, height, goal)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    if env_info(name).kind == "maze":
        frames = _maze_frames(name, observations, width, height, goal)
    else:
        frames = _mujoco_frames(name, observations, x, width, height)
    _CACHE[key] = frames
    while len(_CACHE) > 1 and sum(f.shape[0] for f in _CACHE.values()) > CACHE_FRAMES:
        _CACHE.popitem(last=False)
    return frames


def clear_cache() -> None:
    _CACHE.clear()


def _mujoco_frames(name: str, observations: np.ndarray, x, width: int, height: int) -> np.ndarray:
    import mujoco

    env = make(name)
    u = env.unwrapped
    model, data = u.model, mujoco.MjData(u.model)
    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_TRACKING
    cam.trackbodyid = 1  # the torso
    cam.distance = {"hopper": 3.0, "walker2d": 4.0, "halfcheetah": 4.0}[name]
    cam.elevation, cam.azimuth = -20.0, 90.0
    cam.lookat[:] = (0.0, 0.0, 1.15 if name != "halfcheetah" else 0.5)
    qpos, qvel = state_from_obs(name, observations, x)
    frames = np.empty((len(observations), height, width, 3), np.uint8)
    with mujoco.Renderer(model, height=height, width=width) as renderer:
        # shadows and reflections cost most of a software-rendered frame and teach nothing here
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        for t in range(len(observations)):
            data.qpos[:], data.qvel[:] = qpos[t], qvel[t]
            mujoco.mj_forward(model, data)
            renderer.update_scene(data, camera=cam)
            frames[t] = renderer.render()
    env.close()
    return frames


def maze_walls(name: str) -> tuple[np.ndarray, float, tuple[float, float]]:
    """The maze map (1 = wall), the cell size and the (x, y) offset: cell (i, j) is centred at
    (j * unit - offset_x, i * unit - offset_y)."""
    env = make(name)
    u = env.unwrapped
    out = (u.maze_map.copy(), float(u._maze_unit), (float(u._offset_x), float(u._offset_y)))
    env.close()
    return out


def draw_maze(ax, name: str) -> None:
    """The maze's walls on a matplotlib axis, in the observation's (x, y) coordinates."""
    from matplotlib.patches import Rectangle

    walls, unit, (ox, oy) = maze_walls(name)
    for i, j in np.argwhere(walls == 1):
        ax.add_patch(Rectangle((j * unit - ox - unit / 2, i * unit - oy - unit / 2), unit, unit, color="0.3"))
    ax.set_xlim(-ox - unit / 2, walls.shape[1] * unit - ox - unit / 2)
    ax.set_ylim(-oy - unit / 2, walls.shape[0] * unit - oy - unit / 2)
    ax.set_aspect("equal")
    ax.axis("off")


def _maze_frames(name: str, observations: np.ndarray, width: int, height: int, goal) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    draw_maze(ax, name)
    if goal is not None:
        ax.plot(*goal[:2], "*", color="gold", ms=14, mec="k")
    (trail,) = ax.plot([], [], "-", color="tab:blue", lw=1.2)
    (point,) = ax.plot([], [], "o", color="tab:red", ms=8, mec="k")
    frames = np.empty((len(observations), height, width, 3), np.uint8)
    for t, ob in enumerate(observations):
        trail.set_data(observations[: t + 1, 0], observations[: t + 1, 1])
        point.set_data([ob[0]], [ob[1]])
        canvas.draw()
        frames[t] = np.asarray(canvas.buffer_rgba())[:height, :width, :3]
    return frames
