"""Highway driving: highway-env's ``highway-fast-v0`` behind the dpf-gui surface.

Set up as in the paper: 4 lanes, 50 decisions per episode (``duration`` 50 s at
``policy_frequency`` 1 Hz), ``right_lane_reward`` 0, and a Kinematics
observation of the ego vehicle plus its 4 nearest neighbours (presence, x, y,
vx, vy; relative, sorted, normalised) with the ego lane appended: 26 features.

Lanes are numbered as highway-env does: lane 0 is the leftmost lane in the
driving direction, drawn at the top of the frame (traffic drives to the right);
``LANE_LEFT`` lowers the lane index.

Lane changes in progress: highway-env applies ``LANE_LEFT``/``LANE_RIGHT`` to
the vehicle's *target* lane, so the legal mask looks at the target lane (a
change off the road from there would be a silent no-op). The observed
``ego_lane`` feature and the ``lane`` region feature are the lane the car is
physically in (``vehicle.lane_index``), since that is where a person sees it.
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np

from dpf_gui.envs.base import DPFEnv, EnvSpec, Preset, RegionFeature

ACTIONS: tuple[str, ...] = ("LANE_LEFT", "IDLE", "LANE_RIGHT", "FASTER", "SLOWER")  # DiscreteMetaAction order
LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER = range(5)
N_LANES = 4
N_VEHICLES = 5
KIN_FEATURES: tuple[str, ...] = ("presence", "x", "y", "vx", "vy")
FEATURES: tuple[str, ...] = tuple(
    f"v{i}_{f}" for i in range(N_VEHICLES) for f in KIN_FEATURES
) + ("ego_lane",)

# Fixed because the static spec (feature names) depends on it.
OBSERVATION: dict[str, Any] = {
    "type": "Kinematics",
    "vehicles_count": N_VEHICLES,
    "features": list(KIN_FEATURES),
    "absolute": False,
    "order": "sorted",
    "normalize": True,
}

# highway-env overrides a user may change (keys outside this dict are refused).
HIGHWAY_DEFAULTS: dict[str, Any] = {
    "lanes_count": N_LANES,  # fixed: the lane region and presets assume 4 lanes
    "duration": 50,  # [s]; with policy_frequency 1 this is 50 decisions
    "policy_frequency": 1,
    "simulation_frequency": 5,
    "vehicles_count": 20,
    "vehicles_density": 1.0,
    "initial_lane_id": None,  # None: random start lane
    "ego_spacing": 1.5,
    "collision_reward": -1.0,
    "right_lane_reward": 0.0,
    "high_speed_reward": 0.4,
    "lane_change_reward": 0.0,
    "reward_speed_range": [20, 30],
    "normalize_reward": True,
    "screen_width": 600,
    "screen_height": 150,
    "scaling": 5.5,
    "centering_position": [0.3, 0.5],
}


class HighwayEnv(DPFEnv):
    """Four-lane highway; the person's wish is about the ego lane (and speed)."""

    spec_info = EnvSpec(
        name="highway",
        title="Highway",
        action_names=ACTIONS,
        feature_names=FEATURES,
        region_features=(
            RegionFeature("lane", "int", 0, N_LANES - 1, description="ego lane, 0 = leftmost"),
            RegionFeature("speed", "float", 0, 40, description="ego speed [m/s]"),
        ),
        presets=(
            Preset("avoid", avoid=("lane=0",), description="keep out of the leftmost lane"),
            Preset("prefer", prefer=("lane=2",), description="drive in lane 2 (second from the right)"),
            Preset(
                "mixed",
                prefer=("lane=2",),
                avoid=("lane=0",),
                description="drive in lane 2, keep out of the leftmost lane",
            ),
        ),
        default_config={"highway": HIGHWAY_DEFAULTS},
        paper_temperatures={"T_phi": 0.6, "T_max": 5.0},  # the authors' first reported pair
    )

    def __init__(self, config: dict[str, Any] | None = None, render_mode: str | None = None):
        super().__init__(config, render_mode)
        hw = copy.deepcopy(self.config["highway"])
        if hw["lanes_count"] != N_LANES:
            raise ValueError(f"highway.lanes_count must be {N_LANES} (the lane region and presets assume it)")
        hw["observation"] = dict(OBSERVATION)
        hw["action"] = {"type": "DiscreteMetaAction"}
        import highway_env  # here, not at the top: reading the spec (the app's start) needs no simulator (~1 s)

        gym.register_envs(highway_env)
        # The simulator always renders offscreen so frame() works whatever render_mode is.
        self._sim = gym.make("highway-fast-v0", config=hw, render_mode="rgb_array").unwrapped
        self.action_space = gym.spaces.Discrete(len(ACTIONS))
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (len(FEATURES),), np.float32)
        self._kin = self._sim.observation_type.observe()

    # --- gymnasium API ---------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reseed, then reset the simulator with a seed drawn from our own RNG (so it replays)."""
        super().reset(seed=seed)
        inner_seed = int(self.np_random.integers(2**31 - 1))
        self._kin, _ = self._sim.reset(seed=inner_seed)
        return self._obs(), self._info(not self.crashed, crashed=self.crashed, speed=self.speed)

    def step(self, action):
        a = int(action)
        if not 0 <= a < len(ACTIONS):
            raise ValueError(f"action {a} out of range 0..{len(ACTIONS) - 1}")
        if not self.legal_actions()[a]:
            a = IDLE  # an off-road lane change is a no-op: make that explicit
        self._kin, reward, terminated, truncated, _ = self._sim.step(a)
        info = self._info(not self.crashed, crashed=self.crashed, speed=self.speed)
        return self._obs(), float(reward), bool(terminated), bool(truncated), info

    def close(self):
        # Drop the viewer without highway-env's pygame.quit(), which would break other pygame users.
        self._sim.viewer = None
        super().close()

    # --- adapter surface -------------------------------------------------
    def legal_actions(self) -> np.ndarray:
        """All actions, except a lane change off the road from the target lane."""
        mask = np.ones(len(ACTIONS), dtype=bool)
        target = int(self._sim.vehicle.target_lane_index[2])
        mask[LANE_LEFT] = target > 0
        mask[LANE_RIGHT] = target < N_LANES - 1
        return mask

    def region_values(self) -> np.ndarray:
        return np.array([self.lane, self.speed], dtype=np.float32)

    def frame(self) -> np.ndarray:
        """Offscreen RGB frame; drawing only reads the simulation state."""
        sim = self._sim
        if sim.viewer is None:
            from highway_env.envs.common.graphics import EnvViewer

            sim.viewer = EnvViewer(sim)
            sim.viewer.enabled = True  # highway-env draws nothing under SDL's dummy driver otherwise
            sim.viewer.observer_vehicle = _Camera(sim)
        sim.viewer.display()
        # render() would also switch on per-substep rendering inside step(): costly and unused here.
        sim.enable_auto_render = False
        return np.ascontiguousarray(sim.viewer.get_image(), dtype=np.uint8)

    # --- extras for the app ----------------------------------------------
    @property
    def lane(self) -> int:
        """Lane the ego car is in (0 = leftmost)."""
        return int(self._sim.vehicle.lane_index[2])

    @property
    def speed(self) -> float:
        """Ego speed [m/s]."""
        return float(self._sim.vehicle.speed)

    @property
    def crashed(self) -> bool:
        return bool(self._sim.vehicle.crashed)

    @property
    def sim(self):
        """The underlying highway-env environment (read it; stepping it directly breaks replay)."""
        return self._sim

    def observed_vehicles(self) -> list:
        """highway-env vehicles behind the observation rows (ego first), picked as Kinematics does."""
        sim, kin = self._sim, self._sim.observation_type
        ego = sim.vehicle
        others = sim.road.close_objects_to(
            ego,
            sim.PERCEPTION_DISTANCE,
            count=N_VEHICLES - 1,
            see_behind=kin.see_behind,
            sort=kin.order == "sorted",
            vehicles_only=not kin.include_obstacles,
        )
        return [ego, *others]

    def vehicle_screen_positions(self) -> list[tuple[int, int] | None]:
        """Pixel (x, y) in frame() of each observation row's vehicle, None for an empty row.

        Same camera as frame() (see :class:`_Camera`); vehicles far ahead or
        behind may lie outside the frame. Computed without rendering.
        """
        hw = self.config["highway"]
        scale = float(hw["scaling"])
        cx, cy = hw["centering_position"]
        half = np.array([cx * hw["screen_width"], cy * hw["screen_height"]]) / scale
        origin = _Camera(self._sim).position - half
        out: list[tuple[int, int] | None] = [None] * N_VEHICLES
        for i, v in enumerate(self.observed_vehicles()):
            out[i] = (int((v.position[0] - origin[0]) * scale), int((v.position[1] - origin[1]) * scale))
        return out

    # --- helpers ---------------------------------------------------------
    def _obs(self) -> np.ndarray:
        ego_lane = self.lane / (N_LANES - 1)
        return np.append(np.asarray(self._kin, np.float32).ravel(), ego_lane).astype(np.float32)


class _Camera:
    """Where the frame looks: level with the ego car, vertically on the road's middle.

    highway-env centres on the ego car, which shifts the lanes up and down the
    frame; holding the road still keeps all four lanes in view and in place.
    """

    def __init__(self, sim):
        self.sim = sim

    @property
    def position(self) -> np.ndarray:
        from highway_env.road.lane import AbstractLane

        middle = (N_LANES - 1) * AbstractLane.DEFAULT_WIDTH / 2
        return np.array([self.sim.vehicle.position[0], middle])
