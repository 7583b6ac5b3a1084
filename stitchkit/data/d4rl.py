"""D4RL's published numbers the kit reads its own data and scores against (Fu et al. 2020, D4RL v2).

Sources: ``Farama-Foundation/D4RL:d4rl/infos.py`` (reference returns), the tensorflow-datasets catalog and a logged
download of the v2 files (medium-replay statistics); ``../shared/research/baselines_data_perf.md`` §2-3.
"""

from __future__ import annotations

import numpy as np

#: D4RL's published reference returns (its ``infos.py``: random and expert policy returns on the v2 tasks). The kit's
#: envs are Gymnasium v5 and its own behaviour policies, so a score against these is an approximate comparison.
D4RL_REFERENCE = {"hopper": (-20.272305, 3234.3), "halfcheetah": (-280.178953, 12135.0), "walker2d": (1.629008, 4592.3)}


def d4rl_score(env: str, returns):
    """Returns normalised with D4RL's reference returns (0 = D4RL's random policy, 100 = its expert), for reading
    the kit's results beside the papers' tables; approximate (v5 vs v2 dynamics, other behaviour policies)."""
    low, high = D4RL_REFERENCE[env]
    return 100.0 * (np.asarray(returns, float) - low) / (high - low)


#: D4RL v2's published medium-replay datasets (tensorflow-datasets' split counts; returns from a logged download,
#: D4RL-normalised): the statistics a recording is stopped to match (../shared/research/baselines_data_perf.md §3)
D4RL_MEDIUM_REPLAY = {
    "hopper": {"transitions": 402_000, "episodes": 2_041, "d4rl_mean": 15.0, "d4rl_best": 98.7},
    "walker2d": {"transitions": 302_000, "episodes": 1_090, "d4rl_mean": 14.8, "d4rl_best": 90.0},
    "halfcheetah": {"transitions": 202_000, "episodes": 202, "d4rl_mean": 27.2, "d4rl_best": 42.4},
}
#: the issue's tolerances for "D4RL-like": counts within 35%, mean within 5 points, best episode within 10
TOLERANCE = {"transitions": 0.35, "episodes": 0.35, "d4rl_mean": 5.0, "d4rl_best": 10.0}
