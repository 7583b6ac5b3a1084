"""The campaign on a real Ray cluster (issue 46): a head and a second worker node started on this machine with
``ray start``, the smoke campaign run on it through ``stitchkit campaign run --executor ray --address``, its records
equal to the local executor's, and a worker killed in the middle of a cell costing nothing but that cell's rerun."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import stitchkit_cmd, subprocess_env

pytest.importorskip("ray")
pytestmark = pytest.mark.slow

RAY = str(Path(sys.executable).parent / "ray")
# a test cluster on this machine only, nodes and clients alike without a token (Ray >= 2.5x otherwise asks every
# client for the head's ~/.ray/auth_token, which a fresh CI machine does not have)
NO_TOKEN = {**os.environ, "RAY_AUTH_MODE": "disabled"}
STORE = str(80 * 1024 * 1024)  # the smallest object store Ray accepts: jobs return records of a few kB


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node(args: list[str], log: Path) -> subprocess.Popen:
    """A Ray node in the foreground (``--block``) in its own process group, so that stopping it stops exactly its
    processes, never another Ray instance on the machine (``ray stop`` would stop them all)."""
    cmd = [RAY, "start", "--block", "--num-cpus=1", f"--object-store-memory={STORE}", "--disable-usage-stats", *args]
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True, env=NO_TOKEN)


def _tail(log: Path, lines: int = 15) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"


def _wait_for_nodes(address: str, n: int, nodes: dict[Path, subprocess.Popen], timeout: float = 600.0) -> None:
    """Until the cluster at ``address`` has ``n`` live nodes; a node that exits fails the test at once with the end
    of its log (a dead head otherwise costs the whole timeout and says nothing: CI's stop 50)."""
    probe = (
        "import ray, sys; ray.init(address=sys.argv[1], log_to_driver=False); "
        "print(sum(x['Alive'] for x in ray.nodes()))"
    )
    deadline, said = time.time() + timeout, ""
    while time.time() < deadline:
        for log, p in nodes.items():
            if p.poll() is not None:
                raise AssertionError(f"a Ray node exited with code {p.returncode}; the end of {log}:\n{_tail(log)}")
        try:  # a loaded machine may take minutes to answer: a probe that times out is simply tried again
            out = subprocess.run(
                [sys.executable, "-c", probe, address], capture_output=True, text=True, timeout=180, env=NO_TOKEN
            )
        except subprocess.TimeoutExpired:
            continue
        if out.returncode == 0 and out.stdout.strip().splitlines()[-1:] == [str(n)]:
            return
        said = out.stderr[-1500:]
        time.sleep(2)
    logs = "\n".join(f"the end of {log}:\n{_tail(log)}" for log in nodes)
    raise AssertionError(f"the Ray cluster at {address} did not reach {n} nodes; the last probe said:\n{said}\n{logs}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A two-node Ray cluster on this machine, one CPU each: the head, then a worker node joining it.

    Ray's session folder is a short one in /tmp, not pytest's: Ray puts its sockets there, a Unix socket's path may
    not pass 107 bytes, and pytest-xdist's folders (``/tmp/pytest-of-root/pytest-67/popen-gw0/...``) plus Ray's
    ``session_<date>_<pid>/sockets/plasma_store`` do."""
    tmp = tmp_path_factory.mktemp("ray")
    session = Path(tempfile.mkdtemp(prefix="skray", dir="/tmp" if Path("/tmp").is_dir() else None))
    address = f"127.0.0.1:{_free_port()}"
    port = address.split(":")[1]
    head = ["--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--include-dashboard=false"]
    nodes = {tmp / "head.log": _node([*head, f"--temp-dir={session}"], tmp / "head.log")}
    try:
        _wait_for_nodes(address, 1, nodes)
        log = tmp / "worker.log"
        nodes[log] = _node([f"--address={address}", "--node-ip-address=127.0.0.1"], log)
        _wait_for_nodes(address, 2, nodes)
        yield address
    finally:
        for p in reversed(list(nodes.values())):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                if p.poll() is None:
                    os.killpg(p.pid, sig)
                    try:
                        p.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        continue
        shutil.rmtree(session, ignore_errors=True)


def _env(root: Path) -> dict[str, str]:
    return subprocess_env(
        STITCHKIT_DATA=str(root / "data"),
        MINARI_DATASETS_PATH=str(root / "data" / "minari"),
        OMP_NUM_THREADS="1",
        STITCHKIT_PROFILE="smoke",
        RAY_AUTH_MODE="disabled",
    )


def _bodies(folder: Path) -> dict[str, dict]:
    """record path -> what a record's checksum covers (cell, spec, result): the provenance says where it ran."""
    out = {}
    for p in sorted(folder.glob("*/*/*.json")):
        rec = json.loads(p.read_text())
        out[str(p.relative_to(folder))] = {k: rec[k] for k in ("cell", "spec", "result")}
    return out


def _ray_titles() -> dict[int, str]:
    """pid -> process title of this machine's Ray workers running a task (``ray::<label>``)."""
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                title = (d / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            if title.startswith("ray::train:"):
                out[int(d.name)] = title
    return out


def test_the_smoke_campaign_on_a_two_node_cluster_writes_the_local_records_despite_a_killed_worker(cluster, tmp_path):
    base = stitchkit_cmd() + ["campaign", "run", "campaign-smoke", "--json"]
    local = subprocess.run(
        base + ["--folder", str(tmp_path / "local" / "records"), "--workers", "2"],
        env=_env(tmp_path / "local"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert local.returncode == 0, local.stderr[-3000:]
    expected = _bodies(tmp_path / "local" / "records")
    assert len(expected) == 6  # smoke's DiffStitch build accepts nothing: 6 of 8 cells (tests/test_campaign.py)

    viaray = subprocess.Popen(
        base + ["--folder", str(tmp_path / "ray" / "records"), "--executor", "ray", "--address", cluster],
        env=_env(tmp_path / "ray"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    killed = None  # the first worker seen training a cell, killed as a preempted node's would be
    deadline = time.time() + 900
    while viaray.poll() is None and time.time() < deadline:
        if killed is None and (running := _ray_titles()):
            pid, title = next(iter(running.items()))
            os.kill(pid, signal.SIGKILL)
            killed = title.strip().removeprefix("ray::train:")
        time.sleep(0.1)
    out, err = viaray.communicate(timeout=60)
    assert viaray.returncode == 0, err[-3000:]
    assert killed is not None, "no worker was caught training a cell"

    # the killed cell reran: every record is there, equal to the local executor's, and each written once
    assert _bodies(tmp_path / "ray" / "records") == expected
    done = re.findall(r"^  done (\S+):", err + out, flags=re.M)
    assert sorted(done) == sorted(set(done)) and len(done) == 6, done
    assert killed in done
    recs = [json.loads(p.read_text()) for p in (tmp_path / "ray" / "records").glob("*/*/*.json")]
    assert all(r["provenance"]["machine"]["host"] == socket.gethostname() for r in recs)
