"""Behavioural tests of the evaluators on problems with known answers, and the seed-batching invariant."""

import math

import numpy as np
import pytest
import torch

from stitchkit.algos.bc import BC
from stitchkit.algos.iql import IQL, expectile_loss
from stitchkit.algos.td3bc import TD3BC

torch.set_num_threads(1)


def bandit_batch(S, B, g, actions="uniform"):
    """One-step problems: s ~ U(-1, 1)^2, done after one step, so Q(s, a) = r(s, a) exactly."""
    s = torch.rand(S, B, 2, generator=g) * 2 - 1
    a = torch.rand(S, B, 1, generator=g) * 2 - 1
    r = -((a[..., 0] - 0.5 * s[..., 0]) ** 2)  # the best action is a* = 0.5 s_0
    return {"observations": s, "actions": a, "rewards": r, "next_observations": s, "terminals": torch.ones(S, B)}


def test_bc_recovers_a_linear_behaviour_policy():
    g = torch.Generator().manual_seed(0)
    algo = BC(3, 2, seeds=[0], lr=1e-3)
    W = torch.tensor([[0.5, -0.3], [0.2, 0.4], [-0.1, 0.1]])
    for step in range(1500):
        s = torch.rand(1, 256, 3, generator=g) * 2 - 1
        algo.update({"observations": s, "actions": s @ W}, step)
    s = torch.rand(1, 1000, 3, generator=g) * 2 - 1
    assert (algo.actor(s) - s @ W).abs().mean() < 0.02


def test_expectile_loss_is_minimised_by_the_expectile():
    x = torch.tensor([0.0, 1.0, 4.0])
    grid = torch.linspace(0, 4, 4001)
    for tau in (0.5, 0.9):
        best = grid[torch.stack([expectile_loss(x - v, tau).sum() for v in grid]).argmin()]
        # the tau-expectile m solves sum_i |tau - 1(x_i < m)| (x_i - m) = 0
        m = best.item()
        assert abs(sum((tau if xi > m else 1 - tau) * (xi - m) for xi in x.tolist())) < 5e-3
    assert abs(grid[torch.stack([expectile_loss(x - v, 0.5).sum() for v in grid]).argmin()] - x.mean()) < 1e-3


def test_iql_value_reaches_the_expectile_of_the_data_q():
    """One state, Q(s, a) = r(a) with r = -(a - 0.25)^2 over uniform dataset actions: V must converge to the
    0.7-expectile of r(a) under the data, computed here by bisection."""
    g = torch.Generator().manual_seed(1)
    algo = IQL(1, 1, seeds=[0], expectile=0.7, lr=1e-3, max_steps=4000)
    for step in range(4000):
        a = torch.rand(1, 128, 1, generator=g) * 2 - 1
        b = {
            "observations": torch.zeros(1, 128, 1),
            "actions": a,
            "rewards": -((a[..., 0] - 0.25) ** 2),
            "next_observations": torch.zeros(1, 128, 1),
            "terminals": torch.ones(1, 128),
        }
        algo.update(b, step)
    a = np.linspace(-1, 1, 200001)
    r = -((a - 0.25) ** 2)
    lo, hi = r.min(), r.max()
    for _ in range(60):
        m = (lo + hi) / 2
        lo, hi = (m, hi) if np.sum(np.where(r > m, 0.7, 0.3) * (r - m)) > 0 else (lo, m)
    v = algo.value(torch.zeros(1, 1, 1)).item()
    assert abs(v - m) < 0.03, (v, m)
    assert v > r.mean() + 0.05  # an upper expectile: above the mean of the data's values


def test_td3bc_actor_moves_to_the_optimum_that_bc_alone_misses():
    g = torch.Generator().manual_seed(2)
    algo = TD3BC(2, 1, seeds=[0], alpha=10.0, lr=1e-3)
    bc = BC(2, 1, seeds=[0], lr=1e-3)
    for step in range(2000):
        b = bandit_batch(1, 128, g)
        algo.update(b, step)
        bc.update(b, step)
    s = torch.zeros(1, 101, 2)
    s[..., 0] = torch.linspace(-1, 1, 101)
    slope_td3 = np.polyfit(s[0, :, 0].numpy(), algo.actor(s)[0, :, 0].detach().numpy(), 1)[0]
    slope_bc = np.polyfit(s[0, :, 0].numpy(), bc.actor(s)[0, :, 0].detach().numpy(), 1)[0]
    assert abs(slope_bc) < 0.1  # uniform data actions: imitation learns nothing about the optimum
    assert abs(slope_td3 - 0.5) < 0.1  # the Q term pulls the actor to a* = 0.5 s (lambda*0.5/(lambda+1) ~ 0.47)


def test_batched_seeds_match_separate_runs():
    """Member i of an S-seed model follows the same path as a single run with seed i."""

    def run(seeds):
        algo = TD3BC(2, 1, seeds=seeds)
        gens = [torch.Generator().manual_seed(100 + s) for s in seeds]
        for step in range(30):
            parts = [bandit_batch(1, 64, g) for g in gens]
            algo.update({k: torch.cat([p[k] for p in parts]) for k in parts[0]}, step)
        return algo.actor(torch.ones(len(seeds), 5, 2)).detach()

    together = run([3, 4, 5])
    for i, seed in enumerate([3, 4, 5]):
        assert torch.allclose(together[i], run([seed])[0], atol=1e-5)
    assert not torch.allclose(together[0], together[1])


def _cql_pair(alpha, conservative=True):
    from stitchkit.algos.cql import CQL

    return CQL(2, 1, seeds=[0], cql_alpha=alpha, conservative=conservative, policy_lr=1e-3, q_lr=1e-3, hidden=(64, 64))


def _ood_batch(g, B=128):
    """Data actions near 0 only; reward independent of the action."""
    s = torch.rand(1, B, 2, generator=g) * 2 - 1
    a = (torch.randn(1, B, 1, generator=g) * 0.05).clamp(-1, 1)
    return {
        "observations": s,
        "actions": a,
        "rewards": torch.full((1, B), 0.5),
        "next_observations": s,
        "terminals": torch.ones(1, B),
    }


def test_cql_with_alpha_zero_is_its_sac_backbone():
    a, b = _cql_pair(0.0), _cql_pair(0.0, conservative=False)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    for step in range(20):
        la, lb = a.update(_ood_batch(g1), step), b.update(_ood_batch(g2), step)
        assert torch.allclose(la["critic_loss"], lb["critic_loss"]) and la["cql_penalty"].item() != 0.0
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_cql_lowers_q_on_out_of_distribution_actions():
    plain, conservative = _cql_pair(0.0), _cql_pair(5.0)
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    for step in range(300):
        plain.update(_ood_batch(g1), step)
        conservative.update(_ood_batch(g2), step)
    s = torch.zeros(1, 50, 2)
    ood = torch.full((1, 50, 1), 0.9)
    data = torch.zeros(1, 50, 1)
    q = lambda m, a: torch.minimum(*m.critic(s, a)).mean().item()
    assert q(conservative, ood) < q(plain, ood) - 0.1  # pushed down where the data has no actions
    assert q(conservative, ood) < q(conservative, data)  # and below the data's own actions


def test_dt_conditioned_on_the_best_return_imitates_the_best_trajectories():
    """Toy data: 'good' episodes act +0.8 and earn 1 per step, 'bad' ones act -0.8 and earn 0. Asked for the
    best return, DT must act like the good episodes; asked for 0, like the bad ones."""
    from stitchkit.algos.common import SeedWindowSampler
    from stitchkit.algos.dt import DT
    from stitchkit.data.episodes import Episode
    from stitchkit.data.normalizers import ZScore

    T = 8
    eps = []
    for i in range(40):
        good = i % 2 == 0
        obs = np.zeros((T + 1, 1)) + np.linspace(0, 1, T + 1)[:, None]
        eps.append(
            Episode(
                obs,
                np.full((T, 1), 0.8 if good else -0.8),
                np.full(T, 1.0 if good else 0.0),
                np.zeros(T, bool),
                np.r_[np.zeros(T - 1, bool), True],
                id=i,
            )
        )
    norm = ZScore.fit(np.concatenate([e.observations for e in eps]))
    dt = DT(1, 1, seeds=[0], warmup=50, lr=1e-3, d=32, layers=1, seq_len=4, episode_len=T, dropout=0.0, rtg_scale=0.2)
    sampler = SeedWindowSampler(eps, [0], 4, norm)
    for step in range(500):
        dt.update(sampler.sample(64), step)

    def first_actions(target):
        dt.actor.target_return = target
        dt.actor.reset()
        acts = []
        for t in range(3):
            acts.append(dt.actor.act(torch.as_tensor(norm.normalize(np.full((1, 1, 1), t / T)))).item())
            dt.actor.observe(np.array([1.0 if target > 0 else 0.0]))
        return np.array(acts)

    assert (first_actions(float(T)) > 0.6).all()
    assert (first_actions(0.0) < -0.6).all()


def _dt_reference(m, rtg, obs, act, t):
    """Decision Transformer written out: every block on every token, softmax attention under a causal mask, the
    state tokens read at the end (what the kit's last block computes for one token in three)."""
    S, B, K = rtg.shape
    d, H = m.d, m.blocks[0].heads
    te = m.time_emb[torch.arange(S)[:, None, None], t]  # (S, B, K, d)
    tok = [
        emb(x.reshape(S, B * K, -1)).reshape(S, B, K, d) + te
        for emb, x in ((m.emb_r, rtg[..., None]), (m.emb_s, obs), (m.emb_a, act))
    ]
    x = m.ln(torch.stack(tok, 3).reshape(S, B * 3 * K, d)).reshape(S, B, 3 * K, d)
    causal = torch.ones(3 * K, 3 * K).tril().bool()
    for blk in m.blocks:
        h = blk.ln1(x.reshape(S, -1, d))
        q, k, v = (
            (h @ blk.qkv.weight[..., i * d : (i + 1) * d] + blk.qkv.bias[..., i * d : (i + 1) * d])
            .reshape(S, B, 3 * K, H, d // H)
            .transpose(2, 3)
            for i in range(3)
        )
        w = (q @ k.transpose(-1, -2) / math.sqrt(d // H)).masked_fill(~causal, float("-inf")).softmax(-1)
        att = (w @ v).transpose(2, 3).reshape(S, -1, d)
        x = x + blk.proj(att).reshape(S, B, 3 * K, d)
        x = x + blk.fc2(torch.nn.functional.gelu(blk.fc1(blk.ln2(x.reshape(S, -1, d))))).reshape(S, B, 3 * K, d)
    state = x.reshape(S, B, K, 3, d)[:, :, :, 1].reshape(S, B * K, d)
    return m.max_action * torch.tanh(m.head(state)).reshape(S, B, K, -1)


def test_dt_computes_the_written_out_transformer_with_its_last_block_on_the_state_tokens_only():
    """Issue 32: the last block computes queries, projection and MLP for the state tokens alone (18% fewer FLOPs
    per update) and attention runs in the fused kernels' 4-D layout; the actions must be the written-out model's."""
    from stitchkit.algos.dt import DecisionTransformer

    S, B, K, T = 2, 5, 6, 50
    m = DecisionTransformer(11, 3, [0, 1], d=32, layers=3, heads=2, seq_len=K, episode_len=T).eval()
    g = torch.Generator().manual_seed(1)
    rtg, obs, act = torch.rand(S, B, K, generator=g), torch.randn(S, B, K, 11, generator=g), torch.rand(S, B, K, 3)
    t = torch.randint(0, T, (S, B, K), generator=g)
    with torch.no_grad():
        got, want = m(rtg, obs, act, t), _dt_reference(m, rtg, obs, act, t)
    assert got.shape == (S, B, K, 3)
    assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()
    with torch.no_grad():  # causal: the last step's tokens change no earlier action
        act2 = act.clone()
        act2[:, :, -1] += 1.0
        assert torch.equal(m(rtg, obs, act2, t)[:, :, :-1], got[:, :, :-1])


def test_dt_in_bf16_trains_to_the_float32_curve():
    """bfloat16 autocast (issue 32's GPU path, run here on the CPU): the same seeds and batches give a loss curve
    within noise of float32's (here: every 50-step mean within 15% and both fall below a fifth of the start), with
    float32 weights and no loss scaling."""
    from stitchkit.algos.dt import DT

    g = torch.Generator().manual_seed(0)
    S, B, K = 2, 32, 6
    rtg, obs = torch.rand(S, B, K, generator=g), torch.randn(S, B, K + 1, 3, generator=g)
    act = torch.tanh(obs[:, :, :-1, :2] * 0.8 + rtg[..., None])  # a function of the tokens the model sees
    batch = {"returns_to_go": rtg, "observations": obs, "actions": act, "timesteps": torch.arange(K).expand(S, B, K)}
    batch["mask"] = torch.ones(S, B, K)
    curves = {}
    for bf16 in (False, True):
        sizes = dict(d=32, layers=2, seq_len=K, episode_len=K, dropout=0.0)
        dt = DT(3, 2, seeds=[0, 1], warmup=20, lr=1e-3, bf16=bf16, **sizes)
        losses = [dt.update(batch, step)["action_loss"].mean().item() for step in range(300)]
        curves[bf16] = np.array(losses).reshape(-1, 50).mean(1)
        assert all(p.dtype == torch.float32 for p in dt.parameters())
    assert np.allclose(curves[True], curves[False], rtol=0.15), curves
    assert not np.array_equal(curves[True], curves[False])  # bf16 really ran: its rounding shows in the curve
    assert curves[True][-1] < 0.2 * curves[True][0] and curves[False][-1] < 0.2 * curves[False][0]


@pytest.mark.parametrize("name", ["td3bc", "por", "tels", "tsidm-iql"])
def test_interrupted_training_resumes_exactly(tmp_path, name):
    """Train 40 steps straight, or 20 steps, stop, and resume to 40: the same weights and the same curves (POR's
    schedules, TELS's stage switch at step 15 and a wrapped learner's schedule and noise included)."""
    from stitchkit.algos.common import SeedBatchSampler, TrainConfig, train
    from stitchkit.data.episodes import Episode
    from stitchkit.data.normalizers import ZScore

    rng = np.random.default_rng(0)
    eps = [
        Episode(
            rng.normal(size=(21, 3)),
            rng.uniform(-1, 1, (20, 2)),
            rng.normal(size=20),
            np.zeros(20, bool),
            np.r_[np.zeros(19, bool), True],
            id=i,
        )
        for i in range(10)
    ]
    norm = ZScore.fit(np.concatenate([e.observations for e in eps]))
    fake_eval = lambda actor: {"score": actor.act(torch.zeros(2, 1, 3)).sum((1, 2)).detach().numpy()}

    def fresh():
        from stitchkit.train import make_algo

        extra = {"idm_steps": 15, "idm_hidden": 16} if name in ("tels", "tsidm-iql") else {}
        return make_algo(name, 3, 2, [0, 1], 40, **extra), SeedBatchSampler(eps, None, [0, 1], 1.0, norm)

    algo, sampler = fresh()
    straight = train(
        algo,
        sampler,
        TrainConfig(steps=40, batch_size=16, eval_every=10, seeds=[0, 1]),
        fake_eval,
        tmp_path / "a",
        progress=False,
    )
    algo_b, sampler_b = fresh()
    train(
        algo_b,
        sampler_b,
        TrainConfig(steps=20, batch_size=16, eval_every=10, seeds=[0, 1]),
        fake_eval,
        tmp_path / "b",
        progress=False,
    )
    algo_c, sampler_c = fresh()  # a new process would start from scratch objects like these
    resumed = train(
        algo_c,
        sampler_c,
        TrainConfig(steps=40, batch_size=16, eval_every=10, seeds=[0, 1]),
        fake_eval,
        tmp_path / "b",
        progress=False,
    )
    for pa, pc in zip(algo.parameters(), algo_c.parameters()):
        assert torch.equal(pa, pc)
    assert [r["score"] for r in straight] == [r["score"] for r in resumed]
    assert (tmp_path / "b" / "curves.jsonl").read_text().count("\n") == len(resumed) == 8


@pytest.mark.parametrize("algo", ["bc", "td3bc", "iql", "por", "tels"])
def test_hidden_sets_every_network_width(algo):
    """``--option hidden=128,128`` (the lever that makes a laptop run ~3x cheaper): every MLP of the learner (TELS's
    TS-IDM has its own width, ``idm_hidden``)."""
    from stitchkit.nets import EnsembleLinear
    from stitchkit.train import make_algo

    extra = {"idm_hidden": 24} if algo == "tels" else {}
    model = make_algo(algo, 11, 3, [0, 1], 100, hidden=(32, 16), **extra)
    widths = {m.weight.shape[-1] for m in model.modules() if isinstance(m, EnsembleLinear)} - {1, 3, 11}
    assert widths == ({32, 16, 24} if algo == "tels" else {32, 16}), widths


def test_the_profile_sizes_the_width_and_an_option_overrides_it():
    import dataclasses

    from stitchkit.profiles import get_profile
    from stitchkit.train import learner

    narrow = dataclasses.replace(get_profile("lab"), train=dataclasses.replace(get_profile("lab").train, hidden=(64,)))
    for name in ("bc", "td3bc", "iql", "por", "tels", "tsidm-td3bc"):
        assert learner(name).resolved("stitchkit/hopper/medium-v0", narrow, {})["hidden"] == (64,)
        assert learner(name).resolved("stitchkit/hopper/medium-v0", narrow, {"hidden": (8, 8)})["hidden"] == (8, 8)
    assert learner("td3bc").resolved("stitchkit/hopper/medium-v0", get_profile("full"), {})["hidden"] == (256, 256)


def test_td3bc_actor_gradient_through_q1_alone_is_bit_identical_to_the_twin_forward():
    """The speed-up of issue 27: the actor loss reads Q1 only, with the critic frozen (no weight gradients). The
    actor's gradient must be exactly what the full twin forward with critic gradients gave."""
    from stitchkit.nets import frozen

    g = torch.Generator().manual_seed(3)
    algo = TD3BC(11, 3, seeds=[0, 1], hidden=(64, 64))
    b = {"observations": torch.randn(2, 128, 11, generator=g), "actions": torch.rand(2, 128, 3, generator=g) * 2 - 1}
    pi = algo.actor(b["observations"])
    q_old = algo.critic(b["observations"], pi)[0]
    grads_old = torch.autograd.grad(q_old.sum(), list(algo.actor.parameters()))
    pi = algo.actor(b["observations"])
    with frozen(algo.critic):
        q_new = algo.critic.first(b["observations"], pi)
        assert not any(p.requires_grad for p in algo.critic.parameters())
    grads_new = torch.autograd.grad(q_new.sum(), list(algo.actor.parameters()))
    assert torch.equal(q_old, q_new)
    assert all(torch.equal(a, b) for a, b in zip(grads_old, grads_new))
    assert all(p.requires_grad for p in algo.critic.parameters())  # unfrozen after the block


def test_cql_penalty_is_cqls_formula_written_out():
    """The penalty against CQL's formula written out here (uniform, next-state and current-state actions, their
    log densities, a temperature-scaled logsumexp minus the data's Q): the reference any faster path must match.
    (Issue 32 tried one 3BN-row pass per critic: equal, but 8-19% slower on this CPU, so not kept.)"""
    import math

    from stitchkit.algos.cql import CQL
    from stitchkit.algos.noise import member_rand
    from stitchkit.bench import fake_batch

    torch.manual_seed(0)
    m = CQL(11, 3, [0, 1, 2], hidden=(64, 64))
    b = fake_batch("cql", 3, 16, "cpu")
    state = [g.get_state() for g in m.cql_gens.on("cpu")]
    fast = m.cql_penalty(b)
    for g, st in zip(m.cql_gens.on("cpu"), state):  # the same random draws again
        g.set_state(st)
    S, B, _ = b["observations"].shape
    N, A = m.n_actions, m.act_dim
    rep = lambda x: x.unsqueeze(2).expand(S, B, N, x.shape[-1]).reshape(S, B * N, x.shape[-1])
    obs, next_obs = rep(b["observations"]), rep(b["next_observations"])
    rand_a = member_rand(m.cql_gens, (B * N, A), obs.device) * 2 - 1
    with torch.no_grad():
        curr_a, curr_logp = m._sample(obs, m.cql_gens)
        next_a, next_logp = m._sample(next_obs, m.cql_gens)
    ref = torch.zeros(S)
    for qi, q_data in zip((m.critic.q1, m.critic.q2), m.critic(b["observations"], b["actions"])):
        q = lambda a, qi=qi: qi(torch.cat([obs, a], -1)).reshape(S, B, N)
        cat = torch.cat(
            [
                q(rand_a) - A * math.log(0.5),
                q(next_a) - next_logp.reshape(S, B, N),
                q(curr_a) - curr_logp.reshape(S, B, N),
            ],
            dim=2,
        )
        ref = ref + (torch.logsumexp(cat / m.temperature, dim=2) * m.temperature - q_data).mean(1)
    assert torch.allclose(fast, ref, rtol=1e-6, atol=1e-5)


def test_corl_reward_normalisation_scales_the_returns_to_span_1000_where_its_configs_say():
    """CORL's ``normalize_reward`` (IQL on hopper medium and medium-replay, CQL on hopper medium): rewards times
    1000 / (max return - min return), one factor from the original episodes, applied to augmented data too."""
    from stitchkit.algos.common import SeedBatchSampler
    from stitchkit.data.episodes import Episode
    from stitchkit.data.normalizers import ZScore, return_range_scale
    from stitchkit.train import learner

    assert return_range_scale(np.array([10.0, 260.0, 510.0])) == 2.0  # 1000 / (510 - 10)
    with pytest.raises(ValueError, match="different returns"):
        return_range_scale(np.array([3.0, 3.0]))
    rng = np.random.default_rng(1)
    eps = [
        Episode(rng.normal(size=(6, 3)), rng.uniform(-1, 1, (5, 2)), rng.normal(size=5), np.zeros(5, bool),
                np.r_[np.zeros(4, bool), True], id=i)
        for i in range(4)
    ]  # fmt: skip
    norm = ZScore.fit(np.concatenate([e.observations for e in eps]))
    plain, scaled = (SeedBatchSampler(eps, eps[:2], [0], 1.0, norm, reward_scale=s) for s in (1.0, 2.5))
    a, b = plain.sample(64), scaled.sample(64)  # the same draws: only the rewards differ
    assert torch.equal(a["observations"], b["observations"]) and torch.allclose(b["rewards"], 2.5 * a["rewards"])
    declared = {
        (name, d): learner(name).dataset_defaults(f"stitchkit/{d}-v0").get("normalize_reward", False)
        for name in ("iql", "cql")
        for d in ("hopper/medium", "hopper/medium-replay", "walker2d/medium-replay", "hopper/medium-expert")
    }
    assert {k for k, on in declared.items() if on} == {
        ("iql", "hopper/medium"),
        ("iql", "hopper/medium-replay"),
        ("cql", "hopper/medium"),
    }
