# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Seeing trajectories, and checking them against the physics
#
# **Learning objectives.** After this notebook you can
# 1. rebuild a MuJoCo state from a stored observation, and say when that is impossible (clipped velocities);
# 2. render dataset episodes and scrub through them with the StitchViewer;
# 3. use the physics oracle to test whether a transition is dynamics-consistent;
# 4. explain, with measured numbers, why gluing two episodes together is not a valid stitch.

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
LOCO_ID = "stitchkit/hopper/medium-v0"
MAZE_ID = "stitchkit/pointmaze-medium/stitch-v0"

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Code, display

import stitchkit
from stitchkit.augment.naive import naive_stitch
from stitchkit.data import registry
from stitchkit.data.episodes import transitions
from stitchkit.envs import clipped, state_from_obs
from stitchkit.exercises import check
from stitchkit.oracle import PhysicsOracle
from stitchkit.render import render_frames
from stitchkit.viewer import StitchViewer, ViewItem

P = stitchkit.get_profile(PROFILE)
hopper = registry.load_episodes(LOCO_ID, P, build_missing=True)
mazes = registry.load_episodes(MAZE_ID, P, build_missing=True)
print(f"{len(hopper)} hopper episodes, {len(mazes)} maze episodes (profile {P.name})")

# %% [markdown]
# ## 1. From observation back to simulator state
#
# Gymnasium's hopper observes every joint position except the horizontal position x, then every velocity. So the
# simulator state is `qpos = [x, obs[:5]]`, `qvel = obs[5:]`, and the kit's datasets store x in the infos.

# %%
display(Code(inspect.getsource(state_from_obs), language="python"))
ep = max(hopper, key=len)
frames = render_frames("hopper", ep.observations, ep.infos.get("x_position"))
picks = np.linspace(0, len(frames) - 1, 6).astype(int)
fig, axes = plt.subplots(1, 6, figsize=(15, 2.8))
for ax, t in zip(axes, picks):
    ax.imshow(frames[t])
    ax.set(title=f"t = {t}", xticks=[], yticks=[])
plt.show()

# %% [markdown]
# Hopper clips its observed velocities to ±10. A state whose velocity hit the clip cannot be rebuilt exactly,
# so the oracle reports those transitions separately rather than mixing their (meaningless) errors in.

# %%
flat = transitions(hopper)
n_clip = int((clipped("hopper", flat["observations"]) | clipped("hopper", flat["next_observations"])).sum())
print(f"{n_clip} of {len(flat['actions'])} hopper transitions touch the velocity clip")

# %% [markdown]
# ## 2. The physics oracle
#
# For a transition (s, a, s'): set the simulator to s, apply a for the environment's frame skip, compare with s'.
# On real data the answer is exact up to floating point: ~1e-15 from the stored float64 states; ~1e-7 if the
# states were first rounded to float32 (as training batches are), which is the precision of float32 itself.

# %%
display(Code(inspect.getsource(PhysicsOracle.step_from), language="python"))
oracle = PhysicsOracle("hopper")
# the stored float64 states: the float32 copies made for training carry ~1e-7 of rounding
obs64 = np.concatenate([e.observations[:-1] for e in hopper])
next64 = np.concatenate([e.observations[1:] for e in hopper])
act = np.concatenate([e.actions for e in hopper])
n = min(len(act), 2000 if P.name != "smoke" else 300)
res = oracle.check(obs64[:n], act[:n], next64[:n])
res32 = oracle.check(flat["observations"][:n], flat["actions"][:n], flat["next_observations"][:n])
print("oracle error on original hopper transitions (float64 states):", res.summary())
print("the same from float32 copies of the states:                  ", res32.summary())

# %% [markdown]
# ## 3. A naive stitch, and why it fails
#
# Glue the state at step `t_a` of one episode to the state at step `t_b` of another: a "trajectory" that
# claims the first episode's action leads straight to the second episode's state.

# %%
a, b = hopper[0], hopper[1 % len(hopper)]
t_a, t_b = len(a) // 2, len(b) // 3
glued = naive_stitch(a, t_a, b, t_b)
glue_res = oracle.check_episode(glued)
print(
    f"oracle error at the glue: {glue_res.norm[t_a]:.3g}; median elsewhere: "
    f"{np.median(np.delete(glue_res.norm, t_a)):.2g}"
)
fig, ax = plt.subplots(figsize=(8, 3))
ax.semilogy(np.maximum(glue_res.norm, 1e-17), ".", ms=4)
ax.axvline(t_a, color="tab:red", lw=1)
ax.set(xlabel="step of the glued episode", ylabel="oracle error", title="one impossible transition")
plt.show()

# %% [markdown]
# ## 4. The StitchViewer
#
# Play or drag the slider: the frame, the state curves (source, bridge and target shaded) and the oracle error
# move together. The dropdown switches between the naive stitch, an ordinary episode and a maze stitch. In a
# static report the viewer plays as an animation instead.

# %%
maze_glued = naive_stitch(mazes[0], 120, mazes[1 % len(mazes)], 20)
items = [
    ViewItem.from_episode("hopper", glued, "hopper: naive stitch", oracle),
    ViewItem.from_episode("hopper", ep, "hopper: dataset episode", oracle),
]
viewer = StitchViewer("hopper", items, dims=[0, 1, 5])
viewer

# %%
maze_viewer = StitchViewer(
    "pointmaze-medium", [ViewItem.from_episode("pointmaze-medium", maze_glued, "maze: naive stitch")], dims=[0, 1]
)
maze_viewer

# %% [markdown]
# ## Summary
#
# **What to remember.**
# 1. A MuJoCo state is (qpos, qvel); a locomotion observation drops the x position (and a dataset may clip
#    velocities), so a state rebuilt from an observation is exact only up to what the observation keeps.
# 2. The physics oracle answers one question exactly: from state $s$, does action $a$ lead to $s'$? Real data pass
#    to rounding error; a glued transition misses by orders of magnitude.
# 3. Rendering and the StitchViewer make a stitched trajectory visible, but only the oracle says whether it is
#    physically possible.
#
# **Key equation.** The oracle error of a transition, in the true simulator $f$:
# $$e(s, a, s') = \|f(s, a) - s'\|.$$
#
# **Pseudocode: the oracle check.**
# ```text
# for each transition (s, a, s') to judge:
#     set the simulator's qpos, qvel from s (x position from the info, if the observation drops it)
#     step the simulator with a for the environment's frame skip
#     e = || observation reached - s' ||
# ```
# **Read further.** Todorov et al., *MuJoCo* (2012); the Gymnasium MuJoCo v5 environment docs (observations).

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** By how many orders of magnitude does the glued transition's error exceed the median error of the
# original transitions (`res`)? Store `log10(glue error / median)` rounded down in `answer_1`; it must be at least 6.

# %%
answer_1 = None  # your code here

# %% tags=["solution"]
answer_1 = int(np.floor(np.log10(glue_res.norm[t_a] / max(res.summary()["median"], 1e-300))))

# %%
check(
    "exercise 1",
    answer_1,
    satisfies=lambda a: int(a) >= 6,
    hint="divide the glue error by res.summary()['median'], take log10 and round down",
)

# %% [markdown]
# **Exercise 2.** Is the maze stitch any better? First predict from what a maze state holds (the 2-D position
# only, no velocity): can a glued jump be physical when it is longer than one step's reach? Then compute the oracle error of its glued
# transition (step 120) and store in `answer_2` whether it exceeds 0.1 (a tenth of a maze unit per step), as a bool.

# %%
answer_2 = None  # your code here

# %% tags=["solution"]
answer_2 = bool(PhysicsOracle("pointmaze-medium").check_episode(maze_glued).norm[120] > 0.1)

# %%
check("exercise 2", answer_2, hashed="3cbc87c7681f", hint="PhysicsOracle('pointmaze-medium').check_episode(maze_glued)")
