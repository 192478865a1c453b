"""The faster equivalents of dpf_gui.envs.highway_fast equal highway-env's own code, bit for bit."""

import contextlib

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
        assert road.act.__func__ is highway_fast.road_act
        for still in (False, True):  # as any caller, and while the road acts (positions gathered once)
            with highway_fast.held_still(road) if still else contextlib.nullcontext():
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


def test_lane_geometry_and_vehicle_control_match_highway_env_state_by_state():
    """Lane coordinates, the closest lane, steering and the IDM acceleration of every vehicle at every state of
    random-action episodes, against highway-env's own methods called on the same objects."""
    from highway_env.road.lane import StraightLane
    from highway_env.road.road import RoadNetwork
    from highway_env.vehicle.behavior import IDMVehicle
    from highway_env.vehicle.controller import ControlledVehicle

    checked = 0
    for env in _states(episodes=2, seed=5):
        road = env.sim.road
        network = road.network
        assert network.get_closest_lane_index.__func__ is highway_fast.get_closest_lane_index
        lanes = [lane for to_dict in network.graph.values() for lanes_ in to_dict.values() for lane in lanes_]
        for v in road.vehicles:
            for lane in lanes:
                assert lane.local_coordinates.__func__ is highway_fast.local_coordinates
                assert lane.local_coordinates(v.position) == StraightLane.local_coordinates(lane, v.position)
            for heading in (v.heading, None, v.heading + 3.5):
                assert highway_fast.get_closest_lane_index(network, v.position, heading) == (
                    RoadNetwork.get_closest_lane_index(network, v.position, heading))
            assert v.steering_control.__func__ is highway_fast.steering_control
            _from, _to, lane_id = v.lane_index
            for target in {v.lane_index, v.target_lane_index, (_from, _to, max(lane_id - 1, 0))}:
                assert v.steering_control(target) == ControlledVehicle.steering_control(v, target)
            if type(v) is IDMVehicle:
                assert v.act.__func__ is highway_fast.act
                front, rear = road.neighbour_vehicles(v, v.lane_index)
                for ego, ahead in ((v, front), (v, None), (rear, v), (env.sim.vehicle, v)):
                    fast = highway_fast.acceleration(v, ego_vehicle=ego, front_vehicle=ahead)
                    assert fast == IDMVehicle.acceleration(v, ego_vehicle=ego, front_vehicle=ahead)
            checked += 1
    assert checked > 500


def test_the_collision_step_matches_highway_env_state_by_state():
    """From every state of random-action episodes (crashes included), one step of the road with the pairs within
    reach only and one with highway-env's loop over every pair leave every vehicle in the same state."""
    import copy

    from highway_env.road.road import Road

    def state(road):
        return [(*v.position.tolist(), float(v.heading), float(v.speed), v.crashed,
                 None if v.impact is None else v.impact.tolist()) for v in road.vehicles]

    collided = 0
    for env in _states(episodes=3, seed=11):
        fast, slow = copy.deepcopy(env.sim.road), copy.deepcopy(env.sim.road)
        assert fast.step.__func__ is highway_fast.road_step
        fast.step(0.2)  # each vehicle goes on with the action it last chose
        Road.step(slow, 0.2)
        assert state(fast) == state(slow)
        collided += any(v.impact is not None for v in fast.vehicles)
    assert collided  # some steps found vehicles about to collide


def test_the_sorted_neighbour_search_breaks_ties_as_the_loop_does():
    """Equal coordinates are rare on the road, so the tie rules of the search a held road uses are checked here
    against the rule of highway-env's loop (the last of the nearest ahead, the first of the nearest behind)."""
    rng = np.random.default_rng(0)
    for _ in range(5000):
        n = int(rng.integers(1, 8))
        lon, on = rng.integers(0, 4, size=n).astype(float), rng.random(n) < 0.8
        me = int(rng.integers(-1, n))
        me = None if me < 0 else me
        s = float(rng.integers(0, 4)) + float(rng.choice([0.0, 0.5]))
        rows = np.flatnonzero(on)
        order = rows[np.lexsort((rows, lon[rows]))]
        kept = on.copy()
        if me is not None:
            kept[me] = False
        ahead, behind = np.flatnonzero(kept & (s <= lon)), np.flatnonzero(kept & (lon < s))
        want = (int(ahead[lon[ahead] == lon[ahead].min()][-1]) if len(ahead) else None,
                int(behind[lon[behind] == lon[behind].max()][0]) if len(behind) else None)
        assert highway_fast._nearest(lon[order].tolist(), order.tolist(), s, me) == want


def test_clip_is_numpys_clip_of_one_number():
    values = [-2.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.0, float("inf"), -float("inf"), np.float64(0.7), 3]
    for lo, hi in ((-1, 1), (0, 20), (-0.0, 0.0), (0.0, 0.0), (-np.pi / 4, np.pi / 4)):
        for x in values:
            fast, slow = highway_fast._clip(x, lo, hi), np.clip(x, lo, hi)
            assert fast == slow and np.signbit(fast) == np.signbit(slow), (x, lo, hi)
    assert np.isnan(highway_fast._clip(float("nan"), -1, 1))


def test_an_oblique_lane_keeps_highway_env_code():
    """The float equivalents are exact only on axis-aligned lanes; any other lane keeps highway-env's methods."""
    from highway_env.road.lane import StraightLane

    oblique, aligned = StraightLane([0.0, 0.0], [300.0, 40.0]), StraightLane([0.0, 4.0], [500.0, 4.0])
    assert not highway_fast._prepare_lane(oblique) and "local_coordinates" not in oblique.__dict__
    assert highway_fast._prepare_lane(aligned) and aligned.local_coordinates.__func__ is highway_fast.local_coordinates


def test_every_vehicle_follows_the_same_path_with_and_without(monkeypatch):
    """A whole episode, every vehicle's position, heading and speed after every decision, bit for bit."""
    def states(enabled: bool):
        monkeypatch.setattr(highway_fast, "ENABLED", enabled)
        env = HighwayEnv()
        policy = random_policy(4)
        obs, info = env.reset(seed=9)
        out, done = [], False
        while not done:
            obs, _, term, trunc, info = env.step(policy(obs, info["legal"]))
            done = term or trunc
            out.append([(*v.position.tolist(), float(v.heading), float(v.speed), v.lane_index, v.crashed)
                        for v in env.sim.road.vehicles])
        env.close()
        return out

    fast, slow = states(True), states(False)
    assert len(fast) > 5 and fast == slow


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

    from highway_env.road.road import Road

    env = HighwayEnv()
    env.reset(seed=1)
    back = pickle.loads(pickle.dumps(env.sim))
    assert back.road.neighbour_vehicles.__func__ is not highway_fast.neighbour_vehicles
    assert back.road.act.__func__ is not highway_fast.road_act
    assert back.road.vehicles[1].act.__func__ is not highway_fast.act
    twin = copy.deepcopy(env.sim)
    assert twin.road.neighbour_vehicles.__func__ is highway_fast.neighbour_vehicles
    assert twin.road.neighbour_vehicles.__self__ is twin.road  # bound to the copy, not the original
    assert twin.road.act.__func__ is highway_fast.road_act and twin.road.act.__self__ is twin.road
    assert twin.road.vehicles[1].act.__self__ is twin.road.vehicles[1]
    with highway_fast.held_still(env.sim.road):  # a copy made while the road acts searches its own positions
        held = copy.deepcopy(env.sim)
    held.road.step(1.0)  # the copy's vehicles move on (their last actions), without acting
    for v in held.road.vehicles:
        assert held.road.neighbour_vehicles(v) == Road.neighbour_vehicles(held.road, v)
    for sim in (back, twin):
        obs, *_ = sim.step(1)
        assert obs.shape == (5, 5)
    env.close()
