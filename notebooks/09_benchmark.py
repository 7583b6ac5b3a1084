# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 09 · The benchmark: DiffStitch's Table 1, and TELS's small-data table, on the kit's data
#
# **Learning objectives.** After this notebook you can
# 1. describe a benchmark as a grid of cells (dataset, augmenter, algorithm, seed), run it with `stitchkit bench`,
#    stop it, and resume it without redoing a finished cell;
# 2. read a Table-1-shaped table (mean ± std over seeds, best in bold, second underlined) and say what it cannot
#    show with three seeds;
# 3. use the interquartile mean with bootstrap confidence intervals and the probability of improvement (the
#    `rliable` way) to ask "does augmentation help?" honestly;
# 4. scale the same grid out with Ray (`--executor ray`);
# 5. tell "not shown at 3 seeds" from "smaller than the paper's": test the paper's difference against the
#    difference's interval, and count the seeds its size would need (`stats.seeds_needed`).
#
# **The full GPU benchmark cells.** At `full` (one GPU) the cells below run the whole grid - every augmenter
# (none, SER, TATU, DiffStitch, ASTRO) x TD3+BC, IQL, CQL, DT x 4 seeds on hopper and walker2d medium-replay and
# the maze - printing a time estimate first. At `lab` they run a reduced grid on the CPU, at `smoke` a tiny one.
# Every finished cell is a record under `data/results/<grid>/<profile>/`: the figures are drawn from the store, so a
# GPU run can be copied anywhere and re-plotted.

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
RUN = True  # False: only load and plot what the store already holds (e.g. a finished GPU run copied here)
EXECUTOR = "local"  # local | ray

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Code, Markdown, display

import stitchkit
from stitchkit import bench, parity, stats
from stitchkit.campaign import plots, readings
from stitchkit.data.normalizers import return_range_scale

P = stitchkit.get_profile(PROFILE)
GRID = bench.load_grid(P.name)  # stitchkit/grids/{smoke,lab,full}.toml
SMALL = bench.load_grid(f"smalldata-{P.name}")  # TELS's small-data table
for g in (GRID, SMALL):
    print(
        f"grid {g.name}: {len(g.datasets)} datasets x {len(g.augmenters)} augmenters x {len(g.algorithms)} "
        f"algorithms x {len(g.seeds)} seeds = {len(g.cells(P.name))} cells in {len(g.groups(P.name))} groups at {P.name}"
    )

# %% [markdown]
# ## 1. A grid, cells and records
#
# The grid is a small TOML file. A **group** - (dataset, augmenter, algorithm) - trains its seeds together in one
# batched model; each seed's result becomes one **record**, a JSON file written to a temporary name and renamed,
# with a checksum. Before anything runs, the bench checks which records are missing or invalid:

# %%
print((bench.GRIDS_DIR / f"{P.name}.toml").read_text())
display(Code(inspect.getsource(bench.read_record), language="python"))
display(Code(inspect.getsource(bench.pending_groups), language="python"))

# %% [markdown]
# ## 2. Run it (the GPU cell)
#
# First the estimate: each algorithm's batched update speed is probed for a second on this device, times the
# profile's steps, for every pending group. It leaves out augmentation (built once per dataset and augmenter,
# cached in `data/`) and evaluation, and runs already in the training cache (`data/runs/`) finish at once.
#
# **The GPU figures.** `benchmarks/gpu_check.py` is the one prepared script for a lent GPU: on one device, in
# about two minutes, it times every CUDA path at `full` sizes (learner updates for 1 and 8 batched seeds, eager
# and as one CUDA graph; DiffStitch's U-Net and stitching; SER, TATU, ASTRO and TELS models; evaluation) and
# prints one JSON line with the `full` grid's estimated wall time. Its first real run, on one **NVIDIA H200**
# (torch 2.11 + CUDA 13.0, 2026-11-28), is committed under `benchmarks/results/` and read by the next cell, which
# prints its figures. What to look for: whether batched seeds cost little more than one seed for the MLP learners
# (one CUDA graph for all seeds), whether the Decision Transformer is compute-bound (seeds cost what they weigh, a
# graph changes nothing), what TF32 matmuls (`torch.set_float32_matmul_precision("high")`, which the kit's
# `get_device` sets on a GPU) buy, and the whole `full` grid's estimated GPU-hours: a job for several GPUs
# (`--executor ray`), not a notebook run.

# %%
import json

from stitchkit.paths import project_root

gpu = json.loads((project_root() / "benchmarks/results/gpu_check_h200_repeat.json").read_text())
tf32 = json.loads((project_root() / "benchmarks/results/gpu_learners_h200_tf32.json").read_text())["learners"]
print(f"{gpu['device_name']}, torch {gpu['torch']}, matmul precision {gpu.get('matmul_precision', 'highest')}")
print(f"{'learner':8} {'eager 1':>8} {'graph 1':>8} {'graph 8':>8} {'8 vs 1':>7} {'graph 8, TF32':>14}")
for name, row in gpu["learners"].items():
    fast = tf32.get(name, {}).get("graph_8")
    print(
        f"{name:8} {row['eager_1']:8.0f} {row['graph_1']:8.0f} {row['graph_8']:8.0f} "
        f"{row['seed_cost_ratio_8_vs_1']:6.2f}x {f'{fast:.0f}' if fast else '-':>14}"
    )
est = gpu["estimate_full_grid"]
print(
    f"full grid ({est['groups']} groups): {est['total_hours']:.0f} GPU-hours = training {est['train_hours']:.0f} "
    f"+ evaluation {est['eval_hours']:.0f} + augmentation {est['augment_hours']:.0f}"
)

# %% [markdown]
# **Since that GPU run**, the four slow parts were changed and measured on a CPU, where they can be: the
# Decision Transformer's last block computes only the state tokens it is read at, in the fused attention layout,
# with bfloat16 autocast as an option (`--option bf16=true`); DiffStitch's U-Net trains in bfloat16 on request;
# evaluation reuses its environments and can step them in worker processes (`STITCHKIT_EVAL_WORKERS`). The next
# cell prints `benchmarks/full_speed.py`'s figures (before = the code the H200 ran, after = this one, in one run,
# one CPU thread each) and what the grid would take **if the H200 gained what the CPU gained**: a projection,
# not a measurement. A GPU measures it with `bash benchmarks/gpu_device.sh run` (see `benchmarks/README.md`).

# %%
speed_path = project_root() / "benchmarks/results/full_speed_cpu.json"
if speed_path.exists():
    speed = json.loads(speed_path.read_text())
    print(f"CPU, one thread, before = {speed['compare']}, median of {speed['rounds']} rounds (per second):")
    for name, row in speed["figures"].items():
        vs = f" (vs {row['before_of']})" if row["before_of"] != name else ""
        print(f"  {name + vs:<46} {row['before']:9.3g} -> {row['after']:9.3g}  {row['speedup']:5.2f}x")
    print(speed["projection"]["text"])
else:
    print("benchmarks/results/full_speed_cpu.json: not yet computed (benchmarks/full_speed.py --compare REF --out ...)")

# %%
for g in (GRID, SMALL):
    est = bench.estimate_seconds(g, P)
    pending = bench.pending_groups(g, P)
    print(
        f"{g.name}: {len(pending)} pending groups; training estimate "
        + ", ".join(f"{a} {s / 60:.0f} min" for a, s in est.items())
        + f"; total {sum(est.values()) / 3600:.1f} h"
    )

# %%
if RUN:
    for g in (GRID, SMALL):
        summary = bench.run(g, P, executor=EXECUTOR, processes=2)  # local: two groups at a time, one per core
        print(f"{g.name}: {summary['groups_run']} groups run in {summary['seconds']} s")

# %% [markdown]
# Interrupt the cell above (or kill the process) and run it again: finished groups are skipped, an interrupted
# group resumes from its training checkpoint, and a corrupt record is redone. `stitchkit bench lab` does the same
# from a terminal; `stitchkit bench lab --status` lists what is left; `stitchkit bench full --executor ray
# --address <cluster> --gpus-per-task 0.25` spreads groups over a Ray cluster whose workers share `data/`.

# %% [markdown]
# ## 3. The table

# %%
records = bench.load_records(GRID, P)
print(f"{len(records)} of {len(GRID.cells(P.name))} cells have a record")
display(
    Markdown(
        bench.table(GRID, records, profile=P) + f"\n\nLast evaluation, mean ± std over {len(GRID.seeds)} seeds "
        f"({P.name} profile); hopper/walker2d: the kit's normalized score (0 = the kit's random policy, 100 = its "
        "expert policy; notebook 01), not D4RL's; maze: success rate (%). "
        "Best of each row in bold, second underlined; '-' : skipped (see below) or not run."
    )
)
skipped = [r for r in records if r["result"]["status"] == "skipped"]
for r in {(r["cell"]["dataset"], r["cell"]["augmenter"], r["cell"]["algorithm"]): r for r in skipped}.values():
    c = r["cell"]
    print(f"skipped {c['algorithm']} on {c['dataset']} + {c['augmenter']}: {r['result']['reason'][:160]}")

# %% [markdown]
# **Another data source, for shape only.** The DiffStitch paper's Table 1 row for D4RL hopper-medium-replay-v2
# (mean ± std over 3 seeds). The kit's hopper medium-replay is its own, much shorter, replay buffer built with
# MuJoCo 3 / Gymnasium v5: the numbers are **not comparable**, only the layout is.

# %%
PAPER = {
    "iql": ["91.4 ± 8.1", "102.4 ± 0.5", "79.6 ± 7.6", "102.1 ± 0.4"],
    "td3bc": ["64.8 ± 19.2", "56.8 ± 9.9", "64.1 ± 10.5", "79.6 ± 13.5"],
}
display(
    Markdown(
        "| paper: D4RL hopper-medium-replay-v2 | none | ser | tatu | diffstitch |\n|---|---|---|---|---|\n"
        + "\n".join(f"| {a} | " + " | ".join(v) + " |" for a, v in PAPER.items())
    )
)

# %% [markdown]
# ## 4. Does augmentation help? IQM, intervals and the probability of improvement
#
# Three seeds per cell are too few for a standard deviation to mean much. Following Agarwal et al. (2021), pool
# the runs of every task (dataset x algorithm) and report the **interquartile mean** with a 95% **stratified
# bootstrap** interval, and the **probability of improvement** P(augmented > original): the chance that a run
# with the augmenter beats a run without it on the same task.

# %%
display(
    Code(inspect.getsource(stats.iqm) + "\n" + inspect.getsource(stats.probability_of_improvement), language="python")
)


# %%
def by_task(records, augmenter):
    out = {}
    for (d, a, algo), v in bench.scores(records).items():
        if a == augmenter:
            out[f"{d.removeprefix('stitchkit/')}/{algo}"] = np.array(v)
    return out


per_aug = {a: by_task(records, a) for a in GRID.augmenters}
fig, axes = plt.subplots(1, 2, figsize=(12, 3.5))
names = [a for a in GRID.augmenters if per_aug[a]]
ci = {a: stats.iqm_ci(per_aug[a], reps=1000) for a in names}
axes[0].bar(
    names,
    [ci[a][0] for a in names],
    yerr=np.array([[ci[a][0] - ci[a][1], ci[a][2] - ci[a][0]] for a in names]).T,
    color=[f"C{i}" for i in range(len(names))],
    capsize=4,
)
axes[0].set(title="IQM over all tasks and seeds (95% bootstrap CI)", ylabel="score")
others = [a for a in names if a != "none" and set(per_aug[a]) & set(per_aug.get("none", {}))]
poi = {a: stats.improvement_ci(per_aug[a], per_aug["none"], reps=1000) for a in others}
for i, a in enumerate(others):
    p, lo, hi = poi[a]
    axes[1].errorbar([p], [i], xerr=[[p - lo], [hi - p]], fmt="o", capsize=4, color=f"C{names.index(a)}")
axes[1].axvline(0.5, color="k", ls=":")
axes[1].set(
    yticks=range(len(others)),
    yticklabels=[f"P({a} > none)" for a in others],
    xlim=(0, 1),
    title="probability of improvement over the original data",
)
plt.tight_layout()
plt.show()
display(
    Markdown(
        "| augmenter | IQM [95% CI] | P(> none) [95% CI] |\n|---|---|---|\n"
        + "\n".join(
            f"| {a} | {ci[a][0]:.1f} [{ci[a][1]:.1f}, {ci[a][2]:.1f}] | "
            + (f"{poi[a][0]:.2f} [{poi[a][1]:.2f}, {poi[a][2]:.2f}]" if a in poi else "-")
            + " |"
            for a in names
        )
    )
)

# %% [markdown]
# Read P(X > none) with its interval: 0.5 means "as often better as worse". An interval that straddles 0.5 says the
# grid cannot tell the augmenter from no augmentation; one wholly above (below) 0.5 says it helps (hurts) on these
# tasks. Pooling tasks with different score scales (a normalized score and a success rate) is what makes IQM a
# summary of *this* grid, not a universal ranking.

# %% [markdown]
# ## 5. Score curves
#
# Every record keeps its evaluation curve: mean over seeds per augmenter, one panel per task.

# %%
tasks = [(d, algo) for d in GRID.datasets for algo in GRID.algorithms]
fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3), squeeze=False)
for ax, (d, algo) in zip(axes[0], tasks):
    for i, a in enumerate(GRID.augmenters):
        curves = [
            r["result"]["curve"]
            for r in records
            if r["result"]["status"] == "done"
            and (r["cell"]["dataset"], r["cell"]["augmenter"], r["cell"]["algorithm"]) == (d, a, algo)
        ]
        if curves:
            steps = [s for s, _ in curves[0]]
            ax.plot(steps, np.mean([[v for _, v in c] for c in curves], 0), label=a, color=f"C{i}")
    ax.set(title=f"{d.split('/')[1]} · {algo}", xlabel="gradient step")
axes[0][0].legend(fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 5b. At a longer CPU budget: the campaign's records
#
# Everything above stops where a laptop's minutes do, and there the learners are still climbing and no augmenter
# beats the spread between seeds. DiffStitch's Table 1 trains for 1M updates on a GPU. The kit's **campaigns**
# (`make campaign`, `stitchkit/campaign/`) run the same rows - hopper and walker2d medium-replay, augmenters none /
# DiffStitch / SER / TATU, TD3+BC and IQL, 3 seeds - at 300k updates each with the papers' 256-256 networks, one
# single-seed run at a time on a CPU core, over many sessions. Each finished run is a small JSON record committed
# under `results/<campaign>/`; this notebook only reads them (a run without a record shows as "not yet computed").
# The cells below print what the records say, so the reading is always the current one. The learners run with CORL's
# per-dataset settings, which the papers leave out: for IQL on hopper medium-replay a deterministic actor, a target
# rate of 0.001, and rewards scaled so that the dataset's returns span 1000 (below), since IQL weighs each action by
# exp(3 x advantage) and the scale sets how sharp those weights are. 300k updates on a CPU is a longer CPU budget,
# not the paper's: above each campaign's grid, a table sets every setting of the campaign beside the paper's and its
# released code's, and the list under it says why a null result there does not refute the paper.
#
# The current campaign, `campaign-d4rl`, runs on data recorded as D4RL recorded its own (a SAC agent's replay
# buffer, notebook 01), with the released code's return-guided DiffStitch:

# %%
CAMPAIGN = readings.load("campaign-d4rl")
campaign_records = readings.records(CAMPAIGN)
display(Code(inspect.getsource(return_range_scale), language="python"))
display(Code(inspect.getsource(stats.mean_ci), language="python"))
display(Markdown(readings.section(CAMPAIGN, campaign_records)))
plots.plot_forest(CAMPAIGN, campaign_records)
plt.tight_layout()
plt.show()
for d in CAMPAIGN.grid.datasets:
    plots.plot_curves(CAMPAIGN, campaign_records, d)
    plt.suptitle(f"{d.removeprefix('stitchkit/')} ({CAMPAIGN.name}): D4RL score per evaluation")
    plt.tight_layout()
    plt.show()

# %% [markdown]
# **The earlier campaign**, closed, has every arm: the same rows on the kit's earlier medium-replay data (rollouts
# of training checkpoints, 100k transitions, whose best episode lies below the paper's own baseline score) with a
# smaller, unguided DiffStitch. The analyses of the rest of this section read it, since they need both arms of a
# cell; the same functions read the current campaign as its records land. Its settings, reasons and grid:

# %%
EARLIER = readings.load("campaign")
earlier_records = readings.records(EARLIER)
display(Markdown(readings.section(EARLIER, earlier_records)))
plots.plot_forest(EARLIER, earlier_records)
plt.tight_layout()
plt.show()

# %%
for d in EARLIER.grid.datasets:
    plots.plot_curves(EARLIER, earlier_records, d)
    plt.suptitle(
        f"{d.removeprefix('stitchkit/')}: D4RL score per evaluation, mean over seeds, band = min to max, "
        "thin = one seed; dotted: the data's own best episode and best tenth"
    )
    plt.tight_layout()
    plt.show()

# %% [markdown]
# **When a critic diverges.** An offline learner's critic is trained on its own bootstrapped targets, and nothing in
# the data corrects it where the data is thin: its values can grow without bound, and the policy that climbs them
# falls over. A run like that scores near zero, and that score is about the learner's stability on this data, not
# about what the data teaches. The campaign keeps every run's losses, one batch's at each evaluation, and flags a run
# whose temporal-difference loss rises past `DIVERGED` times its early median (`readings.diverged`); the tables
# above count flagged seeds beside each cell and keep their scores in the means, as the papers report every seed.

# %%
display(Code(inspect.getsource(readings.diverged), language="python"))
display(Markdown("**Flagged runs:**\n\n" + readings.divergence_notes(earlier_records)))
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
for ax, algo in zip(axes, EARLIER.grid.algorithms):
    for r in earlier_records:
        td = readings.td_loss(r["result"])
        if r["cell"]["algorithm"] != algo or td is None:
            continue
        key, loss, _ = td
        bad = readings.diverged(r["result"])
        ax.semilogy(
            r["result"]["curve"]["step"], loss, color="tab:red" if bad else "0.6", lw=2 if bad else 1, alpha=0.8
        )
        ax.set_title(f"{algo}: {key} per evaluation (red: diverged)")
    ax.set_xlabel("updates")
axes[0].set_ylabel("loss (one batch)")
plt.tight_layout()
plt.show()

# %% [markdown]
# **Why the walker's TD3+BC diverged.** Two of its three seeds blew up on the kit's earlier walker2d data. To see why,
# `benchmarks/walker_divergence.py` rebuilt those data exactly (by the commit that made them, checked by their
# fingerprint) and trained TD3+BC on them again, reading the critic every 5,000 updates on 10,000 of the data's own
# states: Q at the data's actions against Q at the actor's, and the largest value against the most any policy could
# earn there. The paragraph below is generated from that measurement (`results/parity/divergence.json`).

# %%
display(Code(inspect.getsource(parity.divergence_reading), language="python"))
display(Markdown(parity.divergence_reading()))
found = parity.divergence()
if found:
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for key, e in sorted(found.items()):
        steps = [r["step"] for r in e["rows"]]
        ax.semilogy(steps, [max(r["q_policy"], 1e-3) for r in e["rows"]], label=f"{key}: Q(s, π(s))")
        ax.semilogy(steps, [max(r["q_data"], 1e-3) for r in e["rows"]], ls="--", label=f"{key}: Q(s, a), data's a")
        ax.axhline(e["return_bound"], color="k", lw=0.8, ls=":")
    ax.set(xlabel="updates", ylabel="mean critic value", title="dotted: the most any policy can earn")
    ax.legend(fontsize=8)
    plt.tight_layout()
    plt.show()

# %% [markdown]
# **What the data itself holds.** A learner's score means most beside what its data could teach by imitation alone.
# The table below, written by the campaign's runner from the very datasets the records trained on (the fingerprint
# ties them), gives each dataset's episodes in D4RL units: its best episode, the mean of its best tenth (what
# "10%-BC" copies) and the mean of all. A learner above the best tenth's mean is doing more than copying the data's
# best episodes. The paper's numbers were made on D4RL's buffers, not these: where a paper's score lies far above this
# data's best episode, read it as the direction to test, not a level these episodes could be copied to.

# %%
display(Code(inspect.getsource(readings.data_summary), language="python"))
display(Markdown(readings.data_table(EARLIER)))

# %% [markdown]
# **Seed by seed: who climbs past the data?** A mean over 3 seeds can hide how it came about: two seeds far above
# the data's best episode and one stuck near its best tenth give a middling mean with a wide interval, and so do
# three middling seeds. The thin lines in the curves above show which; the table counts it, per arm, with every
# seed's value (its D4RL score averaged over its last evaluations, the steadier reading).

# %%
display(Code(inspect.getsource(readings.past_the_data), language="python"))
display(
    Markdown(
        f"Each seed: D4RL score averaged over its last {readings.TAIL} evaluations.\n\n"
        + readings.past_the_data(EARLIER, earlier_records)
    )
)

# %% [markdown]
# **Reading, generated from the records.** For each augmenter against the original data: both intervals, the
# difference with its own 95% interval (Welch's: the two arms' spreads need not match) beside the paper's, and the
# verdict from that interval: it excludes 0 (the direction shows at this many seeds) or spans 0 (it cannot be told
# from seed spread). Why not just ask whether the two intervals overlap? Two intervals can overlap while their
# difference's interval excludes 0, so overlap alone under-reads an effect (the test shows such a case). The
# function is below. An interval that spans 0 says "not shown", not "no effect": so each line also asks whether
# the paper's own difference lies inside the interval (the kit's runs are consistent with the paper's effect size)
# or outside it (the lift, or the fall, here is smaller or larger than the paper's, even though 3 seeds cannot show its
# sign). The earlier campaign's datasets are the kit's own checkpoint rollouts (MuJoCo 3, Gymnasium v5, 100k
# transitions), not D4RL's, and its runs stop short of the paper's 1M updates (the banner above prints how many), so the paper's numbers give the
# direction and size to test, not a level to hit.

# %%
display(Code(inspect.getsource(stats.difference_ci), language="python"))
display(Markdown(readings.readings_of(EARLIER, earlier_records, ("diffstitch", "ser", "tatu"))))

# %% [markdown]
# **Could 3 seeds have shown the paper's lift at all?** Turn the question round
# ([seeds needed](GLOSSARY.md#seeds-needed)): at the spread the seeds have so far, how many seeds per arm would the
# paper's difference need to show (its interval excluding 0 in 4 campaigns of 5)? Where the answer is about 3, a
# lift of the paper's size would likely have shown, so its absence says the effect here is smaller. Where it is
# dozens, the learner's seed-to-seed spread hides any lift of that size, and only many more seeds (or a steadier
# learner) could tell. A spread read off 3 seeds is itself rough, so read the answer as an order of magnitude.
# Averaged over each run's last evaluations, as the steadier metric:

# %%
display(Code(inspect.getsource(stats.seeds_needed), language="python"))
display(Markdown(readings.seeds_table(EARLIER, earlier_records, "d4rl_tail")))

# %% [markdown]
# ## 6. TELS's small-data table
#
# TELS's claim is about *small* datasets: 10k transitions (whole trajectories) of hopper medium-expert, walker2d
# medium-replay and the maze, for TELS, POR, IQL and TD3+BC (notebook 07 explains each).

# %%
small = bench.load_records(SMALL, P)
display(Markdown(bench.table(SMALL, small) + f"\n\nMean ± std over {len(SMALL.seeds)} seeds, last evaluation."))

# %% [markdown]
# ### Reading the result, generated from the records

# %%
sc_lab = bench.scores(records)
lines = []
for d in GRID.datasets:
    for algo in GRID.algorithms:
        base = sc_lab.get((d, "none", algo))
        if not base:
            continue
        others_d = [(a, sc_lab[(d, a, algo)]) for a in GRID.augmenters if a != "none" and (d, a, algo) in sc_lab]
        beyond = [
            a
            for a, v in others_d
            if abs(np.mean(v) - np.mean(base)) > max(np.std(v), np.std(base))  # apart by more than either's spread
        ]
        lines.append(
            f"- **{d.removeprefix('stitchkit/')}, {algo}**: none {np.mean(base):.1f} ± {np.std(base):.1f}; "
            + ", ".join(f"{a} {np.mean(v):.1f} ± {np.std(v):.1f}" for a, v in others_d)
            + (f"; beyond the seeds' spread: {', '.join(beyond)}" if beyond else "; none beyond the seeds' spread")
        )
if poi:
    wholly = [a for a in poi if poi[a][1] > 0.5]
    lines.append(
        "- **P(improvement)**, pooled over the tasks: "
        + ", ".join(f"P({a} > none) = {poi[a][0]:.2f} [{poi[a][1]:.2f}, {poi[a][2]:.2f}]" for a in poi)
        + (f"; wholly above 0.5: {', '.join(wholly)}" if wholly else "; no interval wholly above 0.5")
    )
sc_small = bench.scores(small)
for d in SMALL.datasets:
    row = {a: sc_small[(d, aug, a)] for aug in SMALL.augmenters for a in SMALL.algorithms if (d, aug, a) in sc_small}
    if row:
        lines.append(
            f"- **small data, {d.removeprefix('stitchkit/')}**: "
            + ", ".join(f"{a} {np.mean(v):.1f} ± {np.std(v):.1f}" for a, v in row.items())
        )
display(Markdown("\n".join(lines) or "no records yet at this profile"))

# %% [markdown]
# **The maze's GCBC row and notebook 02.** The row repeats notebook 02's lesson with this grid's seeds (0-2) where
# notebook 02 trains five (0-4) with the same learner, steps, network and chains (DiffStitch-bridged): each seed is
# scored on 25 long-task episodes, so a 3-seed mean can sit several points from the 5-seed one. Notebook 02's
# intervals are the lesson's reference; this row places it beside the other augmenters.
#
# How to read it. Pooling tasks with different scales (normalized scores, success rates) makes IQM a summary of
# this grid only. The maze's goal-conditioned row is where stitching shows at `lab` (notebook 02 explains why);
# on locomotion a `lab` run's few thousand updates leave the learners short of the paper's 1M, which the campaign
# below addresses. Run after notebooks 01-08, most groups' training is already in the cache, so the notebook mostly
# reads; on an empty cache its own estimate (printed in section 2) is the training it will do.

# %% [markdown]
# ### TELS's row at the campaign's budget
#
# The same small-data comparison at 300k updates with 256-256 networks and a 50k-step TS-IDM (the campaign file
# `stitchkit/grids/campaign-tels.toml`, run by `make campaign` after DiffStitch's rows), beside the TELS paper's
# means (5 seeds, D4RL's hopper-medium-expert). Read from the committed records:

# %%
TELS_CAMPAIGN = readings.load("campaign-tels")
tels_records = readings.records(TELS_CAMPAIGN)
display(Markdown(readings.banner(TELS_CAMPAIGN, tels_records)))
display(Markdown("At the last evaluation:\n\n" + readings.table(TELS_CAMPAIGN, tels_records, "d4rl_last")))
display(
    Markdown(
        f"Averaged over each run's last {readings.TAIL} evaluations:\n\n"
        + readings.table(TELS_CAMPAIGN, tels_records, "d4rl_tail")
    )
)
display(Markdown(readings.reading_learners(TELS_CAMPAIGN, tels_records, "tels")))

# %% [markdown]
# ## Summary
#
# **What to remember.**
# 1. A benchmark is a grid of cells (dataset, augmenter, algorithm, seed); each finished cell is a record, so a run
#    can stop and resume without redoing anything.
# 2. A Table-1-shaped table (mean ± std over three seeds, best in bold) cannot say whether two arms differ; use
#    intervals.
# 3. The interquartile mean with a stratified bootstrap interval, and the probability of improvement, ask "does
#    augmentation help?" with the uncertainty in view.
# 4. The campaigns' committed records carry a longer CPU budget's comparison (300k updates, smaller generators) that
#    no notebook can run in minutes; above each grid, a table lists every setting that differs from the paper.
# 5. "Not shown" is not "no effect": ask whether the paper's difference lies inside the difference's interval, and
#    how many seeds its size would need at the spread the seeds have (`stats.seeds_needed`).
#
# **Key equations.**
# $$\operatorname{IQM}(x) = \operatorname{mean}\{x_{(i)} : \lfloor n/4 \rfloor < i \le n - \lfloor n/4 \rfloor\}, \qquad
# P(X > Y) = \frac{1}{mn}\sum_{i,j}\Big(\mathbb{1}[x_i > y_j] + \tfrac{1}{2}\mathbb{1}[x_i = y_j]\Big),$$
# $$n_{\text{seeds per arm}} = \Big\lceil (z_{0.975} + z_{0.80})^2 \, \frac{s_x^2 + s_y^2}{\delta^2} \Big\rceil
# \quad \text{(a difference } \delta \text{ shows in 4 campaigns of 5).}$$
#
# **Pseudocode: the grid runner.**
# ```text
# for each group (dataset, augmenter, algorithm) with a missing seed:
#     build the augmented data if missing (cached)
#     train the missing seeds as one batched run, checkpointing
#     write one record per seed (atomically); a corrupt record is redone
# tables and figures read only the records
# ```
# **Read further.** Agarwal et al., *Deep RL at the Edge of the Statistical Precipice* (NeurIPS 2021), Sections 4-5;
# DiffStitch, Table 1; TELS's small-data table.

# %% [markdown]
# ## Exercises
#
# **1.** Four runs score [10, 20, 30, 1000]. What is their interquartile mean?

# %%
answer_1 = None  # your answer: a number

# %% tags=["solution"]
answer_1 = 25.0  # drop the lowest and highest quarter (10 and 1000): mean of 20 and 30

# %%
from stitchkit.exercises import check

check("exercise 1", answer_1, stats.iqm([10, 20, 30, 1000]), "sort, drop a quarter at each end, average the rest")

# %% [markdown]
# **2.** On one task, method X's seeds scored [3, 5] and method Y's [4, 4]. What is P(X > Y)?

# %%
answer_2 = None  # your answer: a number in [0, 1]

# %% tags=["solution"]
answer_2 = 0.5  # pairs (3,4): X loses, (3,4): loses, (5,4): wins, (5,4): wins -> 2 of 4

# %%
check(
    "exercise 2",
    answer_2,
    stats.probability_of_improvement({"t": [3, 5]}, {"t": [4, 4]}),
    "count the (x, y) pairs where x > y, ties as one half, and divide by the number of pairs",
)

# %% [markdown]
# **3.** The paper reports DiffStitch lifting TD3+BC on hopper medium-replay by +14.8 (Table 1). With the spread
# the earlier campaign's records measured (`readings.scores(earlier_records, "d4rl_tail")`, its cells
# `(HOPPER_MR, "td3bc", "diffstitch")` and `(HOPPER_MR, "td3bc", "none")`), how many seeds per arm would that lift
# need to show in 4 campaigns of 5? Store the number in `answer_3`. Then, in two sentences: the campaign ran 3 seeds,
# so what does its "not shown" say about DiffStitch, and what does it not say?

# %%
HOPPER_MR = "stitchkit/hopper/medium-replay-v0"
answer_3 = None  # your answer: an integer

# %% tags=["solution"]
tail = readings.scores(earlier_records, "d4rl_tail")
answer_3 = stats.seeds_needed(tail[(HOPPER_MR, "td3bc", "diffstitch")], tail[(HOPPER_MR, "td3bc", "none")], 14.8)
print(f"{answer_3} seeds per arm; the campaign ran {len(tail[(HOPPER_MR, 'td3bc', 'none')])}")

# %%
check(
    "exercise 3",
    answer_3,
    stats.seeds_needed(
        readings.scores(earlier_records, "d4rl_tail")[(HOPPER_MR, "td3bc", "diffstitch")],
        readings.scores(earlier_records, "d4rl_tail")[(HOPPER_MR, "td3bc", "none")],
        14.8,
    ),
    "stats.seeds_needed(diffstitch's scores, the original data's scores, 14.8)",
)

# %% [markdown]
# **4.** Both arms' seeds scored [0, 10, 20] (standard deviation 10). How many seeds per arm would a true lift of
# +10 need to show in 4 campaigns of 5? Use the formula in `stats.seeds_needed`'s source above.

# %%
answer_4 = None  # your answer: an integer

# %% tags=["solution"]
answer_4 = 16  # (1.96 + 0.84)^2 x (10^2 + 10^2) / 10^2 = 15.7, rounded up

# %%
check(
    "exercise 4",
    answer_4,
    stats.seeds_needed([0, 10, 20], [0, 10, 20], 10.0),
    "(z_0.975 + z_0.80)^2 times the sum of the two variances, over the effect squared, rounded up",
)
