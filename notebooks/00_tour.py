# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · A tour of stitchkit: what trajectory stitching is
#
# **Learning objectives.** After this notebook you can
# 1. say what *trajectory stitching* is and why fragmented offline data needs it;
# 2. measure, on a toy world, how often one trajectory solves a task versus a chain of stitched ones;
# 3. name the three stitching methods of the course and what each adds to a naive stitch;
# 4. switch profiles (`smoke`, `lab`, `full`) and run any notebook on a GPU.
#
# Every piece of code that matters lives in the `stitchkit` package; the notebooks import it, show its source
# and draw what it does. Every term the course uses is defined where it first appears and in the
# [glossary](GLOSSARY.md).

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

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Code, Markdown, display

import stitchkit
from stitchkit import toy
from stitchkit.exercises import check
from stitchkit.slider import ParameterSlider

P = stitchkit.get_profile(PROFILE)
print(f"profile {P.name}: {P.description}")

# %% [markdown]
# ## 1. The picture: from S to G with fragments
#
# Offline RL learns from a fixed dataset. Real datasets are full of **fragments**: short, sub-optimal pieces of
# behaviour. DiffStitch's Figure 1 makes the point with a start **S** and a goal **G**: one trajectory leaves S but
# never reaches G, another reaches G but never passed S. If we could *join* them, with a short bridge that the
# environment's dynamics allow, the data would contain a trajectory from S to G, and any offline RL algorithm
# would learn from it. That joining is **trajectory stitching**.
#
# Below is a toy world built by `stitchkit.toy.make_world`: fragments that each cover only part of the square.
# Following a fragment is free (the data shows those moves are possible); jumping to a nearby state of another
# fragment is a **stitch**.

# %%
RADIUS = 0.08  # how close two states must be for a stitch
world = toy.make_world(P.tour.n_fragments, P.tour.fragment_len, seed=SEED)
path = toy.stitched_path(world, RADIUS)
alone = toy.single_fragment_connects(world, RADIUS)


def draw_world(ax, world, path=None, title=""):
    for frag in world.fragments:
        ax.plot(*frag.T, color="0.75", lw=1)
        ax.annotate("", frag[-1], frag[-2], arrowprops=dict(arrowstyle="->", color="0.6", lw=1))
    if path is not None:
        xy = np.array([world.fragments[f, t] for f, t in path.nodes])
        frags = np.array([f for f, _ in path.nodes])
        jump = np.flatnonzero(frags[1:] != frags[:-1])
        for seg in np.split(np.arange(len(xy)), jump + 1):
            ax.plot(*xy[seg].T, lw=2.5)
        for j in jump:
            ax.plot(*xy[j : j + 2].T, "r--", lw=2)
            ax.plot(*xy[j + 1], "r*", ms=12)
    ax.plot(*world.start, "ko", ms=10)
    ax.plot(*world.goal, "k*", ms=16)
    ax.text(*world.start + 0.03, "S", fontsize=14)
    ax.text(*world.goal + 0.03, "G", fontsize=14)
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), aspect="equal", title=title, xticks=[], yticks=[])


fig, axes = plt.subplots(1, 2, figsize=(10, 5))
draw_world(axes[0], world, title=f"the dataset: {len(world.fragments)} fragments")
draw_world(axes[1], world, path, title="stitched: fragments joined by bridges (red)" if path else "no stitched path")
plt.show()
print("one fragment connects S to G:", alone)
print("stitched path found:", path is not None, "| stitches needed:", None if path is None else path.n_stitches)

# %% [markdown]
# How is that path found? `stitched_path` is a shortest-path search in which following the data costs nothing
# and each stitch costs one: the answer uses as few stitches as possible, because every stitch is a bridge that
# some model has to generate, and every generated bridge is a chance to break the physics.

# %%
display(Code(inspect.getsource(toy.stitched_path), language="python"))

# %% [markdown]
# **Slide `RADIUS`.** The same world, searched again at each radius: too small and no two fragments come close
# enough to join; larger, and the search needs fewer stitches because each "stitch" may jump farther. (In the HTML
# report the frames are drawn in advance: the player's slider steps through them.)


# %%
def draw_radius(fig, radius: float) -> None:
    found = toy.stitched_path(world, radius)
    title = "no stitched path" if found is None else f"{found.n_stitches} stitch(es) from S to G"
    draw_world(fig.add_subplot(), world, found, title=title)


ParameterSlider("RADIUS", (0.02, 0.04, 0.06, 0.08, 0.12, 0.16, 0.24), draw_radius, figsize=(4.6, 4.8), start=3)

# %% [markdown]
# ## 2. A measured fact: stitching turns "never" into "usually"
#
# One world could be luck. `stitching_gain` builds many random worlds (the profile sets how many) and counts how
# often a single fragment solves the task and how often a stitched chain does.

# %%
gain = toy.stitching_gain(P.tour.n_worlds, P.tour.n_fragments, P.tour.fragment_len, RADIUS, seed=SEED)
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.bar(
    ["one fragment", "stitched chain"], [gain["single_fragment_rate"], gain["stitched_rate"]], color=["0.6", "tab:red"]
)
ax.set(ylim=(0, 1), ylabel="fraction of worlds solved", title=f"{gain['worlds']} random worlds")
plt.show()
gain

# %% [markdown]
# The same holds in the kit's real task: in the point-maze *stitch* dataset (notebook 01) every episode is 200
# steps between cells four apart, so **no episode connects the evaluation start to its goal**, yet short segments
# cover the whole path.
#
# ## 3. What a real stitching method must add
#
# In the toy world a stitch is a free jump. In MuJoCo it is not: gluing the last state of one episode to the first
# state of another makes a transition that no action can produce (notebook 03 shows this with a physics oracle).
# The methods of this course differ in how they make the bridge dynamics-consistent:
#
# | method | how it bridges | checked by |
# |---|---|---|
# | **DiffStitch** | a state-only diffusion model inpaints the states between source and target; inverse dynamics gives actions, a reward model rewards | a learned dynamics model rejects bad bridges |
# | **ASTRO** | picks targets reachable in a learned temporal-distance space; a planner proposes actions and corrects them from rollout deviations | the bridge *is* a rollout of the learned dynamics |
# | **TELS** | stitches inside the policy: a guide policy picks the next latent state, a T-symmetric inverse dynamics model gives the action | T-symmetry regularises the latent dynamics |
#
# ## 4. The map of the course
#
# | notebook | what it teaches |
# |---|---|
# | `00_tour` | this page: stitching, profiles, GPUs |
# | `01_datasets` | the kit's offline datasets (maze stitching, D4RL-style locomotion), built locally in Minari format |
# | `02_goal_stitching` | stitching you can see: GCBC on the maze, original fragments vs stitched chains, with seeds and CIs |
# | `03_seeing_trajectories` | rendering rollouts, the physics oracle, the StitchViewer |
# | `04_offline_rl` | the evaluators: BC, TD3+BC, IQL, CQL, Decision Transformer |
# | `05_diffstitch` | DiffStitch, every model and module, ablations |
# | `06_astro` | ASTRO: temporal distances and Rollout Deviation Feedback |
# | `07_tels` | TELS: T-symmetry and latent state-stitching |
# | `08_baselines` | SER and TATU, DiffStitch's baselines, side by side with it |
# | `09_benchmark` | the full benchmark, statistics and reports: every method of the course in one grid |
#
# **The course as a lab plan**: each notebook's measured minutes at `lab` (read from the latest recorded run,
# never typed), what it needs first, and two routes through it.

# %%
from stitchkit import course

display(Markdown(course.course_map("lab")))

# %% [markdown]
# ## 5. Profiles: one code path, three sizes
#
# Every notebook starts with one `parameters` cell that reads `STITCHKIT_PROFILE`. Profiles change sizes and step
# counts only, never what the code does, so CI's `smoke` run goes through exactly the lines a full GPU run does.

# %%
display(Code(inspect.getsource(stitchkit.profiles.get_profile), language="python"))
for name in stitchkit.PROFILE_NAMES:
    prof = stitchkit.get_profile(name)
    print(f"{name:>6}: {prof.description}\n        tour sizes: {prof.tour}")

# %% [markdown]
# A name the kit does not know is a clear error that lists the valid ones:

# %%
try:
    stitchkit.get_profile("bogus")
except stitchkit.ProfileError as err:
    print("ProfileError:", err)

# %% [markdown]
# ## 6. Running on a GPU
#
# The kit picks CUDA when torch sees a GPU (`STITCHKIT_DEVICE=cpu|cuda|cuda:1` overrides). To run a notebook at the
# papers' settings on a GPU machine:
#
# ```bash
# make setup
# STITCHKIT_PROFILE=full .venv/bin/jupyter lab notebooks/        # interactively, or headless:
# make report PROFILE=full                                      # every notebook, HTML pages in reports/
# ```
#
# `stitchkit info` prints what the kit would use on the current machine:

# %%
from stitchkit.device import get_device

print("device:", get_device(), "| MUJOCO_GL:", os.environ.get("MUJOCO_GL"), "| data:", stitchkit.paths.data_dir())

# %% [markdown]
# ## Summary
#
# **What to remember.**
# 1. Offline data come in fragments: a task can need a trip that no single trajectory makes, and stitching builds
#    such trips from pieces of several trajectories.
# 2. A naive stitch - one trajectory's state followed by another's - is a transition the physics cannot make; each
#    method of the course is a different way to make the joint consistent.
# 3. DiffStitch generates the bridge states with a diffusion model and keeps a bridge only if a learned dynamics
#    model agrees; ASTRO picks targets that are reachable in steps and plans the bridge's actions through a learned
#    model; TELS stitches *states* in a latent space and lets inverse dynamics find the actions.
# 4. Profiles change sizes, never code: `smoke` proves every line runs, `lab` shows the effects on a laptop, `full`
#    takes the papers' sizes (networks, steps, volumes), meant for a GPU; the whole `full` course is a GPU-days job
#    (notebook 09 estimates its hours), not one sitting.
#
# **Key equation.** The *data-augmentation* methods (DiffStitch, ASTRO, SER, TATU, the maze chains) end the same
# way: a learner trains on $\mathcal{D}^* = \mathcal{D} \cup \mathcal{D}_{\text{aug}}$, each batch drawn at the
# ratio $r$ = original : augmented, i.e. $B\,r/(1+r)$ original and $B/(1+r)$ generated transitions. Not every method
# adds data: TELS stitches inside its policy (latent states, then inverse dynamics) on $\mathcal{D}$ alone, goal
# swapping relabels the goals of $\mathcal{D}$'s own transitions, and GCIVL is a learner whose value bootstraps
# across fragments of $\mathcal{D}$.
#
# **Pseudocode: stitching, in general.**
# ```text
# for each source trajectory τ (a low return to go):
#     pick a target trajectory τ' (a higher return to go, reachable from τ's end)
#     generate a bridge: states from τ's last state s_T to τ''s first state s'_1, and actions between them
#     keep τ[:T] + bridge + τ' only if a dynamics check accepts the bridge
# train any offline RL learner on D ∪ {kept trajectories} at ratio r
# ```
# **Read further.** DiffStitch, Introduction (Li et al., ICML 2024); notebooks 05-07 for each method's paper.

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** A fragment moves `STEP = 0.03` per step (`toy.make_world`'s `step`), so consecutive states of
# one fragment lie about one step apart. Before running anything, predict: as `RADIUS` grows from half a step to four
# steps, where does the stitched success rate jump, and why there? Then sweep `RADIUS` over `MULTIPLES` x `STEP` with
# `toy.stitching_gain` (the sizes used above) and store in `answer_1` the smallest multiple at which stitched chains
# solve at least half of the worlds. Afterwards, in a sentence: what would a radius far larger than a step let a
# "stitch" do that the dynamics could not?

# %%
STEP, MULTIPLES = 0.03, (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
answer_1 = None  # your code here

# %% tags=["solution"]
rates = {
    k: toy.stitching_gain(P.tour.n_worlds, P.tour.n_fragments, P.tour.fragment_len, k * STEP, seed=SEED)[
        "stitched_rate"
    ]
    for k in MULTIPLES
}
answer_1 = next((k for k in MULTIPLES if rates[k] >= 0.5), None)


# %%
def _solves_half(k: float) -> bool:
    rate = toy.stitching_gain(P.tour.n_worlds, P.tour.n_fragments, P.tour.fragment_len, k * STEP, seed=SEED)
    return rate["stitched_rate"] >= 0.5


check(
    "exercise 1",
    answer_1,
    satisfies=lambda k: k in MULTIPLES and _solves_half(k) and not any(_solves_half(m) for m in MULTIPLES if m < k),
    hint="one stitching_gain call per multiple; keep the first whose stitched_rate reaches 0.5",
)

# %% [markdown]
# **Exercise 2.** Stitching needs fragments that come close to each other, so it should depend on how much data
# there is. Predict first: as a world holds more fragments (15, 30, 60, 120), which rises faster, the single-fragment
# success rate or the stitched one, and does a solution need *more* or *fewer* stitches? Then, at `RADIUS`, store in
# `answer_2` a dict `{n_fragments: (stitched_rate, mean_stitches)}` over `COUNTS` (`gain(n)` runs `stitching_gain`
# once per count, at the profile's number of worlds). Afterwards, in two sentences: why does the number of stitches
# per solution fall as data grows, and what does that suggest about stitching's value on a small dataset against a
# large one?

# %%
from functools import cache

COUNTS = (15, 30, 60, 120)


@cache
def gain(n_fragments: int) -> dict[str, float]:
    return toy.stitching_gain(P.tour.n_worlds, n_fragments, P.tour.fragment_len, RADIUS, seed=SEED)


answer_2 = None  # your code here

# %% tags=["solution"]
answer_2 = {n: (gain(n)["stitched_rate"], gain(n)["mean_stitches"]) for n in COUNTS}
print(
    {n: (rate, round(k, 1)) for n, (rate, k) in answer_2.items()},
    "single-fragment:",
    gain(COUNTS[-1])["single_fragment_rate"],
)

# %%
check(
    "exercise 2",
    answer_2,
    satisfies=lambda found: (
        set(found) == set(COUNTS)
        and all(
            np.allclose(found[n], (gain(n)["stitched_rate"], gain(n)["mean_stitches"]), equal_nan=True) for n in COUNTS
        )
    ),
    hint="for each n in COUNTS: (gain(n)['stitched_rate'], gain(n)['mean_stitches'])",
)
