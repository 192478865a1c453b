"""Fitting the intent model to trajectory scores (METHOD.md, piece 3).

Only labelled trajectories are used. They are split by trajectory (seeded)
into a training and a held-out part; training stops when the held-out loss has
not improved for ``patience`` epochs and the best weights are kept.

Loss of one trajectory of T decisions with normalised score y (lambda = 2 by default)::

    (g_{T-1} - y)^2 + lambda * [ mean_t (g_t - y)^2 + mean_t (aux_t - g_{t+3})^2 ]

where the aux target ``g_{t+3}`` is detached and is ``y`` past the end. That
is the ``score`` objective (:mod:`dpf_gui.intent.objectives`); with
``logistic`` (binary labels) both squared errors to ``y`` become the logistic
loss of ``g`` against the label and the aux target past the end is the
detached ``g_{T-1}``. Pairwise comparisons cannot train this model: every
step's term needs a target of the trajectory itself, and a comparison gives
only the order of two (train them with the additive kind). The
first term asks for the right final answer; the middle one for an early guess
(which makes ``g_0`` carry the expected score and keeps the redistribution
from piling everything on the last step); the aux term is RUDDER's shaping.

Why ``lam = 2`` and not the authors' 0.1. With 0.1 the final-score term
dominates and the model is free to book a mark one step late, on the decision
that *sees* the new state instead of the one that caused it; the intent policy
then cannot steer (measured on gridnav "avoid": entering the toll road scored
-0.06 while every move out of it scored -0.6 or less). A strong per-step term
makes every g_t track the expected score given the prefix, so r_t(a) anticipates
where an action leads: with 2.0 the fused agent takes the scenic detour and
never touches the toll road (docs/RESULTS.md).

Score normalisation. Targets are ``y = G / score_scale`` with
``score_scale = sqrt(mean(G^2))`` over the labelled training trajectories:
the root mean square *about zero*, not the standard deviation, and no shift.

* Zero means something (a neutral trajectory; ``g_{-1} = 0`` anchors the
  redistribution), so the scores are scaled, never shifted: ``r_t`` keeps its
  sign and ``sum_t r_t`` stays the predicted score.
* The RMS keeps |y| about 1 for every kind of feedback: sums of marks
  (-4 +- 5 on gridnav, -70 +- 70 or +100 on Pong), binary -1/0/+1 (RMS =
  sqrt of the fraction of non-zero labels, <= 1) and noisy scores. The std
  would blow up targets whose mean is far from zero (an "avoid" wish gives
  only negative scores: -28 +- 15 -> y ~ -2 +- 1 with the std, an offset the
  output layer has to learn first); the mean |G| of non-zero scores ignores
  how many are zero. The RMS is bounded by the largest |G| and is never 0
  once the scores differ (checked: otherwise there is nothing to learn).

The model stores ``score_scale``, so predictions come back in score units.
Its ``offset`` starts at the mean target, so an untrained model already
predicts the average score and training starts on the differences.

Reported fit (held-out, on the kept weights; see :func:`fit_metrics`):
Pearson correlation of the final prediction with the given score, sign
accuracy on non-zero scores, pairwise order accuracy, and the correlation with
the noise-free score where the labels know it (a simulated user).

Speed: trajectories are batched by similar length (at most ``batch_size``
trajectories and ``max_batch_steps`` padded steps per batch) so little time is
spent on padding; the LSTM is causal, so padding at the end never changes the
valid outputs and the loss is masked. ``max_train_per_epoch`` subsamples very
large datasets each epoch; ``max_time_s`` bounds the wall time.
"""

from __future__ import annotations

import copy
import csv
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from dpf_gui.checkpoints import check_against_env, load_checkpoint, read_sidecar, save_checkpoint
from dpf_gui.data.labels import Labels
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.errors import UserError
from dpf_gui.intent.lstm_config import INTENT_ALLOWED, IntentConfig
from dpf_gui.intent.model import IntentArch, IntentModel
from dpf_gui.intent.objectives import Objective, ScoreRegression, resolve
from dpf_gui.intent.redistribute import (
    _batches,
    candidate_spread,
    padded,
    predict_dataset,
    reward_scale,
)

KIND = "intent"
CURVE_CSV = "training_curve.csv"
LABEL_PROVENANCE = ("wish", "mode", "noise", "seed", "source", "data_fingerprint", "data_path")


@dataclass
class IntentResult:
    """What :func:`train_intent` made: the model (best weights) and everything said about it."""

    model: IntentModel
    sidecar: dict[str, Any]  # what the checkpoint's model.json holds (also when not saved)
    metrics: dict[str, Any]  # held-out / train fit, see ``fit_metrics``
    curve: list[dict[str, float]]  # per epoch: epoch, train_loss, val_loss, time_s
    train_indices: np.ndarray  # dataset indices used for training
    val_indices: np.ndarray  # dataset indices held out
    score_scale: float
    reward_scale: float
    best_epoch: int
    epochs: int
    interrupted: bool
    wall_time_s: float
    out_dir: Path | None = None
    #: held-out predicted scores aligned with ``val_indices`` where the kind makes them while training
    #: (the additive kind's out-of-bag predictions; None: predict ``val_indices`` with ``model``)
    held_out_pred: np.ndarray | None = None


# ---------------------------------------------------------------------------
# loss
# ---------------------------------------------------------------------------
def sequence_loss(g: torch.Tensor, aux: torch.Tensor, y: torch.Tensor, lengths: torch.Tensor,
                  lam: float, horizon: int, objective: Objective | None = None) -> torch.Tensor:
    """Per-trajectory loss (B,) on padded predictions g, aux (B, T); see the module docstring."""
    objective = objective or ScoreRegression()
    b, t = g.shape
    steps = torch.arange(t).unsqueeze(0)
    mask = (steps < lengths.unsqueeze(1)).to(g.dtype)
    n = lengths.to(g.dtype)
    last = g.gather(1, (lengths - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
    main = objective.pointwise(last, y)
    mid = (objective.pointwise(g, y.unsqueeze(1)) * mask).sum(1) / n
    gd = g.detach()
    end = objective.end_value(y, last.detach())
    shifted = torch.cat([gd[:, horizon:], end.unsqueeze(1).expand(b, min(horizon, t))], dim=1)
    target = torch.where(steps + horizon < lengths.unsqueeze(1), shifted, end.unsqueeze(1))
    aux_l = (((aux - target) ** 2) * mask).sum(1) / n
    return main + lam * (mid + aux_l)


# ---------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------
def _pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or a.std() < 1e-12 or b.std() < 1e-12:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def fit_metrics(pred: np.ndarray, given: np.ndarray, true: np.ndarray | None = None) -> dict[str, Any]:
    """How well final predictions match the scores.

    ``corr``: Pearson correlation with the given scores; ``sign_acc``: sign
    agreement on trajectories with a non-zero given score; ``pair_acc``:
    fraction of pairs with different given scores that the predictions order
    the same way (what a preference needs, whatever the scale); ``true_corr``:
    correlation with the noise-free scores, where known. ``None`` where
    undefined (too few trajectories or constant scores).
    """
    pred, given = np.asarray(pred, np.float64), np.asarray(given, np.float64)
    out: dict[str, Any] = {"n": len(pred), "corr": _pearson(pred, given)}
    nz = given != 0
    out["sign_acc"] = float(np.mean(np.sign(pred[nz]) == np.sign(given[nz]))) if nz.any() else None
    if len(pred) >= 2:
        dg = np.sign(given[:, None] - given[None, :])
        dp = np.sign(pred[:, None] - pred[None, :])
        pairs = dg != 0
        out["pair_acc"] = float(np.mean(dg[pairs] == dp[pairs])) if pairs.any() else None
    else:
        out["pair_acc"] = None
    out["rmse"] = float(np.sqrt(np.mean((pred - given) ** 2))) if len(pred) else None
    if true is not None:
        true = np.asarray(true, np.float64)
        ok = np.isfinite(true)
        out["true_corr"] = _pearson(pred[ok], true[ok]) if ok.sum() >= 2 else None
    return out


# ---------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------
def labelled_indices(dataset: TrajectoryDataset, labels: Labels, min_labelled: int) -> np.ndarray:
    if len(labels) != len(dataset):
        raise UserError(f"labels cover {len(labels)} trajectories, the data has {len(dataset)}: "
                        "use the label file made for this dataset")
    fp = labels.meta.get("data_fingerprint")
    if fp is not None and fp != dataset.fingerprint():
        raise UserError("labels were given to a different trajectory dataset (fingerprint mismatch)")
    env = labels.meta.get("env")
    if env is not None and env != dataset.env_name:
        raise UserError(f"labels are for environment {env!r}, the data is {dataset.env_name!r}")
    scores = np.asarray(labels.scores, dtype=np.float64)
    idx = np.flatnonzero(np.asarray(labels.labelled, dtype=bool) & (dataset.lengths > 0))
    bad = idx[~np.isfinite(scores[idx])]
    if len(bad):
        raise UserError(f"{len(bad)} labelled trajectories have no finite score (e.g. #{int(bad[0])}); "
                        "give them a score or unlabel them")
    if len(idx) < min_labelled and labels.pairs is not None:
        raise UserError(f"only {len(idx)} trajectories are compared or ranked; the intent model needs at least "
                        f"{min_labelled}, some better than others: rank or compare more")
    if len(idx) < min_labelled:
        raise UserError(f"only {len(idx)} trajectories are labelled; the intent model needs at least "
                        f"{min_labelled}, with different scores (some better, some worse): label more")
    if labels.pairs is None and np.ptp(scores[idx]) == 0:  # comparisons are checked by their objective
        raise UserError(f"all {len(idx)} labelled trajectories have the same score ({scores[idx][0]:g}): "
                        "the intent model learns from differences; mark some trajectories better or worse "
                        "than others (if none of them goes where your wish is about, the stored data may not "
                        "show it at all: label the suggested trajectories, or collect more varied ones)")
    return idx


def check_objective(objective) -> None:
    """The paper's LSTM fits one target per trajectory: refuse feedback that has none (pairwise comparisons)."""
    if not objective.per_trajectory:
        raise UserError(f"the paper's LSTM learns from one score per trajectory, not from {objective.name} "
                        "(its loss asks every step for the trajectory's own target): train the additive kind "
                        "(the Train tab's model, or --kind additive)")


def _split(idx: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(idx)
    n_val = round(fraction * len(perm))
    n_val = min(max(n_val, 1), len(perm) - 2)  # at least one held out, at least two to train on
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _epoch_batches(lengths: np.ndarray, indices: np.ndarray, cfg: IntentConfig,
                   rng: np.random.Generator) -> list[list[int]]:
    """Training batches of similar length in random order (ties broken at random)."""
    idx = rng.permutation(indices)
    if cfg.max_train_per_epoch is not None and len(idx) > cfg.max_train_per_epoch:
        idx = idx[: cfg.max_train_per_epoch]
    jitter = rng.random(len(idx))
    order = idx[np.lexsort((jitter, lengths[idx]))]
    batches: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        i = int(i)
        longest = int(lengths[i])  # sorted ascending: the newest is the longest
        if cur and (len(cur) >= cfg.batch_size or (len(cur) + 1) * longest > cfg.max_batch_steps):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return [batches[k] for k in rng.permutation(len(batches))]


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------
def train_intent(
    dataset: TrajectoryDataset,
    labels: Labels,
    seed: int,
    out_dir: str | Path | None = None,
    config: IntentConfig | None = None,
    progress: bool = True,
    on_epoch: Callable[[int, float, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> IntentResult:
    """Fit an intent model to ``labels`` on ``dataset``; save it to ``out_dir`` if given.

    ``on_epoch(epoch, train_loss, val_loss)`` is called after every epoch
    (1-based; normalised units). ``should_stop()`` is polled between batches;
    when it returns true, or on Ctrl-C, training ends cleanly with the best
    weights so far and ``interrupted`` set. Same data, labels, seed and config
    give the same weights (on the same machine and thread count).
    """
    cfg = config or IntentConfig()
    if cfg.threads is None:
        return _train(dataset, labels, seed, out_dir, cfg, progress, on_epoch, should_stop)
    previous = torch.get_num_threads()
    torch.set_num_threads(int(cfg.threads))
    try:
        return _train(dataset, labels, seed, out_dir, cfg, progress, on_epoch, should_stop)
    finally:
        torch.set_num_threads(previous)


def _train(dataset: TrajectoryDataset, labels: Labels, seed: int, out_dir: str | Path | None, cfg: IntentConfig,
           progress: bool, on_epoch: Callable[[int, float, float], None] | None,
           should_stop: Callable[[], bool] | None) -> IntentResult:
    t_start = time.time()
    objective = resolve(cfg.objective, labels)
    check_objective(objective)
    idx = labelled_indices(dataset, labels, max(3, cfg.min_labelled))
    rng = np.random.default_rng(seed)
    train_idx, val_idx = _split(idx, cfg.held_out, rng)
    scores = np.asarray(labels.scores, dtype=np.float64)

    # normalisation from the training part
    score_scale = objective.scale(scores[train_idx])
    if score_scale <= 0:
        score_scale = objective.scale(scores[idx])
    g_train = objective.targets(scores[train_idx], 1.0)  # in the scale's units: the scores, or the labels' signs
    rows = np.concatenate([dataset.features[dataset.state_slice(int(i))][: int(dataset.lengths[i])] for i in train_idx])
    arch = IntentArch(n_features=int(dataset.features.shape[1]), n_actions=len(dataset.meta["action_names"]),
                      embed=cfg.embed, hidden=cfg.hidden, block=cfg.block, aux_horizon=cfg.aux_horizon,
                      readout=cfg.readout, action_in=cfg.action_in)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = IntentModel(arch)
    model.set_normalisation(rows.mean(0), rows.std(0), score_scale,
                            mean_length=float(dataset.lengths[train_idx].mean()),
                            mean_target=float(g_train.mean() / score_scale))
    y_all = torch.from_numpy(objective.targets(scores, score_scale).astype(np.float32))

    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay,
                            eps=cfg.adam_eps)
    val_batches = list(_batches(dataset.lengths, [int(i) for i in val_idx], 4 * cfg.max_batch_steps))
    val_tensors = [(padded(dataset, b), y_all[b]) for b in val_batches]

    def val_loss() -> float:
        model.eval()
        total = 0.0
        with torch.no_grad():
            for (f, a, lens), y in val_tensors:
                g, aux, _ = model(f, a)
                total += float(sequence_loss(g, aux, y, lens, cfg.lam, cfg.aux_horizon, objective).sum())
        return total / max(1, len(val_idx))

    best_val = initial_val = val_loss()
    best_state = copy.deepcopy(model.state_dict())
    best_epoch = 0
    curve: list[dict[str, float]] = []
    interrupted = False
    steps = 0
    bad_epochs = 0
    epoch = 0
    stopped = None  # why training ended before max_epochs (said on the bar and in the metrics)
    # a bar counted by hand: iterating over it would close it at the break, before it can say why
    bar = tqdm(total=cfg.max_epochs, desc="intent", unit="epoch", disable=not progress)
    try:
        for epoch in range(1, cfg.max_epochs + 1):
            model.train()
            t_ep = time.time()
            tot, cnt = 0.0, 0
            for batch in _epoch_batches(dataset.lengths, train_idx, cfg, rng):
                if should_stop is not None and should_stop():
                    interrupted = True
                    break
                f, a, lens = padded(dataset, batch)
                g, aux, _ = model(f, a)
                loss_b = sequence_loss(g, aux, y_all[batch], lens, cfg.lam, cfg.aux_horizon, objective)
                loss = loss_b.mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.max_grad_norm > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                opt.step()
                steps += 1
                tot += float(loss_b.detach().sum())
                cnt += len(batch)
            if interrupted:
                break
            train_loss = tot / max(1, cnt)
            v = val_loss()
            curve.append({"epoch": epoch, "train_loss": train_loss, "val_loss": v, "time_s": time.time() - t_ep})
            if v < best_val * (1 - cfg.min_delta):
                best_val, best_epoch, bad_epochs = v, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad_epochs += 1
            bar.set_postfix(train=f"{train_loss:.4f}", val=f"{v:.4f}", best=best_epoch, refresh=False)
            bar.update(1)
            if on_epoch is not None:
                on_epoch(epoch, train_loss, v)
            if bad_epochs >= cfg.patience and epoch < cfg.max_epochs:
                stopped = f"no held-out improvement for {cfg.patience} epochs"
                break
            if cfg.max_time_s is not None and time.time() - t_start > cfg.max_time_s and epoch < cfg.max_epochs:
                stopped = f"time limit {cfg.max_time_s:g} s"
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if interrupted:
            stopped = "interrupted"
        if stopped:
            bar.set_description(f"intent: stopped early at epoch {len(curve)} of {cfg.max_epochs} ({stopped})",
                                refresh=False)
        bar.close()
    model.load_state_dict(best_state)
    model.eval()

    # fit and reward scale of the kept weights
    preds = predict_dataset(model, dataset, [int(i) for i in idx])
    true = np.asarray(labels.true_scores, dtype=np.float64) if labels.true_scores is not None else None

    def fit(part: np.ndarray) -> dict[str, Any]:
        p = np.array([float(preds[int(i)][-1]) for i in part])
        return fit_metrics(p, scores[part], None if true is None else true[part])

    r_scale = reward_scale(model, dataset, [int(i) for i in train_idx], predictions=preds)
    spread = {
        "history": candidate_spread(model, dataset, [int(i) for i in train_idx], markov=False, seed=seed),
        "markov": candidate_spread(model, dataset, [int(i) for i in train_idx], markov=True, seed=seed),
    }
    metrics = {
        "held_out": fit(val_idx),
        "train": fit(train_idx),
        "best_epoch": best_epoch,
        "epochs": len(curve),
        "best_val_loss": best_val,
        "initial_val_loss": initial_val,
        "interrupted": interrupted,
        "stopped_early": stopped,
    }
    wall = time.time() - t_start
    sidecar = _sidecar(dataset, labels, model, cfg, seed, metrics, curve, score_scale, r_scale, spread,
                       len(train_idx), len(val_idx), steps, wall, objective.name)
    out_path = None
    if out_dir is not None:
        out_path = Path(out_dir)
        sidecar = read_sidecar(save_checkpoint(out_path, model.state_dict(), sidecar))  # with its checksum
        _write_curve(out_path / CURVE_CSV, curve)
    return IntentResult(model=model, sidecar=sidecar, metrics=metrics, curve=curve,
                        train_indices=train_idx, val_indices=val_idx, score_scale=score_scale,
                        reward_scale=r_scale, best_epoch=best_epoch, epochs=len(curve),
                        interrupted=interrupted, wall_time_s=wall, out_dir=out_path)


def _sidecar(dataset: TrajectoryDataset, labels: Labels, model: IntentModel, cfg: IntentConfig, seed: int,
             metrics: dict[str, Any], curve: list[dict[str, float]], score_scale: float, r_scale: float,
             spread: dict[str, float], n_train: int, n_val: int, steps: int, wall: float,
             objective: str) -> dict[str, Any]:
    meta = dataset.meta
    return {
        "kind": KIND,
        "env": dataset.env_name,
        "env_config": dataset.env_config,
        "observation": {"features": list(meta["feature_names"]), "n_features": len(meta["feature_names"])},
        "n_actions": len(meta["action_names"]),
        "action_names": list(meta["action_names"]),
        "hyperparameters": cfg.to_dict(),
        "objective": objective,  # the feedback objective trained with (hyperparameters say what was asked)
        "architecture": model.describe(),
        "score_scale": score_scale,  # g_normalised * score_scale = score units
        "reward_scale": r_scale,  # RMS of r_t (t >= 1) over the training trajectories, score units
        "candidate_spread": spread,  # RMS of r_t(a) - mean_a r_t(a) over training decisions, score units
        "labels": {
            **{k: labels.meta.get(k) for k in LABEL_PROVENANCE},
            "count": int(labels.count),
            "total": len(labels),
            "train": n_train,
            "held_out": n_val,
        },
        "data": {"fingerprint": dataset.fingerprint(), "count": len(dataset), "source": meta.get("source")},
        "metrics": metrics,
        "training_curve": curve,
        "steps": steps,
        "seed": int(seed),
        "wall_time_s": wall,
    }


def _write_curve(path: Path, curve: Sequence[dict[str, float]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["epoch", "train_loss", "val_loss", "time_s"])
        w.writeheader()
        for row in curve:
            w.writerow(row)


def load_intent(directory: str | Path, expect_env: str | None = None) -> tuple[IntentModel, dict[str, Any]]:
    """Load an intent checkpoint: ``(model, sidecar)``; anything wrong is a one-line :class:`UserError`.

    Beyond :func:`~dpf_gui.checkpoints.load_checkpoint`'s checks: the architecture (same ranges as
    :class:`IntentConfig`), the environment's features and actions, the stored scales (positive
    numbers), the recorded wish, and the weights' feature statistics.
    """
    state, meta = load_checkpoint(directory, KIND, expect_env=expect_env)
    arch_d = meta.get("architecture") or {}
    problem = _architecture_problem(arch_d)
    if problem:
        raise UserError(f"checkpoint {directory}: model.json architecture {problem}")
    check_against_env(directory, meta, arch_d["n_features"], arch_d["n_actions"])
    problem = _scales_problem(meta) or _wish_problem(meta)
    if problem:
        raise UserError(f"checkpoint {directory}: model.json {problem}")
    try:
        model = IntentModel(IntentArch.from_dict(arch_d))
        model.load_state_dict(state, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise UserError(f"checkpoint {directory}: weights do not fit the architecture in its sidecar "
                        f"({exc.__class__.__name__})") from None
    if not (bool((model.feat_std > 0).all()) and float(model.score_scale) > 0):
        raise UserError(f"checkpoint {directory}: weights hold a feature std or score scale <= 0")
    return model.eval(), meta


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value))


def _architecture_problem(arch: dict[str, Any]) -> str | None:
    for key in ("n_features", "n_actions"):
        value = arch.get(key)
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return f"{key} must be a whole number >= 1; got {value!r}"
    for key in ("embed", "hidden", "block", "aux_horizon", "action_in", "readout"):
        if key not in arch:
            continue
        value, rule = arch[key], INTENT_ALLOWED[key]
        typed = isinstance(value, str) if key == "readout" else isinstance(value, int) and not isinstance(value, bool)
        if not (typed and rule.allows(value)):
            return f"{key} must be {rule.describe()}; got {value!r}"
    return None


def _scales_problem(meta: dict[str, Any]) -> str | None:
    for key in ("score_scale", "reward_scale"):
        if key in meta and not (_is_number(meta[key]) and meta[key] > 0):
            return f"{key} must be a number > 0; got {meta[key]!r}"
    spread = meta.get("candidate_spread", {})
    if not isinstance(spread, dict) or not all(v is None or (_is_number(v) and v >= 0) for v in spread.values()):
        return f"candidate_spread must map history/markov to numbers >= 0; got {spread!r}"
    return None


def _wish_problem(meta: dict[str, Any]) -> str | None:
    labels = meta.get("labels", {})
    if not isinstance(labels, dict):
        return f"labels must be an object; got {labels!r}"
    wish = labels.get("wish")
    if wish is None:
        return None
    lists = [wish.get(k, []) for k in ("prefer", "avoid")] if isinstance(wish, dict) else [None]
    if not all(isinstance(x, list) and all(isinstance(e, str) for e in x) for x in lists):
        return f"labels.wish must be {{\"prefer\": [...], \"avoid\": [...]}} of region expressions; got {wish!r}"
    return None


__all__ = ["KIND", "IntentConfig", "IntentResult", "check_objective", "fit_metrics", "labelled_indices", "load_intent",
           "sequence_loss", "train_intent"]
