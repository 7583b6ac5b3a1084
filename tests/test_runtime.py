"""GL backend, paths, device choice, seeding and atomic writes: the plumbing every notebook relies on."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import subprocess_env

from stitchkit import files, gl, paths, seeding
from stitchkit.device import get_device


def test_gl_backend_defaults_by_platform_and_respects_user():
    env = {}
    assert gl.configure_gl(env, platform="linux") == "egl" and env["PYOPENGL_PLATFORM"] == "egl"
    env = {}
    assert gl.configure_gl(env, platform="darwin") == "cgl" and "PYOPENGL_PLATFORM" not in env
    env = {"MUJOCO_GL": "osmesa"}
    assert gl.configure_gl(env, platform="linux") == "osmesa" and env["MUJOCO_GL"] == "osmesa"


def test_import_sets_mujoco_gl_before_mujoco_is_imported():
    code = "import sys, os, stitchkit; assert 'mujoco' not in sys.modules; print(os.environ['MUJOCO_GL'])"
    env = subprocess_env()
    env.pop("MUJOCO_GL", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == gl.default_gl_backend()


def test_missing_gl_backend_is_a_clear_error():
    code = "import stitchkit.gl as g; g.require_gl()"
    env = subprocess_env(MUJOCO_GL="no-such-backend")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0
    assert "GLBackendError" in out.stderr and "MUJOCO_GL=no-such-backend" in out.stderr and "egl" in out.stderr


def test_offscreen_rendering_works_here():
    assert gl.require_gl() == "egl" or sys.platform != "linux"


def test_data_paths_and_minari_default(clean_env, tmp_path):
    assert paths.data_dir() == paths.project_root() / "data"
    clean_env.setenv("STITCHKIT_DATA", str(tmp_path))
    assert paths.data_dir() == tmp_path.resolve()
    env = {}
    assert paths.configure_minari_path(env) == tmp_path.resolve() / "minari"
    env = {"MINARI_DATASETS_PATH": "/somewhere/else"}
    assert str(paths.configure_minari_path(env)) == "/somewhere/else"


def test_device_choice(clean_env):
    assert get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    clean_env.setenv("STITCHKIT_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    with pytest.raises(ValueError, match="accepted: cpu, cuda"):
        get_device("tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            get_device("cuda")
    before = torch.get_float32_matmul_precision()
    clean_env.setenv("STITCHKIT_MATMUL_PRECISION", "tf32")
    with pytest.raises(ValueError, match="accepted: highest, high, medium"):
        get_device("cpu")
    clean_env.setenv("STITCHKIT_MATMUL_PRECISION", "medium")
    get_device("cpu")
    assert torch.get_float32_matmul_precision() == before  # reduced precision is for CUDA matmuls only


def test_same_seed_same_draws():
    a = seeding.seed_everything(7).normal(size=5), torch.randn(5)
    b = seeding.seed_everything(7).normal(size=5), torch.randn(5)
    c = seeding.seed_everything(8).normal(size=5), torch.randn(5)
    assert np.array_equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    g1, g2 = seeding.torch_rng(3), seeding.torch_rng(3)
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))
    with pytest.raises(ValueError, match="seed is required"):
        seeding.numpy_rng(None)


def test_atomic_write_round_trip_and_no_debris(tmp_path):
    target = tmp_path / "sub" / "result.json"
    files.atomic_write_json(target, {"a": 1})
    assert target.read_text().strip().startswith("{") and '"a": 1' in target.read_text()
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]
    assert target.stat().st_mode & 0o044  # readable by others (mkstemp alone would give 0600)


def test_atomic_directory_keeps_old_on_failure(tmp_path):
    target = tmp_path / "dataset"
    with files.atomic_directory(target) as tmp:
        (tmp / "part").write_text("v1")
    with pytest.raises(RuntimeError), files.atomic_directory(target) as tmp:
        (tmp / "part").write_text("half-written v2")
        raise RuntimeError("interrupted")
    assert (target / "part").read_text() == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]


def test_progress_bars_count_and_stay_off_in_reports(clean_env):
    from stitchkit.progress import bar

    b = bar(10, "steps", initial=3)
    b.update(2)
    assert (b.n, b.total, b.disable) == (5, 10, False)
    b.close()
    clean_env.setenv("STITCHKIT_REPORT", "1")  # a static page cannot show a live bar
    assert bar(10, "steps").disable
