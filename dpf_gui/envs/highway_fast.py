"""Faster equivalents of highway-env's hottest paths, with the same results to the last bit.

An evaluated highway decision spends most of its time in highway-env's Python: every simulated vehicle
looks for its neighbours in each substep (``Road.neighbour_vehicles``, one ``local_coordinates`` call per
other vehicle and lane), finds its lane (``RoadNetwork.get_closest_lane_index``, a distance to every lane),
steers and accelerates with ``np.clip`` on single floats (about 5 us a call, six calls a vehicle and
substep), and the Kinematics observation is built through pandas. Here the neighbour search is done with
numpy over all vehicles at once, lane coordinates and distances on Python floats, the scalar clips without
numpy's call, and the observation with a plain array.

Every number is the one highway-env computes: lane coordinates are taken only on straight lanes along an
axis (direction (1, 0), (0, 1) or their negatives), where a length-2 ``np.dot`` has one exact product and
one exact zero, so any order of summation, fused or not, gives the same bits (on an oblique lane it need
not: numpy's dot differs from ``x0 * d0 + x1 * d1`` in the last bit for about a quarter of random vectors on
an AVX-512 machine); a scalar clip keeps numpy's rules for NaN, ties and signed zeros;
the rest keeps numpy's own functions (``arcsin``, ``power``: their results can depend on the CPU) and the
loops' order and tie-breaking. So an episode is the same episode: tests/test_highway_fast.py compares
every equivalent against highway-env's own code, state by state.

They are used only with the highway-env versions they were checked against (:data:`CHECKED_VERSIONS`) and
only for what they cover (axis-aligned straight lanes, no obstacles, no connected-lane search, IDM and
controlled vehicles of highway-env's own classes, the Kinematics observation as this project configures
it); anything else keeps highway-env's code.
"""

from __future__ import annotations

import bisect
import contextlib
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
    Road = _highway_classes()[1]
    lane_index = lane_index or vehicle.lane_index
    if not lane_index:
        return None, None
    lane = road.network.get_lane(lane_index)
    if road.neighbour_vehicles_connected_lanes or road.objects or _axes(lane) is None:
        return Road.neighbour_vehicles(road, vehicle, lane_index)
    s = lane.local_coordinates(vehicle.position)[0]
    still = road.__dict__.get(_STILL_ATTR)
    if still is not None and still[0] == id(road):  # the road is acting: nothing moved since it was held
        _, vehicles, rows, positions, lanes = still
        if lane_index not in lanes:
            lanes[lane_index] = _lane_order(lane, positions)
        order, me = lanes[lane_index], rows.get(id(vehicle))
    else:  # not acting (or a copy made while its original acted)
        vehicles = road.vehicles
        if not vehicles:
            return None, None
        order = _lane_order(lane, np.array([v.position for v in vehicles], dtype=np.float64))
        me = next((i for i, v in enumerate(vehicles) if v is vehicle), None)
    front, rear = _nearest(*order, s, me)
    return (None if front is None else vehicles[front]), (None if rear is None else vehicles[rear])


def _along(lane, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each position's longitudinal coordinate on ``lane`` and whether ``Road.neighbour_vehicles`` counts it as
    on the lane (``lane.on_lane`` with a margin of one metre)."""
    delta = positions - lane.start
    lon = delta[:, 0] * lane.direction[0] + delta[:, 1] * lane.direction[1]
    lat = delta[:, 0] * lane.direction_lateral[0] + delta[:, 1] * lane.direction_lateral[1]
    on = (np.abs(lat) <= lane.width / 2 + 1) & (lon >= -lane.VEHICLE_LENGTH) & (lon < lane.length + lane.VEHICLE_LENGTH)
    return lon, on


def _lane_order(lane, positions: np.ndarray) -> tuple[list[float], list[int]]:
    """The rows of the positions on ``lane`` (as :func:`_along` counts them), by longitudinal coordinate and
    then row, and those coordinates (held, one sort per lane while the road acts)."""
    lon, on = _along(lane, positions)
    rows = np.flatnonzero(on)
    order = rows[np.lexsort((rows, lon[rows]))]
    return lon[order].tolist(), order.tolist()


def _nearest(lons: list[float], rows: list[int], s: float, me: int | None) -> tuple[int | None, int | None]:
    """The rows just ahead of (``s <= lon``) and just behind (``lon < s``) position ``s``, leaving out row
    ``me``, with ``Road.neighbour_vehicles``' tie-breaking: the last row of the nearest ones ahead, the first
    of the nearest ones behind."""
    front = rear = None
    start = bisect.bisect_left(lons, s)
    k = start
    while k < len(lons) and front is None:  # groups of equal coordinates, nearest first
        level = lons[k]
        while k < len(lons) and lons[k] == level:
            if rows[k] != me:
                front = rows[k]  # rows ascend within a group: the last one kept is the last row
            k += 1
    k = start - 1
    while k >= 0 and rear is None:
        level = lons[k]
        while k >= 0 and lons[k] == level:
            if rows[k] != me:
                rear = rows[k]  # walking back, rows descend: the last one kept is the first row
            k -= 1
    return front, rear


_STILL_ATTR = "_dpf_still"  # set on a road while it acts: its id, vehicles, their rows, positions, lanes seen


@contextlib.contextmanager
def held_still(road):
    """While in it, the neighbour searches on ``road`` use the vehicles' positions gathered once on entry (so
    nothing may move meanwhile)."""
    vehicles = list(road.vehicles)
    positions = np.array([v.position for v in vehicles], dtype=np.float64).reshape(len(vehicles), 2)
    road.__dict__[_STILL_ATTR] = (id(road), vehicles, {id(v): i for i, v in enumerate(vehicles)}, positions, {})
    try:
        yield
    finally:
        del road.__dict__[_STILL_ATTR]


def road_act(road) -> None:
    """``Road.act`` with the road held still: while the vehicles choose their actions nothing moves (they
    move in ``Road.step``)."""
    with held_still(road):
        _highway_classes()[1].act(road)


road_act.__name__ = "act"  # the name of the method it stands for (see speed_up)


#: metres added to the collision check's reach before a pair is skipped: far more than any rounding of a distance
COLLISION_SLACK = 0.01


def road_step(road, dt: float) -> None:
    """``Road.step``: every vehicle moves, then each pair is checked for a collision, in the same order, but
    only the pairs within reach: ``_is_colliding`` returns "no" without touching anything for two vehicles
    farther apart than half their diagonals plus the first one's travel in ``dt``, so skipping those (with
    :data:`COLLISION_SLACK` to spare) changes nothing."""
    vehicles = road.vehicles
    if road.objects or len(vehicles) < 2:
        _highway_classes()[1].step(road, dt)
        return
    for vehicle in vehicles:
        vehicle.step(dt)
    positions = np.array([v.position for v in vehicles], dtype=np.float64)
    half = np.array([v.diagonal for v in vehicles], dtype=np.float64) / 2
    travel = np.array([v.speed for v in vehicles], dtype=np.float64) * dt
    delta = positions[None, :, :] - positions[:, None, :]
    distance = np.sqrt(delta[..., 0] ** 2 + delta[..., 1] ** 2)
    near = distance <= half[:, None] + half[None, :] + travel[:, None] + COLLISION_SLACK
    for i, j in zip(*np.nonzero(np.triu(near, 1)), strict=True):  # row by row: the loops' order
        vehicles[i].handle_collisions(vehicles[j], dt)


road_step.__name__ = "step"  # the name of the method it stands for (see speed_up)


AXES = ((1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0))
_AXES_ATTR = "_dpf_axes"  # set on a lane by speed_up: its start, direction and lateral direction as floats


def _axes(lane) -> tuple[float, ...] | None:
    """A prepared axis-aligned straight lane's (start x, start y, direction x, y, lateral x, y); else None."""
    return lane.__dict__.get(_AXES_ATTR)


def _prepare_lane(lane) -> bool:
    """Mark ``lane`` for the float equivalents when it is a straight lane along an axis (see the module's
    docstring: only there are they exact); returns whether it was."""
    StraightLane = _highway_classes()[0]
    if type(lane) is not StraightLane or tuple(lane.direction.tolist()) not in AXES:
        return False
    lane.__dict__[_AXES_ATTR] = (*lane.start.astype(np.float64).tolist(), *lane.direction.tolist(),
                                 *lane.direction_lateral.tolist())
    lane.local_coordinates = local_coordinates.__get__(lane)
    return True


def local_coordinates(lane, position) -> tuple[float, float]:
    """``StraightLane.local_coordinates`` on Python floats (exact on an axis-aligned lane)."""
    s0, s1, d0, d1, e0, e1 = lane.__dict__[_AXES_ATTR]
    x, y = position.tolist() if isinstance(position, np.ndarray) else position
    x = x - s0
    y = y - s1
    return float(x * d0 + y * d1), float(x * e0 + y * e1)


def get_closest_lane_index(network, position, heading=None):
    """``RoadNetwork.get_closest_lane_index``: the lane with the least ``distance_with_heading``, the first of
    equal ones (``np.argmin``), computed on floats in highway-env's order of operations."""
    lanes = network.__dict__.get(_LANES_ATTR)
    if lanes is None:  # lanes added after speed_up: highway-env's own search
        return type(network).get_closest_lane_index(network, position, heading)
    x, y = position.tolist() if isinstance(position, np.ndarray) else position
    best, best_index = None, None
    for index, (s0, s1, d0, d1, e0, e1), length, lane_heading in lanes:
        dx = x - s0
        dy = y - s1
        s = float(dx * d0 + dy * d1)
        r = float(dx * e0 + dy * e1)
        distance = abs(r) + max(s - length, 0) + max(0 - s, 0)
        if heading is not None:
            distance = distance + 1.0 * np.abs(((heading - lane_heading + np.pi) % (2 * np.pi)) - np.pi)
        if best is None or distance < best:
            best, best_index = distance, index
    return best_index


_LANES_ATTR = "_dpf_lanes"  # set on a road network by speed_up when every lane is prepared


def _prepare_network(network) -> None:
    """Prepare every lane; when all are axis-aligned straight lanes, route the closest-lane search too."""
    lanes = [((_from, _to, _id), lane) for _from, to_dict in network.graph.items()
             for _to, lanes_ in to_dict.items() for _id, lane in enumerate(lanes_)]
    prepared = [_prepare_lane(lane) for _, lane in lanes]  # every lane, even after one that is not
    if lanes and all(prepared):
        network.__dict__[_LANES_ATTR] = [(index, _axes(lane), lane.length, lane.heading) for index, lane in lanes]
        network.get_closest_lane_index = get_closest_lane_index.__get__(network)


def _clip(x, lo, hi):
    """``np.clip`` of one number without numpy's call: NaN passes through, and ``x`` is kept unless it is
    strictly outside the bounds (so ``-0.0`` clipped to ``[0, 20]`` stays ``-0.0``, as with numpy)."""
    if x != x:
        return x
    low = float(lo) if x < lo else x
    return float(hi) if low > hi else low


def steering_control(vehicle, target_lane_index) -> float:
    """``ControlledVehicle.steering_control`` with its four clips on floats."""
    target_lane = vehicle.road.network.get_lane(target_lane_index)
    lane_coords = target_lane.local_coordinates(vehicle.position)
    lane_next_coords = lane_coords[0] + vehicle.speed * vehicle.TAU_PURSUIT
    lane_future_heading = target_lane.heading_at(lane_next_coords)
    not_zero, wrap_to_pi = _utils().not_zero, _utils().wrap_to_pi
    lateral_speed_command = -vehicle.KP_LATERAL * lane_coords[1]
    heading_command = np.arcsin(_clip(lateral_speed_command / not_zero(vehicle.speed), -1, 1))
    heading_ref = lane_future_heading + _clip(heading_command, -np.pi / 4, np.pi / 4)
    heading_rate_command = vehicle.KP_HEADING * wrap_to_pi(heading_ref - vehicle.heading)
    slip_angle = np.arcsin(_clip(vehicle.LENGTH / 2 / not_zero(vehicle.speed) * heading_rate_command, -1, 1))
    steering_angle = np.arctan(2 * np.tan(slip_angle))
    steering_angle = _clip(steering_angle, -vehicle.MAX_STEERING_ANGLE, vehicle.MAX_STEERING_ANGLE)
    return float(steering_angle)


def act(vehicle, action=None) -> None:
    """``IDMVehicle.act`` (MOBIL, then IDM) with its clips on floats."""
    if vehicle.crashed:
        return
    action = {}
    vehicle.follow_road()
    if vehicle.enable_lane_change:
        vehicle.change_lane_policy()
    action["steering"] = _clip(vehicle.steering_control(vehicle.target_lane_index), -vehicle.MAX_STEERING_ANGLE,
                               vehicle.MAX_STEERING_ANGLE)
    front_vehicle, rear_vehicle = vehicle.road.neighbour_vehicles(vehicle, vehicle.lane_index)
    action["acceleration"] = vehicle.acceleration(ego_vehicle=vehicle, front_vehicle=front_vehicle,
                                                  rear_vehicle=rear_vehicle)
    if vehicle.lane_index != vehicle.target_lane_index:  # changing lane: mind both lanes
        front_vehicle, rear_vehicle = vehicle.road.neighbour_vehicles(vehicle, vehicle.target_lane_index)
        target_idm_acceleration = vehicle.acceleration(ego_vehicle=vehicle, front_vehicle=front_vehicle,
                                                       rear_vehicle=rear_vehicle)
        action["acceleration"] = min(action["acceleration"], target_idm_acceleration)
    action["acceleration"] = _clip(action["acceleration"], -vehicle.ACC_MAX, vehicle.ACC_MAX)
    _vehicle_classes()[0].act(vehicle, action)  # Vehicle.act: ControlledVehicle.act would override it


def acceleration(vehicle, ego_vehicle, front_vehicle=None, rear_vehicle=None):
    """``IDMVehicle.acceleration`` (the Intelligent Driver Model) with its clip on floats."""
    Vehicle = _vehicle_classes()[0]
    if not ego_vehicle or not isinstance(ego_vehicle, Vehicle):
        return 0
    not_zero = _utils().not_zero
    ego_target_speed = getattr(ego_vehicle, "target_speed", 0)
    if ego_vehicle.lane and ego_vehicle.lane.speed_limit is not None:
        ego_target_speed = _clip(ego_target_speed, 0, ego_vehicle.lane.speed_limit)
    accel = vehicle.COMFORT_ACC_MAX * (
        1 - np.power(max(ego_vehicle.speed, 0) / abs(not_zero(ego_target_speed)), vehicle.DELTA))
    if front_vehicle:
        d = ego_vehicle.lane_distance_to(front_vehicle)
        accel -= vehicle.COMFORT_ACC_MAX * np.power(vehicle.desired_gap(ego_vehicle, front_vehicle) / not_zero(d), 2)
    return accel


@functools.cache
def _utils():
    from highway_env import utils

    return utils


@functools.cache
def _vehicle_classes() -> tuple[type, type, type]:
    """highway-env's Vehicle, ControlledVehicle and IDMVehicle, imported on first use."""
    from highway_env.vehicle.behavior import IDMVehicle
    from highway_env.vehicle.controller import ControlledVehicle
    from highway_env.vehicle.kinematics import Vehicle

    return Vehicle, ControlledVehicle, IDMVehicle


def _prepare_vehicle(vehicle) -> None:
    """Route a vehicle's steering (and an IDM vehicle's act and acceleration) through the float equivalents,
    where its class uses highway-env's own methods."""
    _, ControlledVehicle, IDMVehicle = _vehicle_classes()
    cls = type(vehicle)
    if isinstance(vehicle, ControlledVehicle) and cls.steering_control is ControlledVehicle.steering_control:
        vehicle.steering_control = steering_control.__get__(vehicle)
    if isinstance(vehicle, IDMVehicle) and cls.act is IDMVehicle.act and cls.acceleration is IDMVehicle.acceleration:
        vehicle.act = act.__get__(vehicle)
        vehicle.acceleration = acceleration.__get__(vehicle)


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
    """Route a freshly reset highway-env environment's neighbour search, lane geometry, vehicle control and
    observation through the equivalents above (per instance; a reset makes a new road, vehicles and
    observation type, so call it after each).

    The functions bear the names of the methods they stand for: a pickled road or observation type is
    unpickled with highway-env's own methods (pickle stores a bound method as its object and name), and a
    deep copy keeps the faster ones."""
    road, kin = sim.road, sim.observation_type
    road.neighbour_vehicles = neighbour_vehicles.__get__(road)
    if type(road).act is _highway_classes()[1].act:
        road.act = road_act.__get__(road)
    if type(road).step is _highway_classes()[1].step:
        road.step = road_step.__get__(road)
    _prepare_network(road.network)
    for vehicle in road.vehicles:
        _prepare_vehicle(vehicle)
    if covers_observation(kin):
        kin.observe = observe.__get__(kin)


__all__ = [
    "AXES",
    "CHECKED_VERSIONS",
    "COLLISION_SLACK",
    "ENABLED",
    "acceleration",
    "act",
    "available",
    "covers_observation",
    "get_closest_lane_index",
    "held_still",
    "local_coordinates",
    "neighbour_vehicles",
    "observe",
    "road_act",
    "road_step",
    "speed_up",
    "steering_control",
]
