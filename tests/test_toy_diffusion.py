"""The 2-D diffusion toy of notebook 05 §0: the real StateDiffusion on paths, with known answers."""

import torch

from stitchkit.augment import toy_diffusion as td
from stitchkit.profiles import get_profile

torch.set_num_threads(1)


def test_paths_are_constant_speed_arcs_inside_the_square():
    w = td.arcs(200, seed=0)
    assert w.shape == (200, td.HORIZON, 2) and w.abs().max() <= 1
    steps = (w[:, 1:] - w[:, :-1]).norm(dim=-1)
    inside = (w.abs() < 1).all(dim=(1, 2))  # paths never clipped keep their speed exactly
    assert torch.allclose(steps[inside], torch.full_like(steps[inside], 0.06), atol=1e-5)
    assert torch.equal(w, td.arcs(200, seed=0)) and not torch.equal(w, td.arcs(200, seed=1))


def test_training_lowers_the_loss_and_inpainting_keeps_the_known_points():
    sizes = td.SIZES.of(get_profile("smoke"))
    windows = td.arcs(sizes.windows, seed=0)
    model, losses = td.train(windows, 60, seed=0)
    assert sum(losses[-10:]) < sum(losses[:10])
    noise = torch.randn(windows[:4].shape, generator=torch.Generator().manual_seed(3))
    for k in (0, model.k - 1):
        ab = model.abar[k]
        assert torch.allclose(
            td.noised(model, windows[:4], k, seed=3), ab.sqrt() * windows[:4] + (1 - ab).sqrt() * noise
        )
    assert (1 - model.abar[0]).sqrt() < 0.06 and model.abar[-1].sqrt() < 0.05  # little noise at k=0, no signal at K
    source, target = td.arcs(3, seed=1), td.arcs(3, seed=2)
    known, values = td.bridge_layout(source, target, gap=5)
    assert known.sum(1).tolist() == [5, 5, 5] and known[:, :2].all() and known[:, 7:10].all()
    out = model.sample(known, values, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[:, :2], source[:, -2:]) and torch.equal(out[:, 7:10], target[:, :3])
