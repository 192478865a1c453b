"""Checkpoint I/O: weights as data, never as code.

A checkpoint is a directory::

    DIR/weights.safetensors   the tensors (safetensors: no pickle, no code)
    DIR/model.json            the sidecar: what the weights are and how they were made

The sidecar is a JSON object. Keys every dpf checkpoint carries (extra keys are
allowed and kept)::

    kind             "task-dqn", "intent", ...: what the weights are for
    env              environment name ("gridnav", "highway", "pong")
    env_config       the environment config the model was trained under
    observation      {"features": [...], "n_features": F}
    n_actions        A
    action_names     [...]
    hyperparameters  {...} training configuration
    architecture     {...} enough to rebuild the network
    steps, seed, wall_time_s, metrics
    weights_sha256   sha256 (hex) of weights.safetensors, written by save_checkpoint
    created          ISO 8601 time of saving (UTC)
    dpf_gui_version  package version that wrote it

``load_checkpoint`` verifies the checksum before it reads a tensor, checks the
types of the sidecar keys above and that every tensor holds finite floating-point
numbers, and refuses a checkpoint of the wrong kind or for the wrong environment
with a one-line :class:`~dpf_gui.errors.UserError`. A checksum only says the
weights are the ones the sidecar names, not that either is sane: whoever wrote
the folder could have written anything, hence the checks. What a kind of model
needs beyond that (architecture, fusion defaults, scales) its own loader checks
(``TaskAgent.load``, ``load_intent``). Files are written under temporary names
and renamed, so an interrupted save never leaves half a file behind.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dpf_gui import __version__
from dpf_gui.errors import UserError
from dpf_gui.fileio import write_atomic, write_json_atomic

if TYPE_CHECKING:
    import torch

WEIGHTS_FILE = "weights.safetensors"
SIDECAR_FILE = "model.json"


def is_checkpoint(directory: str | os.PathLike) -> bool:
    """Whether ``directory`` holds a checkpoint's sidecar: the cheap test before offering or loading it (reads
    nothing; :func:`load_checkpoint` checks the rest)."""
    return Path(directory, SIDECAR_FILE).is_file()


#: sidecar keys that only save_checkpoint may set (update_sidecar refuses them)
_PROTECTED = ("kind", "weights_sha256")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _json_default(obj: Any) -> Any:
    """Make numpy scalars/arrays, tuples-in-dataclasses and paths JSON-friendly."""
    if hasattr(obj, "tolist"):  # numpy arrays and scalars, torch tensors
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"sidecar value of type {type(obj).__name__} is not JSON serialisable")


def save_checkpoint(directory: str | os.PathLike, state_dict: Mapping[str, torch.Tensor],
                    sidecar: Mapping[str, Any]) -> Path:
    """Write ``state_dict`` and its sidecar into ``directory`` (created if needed); return the directory.

    ``sidecar`` must hold ``"kind"``; ``weights_sha256``, ``created`` and
    ``dpf_gui_version`` are filled in here (``created``/``dpf_gui_version`` only
    if the caller did not set them). The weights are written first, then the
    sidecar, each under a temporary name renamed into place.
    """
    if not sidecar.get("kind"):
        raise ValueError("checkpoint sidecar needs a 'kind'")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save_file

    # safetensors wants contiguous, unshared CPU tensors
    tensors = {str(k): v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    weights = directory / WEIGHTS_FILE
    write_atomic(weights, lambda tmp: save_file(tensors, tmp, metadata={"format": "pt"}))

    meta = dict(sidecar)
    meta["weights_sha256"] = sha256_file(weights)
    meta.setdefault("created", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    meta.setdefault("dpf_gui_version", __version__)
    write_json_atomic(directory / SIDECAR_FILE, meta, default=_json_default)
    return directory


def read_sidecar(directory: str | os.PathLike) -> dict[str, Any]:
    """The sidecar of a checkpoint directory, without touching the weights."""
    directory = Path(directory)
    if directory.is_file():
        raise UserError(f"checkpoint {directory}: a file, not a checkpoint folder (a folder with {SIDECAR_FILE} and "
                        f"{WEIGHTS_FILE})")
    if not directory.is_dir():
        raise UserError(f"checkpoint {directory}: no such directory")
    path = directory / SIDECAR_FILE
    if not path.is_file():
        raise UserError(f"checkpoint {directory}: missing {SIDECAR_FILE} (not a dpf checkpoint directory)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"checkpoint {directory}: {SIDECAR_FILE} is not valid JSON "
                        f"({exc.__class__.__name__})") from None
    except OSError as exc:
        raise UserError(f"checkpoint {directory}: cannot read {SIDECAR_FILE} ({exc.strerror})") from None
    if not isinstance(meta, dict):
        raise UserError(f"checkpoint {directory}: {SIDECAR_FILE} is not a JSON object")
    return meta


#: JSON type of the sidecar keys every loader relies on (checked where present; ``kind``/``env`` by the loaders)
_SIDECAR_TYPES: dict[str, tuple[type, str]] = {
    "kind": (str, "text"), "env": (str, "text"), "env_config": (dict, "an object"),
    "observation": (dict, "an object"), "n_actions": (int, "a whole number"), "action_names": (list, "a list of names"),
    "hyperparameters": (dict, "an object"), "architecture": (dict, "an object"), "metrics": (dict, "an object"),
}


def _check_sidecar(directory: Path, meta: Mapping[str, Any]) -> None:
    for key, (typ, words) in _SIDECAR_TYPES.items():
        value = meta.get(key)
        if key in meta and (not isinstance(value, typ) or isinstance(value, bool)):
            raise UserError(f"checkpoint {directory}: {SIDECAR_FILE} {key} must be {words}, not {value!r}")
    obs = meta.get("observation") or {}
    names = [obs.get("features", []), meta.get("action_names", [])]
    if not all(isinstance(n, list) and all(isinstance(x, str) for x in n) for n in names):
        raise UserError(f"checkpoint {directory}: {SIDECAR_FILE} observation.features and action_names "
                        "must be lists of names")


def _check_tensors(directory: Path, state: Mapping[str, Any]) -> None:
    """Every tensor (torch or numpy) holds finite floating-point numbers."""
    for name, tensor in state.items():
        if isinstance(tensor, np.ndarray):
            floating, dtype = np.issubdtype(tensor.dtype, np.floating), str(tensor.dtype)
            finite = floating and bool(np.isfinite(tensor).all())
        else:
            floating, dtype = tensor.is_floating_point(), str(tensor.dtype).removeprefix("torch.")
            finite = floating and bool(tensor.isfinite().all())
        if not floating:
            raise UserError(f"checkpoint {directory}: tensor {name!r} holds {dtype}, expected floating-point weights")
        if not finite:
            raise UserError(f"checkpoint {directory}: tensor {name!r} holds NaN or infinite values")


def check_against_env(directory: str | os.PathLike, meta: Mapping[str, Any], n_features: int, n_actions: int) -> None:
    """Refuse a model whose environment is unknown, or whose features/actions (named in the sidecar, and
    ``n_features``/``n_actions`` as its network is built) no longer match that environment's spec."""
    from dpf_gui.envs import ENV_NAMES, env_spec

    name = meta.get("env")
    if name not in ENV_NAMES:
        raise UserError(f"checkpoint {directory} is for unknown environment {name!r}; known: {', '.join(ENV_NAMES)}")
    spec = env_spec(name)
    feats = list((meta.get("observation") or {}).get("features") or [])
    if (feats and feats != list(spec.feature_names)) or n_features != spec.n_features:
        raise UserError(f"checkpoint {directory}: its {n_features} observation features{f' {feats}' if feats else ''} "
                        f"differ from {name}'s current {spec.n_features} {list(spec.feature_names)} (retrain it)")
    actions = list(meta.get("action_names") or [])
    if (actions and actions != list(spec.action_names)) or n_actions != spec.n_actions:
        raise UserError(f"checkpoint {directory}: its {n_actions} actions{f' {actions}' if actions else ''} differ "
                        f"from {name}'s {list(spec.action_names)}")


#: a checkpoint kind as a person says it (the sidecar's ``kind``)
KIND_WORDS = {"task-dqn": "a task agent", "intent": "an intent model", "task-risk": "a crash-risk model"}


def kind_words(kind: Any) -> str:
    """``kind`` in words for a message: "an intent model", not "'intent'"."""
    return KIND_WORDS.get(kind, f"a {kind!r} checkpoint") if isinstance(kind, str) else "a checkpoint of no known kind"


def load_checkpoint(directory: str | os.PathLike, kind: str | Iterable[str] | None,
                    expect_env: str | None = None, arrays: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load and verify a checkpoint: ``(state_dict, sidecar)``; ``arrays``: the tensors as numpy arrays
    (reading them then needs no torch, which takes a second or two to import).

    ``kind`` is the kind expected (a string, several allowed kinds, or ``None``
    for any). Every problem (missing directory or file, bad JSON, wrong kind,
    wrong environment, checksum mismatch, unreadable weights) is a one-line
    :class:`UserError`. Tensors are read with safetensors: no pickle, no code.
    """
    directory = Path(directory)
    meta = read_sidecar(directory)
    _check_sidecar(directory, meta)
    got_kind = meta.get("kind")
    if kind is not None:
        allowed = (kind,) if isinstance(kind, str) else tuple(kind)
        if got_kind not in allowed:
            want = " or ".join(kind_words(k) for k in allowed)
            raise UserError(f"checkpoint {directory} is {kind_words(got_kind)}, not {want}")
    if expect_env is not None and meta.get("env") != expect_env:
        raise UserError(f"checkpoint {directory} was trained for {meta.get('env')!r}, not {expect_env!r}")
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise UserError(f"checkpoint {directory}: missing {WEIGHTS_FILE}")
    want_sha = meta.get("weights_sha256")
    if not isinstance(want_sha, str):
        raise UserError(f"checkpoint {directory}: {SIDECAR_FILE} has no weights_sha256")
    if sha256_file(weights) != want_sha.lower():
        raise UserError(f"checkpoint {directory}: {WEIGHTS_FILE} does not match its checksum (file changed or corrupt)")
    from safetensors import SafetensorError

    try:
        if arrays:
            from safetensors.numpy import load_file

            state = load_file(str(weights))
        else:
            from safetensors.torch import load_file

            state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as exc:
        raise UserError(f"checkpoint {directory}: cannot read {WEIGHTS_FILE} ({exc.__class__.__name__})") from None
    _check_tensors(directory, state)
    return state, meta


def update_sidecar(directory: str | os.PathLike, **fields: Any) -> dict[str, Any]:
    """Add or change sidecar fields (e.g. metrics after an evaluation); return the new sidecar.

    A dict value is merged one level into an existing dict of the same key
    (``update_sidecar(d, metrics={"eval": {...}})`` keeps the other metrics);
    any other value replaces the old one. ``kind`` and ``weights_sha256`` cannot
    be changed here. The file is rewritten atomically.
    """
    bad = [k for k in fields if k in _PROTECTED]
    if bad:
        raise ValueError(f"update_sidecar cannot change {', '.join(bad)}")
    directory = Path(directory)
    meta = read_sidecar(directory)
    for key, value in fields.items():
        if isinstance(value, Mapping) and isinstance(meta.get(key), dict):
            merged = dict(meta[key])
            merged.update(value)
            meta[key] = merged
        else:
            meta[key] = value
    write_json_atomic(directory / SIDECAR_FILE, meta, default=_json_default)
    return meta


__all__ = [
    "KIND_WORDS",
    "SIDECAR_FILE",
    "WEIGHTS_FILE",
    "check_against_env",
    "kind_words",
    "load_checkpoint",
    "read_sidecar",
    "save_checkpoint",
    "sha256_file",
    "update_sidecar",
]
