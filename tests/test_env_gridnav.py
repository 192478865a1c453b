"""Grid world: dynamics, layouts, rendering and the adapter surface."""

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from dpf_gui.envs import env_spec, make_env
from dpf_gui.envs.gridnav import GridNavEnv, Layout, parse_layout, shortest_path_length
from dpf_gui.errors import UserError

UP, RIGHT, DOWN, LEFT = range(4)


def env_at(x, y, **config):
    """A reset env with the agent placed by hand (tests only)."""
    env = GridNavEnv(config)
    env.reset(seed=0)
    env.pos = (x, y)
    return env


def test_check_env():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning-level complaints either...
        # ...except this one, which does not apply: the env is built directly,
        # not registered with gymnasium, so it has no gym spec to re-make it from.
        warnings.filterwarnings("ignore", message=".*not having a spec")
        check_env(GridNavEnv())
        check_env(GridNavEnv(render_mode="rgb_array"))


def test_spec_and_instance_surface():
    spec = env_spec("gridnav")
    assert spec.action_names == ("up", "right", "down", "left")
    assert spec.n_features == 8
    assert [rf.name for rf in spec.region_features] == ["x", "y", "terrain"]
    assert spec.region("terrain").categories == ("plain", "start", "goal", "toll", "scenic")
    assert spec.preset("avoid").avoid == ("terrain=toll",)
    assert spec.preset("prefer").prefer == ("terrain=scenic",)
    assert spec.preset("mixed").avoid and spec.preset("mixed").prefer
    env = GridNavEnv({"layout": ["S..", "..G"]})
    assert env.region_features[0].high == 2 and env.region_features[1].high == 1


def test_same_seed_same_trajectory():
    def run(seed):
        env = GridNavEnv()
        out = [env.reset(seed=seed)]
        rng = np.random.default_rng(1)
        for a in rng.integers(4, size=30):
            out.append(env.step(int(a)))
        return out

    a, b = run(7), run(7)
    for ra, rb in zip(a, b, strict=True):
        for xa, xb in zip(ra, rb, strict=True):
            if isinstance(xa, dict):
                assert xa.keys() == xb.keys()
                for k in xa:
                    np.testing.assert_array_equal(xa[k], xb[k])
            else:
                np.testing.assert_array_equal(xa, xb)


def test_different_seeds_different_starts():
    env = GridNavEnv()
    starts = set()
    for seed in range(20):
        env.reset(seed=seed)
        starts.add(env.pos)
    assert starts == {(0, 4), (0, 5), (0, 6)}


def test_legal_masks():
    assert env_at(0, 0).legal_actions().tolist() == [False, True, True, False]
    assert env_at(3, 4).legal_actions().tolist() == [True, False, True, True]
    assert env_at(9, 9).legal_actions().tolist() == [True, False, False, True]
    assert env_at(4, 5).legal_actions().tolist() == [False, True, False, True]  # toll between walls


def test_illegal_action_stays_and_costs():
    env = env_at(0, 0)
    _obs, r, term, trunc, _info = env.step(UP)
    assert env.pos == (0, 0) and r == pytest.approx(-0.01) and not term and not trunc


def test_observation_values():
    env = env_at(3, 4)
    obs = env._obs()
    assert obs.dtype == np.float32
    np.testing.assert_allclose(obs, [3 / 9, 4 / 9, 6 / 9, 1 / 9, 0, 1, 0, 0], rtol=1e-6)
    np.testing.assert_array_equal(env.region_values(), [3, 4, 0])
    assert env.terrain_at(3, 5) == "toll" and env.terrain_at(4, 0) == "wall"


def test_toll_path_reaches_goal_in_9():
    env = env_at(0, 5)
    total, terrains = 0.0, []
    for i in range(9):
        _obs, r, term, trunc, info = env.step(RIGHT)
        total += r
        terrains.append(env.terrain_at(*env.pos))
        assert term == (i == 8) and not trunc
    assert env.pos == (9, 5) and info["task_success"]
    assert total == pytest.approx(1 - 9 * 0.01)
    assert "toll" in terrains
    assert info["regions"][2] == 2  # goal


def test_truncation():
    env = env_at(0, 0, max_steps=3)
    results = [env.step(UP) for _ in range(3)]
    assert [r[3] for r in results] == [False, False, True]
    assert not results[-1][4]["task_success"]


def test_shortest_path_length():
    env = GridNavEnv()
    assert shortest_path_length(env, (0, 5)) == 9
    assert shortest_path_length(env, (0, 4)) == 10
    assert shortest_path_length(env.layout, (0, 6)) == 10
    # the scenic detour: blocking the toll road leaves a 13-step route
    detour = list(env.layout.rows)
    detour[5] = "S..####..G"
    assert shortest_path_length(detour, (0, 5)) == 13


def test_custom_layout_from_text():
    text = """
        S.#
        ..G
    """
    env = GridNavEnv({"layout": text, "cell_px": 10})
    _obs, info = env.reset(seed=3)
    assert isinstance(env.layout, Layout) and env.layout.goal == (2, 1)
    assert env.pos == (0, 0) and info["legal"].tolist() == [False, True, True, False]
    assert env.frame().shape == (20, 30, 3)
    assert shortest_path_length(text, (0, 0)) == 3


@pytest.mark.parametrize("layout, words", [
    (["S.x", "..G"], "unknown character"),
    (["S..", "..."], "goal"),
    (["S..", "..G", "..G"], "goal"),
    (["...", "..G"], "start"),
    (["S#.", "##G"], "unreachable"),
    (["S..", "..G."], "same length"),
    ([], "empty"),
    (42, "list of strings"),
])
def test_bad_layouts(layout, words):
    with pytest.raises(ValueError, match=words):
        parse_layout(layout)
    with pytest.raises(UserError, match=words):
        make_env("gridnav", {"layout": layout})


def test_frame_shape_and_no_state_change():
    env = GridNavEnv({"cell_px": 20})
    env.reset(seed=5)
    before = (env.pos, env.steps, env.np_random.bit_generator.state)
    f1, f2 = env.frame(), env.frame()
    assert f1.shape == (200, 200, 3) and f1.dtype == np.uint8
    np.testing.assert_array_equal(f1, f2)
    assert (env.pos, env.steps, env.np_random.bit_generator.state) == before
    px, py, w, h = env.cell_rect(9, 5)
    assert (px, py, w, h) == (180, 100, 20, 20)
    assert tuple(f1[py + 2, px + 2]) == (245, 200, 60)  # goal corner is gold
    assert len({tuple(f1[20 * y + 3, 20 * x + 3]) for x, y in [(0, 0), (4, 0), (3, 5), (2, 3), (9, 5)]}) == 5


def test_make_env():
    env = make_env("gridnav")
    assert isinstance(env, GridNavEnv)
    with pytest.raises(UserError):
        make_env("gridnav", {"bogus": 1})
