"""Acceptance: `make lab JUPYTER_ARGS="--no-browser --port P"` answers on P, and the tour runs in its kernel."""

import pytest
from labserver import api, execute_in_server, lab_server

pytestmark = pytest.mark.slow


def test_make_lab_serves_and_runs_the_tour(tmp_path):
    with lab_server(str(tmp_path), profile="smoke") as (base, token):
        assert "started" in api(base, token, "GET", "/api/status")
        listing = {c["name"] for c in api(base, token, "GET", "/api/contents/")["content"]}
        assert {"00_tour.py", "00_tour.ipynb"} <= listing  # the generated twin sits beside its source
        out = "".join(execute_in_server(base, token, "00_tour.ipynb"))
        assert "profile smoke" in out and "✓ exercise 1: correct" in out and "✓ exercise 2: correct" in out
    # `make lab` built the default datasets (at the profile in use) before starting the server
    assert (tmp_path / "minari" / "stitchkit" / "pointmaze-medium" / "stitch-v0" / "data" / "main_data.hdf5").exists()
