# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · ASTRO: reachable stitch targets and a planner corrected by Rollout Deviation Feedback
#
# **Learning objectives.** After this notebook you can
# 1. say why Euclidean distance is a poor test of "can I get there from here", and train a representation whose
#    distances count steps;
# 2. state ASTRO's stitch-target rule (reachable, higher return to go, more coverage) and find it in
#    `stitchkit/augment/astro.py`;
# 3. run a planner that executes its actions in a learned dynamics model and corrects them from the deviation
#    between where it wanted to go and where it arrived (Rollout Deviation Feedback), and watch the deviation fall;
# 4. compare ASTRO's and DiffStitch's bridges with the physics oracle, by state coverage, and downstream.
#
# Paper: Yu et al., *ASTRO: Adaptive Stitching via Dynamics-Guided Trajectory Rollouts*, arXiv 2511.23442 (2025).
#
# **What the kit knows of ASTRO, and what it chose.** Only the abstract and the start of the introduction were
# available - no full text, no code. The abstract names three parts: a *temporal-distance representation* "to
# identify distinct and reachable stitch targets", a *dynamics-guided stitch planner* that "adaptively generates
# connecting action sequences", and *Rollout Deviation Feedback* (RDF), "the gap between target state sequence and
# the actual arrived state sequence by executing predicted actions". Everything else is the kit's choice:
#
# | part | the kit's choice (open in the paper) |
# |---|---|
# | distance | an MLP encoder φ, ‖φ(s) − φ(g)‖ fit to a low expectile (0.1) of same-trajectory step counts up to a cap ([HILP](GLOSSARY.md#hilp) would learn it by TD on a goal-conditioned value) |
# | targets | reachable: distance in [`window_low`, `window_high` − 1] steps; a stitched return to go (estimated with the data's mean reward over the bridge) above the source's; another trajectory; best gain + 0.5 × novelty of the pair's midpoint |
# | target state sequence | DiffStitch's inpainting diffusion model (shared, not retrained) |
# | planner | inverse dynamics actions, executed in DiffStitch's dynamics ensemble |
# | RDF update | 1) re-query inverse dynamics from the *arrived* state, 2) gradient steps of [Polyak's step size](GLOSSARY.md#polyak) on the deviation through the model, with a disagreement penalty |
# | acceptance | last state within DiffStitch's δ of the target, ensemble disagreement ≤ 2 × its 99th percentile on real data, no terminal state, stitched return ≥ source's |
# | rewards | DiffStitch's reward model |
#
# So this is an **ASTRO-style** augmenter built from the abstract's description, not a reproduction.

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
HOPPER = "stitchkit/hopper/medium-replay-v0"
MAZE = "stitchkit/pointmaze-medium/stitch-v0"
SEED = 0

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Code, Markdown, display
from matplotlib.colors import LogNorm

import stitchkit
from stitchkit import augment, bench, bridge_search
from stitchkit.augment import astro
from stitchkit.augment import diffstitch as ds
from stitchkit.augment.bridges import bridge_oracle_errors
from stitchkit.augment.temporal import spearman
from stitchkit.data import maze as maze_data
from stitchkit.data import registry
from stitchkit.data.episodes import crop, generated_transitions
from stitchkit.device import get_device
from stitchkit.exercises import check
from stitchkit.paths import data_dir
from stitchkit.render import draw_maze, maze_walls
from stitchkit.train import arm_jobs, run_many, score_text
from stitchkit.viewer import StitchViewer, ViewItem

P = stitchkit.get_profile(PROFILE)
A, S = astro.SIZES.of(P), ds.SIZES.of(P)  # ASTRO's own sizes, and the DiffStitch models' it reuses
print(f"profile {P.name}: {A}")
data = {d: registry.load_episodes(d, P, build_missing=True) for d in (HOPPER, MAZE)}
ENV = {HOPPER: "hopper", MAZE: "pointmaze-medium"}

# %% [markdown]
# ## 1. The models
#
# ASTRO needs a state-sequence proposer, inverse dynamics, a reward model and a dynamics model: DiffStitch's four
# models (notebook 05), loaded from their cache (trained here if missing), plus one new model, the temporal-distance
# encoder, trained on 90% of the episodes; the other 10% are held out to measure it.

# %%
device = str(get_device())
root = data_dir() / "checkpoints"
guess = sum(
    astro.estimate_train_seconds(
        eps,
        P,
        astro.checkpoint_dir(d, P, SEED),
        root / "diffstitch" / ds.config_key(d, P, SEED, False),
        device,
    )
    for d, eps in data.items()
)
print(
    f"training the models: about {guess / 60:.1f} min on this machine (`make lab` trains them ahead: they load at once)"
)
models = {
    d: astro.train_models(
        eps,
        P,
        SEED,
        checkpoint_dir=astro.checkpoint_dir(d, P, SEED),
        diffstitch_dir=root / "diffstitch" / ds.config_key(d, P, SEED, False),
        device=device,
    )
    for d, eps in data.items()
}
fig, ax = plt.subplots(figsize=(5, 3))
for d, m in models.items():
    c = m.curves["distance"]
    ax.plot([r["step"] for r in c], [r["loss"] for r in c], label=ENV[d])
ax.set(title="temporal-distance loss (train)", xlabel="gradient step", yscale="log")
ax.legend()
plt.show()

# %% [markdown]
# ## 2. A distance that counts steps
#
# The encoder φ maps a state to a point such that ‖φ(s) − φ(g)‖ is the number of steps from s to g. It learns from
# pairs on one trajectory, k steps apart: k proves the pair reachable in *at most* k steps, so the distance is fit
# to a low expectile of k (capped): overshooting k costs nine times more than undershooting it.

# %%
from stitchkit.augment import temporal

for fn in (temporal.sample_pairs, temporal.distance_loss):
    display(Code(inspect.getsource(fn), language="python"))

# %% [markdown]
# **Does it beat Euclidean distance?** On held-out episodes: pairs k ∈ [1, cap] steps apart; Spearman correlation
# of each distance with k, the mean error in steps after the best affine fit k ≈ a·d + b (Euclidean distance gets
# its best scale), and the AUC of "reachable within `window_high` steps".

# %%
rows = [
    "| dataset | distance | Spearman with k | error (steps, best affine fit) | AUC reachable |",
    "|---|---|---|---|---|",
]
for d, m in models.items():
    for name in ("learned", "euclidean"):
        q = m.quality[name]
        rows.append(f"| {ENV[d]} | {name} | {q['spearman']:.3f} | {q['mae_steps']:.1f} | {q['auc_reachable']:.3f} |")
display(Markdown("\n".join(rows)))

fig, axes = plt.subplots(1, 2, figsize=(10, 3.3))
raw = models[HOPPER].quality["raw"]
for ax, name in zip(axes, ("learned", "euclidean")):
    ax.scatter(raw["k"], raw[name], s=2, alpha=0.3)
    ax.set(title=f"hopper, held out: {name} distance vs true steps", xlabel="true steps k", ylabel=name)
plt.show()

# %% [markdown]
# On hopper the learned distance is close to a step counter, and Euclidean distance in joint space is not. On the
# maze both are weak predictors of the *along-trajectory* count, for a reason that is in the data: an OGBench stitch
# episode reaches its goal cell and then wanders around it for the rest of its 200 steps, so two states 150 steps
# apart on one trajectory may be one step apart in space (this is why the loss tracks a low expectile of the counts).
# The maze has a better known answer - the shortest path in cells, walls respected - so we check both distances
# against it on random held-out pairs: all pairs, pairs at most 3 cells apart (the planner's range), and the case
# walls make hard - among pairs less than one cell width apart in the plane, which are at most one cell apart by
# path (AUC)?

# %%
from stitchkit.augment.temporal import auc

rng = np.random.default_rng(SEED)
maze_name = ENV[MAZE].split("-", 1)[1]
held_maze = [data[MAZE][k] for k in temporal.split_episodes(len(data[MAZE]), SEED)[1]]
xy_held = np.concatenate([e.observations for e in held_maze])
i, j = rng.integers(0, len(xy_held), (2, 4000))
cells = maze_data.cell_distances(maze_name, xy_held[i], xy_held[j])
cdf = models[MAZE].stitch.cdf
with torch.no_grad():
    learned = (
        models[MAZE]
        .distance(
            torch.as_tensor(cdf.normalize(xy_held[i]), dtype=torch.float32, device=device),
            torch.as_tensor(cdf.normalize(xy_held[j]), dtype=torch.float32, device=device),
        )
        .cpu()
        .numpy()
    )
euclid = np.linalg.norm(xy_held[i] - xy_held[j], axis=-1)
near, close = cells <= 3, euclid < maze_walls(ENV[MAZE])[1]
rows = [
    "| distance | Spearman with path cells (all) | (pairs <= 3 cells) | AUC 'at most 1 cell by path' among close pairs |",
    "|---|---|---|---|",
]
for name, dd in (("learned", learned), ("euclidean", euclid)):
    rows.append(
        f"| {name} | {spearman(dd, cells):.3f} | {spearman(dd[near], cells[near]):.3f} | "
        f"{auc(dd[close], cells[close] <= 1):.3f} |"
    )
display(
    Markdown("\n".join(rows) + f"\n\n{len(cells)} random pairs of held-out states, {int(close.sum())} of them close.")
)

# %% [markdown]
# On the maze, Euclidean distance in the plane is already a good ranking of path length (the medium maze's
# corridors are short), and along-trajectory training only sees journeys of about four cells, so the learned
# distance does not beat it there except, narrowly or not at all, in the wall case. Where the state is a body's
# joint angles and velocities (hopper) it wins by far. A distance learned by temporal differences (HILP) composes
# short journeys into long ones and is the natural next step (exercise for the ambitious).

# %% [markdown]
# **The distance map.** From one state (the star), every point of the maze coloured by its learned distance, and by
# its Euclidean distance. A learned map that bends around walls is what makes a target "reachable".

# %%
walls, unit, (ox, oy) = maze_walls(ENV[MAZE])
gx, gy = np.meshgrid(
    np.linspace(-ox - unit / 2, walls.shape[1] * unit - ox - unit / 2, 120),
    np.linspace(-oy - unit / 2, walls.shape[0] * unit - oy - unit / 2, 120),
)
grid = np.stack([gx.ravel(), gy.ravel()], 1)
star = data[MAZE][0].observations[0]
with torch.no_grad():
    dmap = (
        models[MAZE]
        .distance(
            torch.as_tensor(cdf.normalize(grid), dtype=torch.float32, device=device),
            torch.as_tensor(cdf.normalize(star[None]), dtype=torch.float32, device=device),
        )
        .cpu()
        .numpy()
    )
fig, axes = plt.subplots(1, 2, figsize=(11, 5))
for ax, values, title in (
    (axes[0], dmap, "learned temporal distance (steps)"),
    (axes[1], np.linalg.norm(grid - star, axis=-1), "Euclidean distance"),
):
    im = ax.contourf(gx, gy, values.reshape(gx.shape), levels=20, cmap="viridis")
    draw_maze(ax, ENV[MAZE])
    ax.plot(*star, "r*", ms=15)
    ax.set_title(title)
    plt.colorbar(im, ax=ax, fraction=0.046)
plt.show()

# %% [markdown]
# ## 3. Choosing stitch pairs
#
# For a source state, `candidates` random start points of other trajectories are scored. The rule, with its
# thresholds, is one function; `novelty` measures how far a pair's midpoint is from any dataset state (in units of
# the data's typical nearest-neighbour spacing), the kit's reading of "adds coverage beyond the behaviour data".

# %%
for fn in (astro.stitched_gain, astro.select_pairs, astro.novelty):
    display(Code(inspect.getsource(fn), language="python"))

# %% [markdown]
# ## 4. The planner and Rollout Deviation Feedback
#
# For each chosen pair, the target state sequence comes from DiffStitch's diffusion model (inpainting
# source → Δ−1 masked states → target, Δ = the temporal distance). Then the planner:
#
# * **iteration 0, open loop**: actions from inverse dynamics on consecutive target states, a_t = f(s*_t, s*_{t+1}),
#   executed in the learned dynamics model (this is exactly what DiffStitch's wrap-up would do);
# * **iteration 1, feedback**: the deviation between target and arrived states is fed back - each action is asked
#   for from where the rollout actually *arrived*, a_t = f(x_t, s*_{t+1});
# * **iterations 2…**: gradient steps on the actions down the deviation through the differentiable model.
#
# The accepted bridge *is* the rollout, so every transition but the last is the learned model's own prediction;
# the last must land within DiffStitch's δ of the target.

# %%
display(Code(inspect.getsource(astro.deviation), language="python"))
display(Code(inspect.getsource(astro.plan), language="python"))

# %% [markdown]
# One batch of maze pairs and one of hopper pairs, picked by the rule above; the deviation of every iterate.


# %%
def one_batch(d):
    """Pairs from a short run of the rule, their reference sequences, and the RDF plan: for the figures."""
    res = astro.stitch(
        models[d],
        data[d],
        ENV[d],
        P,
        astro.AstroConfig(seed=SEED, return_filter=False, end_delta=float("inf")),
        d,
        budget=1,
        max_iterations=1,
    )
    return res


fig, axes = plt.subplots(1, 2, figsize=(12, 3.3))
traces = {}
for ax, d in zip(axes, (MAZE, HOPPER)):
    res = one_batch(d)
    tr = np.asarray(res.stats["rdf_mean_deviation"])
    traces[d] = tr
    if len(tr):
        ax.plot(np.arange(len(tr)), tr, "o-", ms=3)
        ax.set_xticks([0, 1] + list(range(5, len(tr), 5)))
    ax.set(
        title=f"{ENV[d]}: mean deviation per RDF iteration",
        xlabel="iteration (0: open loop, 1: feedback, 2+: gradient)",
        ylabel="mean ‖x_t − s*_t‖² (CDF space)",
        yscale="log",
    )
plt.show()
for d, tr in traces.items():
    if len(tr):
        print(
            f"{ENV[d]}: open loop {tr[0]:.4f} -> feedback {tr[1]:.4f} -> after {len(tr) - 2} gradient steps "
            f"{tr[-1]:.4f} ({tr[0] / max(tr[-1], 1e-12):.1f}x lower)"
        )

# %% [markdown]
# **What does the feedback buy?** The same pairs (same seed), judged after the open-loop actions alone
# (`feedback=False`: the inverse-dynamics actions DiffStitch's wrap-up would use, executed in the model) and after
# the whole RDF loop: the share of bridges whose rollout lands within δ of its target.

# %%
rows = [
    "| dataset | planner | pairs | landed within δ and accepted | median oracle error (accepted) |",
    "|---|---|---|---|---|",
]
fb_runs = {}  # (dataset, feedback) -> the run, kept for the exercises
for d in (MAZE, HOPPER):
    for fb in (False, True):
        r = fb_runs[(d, fb)] = astro.stitch(
            models[d],
            data[d],
            ENV[d],
            P,
            astro.AstroConfig(seed=SEED, feedback=fb),
            d,
            budget=10**12,
            max_iterations=min(5, A.max_iterations),
        )
        pairs = r.stats["generated"] - r.stats["no_reachable_target"]
        errs = bridge_oracle_errors(ENV[d], [b for b in r.bridges if b.accepted])
        med = f"{np.median(np.concatenate(errs)):.3g}" if errs else "-"
        rows.append(
            f"| {ENV[d]} | {'RDF' if fb else 'open loop'} | {pairs} | {r.stats['accepted']} "
            f"({100 * r.stats['accepted'] / max(1, pairs):.0f}%) | {med} |"
        )
display(Markdown("\n".join(rows)))

# %% [markdown]
# The same loop, drawn: a few maze pairs, the target sequence (dashed), and where the open-loop actions and the
# corrected actions take the learned model.

# %%
m = models[MAZE].stitch
res = one_batch(MAZE)
picked = list(res.bridges)[:4]
fig, ax = plt.subplots(figsize=(5.5, 5.5))
draw_maze(ax, ENV[MAZE])
for k, br in enumerate(picked):
    x = torch.as_tensor(m.cdf.normalize(br.states), dtype=torch.float32, device=device)[None]
    delta = torch.tensor([br.steps], device=device)
    for iters, style, label in ((None, ":", "open loop"), (A.rdf_iterations, "-", "after RDF")):
        if iters is None:
            p = astro.plan(m, x, delta, 0, feedback=False)
        else:
            p = astro.plan(m, x, delta, iters, A.rdf_step)
        arrived = m.cdf.unnormalize(p.states[0].cpu().numpy())
        ax.plot(arrived[:, 0], arrived[:, 1], style, color=f"C{k}", lw=2, label=label if k == 0 else None)
    ax.plot(br.states[[0, -1], 0], br.states[[0, -1], 1], "o", color=f"C{k}")
ax.legend(fontsize=8)
ax.set_title("model rollouts toward each target (dot = source and target)")
plt.show()

# %% [markdown]
# (The accepted bridges here are the gradient-corrected rollouts; the reference sequence itself is already close
# to them in the maze, where the learned model is accurate.)
#
# ## 5. Stitch
#
# The whole loop in batches of `stitch_batch` sources until `budget` accepted transitions, saved as the Minari
# dataset `<parent>-astro-v0` (also: `stitchkit augment astro --dataset ID`). The loop checkpoints beside the models
# (`stitching/`), so running this cell again (same models, data, settings and seed) loads the finished run instead of
# planning again, and `stitchkit augment astro` does the same; delete that folder to watch it plan.

# %%
results, out_ids = {}, {}
for d, eps_d in data.items():
    settings = astro.AstroConfig(seed=SEED)
    resume = astro.checkpoint_dir(d, P, SEED) / "stitching"  # a finished run with the same key loads at once
    res = astro.stitch(models[d], eps_d, ENV[d], P, settings, d, resume_dir=resume)
    results[d] = res
    if res.episodes:  # the smoke profile's models may accept nothing: nothing to save or train on
        out_ids[d] = registry.augmented_id(d, "astro")
        augment.save(out_ids[d], res.episodes, {"method": "astro", "parent": d, "seed": SEED, **astro.summary(res)}, P)
    st = res.stats
    print(
        f"{d}: {st['generated']} sources, {st['accepted']} bridges accepted ({100 * st['acceptance_rate']:.0f}%), "
        f"{st['accepted_transitions']} transitions, mean Δ {st['mean_bridge_steps']:.1f}; rejected: "
        f"{st['no_reachable_target']} no reachable target, {st['terminal']} terminal, {st['dynamics']} missed the "
        f"target, {st['uncertain']} uncertain, {st['return']} return filter; {st['seconds']:.0f} s"
    )

# %% [markdown]
# ## 6. Watch ASTRO's stitched trajectories
#
# Blue: the source prefix, red: the planned bridge, green: the target suffix; the lower panel is the oracle error.

# %%
items = []
for k, ep_s in enumerate(results[HOPPER].episodes[:4]):
    p = ep_s.provenance
    items.append(
        ViewItem.from_episode(
            "hopper",
            crop(ep_s, p.source_step - 20, p.source_step + p.bridge_steps + 40),
            name=f"ASTRO stitch {k}: Δ={p.bridge_steps}",
        )
    )
StitchViewer("hopper", items, dims=[0, 1, 5]) if items else print("no accepted bridge to show")

# %% [markdown]
# ## 7. The physics oracle: ASTRO vs DiffStitch
#
# DiffStitch's data for the same parent, with the same models and seed, comes from notebook 05's saved dataset
# (built here if missing). Every generated transition of each method is checked in the true simulator.

# %%
ds_ids, ds_eps = {}, {}
for d in data:
    ds_ids[d] = registry.augmented_id(d, "diffstitch")
    try:
        augment.run("diffstitch", d, ds_ids[d], P, seed=SEED, sampler="strided")
        ds_eps[d] = registry.load_episodes(ds_ids[d], P)
    except augment.AugmentError as err:  # nothing accepted (smoke)
        print(err)
        ds_eps[d] = []
rows = ["| dataset | method | generated transitions | median oracle error | 90th percentile |", "|---|---|---|---|---|"]
oracle_median = {}
for d in data:
    for name, eps_m in (("DiffStitch", ds_eps[d]), ("ASTRO", results[d].episodes)):
        err = augment.oracle_errors(ENV[d], eps_m)
        oracle_median[(d, name)] = float(np.median(err)) if len(err) else float("nan")
        q90 = float(np.quantile(err, 0.9)) if len(err) else float("nan")
        rows.append(f"| {ENV[d]} | {name} | {len(err)} | {oracle_median[(d, name)]:.3g} | {q90:.3g} |")
display(
    Markdown(
        "\n".join(rows) + "\n\nOracle error: ‖true next state − generated next state‖ after one "
        "simulator step from the generated state with the generated action (real data: 0)."
    )
)

# %% [markdown]
# ## 8. State coverage
#
# Where do the generated states lie? The maze split into 4 × 4 squares per cell: squares visited by the original
# data, and by the original data plus each method's generated (bridge) states.


# %%
def bridge_states(eps_m):
    return generated_transitions(eps_m)["next_observations"] if eps_m else np.zeros((0, 2))


xy = np.concatenate([e.observations for e in data[MAZE]])
orig = maze_data.occupancy(xy, maze_name)
fig, axes = plt.subplots(1, 3, figsize=(15, 5))
coverage = {"original": int((orig > 0).sum())}
for ax, (name, extra) in zip(
    axes,
    (
        ("original", np.zeros((0, 2))),
        ("+DiffStitch", bridge_states(ds_eps[MAZE])),
        ("+ASTRO", bridge_states(results[MAZE].episodes)),
    ),
):
    occ = orig + maze_data.occupancy(extra, maze_name)
    coverage[name] = int((occ > 0).sum())
    ax.imshow(
        np.log1p(maze_data.occupancy(extra if len(extra) else xy, maze_name)),
        origin="lower",
        cmap="magma",
        extent=(
            -ox - unit / 2,
            walls.shape[1] * unit - ox - unit / 2,
            -oy - unit / 2,
            walls.shape[0] * unit - oy - unit / 2,
        ),
    )
    draw_maze(ax, ENV[MAZE])
    ax.set_title(f"{name}: {'data' if name == 'original' else 'generated states'} (log visits)")
plt.show()
in_wall = np.kron(walls == 1, np.ones((4, 4), bool))  # the squares that lie inside wall cells
rows = [
    "| data | occupied squares | new squares | of them inside walls | generated states inside walls |",
    "|---|---|---|---|---|",
]
rows.append(f"| original | {coverage['original']} | - | - | - |")
walled = {}
for name, eps_m in (("+DiffStitch", ds_eps[MAZE]), ("+ASTRO", results[MAZE].episodes)):
    occ = maze_data.occupancy(bridge_states(eps_m), maze_name)
    fresh = (occ > 0) & (orig == 0)
    walled[name] = (int((fresh & in_wall).sum()), int(fresh.sum()), (occ * in_wall).sum() / max(1, occ.sum()))
    rows.append(f"| {name} | {coverage[name]} | {int(fresh.sum())} | {walled[name][0]} | {walled[name][2]:.1%} |")
display(Markdown("\n".join(rows)))
display(
    Markdown(
        "**Generated from this run:** new squares inside walls, "
        + "; ".join(f"{n} {w} of {f} ({share:.0%} of its generated states)" for n, (w, f, share) in walled.items())
        + "."
    )
)

# %% [markdown]
# Read the last two columns before celebrating new coverage: a square is "new" if the data never visited it, and
# the line above counts how many of each method's new squares lie inside walls in this run (at `lab`, most of
# them, for both methods). The learned dynamics model never saw a wall from the
# inside, so it does not forbid walking through one; ASTRO's bridges obey that model exactly, DiffStitch's pass its
# δ test. The physics oracle's 90th percentile above is these transitions. Coverage "beyond the behaviour data" is
# only worth having where the true dynamics allow it - exercise 3 asks for the check that would enforce it.
#
# Hopper's states have 11 dimensions; its torso height and angle show where each method's bridges go.

# %%
hop = np.concatenate([e.observations for e in data[HOPPER]])
fig, axes = plt.subplots(1, 3, figsize=(15, 3.5), sharex=True, sharey=True)
rng2 = [
    [np.quantile(hop[:, 0], 0.001), np.quantile(hop[:, 0], 0.999)],
    [np.quantile(hop[:, 1], 0.001), np.quantile(hop[:, 1], 0.999)],
]
for ax, (name, pts) in zip(
    axes,
    (
        ("original", hop),
        ("DiffStitch bridges", bridge_states(ds_eps[HOPPER])),
        ("ASTRO bridges", bridge_states(results[HOPPER].episodes)),
    ),
):
    if len(pts):
        ax.hist2d(pts[:, 0], pts[:, 1], bins=60, range=rng2, cmap="magma", norm=LogNorm())
    ax.set(title=name, xlabel="torso height", ylabel="torso angle")
plt.show()

# %% [markdown]
# ## 9. Does it help offline RL?
#
# TD3+BC and IQL on hopper: the original data, original + DiffStitch and original + ASTRO, same seeds and steps,
# bridge transitions mixed in at r = 4 : 1 (as notebook 05), two runs at a time. Runs are cached: the original and
# DiffStitch arms are notebook 05's, so after it only the ASTRO arms train here. (The maze's single-task learners
# are left to the `full` grid, as in notebook 05; notebook 02 shows ASTRO's bridges on the maze with
# goal-conditioned learners.)

# %%
naive_id = registry.augmented_id(HOPPER, "naive", "astro")  # is the model needed? ASTRO's pairs, glued naively
if out_ids.get(HOPPER):
    augment.run("naive", HOPPER, naive_id, P, seed=SEED, force=True, pairs_from=out_ids[HOPPER])
arms = {
    "original": (None, 4.0),
    "+DiffStitch": (ds_ids[HOPPER], 4.0) if ds_eps[HOPPER] else None,
    "+ASTRO": (out_ids[HOPPER], 4.0) if out_ids.get(HOPPER) else None,
    "+naive joints": (naive_id, 4.0) if out_ids.get(HOPPER) else None,
}
jobs = arm_jobs(HOPPER, ("td3bc", "iql"), arms, P)
print(
    f"{len(jobs)} runs (cached ones finish at once), two at a time: at most "
    f"{bench.estimate_runs(list(jobs.values())) / 60:.1f} min"
)
downstream = dict(zip(jobs, run_many(list(jobs.values()), processes=2)))


def cell(key):
    return score_text(downstream[key]) if key in downstream else "no bridge accepted"


rows = ["| dataset | algorithm | " + " | ".join(arms) + " |", "|---|---|" + "---|" * len(arms)]
for algo in ("td3bc", "iql"):
    rows.append(f"| hopper | {algo} | " + " | ".join(cell((HOPPER, algo, a)) for a in arms) + " |")
display(
    Markdown(
        "\n".join(rows) + f"\n\nLast evaluation, mean ± std over {P.train.seeds} seeds, {P.train.steps} "
        "steps; normalized score. +naive joints: ASTRO's own pairs, each bridge replaced by one glued transition."
    )
)

# %% [markdown]
# ### Is the model needed?
#
# The last column is the control for everything ASTRO's models do: the same source prefixes and target suffixes
# as ASTRO's accepted stitches, on the same data at the same ratio, with each planned bridge replaced by one glued
# transition that the physics oracle says is impossible (`stitchkit augment naive --option pairs_from=...`). The
# verdict is computed from this run (the bar: 10 points, the 95% bootstrap interval of the difference clear of 0).

# %%
for algo in ("td3bc", "iql"):
    if (HOPPER, algo, "+naive joints") in downstream:
        bridged, glued = downstream[(HOPPER, algo, "+ASTRO")], downstream[(HOPPER, algo, "+naive joints")]
        display(Markdown("- " + bridge_search.model_needed("ASTRO", bridged, glued)))

# %% [markdown]
# ### Reading the result
#
# Every table above is this run's. What to look for in them:
# * **The temporal distance** (section 2): its Spearman correlation and reachability AUC against Euclidean
#   distance's. In joint space (hopper) Euclidean distance is a poor map of steps; on the maze, positions already
#   are a map, and what a learned distance must add is the walls.
# * **RDF as a planner** (section 4): the deviation after feedback and gradient steps against the open loop, and the
#   share of bridges that land within δ of their target.
# * **Physics and downstream**, generated from this run:

# %%
lines = []
for d in data:
    a, b = oracle_median.get((d, "ASTRO"), float("nan")), oracle_median.get((d, "DiffStitch"), float("nan"))
    if np.isfinite(a) and np.isfinite(b):
        lines.append(
            f"- {ENV[d]}: the median true error of ASTRO's transitions is {a:.3g}, DiffStitch's {b:.3g} "
            f"({'ASTRO lower' if a < b else 'DiffStitch lower'}): ASTRO's bridges follow its learned model exactly, "
            "so they are as right as that model"
        )
for algo in ("td3bc", "iql"):
    row = {a: downstream[(HOPPER, algo, a)]["score"] for a in arms if (HOPPER, algo, a) in downstream}
    if len(row) > 1:
        best = max(row, key=lambda a: row[a]["last_mean"])
        spread = max(v["last_std"] for v in row.values())
        lead = row[best]["last_mean"] - row["original"]["last_mean"]
        lines.append(
            f"- {algo} on hopper: "
            + ", ".join(f"{a} {v['last_mean']:.1f} ± {v['last_std']:.1f}" for a, v in row.items())
            + f"; the best arm ({best}) is {lead:+.1f} from the original data, "
            + ("inside the seeds' spread" if abs(lead) <= spread else "beyond the seeds' spread")
        )
display(Markdown("\n".join(lines) or "no stitched data at this profile: nothing to compare"))

# %% [markdown]
# The paper's gains are reported at full scale, which a `lab` run on a CPU does not reach; the campaign's records
# (notebook 09) carry the longer runs.
#
# ### Paper, released code and the kit
# * No full text or code of ASTRO was available; every row of the table at the top is the kit's design from the
#   abstract. The paper's hyperparameters, datasets and baselines are unknown, so no number here is comparable
#   with its tables.
# * The kit reuses DiffStitch's models for the reference sequence, inverse dynamics, reward and dynamics; whether
#   ASTRO trains its own generator is not known.
# * The distance is symmetric and learned from along-trajectory step counts (an upper bound on the true shortest
#   count); a quasimetric learned by temporal differences (HILP, [QRL](GLOSSARY.md#qrl)) would compose distances across trajectories.

# %% [markdown]
# ## Summary
#
# **What to remember.**
# 1. Euclidean distance does not say whether a state can be reached in a few steps; a learned temporal distance,
#    which counts steps, is built to (section 2 measures where it does better, and where it does not).
# 2. ASTRO's stitch target is reachable (temporal distance within the planner's bridge lengths), better (a higher
#    return to go) and new (coverage); a target beyond the longest bridge is no target.
# 3. The planner executes its actions in a learned model and corrects them from the deviation between the planned
#    and the reached states (Rollout Deviation Feedback), so its bridges are consistent with that model - and only
#    as right as the model.
# 4. As for DiffStitch, the control is the same pairs glued naively (section 9).
#
# **Key equations** (the kit's reading of the abstract; see the table at the top):
# $$d(s, g) \approx \|\phi(s) - \phi(g)\|, \qquad \text{eligible } g:\ d_{\min} \le d(s, g) \le d_{\max},\
# \text{RTG gain} > 0, \qquad g^* = \arg\max\ \text{gain} + w\,\text{novelty},$$
# $$J(a_{1:\Delta}) = \tfrac{1}{\Delta}\textstyle\sum_t \|x_t(a) - s^*_t\|^2 + \|x_\Delta(a) - s^*_\Delta\|^2 + \lambda_u
# \textstyle\sum_t u_t^2, \qquad a \leftarrow a - \eta\,\frac{J}{\|\nabla J\|^2}\nabla J.$$
#
# **Pseudocode.**
# ```text
# train the temporal distance φ on step counts within trajectories; reuse DiffStitch's models
# for each batch of sources s:
#     candidates g with d_min <= d(s, g) <= d_max, a higher return to go, on another trajectory
#     pick g* = argmax gain + w novelty;  Δ = ceil(d(s, g*))
#     reference s*_0..Δ: inpainted by the diffusion model between s and g*
#     actions: inverse dynamics open loop, then fed back from the arrived states, then Polyak gradient steps on J
#     accept if the rollout lands within δ of g* and the ensemble agrees along the way
# ```
# **Read further.** ASTRO (Yu et al., arXiv 2511.23442), the abstract and Figure 1's caption (all that was
# available); HILP (Park et al., 2024) for distances learned by temporal differences.

# %% [markdown]
# ## Exercises
#
# **1.** With the rule of `select_pairs`, `d_min = 10`, `d_max = 39` and `coverage_weight = 0.5`, which candidate
# index is chosen for distances `[12, 45, 20]`, RTG gains `[0.2, 0.9, 0.1]` and novelties `[0.0, 0.0, 0.4]`?

# %%
answer_1 = None  # your answer: 0, 1 or 2

# %% tags=["solution"]
answer_1 = 2  # 1 is unreachable (45 > 39); 0 scores 0.2, 2 scores 0.1 + 0.5 * 0.4 = 0.3

# %%
check(
    "exercise 1",
    answer_1,
    int(
        astro.select_pairs(
            torch.tensor([[12.0, 45.0, 20.0]]),
            torch.tensor([[0.2, 0.9, 0.1]]),
            torch.tensor([[0.0, 0.0, 0.4]]),
            torch.zeros(1, 3, dtype=torch.bool),
            10,
            39,
            0.5,
        )[0]
    ),
    "drop the unreachable candidate first, then compare gain + 0.5 x novelty",
)

# %% [markdown]
# **2.** RDF corrects each action toward the target *in the learned model*. Does that make the bridges more
# physical? For hopper, compare section 4's two runs (`fb_runs[(HOPPER, False)]`, open loop, and
# `fb_runs[(HOPPER, True)]`, RDF) over their non-terminal bridges: store in `answer_2` the pair (median model error
# with RDF / without, median oracle error with RDF / without), the oracle's errors from
# `bridge_oracle_errors("hopper", bridges)`. Then, in two sentences: why can the first ratio fall well below 1
# while the second does not, and which of the two should a method's acceptance test trust?

# %%
answer_2 = None  # your answer: a pair of ratios


# %% tags=["solution"]
def _medians(run) -> tuple[float, float]:
    bridges = [b for b in run.bridges if not b.terminal]
    if not bridges:  # undertrained models (the smoke profile) may end every bridge in a fall
        return float("nan"), float("nan")
    errs = bridge_oracle_errors("hopper", bridges)
    return float(np.median([b.model_error for b in bridges])), float(np.median(np.concatenate(errs)))


(model_open, oracle_open), (model_rdf, oracle_rdf) = (_medians(fb_runs[(HOPPER, fb)]) for fb in (False, True))
answer_2 = (model_rdf / model_open, oracle_rdf / oracle_open)
print(f"model error x{answer_2[0]:.2f}, oracle error x{answer_2[1]:.2f} with RDF")


# %%
def _ratios() -> tuple[float, float]:
    out = []
    for fb in (False, True):
        bridges = [b for b in fb_runs[(HOPPER, fb)].bridges if not b.terminal]
        if not bridges:
            out.append((np.nan, np.nan))
            continue
        errs = bridge_oracle_errors("hopper", bridges)
        out.append((np.median([b.model_error for b in bridges]), np.median(np.concatenate(errs))))
    return out[1][0] / out[0][0], out[1][1] / out[0][1]


check(
    "exercise 2",
    answer_2,
    satisfies=lambda a: len(a) == 2 and np.allclose(a, _ratios(), rtol=1e-6, equal_nan=True),
    hint="median model_error and median pooled oracle error of the non-terminal bridges, RDF over open loop",
)

# %% [markdown]
# **3.** Write the feasibility check the coverage table asks for: the fraction of ASTRO's generated maze states
# that lie inside a wall cell (use `maze_walls` and the maze's cell geometry: cell (i, j) is centred at
# (j·unit − offset_x, i·unit − offset_y)). The check compares with the occupancy-grid estimate above (within 3
# percentage points: squares at a wall's edge count differently).

# %%
answer_3 = None  # a fraction in [0, 1]

# %% tags=["solution"]
gen = bridge_states(results[MAZE].episodes)
ij = np.floor((gen[:, ::-1] + np.array([oy, ox]) + unit / 2) / unit).astype(int)  # (i, j) of each state's cell
answer_3 = (
    float((walls[ij[:, 0].clip(0, walls.shape[0] - 1), ij[:, 1].clip(0, walls.shape[1] - 1)] == 1).mean())
    if len(gen)
    else 0.0
)

# %%
occ_astro = maze_data.occupancy(bridge_states(results[MAZE].episodes), maze_name)
check(
    "exercise 3",
    answer_3,
    (occ_astro * in_wall).sum() / max(1, occ_astro.sum()),
    "map each (x, y) to its cell first",
    atol=0.03,
)
