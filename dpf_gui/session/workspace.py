"""What the app (or a script) has open: an environment, its task agent, a dataset, a label store, an intent model.

The app's views share one :class:`Workspace` instead of each loading files, so
that "the data being labelled" and "the agent being fused" can never drift
apart, and every check (right environment, non-empty data) happens once, here,
without Qt. A failed :meth:`Workspace.open` raises :class:`UserError` and
leaves whatever was open before untouched. Everything the views will read
from the files (the dataset's arrays, the task agent's fusion values, the
intent model's scales) is checked here, at open time, so that a damaged file
is refused with one line instead of failing later in a view.

The workspace is an evented model (as napari's ``ViewerModel``): what may
change while it is open changes through its methods (the intent model with
:meth:`Workspace.set_intent`, the marks with :meth:`Workspace.mark` and its
kin), and whoever shows it subscribes with :meth:`Workspace.on_change` and is
told a :class:`Change` saying what changed. The task agent and the data stay
for the workspace's life: another one is another workspace (its dataset,
checks and resume state all follow from it).
Listeners run in the order they subscribed; one that raises does not stop the
others: every listener runs, then the first exception is raised again to
whoever made the change (the change itself stands).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dpf_gui.agents.intent_agent import IntentAgent
from dpf_gui.checkpoints import SIDECAR_FILE
from dpf_gui.data.labels import Labels
from dpf_gui.data.study import UNLABELLED, LabelStore, TrajectoryMarks, check_storable
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.envs import ENV_NAMES, DPFEnv, env_spec, make_env
from dpf_gui.errors import UserError
from dpf_gui.wish import Wish, make_wish

DATASET_FILE = "trajectories.npz"
#: where the app keeps the datasets it makes (more varied trajectories merged in), under the study folder
COLLECTED_DIR = "data"
WISH_KEY = "wish/{env}"
#: a mark's value in words, as the app says it
MARK_WORDS = {1: "preferred", -1: "avoided", 0: "neutral"}


@dataclass(frozen=True)
class Change:
    """One change of a :class:`Workspace`: ``what`` changed from ``old`` to ``new``.

    "intent": the intent model in use (an IntentAgent or None); "labels": the marks of the trajectories
    ``new`` (a tuple of indices; ``old`` is None).
    """

    workspace: Workspace
    what: str
    old: Any
    new: Any


@dataclass(eq=False)
class Workspace:
    """An environment's task agent, the trajectories to label, the store the labels go to and the intent model
    in use."""

    env_name: str
    task: Any  # dpf_gui.agents.task_agent.TaskAgent, or None when only a dataset was opened
    task_dir: Path | None
    dataset: TrajectoryDataset
    dataset_path: Path
    store: LabelStore
    fingerprint: str
    #: the intent model in use (None: none); change it with :meth:`set_intent`
    intent: IntentAgent | None = None
    _returns: np.ndarray | None = field(default=None, repr=False)
    _listeners: list[Callable[[Change], None]] = field(default_factory=list, repr=False)
    _step_rewards: dict[int, np.ndarray] = field(default_factory=dict, repr=False)  # of the intent in use

    # --- opening ----------------------------------------------------------
    @classmethod
    def open(cls, env_name: str, task_dir: str | os.PathLike | None = None,
             dataset_path: str | os.PathLike | None = None, store: LabelStore | None = None) -> Workspace:
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
            dataset_path = (task.dataset_path if task is not None and task.dataset_path
                            else Path(task_path) / DATASET_FILE)
            if not Path(dataset_path).is_file():
                raise UserError(f"checkpoint {task_path} has no {Path(dataset_path).name} beside it; "
                                "open a dataset file "
                                "(dpf rollout makes one)")
        dataset = load_dataset(dataset_path, env_name)
        if task is not None:
            check_task_matches(task, dataset, dataset_path)
        store = store if store is not None else LabelStore.in_dir()
        fp = dataset.fingerprint()
        store.register_dataset(dataset, Path(dataset_path).resolve(), fingerprint=fp)
        return cls(env_name=env_name, task=task, task_dir=None if task_path is None else Path(task_path),
                   dataset=dataset, dataset_path=Path(dataset_path), store=store, fingerprint=fp)

    def with_store(self, store: LabelStore) -> Workspace:
        """The same agent and data, labelled into another store (a study folder)."""
        store.register_dataset(self.dataset, self.dataset_path.resolve(), fingerprint=self.fingerprint)
        return Workspace(self.env_name, self.task, self.task_dir, self.dataset, self.dataset_path, store,
                         self.fingerprint, self.intent)

    # --- changes ----------------------------------------------------------
    def on_change(self, listener: Callable[[Change], None]) -> Callable[[], None]:
        """Call ``listener(change)`` after every change; returns the function that unsubscribes it again."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _emit(self, what: str, old: Any, new: Any) -> None:
        """Tell every listener (a copy of the list: a listener may unsubscribe); the first failure is raised last."""
        change, failed = Change(self, what, old, new), None
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception as exc:  # noqa: BLE001 (the others must hear of the change all the same)
                failed = failed or exc
        if failed is not None:
            raise failed

    # --- intent model -----------------------------------------------------
    def set_intent(self, intent: IntentAgent | None) -> None:
        """Use ``intent`` (None: no intent model) and tell the listeners, even when it is the one in use (a
        model trained again into the same folder is news too)."""
        old, self.intent = self.intent, intent
        self._step_rewards.clear()
        self._emit("intent", old, intent)

    def step_rewards(self, traj: int) -> np.ndarray | None:
        """The intent model's reward of every decision of trajectory ``traj``, without the model's baseline
        (:meth:`IntentAgent.step_rewards`; the Annotate timeline draws them); None without a model."""
        if self.intent is None:
            return None
        if traj not in self._step_rewards:
            if len(self._step_rewards) > 256:
                self._step_rewards.clear()
            t = self.dataset[traj]
            self._step_rewards[traj] = self.intent.step_rewards(t.features, t.actions)
        return self._step_rewards[traj]

    def open_intent(self, directory: str | os.PathLike) -> IntentAgent:
        """Load the intent checkpoint in ``directory`` and check that it fits this data (it is not put to use)."""
        try:
            agent = IntentAgent.load(directory, expect_env=self.env_name)
            agent.check_fits(self.dataset.meta["feature_names"], self.dataset.meta["action_names"])
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 (a damaged file the loader did not foresee)
            raise _unusable(directory, "intent model", exc) from None
        return agent

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
        action = self.store.mark_trajectory(self.fingerprint, traj, value)
        self._labels_changed([traj])
        return action

    def mark_segment(self, traj: int, t0: int, t1: int, value: int) -> int:
        """Mark decisions t0..t1 (inclusive) of a trajectory, clipped to its length."""
        self._check_traj(traj)
        last = self.length(traj) - 1
        if last < 0:
            raise UserError(f"trajectory {traj} has no decisions to mark")
        t0, t1 = sorted((min(max(int(t0), 0), last), min(max(int(t1), 0), last)))
        action = self.store.mark_segment(self.fingerprint, traj, t0, t1, value)
        self._labels_changed([traj])
        return action

    def rank(self, levels: Iterable[tuple[int, int]]) -> int:
        """Store a ranking of trajectories watched together ((trajectory, level), 0 the best): undoable."""
        levels = list(levels)
        for traj, _ in levels:
            self._check_traj(traj)
        action = self.store.rank(self.fingerprint, levels)
        self._labels_changed([t for t, _ in levels])
        return action

    def clear(self, traj: int) -> int:
        self._check_traj(traj)
        action = self.store.clear(self.fingerprint, traj)
        self._labels_changed([traj])
        return action

    def undo(self) -> list[int]:
        rows = self.store.undo(self.fingerprint)
        self._labels_changed(rows)
        return rows

    def redo(self) -> list[int]:
        rows = self.store.redo(self.fingerprint)
        self._labels_changed(rows)
        return rows

    def can_undo(self) -> bool:
        return self.store.can_undo(self.fingerprint)

    def can_redo(self) -> bool:
        return self.store.can_redo(self.fingerprint)

    def label_with_simulated_user(self, wish: Wish, noise=None, seed: int = 0, only_unlabelled: bool = False,
                                  only: Iterable[int] | None = None) -> tuple[int | None, Labels]:
        """Label with a simulated user (``oracles.label_dataset``) into the store as one undoable batch.

        ``only``: just these trajectories (e.g. the suggested ones); ``only_unlabelled``: of those, the ones
        nobody has labelled. Returns (action id or None if nothing was stored, the simulated labels).
        """
        from dpf_gui.oracles import FeedbackNoise, label_dataset

        labels = label_dataset(self.dataset, wish, noise or FeedbackNoise(), seed)
        labels.meta["data_path"] = str(self.dataset_path)
        keep = None if only is None else {int(i) for i in only}
        if only_unlabelled:
            free = set(self._unlabelled().tolist())
            keep = free if keep is None else keep & free
        action = self.store.import_labels(labels, self.fingerprint, only=keep)
        if action is not None:
            self._labels_changed(range(len(self)) if keep is None else sorted(keep))
        return action, labels

    def rank_with_simulated_user(self, wish: Wish, swap: float = 0.0, seed: int = 0,
                                 only_unlabelled: bool = False, only: Iterable[int] | None = None) -> int | None:
        """The simulated user ranks the trajectories (``only``: just these, in their order; ``only_unlabelled``:
        of those, the ones nobody has labelled) in seeded groups of :data:`dpf_gui.oracles.RANK_GROUP`,
        neighbours swapped at ``swap`` (``oracles.ranked_orders``, as ``dpf label --feedback ranks``), stored as
        one undoable batch of rankings; the action id, or None when fewer than two trajectories were left."""
        from dpf_gui.oracles import RANK_GROUP, rank_groups, ranked_orders

        among = np.arange(len(self)) if only is None else np.array(list(dict.fromkeys(map(int, only))), np.int64)
        if only_unlabelled:
            among = among[np.isin(among, self._unlabelled())]
        if len(among) < 2:
            return None
        orders, _, _ = ranked_orders(self.dataset, wish, rank_groups(among, RANK_GROUP, seed), swap, seed)
        note = {"wish": wish.describe(), "mode": wish.mode, "noise": {"swap": float(swap)}, "seed": int(seed),
                "data_path": str(self.dataset_path)}
        action = self.store.rank_many(self.fingerprint, orders, source="simulated-user", note=note)
        self._labels_changed(among.tolist())
        return action

    def read_labels(self, path: str | os.PathLike) -> Labels:
        """A ``dpf label`` file given to this dataset (refused for other data, damaged, or not storable)."""
        try:
            labels = Labels.load(path)
            labels.check_matches(self.dataset, where=str(path))
            check_storable(labels, str(path))
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 (a damaged file the loader did not foresee)
            raise _unusable(path, "label file", exc) from None
        return labels

    def marked_in(self, labels: Labels) -> int:
        """How many trajectories a label file (:meth:`read_labels`) labels that are marked here already: an import
        replaces those marks, so the app asks first."""
        if labels.pairs is not None:  # comparisons are stored as rankings beside the marks, replacing none
            return 0
        states, _ = self.summary()
        return int(((states != UNLABELLED) & np.asarray(labels.labelled, dtype=bool)).sum())

    def import_labels(self, path: str | os.PathLike | Labels, only_unlabelled: bool = False) -> int | None:
        """Import a ``dpf label`` file given to this dataset (refused for other data), or its labels as
        :meth:`read_labels` read them; ``only_unlabelled``: keep the marks already made, import the file's labels
        of the other trajectories only."""
        only = None
        if only_unlabelled:
            only = self._unlabelled()
        labels = path if isinstance(path, Labels) else self.read_labels(path)
        try:
            action = self.store.import_labels(labels, self.fingerprint, only=only)
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 (a damaged file the loader did not foresee)
            raise _unusable(path, "label file", exc) from None
        if action is not None:
            self._labels_changed(range(len(self)) if only is None else only)
        return action

    def _labels_changed(self, rows: Iterable[int]) -> None:
        rows = tuple(int(r) for r in rows)
        if rows:
            self._emit("labels", None, rows)

    # --- the person's own wish ("my wish") --------------------------------------
    def typed_wish(self) -> Wish | None:
        """The wish the person wrote down for this environment (None if none, or if it no longer parses)."""
        saved = self.store.get(WISH_KEY.format(env=self.env_name))
        if not isinstance(saved, dict):
            return None
        try:
            return self.wish("", _strings(saved.get("prefer")), _strings(saved.get("avoid")))
        except UserError:
            return None

    def set_typed_wish(self, prefer: Iterable[str], avoid: Iterable[str]) -> Wish | None:
        """Keep the person's wish (region expressions; a mistake is a UserError); both empty: forget it."""
        prefer, avoid = _strings(prefer), _strings(avoid)
        wish = self.wish("", prefer, avoid) if prefer or avoid else None
        self.store.set(WISH_KEY.format(env=self.env_name), {"prefer": prefer, "avoid": avoid} if wish else None)
        return wish

    # --- more varied trajectories ------------------------------------------------
    def collected(self) -> np.ndarray:
        """Which trajectories were collected with exploration (or from random starts): bool (N,)."""
        return collected_mask(self.dataset)

    def collect(self, episodes: int, exploration, random_start: bool, seed: int, out_dir: str | os.PathLike,
                on_episode=None, should_stop=None) -> Path | None:
        """Let the fixed task agent play ``episodes`` episodes with exploration noise (``rollout.Exploration``),
        optionally from random starts, and save this dataset with them appended as a new dataset file in
        ``out_dir``; returns its path (None when stopped). This dataset's file and marks are not touched: the
        marks are carried over with :meth:`carry_marks_from` once the new dataset is opened.
        """
        from dpf_gui.data.merge import merge_datasets
        from dpf_gui.rollout import exploring_policy, rollout
        from dpf_gui.threads import pausing

        if self.task is None:
            raise UserError("collecting trajectories needs a task agent: open one (File > Open task agent)")
        policy = pausing(exploring_policy(self.task, exploration, seed))  # beside the app's window (threads.py)
        source = {"kind": "rollout", "policy": str(self.task_dir) if self.task_dir else f"shipped {self.env_name}",
                  "explore": exploration.text()}
        new = rollout(self.env_name, policy, int(episodes), int(seed), env_config=self.env_config, source=source,
                      progress=False, random_start=random_start, on_episode=on_episode, should_stop=should_stop)
        stopped = should_stop or (lambda: False)
        if stopped() or len(new) == 0:
            return None
        merged = merge_datasets(self.dataset, new)
        if stopped():  # while merging: nothing is written
            return None
        path = Path(out_dir) / f"{self.env_name}-{merged.fingerprint()[:12]}.npz"
        try:
            return merged.save(path)
        except OSError as exc:
            raise UserError(f"cannot write {exc.filename or path}: {exc.strerror or exc}") from None

    def carry_marks_from(self, old: Workspace) -> int | None:
        """Copy the marks of ``old``'s dataset to this one, which holds its trajectories (see ``merge.part_offset``),
        as one undoable action (None: nothing to copy)."""
        from dpf_gui.data.merge import part_offset

        action = self.store.carry_marks(old.fingerprint, self.fingerprint, part_offset(old.dataset, self.dataset))
        if action is not None:
            self._labels_changed(range(len(self)))
        return action

    def _unlabelled(self) -> np.ndarray:
        """The trajectories nobody has labelled (what "keep my own marks" leaves to a simulated user or a file)."""
        return np.flatnonzero(self.summary()[0] == UNLABELLED)

    def _check_traj(self, traj: int) -> None:
        if not 0 <= int(traj) < len(self):
            raise UserError(f"trajectory {traj} out of range 0..{len(self) - 1}")


def _strings(value) -> list[str]:
    return [str(v).strip() for v in value if str(v).strip()] if isinstance(value, (list, tuple)) else []


def collected_mask(dataset: TrajectoryDataset) -> np.ndarray:
    """Trajectories recorded with exploration noise or from random starts (``dpf rollout --explore``, the app's
    Collect), found through the parts of merged datasets: bool (N,)."""
    out = np.zeros(len(dataset), dtype=bool)

    def walk(source, offset: int, count: int) -> None:
        if not isinstance(source, dict):
            return
        parts = source.get("parts")
        if source.get("kind") == "merge" and isinstance(parts, list):
            for part in parts:
                if (isinstance(part, dict) and isinstance(part.get("offset"), int)
                        and isinstance(part.get("count"), int)):
                    walk(part.get("source"), offset + part["offset"], part["count"])
        elif source.get("explore") or source.get("start") == "random":
            out[max(offset, 0):max(offset + count, 0)] = True

    walk(dataset.meta.get("source"), 0, len(dataset))
    return out


@dataclass(frozen=True)
class WishCoverage:
    """How the stored (and the labelled) trajectories enter each region of a wish, said in plain words."""

    regions: list  # dpf_gui.coverage.RegionCoverage per preferred, then avoided region (stored trajectories)
    labelled: list[int]  # per region: labelled trajectories entering it
    labelled_total: int
    lines: list[str]  # one per region
    warnings: list[str]  # regions the data (or the labels) hardly show, with what to do
    advice: list[str]  # regions nearly every stored trajectory enters: how to mark them by hand

    @property
    def thin(self) -> bool:
        """Some region is entered by too few stored trajectories to be learned (collect more varied ones)."""
        return any(r.thin for r in self.regions)


def wish_coverage(dataset: TrajectoryDataset, wish: Wish, labelled: np.ndarray | None = None) -> WishCoverage:
    """Coverage of ``wish`` in ``dataset`` (:mod:`dpf_gui.coverage`) and among its ``labelled`` trajectories."""
    from dpf_gui.coverage import THIN_TRAJECTORIES, everywhere_note, region_coverage, unavoidable_note

    n = len(dataset)
    labelled = np.zeros(n, bool) if labelled is None else np.asarray(labelled, dtype=bool)
    regions, in_labels, lines, warnings, advice = [], [], [], [], []
    k = int(labelled.sum())
    for r, per in region_coverage(dataset, wish):
        kind, e = r.kind, r.expression
        word = "preferred" if kind == "prefer" else "avoided"
        lab = int((per[labelled] > 0).sum())
        regions.append(r)
        in_labels.append(lab)
        lines.append(f"{kind} {e}: entered by {r.trajectories} of {n} stored trajectories "
                     f"({r.decisions} decisions)" + (f", by {lab} of {k} labelled" if k else ""))
        if r.trajectories == 0:
            warnings.append(f"No stored trajectory enters the {word} region {e}, so no label can teach "
                            "it: collect more varied trajectories, then label some that enter it.")
        elif r.trajectories < THIN_TRAJECTORIES:
            warnings.append(f"Only {r.trajectories} of {n} stored trajectories enter the {word} region "
                            f"{e}, so labels can hardly teach it: collect more varied trajectories.")
        elif k and lab == 0:
            warnings.append(f"None of the {k} labelled trajectories enters the {word} region {e} "
                            f"({r.trajectories} stored ones do): label some that do (the suggestions find them).")
        elif r.everywhere:
            longest, shortest = ("avoided", "preferred") if kind == "avoid" else ("preferred", "avoided")
            advice.append(f"{everywhere_note(r)}: mark the stretches inside as segments ([ and ]), rank a few "
                          "runs watched together by how long they stay there (R), or mark those that stay there "
                          f"longest {longest} and those that stay shortest {shortest}.")
        if r.unavoidable:  # whatever is labelled: the data shows no way round it
            note = unavoidable_note(r)
            warnings.append(f"{note[0].upper()}{note[1:]}.")
    return WishCoverage(regions, in_labels, k, lines, warnings, advice)


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
        what = task_dir if task_dir is not None else f"the shipped {env_name} agent"
        raise _unusable(what, "task agent", exc) from None
    sidecar = Path(task.directory) / SIDECAR_FILE
    for name, check in (("its fusion parameters must be numbers", lambda: fusion_params(task)),
                        ("its metrics.q_scale.legal_std must be a positive number",
                         lambda: stored_q_scale(task.sidecar))):
        try:
            check()
        except UserError as exc:
            raise UserError(f"{sidecar}: {exc}") from None
        except Exception:  # noqa: BLE001 (a value of the wrong type: Play would fail on it later)
            raise UserError(f"{sidecar}: {name} (fusion: {task.fusion})" if "fusion" in name
                            else f"{sidecar}: {name}") from None
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
    for name, width in (("features", spec.n_features), ("regions", len(spec.region_features)),
                        ("legal", spec.n_actions)):
        got = getattr(dataset, name).shape[1]
        if got != width:
            raise UserError(f"{path}: its {name} have {got} columns, {spec.name} has {width}; "
                            f"record the data again with `dpf rollout --env {spec.name}`")


def check_task_matches(task, dataset: TrajectoryDataset, path) -> None:
    """Trajectories a task agent can be fused over: its features and its number of actions."""
    if task.feature_names and list(task.feature_names) != list(dataset.meta["feature_names"]):
        raise UserError(f"{path}: the dataset's features differ from the task agent's")
    if task.n_actions != len(dataset.meta["action_names"]):
        raise UserError(f"{path}: the dataset has {len(dataset.meta['action_names'])} actions, "
                        f"the task agent {task.n_actions}")


__all__ = ["COLLECTED_DIR", "DATASET_FILE", "Change", "WishCoverage", "Workspace", "check_task_matches",
           "collected_mask", "load_dataset", "wish_coverage"]
