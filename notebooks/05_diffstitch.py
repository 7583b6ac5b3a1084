# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · DiffStitch: stitching trajectories with a state diffusion model
#
# **Learning objectives.** After this notebook you can
# 1. name DiffStitch's four modules (step estimation, state stitching, wrap-up, qualification) and find each in
#    `stitchkit/augment/diffstitch.py`;
# 2. explain the forward process, ε-prediction and one reverse step on a 2-D toy, and how a diffusion model trained
#    on windows *inpaints* a bridge between two given states;
# 3. check a generated bridge against the true simulator, and say what qualification by a learned model buys;
# 4. run the paper's experiment on the kit's data - TD3+BC and IQL on original vs original+DiffStitch data - and
#    its ablations, and read the result honestly.
#
# Paper: Li et al., *DiffStitch: Boosting Offline Reinforcement Learning with Diffusion-based Trajectory
# Stitching*, ICML 2024 (arXiv 2402.02439). Settings the paper leaves out come from the authors' released code
# (github.com/guangheli12/DiffStitch); the table at the end of this notebook lists where the kit follows which.

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
SAMPLER = "strided"  # "full": the paper's K-step ancestral sampler; "strided": DDIM, ~10x faster (section 5)

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Code, Markdown, display

import stitchkit
from stitchkit import augment, bench, bridge_search
from stitchkit.augment import diffstitch as ds
from stitchkit.augment.bridges import assemble, bridge_oracle_errors
from stitchkit.augment.diffusion import apply_conditioning
from stitchkit.campaign import attribution, plots, readings
from stitchkit.data import registry
from stitchkit.data.episodes import crop
from stitchkit.device import get_device
from stitchkit.exercises import check
from stitchkit.paths import data_dir
from stitchkit.slider import ParameterSlider
from stitchkit.train import arm_jobs, run_many, score_text
from stitchkit.viewer import StitchViewer, ViewItem

torch.set_num_threads(max(1, torch.get_num_threads()))
P = stitchkit.get_profile(PROFILE)
S = ds.SIZES.of(P)  # DiffStitch's own sizes at this profile, declared in its module
print(f"profile {P.name}: {S}")
data = {d: registry.load_episodes(d, P, build_missing=True) for d in (HOPPER, MAZE)}
ENV = {HOPPER: "hopper", MAZE: "pointmaze-medium"}

# %% [markdown]
# ## 0. Diffusion in two dimensions, before the U-Net
#
# A [diffusion model](GLOSSARY.md#diffusion) learns to undo noise. The **forward process** mixes a data window
# $x_0$ with Gaussian noise, $x_k = \sqrt{\bar\alpha_k}\,x_0 + \sqrt{1-\bar\alpha_k}\,\varepsilon$, more at each
# step $k$ (a cosine schedule for $\bar\alpha_k$), until at $k = K$ nothing of $x_0$ is left. A network
# $\varepsilon_\theta(x_k, k)$ is trained to say which noise was added (**ε-prediction**: minimise
# $\|\varepsilon_\theta(x_k, k) - \varepsilon\|^2$), so one **reverse step** can estimate
# $\hat x_0 = (x_k - \sqrt{1-\bar\alpha_k}\,\varepsilon_\theta)/\sqrt{\bar\alpha_k}$ and move $x_k$ a little toward
# it; K such steps turn pure noise into a sample that looks like the data. **Inpainting** writes the known points
# back into the window after every step, so the sample must agree with them: fix the last points of one path and
# the first points of another, and the model fills the bridge between them. That is DiffStitch's state stitching.
#
# Here the data are 2-D paths of 16 points (constant speed, constant turn), and the model is the kit's own
# DiffStitch model (`StateDiffusion` with a small `TemporalUnet`, DiffStitch's training masks), only smaller:

# %%
from stitchkit.augment import toy_diffusion

TS = toy_diffusion.SIZES.of(P)
toy_windows = toy_diffusion.arcs(TS.windows, seed=SEED)
toy_model, toy_losses = toy_diffusion.train(toy_windows, TS.train_steps, seed=SEED)
display(Code(inspect.getsource(type(toy_model).loss), language="python"))
x0 = toy_windows[:1]
fig, axes = plt.subplots(1, 4, figsize=(17, 4))
for k, color in zip((0, toy_model.k // 5, toy_model.k // 2, toy_model.k - 1), ("k", "tab:blue", "tab:purple", "0.6")):
    xk = toy_diffusion.noised(toy_model, x0, k, seed=SEED)[0]
    axes[0].plot(xk[:, 0], xk[:, 1], ".-", color=color, label=f"k = {k}")
axes[0].set(title="forward process: a path, noised", xlim=(-2, 2), ylim=(-2, 2))
axes[0].legend(fontsize=7)
k_mid = toy_model.k // 3
xk = toy_diffusion.noised(toy_model, x0, k_mid, seed=SEED)
x0_hat = toy_diffusion.predict_x0(toy_model, xk, k_mid)[0]
axes[1].plot(*xk[0].T, ".", color="0.6", label=f"x_k (k = {k_mid})")
axes[1].plot(*x0_hat.T, "o-", color="tab:green", ms=3, label="one reverse step's x0 estimate")
axes[1].plot(*x0[0].T, "k--", lw=1, label="the true x0")
axes[1].set(title="one reverse step (ε-prediction)", xlim=(-1.2, 1.2), ylim=(-1.2, 1.2))
axes[1].legend(fontsize=7)
g = torch.Generator().manual_seed(SEED)
free = torch.zeros(12, toy_diffusion.HORIZON, dtype=torch.bool)
free[:, 0] = True  # only the first point is given: the model draws the rest of each path
samples = toy_model.sample(free, toy_windows[100:112], generator=g)
for w in toy_windows[200:260]:
    axes[2].plot(*w.T, color="0.85", lw=1)
for w in samples:
    axes[2].plot(*w.T, "-", color="tab:blue", lw=1.5)
axes[2].set(title="samples (blue), data (grey)", xlim=(-1.2, 1.2), ylim=(-1.2, 1.2))
source, target = toy_diffusion.arcs(1, seed=SEED + 7), toy_diffusion.arcs(1, seed=SEED + 8)
source = source - source[:, -1:] + torch.tensor([-0.2, 0.0])  # the source ends left of the middle ...
target = target - target[:, :1] + torch.tensor([0.1, 0.15])  # ... the target starts 0.34 away
known, values = toy_diffusion.bridge_layout(source, target, gap=5)
bridged = toy_model.sample(known.repeat(5, 1), values.repeat(5, 1, 1), generator=g)
axes[3].plot(*source[0].T, "o-", color="tab:blue", ms=3, label="source path")
axes[3].plot(*target[0].T, "o-", color="tab:orange", ms=3, label="target path")
for b in bridged:
    axes[3].plot(*b[1:9].T, ".-", color="tab:green", lw=1, alpha=0.8)
axes[3].plot(*torch.stack([source[0, -1], target[0, 0]]).T, "r--", label="naive joint: one jump")
axes[3].set(title="inpainting: 5 bridges")
axes[3].legend(fontsize=7)
plt.show()
print(
    f"toy model: {TS.train_steps} steps, loss {np.mean(toy_losses[:20]):.3f} -> {np.mean(toy_losses[-50:]):.3f}; "
    f"data step length {(toy_windows[:, 1:] - toy_windows[:, :-1]).norm(dim=-1).mean():.3f}, bridge steps "
    f"{(bridged[:, 2:9] - bridged[:, 1:8]).norm(dim=-1).mean():.3f}, the naive joint's one jump "
    f"{(target[0, 0] - source[0, -1]).norm():.3f}"
)

# %% [markdown]
# **Slide the noise level `k`.** The same path noised to level `k` (grey) and what one reverse step estimates of
# the clean path from it (green), against the truth (dashed): at small `k` the estimate is almost exact, at large
# `k` it is only the path's rough place. This is why the sampler walks down from `K` one level at a time.


# %%
def draw_reverse_step(fig, k: int) -> None:
    ax = fig.add_subplot()
    noisy = toy_diffusion.noised(toy_model, x0, k, seed=SEED)
    ax.plot(*noisy[0].T, ".", color="0.6", label=f"x_k, k = {k}")
    ax.plot(*toy_diffusion.predict_x0(toy_model, noisy, k)[0].T, "o-", color="tab:green", ms=3, label="x0 estimate")
    ax.plot(*x0[0].T, "k--", lw=1, label="the true x0")
    ax.set(xlim=(-2, 2), ylim=(-2, 2), aspect="equal")
    ax.legend(fontsize=7, loc="lower left")


K_LEVELS = sorted({0, toy_model.k // 10, toy_model.k // 5, toy_model.k // 3, toy_model.k // 2, toy_model.k - 1})
ParameterSlider("k", K_LEVELS, draw_reverse_step, figsize=(4.2, 4.4), start=len(K_LEVELS) // 2)

# %% [markdown]
# One reverse step's estimate (second panel) is rough: from a heavily noised window the network can only guess the
# path's rough place; the sampler takes K such steps, each from a less noisy window. Samples (third panel) look
# like the data's arcs without copying any. Read the last panel as DiffStitch reads hopper: the bridge is a sequence of *states*; its actions come from an
# inverse dynamics model afterwards (wrap-up), and a learned dynamics model judges whether the states could follow
# one another (qualification). Everything below is this picture with 11-dimensional states, a bigger U-Net and a
# learned Δ for the gap.
#
# ## 1. The pipeline
#
# Given a source state $s_T$ (the end of a prefix of trajectory τ) and a target state $s'_1$ (the start of a better
# trajectory τ'):
#
# 1. **Step estimation**: imagine $H$ states after $s_T$ with the diffusion model; Δ = the imagined position most
#    cosine-similar to $s'_1$ (searched over $[L, R)$ = `window_low, window_high`).
# 2. **State stitching**: inpaint $(s_T, \text{[MASK]}\times(Δ-1), s'_1, s'_2, \dots)$: Δ transitions from $s_T$
#    to $s'_1$.
# 3. **Wrap-up**: actions from an inverse dynamics model $a_t = f_ψ(s_t, s_{t+1})$, rewards from a reward model.
# 4. **Qualification**: keep the bridge only if every one-step error $\|\hat s_{t+1} - f_ω(\hat s_t, a_t)\|^2 ≤ δ$
#    under a learned dynamics model (and no generated state is terminal, and - released code - the stitched
#    return-to-go is at least the source's).
#
# The result is a whole new trajectory: τ up to $s_T$, the bridge, τ' from $s'_1$. Here are the four modules, from
# the kit's source.

# %%
for fn in (ds.estimate_steps, ds.stitch_states, ds.wrap_up, ds.qualify):
    display(Code(inspect.getsource(fn), language="python"))

# %% [markdown]
# ## 2. Train the models
#
# Four models, each with its curve: the temporal U-Net diffusion model over $H$-state windows (ε-prediction,
# cosine schedule, K steps, inpainting masks that always reveal the first state and never the last, loss on the
# generated positions only, [EMA](GLOSSARY.md#ema) weights: an exponential moving average of the weights), the
# inverse dynamics model, the reward model and a 7-member Gaussian dynamics
# [ensemble](GLOSSARY.md#elites) (its best members on held-out data, the *elites*, predict). All live in
# CDF-normalized state space. Trained models are cached under `data/checkpoints/diffstitch/` (the diffusion model
# checkpoints while it trains, and resumes); `make lab` trains this notebook's ahead (`make data`, minutes per
# dataset on one core at `lab`), so the cell below loads them and draws the curves recorded while they trained.

# %%
device = str(get_device())
ckpt = {d: data_dir() / "checkpoints" / "diffstitch" / ds.config_key(d, P, SEED, False) for d in data}
guess = sum(ds.estimate_train_seconds(eps, P, ckpt[d], device) for d, eps in data.items())
print(
    f"training the models: about {guess / 60:.1f} min on this machine (`make lab` trains them ahead: they load at once)"
)
models = {d: ds.train_models(eps, P, SEED, checkpoint_dir=ckpt[d], device=device) for d, eps in data.items()}

fig, axes = plt.subplots(1, 4, figsize=(17, 3.2))
for d, m in models.items():
    c = m.curves
    axes[0].plot([r["step"] for r in c["diffusion"]], [r["loss"] for r in c["diffusion"]], label=ENV[d])
    for ax, name in zip(axes[1:], ("inverse", "reward", "dynamics")):
        ax.plot([r["step"] for r in c[name]], [r["held_out"] for r in c[name]], label=ENV[d])
for ax, title in zip(
    axes,
    (
        "diffusion: ε-MSE (train)",
        "inverse dynamics: action MSE (held out)",
        "reward: MSE (held out)",
        "dynamics: next-state SSE (held out)",
    ),
):
    ax.set(title=title, xlabel="gradient step", yscale="log")
    ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# ## 3. Look inside: denoising a masked window
#
# The diffusion model never sees a mask as input. Conditioning is *inpainting*: after every reverse step the known
# states are written back (`apply_conditioning`). Below, a hopper window from the data with its first state and its
# last states known (as in stitching), denoised from noise; the dashed line is the true window.

# %%
display(Code(inspect.getsource(apply_conditioning), language="python"))
m = models[HOPPER]
eps = data[HOPPER]
ep = max(eps, key=len)
window = torch.as_tensor(m.cdf.normalize(ep.observations[: S.horizon]))[None]
known = torch.zeros(1, S.horizon, dtype=torch.bool)
known[0, 0] = True
known[0, S.horizon // 2 :] = True
trace = []
m.diffusion.to("cpu").sample(known, window, generator=torch.Generator().manual_seed(SEED), trace=trace)
m.diffusion.to(device)
shots = [0, len(trace) // 4, len(trace) // 2, 3 * len(trace) // 4, len(trace) - 1]
fig, axes = plt.subplots(1, len(shots), figsize=(17, 3), sharey=True)
for ax, k in zip(axes, shots):
    ax.plot(window[0, :, 0], "k--", lw=1, label="data")
    ax.plot(trace[k][0, :, 0], color="tab:red", label="sample")
    ax.axvspan(S.horizon // 2, S.horizon - 1, color="tab:green", alpha=0.1)
    ax.set(title=f"after {k + 1} of {len(trace)} steps", xlabel="window position")
axes[0].set_ylabel("torso height (CDF-normalized)")
axes[0].legend(fontsize=7)
plt.show()

# %% [markdown]
# ### Inverse dynamics: how well are actions recovered from state pairs?
#
# Wrap-up trusts $f_ψ(s_t, s_{t+1})$ for every bridge action. On real transitions it can be checked against the
# action the data actually took. Below, each dataset's last 2,000 transitions (most were seen in training; the
# held-out curve of section 2 is the unseen measure):

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3))
for ax, (d, eps_d) in zip(axes, data.items()):
    md = models[d]
    s_all = np.concatenate([e.observations[:-1] for e in eps_d])[-2000:]
    s_next = np.concatenate([e.observations[1:] for e in eps_d])[-2000:]
    a_true = np.concatenate([e.actions for e in eps_d])[-2000:]
    with torch.no_grad():
        a_hat = md.inverse.cpu()(torch.as_tensor(md.cdf.normalize(s_all)), torch.as_tensor(md.cdf.normalize(s_next)))
    md.inverse.to(device)
    err = np.abs(a_hat.numpy() - a_true)
    ax.hist(err, bins=np.linspace(0, 1, 30), label=[f"action dim {i}" for i in range(err.shape[1])], stacked=True)
    ax.set(title=f"{ENV[d]}: |a_hat - a| (median {np.median(err):.3f})", xlabel="absolute action error")
    ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# ## 4. Step estimation: imagine, then pick Δ
#
# From one source state the model imagines a continuation; each target candidate's similarity to every imagined
# state in $[L, R)$ is one curve; an eligible target (similarity ≥ threshold somewhere) is chosen at random and Δ is
# where its curve peaks.

# %%
cfg = ds.METHOD.resolve(ds.DiffStitchConfig(seed=SEED, sampler=SAMPLER), HOPPER, P)  # per-dataset δ, threshold
pools = ds.pair_pools(eps, S.horizon, cfg)
e0, t0 = pools.starts[pools.sources[0]]
src = torch.as_tensor(m.cdf.normalize(eps[e0].observations[t0]))
known = torch.zeros(1, S.horizon, dtype=torch.bool)
known[0, 0] = True
vals = torch.zeros(1, S.horizon, src.shape[0])
vals[0, 0] = src
imagined = m.diffusion.to("cpu").sample(known, vals, generator=torch.Generator().manual_seed(SEED))
m.diffusion.to(device)
cand_rows = pools.starts[pools.targets[:16]]
cands = torch.as_tensor(m.cdf.normalize(np.stack([eps[e].observations[t] for e, t in cand_rows])))[None]
sim = ds.cosine(imagined[:, S.window_low : S.window_high], cands)[0]  # (positions, candidates)
chosen, delta, ok = ds.estimate_steps(
    imagined, cands, S.window_low, S.window_high, cfg.similarity, torch.Generator().manual_seed(SEED)
)
pos = np.arange(S.window_low, S.window_high)
plt.figure(figsize=(8, 3.2))
plt.plot(pos, sim.numpy(), color="0.75", lw=1)
plt.plot(pos, sim[:, chosen.item()].numpy(), color="tab:red", lw=2, label=f"chosen candidate {chosen.item()}")
plt.axhline(cfg.similarity, color="k", ls=":", label=f"threshold {cfg.similarity}")
plt.axvline(delta.item(), color="tab:red", ls="--", label=f"Δ = {delta.item()}")
plt.xlabel("imagined position")
plt.ylabel("cosine similarity to s'_1")
plt.title(f"step estimation from source (episode {e0}, step {t0}); eligible: {bool(ok.item())}")
plt.legend(fontsize=7)
plt.show()

# %% [markdown]
# ## 5. Stitch
#
# Now the whole loop, in batches of `stitch_batch` bridges, until `budget` accepted transitions (or
# `max_iterations`). Every bridge is kept in the result, accepted or not, for the studies below; the accepted ones
# become whole stitched trajectories and are saved as the Minari dataset `<parent>-diffstitch-v0`.
#
# The notebook stitches with the strided [DDIM](GLOSSARY.md#ddim) sampler (it skips most noise levels):
# `benchmarks/augment_speed.py` measures it against the paper's full ancestral sampler (same models, same seed).
# Set `SAMPLER = "full"` in the parameters cell for the paper's sampler. `make data` ran this very loop (same
# models, data, settings and seed) to build the dataset notebooks 06 and 08 read, and checkpointed it beside the
# models: the cell loads that run, bridges and rejection tallies included, instead of stitching again (with another
# setting or seed it stitches here).

# %%
results, out_ids = {}, {}
for d, eps_d in data.items():
    settings = ds.DiffStitchConfig(seed=SEED, sampler=SAMPLER)
    res = ds.stitch(models[d], eps_d, ENV[d], P, settings, d, resume_dir=ckpt[d] / "stitching")  # `make data`'s run
    results[d] = res
    if res.episodes:  # with undertrained models (the smoke profile) nothing may pass: nothing to save or train on
        out_ids[d] = registry.augmented_id(d, "diffstitch")
        augment.save(
            out_ids[d], res.episodes, {"method": "diffstitch", "parent": d, "seed": SEED, **ds.summary(res)}, P
        )
    st = res.stats
    print(
        f"{d}: {st['generated']} bridges, {st['accepted']} accepted ({100 * st['acceptance_rate']:.0f}%), "
        f"{st['accepted_transitions']} transitions, mean Δ {st['mean_bridge_steps']:.1f}; rejected: "
        f"{st['no_similar_target']} no similar target, {st['terminal']} terminal, {st['dynamics']} dynamics, "
        f"{st['return']} return filter; {st['seconds']:.0f} s"
    )

# %% [markdown]
# ## 6. Does qualification pick the physically right bridges?
#
# The kit can ask the simulator itself (notebook 03's physics oracle). Each transition of each non-terminal bridge
# gets its true one-step error, grouped by the qualification verdict alone (max model error <= δ or not; a bridge
# that passed it may still be dropped by the return filter).

# %%
oracle_rows, judged = {}, {}
fig, axes = plt.subplots(1, 2, figsize=(13, 3.3))
for ax, (d, res) in zip(axes, results.items()):
    bridges = [b for b in res.bridges if not b.terminal]
    errs = bridge_oracle_errors(ENV[d], bridges)
    delta_d = ds.METHOD.resolve(ds.DiffStitchConfig(), d, P).delta
    judged[d] = (errs, bridges, delta_d)
    acc = np.concatenate([e for e, b in zip(errs, bridges) if b.model_error <= delta_d] or [np.array([np.nan])])
    rej = np.concatenate([e for e, b in zip(errs, bridges) if b.model_error > delta_d] or [np.array([np.nan])])
    oracle_rows[d] = (np.median(acc), np.median(rej), res.stats["acceptance_rate"], len(acc), len(rej))
    bins = np.logspace(-4, 2, 40)
    ax.hist(rej, bins=bins, alpha=0.6, label=f"failed qualification (median {np.median(rej):.3g})", color="tab:red")
    ax.hist(acc, bins=bins, alpha=0.6, label=f"passed (median {np.median(acc):.3g})", color="tab:green")
    ax.set(xscale="log", title=f"{ENV[d]}: true one-step error of bridge transitions", xlabel="oracle error")
    ax.legend(fontsize=7)
plt.show()
display(
    Markdown(
        "| dataset | acceptance | passed qualification: median oracle error | failed: median oracle error |\n|---|---|---|---|\n"
        + "\n".join(
            f"| {d} | {100 * r[2]:.0f}% | {r[0]:.3g} ({r[3]} transitions) | {r[1]:.3g} ({r[4]} transitions) |"
            for d, r in oracle_rows.items()
        )
    )
)

# %% [markdown]
# **Slide δ.** The same bridges judged at other thresholds (hopper): the green histogram is what a threshold keeps,
# the red what it throws away, both measured by the simulator. Where do the two medians meet?


# %%
def draw_threshold(fig, delta_value: float) -> None:
    errs, bridges, _ = judged[HOPPER]
    ax = fig.add_subplot()
    keep = [e for e, b in zip(errs, bridges) if b.model_error <= delta_value]
    drop = [e for e, b in zip(errs, bridges) if b.model_error > delta_value]
    bins = np.logspace(-4, 2, 40)
    for part, color, name in ((drop, "tab:red", "fails"), (keep, "tab:green", "passes")):
        values = np.concatenate(part) if part else np.array([])
        median = f"median {np.median(values):.3g}" if len(values) else "none"
        ax.hist(values, bins=bins, alpha=0.6, color=color, label=f"{name}: {len(part)} bridges, {median}")
    ax.set(xscale="log", xlabel="true one-step error of bridge transitions (oracle)")
    ax.legend(fontsize=7)


DELTA_D = judged[HOPPER][2]
ParameterSlider(
    "δ", [DELTA_D * 4.0**i for i in range(-2, 3)], draw_threshold, figsize=(6, 3.4), fmt=lambda v: f"{v:.3g}", start=2
)

# %% [markdown]
# ## 7. Watch stitched hopper trajectories
#
# Blue: the source prefix, red: the generated bridge, green: the target suffix; the lower panel is the oracle
# error per step (zero on real data, larger inside the bridge).

# %%
stitched = results[HOPPER].episodes[:4]
items = []
for k, ep_s in enumerate(stitched):
    p = ep_s.provenance
    items.append(
        ViewItem.from_episode(
            "hopper",
            crop(ep_s, p.source_step - 20, p.source_step + p.bridge_steps + 40),
            name=f"stitch {k}: Δ={p.bridge_steps}",
        )
    )
StitchViewer("hopper", items, dims=[0, 1, 5]) if items else print("no accepted bridge to show")

# %% [markdown]
# And in the maze: the source prefix, the bridge and the target suffix in the plane.

# %%
from stitchkit.render import draw_maze

fig, ax = plt.subplots(figsize=(5, 5))
draw_maze(ax, "pointmaze-medium")
for ep_s in results[MAZE].episodes[:6]:
    a, b = ep_s.provenance.segments(len(ep_s))
    o = ep_s.observations
    ax.plot(o[: a + 1, 0], o[: a + 1, 1], color="tab:blue", lw=1)
    ax.plot(o[a : b + 1, 0], o[a : b + 1, 1], color="tab:red", lw=2)
    ax.plot(o[b:, 0], o[b:, 1], color="tab:green", lw=1)
ax.set_title("stitched maze trajectories: source, bridge, target")
plt.show()

# %% [markdown]
# ### Going further: steer the sampler instead of rejecting
#
# Qualification throws bridges away. The kit's extension (`dynamics_guidance`) uses the same two models *during*
# denoising: at every reverse step the x0 estimate is nudged down the gradient of the bridge's dynamics error under
# the wrap-up actions (`dynamics_guide`), so more bridges are consistent before they are judged. Same seed, same
# budget, with and without guidance:

# %%
display(Code(inspect.getsource(ds.dynamics_guide), language="python"))
guided_rows = []
for d in (HOPPER, MAZE):
    for scale in (0.0, 0.02):
        r = ds.stitch(
            models[d],
            data[d],
            ENV[d],
            P,
            ds.DiffStitchConfig(seed=SEED, sampler=SAMPLER, dynamics_guidance=scale),
            d,
            budget=max(1, S.budget // 8),
            max_iterations=max(1, S.max_iterations // 8),  # an eighth of section 5's run: the comparison, not a dataset
        )
        br = [b for b in r.bridges if not b.terminal]
        errs = bridge_oracle_errors(ENV[d], br)
        acc = [e for e, b in zip(errs, br) if b.accepted]
        guided_rows.append(
            (
                ENV[d],
                scale,
                r.stats["acceptance_rate"],
                np.median([b.model_error for b in br]) if br else float("nan"),
                np.median(np.concatenate(acc)) if acc else float("nan"),
                r.stats["accepted_transitions_per_s"],
            )
        )
display(
    Markdown(
        "| dataset | guidance | acceptance | median model error | median oracle error (accepted) | "
        "accepted transitions/s |\n|---|---|---|---|---|---|\n"
        + "\n".join(
            f"| {n} | {g:g} | {100 * a:.0f}% | {me:.3g} | {oe:.3g} | {v:.0f} |" for n, g, a, me, oe, v in guided_rows
        )
    )
)

# %% [markdown]
# Read the table with care. Guidance lowers the error *the learned model* reports, so more bridges pass - but ask
# the physics oracle too. If the model's error falls much further than the true error of the accepted transitions,
# the sampler has learned to please the model rather than the physics (Goodhart's law; the reason model-based
# offline RL penalises model exploitation). This run's reading:

# %%
guided = {}
for name, g, a, me, oe, v in guided_rows:
    guided.setdefault(name, {})[g] = (a, me, oe, v)
lines = []
for name, by in guided.items():
    (a0, me0, oe0, v0), (a1, me1, oe1, v1) = by[0.0], by[0.02]
    pleases = me1 < 0.7 * me0 and not oe1 < 0.9 * oe0  # the model's error fell, the physics' did not follow
    lines.append(
        f"- **{name}**: acceptance {100 * a0:.0f}% -> {100 * a1:.0f}%, median model error {me0:.3g} -> {me1:.3g}, "
        f"median true error of the accepted transitions {oe0:.3g} -> {oe1:.3g}; "
        + (f"{v0 / v1:.1f}x slower per accepted transition. " if v0 > 0 and v1 > 0 else "nothing accepted to time. ")
        + ("The sampler pleased the model more than the physics." if pleases else "No sign of model exploitation here.")
    )
display(Markdown("\n".join(lines)))

# %% [markdown]
# ## 8. Does it help offline RL?
#
# TD3+BC and IQL on hopper, trained on the original data and on original + DiffStitch data, same seeds and steps.
# Transition learners sample augmented data as the released code saves it - bridge transitions only - at the ratio
# r = original : augmented = `cfg.ratio` (4:1: the best TD3+BC ratio of the paper's Table 2, which was measured on
# halfcheetah-medium-expert, not on hopper; the paper gives no ratio study on hopper). The four runs are
# independent, so they train two at a time, one per core. (The maze's single-task TD3+BC and IQL are left to the
# benchmark's `full` grid, notebook 09: at this course's budgets neither reaches the goal with or without stitched
# data. Stitching on the maze is shown where it works at a laptop's budget: notebook 02's goal-conditioned
# learners.)

# %%
aug = out_ids.get(HOPPER)
jobs = arm_jobs(
    HOPPER, ("td3bc", "iql"), {"original": (None, cfg.ratio), "+DiffStitch": (aug, cfg.ratio) if aug else None}, P
)
print(f"{len(jobs)} runs, two at a time: about {bench.estimate_runs(list(jobs.values())) / 60:.1f} min on this machine")
downstream = dict(zip(jobs, run_many(list(jobs.values()), processes=2)))


def cell(key):
    return score_text(downstream[key]) if key in downstream else "no bridge accepted"


rows = ["| dataset | algorithm | original | +DiffStitch |", "|---|---|---|---|"]
for algo in ("td3bc", "iql"):
    rows.append(f"| hopper | {algo} | {cell((HOPPER, algo, 'original'))} | {cell((HOPPER, algo, '+DiffStitch'))} |")
display(
    Markdown(
        "\n".join(rows) + f"\n\nLast evaluation, mean ± std over {P.train.seeds} seeds, {P.train.steps} "
        "steps; normalized score."
    )
)

# %% [markdown]
# **Reading the result, generated from this run.** Each learner with and without DiffStitch's data, the difference
# against the seeds' spread, and what the stitching run produced:

# %%
st_h = results[HOPPER].stats
lines = []
for algo in ("td3bc", "iql"):
    base, aug_run = downstream[(HOPPER, algo, "original")], downstream.get((HOPPER, algo, "+DiffStitch"))
    if aug_run is None:
        lines.append(f"- **{algo}**: no bridge accepted, nothing to compare")
        continue
    b, a = base["score"], aug_run["score"]
    diff, spread = a["last_mean"] - b["last_mean"], max(a["last_std"], b["last_std"])
    lines.append(
        f"- **{algo}**: {b['last_mean']:.1f} ± {b['last_std']:.1f} -> {a['last_mean']:.1f} ± {a['last_std']:.1f} with "
        f"DiffStitch's data, {diff:+.1f} points: "
        + ("inside the seeds' spread" if abs(diff) <= spread else "beyond the seeds' spread")
    )
acc_err, rej_err = oracle_rows[HOPPER][0], oracle_rows[HOPPER][1]
lines.append(
    f"- the stitching run: {st_h['accepted']} of {st_h['generated']} sources became accepted bridges "
    f"({100 * st_h['acceptance_rate']:.0f}%); {st_h['no_similar_target']} found *no similar target*; "
    f"{st_h['accepted_transitions']} stitched transitions, mixed {cfg.ratio:g} : 1; the bridges that passed "
    f"qualification have a median true error of {acc_err:.3g} against {rej_err:.3g} for those that failed"
)
display(Markdown("\n".join(lines)))

# %% [markdown]
# How to read it. Hopper medium-replay has headroom (notebook 01: its best episodes score far above its mean), so
# a learner can fall short of its data's best, as on D4RL. What limits DiffStitch at `lab` sizes shows in the last
# line: the code's pairing looks for a target among the top-2% return-to-go segments whose start resembles an
# imagined state, and in a fast-improving replay buffer few do, so most sources find no target; and where the
# qualified bridges' true error is no lower than the rejected ones', the learned dynamics model is not telling
# good bridges from bad. More bridges need more data or a better-trained diffusion model (`full`, or the
# campaign below). The maze's single-task learners are left to the `full` budget; the next cell shows how much
# more often stitched maze trajectories reach the goal than the originals.

# %%
reach = {
    "original": np.mean([e.terminations.any() for e in data[MAZE]]),
    "stitched": np.mean([e.terminations.any() for e in results[MAZE].episodes])
    if results[MAZE].episodes
    else float("nan"),
}
print(
    f"maze trajectories that reach the goal: original {100 * reach['original']:.1f}%, "
    f"stitched {100 * reach['stitched']:.1f}%"
)

# %% [markdown]
# ### At a longer CPU budget: the campaign's records
#
# The runs above stop at the `lab` profile's few thousand updates (`P.train.steps`), where the learners are still
# climbing. The paper trains for 1M. The kit's campaigns (`make campaign`, notebook 09 section 5b) run its Table 1
# rows - TD3+BC and IQL on hopper and walker2d medium-replay, original vs +DiffStitch, 3 seeds - at 300k updates with
# the paper's 256-256 networks, and commit one record per run; this notebook only reads them, and a run not yet in the
# records shows as "not yet computed". The current one, `campaign-d4rl`, runs on data recorded as D4RL recorded its
# own (a SAC agent's replay buffer, notebook 01) with the released code's DiffStitch: return-conditioned, sampled
# with guidance w = 1.2 toward a high return, horizon 100. That budget is a longer CPU one, not the paper's: the
# first table lists, setting by setting, where the campaign differs from the paper and its released code (printed
# from the campaign file, the methods' declarations and the build records), and the list under it says why a null
# result here does not refute the paper. One of its lines is a measurement of the build rather than a setting: the
# generated transitions' mean |action| beside the data's. TD3+BC's policy loss clones each batch's actions, so a
# generator whose motion is gentler than the behaviour's pulls the policy toward softer actions, while the physics
# oracle (`benchmarks/generated_actions.py` scales the actions and finds its error least at the stored ones) still
# calls those actions right for their state changes. Whether that costs TD3+BC anything is for the records to say,
# not this argument: TATU's model rollouts are about as gentle, with a larger share of each batch, so the line prints
# each gentle build's TD3+BC arm beside it. If TATU's arm holds where DiffStitch's falls, gentleness alone does not
# explain the fall. The dotted lines in the curves mark what the original data itself holds:
# its best episode and the mean of its best tenth. A stitching method's promise is a learner that climbs past them,
# since the stitched episodes join what no single episode did.

# %%
CAMPAIGN = readings.load("campaign-d4rl")
campaign_records = readings.records(CAMPAIGN)
display(Markdown(readings.section(CAMPAIGN, campaign_records, ("none", "diffstitch"))))
plots.plot_forest(CAMPAIGN, campaign_records, ("none", "diffstitch"))
plt.tight_layout()
plt.show()
plots.plot_curves(CAMPAIGN, campaign_records, HOPPER, augmenters=("none", "diffstitch"))
plt.tight_layout()
plt.show()
display(
    Markdown(
        "**Reading, generated from the records:**\n\n"
        + readings.readings_of(CAMPAIGN, campaign_records, ("diffstitch",))
    )
)
display(
    Markdown(
        "**Does return guidance carry the lift?** This campaign's DiffStitch samples toward a high return, as the "
        "released code does; `campaign-guidance` runs the same DiffStitch without guidance, same sizes and seeds "
        '(generated from the records; "not yet computed" until both arms have 2 seeds):\n\n'
        + attribution.guidance_pair(CAMPAIGN, campaign_records, readings.records(readings.load("campaign-guidance")))
        + "\n\nThe two builds themselves, measured before any learner ran on them (each row from its build record; "
        "guidance conditions the sampler on a high return, and the reward per step is the reward model's label of the "
        "generated transitions; a fact a record predates shows -):\n\n"
        + attribution.guidance_builds(CAMPAIGN, readings.load("campaign-guidance"))
    )
)

# %% [markdown]
# **The earlier campaign**, closed: the same rows on the kit's earlier medium-replay data (rollouts of checkpoints,
# whose best episode lies below the paper's own baseline score) with a smaller DiffStitch that was not guided. Its
# settings, reasons and grid, read the same way:

# %%
EARLIER = readings.load("campaign")
earlier_records = readings.records(EARLIER)
display(Markdown(readings.section(EARLIER, earlier_records, ("none", "diffstitch"))))
plots.plot_forest(EARLIER, earlier_records, ("none", "diffstitch"))
plt.tight_layout()
plt.show()
display(
    Markdown(
        "**Reading, generated from the records:**\n\n" + readings.readings_of(EARLIER, earlier_records, ("diffstitch",))
    )
)

# %% [markdown]
# ## 9. Ablations and studies (hopper, TD3+BC)
#
# The paper's Figure 5 (ablations, on hopper) and Tables 2-3 (the data ratio r and the threshold δ, both on
# halfcheetah-medium-expert): without step estimation (Δ fixed, here the window's end), without qualification, r,
# and δ. The kit runs all of them on hopper medium-replay, so its r and δ studies are not the paper's tables'
# setting. Without qualification and the δ study
# re-filter section 5's bridges, so every variant sees the same candidates (and costs no new sampling; the paper's
# -Qualification run samples anew, and with a budget that a run reaches it would stop earlier). The δ study here
# reads what each threshold keeps and how physical the kept bridges are (the oracle), without training a learner
# per δ as the paper's Table 3 does. To train them too, call `save_variant` for each δ in the loop below, as it is
# called for -Qualification: two more TD3+BC runs, about a minute each here.

# %%
ablation = {"-AUG": downstream[(HOPPER, "td3bc", "original")]["score"]}
if (HOPPER, "td3bc", "+DiffStitch") in downstream:
    ablation["DiffStitch"] = downstream[(HOPPER, "td3bc", "+DiffStitch")]["score"]
ablation_jobs = {}  # name -> (augmented id, ratio): the datasets first, then every TD3+BC run, two at a time


def save_variant(name: str, tag: str, episodes: list, **meta) -> None:
    if episodes:  # with undertrained models (the smoke profile) a variant may keep nothing
        vid = registry.augmented_id(HOPPER, "diffstitch", tag)
        augment.save(vid, episodes, {"method": "diffstitch", "parent": HOPPER, "seed": SEED, **meta}, P)
        ablation_jobs[name] = (vid, cfg.ratio)


no_est = ds.stitch(
    models[HOPPER],
    data[HOPPER],
    "hopper",
    P,
    ds.DiffStitchConfig(seed=SEED, sampler=SAMPLER, step_estimation=False),
    HOPPER,
)
save_variant("-TEstimation", "noest", no_est.episodes, **ds.summary(no_est))

# -Qualification and the δ study re-filter section 5's own bridges: the same candidates, judged without the dynamics
# check (δ = ∞) or with another δ; terminal bridges and (released code) the return filter still apply.
unq_bridges = [b for b in results[HOPPER].bridges if not b.terminal and (b.return_ok or not cfg.return_filter)]
unq_oracle = bridge_oracle_errors("hopper", unq_bridges)
delta_rows = []
for dl in [cfg.delta / 4, cfg.delta, cfg.delta * 4, float("inf")]:
    keep = [b.model_error <= dl for b in unq_bridges]
    errs = [e for e, k in zip(unq_oracle, keep) if k]
    delta_rows.append((dl, sum(keep), float(np.median(np.concatenate(errs))) if errs else float("nan")))
    kept = [assemble("hopper", data[HOPPER], b, i) for i, b in enumerate(b for b, k in zip(unq_bridges, keep) if k)]
    if dl == float("inf"):
        save_variant("-Qualification", "noqual", kept, qualification=False)
for r in (1.0, 9.0):
    if HOPPER in out_ids:
        ablation_jobs[f"r = {r:g}:1"] = (out_ids[HOPPER], r)
if HOPPER in out_ids:  # is the model needed? section 5's own pairs, each joined by one glued transition instead
    naive_id = registry.augmented_id(HOPPER, "naive")
    augment.run("naive", HOPPER, naive_id, P, seed=SEED, force=True, pairs_from=out_ids[HOPPER])
    ablation_jobs["naive joints"] = (naive_id, cfg.ratio)

jobs = [
    dict(algo_name="td3bc", dataset_id=HOPPER, seeds=P.train.seeds, profile=P.name, augmented_id=v, ratio=r)
    for v, r in ablation_jobs.values()
]
print(f"{len(jobs)} TD3+BC runs, two at a time: about {bench.estimate_runs(jobs) / 60:.1f} min on this machine")
ablation_runs = dict(zip(ablation_jobs, run_many([{**j, "progress": False} for j in jobs], processes=2)))
for name, result in ablation_runs.items():
    ablation[name] = result["score"]

names = list(ablation)
plt.figure(figsize=(10, 3.2))
plt.bar(
    names,
    [ablation[n]["last_mean"] for n in names],
    yerr=[ablation[n]["last_std"] for n in names],
    color=["tab:red" if n == "DiffStitch" else "0.6" for n in names],
)
plt.axhline(ablation["-AUG"]["last_mean"], color="k", ls=":", lw=1)
plt.ylabel("TD3+BC normalized score")
plt.title("hopper medium-replay: ablations (mean ± std over seeds)")
plt.xticks(rotation=20)
plt.show()
display(
    Markdown(
        "| variant | TD3+BC | per seed (last evaluation) |\n|---|---|---|\n"
        + "\n".join(
            f"| {n} | {score_text({'score': ablation[n]})} | {', '.join(f'{v:.2f}' for v in ablation[n]['last'])} |"
            for n in names
        )
    )
)
display(
    Markdown(
        "| δ | bridges kept | median oracle error of kept transitions |\n|---|---|---|\n"
        + "\n".join(f"| {dl:g} | {n} | {med:.3g} |" for dl, n, med in delta_rows)
    )
)

# %% [markdown]
# **Reading the ablations, generated from this run.** Each variant against DiffStitch (the same seeds, so a
# difference within the larger of the two spreads is not a finding), then the δ study's kept bridges:

# %%
ref = ablation.get("DiffStitch")
lines = [] if ref else ["- no DiffStitch data at this profile: nothing to compare"]
for name in names if ref else []:
    if name == "DiffStitch":
        continue
    s_v, diff = ablation[name], ablation[name]["last_mean"] - ref["last_mean"]
    apart = abs(diff) > max(s_v["last_std"], ref["last_std"])
    lines.append(
        f"- **{name}**: {s_v['last_mean']:.1f} ± {s_v['last_std']:.1f}, {diff:+.1f} against DiffStitch "
        + ("(beyond the seeds' spread)" if apart else "(within the seeds' spread)")
    )
if delta_rows:
    lines.append(
        "- δ study: as δ tightens from "
        f"{delta_rows[-2][0]:g} to {delta_rows[0][0]:g}, the bridges kept go from {delta_rows[-2][1]} to "
        f"{delta_rows[0][1]} and their transitions' median true error from {delta_rows[-2][2]:.3g} to "
        f"{delta_rows[0][2]:.3g}"
    )
display(Markdown("\n".join(lines)))
same = [n for n in names if ref and n != "DiffStitch" and ablation[n]["last"] == ref["last"]]
if same:
    print(f"identical to DiffStitch, seed by seed: {', '.join(same)} (the same data reached the learner)")

# %% [markdown]
# Why two arms can print nearly the same figure: every variant trains with the same seeds, so the networks start
# from the same weights and draw the same original transitions (four fifths of every batch at r = 4 : 1); when
# the augmented data barely differ (qualification on hopper keeps almost every bridge the return filter lets
# through), the runs barely differ. Look at the per-seed values before calling two arms different.

# %% [markdown]
# ### Is the model needed?
#
# The "naive joints" bar above is the control the ablations leave out: section 5's *own* pairs - the same source
# prefixes, the same target suffixes, the same data and ratio - with each generated bridge replaced by one glued
# transition that the physics oracle says is impossible (`stitchkit augment naive --option pairs_from=...`,
# `stitchkit.augment.naive`). If DiffStitch's diffusion model, inverse dynamics and qualification matter, its
# bridges must beat that. The verdict below is computed from this run (the bar: 10 points, the 95% bootstrap
# interval of the difference clear of 0).

# %%
if "naive joints" in ablation_runs:
    display(
        Markdown(
            "- "
            + bridge_search.model_needed(
                "DiffStitch", downstream[(HOPPER, "td3bc", "+DiffStitch")], ablation_runs["naive joints"]
            )
        )
    )
else:
    print("no bridge accepted at this profile: nothing to glue")

# %% [markdown]
# The same question on the maze, with goal-conditioned learners and chains whose joints jump far, is notebook 02's
# section 8. Its precomputed rows (`results/bridge_matters/lab.json`) separate DiffStitch's filter from its
# bridges; their reading, generated from the rows:

# %%
display(Markdown("\n\n".join(bridge_search.explain(bridge_search.load_rows("lab"), ("filter",))) or "not yet computed"))

# %% [markdown]
# ## Where the kit differs from the paper and the released code
#
# | | paper | released code | stitchkit |
# |---|---|---|---|
# | pairs | low-return → high-return trajectories | top-30% sources → top-2% targets by RTG | code's rule by default (`pairing="code"`), paper's rule as `pairing="paper"` |
# | return filter | not mentioned | reads the wrong target's RTG (index bug) | the true target's RTG |
# | target choice | argmax similarity | a random eligible candidate | the code's |
# | inverse dynamics | separate model | trained jointly with the diffusion model | trained alone, with its own curve |
# | reward model | MLP f(s, a) | the dynamics ensemble's reward head | MLP f(s, a) (the paper's) |
# | dynamics prediction | - | one random elite per call | the elites' mean (deterministic) |
# | dynamics model training | - | early stopping on 10% holdout | fixed `model_steps`; elites by held-out MSE |
# | training windows | - | padded past episode ends | inside episodes only |
# | actions | - | CDF-normalized | raw (already in [-1, 1]) |
# | return guidance | - | [classifier-free guidance](GLOSSARY.md#cfg) w = 1.2 on a fixed `test_ret` | optional (`return_guidance=1.2`), off by default |
# | augmented data for TD3+BC/IQL | whole trajectories | bridge transitions only | bridge transitions (DT gets whole trajectories) |
# | sizes at `lab` | H=100, U-Net 128×(1,4,8), 1M steps | same | H=64, U-Net 32×(1,2,4), 2.5k steps: CPU-sized (`full` = paper's) |
# | maze | not in the paper | - | δ and the similarity threshold are the kit's choice for 2-D positions (see `SETTINGS`) |
#
# Scores in sections 8 and 9 are at `lab`: a whole-episode subsample of the kit's D4RL-recipe medium-replay (notebook 01)
# and minutes of training, so they are not the paper's numbers. The ones to put beside Table 1 are the campaigns' in
# section 8, with every setting that still differs printed above them.

# %% [markdown]
# ## Summary
#
# **What to remember.**
# 1. DiffStitch has four modules: step estimation (imagine the future from the source's last state and pick how
#    many steps Δ the bridge needs), state stitching (inpaint Δ states between source and target), wrap-up (inverse
#    dynamics for the actions, a reward model for the rewards) and qualification (keep the bridge only if a
#    dynamics model predicts every step within δ).
# 2. The diffusion model never sees actions: it generates states, and the actions come afterwards.
# 3. Qualification is only as good as the learned dynamics model; the physics oracle shows how often it lets a bad
#    bridge through.
# 4. The question every stitching result must answer is "is the model needed?": the same pairs glued naively, same
#    data, same ratio (section 9's control), read with seeds and intervals.
#
# **Key equations** (the paper's Eq. 3-6, 9; $\mathcal{G}_\theta$ is the diffusion model, $f_\omega$ the dynamics model):
# $$\tau^m_s = \mathcal{G}_\theta(s_T, [\text{M}], \dots), \quad \Delta = \arg\max_i \operatorname{sim}(s^m_i, s'_1),
# \quad \tau^s_s = \mathcal{G}_\theta(s_T, \underbrace{[\text{M}], \dots}_{\Delta}, s'_1, \dots),$$
# $$\text{keep the bridge iff } \max_t \|f_\omega(s_t, a_t) - s_{t+1}\|^2 \le \delta, \qquad a_t = f_\psi(s_t, s_{t+1}).$$
#
# **Pseudocode** (the paper's Algorithm 1, Appendix A.1):
# ```text
# train G_θ (states only, masked windows), dynamics f_ω, inverse dynamics f_ψ, reward f_φ on D
# repeat N times:
#     sample a source τ and a target τ'
#     imagine τ^m from s_T;  Δ = argmax_i sim(s^m_i, s'_1)
#     inpaint Δ states between s_T and s'_1;  actions a_t = f_ψ(s_t, s_t+1), rewards r_t = f_φ(s_t, a_t)
#     if max_t ||f_ω(s_t, a_t) - s_t+1||^2 <= δ:  D_aug ← D_aug ∪ τ[:T] + bridge + τ'
# train the learner on D ∪ D_aug at ratio r
# ```
# **Read further.** DiffStitch, Section 4.1 (the four modules), 4.2 (the models), Table 1 (results), Figure 5
# (ablations, hopper), Tables 2-3 (ratio and δ, halfcheetah-medium-expert), Appendix A.1.

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** Qualification judges a bridge by its *worst* one-step model error. Predict first: do long
# bridges (a large Δ) pass the δ test as often as short ones, and which way should the worst of more steps push?
# Split section 5's hopper bridges (`results[HOPPER].bridges`, each with `.steps` and `.model_error`) at their
# median Δ, and store in `answer_1` the pair (fraction with `model_error <= cfg.delta` among the bridges with Δ
# below the median, the same fraction among the rest); `nan` for an empty half. Afterwards, in two sentences: what
# does the difference do to the lengths of the bridges the augmented dataset keeps, and would a per-step average
# instead of the worst step remove that bias or only hide bad steps?

# %%
answer_1 = None  # your code here

# %% tags=["solution"]
steps = np.array([b.steps for b in results[HOPPER].bridges])
passes = np.array([b.model_error <= cfg.delta for b in results[HOPPER].bridges])
short = steps < np.median(steps) if len(steps) else steps.astype(bool)
answer_1 = tuple(float(passes[half].mean()) if half.any() else float("nan") for half in (short, ~short))
print(f"median Δ {np.median(steps) if len(steps) else float('nan'):.0f}; pass rate short, long: {answer_1}")


# %%
def _pass_rates() -> list[float]:
    bridges = results[HOPPER].bridges
    cut = np.median([b.steps for b in bridges]) if bridges else 0.0
    halves = ([b for b in bridges if b.steps < cut], [b for b in bridges if b.steps >= cut])
    return [np.mean([b.model_error <= cfg.delta for b in h]) if h else float("nan") for h in halves]


check(
    "exercise 1",
    answer_1,
    satisfies=lambda pair: len(pair) == 2 and np.allclose(pair, _pass_rates(), equal_nan=True),
    hint="np.median of the steps; a bridge passes when model_error <= cfg.delta; mean of the passes in each half",
)

# %% [markdown]
# **Exercise 2.** Qualification keeps a bridge when its *largest* one-step model error is at most δ, trusting the
# learned model to stand in for the simulator. Where does that trust run out? Sweep δ over `DELTA_GRID` (δ/16 to
# 16 δ) on section 9's candidates (`unq_bridges`, with their oracle errors `unq_oracle`) and store in `answer_2` the
# median oracle error of the kept transitions at each δ (`nan` where none is kept). Before plotting it, predict
# its shape. Then, in two sentences: from which δ on does a looser threshold stop buying bridges as physical as the
# strict ones, and what does that say about the model's error as a stand-in for the simulator's?

# %%
DELTA_GRID = cfg.delta * 2.0 ** np.arange(-4, 5)
answer_2 = None  # your code here

# %% tags=["solution"]
answer_2 = []
for dl in DELTA_GRID:
    kept_err = [e for b, e in zip(unq_bridges, unq_oracle) if b.model_error <= dl]
    answer_2.append(float(np.median(np.concatenate(kept_err))) if kept_err else float("nan"))
plt.figure(figsize=(5, 3))
plt.semilogx(DELTA_GRID, answer_2, "o-")
plt.axvline(cfg.delta, color="k", ls=":", lw=1)
plt.xlabel("δ (model error threshold)")
plt.ylabel("median oracle error, kept")
plt.show()


# %%
def _kept_median(dl: float) -> float:
    kept = [e for b, e in zip(unq_bridges, unq_oracle) if b.model_error <= dl]
    return float(np.median(np.concatenate(kept))) if kept else float("nan")


check(
    "exercise 2",
    answer_2,
    satisfies=lambda a: (
        len(a) == len(DELTA_GRID) and np.allclose(a, [_kept_median(d) for d in DELTA_GRID], equal_nan=True)
    ),
    hint="for each δ keep the bridges whose model_error <= δ, pool their oracle errors, take the median",
)
