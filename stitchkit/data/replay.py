"""D4RL's medium-replay recipe: the replay buffer of an off-policy agent, recorded transition by transition.

D4RL (Fu et al. 2020) built ``<env>-medium-replay`` by "recording all samples in the replay buffer observed during
training until the policy reaches the 'medium' level of performance" (rlkit's SAC). The kit does the same with
stable-baselines3's SAC (D4RL's algorithm; its defaults are rlkit's: 256-256 networks, lr 3e-4, batch 256, tau
0.005, automatic entropy, one update per environment step), recording every transition the agent's environment
sees (:class:`Recorder`), evaluating the policy every ``eval_every`` steps, and checkpointing so a multi-hour run
resumes after a kill (:func:`record`).

Why commit actions and not the buffer: a recording of 400k transitions is 24-30 MB of float32 states per
environment. The environment is deterministic, so the actions, each episode's reset seed and its length regenerate
every state, reward and flag exactly: :func:`replay` rebuilds the episodes in about a minute, and checks them
against the recording's own returns and digest (:data:`RECORDINGS`, about 5 MB per environment). The stopping step
is chosen after the run, from the prefix statistics (:func:`prefix_stats`), and committed with the recording.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch

from stitchkit.data.d4rl import D4RL_MEDIUM_REPLAY, TOLERANCE, d4rl_score
from stitchkit.data.episodes import Episode
from stitchkit.data.policies import LOCOMOTION_ENVS, Checkpoint, _versions, evaluate_actor, load_actor
from stitchkit.files import atomic_torch_save, atomic_write_json, atomic_write_npz
from stitchkit.paths import replays_dir

LEARNING_STARTS = 1_000  # rlkit's min_num_steps_before_training (D4RL's SAC); SB3 takes uniform actions meanwhile


def run_dir(env: str, seed: int) -> Path:
    """Where a recording run keeps its state (git-ignored, under data/)."""
    from stitchkit.paths import data_dir

    return data_dir() / "checkpoints" / "replay" / f"{env}-sac-s{seed}"


def recordings_dir() -> Path:
    """The committed recordings: ``data/replays/<env>/`` beside the committed behaviour policies."""
    return replays_dir()


def _save_actor(actor, path: Path) -> None:
    """The actor alone, in float16, in the committed behaviour policies' format (:func:`policies.load_actor`)."""
    blob = {
        "state_dict": {k: v.detach().to(torch.float16) for k, v in actor.state_dict().items() if "." in k},
        "obs_dim": actor.latent_pi[0].in_features,
        "act_dim": actor.mu.out_features,
        "low": actor.low.clone(),
        "high": actor.high.clone(),
    }
    atomic_torch_save(path, blob)


#: how acting and learning alternate: "rlkit" is D4RL's SAC (rlkit's TorchBatchRLAlgorithm, examples/sac.py): the
#: first LOOP steps from the initial policy, then loops of LOOP gradient steps followed by LOOP environment steps,
#: each path cut where the loop's step budget ends (``discard_incomplete_paths=False``: the cut path is kept, ending
#: in a timeout, and the next loop starts from a reset). "interleaved" is stable-baselines3's: uniform actions for
#: LEARNING_STARTS steps, then one update after every environment step, paths ending only by the environment.
SCHEDULES = ("rlkit", "interleaved")
LOOP = 1_000


def run_files(env: str, seed: int, schedule: str = "interleaved") -> dict[str, Path]:
    """A recording run's resumable state, small enough to commit (``data/replays/<env>/``): the recording so far
    (``.npz``: every action, and per episode its length, seed, return, end), the agent with its optimisers and random
    states (``.pt``, about 3 MB; the commit point), and the evaluations (``.json``). The replay buffer is not saved:
    replaying the recording rebuilds it exactly, so a fresh clone continues a run another machine started. The
    interleaved schedule's files are ``run-s<seed>.*``, rlkit's ``rlkit-s<seed>.*``."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; accepted: {', '.join(SCHEDULES)}")
    stem = recordings_dir() / env / (f"run-s{seed}" if schedule == "interleaved" else f"rlkit-s{seed}")
    return {
        "recording": stem.with_suffix(".npz"),
        "agent": stem.with_suffix(".pt"),
        "manifest": stem.with_suffix(".json"),
    }


def record(
    env: str,
    total_steps: int,
    seed: int = 0,
    checkpoint_every: int = 25_000,
    eval_every: int = 10_000,
    eval_episodes: int = 10,
    threads: int = 1,
    log=print,
    schedule: str = "interleaved",
    loop: int = LOOP,
) -> Path:
    """Train SAC (:class:`~stitchkit.data.sac.SAC`) on ``env`` until about ``total_steps`` environment steps (the
    end of the episode running then), recording every transition: D4RL's medium-replay recipe.

    Episode ``k`` starts from ``reset(seed=seed * 1_000_000 + k)`` and its actions are kept, so the recording
    replays (:func:`replay`). The first :data:`LEARNING_STARTS` steps take uniform actions, then one update follows
    every step. Every ``eval_every`` steps the policy is scored on ``eval_episodes`` episodes with stochastic actions
    (as the datasets are collected). After the first episode to end past each ``checkpoint_every`` steps the run's
    state is written (:func:`run_files`), so a killed run, or one on a fresh clone, resumes from there and continues
    bit for bit on the same machine (a checkpoint falls between episodes: nothing half-recorded is lost). Rerun
    with a larger ``total_steps`` to extend a finished recording. ``schedule`` (:data:`SCHEDULES`): how acting and
    learning alternate; the description above is "interleaved", "rlkit" is D4RL's own loop, of ``loop`` steps
    (rlkit's 1,000; tests shorten it)."""
    import gymnasium as gym

    from stitchkit.data.sac import SAC

    if env not in LOCOMOTION_ENVS:
        raise ValueError(f"unknown locomotion env {env!r}; accepted: {', '.join(LOCOMOTION_ENVS)}")
    torch.set_num_threads(threads)
    env_id = LOCOMOTION_ENVS[env]
    files = run_files(env, seed, schedule)
    files["agent"].parent.mkdir(parents=True, exist_ok=True)
    e = gym.make(env_id)
    od, ad = e.observation_space.shape[0], e.action_space.shape[0]
    agent = SAC(od, ad, e.action_space.low, e.action_space.high, seed)
    rng = np.random.default_rng(seed)
    rec: dict[str, list] = {k: [] for k in ("actions", "seeds", "returns", "terminated", "steps_at_end")}
    meta = {
        "env": env,
        "env_id": env_id,
        "algorithm": "SAC (the kit's; rlkit's and stable-baselines3's default settings)",
        "settings": {"learning_starts": LEARNING_STARTS, "batch_size": 256, "hidden": 256, "lr": 3e-4}
        | ({"schedule": "rlkit", "loop": loop} if schedule == "rlkit" else {}),
        "seed": seed,
        "eval_every": eval_every,
        "eval_episodes": eval_episodes,
        "versions": _versions(),
        "evaluations": [],
    }
    step, wall, replayed = 0, 0.0, []
    if files["agent"].exists():
        sd = torch.load(files["agent"], weights_only=False)
        agent.load_state_dict(sd["agent"])
        rng.bit_generator.state = sd["rng"]
        step, wall, meta["evaluations"] = sd["step"], sd["wall"], sd["evaluations"]
        arrays = _load_npz(files["recording"])
        n = sd["episodes"]
        arrays = _truncate(arrays, int(arrays["steps_at_end"][n - 1]))  # the episodes the agent's state has seen
        replayed = _replay_arrays(env, arrays)
        if not np.allclose([x.rewards.sum() for x in replayed], arrays["returns"]):
            raise RuntimeError(f"the {env} recording does not replay on this machine: its buffer cannot be rebuilt")
        rec["actions"] = [x.actions for x in replayed]
        rec["seeds"] = [int(v) for v in arrays["seeds"]]
        rec["returns"] = [float(v) for v in arrays["returns"]]
        rec["terminated"] = [bool(v) for v in arrays["terminated"]]
        rec["steps_at_end"] = [int(v) for v in arrays["steps_at_end"]]
        log(f"{env}: resuming the SAC recording at step {step} ({n} episodes replayed into the buffer)")
    cap = max(total_steps, step) + 1_000  # the last episode may run past total_steps
    buf = {
        "obs": np.zeros((cap, od), np.float32),
        "next_obs": np.zeros((cap, od), np.float32),
        "act": np.zeros((cap, ad), np.float32),
        "rew": np.zeros(cap, np.float32),
        "done": np.zeros(cap, np.float32),
    }
    at = 0
    for x in replayed:
        n = len(x)
        buf["obs"][at : at + n], buf["next_obs"][at : at + n] = x.observations[:-1], x.observations[1:]
        buf["act"][at : at + n], buf["rew"][at : at + n] = x.actions, x.rewards
        buf["done"][at : at + n] = x.terminations
        at += n
    t0 = time.time() - wall

    def evaluate(now: int) -> None:
        file = run_dir(env, seed) / schedule / f"actor_{now:07d}.pt"
        file.parent.mkdir(parents=True, exist_ok=True)
        _save_actor(agent.actor, file)
        ret = evaluate_actor(load_actor(Checkpoint(env, now, 0.0, file)), env_id, eval_episodes, seed=1000)
        meta["evaluations"].append(
            {
                "step": now,
                "mean_return": float(ret.mean()),
                "std_return": float(ret.std()),
                "episodes": len(rec["seeds"]),
                "wall_s": round(time.time() - t0, 1),
            }
        )
        log(
            f"{env} SAC step {now:>7}: eval {ret.mean():8.1f} ± {ret.std():6.1f}, {len(rec['seeds'])} episodes "
            f"recorded ({time.time() - t0:6.0f} s)"
        )

    def checkpoint() -> None:
        atomic_write_npz(files["recording"], _arrays(rec))
        atomic_write_json(files["manifest"], {**meta, "step": step, "episodes": len(rec["seeds"])})
        sd = {
            "agent": agent.state_dict(),
            "rng": rng.bit_generator.state,
            "step": step,
            "wall": time.time() - t0,
            "episodes": len(rec["seeds"]),
            "evaluations": meta["evaluations"],
        }
        atomic_torch_save(files["agent"], sd)  # the commit point: names how many recorded episodes it has seen

    def update() -> None:
        idx = rng.integers(0, step, 256)
        agent.update(*(torch.from_numpy(buf[n][idx]) for n in ("obs", "act", "rew", "next_obs", "done")))

    def episode(limit: int | None, learn: bool) -> None:
        """One path from a seeded reset, until the environment ends it or after ``limit`` steps (a cut)."""
        nonlocal step
        k = len(rec["seeds"])
        ob, _ = e.reset(seed=seed * 1_000_000 + k)
        acts, total, term = [], 0.0, False
        while True:
            uniform = schedule == "interleaved" and step < LEARNING_STARTS
            a = rng.uniform(-1, 1, ad).astype(np.float32) if uniform else agent.act(ob)
            ob2, r, term, trunc, _ = e.step(a)
            buf["obs"][step], buf["next_obs"][step], buf["act"][step] = ob, ob2, a
            buf["rew"][step], buf["done"][step] = r, float(term)
            acts.append(a)
            total += float(r)
            step += 1
            if learn and step >= LEARNING_STARTS:
                update()
            if learn and step % eval_every == 0:
                evaluate(step)
            ob = ob2
            if term or trunc or (limit is not None and len(acts) >= limit):
                break
        rec["actions"].append(np.stack(acts))
        rec["seeds"].append(seed * 1_000_000 + k)
        rec["returns"].append(total)
        rec["terminated"].append(bool(term))
        rec["steps_at_end"].append(step)

    if step == 0:
        evaluate(0)
    next_ckpt = (step // checkpoint_every + 1) * checkpoint_every
    while step < total_steps:
        if schedule == "interleaved":
            episode(None, learn=True)
        else:  # rlkit: train a loop (none in the first two, as rlkit's pre-training and epoch 0), then act a loop
            if step >= 2 * loop:
                for _ in range(loop):
                    update()
            end = step + loop
            while step < end:
                episode(end - step, learn=False)
            if step % eval_every == 0:
                evaluate(step)
        if step >= next_ckpt or step >= total_steps:
            checkpoint()
            next_ckpt = (step // checkpoint_every + 1) * checkpoint_every
    e.close()
    return files["recording"]


def _arrays(rec: dict[str, list]) -> dict[str, np.ndarray]:
    return {
        "actions": np.concatenate(rec["actions"]).astype(np.float32),
        "lengths": np.asarray([len(a) for a in rec["actions"]], np.int32),
        "seeds": np.asarray(rec["seeds"], np.int64),
        "returns": np.asarray(rec["returns"], np.float64),
        "terminated": np.asarray(rec["terminated"], bool),
        "steps_at_end": np.asarray(rec["steps_at_end"], np.int64),
    }


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return dict(z)


def run_recording(env: str, seed: int = 0, schedule: str = "interleaved") -> dict[str, np.ndarray]:
    """A run's recording so far, as arrays: every action (concatenated), and per episode its length, reset seed,
    return, whether it terminated, and the agent's step count when it ended."""
    return _load_npz(run_files(env, seed, schedule)["recording"])


def prefix_stats(recording: dict, env: str, stops) -> list[dict]:
    """For each stopping step in ``stops``, the statistics D4RL publishes of the episodes finished by then:
    transitions, episodes, mean and best episode return (D4RL-normalised). What a stopping rule is chosen on."""
    ends = recording["steps_at_end"]
    lengths = recording["lengths"]
    scores = d4rl_score(env, recording["returns"])
    rows = []
    for stop in stops:
        n = int(np.searchsorted(ends, stop, side="right"))
        rows.append(
            {
                "stop": int(stop),
                "transitions": int(lengths[:n].sum()),
                "episodes": n,
                "d4rl_mean": float(scores[:n].mean()) if n else float("nan"),
                "d4rl_best": float(scores[:n].max()) if n else float("nan"),
            }
        )
    return rows


def misses(stats: dict, env: str) -> list[str]:
    """Which of D4RL's statistics ``stats`` misses by more than :data:`TOLERANCE`, each said with both values."""
    ref = D4RL_MEDIUM_REPLAY[env]
    out = []
    for key, tol in TOLERANCE.items():
        ok = abs(stats[key] - ref[key]) <= (tol * ref[key] if key in ("transitions", "episodes") else tol)
        if not ok:
            fmt = ",.0f" if key in ("transitions", "episodes") else ".1f"
            out.append(f"{key} {stats[key]:{fmt}} vs D4RL's {ref[key]:{fmt}}")
    return out


def worst_miss(stats: dict, env: str) -> float:
    """The largest of the four statistics' distances from D4RL's, each in units of its tolerance: below 1, every
    statistic is within :data:`TOLERANCE`."""
    ref = D4RL_MEDIUM_REPLAY[env]
    return max(
        abs(stats[k] - ref[k]) / (tol * ref[k] if k in ("transitions", "episodes") else tol)
        for k, tol in TOLERANCE.items()
    )


def choose_stop(recording: dict, env: str, every: int = 1_000) -> tuple[int, float]:
    """The stopping step (a multiple of ``every``) whose recorded prefix is nearest D4RL's published statistics,
    by :func:`worst_miss`, and that miss. D4RL stopped its SAC "when the policy reaches the medium level", a level
    and a step it does not publish; what it does publish is the buffer's statistics, so the kit stops where they
    agree best, and the card says so beside when the policy reached a third of D4RL's expert return."""
    stops = np.arange(every, int(recording["steps_at_end"][-1]) + 1, every)
    rows = prefix_stats(recording, env, stops)
    misses_ = [worst_miss(r, env) if r["episodes"] else np.inf for r in rows]
    k = int(np.argmin(misses_))
    return int(stops[k]), float(misses_[k])


def medium_reached(evaluations: list[dict], env: str) -> int | None:
    """The first evaluation step at which the policy's mean return reached a third of D4RL's expert reference
    return (D4RL's "medium": a policy early-stopped at about a third of the expert's), or None."""
    from stitchkit.data.d4rl import D4RL_REFERENCE

    level = D4RL_REFERENCE[env][1] / 3
    return next((e["step"] for e in evaluations if e["mean_return"] >= level), None)


def _truncate(rec: dict[str, np.ndarray], stop: int) -> dict[str, np.ndarray]:
    """The episodes of a recording that ended by step ``stop``."""
    n = int(np.searchsorted(rec["steps_at_end"], stop, side="right"))
    out = {k: v[:n] for k, v in rec.items() if k != "actions"}
    out["actions"] = rec["actions"][: int(rec["lengths"][:n].sum())]
    return out


def card_path(env: str, name: str = "medium-replay") -> Path:
    return recordings_dir() / env / f"{name}.json"


def publish(
    env: str, stop: int, rule: str, seed: int = 0, name: str = "medium-replay", schedule: str = "interleaved"
) -> dict:
    """Name the first ``stop`` steps of a run's recording (its finished episodes) as ``<env>/<name>``: a card beside
    the recording with the stopping step and the ``rule`` that chose it, the statistics beside D4RL's, the run's
    evaluations up to the stop, and a digest of the replayed episodes (what a rebuild checks)."""
    rec = run_recording(env, seed, schedule)
    if stop > int(rec["steps_at_end"][-1]):
        raise ValueError(f"the {env} recording ends at step {int(rec['steps_at_end'][-1])}, before {stop}")
    kept = _truncate(rec, stop)
    meta = json.loads(run_files(env, seed, schedule)["manifest"].read_text())
    episodes = _replay_arrays(env, kept)
    stats = prefix_stats(rec, env, [stop])[0]
    card = {
        "env": env,
        "name": name,
        "recording": run_files(env, seed, schedule)["recording"].name,
        "algorithm": meta["algorithm"],
        "settings": meta["settings"],
        "seed": seed,
        "stop": stop,
        "rule": rule,
        "versions": meta["versions"],
        "evaluations": [e for e in meta["evaluations"] if e["step"] <= stop],
        "digest": _digest(episodes),
        "stats": stats,
        "d4rl": D4RL_MEDIUM_REPLAY[env],
        "misses": misses(stats, env),
    }
    atomic_write_json(card_path(env, name), card)
    return card


def publish_nearest(env: str, seed: int = 0, schedule: str = "interleaved") -> dict:
    """Publish the recorded stop nearest D4RL's statistics (:func:`choose_stop`), with the rule written out: what
    was searched, the miss, and when the policy reached D4RL's medium level (:func:`medium_reached`)."""
    rec = run_recording(env, seed, schedule)
    stop, miss = choose_stop(rec, env)
    evaluations = json.loads(run_files(env, seed, schedule)["manifest"].read_text())["evaluations"]
    medium = medium_reached(evaluations, env)
    rule = (
        f"the step, among multiples of 1,000 up to the recording's end at {int(rec['steps_at_end'][-1]):,}, whose "
        f"finished episodes' statistics are nearest D4RL's (largest miss {miss:.2f} of its tolerance); the policy "
        + (
            f"first reached a third of D4RL's expert return (D4RL's medium) at step {medium:,}"
            if medium is not None
            else "had not reached a third of D4RL's expert return (D4RL's medium) by the recording's end"
        )
    )
    return publish(env, stop, rule, seed, schedule=schedule)


def version(env: str, name: str = "medium-replay") -> str:
    """12 hex digits of a published recording (its card, which holds the replayed digest and the stop): a dataset
    built from another reads as stale."""
    path = card_path(env, name)
    return hashlib.sha1(path.read_bytes()).hexdigest()[:12] if path.exists() else "unpublished"


def _digest(episodes: list[Episode]) -> str:
    h = hashlib.sha256()
    for e in episodes:
        h.update(np.ascontiguousarray(e.observations, np.float64).tobytes())
        h.update(np.ascontiguousarray(e.rewards, np.float64).tobytes())
    return h.hexdigest()[:16]


def _replay_arrays(env: str, rec: dict, keep: list[int] | None = None) -> list[Episode]:
    """Recorded episodes (all, or those indexed by ``keep``) replayed from their reset seeds with their actions:
    states, rewards, flags and x positions. Ids are the episodes' places in the recording."""
    import gymnasium as gym

    e = gym.make(LOCOMOTION_ENVS[env])
    episodes = []
    starts = np.concatenate([[0], np.cumsum(rec["lengths"])])
    for k in range(len(rec["lengths"])) if keep is None else keep:
        seed = rec["seeds"][k]
        acts = rec["actions"][starts[k] : starts[k + 1]]
        ob, info = e.reset(seed=int(seed))
        obs, rews, terms, truncs, xs = [ob], [], [], [], [info["x_position"]]
        for a in acts:
            ob, r, term, trunc, info = e.step(a)
            obs.append(ob), rews.append(r), terms.append(term), truncs.append(trunc), xs.append(info["x_position"])
        if not (terms[-1] or truncs[-1]):
            truncs[-1] = True  # a path rlkit's loop cut: a timeout, as D4RL marks it
        episodes.append(
            Episode(
                np.asarray(obs),
                np.asarray(acts, np.float32),
                np.asarray(rews),
                np.asarray(terms),
                np.asarray(truncs),
                infos={"x_position": np.asarray(xs)},
                id=k,
            )
        )
    e.close()
    return episodes


def load_card(env: str, name: str = "medium-replay") -> dict:
    """The published card of ``<env>/<name>``; a clear error naming the commands if there is none."""
    path = card_path(env, name)
    if not path.exists():
        raise FileNotFoundError(
            f"no published {name} recording for {env!r} (looked for {path}); record one with "
            f"`stitchkit data record-replay {env}` (hours of one core), then publish its stopping step"
        )
    return json.loads(path.read_text())


def published_recording(
    env: str, name: str = "medium-replay", whole: bool = False
) -> tuple[dict[str, np.ndarray], dict]:
    """The published recording's episodes up to its stop (arrays, no replay; ``whole``: the whole run, past the stop
    too, for pictures of where the stop fell) and its card."""
    card = load_card(env, name)
    arrays = _load_npz(recordings_dir() / env / card["recording"])
    return (arrays if whole else _truncate(arrays, card["stop"])), card


def replay(
    env: str, budget: int | None = None, seed: int = 0, name: str = "medium-replay"
) -> tuple[list[Episode], dict]:
    """The published recording's episodes, replayed, and a card saying whether they are the recorded ones here.

    With ``budget`` (transitions) only whole episodes at evenly spaced return ranks are replayed
    (:func:`~stitchkit.data.subsample.by_return_indices`, chosen from the recorded returns before any replay, so a
    small profile's dataset costs seconds). The whole recording is checked against its digest (bit for bit); a
    part, by its recorded returns (another machine's floating point may also differ, which the card then says)."""
    from stitchkit.data.subsample import by_return_indices

    rec, card = published_recording(env, name)
    everything = budget is None or budget >= int(rec["lengths"].sum())
    keep = (
        list(range(len(rec["lengths"])))
        if everything
        else by_return_indices(rec["returns"], rec["lengths"], budget, seed)
    )
    episodes = _replay_arrays(env, rec, keep)
    same_returns = bool(np.allclose([e.rewards.sum() for e in episodes], rec["returns"][keep], rtol=1e-6, atol=1e-6))
    out = {k: card[k] for k in ("algorithm", "settings", "seed", "stop", "rule")}
    out["recording"] = f"data/replays/{env}/{card['recording']} up to step {card['stop']:,}"
    out["replayed_returns_match"] = same_returns
    if everything:
        out["replayed_exactly"] = _digest(episodes) == card["digest"]
    else:
        out["subsample"] = (
            f"{len(keep)} of {len(rec['lengths'])} episodes at evenly spaced return ranks (seed {seed}), "
            f"{sum(len(e) for e in episodes):,} of {int(rec['lengths'].sum()):,} transitions"
        )
    return episodes, out


def run_status(env: str, seed: int = 0, schedule: str = "interleaved") -> dict:
    """Where a recording run stands, from its committed files alone: steps, episodes, hours, the last evaluation,
    and the statistics of what it has recorded so far beside D4RL's."""
    files = run_files(env, seed, schedule)
    if not files["manifest"].exists():
        return {"env": env, "started": False}
    meta = json.loads(files["manifest"].read_text())
    rec = run_recording(env, seed, schedule)
    stats = prefix_stats(rec, env, [int(rec["steps_at_end"][-1])])[0]
    last = meta["evaluations"][-1]
    return {
        "env": env,
        "started": True,
        "step": meta["step"],
        "episodes": meta["episodes"],
        "hours": round(last["wall_s"] / 3600, 2),
        "last_eval": f"{last['mean_return']:.1f} at step {last['step']}",
        "recorded": {k: round(v, 1) for k, v in stats.items()},
        "d4rl": D4RL_MEDIUM_REPLAY[env],
    }
