"""Goal-conditioned learning: goal sampling against its probabilities, the trajectory boundary, hindsight rewards,
the goal-conditioned evaluator against the env's own success, and GCBC/GCIVL through the front end."""

import numpy as np
import pytest
import torch

from stitchkit.data.episodes import Episode
from stitchkit.data.goals import GoalIndex, GoalSampling

torch.set_num_threads(1)


def line_episodes(lengths, d=2):
    """Episodes whose states encode (episode, step), so a goal row says where it came from."""
    eps = []
    for e, n in enumerate(lengths):
        obs = np.stack([np.full(n + 1, e, float), np.arange(n + 1, dtype=float)], 1)[:, :d]
        eps.append(Episode(obs, np.zeros((n, 1), np.float32), np.zeros(n), np.zeros(n, bool), np.zeros(n, bool), id=e))
    return eps


def test_goal_sampling_honours_its_probabilities_and_the_trajectory_boundary():
    index = GoalIndex(line_episodes([5, 9, 3, 12]))
    rng = np.random.default_rng(0)
    rows = index.transitions[rng.integers(0, len(index.transitions), 40_000)]
    cfg = GoalSampling(p_curgoal=0.2, p_trajgoal=0.5, p_randomgoal=0.3)
    goals = index.sample_goals(rows, cfg, rng)
    cur = goals == rows
    same = (index.episode[goals] == index.episode[rows]) & ~cur
    # current goals: 0.2; trajectory goals: 0.8 * 0.5 / 0.8 = 0.5, plus random goals that land in the same episode
    assert abs(cur.mean() - 0.2) < 0.01
    random_same = 0.3 * np.mean([(index.episode == index.episode[r]).mean() for r in rows[:2000]])
    assert abs(same.mean() - (0.5 + random_same)) < 0.015
    traj_only = index.sample_goals(rows, GoalSampling(), rng)  # p_trajgoal = 1: never another episode, never back
    assert np.all(index.episode[traj_only] == index.episode[rows])
    assert np.all(traj_only > rows) and np.all(traj_only <= index.final[rows])


def test_geometric_trajectory_goals_have_the_discounts_mean_offset():
    index = GoalIndex(line_episodes([10_000]))
    rng = np.random.default_rng(1)
    rows = np.zeros(50_000, np.int64)  # far from the end: offsets are not clipped
    goals = index.sample_goals(rows, GoalSampling(geometric=True, discount=0.99), rng)
    assert abs((goals - rows).mean() - 100) < 2  # Geometric(1 - 0.99) has mean 100
    uniform = index.sample_goals(np.zeros(50_000, np.int64), GoalSampling(), rng)
    assert abs(uniform.mean() - 5000.5) < 60  # uniform over (0, 10000]


def test_bad_goal_probabilities_are_refused():
    with pytest.raises(ValueError, match="sum to 1"):
        GoalSampling(p_curgoal=0.5, p_trajgoal=0.6)


def test_hindsight_rewards_and_masks_mark_exactly_the_reached_goals():
    from stitchkit.algos.common import SeedGoalSampler
    from stitchkit.data.normalizers import ZScore

    eps = line_episodes([6, 4])
    norm = ZScore.fit(np.concatenate([e.observations for e in eps]))
    value = GoalSampling(p_curgoal=0.5, p_trajgoal=0.5, geometric=True)
    s = SeedGoalSampler(eps, None, [0, 1], 1.0, norm, GoalSampling(), value)
    b = s.sample(4000)
    at_goal = (b["value_goals"] == b["observations"]).all(-1).float()
    assert torch.equal(b["rewards"], at_goal - 1) and torch.equal(b["masks"], 1 - at_goal)
    assert abs(at_goal.mean().item() - 0.5) < 0.03
    goal, obs = b["actor_goals"].numpy(), b["observations"].numpy()  # z-scoring keeps each coordinate's order
    assert np.all(goal[..., 0] == obs[..., 0])  # actor goals: the same episode (coordinate 0 is the episode) ...
    assert np.all(goal[..., 1] > obs[..., 1])  # ... and later in it (coordinate 1 is the step)


def test_goal_evaluator_success_is_the_envs_own():
    """A scripted oracle policy reaches every goal (the env says so); a policy that stands still reaches none."""
    from stitchkit.data.maze import bfs_distances, oracle_subgoal_ij
    from stitchkit.data.normalizers import ZScore
    from stitchkit.evaluate import GoalEvaluator

    norm = ZScore(np.zeros(2), np.ones(2))
    ev = GoalEvaluator(
        "pointmaze-medium-v0",
        norm,
        n_members=1,
        episodes=1,
        horizon=1000,
        control=2,
        control_episodes=1,
        long_tasks=(1, 3),
    )
    u = (
        __import__("stitchkit.evaluate", fromlist=["_goal_envs"])
        ._goal_envs("pointmaze-medium-v0", 1000, 1)[0]
        .unwrapped
    )

    class Oracle(torch.nn.Module):
        def act(self, obs, goal):
            out = []
            for o, g in zip(obs.reshape(-1, 2).numpy(), goal.reshape(-1, 2).numpy()):
                dist = bfs_distances(u.maze_map, u.xy_to_ij(g))
                sub = np.asarray(u.ij_to_xy(oracle_subgoal_ij(dist, u.xy_to_ij(o))))
                if u.xy_to_ij(o) == u.xy_to_ij(g):
                    sub = g
                out.append((sub - o) / (np.linalg.norm(sub - o) + 1e-6))
            return torch.as_tensor(np.asarray(out), dtype=torch.float32).reshape(obs.shape)

    class Still(torch.nn.Module):
        def act(self, obs, goal):
            return torch.zeros_like(obs)

    good, bad = ev(Oracle()), ev(Still())
    assert good["score"][0] == 100 and good["control"][0] == 100 and good["task3"][0] == 100
    assert bad["score"][0] == 0 and bad["return"][0] == -1000


@pytest.mark.parametrize("algo", ["gcbc", "gcivl"])
def test_goal_conditioned_learners_train_through_the_front_end(data_root, algo):
    from stitchkit.train import learner, run

    out = run(algo, "stitchkit/pointmaze-medium/stitch-v0", seeds=2, profile="smoke", progress=False)
    assert len(out["seeds"]) == 2 and np.isfinite(out["score"]["last_mean"])
    assert {"task1", "task5", "control"} <= set(out["curves"][-1])
    if algo == "gcivl":  # OGBench's stitch-dataset actor goals, from the learner's own defaults table
        assert learner("gcivl").dataset_defaults("stitchkit/pointmaze-medium/stitch-v0")["actor_p_randomgoal"] == 0.5
    with pytest.raises(ValueError, match="maze datasets"):
        run(algo, "stitchkit/hopper/medium-v0", seeds=1, profile="smoke", progress=False)


def walk(points, steps_each=10, start_id=0):
    """An episode walking straight through ``points`` (2-D), ``steps_each`` steps per leg, then idling 20 steps."""
    xy = [np.linspace(a, b, steps_each, endpoint=False) for a, b in zip(points[:-1], points[1:])]
    xy = np.concatenate(xy + [np.repeat(np.asarray(points[-1:], float), 21, 0)])
    n = len(xy) - 1
    return Episode(
        xy.astype(np.float32),
        np.zeros((n, 2), np.float32),
        np.zeros(n),
        np.zeros(n, bool),
        np.zeros(n, bool),
        id=start_id,
    )


def test_idle_tail_starts_where_the_agent_settles():
    from stitchkit.augment.chains import idle_start

    ep = walk([(0, 0), (10, 0)], steps_each=10)  # moves 1 unit per step for 10 steps, then stands still
    assert idle_start(ep, radius=0.5) == 10
    assert idle_start(walk([(0, 0), (0, 0)], steps_each=1), radius=0.5) == 0


def test_chains_glue_exact_fragment_states_and_never_reuse_a_fragment():
    from stitchkit.augment.chains import ChainConfig, glue, joints, plan_chains

    # fragments along a line, each starting where the previous one passes: chains must hop along them
    eps = [walk([(10 * k, 0), (10 * k + 12, 0)], steps_each=12, start_id=k) for k in range(8)]
    cfg = ChainConfig(hops_min=3, hops_max=4, near=1.0, min_progress=2)
    plan = plan_chains(eps, cfg, np.random.default_rng(0), budget=500)
    assert plan and all(3 <= len(c) <= 4 for c in plan)
    for k, chain in enumerate(plan):
        assert len({e for e, _, _ in chain}) == len(chain)  # each fragment once
        ep = glue(eps, chain, k)
        pieces = [p for p in ep.provenance.pieces if p[0] == "fragment"]
        assert [p[1] for p in pieces] == [eps[e].id for e, _, _ in chain]
        step = 0
        for _, e, first, last in pieces:  # every state of every piece is the original state, in order
            assert np.array_equal(
                ep.observations[step : step + last - first + 1], eps[e].observations[first : last + 1]
            )
            step += last - first + 1
        assert step == len(ep.observations)
        for j, (e, _, last) in zip(joints(ep), chain):  # a joint leaves a fragment's kept last state ...
            assert np.array_equal(ep.observations[j], eps[e].observations[last])
        for j, (nxt, _, _) in zip(joints(ep), chain[1:]):  # ... and lands exactly on the next one's first state
            assert np.array_equal(ep.observations[j + 1], eps[nxt].observations[0])
            assert np.linalg.norm(ep.observations[j] - eps[nxt].observations[0]) <= cfg.near


@pytest.mark.parametrize("joint", ["diffstitch", "astro"])
def test_bridged_chains_insert_the_bridge_and_keep_fragment_states_exact(data_root, joint):
    from stitchkit.augment import astro
    from stitchkit.augment import diffstitch as ds
    from stitchkit.augment.chains import ChainConfig, bridge_joints, glue, joints, plan_chains
    from stitchkit.data import registry
    from stitchkit.profiles import get_profile

    smoke = get_profile("smoke")
    maze = "stitchkit/pointmaze-medium/stitch-v0"
    eps = registry.load_episodes(maze, smoke, build_missing=True, log=lambda *_: None)
    cfg = ChainConfig(hops_min=3, hops_max=3, near=2.0, outward=False)
    plan = plan_chains(eps, cfg, np.random.default_rng(0), budget=300)
    train = ds.train_models if joint == "diffstitch" else astro.train_models
    models = train(eps, smoke, seed=0, log=lambda *_: None)
    delta = ds.SIZES.of(smoke).window_low
    bridges, ok, lengths = bridge_joints(models, eps, plan, smoke, delta, float("inf"), seed=0, joint=joint)
    assert len(bridges) == len(plan) and len(lengths) == 2 * len(plan)
    if joint == "diffstitch":
        assert ok.all() and (lengths == delta).all()  # an infinite threshold qualifies every bridge
    else:  # ASTRO's length is the learned temporal distance, within the bridge lengths the window allows
        assert ((lengths >= ds.SIZES.of(smoke).window_low) & (lengths <= ds.SIZES.of(smoke).window_high - 1)).all()
    k_joint = 0
    for k, (chain, chain_bridges) in enumerate(zip(plan, bridges)):
        for (e, _, last), (nxt, _, _), (states, actions) in zip(chain[:-1], chain[1:], chain_bridges):
            n = lengths[k_joint]
            k_joint += 1
            assert states.shape[0] == n + 1 and actions.shape == (n, 2)
            assert np.array_equal(states[0], eps[e].observations[last])  # starts exactly at a fragment state ...
            assert np.array_equal(states[-1], eps[nxt].observations[0])  # ... and ends exactly at the next one's
        ep = glue(eps, chain, k, chain_bridges, joint)
        js = joints(ep)
        assert len(js) == 2 and [p[2] for p in ep.provenance.pieces if p[0] == "joint"] == [
            len(a) for _, a in chain_bridges
        ]
        for j, (states, actions) in zip(js, chain_bridges):  # the bridge sits between the two fragments
            assert np.allclose(ep.observations[j : j + len(states)], states)
            assert np.allclose(ep.actions[j : j + len(actions)], actions)


def test_outward_chains_move_away_from_their_start():
    """Each next fragment of an outward chain settles farther from the chain's first state than the one before."""
    from stitchkit.augment.chains import ChainConfig, idle_start, plan_chains

    points = [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 0)]
    eps = [walk([a, b], steps_each=20, start_id=i) for i, (a, b) in enumerate(zip(points[:-1], points[1:]))]
    eps += [walk([b, a], steps_each=20, start_id=10 + i) for i, (a, b) in enumerate(zip(points[:-1], points[1:]))]
    cfg = ChainConfig(hops_min=3, hops_max=3, near=0.3, min_progress=5, idle_radius=0.05, outward=True)
    plan = plan_chains(eps, cfg, np.random.default_rng(0), budget=2_000)
    assert plan
    for chain in plan:
        origin = eps[chain[0][0]].observations[0]
        settle = [np.linalg.norm(eps[e].observations[idle_start(eps[e], 0.05) - 1] - origin) for e, _, _ in chain]
        assert all(b > a for a, b in zip(settle, settle[1:]))
    back = plan_chains(
        eps,
        ChainConfig(hops_min=3, hops_max=3, near=0.3, min_progress=5, idle_radius=0.05, outward=False),
        np.random.default_rng(0),
        budget=2_000,
    )
    assert any(  # a random walk may turn back
        np.linalg.norm(eps[c[-1][0]].observations[-1] - eps[c[0][0]].observations[0]) < 1.5 for c in back
    )


def test_goal_tasks_are_ogbenchs_and_rollouts_agree_with_the_evaluator():
    """OGBench's five pointmaze-medium tasks are 10, 10, 6, 10 and 8 cells long; the recorded rollouts succeed
    exactly where the evaluator's scores say, and each path starts at its task's start."""
    from stitchkit.data.normalizers import ZScore
    from stitchkit.evaluate import GoalEvaluator, goal_tasks

    tasks = goal_tasks("pointmaze-medium-v0", control=3)
    assert [t["cells"] for t in tasks[:5]] == [10, 10, 6, 10, 8] and all(2 <= t["cells"] <= 4 for t in tasks[5:])
    ev = GoalEvaluator(
        "pointmaze-medium-v0", ZScore(np.zeros(2), np.ones(2)), 2, episodes=1, horizon=60, control=3, control_episodes=1
    )

    class TowardGoal(torch.nn.Module):  # straight at the goal: reaches the near ones, walls stop the rest
        def act(self, obs, goal):
            return torch.nn.functional.normalize(goal - obs, dim=-1)

    scores, roll = ev(TowardGoal()), ev.rollouts(TowardGoal())
    assert np.allclose(roll["success"][:, 5:].mean(1) * 100, scores["control"])
    assert np.allclose(roll["success"][:, :5].mean(1) * 100, scores["score"])
    for m in range(2):
        for name, path, goal in zip(roll["runs"], roll["paths"][m], roll["goals"][m]):
            task_goal = next(t["goal"] for t in tasks if t["name"] == name)
            assert len(path) <= 61 and np.allclose(goal[:2], task_goal, atol=2.0)  # same cell; OGBench adds noise


def test_train_steps_override_and_background_augmentation(data_root):
    """``steps`` sets a run's length (a budget sweep) and is part of its key; ``augment.start`` runs jobs in a
    worker, and a job that accepts nothing comes back as an error, not an exception."""
    from stitchkit import augment
    from stitchkit.options import OptionError
    from stitchkit.train import run

    maze = "stitchkit/pointmaze-medium/stitch-v0"
    short = run("gcbc", maze, seeds=1, profile="smoke", progress=False, steps=100)
    assert short["steps"] == 100 and max(r["step"] for r in short["curves"]) == 100
    default = run("gcbc", maze, seeds=1, profile="smoke", progress=False)
    assert default["steps"] == 200 and default["run_dir"] != short["run_dir"]
    with pytest.raises(OptionError, match="steps must be positive"):
        run("gcbc", maze, seeds=1, profile="smoke", progress=False, steps=0)
    # top_fraction (10%-BC): the best episodes only, a run of its own
    from stitchkit.data import registry
    from stitchkit.train import best_episodes

    eps = registry.load_episodes(maze, "smoke")
    top = best_episodes(eps, 0.2)
    assert len(top) == round(0.2 * len(eps)) and min(e.ret for e in top) >= sorted(e.ret for e in eps)[-len(top)]
    assert [e.id for e in top] == sorted(e.id for e in top)  # order kept
    filtered = run("gcbc", maze, seeds=1, profile="smoke", progress=False, steps=100, top_fraction=0.2)
    assert filtered["top_fraction"] == 0.2 and filtered["run_dir"] != short["run_dir"]
    # without augmented data the ratio changes nothing: the same run, reused from the cache
    assert (
        run("gcbc", maze, seeds=1, profile="smoke", progress=False, steps=100, ratio=4.0)["run_dir"] == short["run_dir"]
    )
    with pytest.raises(OptionError, match=r"top_fraction must be in \(0, 1\]"):
        run("gcbc", maze, seeds=1, profile="smoke", progress=False, top_fraction=1.5)
    with pytest.raises(augment.OptionError):
        augment.start([dict(name="chain", dataset_id=maze, joint="teleport")], "smoke")
    jobs = [
        dict(name="chain", dataset_id=maze, out_id="stitchkit/pointmaze-medium/stitch-chain-naive-v0", joint="naive"),
        dict(
            name="chain",
            dataset_id=maze,
            out_id="stitchkit/pointmaze-medium/stitch-chain-ds-v0",
            joint="diffstitch",
            bridge_steps=4,
            near=0.01,
        ),
    ]
    naive, tight = augment.start(jobs, "smoke").result(timeout=300)
    assert naive["chains"] > 0 and naive["config"]["joint"] == "naive"
    assert "accepted no generated data" in tight["error"]


def test_goal_swapping_jumps_to_the_future_of_a_crossing_trajectory():
    """A runs along x through (5, 0); B runs along y through the same point. Swapped goals of A's states may come
    from B, but only from B's future beyond the shared region, never from B's past."""
    a = walk([(0, 0), (10, 0)], steps_each=20, start_id=0)
    b = walk([(5.25, -10), (5.25, 10)], steps_each=40, start_id=1)
    index = GoalIndex([a, b])
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 5, 20_000)  # A's first states: their trajectory goals lie beyond the crossing
    cfg = GoalSampling(p_swap=1.0, swap_size=1.0)
    goals = index.sample_goals(rows, cfg, rng)
    from_b = index.episode[goals] == 1
    assert 0.01 < from_b.mean() < 0.5  # some goals come from the crossing trajectory ...
    assert index.observations[goals[from_b], 1].min() >= -1.0  # ... from its future after the shared region
    no_swap = index.sample_goals(rows, GoalSampling(), rng)
    assert (index.episode[no_swap] == 0).all()
    with pytest.raises(ValueError, match="p_swap"):
        GoalSampling(p_swap=1.5)


@pytest.mark.slow
def test_run_many_in_two_processes_equals_the_runs_one_by_one(data_root):
    """Same seed, same result: two runs trained side by side in worker processes match the same runs made one by one
    in this process (every logged figure but the wall-clock seconds)."""
    from stitchkit.train import run, run_many

    maze = "stitchkit/pointmaze-medium/stitch-v0"
    jobs = [
        dict(algo_name="gcbc", dataset_id=maze, seeds=[0], profile="smoke", resume=False),
        dict(algo_name="bc", dataset_id=maze, seeds=[1], profile="smoke", resume=False),
    ]
    run(**{**jobs[0], "progress": False})  # builds the dataset once, before the workers start
    parallel = run_many(jobs, processes=2)
    for job, got in zip(jobs, parallel):
        want = run(**{**job, "progress": False})
        untimed = [[{k: v for k, v in row.items() if k != "seconds"} for row in r["curves"]] for r in (got, want)]
        assert got["score"] == want["score"] and untimed[0] == untimed[1]


def test_goal_evaluation_depends_on_its_seed_only():
    """OGBench's maze draws start and goal noise from the global numpy generator and settles the agent with an
    unseeded action space: the evaluator seeds both, so a repeat (whatever ran before) gives the same figures."""
    from stitchkit.data.normalizers import ZScore
    from stitchkit.evaluate import GoalEvaluator

    ev = GoalEvaluator("pointmaze-medium-v0", ZScore(np.zeros(2), np.ones(2)), 2, 2, horizon=150, control=3)

    class Greedy(torch.nn.Module):  # heads straight for the goal: walls make some tasks fail, some succeed
        def act(self, obs, goal):
            return torch.tanh(0.5 * (goal - obs))

    first = ev(Greedy())
    np.random.seed(123)
    np.random.uniform(size=17)  # disturb the global generator between the calls
    again = ev(Greedy())
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert 0 < first["control"].mean() < 100 or 0 < first["score"].mean() < 100  # a non-trivial case


def test_arm_jobs_cross_learners_with_arms_and_leave_out_missing_data():
    from stitchkit.profiles import get_profile
    from stitchkit.train import arm_jobs

    lab = get_profile("lab")
    jobs = arm_jobs("d", ("td3bc", "iql"), {"original": (None, 4.0), "+A": ("d-a", 1.0), "+B": None}, lab)
    assert list(jobs) == [(("d", a, arm)) for a in ("td3bc", "iql") for arm in ("original", "+A")]
    assert jobs[("d", "iql", "+A")] == dict(
        algo_name="iql", dataset_id="d", seeds=lab.train.seeds, profile="lab", augmented_id="d-a", ratio=1.0
    )


def test_walls_option_keeps_joints_on_the_asked_side_and_the_report_measures_them(data_root):
    """Issue 28's axis: at the same gap, joints through a wall or clear of walls. The joint report's numbers are
    checked against the maze itself: each naive joint is one transition, its gap the distance between the two
    real states, its wall crossing the straight segment's, and the physics oracle finds it wrong."""
    from stitchkit.augment.chains import ChainConfig, glue, joint_report, plan_chains
    from stitchkit.data import registry
    from stitchkit.data.maze import crosses_wall
    from stitchkit.profiles import get_profile

    eps = registry.load_episodes(
        "stitchkit/pointmaze-medium/stitch-v0", get_profile("smoke"), build_missing=True, log=lambda *_: None
    )
    for walls, expect in (("cross", True), ("clear", False)):
        cfg = ChainConfig(hops_min=2, hops_max=3, near=6.0, outward=False, walls=walls)
        plan = plan_chains(eps, cfg, np.random.default_rng(0), budget=400, maze="medium")
        assert plan, walls
        chains = [glue(eps, c, k) for k, c in enumerate(plan)]
        rep = joint_report("pointmaze-medium", chains)
        ends = [
            (eps[a].observations[last, :2], eps[b].observations[0, :2])
            for c in plan
            for (a, _, last), (b, _, _) in zip(c, c[1:])
        ]
        assert (rep["steps"] == 1).all() and len(rep["gap"]) == len(ends)
        assert np.allclose(rep["gap"], [np.linalg.norm(q - p) for p, q in ends])
        assert (rep["crosses_wall"] == expect).all()
        assert (crosses_wall("medium", np.stack([p for p, _ in ends]), np.stack([q for _, q in ends])) == expect).all()
        assert np.median(rep["oracle_error"]) > 0.1  # a jump of up to 6 units in one step: physically wrong
    with pytest.raises(ValueError, match="needs a maze"):
        plan_chains(eps, ChainConfig(walls="clear"), np.random.default_rng(0), budget=100)


def test_gcivl_value_map_is_the_mean_of_both_heads_at_still_states_per_seed():
    """Notebook 02's value heatmap: V(s, g) per seed at (x, y, 0, 0) for the goal (gx, gy, 0, 0), both heads averaged,
    through the learner's normalizer (here one that doubles)."""
    from stitchkit.algos.gcivl import GCIVL, value_map

    model = GCIVL(4, 2, seeds=[0, 1], hidden=(16, 16))
    xy = np.array([[0.5, 1.0], [2.0, -1.0], [0.0, 0.0]])
    got = value_map(model, lambda a: 2 * a, xy, np.array([1.0, 2.0]), obs_dim=4)
    assert got.shape == (2, 3)
    obs = torch.tensor([[1.0, 2.0, 0.0, 0.0], [4.0, -2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    goal = torch.tensor([[2.0, 4.0, 0.0, 0.0]]).expand(3, -1)
    with torch.no_grad():
        v1, v2 = model.value(obs.expand(2, -1, -1), goal.expand(2, -1, -1))
    np.testing.assert_allclose(got, ((v1 + v2) / 2).numpy(), rtol=1e-6)
    assert not np.allclose(got[0], got[1])  # each seed its own network
