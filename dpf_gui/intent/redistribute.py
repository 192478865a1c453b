"""Redistributed rewards: where along a trajectory the model puts the user's score.

``r_t = g_t - g_{t-1}`` (``g_{-1} = 0``) along the stored actions, in score
units, so ``sum_t r_t = g_{T-1}``, the model's prediction of the whole score.
The GUI draws it under the replay timeline ("intent saliency"); the retraining
baseline blends it with the task reward.

Two scales are stored with the model (sidecar), both in score units:

* ``reward_scale``: RMS of ``r_t`` (t >= 1) along the training trajectories,
  the typical size of one step's redistributed reward (for blending it with
  a task reward, as the retraining baseline does);
* ``candidate_spread``: RMS of ``r_t(a) - mean_a r_t(a)`` over the legal
  candidates of the training decisions, the typical *difference between
  actions* the intent softmax sees at decision time (history and markov
  query). It is much smaller than ``reward_scale`` (credit for a mark is
  shared between the decision that causes it and the next step, and much of
  ``r_t`` is common to all candidates), so it is the scale that makes one set
  of fusion temperatures mean the same in every environment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.intent.model import IntentModel


def redistributed_rewards(model: IntentModel, features: np.ndarray, actions: np.ndarray,
                          baseline: bool = True) -> np.ndarray:
    """Per-decision intent rewards ``r_t = g_t - g_{t-1}`` (T,) of one trajectory (its states' ``features``, its
    ``actions``), score units; sums to the final prediction.

    ``baseline=False`` leaves the model's baseline (:func:`score_baseline`) out of ``r_0``: the average
    training score that ``g_0`` starts from, the same for every trajectory, which would dwarf every other step
    when drawn (the Annotate timeline draws these, :meth:`IntentAgent.step_rewards`). The rewards then sum to
    the prediction minus that average: what this trajectory did better or worse than usual.
    """
    g = model.eval().predict(features, actions).astype(np.float64)
    if not baseline:
        g -= score_baseline(model)
    return np.diff(g, prepend=0.0)


def score_baseline(model) -> float:
    """The score every prediction starts from: the LSTM's cumsum readout starts at the average training score
    (its ``offset``); the other readouts and the additive kind sum per-step rewards from 0."""
    if getattr(getattr(model, "arch", None), "readout", None) == "cumsum":
        return float(model.offset.detach()) * float(model.score_scale)
    return 0.0


def _batches(lengths: np.ndarray, indices: Sequence[int], max_steps: int) -> Iterable[list[int]]:
    """Indices grouped by similar length, each group at most ``max_steps`` padded steps."""
    order = sorted(indices, key=lambda i: int(lengths[i]))
    batch: list[int] = []
    for i in order:
        if batch and (len(batch) + 1) * int(lengths[i]) > max_steps:
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


def padded(dataset: TrajectoryDataset, batch: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Decision states (B, T, F), actions (B, T) and lengths (B,) of trajectories, zero-padded."""
    lengths = np.array([int(dataset.lengths[i]) for i in batch], dtype=np.int64)
    t_max = max(1, int(lengths.max()))
    feats = np.zeros((len(batch), t_max, dataset.features.shape[1]), dtype=np.float32)
    acts = np.zeros((len(batch), t_max), dtype=np.int64)
    for k, i in enumerate(batch):
        t = lengths[k]
        feats[k, :t] = dataset.features[dataset.state_slice(i)][:t]
        acts[k, :t] = dataset.actions[dataset.step_slice(i)]
    return torch.from_numpy(feats), torch.from_numpy(acts), torch.from_numpy(lengths)


@torch.no_grad()
def predict_dataset(model: IntentModel, dataset: TrajectoryDataset, indices: Sequence[int] | None = None,
                    max_steps: int = 32768) -> dict[int, np.ndarray]:
    """``g_t`` (score units) along each trajectory's stored actions, batched: {index: (T,)}."""
    model.eval()
    indices = range(len(dataset)) if indices is None else indices
    out: dict[int, np.ndarray] = {}
    for batch in _batches(dataset.lengths, list(indices), max_steps):
        f, a, lens = padded(dataset, batch)
        g, _, _ = model(f, a)
        g = (g * model.score_scale).numpy()
        for k, i in enumerate(batch):
            out[i] = g[k, : int(lens[k])].astype(np.float32)
    return out


def redistribute_dataset(model: IntentModel, dataset: TrajectoryDataset) -> np.ndarray:
    """``r_t`` for every decision of the dataset, aligned with ``dataset.actions`` (score units)."""
    g = predict_dataset(model, dataset)
    parts = [np.diff(g[i].astype(np.float64), prepend=0.0) for i in range(len(dataset))]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


def reward_scale(model: IntentModel, dataset: TrajectoryDataset, indices: Sequence[int] | None = None,
                 predictions: dict[int, np.ndarray] | None = None) -> float:
    """RMS of the per-step rewards ``r_t`` (t >= 1) over the given trajectories, score units.

    ``r_0 = g_0`` is left out: it carries the baseline ``E[G]`` of the whole
    trajectory (e.g. -50 on every random Pong episode under "avoid the
    edges"), which is the same for every candidate action and would inflate a
    scale meant for the per-step differences the fusion acts on. Falls back to
    all steps if no trajectory is longer than one step; never returns 0.
    """
    indices = list(range(len(dataset)) if indices is None else indices)
    g = predictions if predictions is not None else predict_dataset(model, dataset, indices)
    later = [np.diff(g[i].astype(np.float64)) for i in indices if len(g[i]) > 1]
    r = np.concatenate(later) if later else np.concatenate([g[i].astype(np.float64) for i in indices] or [np.zeros(1)])
    rms = float(np.sqrt(np.mean(r ** 2))) if len(r) else 0.0
    return rms if rms > 1e-8 else 1.0


@torch.no_grad()
def candidate_spread(model: IntentModel, dataset: TrajectoryDataset, indices: Sequence[int] | None = None,
                     markov: bool = False, max_decisions: int = 5000, seed: int = 0,
                     max_steps: int = 4096) -> float:
    """RMS over decisions of ``r_t(a) - mean_legal r_t(a)``, score units: what the intent softmax sees.

    Every legal candidate action of every decision is scored from the history
    of the stored actions (or from the zero state with ``markov=True``), as
    :class:`~dpf_gui.intent.stepper.IntentStepper` does at decision time. A
    seeded random subset of trajectories with about ``max_decisions``
    decisions bounds the cost. Returns 0 if there is nothing to compare.
    """
    model.eval()
    n_a = model.arch.n_actions
    indices = np.asarray(list(range(len(dataset)) if indices is None else indices), dtype=np.int64)
    order = np.random.default_rng(seed).permutation(indices)
    total = np.cumsum(dataset.lengths[order]) if len(order) else np.zeros(0)
    chosen = [int(i) for i in order[: int(np.searchsorted(total, max_decisions)) + 1]]
    sq, count = 0.0, 0
    for batch in _batches(dataset.lengths, chosen, max_steps):
        f, a, lens = padded(dataset, batch)
        b, t, nf = f.shape
        state = None
        if not markov:  # (h, c) before each decision: zero at t = 0, then after the stored actions
            x = model.step_input(f, a)
            h = torch.zeros(1, b, model.arch.hidden)
            c = torch.zeros(1, b, model.arch.hidden)
            hs, cs = [], []
            for k in range(t):
                hs.append(h[0])
                cs.append(c[0])
                _, (h, c) = model.lstm(x[:, k:k + 1], (h, c))
            state = (torch.stack(hs, 1).reshape(1, b * t, -1).repeat_interleave(n_a, 1),
                     torch.stack(cs, 1).reshape(1, b * t, -1).repeat_interleave(n_a, 1))
        ff = f.reshape(b * t, 1, nf).repeat_interleave(n_a, 0)
        aa = torch.arange(n_a).repeat(b * t).reshape(-1, 1)
        g, _, _ = model(ff, aa, state, start=True)  # the offset is common to all candidates
        g = (g[:, 0] * model.score_scale).reshape(b, t, n_a).double().numpy()
        for k, i in enumerate(batch):
            n = int(lens[k])
            legal = dataset.legal[dataset.state_slice(i)][:n]
            several = legal.sum(1) > 1
            if not several.any():
                continue
            gk = np.where(legal, g[k, :n], np.nan)[several]
            centred = gk - np.nanmean(gk, axis=1, keepdims=True)
            sq += float(np.nansum(centred ** 2))
            count += int(legal[several].sum())
    return float(np.sqrt(sq / count)) if count else 0.0


__all__ = [
    "candidate_spread",
    "padded",
    "predict_dataset",
    "redistribute_dataset",
    "redistributed_rewards",
    "reward_scale",
    "score_baseline",
]
