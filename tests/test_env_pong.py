"""ALE Pong adapter: gymnasium contract, seeding, action mapping, episodes."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from dpf_gui.agents.heuristics import pong_follow_ball
from dpf_gui.envs import env_spec, make_env
from dpf_gui.envs.pong import PongEnv
from dpf_gui.errors import UserError

NOOP, UP, DOWN = 0, 1, 2


@pytest.fixture(scope="module")
def env():
    e = PongEnv()
    yield e
    e.close()


def _rollout(env, seed, actions, with_frames=False):
    obs, info = env.reset(seed=seed)
    out = [obs.copy()]
    regions = [info["regions"].copy()]
    for a in actions:
        if with_frames:
            env.frame()
        obs, _, term, trunc, info = env.step(a)
        out.append(obs.copy())
        regions.append(info["regions"].copy())
        if with_frames:
            env.frame()
        if term or trunc:
            break
    return np.array(out), np.array(regions)


@pytest.mark.filterwarnings("ignore:.*alternative render modes")
def test_check_env_passes():
    e = PongEnv(render_mode="rgb_array")
    check_env(e, skip_render_check=False)
    e.close()


def test_spec_and_make_env():
    spec = env_spec("pong")
    assert spec.action_names == ("NOOP", "UP", "DOWN")
    assert spec.feature_names == ("paddle_y", "cpu_paddle_y", "ball_x", "ball_y", "ball_vx", "ball_vy")
    assert spec.region("paddle").kind == "float"
    assert {p.name for p in spec.presets} == {"avoid", "prefer", "mixed"}
    assert spec.preset("avoid").avoid == ("paddle=..0.15", "paddle=0.85..")
    assert spec.preset("prefer").prefer == ("paddle=0.35..0.65",)
    mixed = spec.preset("mixed")
    assert mixed.prefer and mixed.avoid
    assert spec.default_config["max_decisions"] == 1000
    assert spec.default_config["noop_max"] == 30
    assert spec.default_config["frameskip"] == 4
    e = make_env("pong", {"max_decisions": 5})
    assert isinstance(e, PongEnv) and e.max_decisions == 5
    e.close()
    with pytest.raises(UserError):
        make_env("pong", {"no_such_key": 1})


def test_seeded_replay_is_exact_with_frames_interleaved(env):
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 3, size=150)
    a, ra = _rollout(env, 7, actions)
    _rollout(env, 8, actions)  # something else in between
    b, rb = _rollout(env, 7, actions, with_frames=True)
    assert a.dtype == np.float32
    assert np.array_equal(a, b) and np.array_equal(ra, rb)


def test_frame_does_not_change_state(env):
    env.reset(seed=3)
    for _ in range(20):
        env.step(UP)
    f1 = env.frame()
    f2 = env.frame()
    assert f1.shape == (210, 160, 3) and f1.dtype == np.uint8
    assert np.array_equal(f1, f2)
    assert np.array_equal(env.render(), f1)


def test_different_seeds_differ(env):
    actions = [NOOP] * 40
    runs = {}
    for seed in range(6):
        _obs, info = env.reset(seed=seed)
        traj, _ = _rollout(env, seed, actions)
        runs[seed] = (info["noops"], traj)
    noops = {n for n, _ in runs.values()}
    assert len(noops) > 1
    distinct = {traj.tobytes() for _, traj in runs.values()}
    assert len(distinct) == len(noops)


def test_action_mapping_moves_paddle(env):
    env.reset(seed=0)
    start = env.paddle_height
    for _ in range(6):
        _, _, term, trunc, info = env.step(UP)
        assert not (term or trunc)
    up = env.paddle_height
    assert up < start - 0.2
    assert info["regions"][0] == pytest.approx(up)
    assert up == pytest.approx(0.0, abs=0.02)  # fully up is region 0
    y_up = env.paddle_screen_y()
    for _ in range(10):
        _, _, term, trunc, _ = env.step(DOWN)
        if term or trunc:
            break
    assert env.paddle_height > up + 0.5
    assert env.paddle_screen_y() > y_up  # lower on screen = larger row


def test_paddle_screen_position_matches_frame(env):
    env.reset(seed=0)
    for a in [UP, UP, NOOP, NOOP, DOWN, NOOP, NOOP, NOOP]:
        env.step(a)
    frame = env.frame()
    green = (frame[34:194, 140:144] == np.array([92, 186, 92])).all(-1).any(1)
    rows = np.nonzero(green)[0] + 34
    assert len(rows) >= 12
    assert abs((rows.min() + rows.max()) / 2 - env.paddle_screen_y()) <= 1.5
    row0, row1 = env.band_screen_rows(env.paddle_height - 0.01, env.paddle_height + 0.01)
    assert row0 <= env.paddle_screen_y() + 1 and env.paddle_screen_y() - 1 <= row1
    assert env.band_screen_rows(None, None) == (34, 194)
    top0, top1 = env.band_screen_rows(None, 0.15)
    bot0, bot1 = env.band_screen_rows(0.85, None)
    assert top0 == 34 and top1 < bot0 and bot1 == 194


def test_ball_screen_position_matches_frame(env):
    obs, _ = env.reset(seed=0)
    seen = 0
    for _ in range(60):
        obs, _, term, trunc, _ = env.step(NOOP)
        if term or trunc:
            break
        xy = env.ball_screen_xy()
        if xy is None:
            assert obs[2] == -1.0 and obs[3] == -1.0
            continue
        frame = env.frame()
        ball = (frame[34:194] == np.array([236, 236, 236])).all(-1)
        if not ball.any():
            continue
        rows = np.nonzero(ball.any(1))[0] + 34
        cols = np.nonzero(ball.any(0))[0]
        assert abs((cols.min() + cols.max()) / 2 - xy[0]) <= 1.0
        assert abs((rows.min() + rows.max()) / 2 - xy[1]) <= 2.0
        seen += 1
    assert seen > 5


def test_episode_is_one_point(env):
    outcomes = set()
    for seed in range(4):
        obs, info = env.reset(seed=seed)
        total = 0.0
        for _t in range(1000):
            policy = pong_follow_ball if seed % 2 else (lambda o: NOOP)
            obs, r, term, trunc, info = env.step(policy(obs))
            total += r
            if term or trunc:
                break
        assert term and not trunc
        assert r in (-1.0, 1.0) and total == r
        assert info["task_success"] == (r > 0)
        outcomes.add(r)
        with pytest.raises(RuntimeError):
            env.step(NOOP)
    assert -1.0 in outcomes


def test_truncation_after_max_decisions():
    e = make_env("pong", {"max_decisions": 10})
    e.reset(seed=0)
    for _t in range(10):
        _, r, term, trunc, info = e.step(NOOP)
    assert trunc and not term and r == 0.0 and info["task_success"] is False
    e.close()


def test_feature_shapes_and_ranges(env):
    obs, info = env.reset(seed=11)
    assert obs.shape == (6,) and obs.dtype == np.float32
    assert obs[4] == 0.0 and obs[5] == 0.0  # no velocity at reset
    assert info["legal"].dtype == bool and info["legal"].all() and info["legal"].shape == (3,)
    assert info["regions"].shape == (1,) and info["regions"].dtype == np.float32
    rng = np.random.default_rng(1)
    seen_ball = 0
    for _ in range(400):
        obs, _, term, trunc, info = env.step(int(rng.integers(3)))
        assert env.observation_space.contains(obs)
        assert 0.0 <= info["regions"][0] <= 1.0
        assert -0.05 <= obs[0] <= 1.05
        if obs[2] >= 0:
            seen_ball += 1
            assert 0.0 <= obs[2] <= 1.0 and -0.05 <= obs[3] <= 1.05
            assert abs(obs[4]) <= 1.5 and abs(obs[5]) <= 1.5
        else:
            assert obs[2] == obs[3] == -1.0 and obs[4] == obs[5] == 0.0
        if term or trunc:
            obs, info = env.reset()
    assert seen_ball > 100


def test_sticky_actions_keep_replay_exact():
    e = make_env("pong", {"sticky_prob": 0.25})
    actions = np.random.default_rng(2).integers(0, 3, size=100)
    a, _ = _rollout(e, 5, actions)
    b, _ = _rollout(e, 5, actions, with_frames=True)
    assert np.array_equal(a, b)
    e.close()


def test_follow_ball_heuristic():
    o = np.array([0.5, 0.5, 0.5, 0.2, 0.0, 0.0], dtype=np.float32)
    assert pong_follow_ball(o) == UP
    o[3] = 0.8
    assert pong_follow_ball(o) == DOWN
    o[3] = 0.51
    assert pong_follow_ball(o) == NOOP
    out = np.array([0.9, 0.5, -1.0, -1.0, 0.0, 0.0], dtype=np.float32)
    assert pong_follow_ball(out) == UP  # ball out of play: back to the middle
