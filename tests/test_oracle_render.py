"""State from observation, the physics oracle, the renderer and the viewer's widget/report modes."""

import gymnasium as gym
import numpy as np
import pytest

from stitchkit.augment.naive import naive_stitch
from stitchkit.data.episodes import Episode
from stitchkit.envs import clipped, state_from_obs
from stitchkit.oracle import PhysicsOracle
from stitchkit.render import clear_cache, render_frames
from stitchkit.viewer import StitchViewer, ViewItem

LOCO = {"hopper": "Hopper-v5", "halfcheetah": "HalfCheetah-v5", "walker2d": "Walker2d-v5"}


def rollout(name, steps=60, seed=0, scale=0.3):
    env = gym.make(LOCO[name])
    env.action_space.seed(seed)
    ob, info = env.reset(seed=seed)
    obs, acts, xs, qs = (
        [ob],
        [],
        [info["x_position"]],
        [(env.unwrapped.data.qpos.copy(), env.unwrapped.data.qvel.copy())],
    )
    for _ in range(steps):
        a = env.action_space.sample() * scale
        ob, _r, term, trunc, info = env.step(a)
        obs.append(ob), acts.append(a), xs.append(info["x_position"])
        qs.append((env.unwrapped.data.qpos.copy(), env.unwrapped.data.qvel.copy()))
        if term or trunc:
            break
    n = len(acts)
    return Episode(
        np.array(obs),
        np.array(acts),
        np.zeros(n),
        np.zeros(n, bool),
        np.zeros(n, bool),
        infos={"x_position": np.array(xs)},
    ), qs


@pytest.mark.parametrize("name", list(LOCO))
def test_state_from_obs_rebuilds_the_simulator_state(name):
    ep, qs = rollout(name)
    qpos, qvel = state_from_obs(name, ep.observations, ep.infos["x_position"])
    ok = ~clipped(name, ep.observations)
    assert np.allclose(qpos, np.array([q for q, _ in qs]), atol=1e-12)
    assert np.allclose(qvel[ok], np.array([v for _, v in qs])[ok], atol=1e-12)


@pytest.mark.parametrize("name", list(LOCO))
def test_oracle_is_exact_on_real_transitions_and_catches_a_naive_stitch(name):
    a, _ = rollout(name, seed=0)
    b, _ = rollout(name, seed=1)
    oracle = PhysicsOracle(name)
    res = oracle.check_episode(a)
    assert res.summary()["median"] < 1e-9  # numerical precision
    glued = naive_stitch(a, len(a) // 2, b, len(b) // 2)
    glue_err = oracle.check_episode(glued).norm[len(a) // 2]
    assert glue_err > 1e-3 and glue_err > 1e6 * res.summary()["median"]
    oracle.close()


def test_clipped_velocities_are_flagged():
    obs = np.zeros((3, 11))
    obs[1, 7] = 10.0  # hopper: qvel starts at index 5
    obs[2, 7] = 9.5
    assert clipped("hopper", obs).tolist() == [False, True, False]
    assert not clipped("halfcheetah", np.full((1, 17), 50.0)).any()  # halfcheetah does not clip


def test_maze_oracle_exact_and_glue_detected():
    from stitchkit.data import maze

    eps = maze.generate("medium", 2, seed=0)
    oracle = PhysicsOracle("pointmaze-medium")
    assert oracle.check_episode(eps[0]).norm.max() == 0.0
    assert oracle.check_episode(naive_stitch(eps[0], 100, eps[1], 50)).norm[100] > 0.1


def test_renderer_frames_depend_on_state_and_are_cached():
    ep, _ = rollout("hopper", steps=10)
    clear_cache()
    frames = render_frames("hopper", ep.observations[:4], width=64, height=48)
    assert frames.shape == (4, 48, 64, 3) and frames.dtype == np.uint8
    other = ep.observations[:1].copy()
    other[0, 1] += 0.8  # tilt the torso
    assert np.abs(render_frames("hopper", other, width=64, height=48)[0].astype(int) - frames[0]).mean() > 1
    assert render_frames("hopper", ep.observations[:4], width=64, height=48) is frames  # cache hit
    maze_frames = render_frames("pointmaze-medium", np.array([[0.0, 0.0], [8.0, 0.0]]), width=80, height=80)
    assert maze_frames.shape == (2, 80, 80, 3) and (maze_frames[0] != maze_frames[1]).any()


def test_viewer_widget_moves_with_the_slider_and_report_mode_animates(monkeypatch):
    ep, _ = rollout("hopper", steps=12)
    other, _ = rollout("hopper", steps=12, seed=1)
    glued = naive_stitch(ep, 5, other, 3)
    viewer = StitchViewer(
        "hopper",
        [ViewItem.from_episode("hopper", glued, "glued"), ViewItem.from_episode("hopper", ep, "plain")],
        size=64,
        report_frames=4,
    )
    assert viewer.items[0].segments == (5, 6) and viewer.items[1].segments is None
    box = viewer.widget()
    pick, controls, images = box.children
    slider, frame = controls.children[1], images.children[0]
    first = frame.value
    slider.value = 10
    assert frame.value != first
    pick.value = 1
    assert controls.children[2].value.startswith("t = 10")
    html = viewer.to_html()
    assert html.count("_anim_img") >= 2 and "glued" in html
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    monkeypatch.setenv("STITCHKIT_REPORT", "1")
    viewer._ipython_display_()
    assert "_anim_img" in shown[-1].data  # report mode: a self-contained animation
    monkeypatch.setenv("STITCHKIT_REPORT", "0")
    viewer._ipython_display_()
    assert type(shown[-1]).__name__ == "VBox"  # live kernel: the widget
