"""Trajectory datasets: what a person labels and what the intent model learns from.

One format for every environment (documented in docs/DATA.md): a single
``.npz`` file (no pickles) holding all trajectories concatenated, with per
trajectory offsets, plus a JSON metadata string. A trajectory of ``T`` decisions
has ``T + 1`` states (the start state and the state after every decision) and
``T`` actions and rewards. Each stored state carries its feature vector, its
legal-action mask and its region-feature values, so labelling never needs to
re-simulate; the reset seed and the actions are enough to replay it to frames.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dpf_gui.envs.base import RegionFeature
from dpf_gui.errors import UserError
from dpf_gui.fileio import write_atomic

FORMAT = "dpf-trajectories"
FORMAT_VERSION = 1

_STATE_ARRAYS = ("features", "legal", "regions")  # T + 1 rows per trajectory
_STEP_ARRAYS = ("actions", "rewards")  # T rows per trajectory
_TRAJ_ARRAYS = ("lengths", "seeds", "terminated", "success", "episodes")


@dataclass
class Trajectory:
    """One episode: ``T`` decisions, ``T + 1`` states."""

    features: np.ndarray  # (T+1, F) float32
    actions: np.ndarray  # (T,) int64
    rewards: np.ndarray  # (T,) float32
    legal: np.ndarray  # (T+1, A) bool
    regions: np.ndarray  # (T+1, R) float32
    seed: int
    terminated: bool
    success: bool
    episode: int = 0  # index in the run that produced it (e.g. training episode)

    @property
    def length(self) -> int:
        return len(self.actions)

    @property
    def task_return(self) -> float:
        return float(self.rewards.sum())


@dataclass
class TrajectoryDataset:
    """A collection of trajectories of one environment, stored concatenated."""

    meta: dict[str, Any]
    features: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    legal: np.ndarray
    regions: np.ndarray
    lengths: np.ndarray
    seeds: np.ndarray
    terminated: np.ndarray
    success: np.ndarray
    episodes: np.ndarray
    _state_offsets: np.ndarray = field(init=False, repr=False)
    _step_offsets: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.lengths = np.asarray(self.lengths, dtype=np.int64)
        self._step_offsets = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)
        self._state_offsets = np.concatenate([[0], np.cumsum(self.lengths + 1)]).astype(np.int64)
        if len(self.actions) != self._step_offsets[-1] or len(self.features) != self._state_offsets[-1]:
            raise UserError("trajectory dataset is inconsistent: array sizes do not match the stored lengths")

    # --- construction ----------------------------------------------------
    @classmethod
    def from_trajectories(cls, meta: dict[str, Any], trajectories: Sequence[Trajectory]) -> TrajectoryDataset:
        n_f = len(meta["feature_names"])
        n_a = len(meta["action_names"])
        n_r = len(meta["region_names"])

        def cat(name: str, dtype, width: int | None) -> np.ndarray:
            parts = [getattr(t, name) for t in trajectories]
            if parts:
                return np.concatenate(parts).astype(dtype)
            return np.zeros((0, width) if width else (0,), dtype=dtype)

        return cls(
            meta=dict(meta),
            features=cat("features", np.float32, n_f),
            actions=cat("actions", np.int64, None),
            rewards=cat("rewards", np.float32, None),
            legal=cat("legal", bool, n_a),
            regions=cat("regions", np.float32, n_r),
            lengths=np.array([t.length for t in trajectories], dtype=np.int64),
            seeds=np.array([t.seed for t in trajectories], dtype=np.int64),
            terminated=np.array([t.terminated for t in trajectories], dtype=bool),
            success=np.array([t.success for t in trajectories], dtype=bool),
            episodes=np.array([t.episode for t in trajectories], dtype=np.int64),
        )

    # --- access ------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> Trajectory:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i = i % len(self)
        s0, s1 = self._state_offsets[i], self._state_offsets[i + 1]
        a0, a1 = self._step_offsets[i], self._step_offsets[i + 1]
        return Trajectory(
            features=self.features[s0:s1],
            actions=self.actions[a0:a1],
            rewards=self.rewards[a0:a1],
            legal=self.legal[s0:s1],
            regions=self.regions[s0:s1],
            seed=int(self.seeds[i]),
            terminated=bool(self.terminated[i]),
            success=bool(self.success[i]),
            episode=int(self.episodes[i]),
        )

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    @property
    def env_name(self) -> str:
        return self.meta["env"]

    @property
    def env_config(self) -> dict[str, Any]:
        return self.meta["env_config"]

    @property
    def region_features(self) -> tuple[RegionFeature, ...]:
        """The region features (with the ranges of this data's environment config)."""
        return tuple(RegionFeature.from_dict(d) for d in self.meta["region_features"])

    def step_slice(self, i: int) -> slice:
        """Rows of trajectory ``i`` in the step arrays (actions, rewards, marks)."""
        return slice(int(self._step_offsets[i]), int(self._step_offsets[i + 1]))

    def state_slice(self, i: int) -> slice:
        """Rows of trajectory ``i`` in the state arrays (features, legal, regions)."""
        return slice(int(self._state_offsets[i]), int(self._state_offsets[i + 1]))

    def next_state_mask(self) -> np.ndarray:
        """Per stored state: whether a decision led to it (every state but the starts), so that the states it
        keeps line up with the step arrays."""
        keep = np.ones(len(self.features), dtype=bool)
        keep[self._state_offsets[:-1]] = False  # drop every start state
        return keep

    def next_state_regions(self) -> np.ndarray:
        """Region values of the state each decision led to, aligned with the step arrays.

        Simulated users mark a decision by where it took the agent, so a step's
        mark is a function of these rows.
        """
        return self.regions[self.next_state_mask()]

    def subset(self, indices: Iterable[int]) -> TrajectoryDataset:
        idx = [int(i) for i in indices]
        return TrajectoryDataset.from_trajectories(self.meta, [self[i] for i in idx])

    # --- files -------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        arrays = {name: getattr(self, name) for name in _STATE_ARRAYS + _STEP_ARRAYS + _TRAJ_ARRAYS}
        meta = dict(self.meta, format=FORMAT, format_version=FORMAT_VERSION, count=len(self))
        arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
        return save_npz_atomic(path, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike, expect_env: str | None = None) -> TrajectoryDataset:
        """Load and check a dataset file: every key, shape, dtype and value (see docs/DATA.md);
        anything wrong is a one-line :class:`UserError` naming the file and the problem."""
        arrays, meta = load_npz(path, FORMAT, "trajectory dataset")
        missing = [k for k in _STATE_ARRAYS + _STEP_ARRAYS + _TRAJ_ARRAYS if k not in arrays]
        if missing:
            raise UserError(f"{path}: not a dpf trajectory dataset (missing {', '.join(missing)})")
        if expect_env is not None and meta.get("env") != expect_env:
            raise UserError(f"{path}: dataset is for environment {meta.get('env')!r}, not {expect_env!r}")
        _check_meta(path, meta)
        return cls(meta=meta, **_checked_arrays(path, arrays, meta))

    def fingerprint(self) -> str:
        """sha256 over the actions, seeds and lengths: identifies the data a label file refers to."""
        h = hashlib.sha256()
        for arr in (self.lengths, self.seeds, self.actions):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()


#: dtype kind and number of dimensions of every stored array ("f": floating, "i": whole numbers, "b": bool)
_ARRAY_KINDS = {"features": ("f", 2), "legal": ("b", 2), "regions": ("f", 2), "actions": ("i", 1),
                "rewards": ("f", 1), "lengths": ("i", 1), "seeds": ("i", 1), "terminated": ("b", 1),
                "success": ("b", 1), "episodes": ("i", 1)}
_CANONICAL = {"f": np.float32, "i": np.int64, "b": np.bool_}
_KIND_WORDS = {"f": "numbers", "i": "whole numbers", "b": "true/false values"}
#: what a file of one of our formats is, said when it is given where the other is asked for (a label file as the
#: trajectories, say): the two are easy to mix up, both being .npz files the same commands take
FORMAT_HINTS = {FORMAT: ": this file holds trajectories; labels come from dpf label or the app's export",
                "dpf-labels": ": this file holds labels, not trajectories; give the trajectories it labels as the "
                              "dataset (a file, or an environment's name for its shipped trajectories)"}
_REGION_KINDS = ("int", "float", "category")


def _bad(path, what: str) -> UserError:
    return UserError(f"{path}: not a usable trajectory dataset ({what})")


def _check_meta(path, meta: dict[str, Any]) -> None:
    """The metadata a dataset needs: a known environment, its features and actions, typed region features."""
    from dpf_gui.envs import ENV_NAMES, env_spec

    env = meta.get("env")
    if env not in ENV_NAMES:
        raise _bad(path, f"meta env is {env!r}; known environments: {', '.join(ENV_NAMES)}")
    if not isinstance(meta.get("env_config"), dict):
        raise _bad(path, "meta env_config is not a JSON object")
    spec = env_spec(env)
    for key, want in (("feature_names", spec.feature_names), ("action_names", spec.action_names)):
        if meta.get(key) != list(want):
            raise _bad(path, f"meta {key} differ from {env}'s current ones {list(want)}; record the data again")
    rfs = meta.get("region_features")
    if not isinstance(rfs, list) or not all(_is_region_feature(d) for d in rfs):
        raise _bad(path, "meta region_features is not a list of {name, kind, low, high, categories}")
    names = [d["name"] for d in rfs]
    if names != [rf.name for rf in spec.region_features] or meta.get("region_names", names) != names:
        raise _bad(path, f"meta region features {names} differ from {env}'s {[rf.name for rf in spec.region_features]}")


def _is_region_feature(d: Any) -> bool:
    def number_or_none(x: Any) -> bool:
        return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x))

    return (isinstance(d, dict) and isinstance(d.get("name"), str) and d.get("kind") in _REGION_KINDS
            and number_or_none(d.get("low")) and number_or_none(d.get("high"))
            and isinstance(d.get("categories", []), list) and all(isinstance(c, str) for c in d.get("categories", [])))


def _checked_arrays(path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> dict[str, np.ndarray]:
    """The stored arrays in their documented dtypes, after checking kinds, shapes, sizes and values."""
    out = {}
    for name, (kind, ndim) in _ARRAY_KINDS.items():
        a = arrays[name]
        if a.ndim != ndim:
            raise _bad(path, f"{name} has {a.ndim} dimensions, expected {ndim}")
        if a.dtype.kind not in (kind if kind != "i" else "iu"):
            raise _bad(path, f"{name} holds {a.dtype}, expected {_KIND_WORDS[kind]}")
        with np.errstate(over="ignore"):
            out[name] = a.astype(_CANONICAL[kind], copy=False)
    lengths = out["lengths"]
    if (lengths < 0).any():
        raise _bad(path, "a trajectory has a negative length")
    n, steps = len(lengths), int(lengths.sum())
    sizes = {**dict.fromkeys(_TRAJ_ARRAYS, n), **dict.fromkeys(_STEP_ARRAYS, steps),
             **dict.fromkeys(_STATE_ARRAYS, steps + n)}
    for name, size in sizes.items():
        if len(out[name]) != size:
            raise _bad(path, f"{name} has {len(out[name])} rows, the stored lengths need {size}")
    widths = {"features": len(meta["feature_names"]), "legal": len(meta["action_names"]),
              "regions": len(meta["region_features"])}
    for name, width in widths.items():
        if out[name].shape[1] != width:
            raise _bad(path, f"{name} has {out[name].shape[1]} columns, the metadata names {width}")
    for name in ("features", "regions", "rewards"):
        if not np.isfinite(out[name]).all():
            raise _bad(path, f"{name} holds NaN or infinite values")
    if len(out["actions"]) and not (out["actions"].min() >= 0 and out["actions"].max() < widths["legal"]):
        raise _bad(path, f"an action is outside 0..{widths['legal'] - 1}")
    return out


def dataset_meta(env, source: dict[str, Any]) -> dict[str, Any]:
    """Metadata block for a dataset recorded from ``env`` (a DPFEnv)."""
    spec = env.spec_info
    regions = getattr(env, "region_features", spec.region_features)
    return {
        "env": spec.name,
        "env_config": env.config,
        "feature_names": list(spec.feature_names),
        "action_names": list(spec.action_names),
        "region_names": [rf.name for rf in regions],
        "region_features": [asdict(rf) for rf in regions],
        "source": source,
    }


class EpisodeRecorder:
    """Collects one episode's states and decisions as the agent plays."""

    def __init__(self, seed: int, obs: np.ndarray, info: dict[str, Any], episode: int = 0):
        self.seed = int(seed)
        self.episode = episode
        self._features = [np.asarray(obs, dtype=np.float32)]
        self._legal = [np.asarray(info["legal"], dtype=bool)]
        self._regions = [np.asarray(info["regions"], dtype=np.float32)]
        self._actions: list[int] = []
        self._rewards: list[float] = []

    def step(self, action: int, reward: float, obs: np.ndarray, info: dict[str, Any]) -> None:
        self._actions.append(int(action))
        self._rewards.append(float(reward))
        self._features.append(np.asarray(obs, dtype=np.float32))
        self._legal.append(np.asarray(info["legal"], dtype=bool))
        self._regions.append(np.asarray(info["regions"], dtype=np.float32))

    def finish(self, terminated: bool, success: bool) -> Trajectory:
        return Trajectory(
            features=np.stack(self._features),
            actions=np.array(self._actions, dtype=np.int64),
            rewards=np.array(self._rewards, dtype=np.float32),
            legal=np.stack(self._legal),
            regions=np.stack(self._regions),
            seed=self.seed,
            terminated=bool(terminated),
            success=bool(success),
            episode=self.episode,
        )


def save_npz_atomic(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write an ``.npz`` (``.npz`` added to the name if missing) atomically: a crash never leaves half a file."""
    path = npz_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    return write_atomic(path, write)


def npz_path(path: str | os.PathLike) -> Path:
    """The file an ``.npz`` save to ``path`` writes (numpy's rule: ``.npz`` is added when missing)."""
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def load_npz(path: str | os.PathLike, fmt: str, what: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load an ``.npz`` of ours as plain arrays (``allow_pickle=False``) and its JSON meta."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder; give the {what} .npz file")
    if not path.is_file():
        raise UserError(f"{path}: no such file (expected a {what} .npz)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, EOFError):
        raise UserError(f"{path}: not a readable {what} (a damaged or truncated .npz archive)") from None
    except ValueError:  # numpy's answer to a file that is no .npz archive at all (it would unpickle it)
        raise UserError(f"{path}: not a readable {what} (not an .npz archive)") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read it ({exc.strerror or exc.__class__.__name__})") from None
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except (KeyError, json.JSONDecodeError):
        raise UserError(f"{path}: not a dpf {what} (no metadata)") from None
    if not isinstance(meta, dict):
        raise UserError(f"{path}: not a dpf {what} (its metadata is not a JSON object)")
    if meta.get("format") != fmt:
        raise UserError(f"{path}: not a dpf {what} (format {meta.get('format')!r}, expected {fmt!r})"
                        + FORMAT_HINTS.get(meta.get("format"), ""))
    return arrays, meta
