"""D4RL-style locomotion datasets (hopper, halfcheetah, walker2d on Gymnasium v5) from the committed actors.

The D4RL definitions, with the kit's own behaviour policies (``data/policies/<env>/``):

* ``random``        - the randomly initialised actor (checkpoint 0);
* ``expert``        - the best checkpoint the training budget reached (judged on 100 episodes);
* ``medium``        - the checkpoint whose return is nearest one third of the way from the random actor's to the
  expert's (D4RL: about one third of the expert's return);
* ``medium-replay`` - D4RL's recipe itself: the replay buffer of a SAC training run, every transition in the order
  it was seen, up to the step published for the env (:mod:`stitchkit.data.replay`; the actions are committed under
  ``data/replays/`` and replayed). ``full`` holds all of it; smaller profiles keep whole episodes at evenly spaced
  return ranks, so the return distribution stays (:func:`~stitchkit.data.subsample.by_return`);
* ``medium-expert`` - ``medium`` and ``expert`` concatenated.

Actions are sampled from the tanh-Gaussian (D4RL, Minari). ``x_position`` is stored per step in the infos, so
rollouts can be rendered where they really were. Reference scores follow Minari: ``ref_min_score`` is the mean
return of a uniform random policy, ``ref_max_score`` that of the expert actor, over the same number of episodes.
"""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np
import torch

from stitchkit.data.episodes import Episode
from stitchkit.data.policies import (
    LOCOMOTION_ENVS,
    Checkpoint,
    evaluate_actor,
    list_checkpoints,
    load_actor,
    manifest_path,
    pick_checkpoints,
)
from stitchkit.progress import bar, quiet

NAMES = ("random", "medium", "medium-replay", "expert", "medium-expert")


def policies_version(env: str) -> str:
    """12 hex digits of the committed behaviour policies' manifest: a dataset's card records the version it was
    rolled out from, so one built from policies since replaced reads as stale (:func:`registry.status`)."""
    return hashlib.sha1(manifest_path(env).read_bytes()).hexdigest()[:12]


def source_version(env: str, name: str) -> str:
    """What a dataset's contents come from, as a version: the published recording for ``medium-replay``, the
    committed behaviour policies for the rest (:func:`registry.status` compares it with the built card's)."""
    if name == "medium-replay":
        from stitchkit.data import replay

        return replay.version(env)
    return policies_version(env)


def choose_checkpoints(env: str) -> dict[str, Checkpoint]:
    """Which committed checkpoint each dataset rolls out: random (step 0), medium and expert."""
    return pick_checkpoints(list_checkpoints(env))


def rollout(env: str, ckpt: Checkpoint, n_steps: int, seed: int, n_envs: int = 8) -> list[Episode]:
    """Whole episodes from ``ckpt`` (stochastic actions) until at least ``n_steps`` transitions are collected;
    ``n_envs`` environments step side by side so the actor runs batched. Deterministic for a seed."""
    import gymnasium as gym

    actor = load_actor(ckpt)
    gen = torch.Generator().manual_seed(seed)
    envs = [gym.make(LOCOMOTION_ENVS[env]) for _ in range(n_envs)]
    next_seed = seed
    bufs = []
    for e in envs:
        ob, info = e.reset(seed=next_seed)
        next_seed += 1
        bufs.append({"obs": [ob], "act": [], "rew": [], "term": [], "trunc": [], "x": [info["x_position"]]})
    episodes: list[Episode] = []
    collected = 0
    active = list(range(n_envs))
    shown = bar(n_steps, f"{env} rollouts (step {ckpt.step})", unit="transition")
    while active:
        obs = np.stack([bufs[i]["obs"][-1] for i in active])
        actions = actor.act(obs, gen)
        still = []
        for i, a in zip(active, actions):
            ob, r, term, trunc, info = envs[i].step(a)
            b = bufs[i]
            b["obs"].append(ob), b["act"].append(a), b["rew"].append(r), b["term"].append(term)
            b["trunc"].append(trunc), b["x"].append(info["x_position"])
            if term or trunc:
                episodes.append(
                    Episode(
                        np.asarray(b["obs"]),
                        np.asarray(b["act"], np.float32),
                        np.asarray(b["rew"]),
                        np.asarray(b["term"]),
                        np.asarray(b["trunc"]),
                        infos={"x_position": np.asarray(b["x"])},
                        id=len(episodes),
                    )
                )
                collected += len(b["act"])
                shown.update(max(0, min(collected, n_steps) - shown.n))
                if collected >= n_steps:
                    continue  # this env is finished; the others finish no new episode
                ob, info = envs[i].reset(seed=next_seed)
                next_seed += 1
                bufs[i] = {"obs": [ob], "act": [], "rew": [], "term": [], "trunc": [], "x": [info["x_position"]]}
            still.append(i)
        active = still if collected < n_steps else []
    shown.close()
    for e in envs:
        e.close()
    return episodes


def seconds_per_transition(env: str, probe: int = 8_000) -> float:
    """Seconds per collected transition here: the expert's rollouts (the longest episodes) for about ``probe``
    transitions, timed and divided by the transitions they collected. Rollouts collect whole episodes, eight side by
    side, so asking for 2 transitions still runs eight 1,000-step episodes: timing ``n`` against ``n + probe`` (what
    this did before) measured the same work twice and read 4-5x high (85.8 min said for a 16-minute build)."""
    with quiet():
        t0 = time.perf_counter()
        episodes = rollout(env, choose_checkpoints(env)["expert"], probe, 0)
        seconds = time.perf_counter() - t0
    return seconds / max(1, sum(len(e) for e in episodes))


def build(env: str, name: str, n_steps: int, seed: int) -> tuple[list[Episode], dict]:
    """The episodes of ``<env>/<name>`` with about ``n_steps`` transitions, and a card describing them."""
    if env not in LOCOMOTION_ENVS:
        raise ValueError(f"unknown locomotion env {env!r}; accepted: {', '.join(LOCOMOTION_ENVS)}")
    if name not in NAMES:
        raise ValueError(f"unknown locomotion dataset {name!r}; accepted: {', '.join(NAMES)}")
    if name == "medium-replay":  # the recorded replay buffer: no behaviour policy involved
        from stitchkit.data import replay

        episodes, rcard = replay.replay(env, n_steps, seed)
        card = {
            "behaviour": f"{rcard['algorithm']}: its replay buffer, every transition in order",
            "policies": source_version(env, name),
            "medium_replay": rcard,
        }
    else:
        chosen = choose_checkpoints(env)
        algorithm = json.loads(manifest_path(env).read_text()).get("algorithm", "SAC (stable-baselines3 defaults)")
        card = {
            "behaviour": f"{algorithm}, stochastic actions",
            "policies": policies_version(env),
            "checkpoints": {
                k: {"step": c.step, "mean_return": c.mean_return, "return_100": c.return_100} for k, c in chosen.items()
            },
        }
        if name == "medium-expert":
            episodes = rollout(env, chosen["medium"], n_steps, seed) + rollout(env, chosen["expert"], n_steps, seed + 1)
        else:
            episodes = rollout(env, chosen[name], n_steps, seed)
    for i, ep in enumerate(episodes):
        ep.id = i
    return episodes, card


def reference_scores(env: str, episodes: int, seed: int = 123) -> dict[str, float]:
    """Minari's reference scores: mean return of a uniform random policy and of the expert actor."""
    import gymnasium as gym

    chosen = choose_checkpoints(env)
    expert = evaluate_actor(load_actor(chosen["expert"]), LOCOMOTION_ENVS[env], episodes, seed)
    e = gym.make(LOCOMOTION_ENVS[env])
    e.action_space.seed(seed)
    rand = []
    for k in range(episodes):
        e.reset(seed=seed + k)
        total, done = 0.0, False
        while not done:
            _, r, term, trunc, _ = e.step(e.action_space.sample())
            total += r
            done = term or trunc
        rand.append(total)
    return {
        "ref_min_score": float(np.mean(rand)),
        "ref_max_score": float(expert.mean()),
        "num_episodes_average_score": episodes,
    }
