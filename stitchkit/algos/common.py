"""What every learner shares: the data pipeline, the seed-batched sampler, the training loop with periodic
evaluation, checkpoints that resume, and a JSONL log of curves.

An algorithm is a ``torch.nn.Module`` with ``update(batch, step) -> {loss name: (S,) tensor}`` and an ``actor``
whose ``act(obs)`` maps (S, B, obs_dim) normalized observations to actions. Batches are (S, B, ...) tensors:
member s gets its own sample, drawn by its own generator (seed s), so S members are S independent runs.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from stitchkit.algos.graphed import make_update
from stitchkit.algos.noise import generators_of, schedulers_of
from stitchkit.data.episodes import Episode, generated_transitions, transitions
from stitchkit.data.goals import GoalIndex, GoalSampling
from stitchkit.data.normalizers import ZScore
from stitchkit.data.samplers import MixedSampler, split_batch
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
    """One :class:`MixedSampler` per seed; ``sample`` stacks their batches into (S, B, ...) tensors. Rewards,
    original and augmented alike, are multiplied by ``reward_scale`` (one factor, from the original data)."""

    def __init__(
        self,
        original: list[Episode],
        augmented: list[Episode] | None,
        seeds: list[int],
        ratio: float,
        normalizer: ZScore,
        device: str = "cpu",
        reward_scale: float = 1.0,
    ):
        orig, aug = transitions(original), generated_transitions(augmented) if augmented else None
        for data in (orig, aug):
            if data is not None:
                data["observations"] = normalizer.normalize(data["observations"])
                data["next_observations"] = normalizer.normalize(data["next_observations"])
                if reward_scale != 1.0:  # CORL's reward normalisation (normalizers.return_range_scale)
                    data["rewards"] = data["rewards"] * np.float32(reward_scale)  # float32 stays float32
        self.samplers = [MixedSampler(orig, aug, ratio, seed=np.random.default_rng([seed, 7])) for seed in seeds]
        self.device = device

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        parts = [s.sample(batch_size) for s in self.samplers]
        keys = ("observations", "actions", "rewards", "next_observations", "terminals")
        return {
            k: torch.as_tensor(np.stack([p[k] for p in parts]), dtype=torch.float32, device=self.device) for k in keys
        }


class _Draws:
    """A seed's random stream (what ``_PerSeed`` saves in a checkpoint)."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng


class _GoalPool:
    """One set of whole trajectories as goal-sampling arrays: normalized states, actions per transition row."""

    def __init__(self, episodes: list[Episode], normalizer: ZScore):
        self.index = GoalIndex(episodes)
        self.obs = normalizer.normalize(self.index.observations).astype(np.float32)
        self.actions = np.zeros((len(self.index), episodes[0].actions.shape[1]), np.float32)
        self.actions[self.index.transitions] = np.concatenate([e.actions for e in episodes])

    def draw(self, rng: np.random.Generator, n: int, actor: GoalSampling, value: GoalSampling | None):
        rows = self.index.transitions[rng.integers(0, len(self.index.transitions), n)]
        out = {
            "observations": self.obs[rows],
            "actions": self.actions[rows],
            "next_observations": self.obs[rows + 1],
            "actor_goals": self.obs[self.index.sample_goals(rows, actor, rng)],
        }
        if value is not None:
            goals = self.index.sample_goals(rows, value, rng)
            success = (goals == rows).astype(np.float32)
            out |= {"value_goals": self.obs[goals], "rewards": success - 1.0, "masks": 1.0 - success}
        return out


class SeedGoalSampler(_PerSeed):
    """Goal-conditioned batches: (S, B, ...) transitions with actor goals and, for learners with a value, value
    goals with their hindsight reward (0 at the goal, else -1) and mask (:mod:`stitchkit.data.goals`). Goals are
    states, normalized like them, and never leave the trajectory they were drawn for (except random goals); with
    ``augmented`` trajectories a batch holds round(B r / (r + 1)) original transitions, as :class:`MixedSampler`."""

    def __init__(
        self,
        original: list[Episode],
        augmented: list[Episode] | None,
        seeds: list[int],
        ratio: float,
        normalizer: ZScore,
        actor_goals: GoalSampling,
        value_goals: GoalSampling | None = None,
        device: str = "cpu",
    ):
        self.pools = [_GoalPool(original, normalizer)] + ([_GoalPool(augmented, normalizer)] if augmented else [])
        self.ratio, self.actor_goals, self.value_goals, self.device = ratio, actor_goals, value_goals, device
        self.samplers = [_Draws(np.random.default_rng([seed, 7])) for seed in seeds]

    def _one(self, rng: np.random.Generator, batch_size: int) -> dict[str, np.ndarray]:
        if len(self.pools) == 1:
            return self.pools[0].draw(rng, batch_size, self.actor_goals, self.value_goals)
        n_orig, n_aug = split_batch(batch_size, self.ratio)
        a = self.pools[0].draw(rng, n_orig, self.actor_goals, self.value_goals)
        b = self.pools[1].draw(rng, n_aug, self.actor_goals, self.value_goals)
        return {k: np.concatenate([a[k], b[k]]) for k in a}

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        parts = [self._one(s.rng, batch_size) for s in self.samplers]
        return {k: torch.as_tensor(np.stack([p[k] for p in parts]), device=self.device) for k in parts[0]}


class SeedWindowSampler(_PerSeed):
    """Sequence models: one :class:`WindowSampler` per seed over whole trajectories (original and stitched
    alike), windows may run past an episode's end into masked padding, so every step can start one and
    trajectories are drawn in proportion to their length (CORL's DT)."""

    def __init__(
        self, episodes: list[Episode], seeds: list[int], horizon: int, normalizer: ZScore, device: str = "cpu"
    ):
        from stitchkit.data.samplers import WindowSampler

        eps = [
            Episode(normalizer.normalize(e.observations), e.actions, e.rewards, e.terminations, e.truncations, id=e.id)
            for e in episodes
        ]
        first = WindowSampler(eps, horizon, seed=np.random.default_rng([seeds[0], 7]), pad=True)
        self.samplers = [first] + [first.sharing(np.random.default_rng([seed, 7])) for seed in seeds[1:]]
        self.device = device

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        from stitchkit.data.samplers import gather

        w = gather(self.samplers, batch_size)  # every seed's windows in one indexing pass over one copy of the data
        out = {
            k: torch.as_tensor(w[k], device=self.device)
            for k in ("returns_to_go", "observations", "actions", "mask", "timesteps")
        }
        return {k: v if k == "timesteps" else v.float() for k, v in out.items()}


class NonFiniteLoss(FloatingPointError):
    """Training stopped the first time a loss left the finite numbers; the message says where and the usual cause."""


def check_finite(losses: dict[str, torch.Tensor], step: int) -> None:
    """Stop at the first non-finite loss with a clear message (the CLI prints it as one line, no traceback)."""
    for name, value in losses.items():
        if not torch.isfinite(value).all():
            bad = torch.nonzero(~torch.isfinite(value.reshape(-1))).flatten().tolist()
            first = float(value.reshape(-1)[bad[0]])
            raise NonFiniteLoss(
                f"training stopped at step {step}: {name} is {first} (seed members {bad}); the usual causes are a "
                "learning rate too high for this data (try --option lr=... ten times smaller) or extreme values in "
                "the data (every dataset is checked for NaN and inf on load)"
            )


def train(
    algo: Algorithm,
    sampler: _PerSeed,
    cfg: TrainConfig,
    evaluate=None,
    run_dir: Path | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """The training loop: ``cfg.steps`` updates, an evaluation every ``cfg.eval_every`` (and at the end), a
    checkpoint after each evaluation. With ``run_dir``, a rerun resumes from the last checkpoint and the log
    ``curves.jsonl`` there holds one line per evaluation and member."""
    from tqdm.auto import tqdm

    from stitchkit.profiles import report_mode

    log: list[dict[str, Any]] = []
    start = 0
    ckpt = run_dir / "checkpoint.pt" if run_dir else None
    if ckpt is not None and ckpt.exists():
        state = torch.load(ckpt, map_location=cfg.device, weights_only=False)
        algo.load_state_dict(state["algo"])
        for opt, st in zip(algo.optimizers(), state["optimizers"]):
            opt.load_state_dict(st)
        for sched, st in zip(schedulers_of(algo), state.get("schedulers", [])):
            sched.load_state_dict(st)
        for g, st in zip(generators_of(algo), state.get("generators", [])):
            g.set_state(st)
        sampler.load_state(state["sampler"])
        start, log = state["step"], state["log"]
    t0 = time.perf_counter()
    quiet = not progress or report_mode()  # a static report page cannot show a live bar (it would be a dead widget)
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, disable=quiet, desc=type(algo).__name__)
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


def save_checkpoint(path: Path, algo: Algorithm, sampler: _PerSeed, step: int, log: list) -> None:
    """Everything a rerun needs to continue exactly: weights, optimizer and scheduler states, the sampler's and
    the algorithm's random states, the step and the curves so far. Written atomically."""
    atomic_torch_save(
        path,
        {
            "algo": algo.state_dict(),
            "optimizers": [o.state_dict() for o in algo.optimizers()],
            "schedulers": [s.state_dict() for s in schedulers_of(algo)],
            "generators": [g.get_state() for g in generators_of(algo)],
            "sampler": sampler.state(),
            "step": step,
            "log": log,
        },
    )


def summarize(log: list[dict[str, Any]], metric: str = "score") -> dict[str, Any]:
    """'last' (final evaluation) and 'best' (each seed's best evaluation), mean and std over seeds (CORL)."""
    seeds = sorted({r["seed"] for r in log})
    last_step = max(r["step"] for r in log)
    last = np.array([next(r[metric] for r in log if r["seed"] == s and r["step"] == last_step) for s in seeds])
    best = np.array([max(r[metric] for r in log if r["seed"] == s) for s in seeds])
    return {
        "metric": metric,
        "seeds": seeds,
        "last_mean": float(last.mean()),
        "last_std": float(last.std()),
        "best_mean": float(best.mean()),
        "best_std": float(best.std()),
        "last": last.tolist(),
        "best": best.tolist(),
    }
