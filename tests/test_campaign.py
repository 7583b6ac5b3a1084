"""The campaign (the long runs at a longer CPU budget): its smoke file end to end, resuming, stale and tampered
records, reproducing a record from its spec, and the committed records of the real campaign."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import subprocess_env

from stitchkit import stats
from stitchkit.bench import GRIDS_DIR, BenchError, Cell
from stitchkit.campaign import attribution, plots, readings, records, running
from stitchkit.profiles import ProfileError, get_profile, with_sizes

SMOKE = "campaign-smoke"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The smoke campaign run once, from nothing (a private data folder: every dataset built here), into a
    private records folder, with two workers as ``make campaign``."""
    folder, data = tmp_path_factory.mktemp("campaign"), tmp_path_factory.mktemp("data")
    c = records.load(SMOKE)
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STITCHKIT_DATA", str(data))
        mp.setenv("MINARI_DATASETS_PATH", str(data / "minari"))
        out = running.run(c, folder, workers=2, log=lines.append)
        yield c, folder, out, lines


def test_the_smoke_campaign_writes_a_record_per_cell_and_a_progress_page(smoke_run):
    c, folder, out, _ = smoke_run
    recs = records.records(c, folder)
    # smoke's untrained diffusion model bridges into states hopper calls terminal: that build fails, its cells stay
    # pending, and every other cell still runs
    assert list(out["failed"]) == [("stitchkit/hopper/medium-replay-v0", "diffstitch")]
    done = {(r["cell"]["augmenter"], r["cell"]["algorithm"]) for r in recs}
    assert done == {(a, algo) for a in ("none", "ser", "tatu") for algo in ("td3bc", "iql")}
    assert [x.augmenter for x in records.pending(c, folder)] == ["diffstitch", "diffstitch"]
    rec = recs[0]
    steps = rec["result"]["curve"]["step"]
    assert steps == list(range(c.train["eval_every"], c.train["steps"] + 1, c.train["eval_every"]))
    assert rec["result"]["score_best"] == max(rec["result"]["curve"]["score"])
    td3bc = next(r for r in recs if r["cell"]["algorithm"] == "td3bc")["result"]
    assert len(td3bc["curve"]["critic_loss"]) == len(steps) and readings.diverged(td3bc) in (True, False)
    assert {"commit", "machine", "wall_seconds", "finished", "reproduce"} <= set(rec["provenance"])
    assert rec["spec"]["learner_options"]["hidden"] == [32, 32] and rec["spec"]["steps"] == 200
    readme = (folder / "README.md").read_text()
    assert "**6 of 8 runs done**" in readme and "not yet computed" in readme
    built = json.loads((folder / "builds" / "hopper-medium-replay-ser.json").read_text())
    assert built[0]["id"].endswith("-ser-campaign-v0") and built[0]["fingerprint"]
    # the CPU hours count a build's CPU time (a build waiting for its core costs wall time, not CPU), at most its wall
    assert 0 < built[0]["cpu_seconds"] <= built[0]["seconds"] + 1
    # what the build bought: the physics oracle on a sample of its generated transitions (SER's are synthetic and
    # off the simulator's manifold, so far from numerical precision)
    oracle = built[0]["oracle"]
    assert 0 < oracle["n"] <= min(running.ORACLE_SAMPLE, oracle["of"]) and oracle["p90"] >= oracle["median"] > 1e-3
    # and the size of its actions beside the data's (SER samples whole transitions from the data's distribution)
    acts = built[0]["actions"]
    assert acts["n"] == built[0]["summary"]["accepted_transitions"] and 0 < acts["mean_abs"] <= 1
    assert 0 < acts["data_mean_abs"] <= 1
    # and the reward per step beside the data's: the parent's own mean reward, recomputed here
    from stitchkit.data import registry

    parent = registry.load_episodes("stitchkit/hopper/medium-replay-v0", c.profile(), log=lambda *_: None)
    assert acts["data_reward"] == round(float(np.concatenate([ep.rewards for ep in parent]).mean()), 4)
    assert np.isfinite(acts["reward"])
    builds = [b for path in (folder / "builds").glob("*.json") for b in json.loads(path.read_text())]
    assert readings.progress(c, folder)["build_cpu_hours"] == round(sum(b["cpu_seconds"] for b in builds) / 3600, 2)
    # the data's own episodes, written by the runner beside the records and shown in the README
    data = json.loads((folder / records.DATA_FILE).read_text())
    hopper = data["stitchkit/hopper/medium-replay-v0"]
    assert hopper["fingerprint"] == registry.fingerprint("stitchkit/hopper/medium-replay-v0")
    assert hopper["d4rl_best"] >= hopper["d4rl_top"] >= hopper["d4rl_mean"] and hopper["episodes"] > 0
    assert f"| hopper-medium-replay | {hopper['episodes']:,} |" in readme


def test_the_oracle_sample_reads_the_simulators_own_transitions_at_numerical_precision(tmp_path):
    """A known answer: the parent's own episodes (every step counts as generated outside a stitched episode) are the
    simulator's, so the oracle's error is at float32 rounding; a seeded sample of 50 is the same sample twice."""
    from stitchkit.data import registry

    eps = registry.load_episodes("stitchkit/hopper/medium-replay-v0", "smoke", build_missing=True, log=lambda *_: None)
    first = running.oracle_sample("hopper", eps, n=50)
    assert first == running.oracle_sample("hopper", eps, n=50)
    assert first["n"] == 50 and first["of"] == sum(len(ep) for ep in eps) and first["median"] < 1e-4


def test_a_rerun_resumes_with_nothing_to_redo_but_the_failed_build(smoke_run):
    c, folder, _, _ = smoke_run
    before = {p: p.read_text() for p in folder.rglob("*-s0.json")}
    out = running.run(c, folder, workers=1, only="hopper-medium-replay/none,hopper-medium-replay/ser", log=print)
    assert out["runs"] == 0 and out["builds"] == 0
    assert {p: p.read_text() for p in folder.rglob("*-s0.json")} == before


def test_a_cell_whose_record_another_runner_wrote_meanwhile_is_skipped(smoke_run, tmp_path):
    """Two runners on one folder fix their lists at start: a record that lands from the other runner before this
    one reaches the cell is not trained again (a repeat once cost an hour of one core)."""
    c, folder, _, _ = smoke_run
    cell = next(x for x in c.cells() if (x.augmenter, x.algorithm) == ("none", "td3bc"))
    lines: list[str] = []

    def log(line: str) -> None:  # the other runner's record lands just after this one has listed its work
        lines.append(line)
        if "to run now" in line:
            target = records.record_path(tmp_path, cell)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(records.record_path(folder, cell), target)

    out = running.run(c, tmp_path, workers=1, only="hopper-medium-replay/none/td3bc", log=log)
    assert "1 to run now" in lines[0] and out["runs"] == 0
    assert any(line.startswith("  skipping ") and "landed" in line for line in lines)
    assert records.pending(c, tmp_path) == [x for x in c.cells() if x != cell]


def test_carry_copies_the_trained_models_of_a_build_that_did_not_finish_once(smoke_run):
    """``stitchkit campaign carry``: smoke's DiffStitch build trained its models, then accepted nothing; its models
    are carried beside the records (SER and TATU declare no ``models_key``), and a second carry has nothing new."""
    c, folder, _, _ = smoke_run
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(running, "MODELS_COMMIT_BYTES", 2**30)  # smoke's models are about the repository's 2 MiB limit
        written = running.carry(c, folder, log=lambda *_: None)
    name = "hopper-medium-replay-diffstitch-models"
    assert written == [folder / "stages" / f"{name}.pt", folder / "stages" / f"{name}.json"]
    meta = json.loads(written[1].read_text())
    assert meta["bytes"] == written[0].stat().st_size and meta["key"].startswith("stitchkit__hopper__medium-replay")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(running, "MODELS_COMMIT_BYTES", 2**30)
        assert running.carry(c, folder, log=lambda *_: None) == []


def test_the_table_has_every_cell_with_the_papers_numbers_beside_it(smoke_run):
    c, folder, _, _ = smoke_run
    text = readings.table(c, records.records(c, folder), "d4rl_last")
    rows = [line for line in text.splitlines() if line.startswith("| hopper")]
    assert len(rows) == 2 and all(row.count("not yet computed") == 1 for row in rows)  # DiffStitch's column
    assert "paper 64.8 ± 19.2" in rows[0] and "paper 102.1 ± 0.4" in rows[1]


def test_a_tampered_or_stale_record_is_not_used(smoke_run, tmp_path):
    c, folder, _, _ = smoke_run
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    path = records.record_path(copy, Cell("stitchkit/hopper/medium-replay-v0", "none", "td3bc", 0))
    rec = json.loads(path.read_text())
    rec["result"]["score_last"] += 10  # an edited number: the checksum fails
    path.write_text(json.dumps(rec))
    assert records.read_record(path) is None
    assert Cell("stitchkit/hopper/medium-replay-v0", "none", "td3bc", 0) in records.pending(c, copy)
    longer = records.parse(GRIDS_DIR.joinpath(f"{SMOKE}.toml").read_text().replace("steps = 200", "steps = 300"))
    assert records.records(longer, copy) == [] and len(records.pending(longer, copy)) == 8  # other spec: stale
    assert len(records.records(longer, copy, current=False)) == 5  # still readable as what they were


def test_a_record_is_reproduced_from_its_spec_on_fresh_data(smoke_run, data_root):
    """Same seed, same machine: a fresh data folder (dataset rebuilt, nothing cached) gives the record's numbers."""
    c, folder, _, _ = smoke_run
    cell = Cell("stitchkit/hopper/medium-replay-v0", "none", "iql", 0)
    again = running.train_cell(c, cell)
    # the result holds no clock reading (the training time is provenance): the rerun's is the record's, exactly
    assert again["result"] == records.read_record(records.record_path(folder, cell))["result"]


def test_campaign_files_are_checked_before_any_work():
    base = GRIDS_DIR.joinpath(f"{SMOKE}.toml").read_text()
    with pytest.raises(BenchError, match=r"unknown \[train\] key.*accepted"):
        records.parse(base.replace("[train]", "[train]\nlr = 3"))
    with pytest.raises(BenchError, match=r"unknown stitch size.*diffusion_train_steps"):
        records.parse(base.replace("diffusion_train_steps = 40", "diffusion_steps_typo = 40"))
    with pytest.raises(BenchError, match="eval_every must be a positive integer"):
        records.parse(base.replace("eval_every = 100", "eval_every = 0"))
    with pytest.raises(BenchError, match="matches no cell"):
        running.run(records.parse(base), only="walker2d-medium-replay/none", log=print)


def test_with_sizes_replaces_only_what_it_names_and_keeps_the_name():
    from stitchkit.augment import diffstitch as ds

    lab = get_profile("lab")
    sizes = {"stitch": {"diffusion_train_steps": 7, "unet_mults": [1, 2]}, "train": {"steps": 9}}
    p = with_sizes(lab, sizes, [ds.SIZES])
    s = ds.SIZES.of(p)
    assert p.name == "lab" and s.diffusion_train_steps == 7 and s.unet_mults == (1, 2) and p.train.steps == 9
    assert s.horizon == ds.SIZES.of(lab).horizon and p.data == lab.data and ds.SIZES.of(lab).diffusion_train_steps > 7
    again = with_sizes(p, {"stitch": {"horizon": 32}}, [ds.SIZES])  # replacements add up
    assert (ds.SIZES.of(again).horizon, ds.SIZES.of(again).diffusion_train_steps) == (32, 7)
    with pytest.raises(ProfileError, match="unknown size section 'stich'; accepted: data, goals, stitch, tour, train"):
        with_sizes(lab, {"stich": {}}, [ds.SIZES])
    with pytest.raises(ProfileError, match=r"unknown stitch size\(s\) \['horizn'\]"):
        with_sizes(lab, {"stitch": {"horizn": 3}}, [ds.SIZES])


@pytest.mark.parametrize("name", ["campaign", "campaign-tels", "parity", "campaign-d4rl", "campaign-guidance"])
def test_the_committed_campaign_records_load_and_build_the_table(name):
    """results/<campaign>/ is what notebooks 05, 08 and 09 read: every committed record must pass its checksum and
    match the campaign's current spec (a settings change must rerun, not silently mix), and the table builds."""
    c = records.load(name)
    folder = records.results_folder(c)
    files = sorted(p for p in folder.glob("*/*/*.json"))
    for path in files:
        rec = records.read_record(path)
        assert rec is not None, f"{path}: unreadable or its checksum fails"
        assert records.record_path(folder, Cell(**rec["cell"])) == path
        assert rec["spec"] == records.spec(c, Cell(**rec["cell"])), f"{path}: made under other settings"
    recs = records.records(c)
    assert len(recs) == len(files)
    text = readings.table(c, recs, "d4rl_last")
    assert text.count("\n") == 1 + len(c.grid.datasets) * len(c.grid.algorithms)


def _fake(dataset, augmenter, algorithm, seed, value):
    return {
        "cell": {"dataset": dataset, "augmenter": augmenter, "algorithm": algorithm, "seed": seed},
        "result": {"d4rl_last": value, "curve": {"step": [1, 2], "d4rl_score": [0.0, value]}},
        "provenance": {"machine": {"device": "cpu"}},
    }


def test_the_guidance_pair_reads_guided_against_unguided_and_each_against_the_original_data():
    c = records.load("campaign-d4rl")
    hop = "stitchkit/hopper/medium-replay-v0"
    guided = [_fake(hop, "none", "td3bc", s, v) for s, v in enumerate([60.0, 61.0, 62.0])]
    guided += [_fake(hop, "diffstitch", "td3bc", s, v) for s, v in enumerate([80.0, 81.0, 82.0])]
    unguided = [_fake(hop, "diffstitch", "td3bc", s, v) for s, v in enumerate([60.0, 61.0, 62.0])]
    lines = attribution.guidance_pair(c, guided, unguided).splitlines()
    assert len(lines) == 3
    assert "guided vs unguided DiffStitch, td3bc on hopper-medium-replay**: guided 81.0" in lines[0]
    assert "difference +20.0 [+17.7, +22.3];" in lines[0] and "(paper " not in lines[0]
    assert "difference +20.0 [+17.7, +22.3] (paper +14.8)" in lines[1]  # campaign-d4rl's [paper]: 79.6 - 64.8
    assert "unguided vs the original data" in lines[2] and "difference +0.0 [-2.3, +2.3];" in lines[2]
    assert "not yet computed" in attribution.guidance_pair(c, guided, []).splitlines()[0]


def test_the_reading_judges_the_direction_by_the_difference_interval_and_compares_with_the_paper():
    c = records.load("campaign")
    hop = "stitchkit/hopper/medium-replay-v0"
    recs = [_fake(hop, "none", "td3bc", s, v) for s, v in enumerate([20.0, 21.0, 22.0])]
    recs += [_fake(hop, "diffstitch", "td3bc", s, v) for s, v in enumerate([40.0, 41.0, 42.0])]  # far above
    recs += [_fake(hop, "none", "iql", s, v) for s, v in enumerate([20.0, 30.0, 40.0])]
    recs += [_fake(hop, "diffstitch", "iql", s, v) for s, v in enumerate([25.0, 35.0, 45.0])]  # inside the spread
    text = readings.reading(c, recs, "diffstitch").splitlines()
    assert "td3bc on hopper-medium-replay**: diffstitch 41.0 [38.5, 43.5] vs original 21.0" in text[0]
    # Welch: se = sqrt(1/3 + 1/3), df = 4, t = 2.78: 20 +- 2.27, so the difference excludes 0
    assert "difference +20.0 [+17.7, +22.3] (paper +14.8)" in text[0]
    assert "excludes 0 (the two intervals are apart): the paper's direction holds" in text[0]
    # se = sqrt(100/3 + 100/3) = 8.16, df = 4: 5 +- 22.7 spans 0
    assert "difference +5.0 [-17.7, +27.7] (paper +10.7)" in text[1]
    assert "spans 0: at 3 seeds" in text[1] and "agrees" in text[1]
    # the paper's difference against the same interval: +14.8 below [+17.7, +22.3], +10.7 inside [-17.7, +27.7]
    assert text[0].endswith(
        "The paper's +14.8 lies outside the interval, below it: the lift here is larger than the paper's."
    )
    assert text[1].endswith("The paper's +10.7 lies inside the interval: consistent with its effect size.")
    # no lift, tightly measured: the interval spans 0 yet rules out the paper's size
    level = readings.compare("level", [20.0, 21.0, 22.0], [20.0, 21.0, 22.0], ("a", "b"), 14.8)
    assert "difference +0.0 [-2.3, +2.3]" in level and "spans 0" in level
    assert level.endswith(
        "lies outside the interval, above it: the lift here is smaller than the paper's, if there is one."
    )
    # a fall: TATU's IQL arm on hopper-mr, -47.5 [-80.1, -14.9] against the paper's -11.8, is a larger fall, not a
    # smaller effect; and an interval above a paper's fall is a smaller fall
    fall = readings.compare("fall", [30.0, 31.0, 32.0], [60.0, 61.0, 62.0], ("a", "b"), -11.8)
    assert "difference -30.0 [-32.3, -27.7]" in fall
    assert fall.endswith(
        "The paper's -11.8 lies outside the interval, above it: the fall here is larger than the paper's."
    )
    mild = readings.compare("mild", [59.0, 60.0, 61.0], [60.0, 61.0, 62.0], ("a", "b"), -11.8)
    assert mild.endswith("below it: the fall here is smaller than the paper's, if there is one.")
    assert "The paper's" not in readings.compare("no paper", [1.0, 2.0], [1.0, 2.0], ("a", "b"), None)
    # seeds per arm the paper's difference needs at these spreads: sd 1 and 1 -> 2; sd 10 and 10 at +10.7 -> 14
    seeds = readings.seeds_table(c, recs, "d4rl_last", augmenters=("diffstitch",)).splitlines()
    assert seeds[2] == "| hopper-medium-replay | td3bc | diffstitch | 1.0, 1.0 | +14.8 | 2 |"
    assert seeds[3] == "| hopper-medium-replay | iql | diffstitch | 10.0, 10.0 | +10.7 | 14 |"
    assert len(seeds) == 4  # walker2d has no records: no row
    assert all("not yet computed (0 seed(s)" in line for line in text[2:])  # walker2d: no records
    mean, low, high = stats.mean_ci([40.0, 41.0, 42.0])
    assert (mean, round(low, 2), round(high, 2)) == (41.0, 38.52, 43.48)  # t(2) = 4.30: 4.30 * 1 / sqrt(3)
    # overlapping intervals, yet a difference whose interval excludes 0: the case the separate intervals miss
    x, y = [10.0, 12.0, 14.0, 11.0, 13.0], [7.0, 9.0, 11.0, 8.0, 10.0]
    assert stats.mean_ci(x)[1] < stats.mean_ci(y)[2]
    diff, lo, hi = stats.difference_ci(x, y)
    assert diff == 3.0 and 0 < lo < hi  # se = 1, df = 8, t = 2.31: [0.69, 5.31]
    assert (round(lo, 2), round(hi, 2)) == (0.69, 5.31)
    assert stats.t975(2.5) == pytest.approx((4.30 + 3.18) / 2)
    axes = plots.plot_curves(c, recs, hop, augmenters=("none", "diffstitch", "ser"))
    assert "not yet computed: ser" in axes[0].texts[0].get_text()


def test_the_tail_metric_averages_the_last_evaluations_of_the_stored_curve():
    """IQL's last 10-episode evaluation swings by tens of points, so the table also reads the mean of the last
    TAIL evaluations, computed from the curve every record already holds (no record changes)."""
    hop = "stitchkit/hopper/medium-replay-v0"
    rec = _fake(hop, "none", "iql", 0, 90.0)
    rec["result"]["curve"] = {
        "step": [1, 2, 3, 4, 5, 6],
        "d4rl_score": [0.0, 0.0, 10.0, 20.0, 30.0, 90.0],
        "score": [1.0] * 6,
    }
    assert readings.TAIL == 4
    assert readings.metric_value(rec["result"], "d4rl_tail") == 37.5  # (10 + 20 + 30 + 90) / 4
    assert readings.metric_value(rec["result"], "d4rl_last") == 90.0  # the stored value, as before
    assert readings.metric_value(rec["result"], "score_tail") == 1.0
    assert readings.metric_value(rec["result"], "score_last") is None  # not in this record: skipped, not an error
    with pytest.raises(BenchError, match="unknown campaign metric 'd4rl_mean'; accepted: d4rl_last, d4rl_best"):
        readings.metric_value(rec["result"], "d4rl_mean")
    c = records.load("campaign")
    assert "| hopper-medium-replay | iql | 37.5 (n=1)<br>paper 91.4" in readings.table(c, [rec], "d4rl_tail")
    assert "last 4 evaluations" in readings.overview(c, [rec])


def test_a_build_whose_actions_are_smaller_than_the_datas_is_named_among_the_reasons():
    """The committed hopper-mr builds of campaign-d4rl (their ``actions`` added from the same data, fingerprint
    checked): DiffStitch's and TATU's generated actions are about two thirds of the data's mean |action|, SER's
    within 2% of it, so only the first two are listed (``benchmarks/generated_actions.py`` shows the oracle's error
    least at the stored actions, so the motion is gentler rather than mislabelled)."""
    c = records.load("campaign-d4rl")
    reasons = readings.why_not_refuted(c, [])
    diffstitch = "**diffstitch, action size on hopper-medium-replay**: its generated transitions' mean |action| is"
    assert f"{diffstitch} 0.317, the data's 0.466 (0.68 x)" in reasons
    assert "**tatu, action size on hopper-medium-replay**" in reasons and "ser, action size" not in reasons
    assert "mean \\|action\\| 0.317 (the data's 0.466)" in readings.versus_paper(c)  # escaped in a table cell
    # beside each, its TD3+BC arm from the records: DiffStitch's 3 + 3 seeds, the last evaluation
    full = readings.why_not_refuted(c, readings.records(c), metric="d4rl_last")
    assert (
        "0.68 x); a learner that clones each batch's actions (TD3+BC's policy loss) is pulled toward them (its TD3"
        in full
    )
    assert "arm: -13.9 [-84.6, +56.9] against the original data, D4RL-normalised score at the last evaluation)." in full


def test_the_guided_and_unguided_builds_are_read_side_by_side_with_their_volumes():
    """The committed hopper-mr builds: guidance is meant to raise the bridges' reward, and the guided row shows 3.229
    against the data's 2.774; the unguided build stopped at the 4,000-iteration cap with 1.39 x the data against the
    guided 2.00 x, so the page must say the arms differ in volume too, and by how much more often each unguided
    transition is drawn (2.00 / 1.39)."""
    out = attribution.guidance_builds(records.load("campaign-d4rl"), records.load("campaign-guidance"))
    rows = out.split("\n\n")[0].splitlines()
    assert len(rows) == 4 and rows[0].startswith("| dataset | build | generated | bridges accepted |")
    guided = "| hopper-medium-replay | guided (campaign-d4rl) | 740,401 (2.00 x the data) in 1,915 it. | 29% |"
    assert rows[2].startswith(guided) and rows[2].endswith("| 0.317 (the data's 0.466) | 3.229 (the data's 2.774) |")
    unguided = "| hopper-medium-replay | unguided (campaign-guidance) | 515,230 (1.39 x the data) in 4,000 it. | 10% |"
    assert rows[3].startswith(unguided)
    sentence = out.split("\n\n")[1]
    assert "the guided build added 2.00 x the data, the unguided 1.39 x; the unguided build is the smaller" in sentence
    assert "cap of 4,000 stitching iterations" in sentence and "drawn 1.44 x as often" in sentence


def test_a_run_whose_td_loss_blows_up_is_flagged_and_counted_beside_its_cell():
    """walker2d TD3+BC seed 0's critic loss went from ~40 to 6e9: its near-zero score says the learner was unstable
    on this data, so the table counts diverged seeds; a healthy run's loss swings within 10x and is not flagged."""
    hop = "stitchkit/hopper/medium-replay-v0"
    steps = list(range(1, 13))
    healthy = [5.7, 13.0, 11.0, 18.9, 9.3, 28.4, 12.7, 9.8, 15.4, 13.9, 23.6, 13.8]  # hopper TD3+BC seed 2's
    blown = [21.7, 25.9, 45.4, 35.4, 44.1, 145.0, 1.9e4, 8.3e5, 4.2e6, 4.7e7, 6.7e8, 6.4e9]  # walker2d's seed 0
    recs = []
    for seed, loss in enumerate([healthy, blown, healthy[:-1] + [float("nan")]]):
        rec = _fake(hop, "none", "td3bc", seed, 10.0)
        rec["result"]["curve"] = {"step": steps, "d4rl_score": [10.0] * 12, "critic_loss": loss}
        recs.append(rec)
    assert [readings.diverged(r["result"]) for r in recs] == [False, True, True]  # NaN counts as diverged
    assert readings.diverged(_fake(hop, "none", "iql", 0, 1.0)["result"]) is None  # no loss curve kept
    iql = _fake(hop, "none", "iql", 0, 1.0)
    iql["result"]["curve"] |= {"q_loss": [1.0, 101.0], "v_loss": [1.0, 1.0]}  # the first TD loss found: q_loss
    assert readings.diverged(iql["result"]) is True
    c = records.load("campaign")
    assert "| hopper-medium-replay | td3bc | 10.0 [10.0, 10.0] (n=3, 2 diverged)" in readings.table(c, recs)
    notes = readings.divergence_notes(recs + [_fake(hop, "none", "iql", 0, 1.0)])
    assert "`hopper-medium-replay/none/td3bc-s1`: critic_loss 25.9 early, 6.4e+09 at 12 updates" in notes
    assert "1 record(s) keep no loss curve" in notes and notes.count("\n- `") == 1


def test_the_command_reports_progress_and_refuses_an_unknown_cell(smoke_run, capsys):
    from stitchkit.cli import main

    _, folder, _, _ = smoke_run
    assert main(["campaign", "status", SMOKE, "--folder", str(folder), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out[SMOKE]["done"] == 6 and out[SMOKE]["planned"] == 8 and out[SMOKE]["pending"] == 2
    assert main(["campaign", "run", SMOKE, "--folder", str(folder), "--only", "walker2d-medium-replay"]) == 2
    assert "matches no cell of campaign-smoke" in capsys.readouterr().err


def test_seeds_trained_as_one_batched_run_give_one_record_each(smoke_run, tmp_path):
    """The GPU's way (``--group-seeds``): one seed-batched run, a record per seed. Member 0 of the batched run
    follows the single-seed run's path: the same numbers up to a batched matmul's rounding (why a record names the
    seeds it was trained with)."""
    _, folder, _, _ = smoke_run
    two = records.parse(GRIDS_DIR.joinpath(f"{SMOKE}.toml").read_text().replace("seeds = [0]", "seeds = [0, 1]"))
    out = running.run(two, tmp_path, workers=1, only="hopper-medium-replay/none/td3bc", group_seeds=True, log=print)
    assert out["runs"] == 2
    recs = {r["cell"]["seed"]: r for r in records.records(two, tmp_path)}
    assert recs[0]["provenance"]["trained_with_seeds"] == [0, 1] == recs[1]["provenance"]["trained_with_seeds"]
    single = records.read_record(records.record_path(folder, Cell(**recs[0]["cell"])))
    for key in ("score", "return"):
        assert np.allclose(recs[0]["result"]["curve"][key], single["result"]["curve"][key], rtol=1e-5, atol=1e-6)
    assert recs[1]["result"]["curve"] != recs[0]["result"]["curve"]


def test_a_runner_and_its_workers_import_the_code_it_started_with(tmp_path):
    """``stitchkit campaign run`` pins itself and its spawned workers to a snapshot of the package, so edits to the
    checkout during a run of hours never reach it (a late import of an edited module once failed a finished run);
    the workers still read and write the checkout's data and results."""
    script = """
from stitchkit import runner
from stitchkit.campaign import running
from stitchkit.paths import project_root
snap = running.snapshot_code()
import stitchkit.toy  # imported after the pin: from the snapshot
print(stitchkit.toy.__file__)
jobs = [runner.Job(i, eval, (x,)) for i, x in enumerate([
    "__import__('stitchkit.train').train.__file__", "str(__import__('stitchkit.paths').paths.project_root())"])]
got = {}
with runner.executor("local", 1, snapshot=snap) as ex:  # the campaign's executor: a spawned worker process
    runner.drive(ex, lambda: jobs.pop(0) if jobs else None, lambda job, out: got.__setitem__(job.key, out))
print(got[0]); print(got[1])
print(project_root())
"""
    env = subprocess_env(STITCHKIT_DATA=str(tmp_path), MINARI_DATASETS_PATH=str(tmp_path / "minari"))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    toy, worker_train, worker_root, root = out.stdout.split()
    snap = str(tmp_path / "code")
    assert toy.startswith(snap) and worker_train.startswith(snap)
    assert worker_root == root and not root.startswith(snap)
    copied = Path(toy).parent
    for name in ("runner.py", "campaign/running.py"):
        assert (copied / name).read_text() == (Path(root) / "stitchkit" / name).read_text()


def test_runs_archived_after_a_settings_change_still_count_their_cpu_hours(tmp_path):
    """A settings change makes records stale (their cells rerun); moved under results/archive/<name>/<why>/, they
    leave the table but the hours they cost stay in the campaign's CPU-hour total."""
    c = records.load("campaign")
    folder = tmp_path / "results" / "campaign"
    folder.mkdir(parents=True)
    archived = records.archive_folder(folder) / "iql-unscaled-rewards" / "hopper-medium-replay" / "none"
    archived.mkdir(parents=True)
    (archived / "iql-s0.json").write_text(json.dumps({"provenance": {"wall_seconds": 5400.0}}))
    p = readings.progress(c, folder)
    assert (p["done"], p["train_cpu_hours"], p["archived_cpu_hours"]) == (0, 0.0, 1.5)
    assert "+ 1.5 in runs archived after a settings change" in readings.write_readme(c, folder).read_text()


def test_the_data_summary_knows_the_best_tenth_of_the_episodes(tmp_path, monkeypatch):
    """Twenty episodes with returns 0, 100, ..., 1900 on hopper: the best is 1900, the best tenth (2 episodes)
    averages 1850, all average 950, each D4RL-normalised with D4RL's hopper references (-20.27, 3234.3)."""
    from stitchkit.data import registry
    from stitchkit.data.episodes import Episode

    monkeypatch.setattr(registry, "fingerprint", lambda dataset_id: "f00")
    episodes = [
        Episode(np.zeros((6, 11)), np.zeros((5, 3)), np.full(5, 20.0 * k), np.zeros(5, bool), np.zeros(5, bool))
        for k in range(20)
    ]
    s = records.data_summary("stitchkit/hopper/medium-replay-v0", episodes)

    def d4rl(ret):
        return round(100 * (ret + 20.272305) / (3234.3 + 20.272305), 2)

    assert (s["d4rl_best"], s["d4rl_top"], s["d4rl_mean"]) == (d4rl(1900), d4rl(1850), d4rl(950))
    assert (s["episodes"], s["transitions"], s["median_length"], s["fingerprint"]) == (20, 100, 5.0, "f00")
    c = records.load(SMOKE)
    assert "not yet computed" in readings.data_table(c, tmp_path)  # nothing written yet: never an error
    records.write_data_summaries(tmp_path, {"stitchkit/hopper/medium-replay-v0": s})
    assert f"| hopper-medium-replay | 20 | 100 | 5 | {d4rl(1900):.1f} |" in readings.data_table(c, tmp_path)
    import matplotlib

    matplotlib.use("Agg")
    axes = plots.plot_curves(c, [], "stitchkit/hopper/medium-replay-v0", folder=tmp_path)
    assert sorted(line.get_ydata()[0] for line in axes[0].lines) == [d4rl(1850), d4rl(1900)]  # the data's ceiling
    with pytest.raises(BenchError, match="D4RL scores exist for"):
        records.data_summary("stitchkit/pointmaze-medium/stitch-v0", episodes)


def test_seeds_past_the_data_are_counted_per_arm_and_drawn_one_by_one(tmp_path):
    """Best episode 70, best tenth 35 (as data.json holds them): IQL seeds 90, 60, 30 are 1 past the best episode
    and 2 past the best tenth; TD3+BC seeds 40, 41 are 0 and 2. Each seed is a thin line beside the mean."""
    import matplotlib

    matplotlib.use("Agg")
    c = records.load("campaign")
    hop = "stitchkit/hopper/medium-replay-v0"
    records.write_data_summaries(tmp_path, {hop: {"d4rl_best": 70.0, "d4rl_top": 35.0}})
    recs = [_fake(hop, "diffstitch", "iql", s, v) for s, v in enumerate([90.0, 60.0, 30.0])]
    recs += [_fake(hop, "none", "td3bc", s, v) for s, v in enumerate([40.0, 41.0])]
    text = readings.past_the_data(c, recs, "d4rl_last", folder=tmp_path).splitlines()
    iql = next(line for line in text if line.startswith("| hopper-medium-replay | iql |")).split(" | ")
    assert iql[3] == "1/3 past the best episode, 2/3 past the best tenth<br>(90.0, 60.0, 30.0)"  # diffstitch
    assert iql[2] == "not yet computed"  # none: no records
    td3 = next(line for line in text if line.startswith("| hopper-medium-replay | td3bc |")).split(" | ")
    assert td3[2] == "0/2 past the best episode, 2/2 past the best tenth<br>(40.0, 41.0)"
    with pytest.raises(BenchError, match="D4RL scale"):
        readings.past_the_data(c, recs, "score_last", folder=tmp_path)
    axes = plots.plot_curves(c, recs, hop, folder=tmp_path)
    iql_lines = [line for line in axes[1].lines if line.get_linewidth() == 0.6]
    assert sorted(line.get_ydata()[-1] for line in iql_lines) == [30.0, 60.0, 90.0]  # one thin line per seed


def test_the_campaign_is_set_beside_the_paper_setting_by_setting_and_the_reasons_come_from_the_records():
    """Notebooks 05, 08 and 09 print this above the campaign's tables (issue 44): each value read from where the
    campaign takes it (a size, an option per dataset, the grid's ratio), beside the method's declared paper value."""
    c = records.load("campaign")
    rows = readings.versus_paper(c).splitlines()
    for row in (
        "| learner updates | 300,000 | 1,000,000 |",
        "| diffstitch: unet_dim | 32 | 128 |",
        "| diffstitch: horizon | 64 | 100 |",
        "| diffstitch: return_guidance | 0 | 1.2 |",
        "| diffstitch: delta | 0.8, 1.2 | per dataset (hopper-mr 0.8) |",
        "| ser: samples | 100,000 | 5,000,000 |",  # an option left to the sizes reads as its size
        "| tatu: horizon | 5 | 5 |",  # TATU's rollout length, not DiffStitch's window of the same name
        "| tatu: ratio | 2.33 original : 1 generated | 7 : 3 (real_ratio 0.7) |",
    ):
        assert row in rows, row
    assert any(r.startswith("| diffstitch: sampler | strided |") for r in rows)
    built = next(r for r in rows if r.startswith("| diffstitch: generated transitions"))
    assert "hopper-medium-replay: 100,477 (0.99 x the data)" in built  # the committed build record
    hop = "stitchkit/hopper/medium-replay-v0"
    recs = [_fake(hop, "none", "iql", s, v) for s, v in enumerate([20.0, 30.0, 40.0])]
    recs += [_fake(hop, "diffstitch", "iql", s, v) for s, v in enumerate([25.0, 35.0, 45.0])]
    for r, up in zip(recs, [True] * 4 + [False] * 2):  # 6 evaluations: the last above or below the 4 before
        r["result"]["curve"]["d4rl_score"] = [1.0, 2.0, 2.0, 2.0, 2.0, 3.0 if up else 1.0]
    reasons = readings.why_not_refuted(c, recs, metric="d4rl_last")
    assert "300,000 updates per run, 30% of the paper's 1,000,000" in reasons
    assert "In 4 of 6 runs the last evaluation is above the mean of the 4 before it" in reasons
    assert "w = 0 here, 1.2 released" in reasons
    assert "the paper's +10.7 would need 14 seeds per arm at the spread measured here; the campaign runs 3." in reasons
    # an arm not yet at the campaign's seeds says so: the reading rests on the seeds that landed
    two = readings.why_not_refuted(c, recs[:-1], metric="d4rl_last")
    assert "the campaign runs 3 (2 landed in the smaller arm so far)." in two
    # the committed builds: 100,477 of DiffStitch's released 2,000,000 and SER's 100,000 of 5,000,000
    assert "each is drawn 19.9 x as often as in the released setting" in reasons
    assert "**ser, volume on hopper-medium-replay**: 100,000 generated transitions against the released 5,000,000" in (
        reasons
    )
    assert "tatu, volume" not in reasons  # TATU declares no released count to set it against
    section = readings.section(c, recs)
    assert section.index("| learner updates |") < section.index("not a refutation") < section.index("Closed campaign")


def test_an_option_added_later_that_acts_on_nothing_leaves_older_records_current():
    """DiffStitch's return_target only acts with guidance on: a record written before it existed stays current
    (the committed campaign's records), one with guidance records the target it sampled toward."""
    from stitchkit import augment

    m, hop = augment.method("diffstitch"), "stitchkit/hopper/medium-replay-v0"
    plain = augment.resolved_config("diffstitch", hop, {})
    guided = augment.resolved_config("diffstitch", hop, {"return_guidance": 1.2})
    assert plain.return_target == guided.return_target == 340.0  # the released 0.85 x 400 for hopper-mr
    assert "return_target" not in m.recorded(plain)
    assert m.recorded(guided)["return_target"] == 340.0
    assert augment.resolved_config("diffstitch", "stitchkit/pointmaze/medium-v0", {}).return_target is None


def test_the_forest_plot_draws_each_difference_with_its_interval_and_the_papers():
    """A known answer: augmented seeds 10, 12, 14 against original 0, 2, 4 differ by 10 with the Welch interval of
    :func:`stats.difference_ci`; the paper's difference (DiffStitch's Table 1: 79.6 - 64.8) is marked beside it, and
    an arm with one seed is "not yet computed", never a bar."""
    import matplotlib

    matplotlib.use("Agg")
    c = records.load("campaign")
    hop = "stitchkit/hopper/medium-replay-v0"

    def rec(aug, algo, seed, v):
        return {"cell": {"dataset": hop, "augmenter": aug, "algorithm": algo, "seed": seed},
                "result": {"d4rl_last": v, "curve": {"d4rl_score": [v], "score": [v]}}}  # fmt: skip

    recs = [rec("diffstitch", "td3bc", s, v) for s, v in enumerate((10.0, 12.0, 14.0))]
    recs += [rec("none", "td3bc", s, v) for s, v in enumerate((0.0, 2.0, 4.0))] + [rec("ser", "td3bc", 0, 5.0)]
    rows = {(r["algorithm"], r["augmenter"]): r for r in plots.differences(c, recs, "d4rl_last") if r["dataset"] == hop}
    ds = rows[("td3bc", "diffstitch")]
    assert (ds["diff"], ds["lo"], ds["hi"]) == stats.difference_ci([10.0, 12.0, 14.0], [0.0, 2.0, 4.0])
    assert ds["diff"] == pytest.approx(10.0) and ds["lo"] > 0 and ds["paper"] == pytest.approx(79.6 - 64.8)
    assert rows[("td3bc", "ser")]["diff"] is None and rows[("td3bc", "ser")]["n"] == (1, 3)
    ax = plots.plot_forest(c, recs, ("none", "diffstitch", "ser"), metrics=("d4rl_last",))
    xs = [line.get_xdata()[0] for line in ax.lines if line.get_marker() == "x"]
    assert pytest.approx(79.6 - 64.8) in xs  # the paper's cross on the DiffStitch row
    assert any("not yet computed" in t.get_text() for t in ax.texts)


STAGED = """
name = "t-stage"
profile = "smoke"
datasets = ["stitchkit/pointmaze-medium/stitch-v0"]
augmenters = ["none", "astro"]
algorithms = ["td3bc"]
seeds = [0]
[train]
steps = 100
eval_every = 100
eval_episodes = 1
[augment_options.astro]
d_min = 1.0
end_delta = inf
uncertainty_factor = inf
return_filter = false
"""


def test_a_committed_compact_build_is_rebuilt_in_seconds_to_the_same_data(data_root, tmp_path):
    """A bridge method's build comes back packed; written as the campaign's stage, it rebuilds the augmented dataset
    (same fingerprint) without generating, and a changed augmenter setting does not match it."""
    import shutil

    from stitchkit.augment import compact
    from stitchkit.data import registry

    c = records.parse(STAGED)
    maze = c.grid.datasets[0]
    registry.load_episodes(maze, "smoke", build_missing=True, log=lambda *_: None)
    stage = records.stage_path(tmp_path, maze, "astro")
    first = running.build(c, maze, "astro", log=lambda *_: None, stage=stage)
    compact.write(stage, first.pop(running.STAGE_KEY))
    assert "rebuilt_from" not in first and first["summary"]["accepted"] > 0
    shutil.rmtree(registry.dataset_dir(c.augmented_id(maze, "astro")))
    again = running.build(c, maze, "astro", log=lambda *_: None, stage=stage)
    assert again["rebuilt_from"] == "stages/pointmaze-medium-stitch-astro.npz" and running.STAGE_KEY not in again
    assert again["fingerprint"] == first["fingerprint"] and again["seconds"] < first["seconds"]
    other = records.parse(STAGED.replace("d_min = 1.0", "d_min = 2.0"))
    assert not running.stage_matches(compact.meta(stage), running.stage_spec(other, maze, "astro"))
    assert running.stage_matches(compact.meta(stage), running.stage_spec(c, maze, "astro"))


CARRIED = STAGED.split("[augment_options")[0].replace('"t-stage"', '"t-carry"').replace('"astro"]', '"diffstitch"]')
CARRIED += """[augment_options.diffstitch]
delta = 1000.0
similarity = 0.0
return_filter = false
return_guidance = 1.2
"""


def test_trained_models_are_carried_to_the_next_session_and_loaded_only_by_their_own_build(
    data_root, tmp_path, monkeypatch
):
    """A build's finished models, carried beside the records, stand in for training on a machine that has lost its
    data (a new session): the rebuilt data is the first build's; a build with other sizes does not take them, and a
    file that does not match its SHA-256 is refused."""
    from stitchkit.data import registry

    c, results = records.parse(CARRIED), tmp_path / "results"
    maze = c.grid.datasets[0]
    registry.load_episodes(maze, "smoke", build_missing=True, log=lambda *_: None)
    models = records.models_path(results, maze, "diffstitch")
    out = c.augmented_id(maze, "diffstitch")
    first = running.build(c, maze, "diffstitch", log=lambda *_: None, models=models)
    first_content = registry.read_metadata(out)["stitchkit"]["content_hash"]
    assert "models_from" not in first and not models.exists()
    size = (running.models_folder(c, maze, "diffstitch")[0] / "models.pt").stat().st_size
    monkeypatch.setattr(running, "MODELS_COMMIT_BYTES", size - 1)
    assert running.carry_models(c, results, maze, "diffstitch", log=lambda *_: None) == []  # over the limit: kept
    monkeypatch.setattr(running, "MODELS_COMMIT_BYTES", size)
    assert running.carry_models(c, results, maze, "diffstitch") == [models, models.with_suffix(".json")]
    assert running.carry_models(c, results, maze, "diffstitch") == []  # nothing new to carry
    folder, name = running.models_folder(c, maze, "diffstitch")
    shutil.rmtree(folder)  # a new session: neither the models nor the generated data are on this machine
    shutil.rmtree(registry.dataset_dir(out))
    again = running.build(c, maze, "diffstitch", log=lambda *_: None, models=models)
    assert again["models_from"] == f"stages/{models.name}" and (folder / name).exists()
    assert registry.read_metadata(out)["stitchkit"]["content_hash"] == first_content  # the same bridges
    other = records.parse(CARRIED + "[sizes.stitch]\ndiffusion_train_steps = 31\n")
    assert running.models_folder(other, maze, "diffstitch")[0] != folder
    assert not running.restore_models(other, maze, "diffstitch", models)  # other sizes: they train their own
    shutil.rmtree(folder)
    models.write_bytes(models.read_bytes() + b"x")
    with pytest.raises(BenchError, match="SHA-256"):
        running.restore_models(c, maze, "diffstitch", models)


def test_a_large_stage_stays_in_data_and_is_found_there(data_root, tmp_path):
    """A stage over the commit limit goes to data/stages/<campaign>/ (uncommitted), a small one beside the records;
    reading prefers the committed one and falls back to the local one."""
    folder, maze = tmp_path / "campaign-x", "stitchkit/pointmaze-medium/stitch-v0"
    small = records.stage_path(folder, maze, "astro", 1_000)
    large = records.stage_path(folder, maze, "astro", records.STAGE_COMMIT_BYTES + 1)
    assert small.is_relative_to(folder) and not large.is_relative_to(folder)
    assert large.is_relative_to(data_root.parent / "stages") and large.parent.name == "campaign-x"
    assert records.stage_path(folder, maze, "astro") == small  # neither exists: where a committed one would be
    large.parent.mkdir(parents=True)
    large.write_bytes(b"x")
    assert records.stage_path(folder, maze, "astro") == large
    small.parent.mkdir(parents=True)
    small.write_bytes(b"x")
    assert records.stage_path(folder, maze, "astro") == small


def test_a_campaign_extends_another_and_differs_only_where_it_says():
    """The guidance pair: campaign-guidance extends campaign-d4rl, so its DiffStitch cell's spec equals the guided
    campaign's but for guidance (its weight and target) and the build's id; an unknown size field of its own is
    still an error."""
    guided, pair = records.load("campaign-d4rl"), records.load("campaign-guidance")
    cell = pair.cells()[0]
    assert len(pair.cells()) == 3 and cell in guided.cells()
    a, b = records.spec(pair, cell), records.spec(guided, cell)
    assert {k: v for k, v in a.items() if k != "augment"} == {k: v for k, v in b.items() if k != "augment"}
    assert a["augment"]["sizes"] == b["augment"]["sizes"] and a["augment"]["sizes"]["stitch"]["unet_dim"] == 32
    x, y = a["augment"]["config"], b["augment"]["config"]
    differ = {k for k in x.keys() | y.keys() if x.get(k) != y.get(k)}
    assert differ == {"return_guidance", "return_target"} and (x["return_guidance"], y["return_guidance"]) == (0, 1.2)
    assert a["augment"]["id"] != b["augment"]["id"]
    with pytest.raises(BenchError, match="unet_width"):
        records.parse('extends = "campaign-d4rl"\nname = "x"\n[sizes.stitch]\nunet_width = 8\n')
