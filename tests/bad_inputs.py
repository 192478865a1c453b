"""Malformed inputs, made in one place: the CLI's bad-input table and the app's tests open the same files.

Each builder writes one broken file (or checkpoint folder) into ``folder`` and returns its path. The
tables ``BAD_DATASETS``, ``BAD_LABELS``, ``BAD_TASKS`` and ``BAD_INTENTS`` map a case name to
``(builder, fragment)``: the core loader (``TrajectoryDataset.load``, ``Labels.load``,
``TaskAgent.load``, ``load_intent``) must refuse the file with a one-line :class:`UserError`
containing ``fragment``. Builders of broken datasets and labels start from :func:`good_dataset` and
:func:`good_labels`; broken checkpoints from :func:`good_task` (the shipped gridnav agent) and
:func:`good_intent` (a tiny intent model trained on the good dataset).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dpf_gui.checkpoints import SIDECAR_FILE, WEIGHTS_FILE, sha256_file

Builder = Callable[[Path], Path]


# --- good files to break ---------------------------------------------------------------------
_MADE: dict[str, tuple[str, dict[str, bytes]]] = {}


def _made_once(key: str, folder: Path, make: Callable[[Path], Path]) -> Path:
    """``make(folder)`` the first time; afterwards the same bytes written again (training takes a second)."""
    if key not in _MADE:
        with tempfile.TemporaryDirectory() as tmp:
            made = make(Path(tmp))
            files = {str(p.relative_to(tmp)): p.read_bytes() for p in Path(tmp).rglob("*") if p.is_file()}
            _MADE[key] = (str(made.relative_to(tmp)), files)
    rel, files = _MADE[key]
    for name, data in files.items():
        (Path(folder) / name).parent.mkdir(parents=True, exist_ok=True)
        (Path(folder) / name).write_bytes(data)
    return Path(folder) / rel


def good_dataset(folder: Path) -> Path:
    """24 random gridnav episodes: some cross the toll road, some do not."""
    from dpf_gui.rollout import random_policy, rollout

    return _made_once("dataset", folder, lambda tmp: rollout("gridnav", random_policy(1), 24, seed=1,
                                                                progress=False).save(tmp / "data.npz"))


def good_labels(folder: Path, data_path: Path) -> Path:
    """A simulated user's "avoid the toll road" labels of the dataset at ``data_path``."""
    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.oracles import FeedbackNoise, label_dataset
    from dpf_gui.wish import make_wish

    data = TrajectoryDataset.load(data_path)
    labels = label_dataset(data, make_wish(data.region_features, avoid=["terrain=toll"]), FeedbackNoise(), seed=0)
    return labels.save(Path(folder) / "labels.npz")


def good_task(folder: Path) -> Path:
    """A copy of the shipped gridnav task agent (sidecar and weights)."""
    from dpf_gui.paths import shipped_model

    out = Path(folder) / "task"
    out.mkdir(parents=True)
    for name in (SIDECAR_FILE, WEIGHTS_FILE):
        shutil.copy(shipped_model("gridnav") / name, out / name)
    return out


def good_intent(folder: Path) -> Path:
    """A tiny intent model (one epoch) trained on :func:`good_dataset` with :func:`good_labels`."""
    from dpf_gui.data.labels import Labels
    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.intent.train import IntentConfig, train_intent

    def make(tmp: Path) -> Path:
        data_path = good_dataset(tmp)
        labels = Labels.load(good_labels(tmp, data_path))
        train_intent(TrajectoryDataset.load(data_path), labels, seed=0, out_dir=tmp / "intent",
                     config=IntentConfig(max_epochs=1, embed=8, hidden=8), progress=False)
        return tmp / "intent"

    return _made_once("intent", folder, make)


def empty_dataset(folder: Path) -> Path:
    """A well-formed dataset with no trajectories (loads; nothing can be labelled or learnt from it)."""
    from dpf_gui.data.trajectories import TrajectoryDataset, dataset_meta
    from dpf_gui.envs import make_env

    env = make_env("gridnav")
    meta = dataset_meta(env, {"kind": "handmade"})
    env.close()
    return TrajectoryDataset.from_trajectories(meta, []).save(Path(folder) / "empty.npz")


def readonly_folder(folder: Path) -> Path | None:
    """A folder this process cannot create files in, or None where there is none (root ignores file modes:
    then a read-only system folder such as /sys is used if there is one)."""
    ro = Path(folder) / "readonly"
    ro.mkdir()
    ro.chmod(0o555)
    for candidate in (ro, Path("/sys")):
        try:
            with tempfile.TemporaryFile(dir=candidate):
                pass
        except OSError:
            return candidate
    return None


# --- breaking npz files ------------------------------------------------------------------------
def _rewrite_npz(src: Path, dst: Path, change: Callable[[dict[str, np.ndarray], Any], Any]) -> Path:
    """Copy an npz of ours with ``change(arrays, meta)`` applied (it may return a new meta)."""
    with np.load(src, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays.pop("meta")))
    new_meta = change(arrays, meta)
    meta = meta if new_meta is None else new_meta
    with open(dst, "wb") as fh:
        np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)
    return dst


def _dataset_case(change: Callable[[dict[str, np.ndarray], Any], Any]) -> Builder:
    def build(folder: Path) -> Path:
        return _rewrite_npz(good_dataset(folder), Path(folder) / "bad_data.npz", change)

    return build


def _set(name: str, value: Callable[[np.ndarray], np.ndarray]):
    def change(arrays, meta):
        arrays[name] = value(arrays[name])

    return change


def _del_meta(key: str):
    def change(arrays, meta):
        del meta[key]

    return change


def _with_nan_regions(regions: np.ndarray) -> np.ndarray:
    return np.full_like(regions, np.nan)


def _with_inf_feature(features: np.ndarray) -> np.ndarray:
    features = features.copy()
    features[3, 0] = np.inf
    return features


def _bad_action(actions: np.ndarray) -> np.ndarray:
    actions = actions.copy()
    actions[0] = 9
    return actions


BAD_DATASETS: dict[str, tuple[Builder, str]] = {
    "meta-without-env": (_dataset_case(_del_meta("env")), "meta env is None"),
    "meta-a-list": (_dataset_case(lambda a, m: [m]), "metadata is not a JSON object"),
    "meta-a-number": (_dataset_case(lambda a, m: 5), "metadata is not a JSON object"),
    "no-region-features": (_dataset_case(_del_meta("region_features")), "region_features is not a list"),
    "malformed-region-features": (_dataset_case(lambda a, m: m.update(region_features=[{"name": 3}])),
                                  "region_features is not a list"),
    "regions-narrower": (_dataset_case(_set("regions", lambda r: r[:, :2])), "regions has 2 columns"),
    "actions-0d": (_dataset_case(_set("actions", lambda a: np.array(1))), "actions has 0 dimensions"),
    "string-actions": (_dataset_case(_set("actions", lambda a: a.astype(str))), "expected whole numbers"),
    "string-features": (_dataset_case(_set("features", lambda f: f.astype(str))), "features holds <U"),
    "all-nan-regions": (_dataset_case(_set("regions", _with_nan_regions)), "regions holds NaN"),
    "inf-features": (_dataset_case(_set("features", _with_inf_feature)), "features holds NaN or infinite"),
    "two-feature-columns": (_dataset_case(_set("features", lambda f: f[:, :2])), "features has 2 columns"),
    "action-out-of-range": (_dataset_case(_set("actions", _bad_action)), "an action is outside 0..3"),
    "lengths-disagree": (_dataset_case(_set("lengths", lambda n: n + 1)), "the stored lengths need"),
    "other-features": (_dataset_case(lambda a, m: m.update(feature_names=["f"] * 8)), "feature_names differ"),
    "unknown-env": (_dataset_case(lambda a, m: m.update(env="atari")), "meta env is 'atari'"),
    "not-an-npz": (lambda folder: _write(Path(folder) / "notes.npz", b"hello"), "not a readable trajectory dataset"),
    "a-label-file": (lambda folder: good_labels(folder, good_dataset(folder)), "this file holds labels, not"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _labels_case(change: Callable[[dict[str, np.ndarray], Any], Any]) -> Builder:
    def build(folder: Path) -> Path:
        folder = Path(folder)
        return _rewrite_npz(good_labels(folder, good_dataset(folder)), folder / "bad_labels.npz", change)

    return build


def _nan_first(scores: np.ndarray) -> np.ndarray:
    scores = scores.copy()
    scores[0] = np.nan
    return scores


BAD_LABELS: dict[str, tuple[Builder, str]] = {
    "2d-scores": (_labels_case(_set("scores", lambda s: np.stack([s, s], axis=1))), "scores has 2 dimensions"),
    "string-scores": (_labels_case(_set("scores", lambda s: s.astype(str))), "scores holds <U"),
    "nan-labelled-score": (_labels_case(_set("scores", _nan_first)), "a labelled trajectory has a NaN"),
    "mark-of-five": (_labels_case(_set("marks", lambda m: np.full_like(m, 5))), "a mark is not -1, 0 or +1"),
    "marks-disagree": (_labels_case(_set("marks", lambda m: m[:-1])), "the stored lengths need"),
    "meta-a-list": (_labels_case(lambda a, m: [m]), "metadata is not a JSON object"),
    "a-trajectory-dataset": (good_dataset, "this file holds trajectories; labels come from dpf label"),
}


# --- breaking checkpoints ------------------------------------------------------------------------
def _edit_sidecar(directory: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    path = directory / SIDECAR_FILE
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))
    return directory


def _edit_weights(directory: Path, change: Callable[[dict[str, torch.Tensor]], None]) -> Path:
    """Change the tensors and store their new checksum: the sidecar vouches for the broken weights."""
    from safetensors.torch import load_file, save_file

    state = load_file(str(directory / WEIGHTS_FILE))
    change(state)
    save_file(state, str(directory / WEIGHTS_FILE))
    return _edit_sidecar(directory, lambda m: m.update(weights_sha256=sha256_file(directory / WEIGHTS_FILE)))


def _nan_weights(state: dict[str, torch.Tensor]) -> None:
    name = min(state)
    state[name] = torch.full_like(state[name], float("nan"))


def _int8_weights(state: dict[str, torch.Tensor]) -> None:
    for name, tensor in state.items():
        state[name] = tensor.to(torch.int8)


def _flip_last_byte(directory: Path) -> Path:
    data = bytearray((directory / WEIGHTS_FILE).read_bytes())
    data[-1] ^= 0xFF
    (directory / WEIGHTS_FILE).write_bytes(bytes(data))
    return directory


def _case(good: Builder, change: Callable[[Path], Path]) -> Builder:
    def build(folder: Path) -> Path:
        return change(good(Path(folder)))

    return build


def _sidecar_case(good: Builder, change: Callable[[dict[str, Any]], None]) -> Builder:
    return _case(good, lambda d: _edit_sidecar(d, change))


def _weights_case(good: Builder, change: Callable[[dict[str, torch.Tensor]], None]) -> Builder:
    return _case(good, lambda d: _edit_weights(d, change))


def _nested(key: str, sub: str, value: Any):
    return lambda m: m.setdefault(key, {}).update({sub: value})


BAD_TASKS: dict[str, tuple[Builder, str]] = {
    "hidden-negative": (_sidecar_case(good_task, _nested("architecture", "hidden", [-5])), "no usable architecture"),
    "hidden-other-sizes": (_sidecar_case(good_task, _nested("architecture", "hidden", [7])),
                           "weights do not fit the architecture"),
    "fusion-a-string": (_sidecar_case(good_task, lambda m: m.update(fusion="fast")), "fusion parameters must be names"),
    "fusion-T_phi-text": (_sidecar_case(good_task, _nested("fusion", "T_phi", "hot")), "T_phi must be a finite number"),
    "env-config-a-string": (_sidecar_case(good_task, lambda m: m.update(env_config="big")),
                            "env_config must be an object"),
    "action-names-a-number": (_sidecar_case(good_task, lambda m: m.update(action_names=5)),
                              "action_names must be a list"),
    "q-scale-text": (_sidecar_case(good_task, lambda m: m["metrics"]["q_scale"].update(legal_std="x")), "legal_std"),
    "nan-weights": (_weights_case(good_task, _nan_weights), "holds NaN or infinite values"),
    "int8-weights": (_weights_case(good_task, _int8_weights), "holds int8"),
    "tampered-weights": (_case(good_task, _flip_last_byte), "does not match its checksum"),
    "sidecar-not-json": (_case(good_task, lambda d: _write(d / SIDECAR_FILE, b"{oops") and d), "is not valid JSON"),
}


def _seven_feature_intent(directory: Path) -> Path:
    """A self-consistent intent model for a gridnav with 7 features (what an older version might have written)."""
    from dpf_gui.checkpoints import save_checkpoint
    from dpf_gui.intent.model import IntentArch, IntentModel

    meta = json.loads((directory / SIDECAR_FILE).read_text())
    arch = IntentArch.from_dict({**meta["architecture"], "n_features": 7})
    torch.manual_seed(0)
    meta["architecture"] = IntentModel(arch).describe()
    meta["observation"] = {"features": meta["observation"]["features"][:7], "n_features": 7}
    save_checkpoint(directory, IntentModel(arch).state_dict(), {k: v for k, v in meta.items() if k != "weights_sha256"})
    return directory


BAD_INTENTS: dict[str, tuple[Builder, str]] = {
    "reward-scale-text": (_sidecar_case(good_intent, lambda m: m.update(reward_scale="x")),
                          "reward_scale must be a number"),
    "hidden-negative": (_sidecar_case(good_intent, _nested("architecture", "hidden", -5)), "hidden must be >= 1"),
    "seven-features": (_case(good_intent, _seven_feature_intent), "its 7 observation features"),
    "wish-a-string": (_sidecar_case(good_intent, _nested("labels", "wish", "x")), "labels.wish must be"),
    "nan-weights": (_weights_case(good_intent, _nan_weights), "holds NaN or infinite values"),
    "int8-weights": (_weights_case(good_intent, _int8_weights), "holds int8"),
    "task-agent-instead": (lambda folder: good_task(Path(folder)), "is a task agent, not an intent model"),
}


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file under ``folder``: equal snapshots mean nothing was written."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            st = (Path(root) / name).stat()
            out[str(Path(root, name).relative_to(folder))] = (st.st_size, st.st_mtime_ns)
    return out


__all__ = ["BAD_DATASETS", "BAD_INTENTS", "BAD_LABELS", "BAD_TASKS", "empty_dataset", "good_dataset", "good_intent",
           "good_labels", "good_task", "readonly_folder", "snapshot"]
