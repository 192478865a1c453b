"""How likely is the task to fail soon after each action? A classifier learnt from the stored trajectories.

Why: on highway the task agent's Q-values tell a safe alternative from a risky one poorly (on held-out stored
episodes the Q gap to the best action predicts a crash within three decisions with an AUC of 0.63, the shipped
model 0.89), so a fusion that let the intent choose among the actions the task agent rates nearly as well still
crashed more (docs/RESULTS.md). This model estimates, for every action, the chance that the episode *fails*
(ends terminated without success: a crash, a lost point) within ``horizon`` decisions. It learns from the task
agent's own training episodes, whose early, exploring part tried every action in many states; the task agent
is not touched. Fusion uses it as a guard (``FusionParams.risk``): a fused action may be at most that much
riskier than the task agent's own choice.

A risk model lives beside its task agent, ``TASK_DIR/risk/`` (``weights.safetensors`` and ``model.json``, kind
``task-risk``, loaded as data like every checkpoint), and is made by ``dpf train-risk --policy TASK_DIR``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dpf_gui.checkpoints import is_checkpoint
from dpf_gui.errors import UserError
from dpf_gui.rowwise import ReluMLP, rows_f32, sequential_mlp, sequential_shapes

KIND = "task-risk"
SUBDIR = "risk"  # where a task agent's risk model lives, inside its directory


@dataclass(frozen=True)
class RiskConfig:
    """How a risk model is trained (stored in its sidecar)."""

    horizon: int = 3  # decisions: an action is "risky" where the episode fails within this many
    hidden: tuple[int, ...] = (128, 128)
    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    test_share: float = 0.2  # stored episodes held out to measure the model (never trained on)
    seed: int = 0


def failure_targets(dataset, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every stored decision's ``(features, action, failed within horizon, episode index)``.

    An episode failed if it ended terminated without success; its last ``horizon`` decisions are the ones
    that led there. Truncated or successful episodes fail nowhere.
    """
    feats, acts, ys, eps = [], [], [], []
    for i in range(len(dataset)):
        n = int(dataset.lengths[i])
        feats.append(dataset.features[dataset.state_slice(i)][:n])
        acts.append(dataset.actions[dataset.step_slice(i)])
        y = np.zeros(n, dtype=np.float32)
        if dataset.terminated[i] and not dataset.success[i]:
            y[max(0, n - horizon):] = 1.0
        ys.append(y)
        eps.append(np.full(n, i))
    return (np.concatenate(feats).astype(np.float32), np.concatenate(acts).astype(np.int64), np.concatenate(ys),
            np.concatenate(eps))


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve: the chance a random positive scores above a random negative (ties: half)."""
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return float("nan")
    _, inverse, counts = np.unique(np.asarray(score, dtype=np.float64), return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]  # 1-based; tied scores share their mean rank
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def train_risk(task, dataset, cfg: RiskConfig | None = None,
               progress: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fit a risk model for ``task`` on ``dataset`` (its stored trajectories); ``(state_dict, sidecar)``;
    ``progress``: a bar over the epochs (seconds on highway's stored decisions, about a minute on Pong's).

    One network, one output per action; each stored decision trains the output of the action taken (binary
    cross-entropy). The input normalisation is folded into the first layer, so the saved network reads the
    raw features. The sidecar holds how it was made and what it measured on the held-out episodes.
    """
    import torch
    from tqdm.auto import tqdm

    from dpf_gui.agents.qnetwork import QNetwork

    cfg = cfg or RiskConfig()
    started = time.monotonic()
    x, a, y, ep = failure_targets(dataset, cfg.horizon)
    if not y.any():
        raise UserError(f"the stored {task.env_name} trajectories never fail (no episode ends terminated without "
                        "success): there is nothing for a risk model to learn")
    rng = np.random.default_rng(cfg.seed)
    test = (rng.random(len(dataset)) < cfg.test_share)[ep]
    mean, std = x[~test].mean(0), x[~test].std(0) + 1e-6
    torch.manual_seed(cfg.seed)
    net = QNetwork(task.n_features, task.n_actions, cfg.hidden)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    xt = torch.tensor((x[~test] - mean) / std)
    at, yt = torch.tensor(a[~test]), torch.tensor(y[~test])
    gen = torch.Generator().manual_seed(cfg.seed)
    for _ in tqdm(range(cfg.epochs), desc="risk model", unit="epoch", disable=not progress):
        order = torch.randperm(len(xt), generator=gen)
        for start in range(0, len(xt), cfg.batch_size):
            b = order[start:start + cfg.batch_size]
            logit = net(xt[b]).gather(1, at[b, None]).squeeze(1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():  # fold the normalisation into the first layer: W' = W / std, b' = b - W' mean
        first = net.net[0]
        first.weight.div_(torch.tensor(std)[None, :])
        first.bias.sub_(first.weight @ torch.tensor(mean))
    model = RiskModel(ReluMLP(net.relu_layers()), cfg.horizon)
    metrics = {"decisions": len(x), "failing_decisions": int(y.sum()), "episodes": len(dataset),
               "failed_episodes": int(np.sum(dataset.terminated & ~dataset.success)),
               "test_episodes": len(np.unique(ep[test])), "test_decisions": int(test.sum())}
    if test.any():
        risk = model.risks(x[test])[np.arange(test.sum()), a[test]]
        metrics["test_auc"] = auc(risk, y[test] > 0)
        q = task.q_values_batch(x[test])
        metrics["test_auc_task_q_gap"] = auc(q.max(1) - q[np.arange(test.sum()), a[test]], y[test] > 0)
        metrics["test_mean_risk"], metrics["test_failure_rate"] = float(risk.mean()), float(y[test].mean())
    sidecar = {"kind": KIND, "env": task.env_name, "task_weights_sha256": task.sidecar.get("weights_sha256"),
               "observation": {"features": list(task.sidecar.get("observation", {}).get("features", [])),
                               "n_features": task.n_features},
               "n_actions": task.n_actions, "architecture": net.architecture(),
               "hyperparameters": {**asdict(cfg), "hidden": list(cfg.hidden)}, "seed": cfg.seed,
               "dataset": {"fingerprint": dataset.fingerprint(), "trajectories": len(dataset)},
               "metrics": metrics, "wall_time_s": round(time.monotonic() - started, 2)}
    return net.state_dict(), sidecar


class RiskModel:
    """The chance of failing within ``horizon`` decisions after each action, per state."""

    def __init__(self, mlp: ReluMLP, horizon: int, sha256: str | None = None):
        self._mlp, self.horizon, self.sha256 = mlp, int(horizon), sha256

    def risks(self, features: np.ndarray) -> np.ndarray:
        """(B, A) probabilities for features (B, F); a row's values do not depend on the batch (the logits are
        rounded to float32, as the task agent's Q-values: :func:`~dpf_gui.rowwise.rows_f32`)."""
        z = rows_f32(self._mlp, np.asarray(features, dtype=np.float32)).astype(np.float64)
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, without overflow for large |z|


def risk_dir(task_dir: str | Path) -> Path:
    return Path(task_dir) / SUBDIR


def load_risk(task) -> RiskModel | None:
    """The risk model stored beside ``task`` (None if it has none); a damaged or foreign one is a UserError."""
    from dpf_gui.checkpoints import load_checkpoint

    if task.directory is None or not is_checkpoint(risk_dir(task.directory)):
        return None
    directory = risk_dir(task.directory)
    state, meta = load_checkpoint(directory, KIND, expect_env=task.env_name, arrays=True)
    arch = meta.get("architecture") or {}
    hidden = arch.get("hidden")
    if (arch.get("n_features") != task.n_features or arch.get("n_actions") != task.n_actions
            or not isinstance(hidden, list)):
        raise UserError(f"risk model {directory}: its architecture does not fit the task agent "
                        f"({task.n_features} features, {task.n_actions} actions)")
    if meta.get("task_weights_sha256") != task.sidecar.get("weights_sha256"):
        raise UserError(f"risk model {directory} was made for another task agent: make it again with "
                        f"dpf train-risk --policy {task.directory}")
    want = sequential_shapes([task.n_features, *hidden, task.n_actions])
    if {k: tuple(v.shape) for k, v in state.items()} != want:
        raise UserError(f"risk model {directory}: its weights do not fit its architecture (make it again with "
                        f"dpf train-risk --policy {task.directory} --force)")
    mlp = sequential_mlp({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}, len(hidden) + 1)
    horizon = (meta.get("hyperparameters") or {}).get("horizon", 0)
    return RiskModel(mlp, horizon, meta.get("weights_sha256"))


__all__ = ["KIND", "SUBDIR", "RiskConfig", "RiskModel", "auc", "failure_targets", "load_risk", "risk_dir",
           "train_risk"]
