"""One seed-batched update as one CUDA graph: the launch-bound small-MLP updates of offline RL, replayed.

Why: a TD3+BC update on 256-wide MLPs is ~60 tiny kernels; on a GPU each costs a few microseconds to launch while
its arithmetic takes less, so the eager loop runs at a fraction of what the device can do. Capturing the whole
update (forwards, backwards, optimizer steps, target updates) once and replaying it removes the launch gaps.

What must hold for a replay to equal the eager update, and how this module keeps it:

* **Random draws stay outside the graph.** An algorithm draws its noise with :func:`member_randn` /
  :func:`member_rand` from per-member generators. While capturing, those calls return static buffers (a
  *noise tape*); before each replay the tape refills the buffers by making exactly the eager draws, in the same
  order, from the same generators. So the random streams, and checkpoints of them, are the eager ones.
* **Python-side branches are graph keys.** An algorithm that branches on ``step`` (TD3+BC's delayed actor update)
  declares ``graph_key(step)``; one graph is captured per key. An algorithm without ``graph_key`` is not graphed.
* **Schedules step outside.** A learning-rate schedule's ``step()`` would be baked in as a constant, so during
  capture it is a no-op and the wrapper steps every schedule after each replay (the kit's algorithms step their
  schedules last in ``update``, so the order is the eager one). Learning rates become device tensors and Adam
  runs with ``capturable=True``.
* **Warm-up leaves no trace.** Capturing needs a few eager warm-up updates (lazy optimizer state, library
  handles); the model, optimizer states and generators are saved before and restored in place after, so the
  first replayed update is the first update.

On a CPU there is nothing to capture: ``backend="eager-static"`` runs the same tape, key and schedule machinery
with the update simply re-run on the static buffers, which is how the tests check it without a GPU. Dropout (DT)
draws from the global generator, which CUDA graphs advance by themselves: DT's masks differ from eager's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import torch

from stitchkit.algos.noise import NoiseTape, generators_of, noise_tape, schedulers_of

BACKENDS = ("cuda-graph", "eager-static")


def graphable(algo: torch.nn.Module) -> bool:
    """An algorithm opts in by declaring ``graph_key(step)`` (the Python-side branch its update takes)."""
    return callable(getattr(algo, "graph_key", None))


class GraphedUpdate:
    """``update = GraphedUpdate(algo); losses = update(batch, step)``: same signature as ``algo.update``.

    The returned loss tensors are the graph's static outputs: read them before the next call."""

    def __init__(self, algo: torch.nn.Module, backend: str | None = None, warmup: int = 2):
        if not graphable(algo):
            raise ValueError(
                f"{type(algo).__name__} declares no graph_key(step), so its update cannot be graphed; "
                "train it eagerly (graph='off')"
            )
        device = next(algo.parameters()).device
        backend = backend or ("cuda-graph" if device.type == "cuda" else "eager-static")
        if backend not in BACKENDS:
            raise ValueError(f"unknown graph backend {backend!r}; accepted: {', '.join(BACKENDS)}")
        if backend == "cuda-graph" and device.type != "cuda":
            raise ValueError(f"backend 'cuda-graph' needs the model on a CUDA device, not {device}")
        self.algo, self.backend, self.device, self.warmup = algo, backend, device, warmup
        self.static: dict[str, torch.Tensor] | None = None
        self.graphs: dict[Hashable, tuple[Any, NoiseTape, dict[str, torch.Tensor]]] = {}
        if backend == "cuda-graph":
            _make_capturable(algo, device)

    def __call__(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        if self.static is None:
            self.static = {k: v.clone() for k, v in batch.items()}
        for k, v in batch.items():
            if v.device != self.device:
                raise ValueError(f"batch[{k!r}] is on {v.device}, the model on {self.device}: sample on the device")
            self.static[k].copy_(v)
        key = self.algo.graph_key(step)
        if key not in self.graphs:
            self.graphs[key] = self._capture(step)
        graph, tape, out = self.graphs[key]
        tape.fill()  # the eager draws, in the eager order, into the graph's noise buffers
        if self.backend == "cuda-graph":
            graph.replay()
        else:  # no capture on a CPU: re-run the update on the static buffers, drawing nothing itself
            with noise_tape(tape, "replay"), _schedules_paused(self.algo):
                out = self.algo.update(self.static, step)
        for sched in schedulers_of(self.algo):
            sched.step()
        return out

    def _capture(self, step: int):
        tape = NoiseTape()
        saved = _snapshot(self.algo)
        with noise_tape(tape, "record"), _schedules_paused(self.algo):
            out = self.algo.update(self.static, step)  # records the draws; allocates optimizer state
        if self.backend == "eager-static":
            _restore(self.algo, saved)
            return None, tape, out
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side), _schedules_paused(self.algo):
            for _ in range(self.warmup):  # cuBLAS handles, autograd's lazy state: made before capturing
                with noise_tape(tape, "replay"):
                    self.algo.update(self.static, step)
        torch.cuda.current_stream(self.device).wait_stream(side)
        _restore(self.algo, saved)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), noise_tape(tape, "replay"), _schedules_paused(self.algo):
            out = self.algo.update(self.static, step)
        return graph, tape, out


def make_update(algo: torch.nn.Module, graph: str = "auto") -> Callable[[dict[str, torch.Tensor], int], dict]:
    """The update the training loop calls. ``graph``: 'auto' (a CUDA graph on a GPU when the algorithm declares
    ``graph_key``, else eager: on a CPU capturing buys nothing), 'on' (required: an error if impossible), 'off'."""
    if graph not in ("auto", "on", "off"):
        raise ValueError(f"unknown graph setting {graph!r}; accepted: auto, on, off")
    device = next(algo.parameters()).device
    if graph == "off" or (graph == "auto" and (device.type != "cuda" or not graphable(algo))):
        return algo.update
    return GraphedUpdate(algo)


# ------------------------------------------------------------------------------------------------- helpers
def _make_capturable(algo: torch.nn.Module, device: torch.device) -> None:
    """Adam/AdamW with their step counters and (scheduled) learning rates on the device, so a graph reads them."""
    scheduled = {id(s.optimizer) for s in schedulers_of(algo)}
    for opt in algo.optimizers():
        for group in opt.param_groups:
            group["capturable"] = True
            if id(opt) in scheduled and not torch.is_tensor(group["lr"]):
                group["lr"] = torch.tensor(float(group["lr"]), device=device)
        for state in opt.state.values():
            if "step" in state:
                state["step"] = state["step"].to(device=device, dtype=torch.float32)


def _state_tensors(algo: torch.nn.Module) -> Iterator[torch.Tensor]:
    yield from algo.parameters()
    yield from algo.buffers()
    for opt in algo.optimizers():
        for state in opt.state.values():
            yield from (v for v in state.values() if torch.is_tensor(v))


def _snapshot(algo: torch.nn.Module) -> dict[str, Any]:
    """Everything a warm-up update changes: weights, optimizer states (which may not exist yet), generators."""
    return {
        "tensors": {id(t): t.detach().clone() for t in _state_tensors(algo)},
        "generators": [g.get_state() for g in generators_of(algo)],
        "cpu_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def _restore(algo: torch.nn.Module, saved: dict[str, Any]) -> None:
    """Put the snapshot back *in place* (a graph holds the tensors' addresses); optimizer state that the warm-up
    created is reset to what a first step starts from (zeros, step 0)."""
    with torch.no_grad():
        for t in _state_tensors(algo):
            old = saved["tensors"].get(id(t))
            t.copy_(old) if old is not None else t.zero_()
    for g, st in zip(generators_of(algo), saved["generators"]):
        g.set_state(st)
    torch.set_rng_state(saved["cpu_rng"])
    if saved["cuda_rng"] is not None:
        torch.cuda.set_rng_state_all(saved["cuda_rng"])


@contextlib.contextmanager
def _schedules_paused(algo: torch.nn.Module) -> Iterator[None]:
    scheds = schedulers_of(algo)
    for s in scheds:
        s.step = lambda *a, **k: None  # an instance attribute shadowing the method until deleted
    try:
        yield
    finally:
        for s in scheds:
            del s.step
