"""Start `make lab` on a free port and talk to its server: REST for sessions, the kernel websocket to execute."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from contextlib import contextmanager

import websocket  # websocket-client, a dependency of jupyter_server
from conftest import ROOT, subprocess_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def lab_server(data_dir: str, profile: str = "smoke", timeout: float = 300, extra_args: str = ""):
    """Yield (base_url, token) of a JupyterLab started exactly as a user would: `make lab JUPYTER_ARGS=...`.

    ``data_dir`` keeps the default datasets that `make lab` builds away from the checkout's data/."""
    port, token = free_port(), uuid.uuid4().hex
    args = f"--no-browser --port {port} --ServerApp.ip=127.0.0.1 --IdentityProvider.token={token} {extra_args}"
    env = subprocess_env(STITCHKIT_PROFILE=profile, STITCHKIT_DATA=data_dir, MINARI_DATASETS_PATH=f"{data_dir}/minari")
    for var in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS"):  # a clean make, even when the tests run under `make test`
        env.pop(var, None)
    proc = subprocess.Popen(
        ["make", "lab", f"JUPYTER_ARGS={args}"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError("make lab exited early:\n" + proc.stdout.read().decode(errors="replace"))
            try:
                api(base, token, "GET", "/api/status")
                break
            except OSError:
                if time.time() > deadline:
                    raise TimeoutError(f"no answer on port {port} after {timeout} s") from None
                time.sleep(1)
        yield base, token
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def api(base: str, token: str, method: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else {}


def _message(raw: str | bytes) -> dict:
    """A kernel message off the server's websocket: JSON text, or (a message with binary buffers: a widget's image)
    Jupyter's binary frame, ``n`` big-endian uint32 offsets first, the message's JSON from the first offset to the
    second, then its buffers."""
    if isinstance(raw, str):
        return json.loads(raw)
    n = int.from_bytes(raw[:4], "big")
    offsets = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(n)]
    return json.loads(raw[offsets[0] : offsets[1] if n > 1 else None])


def execute_in_server(base: str, token: str, notebook: str, timeout: float = 600) -> list[str]:
    """Open a session on ``notebook`` (relative to the server root) and run its code cells in the server's kernel.

    Returns the text streamed by the cells; raises ``RuntimeError`` with the traceback on the first error."""
    model = api(base, token, "GET", f"/api/contents/{notebook}?content=1")
    session = api(
        base,
        token,
        "POST",
        "/api/sessions",
        {"path": notebook, "type": "notebook", "name": "", "kernel": {"name": "python3"}},
    )
    kernel = session["kernel"]["id"]
    ws = websocket.create_connection(
        base.replace("http", "ws") + f"/api/kernels/{kernel}/channels?token={token}", timeout=timeout
    )
    streamed: list[str] = []
    try:
        for cell in model["content"]["cells"]:
            if cell["cell_type"] != "code" or not "".join(cell["source"]).strip():
                continue
            msg_id = uuid.uuid4().hex
            ws.send(
                json.dumps(
                    {
                        "header": {
                            "msg_id": msg_id,
                            "username": "test",
                            "session": uuid.uuid4().hex,
                            "msg_type": "execute_request",
                            "version": "5.3",
                        },
                        "parent_header": {},
                        "metadata": {},
                        "channel": "shell",
                        "buffers": [],
                        "content": {
                            "code": "".join(cell["source"]),
                            "silent": False,
                            "store_history": True,
                            "user_expressions": {},
                            "allow_stdin": False,
                            "stop_on_error": True,
                        },
                    }
                )
            )
            replied = idle = False  # shell and iopub are separate channels: wait for both to finish
            while not (replied and idle):
                msg = _message(ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["msg_type"]
                if kind == "stream":
                    streamed.append(msg["content"]["text"])
                elif kind == "error":
                    raise RuntimeError("\n".join(msg["content"]["traceback"]))
                elif kind == "execute_reply":
                    replied = True
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    idle = True
    finally:
        ws.close()
        api(base, token, "DELETE", f"/api/sessions/{session['id']}")
    return streamed
