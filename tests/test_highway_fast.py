"""The faster neighbour search and observation of dpf_gui.envs.highway_fast equal highway-env's own, bit for bit."""

import numpy as np
import pytest

from dpf_gui.envs import highway_fast
from dpf_gui.envs.highway import HighwayEnv
from dpf_gui.rollout import play_episode, random_policy

pytestmark = pytest.mark.skipif(not highway_fast.available(),
                                reason="the installed highway-env is not one highway_fast was checked against")


def _states(episodes: int = 3, seed: int = 0):
    """Highway states along random-action episodes (many lane changes, crashes included)."""
    env = HighwayEnv()
    policy = random_policy(seed)
    for e in range(episodes):
        obs, info = env.reset(seed=seed + e)
        done = False
        yield env
        while not done:
            obs, _, term, trunc, info = env.step(policy(obs, info["legal"]))
            done = term or trunc
            yield env  # the last one too: a crash ends an episode
    env.close()


def test_neighbour_search_and_observation_match_highway_env_state_by_state():
    from highway_env.envs.common.observation import KinematicObservation
    from highway_env.road.road import Road

    checked = crashed = 0
    for env in _states():
        sim = env.sim
        road = sim.road
        assert road.neighbour_vehicles.__func__ is highway_fast.neighbour_vehicles  # in use after reset
        for v in road.vehicles:
            _from, _to, lane_id = v.lane_index
            for lane in {v.lane_index, (_from, _to, max(lane_id - 1, 0)), (_from, _to, min(lane_id + 1, 3))}:
                assert highway_fast.neighbour_vehicles(road, v, lane) == Road.neighbour_vehicles(road, v, lane)
                checked += 1
        assert highway_fast.neighbour_vehicles(road, sim.vehicle) == Road.neighbour_vehicles(road, sim.vehicle)
        fast, slow = highway_fast.observe(sim.observation_type), KinematicObservation.observe(
            sim.observation_type)
        assert fast.dtype == slow.dtype and np.array_equal(fast, slow)
        crashed += env.crashed
    assert checked > 1000 and crashed  # the episodes went through lane changes and a crash


def test_an_episode_is_the_same_episode_with_and_without(monkeypatch):
    def episode(enabled: bool):
        monkeypatch.setattr(highway_fast, "ENABLED", enabled)
        env = HighwayEnv()
        traj = play_episode(env, random_policy(3), seed=7)
        env.close()
        return traj

    fast, slow = episode(True), episode(False)
    assert len(fast.actions) == len(slow.actions) > 5
    for field in ("features", "actions", "rewards", "legal", "regions"):
        assert np.array_equal(getattr(fast, field), getattr(slow, field)), field
    assert fast.success == slow.success and fast.terminated == slow.terminated


def test_a_sped_up_simulator_can_still_be_pickled_and_copied():
    """Planners and process pools copy highway-env environments: a pickled one comes back with highway-env's own
    methods, a deep copy keeps the faster ones, and both step on."""
    import copy
    import pickle

    env = HighwayEnv()
    env.reset(seed=1)
    back = pickle.loads(pickle.dumps(env.sim))
    assert back.road.neighbour_vehicles.__func__ is not highway_fast.neighbour_vehicles
    twin = copy.deepcopy(env.sim)
    assert twin.road.neighbour_vehicles.__func__ is highway_fast.neighbour_vehicles
    assert twin.road.neighbour_vehicles.__self__ is twin.road  # bound to the copy, not the original
    for sim in (back, twin):
        obs, *_ = sim.step(1)
        assert obs.shape == (5, 5)
    env.close()
