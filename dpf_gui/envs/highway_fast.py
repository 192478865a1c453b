"""Faster equivalents of highway-env's two hottest paths, with the same results to the last bit.

An evaluated highway decision spends most of its time in highway-env's Python: every simulated vehicle
looks for its neighbours in each substep (``Road.neighbour_vehicles``, one ``local_coordinates`` call per
other vehicle and lane) and the Kinematics observation is built through pandas. Here the neighbour search
is done with numpy over all vehicles at once and the observation with a plain array. Both compute every
number with the same floating-point operations in the same order (a length-2 ``np.dot`` is
``x0 * d0 + x1 * d1``; the observation's linear map and clip are elementwise), and break ties the way the
original loops do, so an episode is the same episode: tests/test_highway_fast.py compares both against
highway-env's own code, state by state.

They are used only with the highway-env versions they were checked against (:data:`CHECKED_VERSIONS`) and
only for what they cover (straight lanes, no obstacles, no connected-lane search, the Kinematics observation
as this project configures it); anything else keeps highway-env's code.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

CHECKED_VERSIONS = ("1.12.1",)
ENABLED = True  # False: highway-env's own code (bench/highway_speed.py compares the two)


def available() -> bool:
    """Whether the installed highway-env is one these equivalents were checked against."""
    import highway_env

    return getattr(highway_env, "__version__", None) in CHECKED_VERSIONS


@functools.cache
def _highway_classes() -> tuple[type, type]:
    """highway-env's StraightLane and Road, imported on first use (reading the spec needs no simulator) and
    not on every neighbour search (tens of thousands an episode batch)."""
    from highway_env.road.lane import StraightLane
    from highway_env.road.road import Road

    return StraightLane, Road


def neighbour_vehicles(road, vehicle, lane_index=None):
    """``Road.neighbour_vehicles``: the vehicles just ahead of and just behind ``vehicle`` on a lane."""
    StraightLane, Road = _highway_classes()
    lane_index = lane_index or vehicle.lane_index
    if not lane_index:
        return None, None
    lane = road.network.get_lane(lane_index)
    if road.neighbour_vehicles_connected_lanes or road.objects or type(lane) is not StraightLane:
        return Road.neighbour_vehicles(road, vehicle, lane_index)
    s = lane.local_coordinates(vehicle.position)[0]
    others = [v for v in road.vehicles if v is not vehicle]
    if not others:
        return None, None
    delta = np.array([v.position for v in others], dtype=np.float64) - lane.start
    lon = delta[:, 0] * lane.direction[0] + delta[:, 1] * lane.direction[1]
    lat = delta[:, 0] * lane.direction_lateral[0] + delta[:, 1] * lane.direction_lateral[1]
    on = (np.abs(lat) <= lane.width / 2 + 1) & (lon >= -lane.VEHICLE_LENGTH) & (lon < lane.length + lane.VEHICLE_LENGTH)
    front = np.flatnonzero(on & (s <= lon))
    rear = np.flatnonzero(on & (lon < s))
    v_front = v_rear = None
    if len(front):  # the loop keeps the last of equal nearest ones ahead ("<=") ...
        best = lon[front].min()
        v_front = others[front[lon[front] == best][-1]]
    if len(rear):  # ... and the first of equal nearest ones behind (">")
        best = lon[rear].max()
        v_rear = others[rear[lon[rear] == best][0]]
    return v_front, v_rear


def observe(kin) -> np.ndarray:
    """``KinematicObservation.observe`` for relative, sorted, normalised, clipped presence/x/y/vx/vy rows."""
    env, ego = kin.env, kin.observer_vehicle
    if not env.road:
        return np.zeros(kin.space().shape)
    close = env.road.close_objects_to(ego, env.PERCEPTION_DISTANCE, count=kin.vehicles_count - 1,
                                      see_behind=kin.see_behind, sort=kin.order == "sorted",
                                      vehicles_only=not kin.include_obstacles)
    ex, ey = ego.position[0], ego.position[1]
    evx, evy = ego.velocity[0], ego.velocity[1]
    rows = [[1.0, ex, ey, evx, evy]]
    for v in close[-kin.vehicles_count + 1:] if close else ():
        vel = v.velocity
        rows.append([1.0, v.position[0] - ex, v.position[1] - ey, vel[0] - evx, vel[1] - evy])
    obs = np.array(rows, dtype=np.float64)
    if not kin.features_range:
        _default_ranges(kin)
    for col, name in enumerate(kin.features):
        if name in kin.features_range:
            lo, hi = kin.features_range[name]
            obs[:, col] = -1 + (obs[:, col] - lo) * 2 / (hi - lo)  # utils.lmap to [-1, 1]
            if kin.clip:
                obs[:, col] = np.clip(obs[:, col], -1, 1)
    if len(obs) < kin.vehicles_count:
        obs = np.concatenate([obs, np.zeros((kin.vehicles_count - len(obs), obs.shape[1]))])
    return obs.astype(kin.space().dtype)


def _default_ranges(kin) -> None:
    """The feature ranges KinematicObservation.normalize_obs sets on its first call."""
    from highway_env.road.lane import AbstractLane
    from highway_env.vehicle.kinematics import Vehicle

    side_lanes = kin.env.road.network.all_side_lanes(kin.observer_vehicle.lane_index)
    kin.features_range = {
        "x": [-5.0 * Vehicle.MAX_SPEED, 5.0 * Vehicle.MAX_SPEED],
        "y": [-AbstractLane.DEFAULT_WIDTH * len(side_lanes), AbstractLane.DEFAULT_WIDTH * len(side_lanes)],
        "vx": [-2 * Vehicle.MAX_SPEED, 2 * Vehicle.MAX_SPEED],
        "vy": [-2 * Vehicle.MAX_SPEED, 2 * Vehicle.MAX_SPEED],
    }


def covers_observation(kin) -> bool:
    """Whether :func:`observe` stands for this observation type's ``observe``."""
    from highway_env.envs.common.observation import KinematicObservation

    return (type(kin) is KinematicObservation and list(kin.features) == ["presence", "x", "y", "vx", "vy"]
            and not kin.absolute and kin.order == "sorted" and kin.normalize and not kin.observe_intentions)


def speed_up(sim: Any) -> None:
    """Route a freshly reset highway-env environment's neighbour search and observation through the
    equivalents above (per instance; a reset makes a new road and observation type, so call it after each).

    The functions bear the names of the methods they stand for: a pickled road or observation type is
    unpickled with highway-env's own methods (pickle stores a bound method as its object and name), and a
    deep copy keeps the faster ones."""
    road, kin = sim.road, sim.observation_type
    road.neighbour_vehicles = neighbour_vehicles.__get__(road)
    if covers_observation(kin):
        kin.observe = observe.__get__(kin)


__all__ = [
    "CHECKED_VERSIONS",
    "ENABLED",
    "available",
    "covers_observation",
    "neighbour_vehicles",
    "observe",
    "speed_up",
]
