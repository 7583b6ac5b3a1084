"""A toy stitching method, the smallest complete one: it copies the last ``steps`` transitions of a few random
episodes. What it shows is the plug-in contract: a config dataclass, a generate function, a ``METHOD``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stitchkit.augment.method import Job, Method
from stitchkit.data.episodes import Episode, Provenance


@dataclass
class TailConfig:
    episodes: int = 3  # how many tails to copy
    steps: int = 5  # transitions per tail
    seed: int = 0


def generate(job: Job) -> tuple[list[Episode], dict]:
    cfg, rng = job.config, np.random.default_rng(job.config.seed)
    out = []
    for k, e in enumerate(rng.choice(len(job.episodes), cfg.episodes, replace=False)):
        src = job.episodes[e]
        t = len(src) - cfg.steps
        out.append(
            Episode(
                src.observations[t:],
                src.actions[t:],
                src.rewards[t:],
                src.terminations[t:],
                src.truncations[t:],
                provenance=Provenance("stitched", "tail", int(src.id), t, int(src.id), len(src), cfg.steps),
                id=k,
            )
        )
    return out, {"config": vars(cfg), "accepted_transitions": cfg.steps * cfg.episodes}


METHOD = Method(
    "tail",
    TailConfig,
    generate,
    saves="the last steps of an episode",
    empty_hint="ask for more",
    defaults={"maze": {"steps": 4}},
)
