# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Stitching you can see: a goal-conditioned learner on the maze
#
# **Learning objectives.** After this notebook you can
# 1. read a goal-conditioned task (a start, a goal, success reported by the environment) and say why fragments
#    4 cells long do not teach trips of 10 cells;
# 2. train goal-conditioned behaviour cloning (GCBC) and see it solve short trips but fail long ones;
# 3. build *chains* of fragments three ways (naive joints, DiffStitch bridges, ASTRO bridges), and judge every
#    joint with the physics oracle;
# 4. measure what stitched data changes, with 5 seeds and 95% confidence intervals, next to two learners that
#    stitch without generated data (goal swapping, and GCIVL's value);
# 5. read a sweep of training budget and network size, and say where the original data catches up.
#
# **Two parts.** Sections 1-6 are the core lesson (objectives 1-4); sections 7-8 are an optional part, a study built
# on it: the budget and width sweep (objective 5) and the search for where naive joints fail, read from committed
# results. A 2-hour lab can stop after section 6 and take the exercises.
#
# This is the course's first measured stitching effect, on a laptop, in about ten minutes at the `lab` profile.
# All the code lives in `stitchkit`; the notebook shows its real source and draws what it does.

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
SEEDS = 5  # seeds per arm of the main comparison
GCIVL_SEEDS = 3  # GCIVL costs about three GCBC arms

# %%
import inspect
import time

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Code, Markdown, display

import stitchkit
from stitchkit import augment, bench, bridge_search, capacity_sweep, render, stats
from stitchkit.algos import gcivl
from stitchkit.algos.gcbc import GCBC
from stitchkit.augment import chains
from stitchkit.data import registry
from stitchkit.data.episodes import transitions
from stitchkit.data.goals import GoalIndex
from stitchkit.data.normalizers import ZScore
from stitchkit.evaluate import GoalEvaluator, goal_env_id, goal_tasks
from stitchkit.exercises import check
from stitchkit.slider import ParameterSlider
from stitchkit.train import load_algo, run_many

P = stitchkit.get_profile(PROFILE)
MAZE = "stitchkit/pointmaze-medium/stitch-v0"
ENV = "pointmaze-medium"
G = P.goals
print(f"profile {P.name}: {P.description}")
print(f"GCBC: {G.steps} steps, batch {G.batch_size}, MLP {G.hidden}; evaluation horizon {G.horizon}")
T0 = time.perf_counter()

# %% [markdown]
# ## 1. Fragments and tasks
#
# The kit's maze data (notebook 01) are 200-step *fragments*: each starts in a random cell and heads for a cell
# four cells away, then waits there. OGBench evaluates on five fixed **long tasks** (start ●, goal ★), 6 to 10
# cells apart, and the environment itself reports success when the point is within reach of the goal. We add
# five **control tasks**, 2 to 4 cells long: trips the fragments themselves contain.

# %%
episodes = registry.load_episodes(MAZE, P, build_missing=True)
tasks = goal_tasks(goal_env_id(MAZE))
long_tasks = [t for t in tasks if t["name"].startswith("task")]
controls = [t for t in tasks if t["name"].startswith("control")]
rng = np.random.default_rng(SEED)

fig, axes = plt.subplots(1, 2, figsize=(11, 5.5))
render.draw_maze(axes[0], ENV)
for k in rng.choice(len(episodes), size=min(40, len(episodes)), replace=False):
    axes[0].plot(*episodes[k].observations[:, :2].T, lw=0.8, alpha=0.7)
axes[0].set_title(f"40 of {len(episodes)} fragments")
render.draw_maze(axes[1], ENV)
for t, color in [(t, "tab:red") for t in long_tasks] + [(t, "tab:green") for t in controls]:
    axes[1].annotate("", t["goal"], t["start"], arrowprops=dict(arrowstyle="->", color=color, lw=2, alpha=0.8))
    axes[1].plot(*t["start"], "o", color=color)
    axes[1].plot(*t["goal"], "*", color=color, ms=12)
axes[1].set_title("long tasks (red) and control tasks (green)")
plt.show()
span = np.array([np.linalg.norm(e.observations[-1, :2] - e.observations[0, :2]) for e in episodes])
print(f"a fragment moves {np.median(span):.1f} maze units from its start (a cell is 4 units)")
print("long tasks, cells apart:", [t["cells"] for t in long_tasks], "| control tasks:", [t["cells"] for t in controls])

# %% [markdown]
# ## 2. Three ways to make long trajectories from short ones
#
# A goal-conditioned learner takes its goals in *hindsight*: the goal of a state is a state the same trajectory
# reached later (`GoalIndex.sample_goals`, OGBench's rule). Fragments 4 cells long only ever pair states 4 cells
# apart, so the data never says how to go 10 cells. A **chain** lays fragments end to end: fragment A runs until
# it passes near the start of fragment B, then B takes over, and so on, 3 to 6 times. How near is the chain's
# **hand-over distance** `near` (in maze units; 1 by default): the largest gap a joint may have to
# close, by a naive one-step jump or by a generated bridge. `plan_chains` draws them;
# chains go *outward* (each next fragment must settle farther from the chain's start), so a chain is a long trip,
# not a random walk that turns back.

# %%
display(Code(inspect.getsource(GoalIndex.sample_goals), language="python"))
display(Code(inspect.getsource(chains.plan_chains), language="python"))

# %% [markdown]
# Where A hands over to B, the two states do not meet: A's last kept state is up to one unit from B's first. How
# to cross that gap is where the stitching methods differ:
#
# * **naive**: one glued transition, A's own action, landing on B's first state: a small teleport;
# * **DiffStitch**: the diffusion model inpaints a 10-step bridge between the two states, the inverse dynamics
#   model labels its actions, the dynamics model qualifies it (notebook 05 builds each model);
# * **ASTRO**: the learned temporal distance sets the bridge's length, and the planner corrects the actions by
#   rolling them out in the learned dynamics (Rollout Deviation Feedback, notebook 06); the bridge's states are
#   that rollout.
#
# The generative bridges need models trained on the data (minutes on one core at `lab`), so they are
# built in a worker process of their own while the rest of the notebook trains learners on the other core.

# %%
CHAIN_IDS = {
    "naive": "stitchkit/pointmaze-medium/stitch-chain-naive-v0",
    "DiffStitch": "stitchkit/pointmaze-medium/stitch-chain-ds-v0",
    "ASTRO": "stitchkit/pointmaze-medium/stitch-chain-astro-v0",
}
JOINT = {"naive": "naive", "DiffStitch": "diffstitch", "ASTRO": "astro"}
background = augment.start(  # DiffStitch's models first, then ASTRO's on top of them: one worker, one core
    [
        dict(name="chain", dataset_id=MAZE, out_id=CHAIN_IDS[k], seed=SEED, joint=JOINT[k])
        for k in ("DiffStitch", "ASTRO")
    ],
    P,
)
summaries = {"naive": augment.run("chain", MAZE, CHAIN_IDS["naive"], P, seed=SEED, joint="naive", log=print)}
RATIO = chains.ChainConfig().ratio  # original : chained transitions in every batch
print(f"training batches mix original and chained transitions at {RATIO} : 1")

# %% [markdown]
# ## 3. GCBC on the original fragments, and the learners that stitch without generated data
#
# GCBC regresses the data's action given the state and a hindsight goal: nothing more.

# %%
display(Code(inspect.getsource(GCBC.update), language="python"))

# %% [markdown]
# Four arms train now, all with the same steps, network and batch (`P.goals`), 5 seeds each in one batched model,
# two runs at a time on the two cores: GCBC on the original fragments; GCBC on the naive chains; GCBC with
# **goal swapping** (Ghugare et al., 2024: with probability 0.5 the goal is swapped for a future state of another
# fragment that passes through the same region, stitching by relabelling alone); and **GCIVL**, OGBench's
# value-based learner, whose TD backups carry "how far to the goal" across fragments that share a state (3 seeds:
# it costs three GCBC arms). The cell prints its estimate, measured on this machine, before it trains.

# %%
ARMS = {
    "original": dict(),
    "naive chains": dict(augmented_id=CHAIN_IDS["naive"], ratio=RATIO),
    "goal swapping": dict(actor_p_swap=0.5),
}
base = dict(dataset_id=MAZE, seeds=SEEDS, profile=P.name)
first = {"GCIVL (original)": dict(algo_name="gcivl", **{**base, "seeds": GCIVL_SEEDS})}  # the longest job first
first |= {k: dict(algo_name="gcbc", **base, **v) for k, v in ARMS.items()}
print(
    f"{len(first)} arms, two at a time: about {bench.estimate_runs(list(first.values())) / 60:.1f} min of training here"
)
t = time.perf_counter()
results = dict(zip(first, run_many(list(first.values()), processes=2)))
print(f"trained {len(first)} arms in {time.perf_counter() - t:.0f} s")


def final(out: dict, key: str = "score") -> np.ndarray:
    """Per seed, the metric at the last evaluation."""
    last = max(r["step"] for r in out["curves"])
    return np.array([r[key] for r in out["curves"] if r["step"] == last])


def summarize(results: dict) -> dict:
    rows = {}
    for name, out in results.items():
        score = final(out)
        mean, lo, hi = stats.bootstrap_ci(lambda s: float(stats.pooled(s).mean()), {"long": score}, seed=SEED)
        quick = float(final(out, f"score_{G.horizon // 2}").mean())  # success within half the horizon
        rows[name] = dict(
            mean=mean, lo=lo, hi=hi, seeds=score, control=float(final(out, "control").mean()), quick=quick
        )
    return rows


for r in summarize({"original": results["original"]}).values():
    print(
        f"GCBC on the original fragments: long tasks {r['mean']:.0f}% [{r['lo']:.0f}, {r['hi']:.0f}], "
        f"control tasks {r['control']:.0f}%"
    )

# %% [markdown]
# ## 4. The stitched datasets, drawn, and judged by the physics oracle
#
# The oracle (notebook 03) sets the simulator to each generated transition's state, applies its action, and
# measures how far the simulated next state lands from the stored one. A joint *passes* when that error is smaller
# than the median distance the point moves in one step of the original data: otherwise the joint is a teleport.

# %%
summaries["DiffStitch"], summaries["ASTRO"] = background.result()  # waits for the worker if it is still busy
for name, summary in summaries.items():
    if "error" in summary:  # undertrained models (the smoke profile) may qualify no chain at all
        print(f"{name}: {summary['error']}")
chained = {name: registry.load_episodes(CHAIN_IDS[name], P) for name in CHAIN_IDS if "error" not in summaries[name]}
BRIDGED = next((k for k in ("DiffStitch", "ASTRO") if k in chained), "naive")  # the arm drawn and swept below
step_size = float(
    np.median(np.concatenate([np.linalg.norm(np.diff(e.observations[:, :2], axis=0), axis=1) for e in episodes]))
)
oracle = {name: augment.oracle_errors(ENV, eps) for name, eps in chained.items()}

fig, axes = plt.subplots(1, len(chained), figsize=(5.3 * len(chained), 5.5), squeeze=False)
axes = axes[0]
for ax, (name, eps) in zip(axes, chained.items()):
    render.draw_maze(ax, ENV)
    for e in eps[:12]:
        ax.plot(*e.observations[:, :2].T, lw=1, alpha=0.8)
    gen = np.concatenate([e.observations[:-1][e.provenance.generated_mask(len(e))] for e in eps])
    ok = oracle[name] < step_size
    ax.scatter(*gen[ok, :2].T, s=4, c="tab:green", zorder=3, label="passes")
    ax.scatter(*gen[~ok, :2].T, s=4, c="tab:red", zorder=3, label="fails")
    ax.set_title(f"{name}: {len(eps)} chains, {summaries[name]['mean_hops']:.1f} fragments each")
axes[0].legend(loc="lower right", markerscale=4)
plt.show()
rows = "\n".join(
    f"| {name} | {len(chained[name])} | {summaries[name].get('joint_qualification_rate', 1.0):.0%} | "
    f"{len(oracle[name])} | {np.median(oracle[name]):.3f} | {np.mean(oracle[name] < step_size):.0%} |"
    for name in chained
)
display(
    Markdown(
        f"One step of the original data moves the point {step_size:.3f} units (median).\n\n"
        "| joints | chains kept | chains whose bridges all qualified (own model) | generated transitions | "
        "median oracle error | pass the oracle |\n|---|---|---|---|---|---|\n" + rows
    )
)

# %% [markdown]
# **Reading, generated from this run.** A joint whose median oracle error is several steps' worth of motion is a
# teleport; a bridge spreads the same gap over many small steps. Compare each method's own verdict (the share of
# chains its model qualified) with the simulator's:

# %%
lines = []
for name in chained:
    med, share = float(np.median(oracle[name])), float(np.mean(oracle[name] < step_size))
    own = summaries[name].get("joint_qualification_rate")
    lines.append(
        f"- **{name}**: median oracle error {med:.3f} maze units, {med / step_size:.1f} steps' worth of motion; "
        f"{share:.0%} of its generated transitions pass the oracle"
        + (f"; its own model qualified {own:.0%} of the chains" if own is not None else "")
    )
display(Markdown("\n".join(lines)))

# %% [markdown]
# ## 5. GCBC on the stitched data: the effect, with confidence intervals
#
# The DiffStitch and ASTRO arms train now (same steps, network and batch as above). The cell prints its estimate
# before it trains.

# %%
second = {
    f"{k} chains": dict(algo_name="gcbc", **base, augmented_id=CHAIN_IDS[k], ratio=RATIO)
    for k in ("DiffStitch", "ASTRO")
    if k in chained
}
# GCIVL on the naive chains too: section 6 draws its value beside the original data's (does TD need the chains?).
# One seed, for that map: three would cost this notebook two more minutes than its 12 at `lab`
second["GCIVL (naive chains)"] = dict(
    algo_name="gcivl", **{**base, "seeds": 1}, augmented_id=CHAIN_IDS["naive"], ratio=RATIO
)
STITCHED = f"{BRIDGED} chains"  # the arm section 6 draws
jobs = list(second.values())
print(f"{len(jobs)} runs, two at a time: about {bench.estimate_runs(jobs) / 60:.1f} min on this machine")
t = time.perf_counter()
out = run_many(jobs, processes=2)
results |= dict(zip(second, out))
print(f"trained {len(out)} runs in {time.perf_counter() - t:.0f} s")

# %%
order = ["original", "naive chains", "DiffStitch chains", "ASTRO chains", "goal swapping", "GCIVL (original)"]
table = summarize({k: results[k] for k in order if k in results})
fig, ax = plt.subplots(figsize=(9, 4))
for i, (name, r) in enumerate(table.items()):
    ax.bar(i, r["mean"], color="0.6" if name in ("original", "GCIVL (original)") else "tab:blue")
    ax.errorbar(i, r["mean"], yerr=[[r["mean"] - r["lo"]], [r["hi"] - r["mean"]]], color="k", capsize=4)
    ax.plot(np.full(len(r["seeds"]), i) + np.linspace(-0.2, 0.2, len(r["seeds"])), r["seeds"], "k.", alpha=0.5)
ax.set_xticks(range(len(table)), [n.replace(" ", "\n", 1) for n in table], fontsize=8)
ax.set(
    ylabel="success on the 5 long tasks (%)",
    ylim=(0, 105),
    title=f"{P.name}: {G.steps} steps, MLP {G.hidden}, {SEEDS} seeds (dots), 95% bootstrap CI",
)
plt.show()
display(
    Markdown(
        f"| arm | long tasks: success % [95% CI] | per seed | within {G.horizon // 2} steps | control tasks % |\n"
        "|---|---|---|---|---|\n"
        + "\n".join(
            f"| {n} | {r['mean']:.1f} [{r['lo']:.1f}, {r['hi']:.1f}] | {r['seeds'].round(0).tolist()} | "
            f"{r['quick']:.0f} | {r['control']:.0f} |"
            for n, r in table.items()
        )
        + f"\n\nGCIVL on the naive chains, one seed (trained for its value map in section 6, so no interval): "
        f"{final(results['GCIVL (naive chains)']).mean():.1f}% of the long tasks."
    )
)

# %% [markdown]
# **Reading, generated from this run.** Each arm against GCBC on the original fragments (95% bootstrap intervals
# over seeds: "apart" when they do not overlap):

# %%
base = table["original"]


def versus_original(r: dict) -> str:
    if r["lo"] > base["hi"]:
        return "above the original arm, intervals apart"
    if r["hi"] < base["lo"]:
        return "below the original arm, intervals apart"
    return "level with the original arm within the intervals"


lines = [
    f"- **original fragments**: {base['mean']:.0f}% [{base['lo']:.0f}, {base['hi']:.0f}] of the long tasks, "
    f"{base['control']:.0f}% of the control tasks: it learned the data's short trips"
]
lines += [
    f"- **{n}**: {r['mean']:.0f}% [{r['lo']:.0f}, {r['hi']:.0f}], {versus_original(r)}; control {r['control']:.0f}%; "
    f"within {G.horizon // 2} steps {r['quick']:.0f}%"
    for n, r in table.items()
    if n != "original"
]
display(Markdown("\n".join(lines)))

# %% [markdown]
# How to read it. Chains give GCBC long trips to imitate, so its long-task success should rise while the control
# tasks (short trips) stay solved. Goal swapping stitches by relabelling goals only. GCIVL's value could stitch by
# itself, but at `lab` it gets 10k TD updates where OGBench trains 1M steps. At this hand-over distance
# (`near` = 1 maze unit) a naive joint is a short jump, and GCBC imitates the real actions around it: compare the
# naive and bridged arms above before concluding anything about the bridges - section 8 searches for where they
# differ.

# %% [markdown]
# ## 6. What the policies do
#
# One long task (task 1, across the whole maze), one seed, drawn for GCBC trained on the original fragments and
# on DiffStitch chains (`STITCHED`; naive chains where no generated chain qualified, as with the smoke profile's
# undertrained models): every evaluation episode of that task.

# %%
norm = ZScore.fit(transitions(episodes)["observations"])  # the learners' own normalizer: the original data's
evaluate_one = GoalEvaluator(
    goal_env_id(MAZE), norm, SEEDS, G.eval_episodes, G.horizon, seed=SEED, control=0, long_tasks=(1,)
)
fig, axes = plt.subplots(1, 2, figsize=(11, 5.5))
for ax, name in zip(axes, ("original", STITCHED)):
    roll = evaluate_one.rollouts(load_algo(results[name]["run_dir"]).actor)  # every seed; seed 0 drawn
    render.draw_maze(ax, ENV)
    for path, ok in zip(roll["paths"][0], roll["success"][0]):
        ax.plot(*path[:, :2].T, color="tab:green" if ok else "tab:red", lw=1.2, alpha=0.8)
    ax.plot(*long_tasks[0]["start"], "ko", ms=9)
    ax.plot(*long_tasks[0]["goal"], "k*", ms=16)
    ax.set_title(f"GCBC, {name}, seed {SEED}: {roll['success'][0].mean():.0%} reach the goal")
plt.show()

# %% [markdown]
# **What GCIVL's value learned.** GCIVL does not imitate a chain: its value V(s, g) is regressed on its own backed-up
# targets, so "how far to g" flows from one fragment into another wherever they share states. The map is V at every
# position of the maze (standing still) for the long task's goal (the star), one seed, for GCIVL on the original
# fragments and on the naive chains: bright is "near the goal", dark "far". Where the value is bright along the
# corridors that lead to the goal, TD has stitched the fragments by itself; where it is flat, no backup reached.

# %%
walls, unit, (ox, oy) = render.maze_walls(ENV)  # the coordinates draw_maze draws in
xs = np.linspace(-ox - unit / 2, walls.shape[1] * unit - ox - unit / 2, 60)
ys = np.linspace(-oy - unit / 2, walls.shape[0] * unit - oy - unit / 2, 60)
grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
obs_dim = episodes[0].observations.shape[1]
fig, axes = plt.subplots(1, 2, figsize=(11, 5))
for ax, name in zip(axes, ("GCIVL (original)", "GCIVL (naive chains)")):
    v = gcivl.value_map(load_algo(results[name]["run_dir"]), norm.normalize, grid, long_tasks[0]["goal"], obs_dim)[0]
    mesh = ax.pcolormesh(xs, ys, v.reshape(len(ys), len(xs)), cmap="viridis", shading="auto", zorder=0)
    render.draw_maze(ax, ENV)
    ax.plot(*long_tasks[0]["start"], "wo", ms=9, mec="k")
    ax.plot(*long_tasks[0]["goal"], "w*", ms=16, mec="k")
    ax.set_title(f"{name}, seed 0: V(s, goal)", fontsize=10)
    fig.colorbar(mesh, ax=ax, fraction=0.04)
plt.show()

# %% [markdown]
# ## 7. (Optional part) When does the original data catch up? Budget and network size
#
# Could a bigger network or a longer run stitch by itself? Ghugare et al. (ICLR 2024, "Closing the gap between TD
# learning and supervised learning") argue that it should *not* be expected to: stitching is combinatorial
# generalisation (state-goal pairs never seen together in training), which differs from i.i.d. generalisation, so a
# supervised learner such as GCBC need not acquire it "even in the limit of large datasets and models" (their
# abstract); their remedy is temporal data augmentation, which section 3 has as goal swapping. Later work disputes
# how large the gap is with function approximation (Is temporal difference learning the gold standard for
# stitching?, 2025: larger critics narrow it for Monte Carlo and TD alike). This section measures it here.
# The sweep trains GCBC at the `lab` width and at twice that width, on the original fragments and on DiffStitch
# chains, to twice the `lab` budget, 3 seeds each, and reads success at a half, one and two `lab` budgets. Its four
# runs cost about as much CPU as all of this notebook's other arms together, for one figure, so it is precomputed
# (`stitchkit/capacity_sweep.py`; `benchmarks/goal_lesson.py --sweep` runs it, with the same code path as the arms
# above, and writes `results/goal_sweep/lab.json`); the cells below read that record, and every sentence about the
# result is printed from it. Three seeds show a direction, not an interval.

# %%
sweep = capacity_sweep.load("lab")
if sweep is None:
    print("the sweep has not been run yet: not yet computed (benchmarks/goal_lesson.py --profile lab --sweep)")
else:
    print(
        f"recorded by {sweep['source']}: profile {sweep['profile']}, {sweep['seeds']} seeds, budget {sweep['budget']}"
    )
    widths = list(dict.fromkeys(tuple(r["width"]) for r in sweep["runs"]))
    fig, axes = plt.subplots(1, len(widths), figsize=(11, 4), sharey=True)
    for ax, width in zip(np.atleast_1d(axes), widths):
        for arm, color in zip(capacity_sweep.ARMS, ("0.4", "tab:blue")):
            r = capacity_sweep.curve(sweep, arm, width)
            ax.plot(r["steps"], r["mean"], "o-", color=color, label=arm)
        ax.set(title=f"MLP {width}", xlabel="gradient steps")
        ax.axvline(sweep["budget"], color="k", ls=":", lw=1)
    np.atleast_1d(axes)[0].set_ylabel("success on the long tasks (%)")
    np.atleast_1d(axes)[0].legend()
    plt.show()
    display(Markdown(capacity_sweep.table(sweep)))

# %% [markdown]
# **Reading, generated from the record.** Where each arm stands at the sweep's largest budget, per width:

# %%
if sweep is not None:
    display(Markdown("\n".join(capacity_sweep.verdicts(sweep))))

# %% [markdown]
# How to read it. If the original arm catches up with more capacity or steps, the network composed 4-cell trips
# into 10-cell ones by itself; Ghugare et al. (2024) argue that a supervised learner should not be expected to, and
# the 2025 study finds that capacity narrows the gap. `benchmarks/goal_lesson.py --beyond` runs the
# original arm further (more steps, a deeper network) and prints where it reaches the chains' `lab` result; on a
# laptop budget, stitched data is the cheaper way to the long tasks when the chains keep their lead above.

# %% [markdown]
# ## 8. (Optional part) Is the generative model needed? Searching for where naive joints fail
#
# Section 5 shows chains lifting GCBC, and naive joints doing about as well as bridges, although section 4's oracle
# calls every naive joint a teleport. Why would a learner not care? GCBC imitates the *real* actions around a
# joint; only its goal labels cross the joint. A naive joint misleads only when the goals it labels are wrong: when
# it jumps far (a large hand-over distance `near`), or through a wall, so that a goal behind the wall is labelled
# reachable. The papers' argument, that stitched data must be dynamics-consistent to help, should bite there, and
# for learners that read the joint transition itself (GCIVL's value bootstraps through it).
#
# The kit's search (`stitchkit/bridge_search.py`; `benchmarks/bridge_matters.py` runs it) measures four axes: the
# hand-over distance `near` (10 seeds); at the same distance, joints through a wall against joints clear of walls;
# GCIVL; and how many joints a chain holds (5 seeds each). Every point has five arms besides the original
# fragments:
#
# | arm | the chains | their joints |
# |---|---|---|
# | `naive` | all planned | one glued transition |
# | `diffstitch` | those whose every bridge DiffStitch's dynamics model qualifies | DiffStitch's bridges |
# | `astro` | those whose every target is reachable and every plan lands | ASTRO's planned bridges |
# | `naive-kept` | exactly the chains `diffstitch` keeps | one glued transition: the filter without the bridges |
# | `naive-blind` | a random subset of the same size and joint counts | one glued transition: the size without the judgement |
#
# The last two arms (`augment chain --option keep=diffstitch|random`) take DiffStitch apart: is it the bridges
# that teach, or the choice of which chains survive? The search takes hours on two cores, so its rows are
# precomputed (`results/bridge_matters/lab.json`, the same code as this notebook's cells); the cells below read
# them, and every sentence about the result is printed from them.
#
# **Predict first.** At `near` 8 a naive joint may jump more than a cell, often through a wall. Which arm teaches
# GCBC best there: `naive`, `diffstitch`, `astro`, `naive-kept` or `naive-blind`? Write it in `prediction` before
# you run the next cells.

# %%
prediction = None  # your prediction: one of "naive", "diffstitch", "astro", "naive-kept", "naive-blind"

# %% tags=["solution"]
prediction = "diffstitch"  # the course's guess: the papers' argument (the rows below say whether it holds alone)

# %%
check(
    "prediction",
    prediction,
    satisfies=lambda p: p in bridge_search.ARMS,
    hint=f"write one of {', '.join(bridge_search.ARMS)}",
)

# %%
display(Code(inspect.getsource(chains.joint_report), language="python"))
search = bridge_search.load_rows("lab")
print(f"{len(search)} rows measured so far" if search else "the search has not been run yet: not yet computed")
if search:
    display(Markdown(bridge_search.table(search)))
    bridge_search.plot_gap(search)
    plt.title("GCBC on chains: success against the hand-over distance (dashed: the joints' oracle error)")
    plt.tight_layout()
    plt.show()
    if bridge_search.plot_axes(search) is not None:  # walls, learners, joints, locomotion: one panel each
        plt.show()
    display(
        Markdown(
            f"**Reading, generated from the rows** (the search ran on one maze, `{bridge_search.MAZE}`, and one "
            "maze is one maze: another layout may place the walls where naive joints fail differently; the bar: a "
            "generated bridge at least 10 points above the naive joint with the 95% intervals apart):\n\n"
            + "\n".join(bridge_search.verdicts(search))
            + "\n\n"
            + "\n\n".join(bridge_search.explain(search))
        )
    )
    at8 = {r["arm"]: r for r in search if r["axis"] == "gap" and r["point"] == "near 8" and "error" not in r}
    if at8:
        best = max((a for a in at8 if a in bridge_search.ARMS), key=lambda a: at8[a]["success"])
        print(
            f"you predicted {prediction!r}; at near 8 the best arm is {best!r} ({at8[best]['success']:.1f}), "
            + ", ".join(f"{a} {at8[a]['success']:.1f}" for a in bridge_search.ARMS if a in at8)
        )

# %% [markdown]
# ### What a naive chain teaches wrongly, on the map
#
# Each line is one joint of the chains at `near` 8 (built here in about half a minute when the search's data are
# not on this machine): red where it passes through a wall. Hindsight relabelling turns every state after a red
# joint into a goal that every state before it reaches in a few steps, so GCBC learns to head for the wall. Left:
# all the naive chains; right: the chains DiffStitch's dynamics model lets through, still glued naively.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
for ax, arm in zip(axes, ("naive", "naive-kept")):
    options = {"near": 8.0, **bridge_search.ARM_OPTIONS[arm]}
    try:
        augment.run("chain", MAZE, bridge_search.chain_id(options), P, log=lambda *_: None, **options)
        eps_map = registry.load_episodes(bridge_search.chain_id(options), P)
    except augment.AugmentError as err:  # the smoke profile's models may keep no chain
        print(f"{arm}: {err}"[:200])
        continue
    drawn = bridge_search.plot_joints(ax, "pointmaze-medium", eps_map)
    ax.set_title(
        f"{bridge_search.ARM_LABELS[arm]}:\n{drawn['through a wall']} of {drawn['joints']} joints through a wall",
        fontsize=9,
    )
plt.tight_layout()
plt.show()

# %% [markdown]
# **Slide `near`.** The naive chains' joints at each hand-over distance the search tried (each chain dataset built
# here once, in about half a minute, when the search's data are not on this machine): at 1 maze unit a joint is a
# short step along a corridor; by 8 many jump through walls, which is where a model of the dynamics has something
# to refuse.


# %%
def draw_joints(fig, near: float) -> None:
    ax = fig.add_subplot()
    options = {"near": near, **bridge_search.ARM_OPTIONS["naive"]}
    try:
        augment.run("chain", MAZE, bridge_search.chain_id(options), P, log=lambda *_: None, **options)
        drawn = bridge_search.plot_joints(
            ax, "pointmaze-medium", registry.load_episodes(bridge_search.chain_id(options), P)
        )
    except augment.AugmentError as err:  # the smoke profile may keep no chain
        ax.text(0.5, 0.5, str(err)[:80], ha="center", fontsize=7, wrap=True)
        return
    ax.set_title(f"naive chains: {drawn['through a wall']} of {drawn['joints']} joints through a wall", fontsize=9)


ParameterSlider("near", (1.0, 2.5, 4.0, 8.0), draw_joints, figsize=(5, 4.8), start=3)

# %% [markdown]
# **What to take away.** Read the generated reading above, not a summary typed here: which arm wins at each point,
# and by how much, is printed from the rows. The argument the kit can test is the papers' own: stitched data must
# be dynamics-consistent. What the search isolates is *where* consistency enters - in which chains are allowed to
# exist, or in the transitions that fill their joints. For GCBC only the first can matter: at a joint it imitates
# the fragment's own real action, whatever state the chain puts next. The learners axis (GCIVL, whose value
# bootstraps through the joint's next state) is where the second kind could show.

# %% [markdown]
# ## 9. Where this notebook differs from the papers
#
# * **Data.** OGBench's `pointmaze-medium-stitch-v0` has 5,000 fragments of 200 steps and 1M training steps with
#   a 3x512 network; at `lab` the kit uses its own 500 fragments (notebook 01), 10k steps and a 2x128 network,
#   chosen by measurement as the smallest budget that shows the effect (at `full`: 1M steps, 3x512).
# * **GCBC** follows OGBench (MSE on tanh-squashed actions, goals uniform over the future of the trajectory).
#   **GCIVL** follows OGBench's losses; its value MLPs use ReLU without LayerNorm.
# * **Chains** are the kit's construction: neither DiffStitch nor ASTRO stitches for goal-conditioned learners.
#   DiffStitch's paper stitches one source to one target chosen by return; here its models bridge the joints of a
#   chain chosen for length. ASTRO's bridge length comes from its temporal distance, its actions from its planner;
#   the return filter of both methods is off (a goal-conditioned learner relabels rewards). Idle tails (the agent
#   waiting at its goal, found by `chains.idle_start`) are trimmed before chaining.
# * **Goal swapping** follows Ghugare et al.'s temporal goal augmentation with square regions of 2 units in place
#   of their learned clusters.
# * Success is the environment's own (`info["success"]`), on OGBench's five tasks at horizon 1000, deterministic
#   actions; the control tasks are the kit's.

# %%
print(f"notebook ran in {time.perf_counter() - T0:.0f} s at profile {P.name}")

# %% [markdown]
# ## Summary
#
# **What to remember.**
# 1. A goal-conditioned learner draws its goals from the future of the same trajectory (hindsight), so it learns only
#    trips as long as its trajectories; chains of fragments add long trips, and that is the course's first measured
#    stitching effect.
# 2. A naive joint is physically impossible, yet a learner that imitates real actions (GCBC) tolerates it while the
#    jump is short. When joints jump far or through walls, hindsight relabelling teaches wrong reachability.
# 3. Where a generated model pays, section 8 separates *which chains exist* (DiffStitch's filter) from *what fills
#    their joints* (its bridges), with controls: the same chains glued, and a blind subset of the same size.
# 4. Report seeds and 95% confidence intervals: with 5-10 seeds, differences of a few points are noise.
#
# **Key equations.**
# $$\mathcal{L}_{\text{GCBC}} = \mathbb{E}_{(s_t, a_t) \sim \mathcal{D},\; g = s_{t+k}}\big[\|\pi(s_t, g) - a_t\|^2\big],
# \qquad \mathcal{L}_{\text{GCIVL}} = \mathbb{E}\big[L^\tau_2\big(r(s,g) + \gamma \bar V(s', g) - V(s, g)\big)\big].$$
#
# **Pseudocode: chains (`plan_chains`).**
# ```text
# repeat until the budget of transitions:
#     start at a random fragment; draw the number of hops
#     while the chain needs another fragment:
#         find the last step (after min_progress, before the idle tail) within `near` of another fragment's start,
#             among fragments that end farther from the chain's start (outward) and are not in the chain yet
#         cut here, continue with one such fragment
#     glue each joint (naive) or bridge it (DiffStitch / ASTRO), keep the chain if every bridge qualifies
# ```
# **Read further.** OGBench (Park et al., 2024), the `stitch` datasets and GCIVL; Andrychowicz et al. (2017), HER.

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** A joint connects two real states a `gap` apart (maze units). A naive joint crosses it in one
# transition; a bridge in `steps` transitions. Predict first: does the generator pace its bridges like the data (about
# `gap / step_size` steps, `step_size` being section 4's median step of the original data), faster, or slower? For
# the bridged arm's joints (`reports[BRIDGED]`, from `chains.joint_report`), store in `answer_1` the median over
# joints of `steps / (gap / step_size)`. Afterwards, in two sentences: what would a ratio far below 1 say about the
# bridge's transitions, and what does a ratio above 1 cost a goal-conditioned learner that reads a chain's length as
# a distance?

# %%
reports = {name: chains.joint_report(ENV, chained[name]) for name in dict.fromkeys(("naive", BRIDGED))}
answer_1 = None  # your code here

# %% tags=["solution"]
rep = reports[BRIDGED]
answer_1 = float(np.median(rep["steps"] / (rep["gap"] / step_size))) if len(rep["gap"]) else float("nan")
print(f"{BRIDGED}: {len(rep['gap'])} joints; median steps per data-paced step {answer_1:.2f}")

# %%
check(
    "exercise 1",
    answer_1,
    satisfies=lambda x: np.isclose(
        x, np.median(reports[BRIDGED]["steps"] * step_size / reports[BRIDGED]["gap"]), equal_nan=True
    ),
    hint="reports[BRIDGED]['steps'] / (reports[BRIDGED]['gap'] / step_size), then np.median",
)

# %% [markdown]
# **Exercise 2.** A naive joint is a straight segment, so it can pass through a wall; a bridge is generated around
# the data's own states. Predict first: what share of the naive joints claim the agent walked through a wall, and
# of the bridged arm's joints? Store the pair (naive share, bridged share) in `answer_2` (`crosses_wall` in each
# report). Afterwards, in two sentences: what does GCBC learn from a joint through a wall, and on which tasks of the
# maze would you expect that lesson to cost it success?

# %%
answer_2 = None  # your code here

# %% tags=["solution"]
answer_2 = tuple(
    float(np.mean(reports[name]["crosses_wall"])) if len(reports[name]["crosses_wall"]) else float("nan")
    for name in ("naive", BRIDGED)
)
print(f"joints through a wall: naive {answer_2[0]:.0%}, {BRIDGED} {answer_2[1]:.0%}")

# %%
check(
    "exercise 2",
    answer_2,
    satisfies=lambda pair: (
        len(pair) == 2
        and np.allclose(
            pair,
            [
                np.mean(reports[n]["crosses_wall"]) if len(reports[n]["crosses_wall"]) else np.nan
                for n in ("naive", BRIDGED)
            ],
            equal_nan=True,
        )
    ),
    hint="np.mean of reports[name]['crosses_wall'] for 'naive', then for BRIDGED",
)
