"""The campaign: the long runs (parity with CORL, DiffStitch's Table 1, TELS) at a longer CPU budget, one run at a
time, records committed.

Why: a learner on hopper is still climbing at the 10k-50k updates a notebook can afford, and there no augmenter
beats the spread between seeds, so a notebook alone cannot say whether stitched data helps. The papers train for
1M updates on a GPU. A GPU is rarely lent here, so the budget comes from many hours of CPU time spread over many
sessions on machines that may be replaced by a fresh clone at any moment. The campaign therefore:

* runs **one (dataset, augmenter, learner, seed) cell at a time**, a single-seed :func:`stitchkit.train.run` of
  ~300k updates (well under two hours on one core), two cells side by side on a 2-core machine;
* writes each finished cell as a **small JSON record** under ``results/<campaign>/`` in the checkout (not in
  ``data/``): its curve, final and best score (kit and D4RL-normalised), the exact spec it ran with, the commit,
  machine and wall time, and a checksum; with ``commit=True`` each record is committed as it lands;
* on start, **skips every cell whose record is present, valid and current** (its spec equals what the campaign
  asks for now), so a fresh clone picks up the next unfinished cell, and a changed setting reruns only what it
  touches;
* builds each augmented dataset once per machine, with the campaign's generator sizes (``[sizes]`` over the
  base profile's), under its own id tag, and keeps one build record per (dataset, augmenter) so that rebuilds on
  other machines can be checked to give the same data (the dataset's content fingerprint).

The campaign file (``stitchkit/grids/campaign.toml``, ``campaign-smoke.toml`` for CI) is a benchmark grid
(:mod:`stitchkit.bench`) plus ``profile`` (the base: its datasets and the sizes not replaced), ``[train]`` (steps,
evaluation, the learners' widths), ``[sizes.<section>]`` (generator sizes) and ``[paper]`` (the published
numbers the table prints beside the kit's). ``make campaign`` runs it; notebooks 05, 08 and 09 read the records
with :func:`~stitchkit.campaign.records.records`, and a missing record shows as "not yet computed".

The package, one job per module: :mod:`~stitchkit.campaign.records` (the campaign file, its cells and specs, the
records, build histories and data summaries it stores), :mod:`~stitchkit.campaign.running` (building and training
cells through :mod:`stitchkit.runner`'s executors, on this machine or a Ray cluster, within a time budget, committing
as records land), :mod:`~stitchkit.campaign.readings` (tables, statistics, readings and plots: all a notebook
imports) and :mod:`~stitchkit.campaign.attribution` (two campaigns that differ in one setting, read together).
"""
