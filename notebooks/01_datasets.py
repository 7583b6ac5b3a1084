# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Offline datasets, built on your own machine
#
# **Learning objectives.** After this notebook you can
# 1. build the kit's datasets offline, in Minari format, and load them (or real Minari datasets) with one call;
# 2. explain why the point-maze *stitch* dataset cannot be solved without stitching, with a measured fact;
# 3. read the D4RL recipes (random, medium, medium-replay, expert, medium-expert) from their return plots;
# 4. use the shared in-memory views: transitions, windows, the original:augmented sampler and the normalizers.
#
# No dataset is downloaded: the maze data comes from a scripted oracle (OGBench's `stitch` protocol), the
# locomotion data from behaviour-policy actors (TQC, trained on a laptop CPU) committed in `data/policies/`, and
# medium-replay from the recorded replay buffer of a SAC run (D4RL's own recipe), committed in `data/replays/`.

# %%
# Needs the stitchkit package in this kernel; on a hosted notebook (JupyterHub, Colab) this says how to get it.
import importlib.util

if importlib.util.find_spec("stitchkit") is None:
    raise SystemExit(
        "stitchkit is not installed in this kernel. Run `%pip install -e ..` in a cell (from the kit's notebooks/ "
        "folder; on Colab first `!git clone <the kit's repository URL> stitchkit` and `%cd stitchkit/notebooks`), "
        "then restart the kernel. README, 'Hosted notebooks', says more."
    )

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("STITCHKIT_PROFILE", "lab")  # smoke | lab | full
SEED = 0
MAZE_ID = "stitchkit/pointmaze-medium/stitch-v0"
LOCO_ENV = "hopper"

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Code, Markdown, display

import stitchkit
from stitchkit.data import maze, registry
from stitchkit.data.episodes import returns, transitions
from stitchkit.exercises import check

P = stitchkit.get_profile(PROFILE)
print(f"profile {P.name}: {P.data}")
log = print

# %% [markdown]
# ## 1. The maze stitching dataset
#
# `registry.build` runs the recipe once and writes a Minari dataset (to a temporary folder, renamed into place
# when complete). `load_episodes` returns the kit's `Episode` list; plain `minari.load_dataset` works too.

# %%
episodes = registry.load_episodes(MAZE_ID, P, build_missing=True, log=log)
info = registry.info(MAZE_ID, P)
print(
    f"{info['episodes']} episodes, {info['steps']} transitions; reference returns "
    f"{info['ref_min_score']:.0f} (random) to {info['ref_max_score']:.0f} (oracle) on the 1000-step eval task"
)
display(Code(inspect.getsource(maze.generate), language="python"))

# %% [markdown]
# Every episode is one 200-step segment from a random cell toward a cell four cells away. Below: all of them, and
# the evaluation task (start ●, goal ★) of OGBench's single-task variant.

# %%
goal = maze.task_goal("medium")
env = maze.make_env("medium")
u = env.unwrapped
cov = maze.path_coverage(episodes, "medium")


def draw_maze(ax, u):
    for i, j in np.argwhere(u.maze_map == 1):
        x, y = u.ij_to_xy((i, j))
        ax.add_patch(plt.Rectangle((x - 2, y - 2), 4, 4, color="0.25"))
    ax.set(aspect="equal", xticks=[], yticks=[])
    ax.autoscale_view()


fig, axes = plt.subplots(1, 2, figsize=(11, 5.5))
draw_maze(axes[0], u)
for ep in episodes:
    axes[0].plot(*ep.observations[:, :2].T, lw=0.6, alpha=0.6)
axes[0].set_title(f"{len(episodes)} episodes, one segment each")
draw_maze(axes[1], u)
for c, ok in zip(cov["path_cells"], cov["covered"]):
    x, y = u.ij_to_xy(c)
    axes[1].add_patch(plt.Rectangle((x - 2, y - 2), 4, 4, color="tab:green" if ok else "tab:red", alpha=0.4))
axes[1].set_title("shortest path of the task: cells the data visits (green)")
for ax in axes:
    ax.plot(*goal.init_xy, "ko", ms=10)
    ax.plot(*goal.goal_xy, "k*", ms=18)
plt.show()
env.close()
fact = (
    f"**Measured:** {cov['connecting_episodes']} of {len(episodes)} episodes connect the start to the goal, "
    f"yet the data visits {sum(cov['covered'])} of the {len(cov['path_cells'])} cells on the shortest path."
)
display(Markdown(fact))

# %% [markdown]
# That is the situation stitching is for: the pieces of the solution are all in the data, but no trajectory
# strings them together. (At the `smoke` profile there are too few episodes to cover the path; at `lab` and
# `full` the coverage is complete.)
#
# ## 2. Locomotion datasets: the D4RL recipes with the kit's own policies
#
# D4RL's five datasets per task. Four are rolled out from one behaviour-policy training run's checkpoints
# (`data/policies/<env>/manifest.json` records the algorithm and the measured return of each): `random` is the
# untrained actor, `expert` the best checkpoint (judged on 100 episodes), `medium` the one nearest a third of the way
# from random to expert (as D4RL's medium policies are), `medium-expert` both. `medium-replay` follows D4RL's
# recipe to the letter: every transition a SAC agent saw while it learned, in order, up to a published stopping
# step (section 2b). `full` holds the whole buffer; `lab` and `smoke` keep whole episodes at evenly spaced return
# ranks, so the rare good episodes keep their share.

# %%
from stitchkit.data.locomotion import NAMES, choose_checkpoints

chosen = choose_checkpoints(LOCO_ENV)
print({k: (c.step, round(c.mean_return, 1)) for k, c in chosen.items()})
LOCO_IDS = [f"stitchkit/{LOCO_ENV}/{n}-v0" for n in NAMES]
print(f"building what is missing: about {registry.estimate_build_seconds(LOCO_IDS, P) / 60:.1f} min on this machine")
loco = {n: registry.load_episodes(f"stitchkit/{LOCO_ENV}/{n}-v0", P, build_missing=True, log=log) for n in NAMES}
cards = {n: registry.info(f"stitchkit/{LOCO_ENV}/{n}-v0", P) for n in NAMES}
rows = ["| dataset | episodes | steps | mean return | normalized score |", "|---|---|---|---|---|"]
rows += [
    f"| {LOCO_ENV}/{n} | {c['episodes']} | {c['steps']} | {c['return_mean']:.1f} | {c['normalized_score_mean']:.1f} |"
    for n, c in cards.items()
]
display(Markdown("\n".join(rows)))

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
for n in NAMES:
    axes[0].hist(returns(loco[n]), bins=30, alpha=0.5, label=n)
axes[0].set(title=f"{LOCO_ENV}: episode returns", xlabel="return")
axes[0].legend()
mr = returns(loco["medium-replay"])
axes[1].plot(mr, ".", ms=3)
axes[1].set(title="medium-replay: return over training time", xlabel="episode (in collection order)")
axes[2].hist(returns(loco["medium-expert"]), bins=40, color="tab:purple")
axes[2].set(title="medium-expert: two modes", xlabel="return")
plt.show()

# %% [markdown]
# ### 2b. Medium-replay is a replay buffer: the kit's beside D4RL's
#
# D4RL built `medium-replay` by "recording all samples in the replay buffer observed during training until the
# policy reaches the 'medium' level of performance" (Fu et al. 2020). The kit does the same (`stitchkit.data.replay`):
# a SAC agent with rlkit's settings (D4RL's SAC) learns, and every action it took is committed with each episode's
# reset seed, so the environment replays the whole buffer exactly. The buffer is cut at a stopping step chosen from
# the recording's own statistics (the rule is printed below). Its size, episode count, mean and best episode are
# what D4RL publishes, so they can be checked: a learner's score on the kit's data is then comparable to CORL's.
# Two schedules of acting and learning exist (`replay.SCHEDULES`): rlkit's loop, D4RL's own (1,000 updates, then
# 1,000 environment steps, each loop's last path cut and kept as a timeout), and stable-baselines3's interleaved
# one (one update per step, paths ended by the environment only). The schedule changes how many episodes a buffer
# of the same size holds, so the table's episode count depends on it; each recording prints its own.

# %%
from stitchkit import parity
from stitchkit.data import replay

data_rows = parity.data_rows()
display(Markdown(parity.data_table(data_rows)))
for env, r in data_rows.items():
    miss = "; ".join(r["misses"]) or "none: every statistic within the tolerance (counts 35%, mean 5, best 10)"
    print(
        f"{env}: {r['algorithm']}, {r['schedule']} schedule, stopped at step {r['stop']:,} ({r['rule']}). "
        f"Misses against D4RL: {miss}"
    )

# %%
from stitchkit.data.d4rl import d4rl_score

fig, axes = plt.subplots(1, max(1, len(data_rows)), figsize=(6.5 * max(1, len(data_rows)), 3.6), squeeze=False)
for ax, env in zip(axes[0], data_rows):
    rec, card = replay.published_recording(env, whole=True)  # the whole run, past the stop too
    ax.plot(rec["steps_at_end"], d4rl_score(env, rec["returns"]), ".", ms=2, color="0.6", label="each episode")
    ev = card["evaluations"]
    ax.plot(
        [e["step"] for e in ev], d4rl_score(env, [e["mean_return"] for e in ev]), "C0-", label="policy (10 episodes)"
    )
    ax.axvline(card["stop"], color="k", ls="--", label=f"stop: step {card['stop']:,}")
    ax.set(title=f"{env}: the SAC run the buffer records", xlabel="environment step", ylabel="D4RL-normalised return")
    ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# ## 3. Headroom: can a learner beat its data?
#
# Stitching pays only where a learner can do better than the data's own behaviour, so the first question about a
# dataset is how far its mean and its best episode lie apart, and where today's learners land between them. On
# D4RL's hopper-medium-replay, learners reach about three times the dataset's mean (CORL: BC 30, IQL 97); a
# dataset whose learners already imitate its best episode leaves nothing for stitching to add.
#
# Four learners per medium-replay dataset, `P.train.seeds` seeds each: BC (copy every action), **10%-BC** (copy only
# the best 10% of episodes by return: CORL's `frac`, here `train.run(..., top_fraction=0.1)`; section 3b shows how
# CORL's code cuts its "trajectories" differently), TD3+BC and IQL.
# The runs are independent, so `run_many` trains two at a time, one per core. They are cached (`data/runs/`): the
# later notebooks' "original" arms on hopper medium-replay (05, 06, 08 and the benchmark's `none` column) are these
# same TD3+BC and IQL runs, loaded at once.

# %%
from stitchkit import bench
from stitchkit.stats import bootstrap_ci
from stitchkit.train import run_many

HEADROOM = (f"stitchkit/{LOCO_ENV}/medium-replay-v0", "stitchkit/walker2d/medium-replay-v0")
ARMS = {"BC": ("bc", None), "10%-BC": ("bc", 0.1), "TD3+BC": ("td3bc", None), "IQL": ("iql", None)}
print(f"building what is missing: about {registry.estimate_build_seconds(list(HEADROOM), P) / 60:.1f} min")
head_data = {d: registry.load_episodes(d, P, build_missing=True, log=log) for d in HEADROOM}
jobs = [
    dict(algo_name=a, dataset_id=d, seeds=P.train.seeds, profile=P.name, top_fraction=f, progress=False)
    for d in HEADROOM
    for a, f in ARMS.values()
]
print(f"{len(jobs)} runs, two at a time: about {bench.estimate_runs(jobs, processes=2) / 60:.1f} min on this machine")
head = dict(zip([(d, arm) for d in HEADROOM for arm in ARMS], run_many(jobs, processes=2)))

# %%
fig, axes = plt.subplots(1, len(HEADROOM), figsize=(6.5 * len(HEADROOM), 3.8))
rows = ["| dataset | data mean | best episode | " + " | ".join(ARMS) + " |", "|---" * (3 + len(ARMS)) + "|"]
for ax, d in zip(np.atleast_1d(axes), HEADROOM):
    card = registry.info(d, P)
    lo, hi = card["ref_min_score"], card["ref_max_score"]
    norm = 100 * (returns(head_data[d]) - lo) / (hi - lo)  # the kit's normalized score of every episode
    ax.hist(norm, bins=40, color="0.75")
    ax.axvline(norm.mean(), color="k", ls=":", label=f"data mean {norm.mean():.0f}")
    ax.axvline(norm.max(), color="k", ls="--", label=f"best episode {norm.max():.0f}")
    top = ax.get_ylim()[1]
    cells = []
    for k, arm in enumerate(ARMS):
        last = head[(d, arm)]["score"]["last"]
        mean, low, high = bootstrap_ci(lambda s: float(np.mean(s["x"])), {"x": last})
        y = top * (0.9 - 0.12 * k)
        ax.errorbar(mean, y, xerr=[[mean - low], [high - mean]], fmt="o", color=f"C{k}", capsize=3, label=arm)
        ax.plot(last, [y] * len(last), "|", color=f"C{k}", ms=10)
        cells.append(f"{mean:.1f} [{low:.1f}, {high:.1f}]")
    ax.set(title=f"{d.split('/')[1]} medium-replay: episodes and learners", xlabel="normalized score")
    ax.legend(fontsize=7, loc="center right")
    rows.append(f"| {d.split('/')[1]} | {norm.mean():.1f} | {norm.max():.1f} | " + " | ".join(cells) + " |")
plt.show()
display(Markdown("\n".join(rows) + f"\n\nLast evaluation, mean and 95% bootstrap CI over {P.train.seeds} seeds."))

# %% [markdown]
# **Reading the result, generated from this run.** Per dataset: the headroom (the best episode against the mean),
# and which learners beat the mean and the best episode, with their intervals:

# %%
lines = []
for d in HEADROOM:
    card = registry.info(d, P)
    norm = 100 * (returns(head_data[d]) - card["ref_min_score"]) / (card["ref_max_score"] - card["ref_min_score"])
    stats_d = {}
    for arm in ARMS:
        last = head[(d, arm)]["score"]["last"]
        stats_d[arm] = bootstrap_ci(lambda s: float(np.mean(s["x"])), {"x": last})
    best_arm = max(stats_d, key=lambda a: stats_d[a][0])
    above_mean = [a for a, (_, lo_a, _) in stats_d.items() if lo_a > norm.mean()]
    lines.append(
        f"- **{d.split('/')[1]}**: data mean {norm.mean():.1f}, best episode {norm.max():.1f}. Above the mean with the "
        f"interval clear of it: {', '.join(above_mean) or 'none'}. Best learner {best_arm} "
        f"{stats_d[best_arm][0]:.1f} [{stats_d[best_arm][1]:.1f}, {stats_d[best_arm][2]:.1f}], "
        + (
            "short of the best episode: room for stitching to help"
            if stats_d[best_arm][2] < norm.max()
            else "level with the best episode: little left for stitching to add"
        )
    )
display(Markdown("\n".join(lines)))

# %% [markdown]
# How to read it. A dataset is worth stitching when its best episodes lie far above its mean *and* the learners
# stop short of them. Copying only the best 10% (10%-BC) is the simplest way to use the good episodes; the
# value-based learners should do better than that given enough updates - D4RL's figures for TD3+BC and IQL on
# hopper-medium-replay (CORL) come after 1M updates, two orders of magnitude past the `lab` budget
# (`P.train.steps`). `train.run(..., steps=50_000)` shows how far a longer run gets on this machine (a few minutes
# per learner), and the campaign (notebook 09) runs 300k updates with committed records.
#
# ### 3b. Beside the literature: the same learners at a longer CPU budget, on the full-size data
#
# The runs above use the `lab` budget. The parity campaign (`stitchkit campaign run parity campaign-d4rl`, records
# committed under `results/`) trains BC, 10%-BC, TD3+BC and IQL with CORL's settings (256-256 networks, batch 256)
# for 300k updates on the whole recorded buffer, 3 seeds, and this table puts its last evaluation beside CORL's
# published last scores (1M updates, 4 seeds, D4RL's own data). It reads committed records only, so it costs
# nothing here; a cell without records reads "not yet computed".

# %%
parity_rows = parity.learner_rows(parity.runs())
display(Markdown(parity.learner_table(parity_rows)))
done = [r for r in parity_rows if "mean" in r]
print(
    f"{len(done)} of {len(parity_rows)} rows have records. "
    + "; ".join(
        f"{r['env']} {r['learner']}: {r['mean']:.1f} vs CORL's {r['corl']}"
        + ("" if r.get("met") is None else (" (target met)" if r["met"] else " (target missed)"))
        for r in done
    )
)

# %% [markdown]
# **Which tenth?** The kit's 10%-BC ranks whole episodes (`subsample.best_episodes`), as "the best 10% of
# trajectories" reads. CORL's code ranks something else: it drops the time-limit steps, joins what is left into one
# stream and cuts it only where the walker or hopper fell, or after 1,000 transitions (`subsample.corl_segments`),
# so the episodes a replay buffer cut short are joined with the next before ranking. The table compares the two
# choices on this section's data, so a gap between the kit's 10%-BC and CORL's can be read against it.

# %%
from stitchkit.data import subsample

display(Code(inspect.getsource(subsample.corl_segments), language="python"))
share_rows = ["| dataset | ranked by | kept | transitions | reward per transition |", "|---|---|---|---|---|"]
for d in HEADROOM:
    for by, got in subsample.top_share(head_data[d], 0.1).items():
        share_rows.append(
            f"| {d.split('/')[1]} | {by} | {got['kept']:,} | {got['transitions']:,} | {got['per_step']:.2f} |"
        )
display(Markdown("\n".join(share_rows)))

# %% [markdown]
# ## 4. One representation, two views, one sampler
#
# Every algorithm in the kit reads a list of `Episode`s through *transitions* (TD3+BC, IQL, CQL) or *windows*
# (diffusion models, Decision Transformer). Augmented data is mixed in at a ratio r = original : augmented.

# %%
from stitchkit.data.normalizers import EmpiricalCDF, ZScore
from stitchkit.data.samplers import MixedSampler, WindowSampler

flat = transitions(loco["medium"])
half = len(loco["medium-replay"]) // 2
mixed = MixedSampler(flat, transitions(loco["medium-replay"][:half]), ratio=3.0, seed=SEED)
batch = mixed.sample(256)
print(
    "batch of 256 at r = 3:1 ->",
    int(256 - batch["augmented"].sum()),
    "original,",
    int(batch["augmented"].sum()),
    "augmented",
)
win = WindowSampler(loco["medium"], horizon=16, seed=SEED).sample(4)
print("windows:", win["observations"].shape, "(batch, horizon + 1, state dim); mask sums", win["mask"].sum(1))

cdf, z = EmpiricalCDF.fit(flat["observations"]), ZScore.fit(flat["observations"])
d = 5  # a joint velocity: heavy-tailed
fig, axes = plt.subplots(1, 3, figsize=(13, 3))
axes[0].hist(flat["observations"][:, d], bins=60)
axes[0].set_title(f"raw state dim {d}")
axes[1].hist(z.normalize(flat["observations"])[:, d], bins=60)
axes[1].set_title("z-score (CORL)")
axes[2].hist(cdf.normalize(flat["observations"])[:, d], bins=60)
axes[2].set_title("empirical CDF (DiffStitch): flat on [-1, 1]")
plt.show()

# %% [markdown]
# **Where the kit differs from the sources.** D4RL's behaviour policies are SAC runs of about a million steps on
# the MuJoCo v2 tasks; the kit's are sb3-contrib TQC runs on Gymnasium's v5 tasks, trained on a 2-core CPU in the
# background (`make policies`), each stopped when its best checkpoint reached D4RL's expert level on 100 episodes
# (hopper: 320k steps, 3,078). TQC because it reaches those returns in fewer steps than SAC (RL Zoo), which is what
# a CPU budget needs. These runs keep sb3-contrib's default of 2 dropped quantiles per critic; the TQC paper drops
# 5 on Hopper, which steadies its returns (this run's hopper swung between 1,200 and 3,100 from one checkpoint to
# the next), and new runs (`stitchkit data train-policy ENV --seed 1`) take the paper's value. Medium-replay is a
# real replay buffer, as D4RL's, but of the kit's own SAC (rlkit's settings, written in `stitchkit.data.sac`; one
# seed) on the v5 tasks, cut at a stopping step chosen to match D4RL's published statistics (section 2b prints the
# rule and every statistic that still misses); D4RL's SAC stopped at a "medium" level it does not publish. Scores are the kit's own (its random and expert rollouts as 0 and 100), with
# D4RL's published reference returns beside them as an approximate comparison (v5 vs v2 dynamics, other
# policies). OGBench's stitch datasets also ship a 10% validation split; the kit builds the training split only.

# %% [markdown]
# ## Summary
#
# **What to remember.**
# 1. The kit builds every dataset on your machine, in Minari format, from scripted or trained behaviour policies;
#    one call (`registry.load_episodes`) loads a kit dataset or a real Minari one.
# 2. The maze's `stitch` data are short fragments: no fragment makes a long task's trip, so a learner can only solve
#    it by combining fragments - which is what stitching is for.
# 3. The D4RL recipes differ in who collected the data: `random`, `medium` (one mediocre policy), `medium-replay`
#    (a replay buffer, many policies), `expert`, `medium-expert` (both); a return histogram tells them apart.
# 4. Scores are normalized so that 0 is the random policy and 100 the expert one; the kit's references are its own
#    policies, so its scores are not D4RL's.
#
# **Key equations.**
# $$\text{score} = 100\,\frac{R - R_{\text{random}}}{R_{\text{expert}} - R_{\text{random}}}, \qquad
# n_{\text{orig}} = \operatorname{round}\!\Big(B\,\frac{r}{r+1}\Big)\ \text{per batch of } B \text{ at ratio } r.$$
#
# **Pseudocode: a D4RL-style dataset.**
# ```text
# for each behaviour policy of the recipe (random / medium / expert / every checkpoint of a training run):
#     roll out episodes in the environment: record (s, a, r, s', terminated, truncated) at every step
# save all episodes as one Minari dataset, with the recipe and the policies' reference returns in its metadata
# ```
# **Read further.** Fu et al., *D4RL* (2020), Section 4 (the recipes); Park et al., *OGBench* (2024), the `stitch`
# datasets.

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** 10%-BC copies the best tenth of the *episodes* by return (`subsample.best_episodes`). Predict
# first: on the medium-replay datasets of section 3, do those episodes hold about a tenth of the *transitions*, more
# or fewer? Then store in `answer_1` a dict `{dataset: share of the transitions in its best 10% of episodes}` over
# `HEADROOM` (from `head_data`). Afterwards, in two sentences: why is the share what it is in a replay buffer of
# hopping and walking (what ends an episode early?), and what does it say about how much data 10%-BC really trains
# on, against BC?

# %%
from stitchkit.data.subsample import best_episodes

answer_1 = None  # your code here

# %% tags=["solution"]
answer_1 = {d: sum(len(e) for e in best_episodes(eps, 0.1)) / sum(len(e) for e in eps) for d, eps in head_data.items()}
print({d: f"{share:.0%}" for d, share in answer_1.items()})


# %%
def _top_share(d: str) -> float:
    eps = head_data[d]
    return sum(map(len, best_episodes(eps, 0.1))) / sum(map(len, eps))


check(
    "exercise 1",
    answer_1,
    satisfies=lambda found: set(found) == set(HEADROOM) and all(np.isclose(found[d], _top_share(d)) for d in HEADROOM),
    hint="for each dataset: transitions of best_episodes(episodes, 0.1) over all its transitions",
)

# %% [markdown]
# **Exercise 2.** A transition-budget id (`...-2k-v0`: 2,000 transitions) keeps *whole* episodes, drawn in a random
# order (`subsample.subsample_episodes`). Read its code and decide: for a budget B, does the subsample hold exactly B,
# at most B, or at least B transitions? Store the phrase (`"exactly"`, `"at most"` or `"at least"`) in `answer_2`.
# Then test your reading where episode lengths vary: store the transitions of `stitchkit/hopper/medium-replay-2k-v0`
# in `answer_2b`. (Why does the maze's `stitch-2k` not tell the three apart?)

# %%
answer_2 = None  # your code here
answer_2b = None  # your code here

# %% tags=["solution"]
answer_2 = "at least"  # the fewest episodes whose transitions reach the budget
hopper_2k = registry.load_episodes("stitchkit/hopper/medium-replay-2k-v0", P, build_missing=True, log=log)
answer_2b = sum(len(ep) for ep in hopper_2k)

# %%
check("exercise 2", answer_2, hashed="e9213756a2e6", hint="look at np.searchsorted(np.cumsum(lengths), budget) + 1")
check(
    "exercise 2b",
    answer_2b,
    satisfies=lambda n: (
        n
        == sum(
            len(ep)
            for ep in registry.load_episodes("stitchkit/hopper/medium-replay-2k-v0", P, build_missing=True, log=log)
        )
    ),
    hint="sum the lengths of the episodes registry.load_episodes returns for that id",
)
