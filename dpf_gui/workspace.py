"""What the app (or a script) has open: an environment, its task agent, a dataset, a label store.

The app's views share one :class:`Workspace` instead of each loading files, so
that "the data being labelled" and "the agent being fused" can never drift
apart, and every check (right environment, non-empty data) happens once, here,
without Qt. A failed :meth:`Workspace.open` raises :class:`UserError` and
leaves whatever was open before untouched. Everything the views will read
from the files (the dataset's arrays, the task agent's fusion values) is
checked here, at open time, so that a damaged file is refused with one line
instead of failing later in a view.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from dpf_gui.data.labels import Labels
from dpf_gui.data.study import LabelStore, TrajectoryMarks
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.envs import ENV_NAMES, DPFEnv, env_spec, make_env
from dpf_gui.errors import UserError
from dpf_gui.wish import Wish, make_wish

DATASET_FILE = "trajectories.npz"


@dataclass
class Workspace:
    """An environment's task agent, the trajectories to label and the store the labels go to."""

    env_name: str
    task: Any  # dpf_gui.agents.task_agent.TaskAgent, or None when only a dataset was opened
    task_dir: Path | None
    dataset: TrajectoryDataset
    dataset_path: Path
    store: LabelStore
    fingerprint: str
    #: set by the Train view once an intent model is trained or loaded
    intent: Any = None
    intent_sidecar: dict[str, Any] | None = None
    intent_dir: Path | None = None
    _returns: np.ndarray | None = field(default=None, repr=False)

    # --- opening ----------------------------------------------------------
    @classmethod
    def open(cls, env_name: str, task_dir: str | os.PathLike | None = None,
             dataset_path: str | os.PathLike | None = None, store: LabelStore | None = None) -> "Workspace":
        """Load the task agent (default: the shipped one) and a dataset (default: the agent's own).

        Without ``task_dir`` and without a shipped agent, a given dataset is
        still opened (labelling needs no agent; ``task`` is then None).
        """
        if env_name not in ENV_NAMES:
            raise UserError(f"unknown environment {env_name!r}; allowed: {', '.join(ENV_NAMES)}")
        task = None
        try:
            task = _load_task(env_name, task_dir)
        except UserError:
            if task_dir is not None or dataset_path is None:
                raise
        task_path = task.directory if task is not None else None
        if dataset_path is None:
            dataset_path = task.dataset_path if task is not None and task.dataset_path else Path(task_path) / DATASET_FILE
            if not Path(dataset_path).is_file():
                raise UserError(f"checkpoint {task_path} has no {Path(dataset_path).name} beside it; open a dataset file (dpf rollout makes one)")
        dataset = load_dataset(dataset_path, env_name)
        if task is not None:
            _check_task_matches(task, dataset, dataset_path)
        store = store if store is not None else LabelStore.in_dir()
        fp = dataset.fingerprint()
        store.register_dataset(dataset, Path(dataset_path).resolve(), fingerprint=fp)
        return cls(env_name=env_name, task=task, task_dir=None if task_path is None else Path(task_path),
                   dataset=dataset, dataset_path=Path(dataset_path), store=store, fingerprint=fp)

    def with_store(self, store: LabelStore) -> "Workspace":
        """The same agent and data, labelled into another store (a study folder)."""
        store.register_dataset(self.dataset, self.dataset_path.resolve(), fingerprint=self.fingerprint)
        return Workspace(self.env_name, self.task, self.task_dir, self.dataset, self.dataset_path, store,
                         self.fingerprint, self.intent, self.intent_sidecar, self.intent_dir)

    # --- environment ------------------------------------------------------
    @property
    def env_config(self) -> dict[str, Any]:
        """The config the dataset was recorded with (replaying needs exactly this)."""
        return self.dataset.env_config

    @property
    def spec(self):
        return env_spec(self.env_name)

    def make_env(self, render_mode: str | None = None) -> DPFEnv:
        return make_env(self.env_name, self.env_config, render_mode=render_mode)

    def wish(self, preset: str = "mixed", prefer: Iterable[str] = (), avoid: Iterable[str] = ()) -> Wish:
        """A wish in this data's region features (default: the environment's "mixed" preset)."""
        p = self.spec.preset(preset) if preset else None
        return make_wish(self.dataset.region_features, list(prefer), list(avoid), preset=p)

    # --- trajectories -----------------------------------------------------
    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def task_returns(self) -> np.ndarray:
        """Sum of task rewards per trajectory."""
        if self._returns is None:
            c = np.concatenate([[0.0], np.cumsum(self.dataset.rewards, dtype=np.float64)])
            ends = np.cumsum(self.dataset.lengths)
            self._returns = (c[ends] - c[ends - self.dataset.lengths]).astype(np.float32)
        return self._returns

    def length(self, traj: int) -> int:
        return int(self.dataset.lengths[traj])

    # --- labels -----------------------------------------------------------
    def marks(self, traj: int) -> TrajectoryMarks:
        return self.store.trajectory(self.fingerprint, traj, self.length(traj))

    def summary(self) -> tuple[np.ndarray, np.ndarray]:
        """(label state, score) of every trajectory; see :mod:`dpf_gui.data.study`."""
        return self.store.summary(self.fingerprint, self.dataset.lengths)

    def labels(self) -> Labels:
        """The person's marks as training labels for this dataset."""
        labels = self.store.to_labels(self.dataset, fingerprint=self.fingerprint)
        labels.meta["data_path"] = str(self.dataset_path)
        return labels

    def mark(self, traj: int, value: int) -> int:
        self._check_traj(traj)
        return self.store.mark_trajectory(self.fingerprint, traj, value)

    def mark_segment(self, traj: int, t0: int, t1: int, value: int) -> int:
        """Mark decisions t0..t1 (inclusive) of a trajectory, clipped to its length."""
        self._check_traj(traj)
        last = self.length(traj) - 1
        if last < 0:
            raise UserError(f"trajectory {traj} has no decisions to mark")
        t0, t1 = sorted((min(max(int(t0), 0), last), min(max(int(t1), 0), last)))
        return self.store.mark_segment(self.fingerprint, traj, t0, t1, value)

    def clear(self, traj: int) -> int:
        self._check_traj(traj)
        return self.store.clear(self.fingerprint, traj)

    def undo(self) -> list[int]:
        return self.store.undo(self.fingerprint)

    def redo(self) -> list[int]:
        return self.store.redo(self.fingerprint)

    def can_undo(self) -> bool:
        return self.store.can_undo(self.fingerprint)

    def can_redo(self) -> bool:
        return self.store.can_redo(self.fingerprint)

    def label_with_simulated_user(self, wish: Wish, noise=None, seed: int = 0,
                                  only_unlabelled: bool = False) -> tuple[int | None, Labels]:
        """Label with a simulated user (``oracles.label_dataset``) into the store as one undoable batch.

        Returns (action id or None if nothing was stored, the simulated labels).
        """
        from dpf_gui.oracles import FeedbackNoise, label_dataset

        labels = label_dataset(self.dataset, wish, noise or FeedbackNoise(), seed)
        labels.meta["data_path"] = str(self.dataset_path)
        only = None
        if only_unlabelled:
            states, _ = self.summary()
            only = np.flatnonzero(states == 0)
        return self.store.import_labels(labels, self.fingerprint, only=only), labels

    def import_labels(self, path: str | os.PathLike, only_unlabelled: bool = False) -> int | None:
        """Import a ``dpf label`` file given to this dataset (refused for other data)."""
        only = None
        if only_unlabelled:
            states, _ = self.summary()
            only = np.flatnonzero(states == 0)
        try:
            labels = Labels.load(path)
            labels.check_matches(self.dataset, where=str(path))
            return self.store.import_labels(labels, self.fingerprint, only=only)
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 (a damaged file the loader did not foresee)
            raise _unusable(path, "label file", exc) from None

    def _check_traj(self, traj: int) -> None:
        if not 0 <= int(traj) < len(self):
            raise UserError(f"trajectory {traj} out of range 0..{len(self) - 1}")


def _unusable(path, what: str, exc: Exception) -> UserError:
    """One line for a damaged file that a loader did not foresee."""
    return UserError(f"{path}: not a usable {what} ({exc.__class__.__name__}: {exc})")


def _load_task(env_name: str, task_dir) -> Any:
    """The task agent (default: the shipped one), with the fusion values Play and Compare will use checked now."""
    from dpf_gui.agents.task_agent import stored_q_scale
    from dpf_gui.pipeline import fusion_params, load_task_agent

    try:
        task = load_task_agent(env_name, task_dir)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 (a damaged file the loader did not foresee)
        raise _unusable(task_dir if task_dir is not None else f"the shipped {env_name} agent", "task agent", exc) from None
    sidecar = Path(task.directory) / "model.json"
    for name, check in (("its fusion parameters must be numbers", lambda: fusion_params(task)),
                        ("its metrics.q_scale.legal_std must be a positive number", lambda: stored_q_scale(task.sidecar))):
        try:
            check()
        except UserError as exc:
            raise UserError(f"{sidecar}: {exc}") from None
        except Exception:  # noqa: BLE001 (a value of the wrong type: Play would fail on it later)
            raise UserError(f"{sidecar}: {name} (fusion: {task.fusion})" if "fusion" in name else f"{sidecar}: {name}") from None
    return task


def load_dataset(path: str | os.PathLike, env_name: str) -> TrajectoryDataset:
    """Load a dataset for ``env_name``; a wrong, damaged or empty file is a :class:`UserError`."""
    try:
        dataset = TrajectoryDataset.load(path, expect_env=env_name)
        if not isinstance(dataset.env_config, dict):
            raise TypeError("env_config is not a mapping")
        _ = dataset.region_features, dataset.meta["feature_names"], dataset.meta["action_names"]
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 (a damaged file the loader did not foresee)
        raise _unusable(path, "trajectory dataset", exc) from None
    if len(dataset) == 0:
        raise UserError(f"{path}: the dataset holds no trajectories; record some with `dpf rollout --env {env_name}`")
    spec = env_spec(env_name)
    if list(dataset.meta["feature_names"]) != list(spec.feature_names):
        raise UserError(f"{path}: its features differ from {env_name}'s current ones (recorded by an older version?)")
    if list(dataset.meta["action_names"]) != list(spec.action_names):
        raise UserError(f"{path}: its actions differ from {env_name}'s")
    _check_arrays(dataset, spec, path)
    return dataset


def _check_arrays(dataset: TrajectoryDataset, spec, path) -> None:
    """The dataset's columns must be the open environment's (the loader checked the file against itself)."""
    for name, width in (("features", spec.n_features), ("regions", len(spec.region_features)), ("legal", spec.n_actions)):
        got = getattr(dataset, name).shape[1]
        if got != width:
            raise UserError(f"{path}: its {name} have {got} columns, {spec.name} has {width}; "
                            f"record the data again with `dpf rollout --env {spec.name}`")


def _check_task_matches(task, dataset: TrajectoryDataset, path) -> None:
    if task.feature_names and list(task.feature_names) != list(dataset.meta["feature_names"]):
        raise UserError(f"{path}: the dataset's features differ from the task agent's")
    if task.n_actions != len(dataset.meta["action_names"]):
        raise UserError(f"{path}: the dataset has {len(dataset.meta['action_names'])} actions, the task agent {task.n_actions}")


__all__ = ["Workspace", "load_dataset", "DATASET_FILE"]
