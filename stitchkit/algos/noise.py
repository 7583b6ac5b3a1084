"""The randomness and schedules a seed-batched update carries: per-member noise generators, the noise tape that
lets a CUDA graph replay the eager draws (:mod:`stitchkit.algos.graphed`), and finders for what a checkpoint saves.

Every draw a learner makes goes through :func:`member_randn` / :func:`member_rand` with its own
:class:`MemberGenerators`, so member s of an S-seed run draws exactly what a 1-seed run with seed s draws.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


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
            raise ValueError(
                f"device mismatch: the noise generators live on {self.gens[0].device}, the batch on "
                f"{device}; build and train the algorithm on one device"
            )
        return self.gens


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


def schedulers_of(algo) -> list:
    """Every learning-rate schedule of the algorithm and of learners it wraps (TS-IDM features + IQL)."""
    return [v for m in algo.modules() for v in vars(m).values() if isinstance(v, torch.optim.lr_scheduler.LRScheduler)]


def generators_of(algo) -> list[torch.Generator]:
    """The algorithm's own noise generators (per member), saved so a resumed run continues the same stream;
    wrapped learners' included."""
    device = next(algo.parameters()).device
    return [
        g for m in algo.modules() for v in vars(m).values() if isinstance(v, MemberGenerators) for g in v.on(device)
    ]
