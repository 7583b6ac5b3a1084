"""Evaluate S policies (one per seed) at once: S x E environments step side by side, the actor runs batched.

Deterministic actions, seeded resets (episode e of every member starts from seed + e, as CORL re-seeds with the
training seed), observations normalized exactly as in training. Reports per member: mean return, the score
(D4RL-style normalized return x 100 from the dataset's reference scores, or the success rate x 100 for mazes,
where returns of 1000-step episodes are not comparable across tasks) and the success rate where the env has one.
"""

from __future__ import annotations

import numpy as np
import torch

from stitchkit.data.normalizers import ZScore


def eval_env_spec(dataset_id: str):
    """The evaluation environment a dataset names (Minari's ``eval_env_spec``, else its ``env_spec``)."""
    import gymnasium as gym

    from stitchkit.data import registry

    meta = (
        registry.read_metadata(dataset_id)
        if dataset_id.startswith("stitchkit/")
        else registry.load_minari(dataset_id).storage.metadata
    )
    spec = meta.get("eval_env_spec") or meta["env_spec"]
    return gym.envs.registration.EnvSpec.from_json(spec), meta.get("ref_min_score"), meta.get("ref_max_score")


class Evaluator:
    def __init__(
        self, dataset_id: str, normalizer: ZScore, n_members: int, episodes: int, seed: int = 0, device: str = "cpu"
    ):
        self.spec, self.ref_min, self.ref_max = eval_env_spec(dataset_id)
        self.is_maze = "pointmaze" in self.spec.id
        self.normalizer, self.n_members, self.episodes, self.seed, self.device = (
            normalizer,
            n_members,
            episodes,
            seed,
            device,
        )

    def __call__(self, actor: torch.nn.Module) -> dict[str, np.ndarray]:
        import gymnasium as gym

        if self.is_maze:
            import ogbench  # noqa: F401
        S, E = self.n_members, self.episodes
        envs = gym.vector.SyncVectorEnv(
            [lambda: gym.make(self.spec) for _ in range(S * E)], autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP
        )
        obs, _ = envs.reset(seed=[self.seed + i % E for i in range(S * E)])
        if hasattr(actor, "reset"):  # sequence policies (Decision Transformer) keep a history
            actor.reset()
        ret, success = np.zeros(S * E), np.zeros(S * E)
        active = np.ones(S * E, bool)  # an env that finished keeps stepping (autoreset) but no longer counts
        while active.any():
            with torch.no_grad():
                x = torch.as_tensor(self.normalizer.normalize(obs).reshape(S, E, -1), device=self.device).float()
                actions = actor.act(x).reshape(S * E, -1).cpu().numpy()
            obs, rewards, term, trunc, info = envs.step(actions)
            ret += rewards * active
            if "success" in info:
                success = np.maximum(success, np.asarray(info["success"], float) * active)
            if hasattr(actor, "observe"):
                actor.observe(rewards)
            active &= ~(term | trunc)
        envs.close()
        ret, success = ret.reshape(S, E), success.reshape(S, E)
        out = {"return": ret.mean(1), "success": success.mean(1) * 100}
        if self.is_maze:
            out["score"] = out["success"]
        elif self.ref_min is not None and self.ref_max is not None:
            out["score"] = 100 * (ret.mean(1) - self.ref_min) / (self.ref_max - self.ref_min)
        else:
            out["score"] = ret.mean(1)
        return out
