"""environment.yml is a thin wrapper around pyproject.toml: both must give conda and pip users the same set."""

import re
import sys

import yaml
from conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
ENV = yaml.safe_load((ROOT / "environment.yml").read_text())


def _names(reqs):
    return {re.split(r"[\s<>=!~\[;]", r, maxsplit=1)[0].lower() for r in reqs}


def test_conda_env_installs_exactly_the_dev_extra():
    deps = ENV["dependencies"]
    pip_lists = [d["pip"] for d in deps if isinstance(d, dict)]
    assert pip_lists == [['-e ".[dev]"']]
    assert "pip" in deps
    assert not [d for d in deps if isinstance(d, str) and d.split("=")[0] not in ("python", "pip")], (
        "conda-only packages would make conda and pip users differ"
    )


def test_conda_python_pin_satisfies_requires_python():
    pin = next(d for d in ENV["dependencies"] if isinstance(d, str) and d.startswith("python="))
    major, minor = map(int, pin.split("=")[1].split(".")[:2])
    floor = re.match(r">=\s*(\d+)\.(\d+)", PYPROJECT["project"]["requires-python"])
    assert (major, minor) >= (int(floor[1]), int(floor[2]))


def test_design_card_packages_are_installed_by_dev():
    extras = PYPROJECT["project"]["optional-dependencies"]
    dev = set(_names(PYPROJECT["project"]["dependencies"])) | _names(extras["dev"])
    for ref in re.findall(r"stitchkit\[([\w,]+)\]", " ".join(extras["dev"])):
        for extra in ref.split(","):
            dev |= _names(extras[extra])
    card = {
        "jupyterlab",
        "torch",
        "matplotlib",
        "ipywidgets",
        "minari",
        "mujoco",
        "jupytext",
        "nbmake",
        "gymnasium",
        "tqdm",
    }
    assert card <= dev, card - dev


def test_torch_range_is_the_one_ci_can_install():
    torch_req = next(r for r in PYPROJECT["project"]["dependencies"] if r.startswith("torch"))
    assert torch_req.replace(" ", "") == "torch>=2.4,<2.14"
