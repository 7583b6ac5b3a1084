"""The parity table beside CORL, the closed campaign, and where a `full` campaign's data live."""

import numpy as np
import pytest

from stitchkit import parity
from stitchkit.bench import BenchError
from stitchkit.campaign import readings, records, running
from stitchkit.paths import use_profile_data


def _run(env, learner, seed, last, losses=(20.0, 21.0, 22.0, 23.0)):
    return {
        "env": env,
        "learner": learner,
        "seed": seed,
        "d4rl_last": last,
        "diverged": readings.diverged({"curve": {"critic_loss": list(losses)}}),
    }


def test_parity_rows_read_against_corl_and_the_targets_known_answer():
    found = [_run("hopper", "td3bc", s, v) for s, v in enumerate((48.0, 52.0, 56.0))]
    found += [_run("walker2d", "td3bc", s, 80.0) for s in range(2)]
    found += [_run("walker2d", "td3bc", 2, 90.0, losses=(20.0, 21.0, 22.0, 1e9))]  # a critic that blew up
    found += [_run("hopper", "bc-10%", s, v) for s, v in enumerate((50.0, 52.0, 54.0))]
    rows = {(r["env"], r["learner"]): r for r in parity.learner_rows(found)}
    hop = rows[("hopper", "td3bc")]
    assert hop["mean"] == pytest.approx(52.0) and hop["corl"] == 64.4 and hop["met"] is True
    half = 4.303 * 4.0 / np.sqrt(3)  # t(0.975, 2) x sd / sqrt(3)
    assert (hop["low"], hop["high"]) == pytest.approx((52.0 - half, 52.0 + half), abs=0.01)
    walker = rows[("walker2d", "td3bc")]
    assert walker["mean"] == pytest.approx(83.33, abs=0.01) and walker["diverged"] == 1 and walker["met"] is False
    assert rows[("hopper", "bc-10%")]["met"] is False  # 52 < 55
    assert "mean" not in rows[("hopper", "iql")] and rows[("hopper", "iql")]["target"] == 75.0
    assert ("halfcheetah", "td3bc") not in rows and ("halfcheetah", "bc-10%") in rows
    table = parity.learner_table(list(rows.values()))
    assert "| walker2d-medium-replay | td3bc | 83.3 [" in table and "(n=3, 1 diverged) | 85.6 | ≥ 65: missed |" in table
    assert "| hopper-medium-replay | iql | not yet computed | 97.4 | ≥ 75 |" in table


def test_a_closed_campaign_refuses_to_run_and_keeps_its_records_readable():
    old = records.load("campaign")
    assert old.closed and "earlier medium-replay recipe" in old.closed
    with pytest.raises(BenchError, match="campaign campaign is closed"):
        running.run(old, log=print)
    recs = records.records(old)
    assert len(recs) >= 24  # the 24 hopper records stay readable (notebooks 05, 08 and 09 read them)
    assert readings.banner(old, recs).startswith("**Closed campaign") and "earlier medium-replay" in readings.banner(
        old, recs
    )


def test_parity_and_campaign_d4rl_hold_every_parity_row_once():
    cells = {(c.dataset, c.algorithm) for name in ("parity", "campaign-d4rl") for c in records.load(name).cells()}
    for env, learner in parity.ROWS:
        _, dataset, algo = parity._arm(env, learner)
        assert (dataset, algo) in cells, (env, learner)
    assert records.load("parity").profile_name == records.load("campaign-d4rl").profile_name == "full"


def test_a_full_campaign_reads_its_data_from_its_own_folder(tmp_path):
    env = {}
    use_profile_data("lab", env)
    assert env == {}  # lab: data/ itself, as the notebooks
    use_profile_data("full", env)
    assert env["STITCHKIT_DATA"].endswith("/data/full") and env["MINARI_DATASETS_PATH"].endswith("/data/full/minari")
    mine = {"STITCHKIT_DATA": str(tmp_path)}
    use_profile_data("full", mine)
    assert mine == {"STITCHKIT_DATA": str(tmp_path)}  # a user's own folder wins


def test_the_divergence_paragraph_reads_the_critic_against_the_bound_no_policy_can_pass():
    from stitchkit import parity

    row = lambda step, q, qmax, loss: {
        "step": step,
        "q_data": 20.0,
        "q_policy": q,
        "q_max": qmax,
        "critic_loss": loss,
        "action_gap": 0.4,
        "gap": q - 20,
    }
    entry = {
        "data": "old",
        "seed": 0,
        "episodes": 800,
        "median_length": 17.0,
        "terminal_share": 0.008,
        "return_bound": 700.0,
        "steps": 15000,
        "rows": [row(5000, 21.0, 70.0, 5.0), row(10000, 300.0, 900.0, 60.0), row(15000, 5000.0, 20000.0, 9000.0)],
    }
    text = parity.divergence_reading({"old-s0": entry})
    assert "went from 21.0 at 5,000 updates to 5,000.0" in text
    assert "peaked at 20,000 (update 15,000), where no policy can earn more than 700" in text
    assert "passed that bound at update 10,000" in text  # 900 > 700 first at 10k
    assert "passed 100 times its first reading at update 15,000" in text
    calm = dict(entry, rows=[row(5000, 21.0, 70.0, 5.0), row(10000, 22.0, 80.0, 6.0)])
    assert "stayed below that bound" in parity.divergence_reading({"old-s0": calm})
    assert parity.divergence_reading({}).startswith("Not yet measured")
