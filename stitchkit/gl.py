"""Choose MuJoCo's OpenGL backend before `mujoco` is imported.

MuJoCo reads ``MUJOCO_GL`` once, when it is first imported, so the choice has to be made by the first
``import stitchkit``. On Linux the kit renders offscreen through EGL (software Mesa on a laptop or CI machine,
the NVIDIA driver on a GPU box); on macOS through CGL. A value the user has already set always wins.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

#: Backends MuJoCo understands, with what each needs.
GL_BACKENDS = {
    "egl": "offscreen, no display (Debian: libegl1 libgl1-mesa-dri)",
    "osmesa": "offscreen software rendering (Debian: libosmesa6)",
    "glfw": "a window on a real display",
    "cgl": "macOS offscreen",
}


class GLBackendError(RuntimeError):
    """MuJoCo cannot render with the chosen OpenGL backend."""


def default_gl_backend(platform: str = sys.platform) -> str | None:
    """The backend the kit picks when the user picked none (None: leave MuJoCo's own default)."""
    if platform.startswith("linux"):
        return "egl"
    if platform == "darwin":
        return "cgl"
    return None


def configure_gl(environ: MutableMapping[str, str] = os.environ, platform: str = sys.platform) -> str | None:
    """Set ``MUJOCO_GL`` (and PyOpenGL's matching platform) unless the user already did; return the backend."""
    backend = environ.get("MUJOCO_GL") or default_gl_backend(platform)
    if backend is None:
        return None
    environ.setdefault("MUJOCO_GL", backend)
    if backend in ("egl", "osmesa"):  # PyOpenGL must agree with MuJoCo, or the first context fails
        environ.setdefault("PYOPENGL_PLATFORM", backend)
    return environ["MUJOCO_GL"]


def require_gl(width: int = 8, height: int = 8) -> str:
    """Open and close a tiny offscreen renderer; raise :class:`GLBackendError` with the fix if that fails."""
    backend = os.environ.get("MUJOCO_GL", "<unset>")
    try:
        import mujoco

        model = mujoco.MjModel.from_xml_string("<mujoco><worldbody><geom size='.1'/></worldbody></mujoco>")
        with mujoco.Renderer(model, height=height, width=width) as renderer:
            renderer.update_scene(mujoco.MjData(model))
            renderer.render()
    except Exception as err:  # MuJoCo raises several types here, depending on the backend
        options = "; ".join(f"{k}: {v}" for k, v in GL_BACKENDS.items())
        raise GLBackendError(
            f"MuJoCo cannot render with MUJOCO_GL={backend} ({type(err).__name__}: {err}). "
            f"Set MUJOCO_GL before starting Python to one of: {options}."
        ) from err
    return backend
