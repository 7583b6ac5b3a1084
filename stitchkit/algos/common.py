"""What every evaluator shares: the data pipeline, the seed-batched sampler, the training loop with periodic
evaluation, checkpoints that resume, and a JSONL log of curves.

An algorithm is a ``torch.nn.Module`` with ``update(batch, step) -> {loss name: (S,) tensor}`` and an ``actor``
whose ``act(obs)`` maps (S, B, obs_dim) normalized observations to actions. Batches are (S, B, ...) tensors:
member s gets its own sample, drawn by its own generator (seed s), so S members are S independent runs.
"""
from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from stitchkit.data.episodes import Episode, generated_transitions, transitions
from stitchkit.data.normalizers import ZScore
from stitchkit.data.samplers import MixedSampler
from stitchkit.files import atomic_torch_save


@dataclass
class TrainConfig:
    steps: int = 1_000_000
    batch_size: int = 256
    eval_every: int = 5_000
    eval_episodes: int = 10
    seeds: list[int] = field(default_factory=lambda: [0])
    ratio: float = 1.0  # original : augmented, when augmented data is given
    device: str = "cpu"
    # the update as one CUDA graph (stitchkit.algos.graphed): "auto" (on a GPU), "on", "off". Off by default until
    # benchmarks/gpu_check.py has checked the capture on a real GPU (no device has been lent to the kit yet)
    graph: str = "off"


class Algorithm(Protocol):
    actor: torch.nn.Module

    def update(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]: ...

    def optimizers(self) -> list[torch.optim.Optimizer]: ...


class _PerSeed:
    """One numpy-sampler per seed; their generator states are what a checkpoint saves."""

    samplers: list

    def state(self) -> list[dict]:
        return [s.rng.bit_generator.state for s in self.samplers]

    def load_state(self, states: list[dict]) -> None:
        for s, st in zip(self.samplers, states):
            s.rng.bit_generator.state = st


class SeedBatchSampler(_PerSeed):
    """One :class:`MixedSampler` per seed; ``sample`` stacks their batches into (S, B, ...) tensors."""

    def __init__(self, original: list[Episode], augmented: list[Episode] | None, seeds: list[int], ratio: float,
                 normalizer: ZScore, device: str = "cpu"):
        orig, aug = transitions(original), generated_transitions(augmented) if augmented else None
        for data in (orig, aug):
            if data is not None:
                data["observations"] = normalizer.normalize(data["observations"])
                data["next_observations"] = normalizer.normalize(data["next_observations"])
        self.samplers = [MixedSampler(orig, aug, ratio, seed=np.random.default_rng([seed, 7])) for seed in seeds]
        self.device = device

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        parts = [s.sample(batch_size) for s in self.samplers]
        keys = ("observations", "actions", "rewards", "next_observations", "terminals")
        return {k: torch.as_tensor(np.stack([p[k] for p in parts]), dtype=torch.float32, device=self.device)
                for k in keys}


class SeedWindowSampler(_PerSeed):
    """Sequence models: one :class:`WindowSampler` per seed over whole trajectories (original and stitched
    alike), windows may run past an episode's end into masked padding, so every step can start one and
    trajectories are drawn in proportion to their length (CORL's DT)."""

    def __init__(self, episodes: list[Episode], seeds: list[int], horizon: int, normalizer: ZScore,
                 device: str = "cpu"):
        from stitchkit.data.samplers import WindowSampler

        eps = [Episode(normalizer.normalize(e.observations), e.actions, e.rewards, e.terminations, e.truncations,
                       id=e.id) for e in episodes]
        self.samplers = [WindowSampler(eps, horizon, seed=np.random.default_rng([seed, 7]), pad=True)
                         for seed in seeds]
        self.device = device

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        parts = [s.sample(batch_size) for s in self.samplers]
        out = {k: torch.as_tensor(np.stack([p[k] for p in parts]), device=self.device)
               for k in ("returns_to_go", "observations", "actions", "mask", "timesteps")}
        return {k: v if k == "timesteps" else v.float() for k, v in out.items()}


class MemberGenerators:
    """One torch generator per member, for the algorithm's own noise (target smoothing, sampling).

    They are made on the device of the first draw (or checkpoint load), so a model built on the CPU and moved with
    ``.to(device)`` draws its noise on that device; a later draw for another device is an error, never a silent
    copy. CPU and CUDA streams differ: a run's device is part of what "same seed, same result" means."""

    def __init__(self, seeds: list[int]):
        self.seeds = [seed * 7919 + 1 for seed in seeds]
        self.gens: list[torch.Generator] | None = None

    def on(self, device: torch.device | str) -> list[torch.Generator]:
        device = torch.device(device)
        if self.gens is None:
            self.gens = [torch.Generator(device=device).manual_seed(s) for s in self.seeds]
        elif self.gens[0].device.type != device.type:
            raise ValueError(f"device mismatch: the noise generators live on {self.gens[0].device}, the batch on "
                             f"{device}; build and train the algorithm on one device")
        return self.gens


def member_generators(seeds: list[int]) -> MemberGenerators:
    return MemberGenerators(seeds)


class NoiseTape:
    """The random draws of one update, as static buffers: recorded while an update is captured into a graph,
    refilled (by the eager draws, in the eager order) before each replay. See :mod:`stitchkit.algos.graphed`."""

    def __init__(self) -> None:
        self.slots: list[tuple[str, MemberGenerators, tuple[int, ...], torch.Tensor]] = []
        self.cursor = 0

    def fill(self) -> None:
        for kind, gens, shape, buf in self.slots:
            buf.copy_(_draw(kind, gens, shape, buf.device))


_TAPE: tuple[NoiseTape, str] | None = None


@contextlib.contextmanager
def noise_tape(tape: NoiseTape, mode: str) -> Iterator[None]:
    """Inside, member draws come from ``tape``: 'record' adds a buffer per draw, 'replay' hands them out in order."""
    global _TAPE
    previous, _TAPE, tape.cursor = _TAPE, (tape, mode), 0
    try:
        yield
    finally:
        _TAPE = previous
    if mode == "replay" and tape.cursor != len(tape.slots):
        raise RuntimeError(f"the update drew {tape.cursor} noise tensors, {len(tape.slots)} when captured")


def _draw(kind: str, gens: MemberGenerators, shape: tuple[int, ...], device) -> torch.Tensor:
    fn = torch.randn if kind == "randn" else torch.rand
    return torch.stack([fn(shape, generator=g, device=device) for g in gens.on(device)])


def _member_draw(kind: str, gens: MemberGenerators, shape: tuple[int, ...], device) -> torch.Tensor:
    shape = tuple(shape)
    if _TAPE is None:
        return _draw(kind, gens, shape, device)
    tape, mode = _TAPE
    if mode == "record":
        gens.on(device)  # the generators exist (and are checked) before the graph needs them
        buf = torch.zeros((len(gens.seeds), *shape), device=device)
        tape.slots.append((kind, gens, shape, buf))
        return buf
    if tape.cursor >= len(tape.slots):
        raise RuntimeError("the update draws more noise than when it was captured (a Python branch not in graph_key?)")
    kind0, gens0, shape0, buf = tape.slots[tape.cursor]
    if kind0 != kind or gens0 is not gens or shape0 != shape:
        raise RuntimeError(f"the update's draw {tape.cursor} is {kind}{shape}, captured as {kind0}{shape0}")
    tape.cursor += 1
    return buf


def member_randn(gens: MemberGenerators, shape: tuple[int, ...], device) -> torch.Tensor:
    """(S, *shape) standard normal noise on ``device``, member s drawn from generator s."""
    return _member_draw("randn", gens, shape, device)


def member_rand(gens: MemberGenerators, shape: tuple[int, ...], device) -> torch.Tensor:
    """(S, *shape) uniform [0, 1) noise on ``device``, member s drawn from generator s."""
    return _member_draw("rand", gens, shape, device)


def check_finite(losses: dict[str, torch.Tensor], step: int) -> None:
    for name, value in losses.items():
        if not torch.isfinite(value).all():
            bad = torch.nonzero(~torch.isfinite(value)).flatten().tolist()
            raise FloatingPointError(f"NaN/inf in {name} at step {step} (members {bad}); lower the learning rate "
                                     "or check the dataset for NaN values")


def train(algo: Algorithm, sampler: _PerSeed, cfg: TrainConfig, evaluate=None,
          run_dir: Path | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """The training loop: ``cfg.steps`` updates, an evaluation every ``cfg.eval_every`` (and at the end), a
    checkpoint after each evaluation. With ``run_dir``, a rerun resumes from the last checkpoint and the log
    ``curves.jsonl`` there holds one line per evaluation and member."""
    from tqdm.auto import tqdm

    from stitchkit.algos.graphed import make_update  # graphed builds on this module

    log: list[dict[str, Any]] = []
    start = 0
    ckpt = run_dir / "checkpoint.pt" if run_dir else None
    if ckpt is not None and ckpt.exists():
        state = torch.load(ckpt, map_location=cfg.device, weights_only=False)
        algo.load_state_dict(state["algo"])
        for opt, st in zip(algo.optimizers(), state["optimizers"]):
            opt.load_state_dict(st)
        for sched, st in zip(_schedulers(algo), state.get("schedulers", [])):
            sched.load_state_dict(st)
        for g, st in zip(_generators(algo), state.get("generators", [])):
            g.set_state(st)
        sampler.load_state(state["sampler"])
        start, log = state["step"], state["log"]
    t0 = time.perf_counter()
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, disable=not progress, desc=type(algo).__name__)
    losses: dict[str, torch.Tensor] = {}
    update = make_update(algo, cfg.graph)  # after resuming: a graph holds the optimizer states it was captured with
    for step in bar:
        losses = update(sampler.sample(cfg.batch_size), step)
        done = step + 1
        if done % cfg.eval_every == 0 or done == cfg.steps:
            check_finite(losses, done)
            row_losses = {k: v.detach().cpu().numpy() for k, v in losses.items()}
            scores = evaluate(algo.actor) if evaluate else {}
            for m, seed in enumerate(cfg.seeds):
                row = {"step": done, "seed": seed, "seconds": round(time.perf_counter() - t0, 1)}
                row.update({k: float(v[m]) for k, v in row_losses.items()})
                row.update({k: float(v[m]) for k, v in scores.items()})
                log.append(row)
            if ckpt is not None:
                save_checkpoint(ckpt, algo, sampler, done, log)
                (run_dir / "curves.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
            if scores:
                bar.set_postfix({k: f"{np.mean(v):.1f}" for k, v in scores.items() if k != "success"})
    return log


def _schedulers(algo) -> list:
    """Every learning-rate schedule of the algorithm and of learners it wraps (TS-IDM features + IQL)."""
    return [v for m in algo.modules() for v in vars(m).values() if isinstance(v, torch.optim.lr_scheduler.LRScheduler)]


def _generators(algo) -> list[torch.Generator]:
    """The algorithm's own noise generators (per member), saved so a resumed run continues the same stream;
    wrapped learners' included."""
    device = next(algo.parameters()).device
    return [g for m in algo.modules() for name in ("gens", "cql_gens")
            if isinstance(getattr(m, name, None), MemberGenerators) for g in getattr(m, name).on(device)]


def save_checkpoint(path: Path, algo: Algorithm, sampler: _PerSeed, step: int, log: list) -> None:
    """Everything a rerun needs to continue exactly: weights, optimizer and scheduler states, the sampler's and
    the algorithm's random states, the step and the curves so far. Written atomically."""
    atomic_torch_save(path, {"algo": algo.state_dict(), "optimizers": [o.state_dict() for o in algo.optimizers()],
                             "schedulers": [s.state_dict() for s in _schedulers(algo)],
                             "generators": [g.get_state() for g in _generators(algo)],
                             "sampler": sampler.state(), "step": step, "log": log})


def summarize(log: list[dict[str, Any]], metric: str = "score") -> dict[str, Any]:
    """'last' (final evaluation) and 'best' (each seed's best evaluation), mean and std over seeds (CORL)."""
    seeds = sorted({r["seed"] for r in log})
    last_step = max(r["step"] for r in log)
    last = np.array([next(r[metric] for r in log if r["seed"] == s and r["step"] == last_step) for s in seeds])
    best = np.array([max(r[metric] for r in log if r["seed"] == s) for s in seeds])
    return {"metric": metric, "seeds": seeds, "last_mean": float(last.mean()), "last_std": float(last.std()),
            "best_mean": float(best.mean()), "best_std": float(best.std()), "last": last.tolist(),
            "best": best.tolist()}

