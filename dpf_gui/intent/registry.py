"""Intent-model kinds behind one front door: train, load and step any kind by name.

Two kinds (the sidecar's ``intent_kind`` says which; checkpoints written before
it existed are LSTMs):

* ``additive`` (default): the utility + intent-value ensemble of
  :mod:`dpf_gui.intent.additive`, built to learn from the 10-30 marks a
  person gives;
* ``lstm``: the paper's RUDDER-style LSTM (:mod:`dpf_gui.intent.train`), kept
  so the paper's configuration can be reproduced by name.

Callers (CLI, app, results, benchmark) use :func:`train_intent`,
:func:`load_intent` and :func:`make_stepper` and never need to know which kind
they hold.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dpf_gui.checkpoints import load_checkpoint, read_sidecar, save_checkpoint
from dpf_gui.data.labels import Labels
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.errors import UserError
from dpf_gui.intent import additive, partial_marks
from dpf_gui.intent import train as lstm
from dpf_gui.intent.additive import (
    AdditiveArch,
    AdditiveConfig,
    AdditiveIntent,
    AdditiveStepper,
)
from dpf_gui.intent.objectives import check_pairs, feedback, pair_accuracy, resolve
from dpf_gui.intent.train import IntentConfig, IntentResult

KINDS = ("additive", "lstm")
DEFAULT_KIND = "additive"
CONFIGS: dict[str, type] = {"additive": AdditiveConfig, "lstm": IntentConfig}


def intent_kind(sidecar: Mapping[str, Any] | None) -> str:
    """The kind of an intent checkpoint from its sidecar (old checkpoints: the LSTM)."""
    kind = (sidecar or {}).get("intent_kind", "lstm")
    if kind not in KINDS:
        raise UserError(f"intent checkpoint of unknown kind {kind!r}; known kinds: {', '.join(KINDS)}")
    return kind


def config_for(kind: str) -> type:
    """The config dataclass of an intent kind."""
    if kind not in CONFIGS:
        raise UserError(f"unknown intent kind {kind!r}; allowed: {', '.join(KINDS)}")
    return CONFIGS[kind]


def train_intent(dataset: TrajectoryDataset, labels: Labels, seed: int, out_dir: str | Path | None = None,
                 config: AdditiveConfig | IntentConfig | None = None, progress: bool = True,
                 on_epoch: Callable[[int, float, float], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> IntentResult:
    """Fit the intent model the config describes (default: the additive kind); save it to ``out_dir`` if given."""
    config = config if config is not None else AdditiveConfig()
    if isinstance(config, IntentConfig):
        return lstm.train_intent(dataset, labels, seed, out_dir=out_dir, config=config, progress=progress,
                                 on_epoch=on_epoch, should_stop=should_stop)
    if not isinstance(config, AdditiveConfig):
        raise TypeError(f"not an intent config: {type(config).__name__}")
    if config.threads is None:
        return _train_additive(dataset, labels, seed, out_dir, config, progress, should_stop)
    previous = torch.get_num_threads()
    torch.set_num_threads(int(config.threads))
    try:
        return _train_additive(dataset, labels, seed, out_dir, config, progress, should_stop)
    finally:
        torch.set_num_threads(previous)


def check_trainable(dataset: TrajectoryDataset, labels: Labels, config) -> None:
    """What training ``config``'s kind on these labels would refuse before any work (an objective the kind or the
    feedback cannot take, too few or all-alike labels, comparisons that are all ties), so that a caller can refuse
    them before saying anything else about the labels."""
    objective = resolve(config.objective, labels)
    if isinstance(config, IntentConfig):
        lstm.check_objective(objective)
    idx = lstm.labelled_indices(dataset, labels, max(3, config.min_labelled))
    if objective.name == "pairs":
        check_pairs(feedback(labels, idx))


def _train_additive(dataset: TrajectoryDataset, labels: Labels, seed: int, out_dir: str | Path | None,
                    cfg: AdditiveConfig, progress: bool, should_stop: Callable[[], bool] | None) -> IntentResult:
    t0 = time.time()
    idx = lstm.labelled_indices(dataset, labels, max(3, cfg.min_labelled))
    fit = additive.fit_additive(dataset, labels, idx, seed, cfg, progress=progress, should_stop=should_stop)
    interrupted = fit.interrupted
    scores = np.asarray(labels.scores, dtype=np.float64)
    true = np.asarray(labels.true_scores, dtype=np.float64) if labels.true_scores is not None else None
    ok = np.isfinite(fit.oob_pred)
    in_bag = partial_marks.summed_predictions(fit.model, dataset, labels, idx)
    metrics = {
        # out-of-bag: each trajectory predicted by the members that never saw it (a held-out fit without a split)
        "held_out": lstm.fit_metrics(fit.oob_pred[ok], scores[idx][ok], None if true is None else true[idx][ok]),
        "train": lstm.fit_metrics(in_bag, scores[idx], None if true is None else true[idx]),
        "interrupted": interrupted,
    }
    if labels.pairs is not None:  # comparisons give no scores to fit: how many of them the totals order as stated
        fb = feedback(labels, idx)
        for part, pred in (("held_out", fit.oob_pred), ("train", in_bag)):
            metrics[part].update(corr=None, sign_acc=None, pair_acc=None, rmse=None, pref_acc=pair_accuracy(pred, fb))
    wall = time.time() - t0
    meta = dataset.meta
    sidecar = {
        "kind": lstm.KIND,
        "intent_kind": additive.NAME,
        "env": dataset.env_name,
        "env_config": dataset.env_config,
        "observation": {"features": list(meta["feature_names"]), "n_features": len(meta["feature_names"])},
        "n_actions": len(meta["action_names"]),
        "action_names": list(meta["action_names"]),
        "region_features": list(meta["region_features"]),
        "hyperparameters": cfg.to_dict(),
        "objective": fit.objective,  # the feedback objective trained with (hyperparameters say what was asked)
        "architecture": fit.model.describe(),
        "score_scale": fit.score_scale,
        "reward_unit": fit.reward_unit,  # typical immediate reward of a step the model is sure about, score units
        "reward_scale": fit.reward_unit,
        "candidate_spread": {"history": fit.candidate_spread, "markov": fit.candidate_spread},
        "labels": {**{k: labels.meta.get(k) for k in lstm.LABEL_PROVENANCE}, "count": len(idx),
                   "total": len(labels), "train": len(idx), "held_out": int(ok.sum())},
        "data": {"fingerprint": dataset.fingerprint(), "count": len(dataset), "source": meta.get("source")},
        "metrics": metrics,
        "training_curve": [],
        "steps": fit.steps,
        "seed": int(seed),
        "wall_time_s": wall,
    }
    out_path = None
    if out_dir is not None:
        out_path = Path(out_dir)
        sidecar = read_sidecar(save_checkpoint(out_path, fit.model.state_dict(), sidecar))  # with its checksum
    return IntentResult(model=fit.model, sidecar=sidecar, metrics=metrics, curve=[], train_indices=np.asarray(idx),
                        val_indices=np.asarray(idx)[ok], score_scale=fit.score_scale, reward_scale=fit.reward_unit,
                        best_epoch=0, epochs=0, interrupted=interrupted, wall_time_s=wall, out_dir=out_path,
                        held_out_pred=fit.oob_pred[ok])


def load_intent(directory: str | Path, expect_env: str | None = None):
    """Load an intent checkpoint of any kind: ``(model, sidecar)``; problems are one-line :class:`UserError`."""
    state, meta = load_checkpoint(directory, lstm.KIND, expect_env=expect_env)
    if intent_kind(meta) == "lstm":
        return lstm.load_intent(directory, expect_env=expect_env)
    try:
        model = AdditiveIntent(AdditiveArch.from_dict(meta["architecture"]))
        model.load_state_dict(state, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise UserError(f"checkpoint {directory}: weights do not fit the architecture in its sidecar "
                        f"({exc.__class__.__name__})") from None
    return model.eval(), meta


def make_stepper(model, markov: bool = False, confidence: float = 1.0, rows: int = 1):
    """The per-episode query object fusion uses: incremental LSTM (or its markov query), or the additive ensemble.

    ``rows``: how many episodes it carries at once (batched evaluation); both kinds share the row interface.
    """
    if isinstance(model, AdditiveIntent):
        return AdditiveStepper(model, confidence=confidence, rows=rows)
    from dpf_gui.intent.stepper import IntentStepper

    return IntentStepper(model, markov=markov, rows=rows)


__all__ = [
    "CONFIGS",
    "DEFAULT_KIND",
    "KINDS",
    "check_trainable",
    "config_for",
    "intent_kind",
    "load_intent",
    "make_stepper",
    "train_intent",
]
