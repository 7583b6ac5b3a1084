"""stitchkit: see, run and compare trajectory-stitching methods for offline RL.

Importing the package first chooses MuJoCo's GL backend (it must happen before ``mujoco`` is imported) and
points Minari at the kit's data folder. Heavy libraries (torch, mujoco, minari) are imported by the modules
that need them, so ``import stitchkit`` stays fast.
"""

from stitchkit.gl import configure_gl
from stitchkit.paths import configure_minari_path

configure_gl()
configure_minari_path()

from stitchkit.profiles import PROFILE_NAMES, Profile, ProfileError, get_profile  # noqa: E402

__version__ = "0.1.0"
__all__ = ["PROFILE_NAMES", "Profile", "ProfileError", "__version__", "get_profile"]
