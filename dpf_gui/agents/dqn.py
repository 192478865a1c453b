"""Deep Q-learning for the task policy, written to read top to bottom (after CleanRL's ``dqn.py``).
Long because: the training loop and the buffers, schedule and curve it alone uses are kept in one file on
purpose, so the algorithm reads in order (the network is agents/qnetwork.py, the saved agent task_agent.py).

What it does, in order:

1. ``DQNConfig`` holds every hyperparameter; each environment's spec holds its
   overrides (``train_defaults``) and the step budget they were tuned for
   (``train_steps``).
2. ``QNetwork`` (:mod:`dpf_gui.agents.qnetwork`) is an MLP from the feature vector to one Q-value
   per action.
3. ``ReplayBuffer`` stores transitions in preallocated numpy arrays.
   ``NStepAccumulator`` turns single steps into n-step transitions
   (``r_t + g r_{t+1} + ... + g^{k-1} r_{t+k-1}``, bootstrapping from
   ``s_{t+k}`` with discount ``g^k``, or 0 if the episode terminated there;
   a truncated episode still bootstraps).
4. ``train_dqn`` plays epsilon-greedy (epsilon linear from ``start_e`` to
   ``end_e`` over ``exploration_fraction`` of the steps), learns with a Huber
   TD loss, Adam and gradient clipping against a target network (hard copy
   every ``target_update_interval`` steps with ``tau = 1``, Polyak averaging
   with ``tau < 1``), double DQN by default.
   Illegal actions are masked everywhere: exploration samples among the legal
   actions, the greedy action is the best legal one, and the bootstrap
   ``max_a' Q(s', a')`` (or double DQN's ``argmax``) runs over the legal
   actions of ``s'`` only.
5. Every episode played is recorded (reset seed drawn from a seeded RNG, so
   each can be replayed) into ``trajectories.npz``; long runs keep a
   stratified sample over training time (``StratifiedEpisodeSample``).
6. At the end: ``model.json`` + ``weights.safetensors`` (kind ``"task-dqn"``),
   ``training_curve.csv``, ``training_curve.png``, then a greedy evaluation
   whose numbers are added to the sidecar's ``metrics``.

Ctrl-C (``KeyboardInterrupt``) or ``should_stop()`` returning true ends the
run early: everything learnt so far is saved the same way, the sidecar says
``"interrupted": true``, and ``train_dqn`` *returns* normally with
``TrainResult.interrupted`` set (it does not re-raise); the caller decides
what exit status that deserves. The unfinished episode is dropped.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dpf_gui.agents.qnetwork import QNetwork, masked_argmax_batch
from dpf_gui.agents.task_agent import DATASET_FILE, KIND, masked_argmax
from dpf_gui.errors import UserError
from dpf_gui.overrides import Allowed, check_fields, config_from_sets
from dpf_gui.rollout import SEED_SPLIT

CURVE_CSV = "training_curve.csv"
CURVE_PNG = "training_curve.png"


# ---------------------------------------------------------------------------
# 1. Hyperparameters
# ---------------------------------------------------------------------------
_PROBABILITY = Allowed(0, 1)
#: what every DQNConfig field may hold (numbers are also finite)
_DQN_ALLOWED: dict[str, Allowed] = {
    "hidden": Allowed(1, 4096), "learning_rate": Allowed(low=0, high=10, low_open=True),
    "batch_size": Allowed(1, 65536),
    "gamma": _PROBABILITY, "n_step": Allowed(1, 1000), "huber_delta": Allowed(low=0, low_open=True),
    "buffer_size": Allowed(1, 10**7), "learning_starts": Allowed(0), "train_frequency": Allowed(1),
    "gradient_steps": Allowed(1, 1000), "target_update_interval": Allowed(1),
    "tau": Allowed(low=0, high=1, low_open=True),
    "start_e": _PROBABILITY, "end_e": _PROBABILITY, "exploration_fraction": _PROBABILITY,
    "max_trajectories": Allowed(2), "max_dataset_steps": Allowed(1), "eval_episodes": Allowed(0, 10**6),
    "checkpoint_every": Allowed(0), "select_every": Allowed(0), "failure_penalty": Allowed(0),
    "select_episodes": Allowed(1, 10**6),
    "threads": Allowed(0, 1024),
}


@dataclass
class DQNConfig:
    """Every knob of ``train_dqn``. Defaults are generic; see ``EnvSpec.train_defaults`` per environment."""

    # network
    hidden: tuple[int, ...] = (64, 64)  # MLP hidden layer sizes (ReLU)
    # optimisation
    learning_rate: float = 5e-4  # Adam
    batch_size: int = 64
    gamma: float = 0.99
    n_step: int = 1  # n-step returns (1 = plain one-step TD)
    max_grad_norm: float = 10.0  # gradient clipping (<= 0: off)
    huber_delta: float = 1.0  # Huber (smooth L1) loss threshold
    # replay
    buffer_size: int = 50_000
    learning_starts: int = 1_000  # env steps before the first update
    train_frequency: int = 1  # env steps between updates
    gradient_steps: int = 1  # updates each time
    # shaping (training only: the stored trajectories, the curve and every evaluation keep the env's reward)
    failure_penalty: float = 0.0  # subtracted from the learner's reward when an episode terminates without task success
    # target network
    double_dqn: bool = True
    target_update_interval: int = 500  # env steps between target updates
    tau: float = 1.0  # 1 = hard copy, < 1 = soft (Polyak) update
    # exploration (linear schedule over exploration_fraction * steps)
    start_e: float = 1.0
    end_e: float = 0.05
    exploration_fraction: float = 0.5
    # what the run leaves behind
    max_trajectories: int = 2000  # episodes kept in trajectories.npz (stratified sample beyond)
    max_dataset_steps: int = 500_000  # and about this many decisions at most (keeps the file small)
    eval_episodes: int = 20  # greedy evaluation episodes after training (0 = skip)
    checkpoint_every: int = 0  # also save everything every N steps (0 = only at the end)
    # every N steps play select_episodes greedy validation episodes; ship the best weights (0 = last)
    select_every: int = 0
    select_episodes: int = 10  # validation episodes (seeds from the training range, never the evaluation range)
    # compute
    device: str = "cpu"  # "cpu", "cuda", "auto" (small MLPs are usually fastest on CPU)
    threads: int = 0  # torch CPU threads (0 = leave torch's default)

    def __post_init__(self) -> None:
        """Types and ranges of every field (see ``_DQN_ALLOWED``); a bad one is a :class:`UserError` naming it."""
        check_fields(self, "DQN config", _DQN_ALLOWED)
        if self.buffer_size < self.batch_size:
            raise UserError(f"DQN config: buffer_size ({self.buffer_size}) must be >= batch_size ({self.batch_size})")
        if not (self.device in ("cpu", "cuda", "auto") or self.device.startswith("cuda:")):
            raise UserError(f"DQN config: device must be cpu, cuda, cuda:N or auto; got {self.device!r}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d


def make_config(env_name: str | None = None, overrides: Mapping[str, Any] | DQNConfig | None = None) -> DQNConfig:
    """``DQNConfig`` with the environment's training defaults (``EnvSpec.train_defaults``) and then ``overrides``
    applied (validated).

    Unknown keys and badly typed values are a :class:`UserError`; string
    values (from a command line) are converted to the field's type.
    """
    if isinstance(overrides, DQNConfig):
        return dataclasses.replace(overrides)  # a copy, checked again by __post_init__
    from dpf_gui.envs import env_spec

    merged = dict(env_spec(env_name).train_defaults) if env_name else {}
    merged.update(overrides or {})
    return config_from_sets(DQNConfig, merged, what="DQN config")


def default_fusion() -> dict[str, float]:
    """The fusion temperatures stored with a new task agent (normalised units, see dpf_gui.fusion)."""
    from dataclasses import asdict

    from dpf_gui.fusion_params import FusionParams

    return {k: v for k, v in asdict(FusionParams()).items() if k != "sample"}


def linear_schedule(start_e: float, end_e: float, duration: float, t: int) -> float:
    """Epsilon at step ``t``: linear from ``start_e`` to ``end_e`` over ``duration`` steps, then flat."""
    if duration <= 0:
        return end_e
    slope = (end_e - start_e) / duration
    return max(slope * t + start_e, end_e) if end_e <= start_e else min(slope * t + start_e, end_e)


# ---------------------------------------------------------------------------
# 2. The network and masked action choice: QNetwork and masked_argmax_batch, from
#    dpf_gui.agents.qnetwork (the task-agent loader shares them)
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# 3. Replay
# ---------------------------------------------------------------------------
class ReplayBuffer:
    """Fixed-size ring of transitions in numpy arrays.

    Each transition: ``obs``, ``action``, ``reward`` (the n-step discounted sum),
    ``discount`` (``gamma**k``, or 0 if the episode terminated), ``next_obs``
    (``s_{t+k}``) and ``next_legal`` (its legal-action mask).
    """

    def __init__(self, capacity: int, n_features: int, n_actions: int):
        self.capacity = int(capacity)
        self.obs = np.zeros((capacity, n_features), dtype=np.float32)
        self.next_obs = np.zeros((capacity, n_features), dtype=np.float32)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.discounts = np.zeros(capacity, dtype=np.float32)
        self.next_legal = np.zeros((capacity, n_actions), dtype=bool)
        self.pos = 0
        self.size = 0

    def add(self, obs, action, reward, discount, next_obs, next_legal) -> None:
        i = self.pos
        self.obs[i] = obs
        self.actions[i] = action
        self.rewards[i] = reward
        self.discounts[i] = discount
        self.next_obs[i] = next_obs
        nl = np.asarray(next_legal, dtype=bool)
        self.next_legal[i] = nl if nl.any() else True  # never leave a state with no action to bootstrap on
        self.pos = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        idx = rng.integers(0, self.size, size=batch_size)
        return {
            "obs": torch.from_numpy(self.obs[idx]).to(device),
            "actions": torch.from_numpy(self.actions[idx]).to(device),
            "rewards": torch.from_numpy(self.rewards[idx]).to(device),
            "discounts": torch.from_numpy(self.discounts[idx]).to(device),
            "next_obs": torch.from_numpy(self.next_obs[idx]).to(device),
            "next_legal": torch.from_numpy(self.next_legal[idx]).to(device),
        }


class NStepAccumulator:
    """Holds the last ``n`` steps of the current episode and emits n-step transitions.

    ``push`` returns the transitions now complete: one once ``n`` steps are
    pending, and all pending ones (with shorter horizons) when the episode ends.
    """

    def __init__(self, n: int, gamma: float):
        self.n, self.gamma = int(n), float(gamma)
        self.pending: deque[tuple[np.ndarray, int, float]] = deque()

    def push(self, obs, action, reward, next_obs, next_legal, terminated: bool, episode_over: bool) -> list[tuple]:
        self.pending.append((obs, int(action), float(reward)))
        out: list[tuple] = []
        if episode_over:
            while self.pending:
                out.append(self._emit(next_obs, next_legal, terminated))
        elif len(self.pending) >= self.n:
            out.append(self._emit(next_obs, next_legal, False))
        return out

    def _emit(self, next_obs, next_legal, terminated: bool) -> tuple:
        ret, g = 0.0, 1.0
        for _, _, r in self.pending:
            ret += g * r
            g *= self.gamma
        obs, action, _ = self.pending.popleft()
        return (obs, action, ret, 0.0 if terminated else g, next_obs, next_legal)

    def clear(self) -> None:
        self.pending.clear()


# ---------------------------------------------------------------------------
# 4. Which episodes the dataset keeps
# ---------------------------------------------------------------------------
class StratifiedEpisodeSample:
    """Keeps at most ``limit`` episodes spread over training time, in bounded memory.

    * the first ``head`` and the last ``tail`` episodes are always kept
      (``head = tail = clamp(limit // 10, 1, 50)``): early clumsy play and the
      final skilled policy;
    * of the episodes between them, those whose index is a multiple of a
      stride are held; the stride starts at 1 and doubles (dropping every other
      held episode) whenever more than ``2 * (limit - head - tail)`` are held;
    * ``result()`` then picks evenly spaced episodes among those held to fill
      the ``limit`` exactly, and, if the pick holds more than ``max_steps``
      decisions, fewer middle episodes (still evenly spaced).

    So with ``E <= limit`` episodes everything is kept; with more, the kept
    episode indices are (near) evenly spaced from first to last.
    """

    def __init__(self, limit: int, max_steps: int | None = None):
        if limit < 2:
            raise ValueError("limit must be >= 2")
        self.limit = int(limit)
        self.max_steps = max_steps
        self.head_n = self.tail_n = max(1, min(50, self.limit // 10))
        self.mid_budget = self.limit - self.head_n - self.tail_n
        self.head: list[Any] = []
        self.tail: deque[tuple[int, Any]] = deque()
        self.middle: list[tuple[int, Any]] = []
        self.stride = 1
        self.count = 0

    def add(self, item: Any) -> None:
        i = self.count
        self.count += 1
        if i < self.head_n:
            self.head.append(item)
            return
        self.tail.append((i, item))
        if len(self.tail) > self.tail_n:
            j, old = self.tail.popleft()
            if self.mid_budget > 0 and (j - self.head_n) % self.stride == 0:
                self.middle.append((j, old))
                if len(self.middle) > 2 * self.mid_budget:
                    self.stride *= 2
                    self.middle = [(k, t) for k, t in self.middle if (k - self.head_n) % self.stride == 0]

    @staticmethod
    def _length(item: Any) -> int:
        return int(getattr(item, "length", 1))

    def result(self) -> list[Any]:
        """The kept items in episode order."""
        tail = [t for _, t in self.tail]
        mid = self._evenly(self.middle, self.mid_budget)
        if self.max_steps is not None and mid:
            fixed = sum(self._length(t) for t in self.head + tail)
            while mid and fixed + sum(self._length(t) for _, t in mid) > self.max_steps:
                total_mid = sum(self._length(t) for _, t in mid)
                room = max(0, self.max_steps - fixed)
                k = min(len(mid) - 1, int(len(mid) * room / max(total_mid, 1)))
                mid = self._evenly(self.middle, k)
        return self.head + [t for _, t in mid] + tail

    @staticmethod
    def _evenly(items: list, k: int) -> list:
        if k <= 0 or not items:
            return []
        if len(items) <= k:
            return list(items)
        idx = np.unique(np.round(np.linspace(0, len(items) - 1, k)).astype(int))
        return [items[i] for i in idx]


# ---------------------------------------------------------------------------
# 5. Training
# ---------------------------------------------------------------------------
@dataclass
class TrainResult:
    """What ``train_dqn`` produced. ``out_dir`` is a loadable checkpoint directory."""

    out_dir: Path
    env_name: str
    steps: int  # environment steps taken
    episodes: int  # episodes finished
    wall_time_s: float
    steps_per_s: float
    interrupted: bool
    metrics: dict[str, Any] = field(default_factory=dict)
    config: DQNConfig | None = None

    @property
    def dataset_path(self) -> Path:
        return self.out_dir / DATASET_FILE

    @property
    def curve_csv(self) -> Path:
        return self.out_dir / CURVE_CSV

    @property
    def curve_png(self) -> Path:
        return self.out_dir / CURVE_PNG


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {name!r} requested but CUDA is not available; use device=cpu")
    return torch.device(name)


class _Curve:
    """training_curve.csv, one row per finished episode, flushed as it goes."""

    COLUMNS = ("episode", "step", "return", "length", "success", "epsilon", "loss")

    def __init__(self, path: Path):
        self.path = path
        self.rows: list[tuple] = []
        self._fh = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115 (open for the whole training; close() closes it)
        self._writer = csv.writer(self._fh)
        self._writer.writerow(self.COLUMNS)
        self._fh.flush()

    def add(self, episode: int, step: int, ret: float, length: int, success: bool, epsilon: float,
            loss: float | None) -> None:
        row = (episode, step, round(ret, 6), length, int(success), round(epsilon, 5),
               "" if loss is None else f"{loss:.6g}")
        self.rows.append(row)
        self._writer.writerow(row)
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def _trailing_mean(x: np.ndarray, w: int) -> np.ndarray:
    """Mean of the last ``w`` values at each index (fewer at the start)."""
    c = np.concatenate([[0.0], np.cumsum(x)])
    hi = np.arange(1, len(x) + 1)
    lo = np.maximum(0, hi - w)
    return (c[hi] - c[lo]) / (hi - lo)


def plot_training_curve(rows: Sequence[Sequence[Any]], path: Path, title: str) -> Path:
    """Episode return (dots + moving average) and success rate vs step, as a PNG (Agg, no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    if rows:
        steps = np.array([r[1] for r in rows], dtype=float)
        rets = np.array([r[2] for r in rows], dtype=float)
        succ = np.array([r[4] for r in rows], dtype=float)
        w = max(1, min(100, len(rows) // 10 or 1))
        ma, sr = _trailing_mean(rets, w), _trailing_mean(succ, w)
        ax.plot(steps, rets, ".", ms=2, alpha=0.25, color="tab:blue", label="episode return")
        ax.plot(steps, ma, color="tab:blue", lw=1.8, label=f"return, mean of last {w}")
        ax2 = ax.twinx()
        ax2.plot(steps, sr, color="tab:green", lw=1.4, label=f"success rate, last {w}")
        ax2.set_ylim(-0.02, 1.02)
        ax2.set_ylabel("success rate", color="tab:green")
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, loc="lower right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no finished episode", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("environment step")
    ax.set_ylabel("episode return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    return path


def learner_reward(reward: float, terminated: bool, info: Mapping[str, Any], failure_penalty: float) -> float:
    """The reward the Q-network learns from: the env's, less ``failure_penalty`` when the episode ends in failure.

    On highway a crash ends the episode with a reward of 0 (normalised), so it
    costs only the steps it forfeits, and DQN drives faster than it can
    afford; a penalty makes the crash itself expensive. What is recorded (the
    dataset, the curve, every evaluation) keeps the env's reward.
    """
    if terminated and failure_penalty and not info.get("task_success", False):
        return float(reward) - failure_penalty
    return float(reward)


def train_dqn(
    env_name: str,
    steps: int | None,
    seed: int,
    out_dir: str | Path,
    config_overrides: Mapping[str, Any] | DQNConfig | None = None,
    env_config: Mapping[str, Any] | None = None,
    progress: bool = True,
    should_stop: Callable[[], bool] | None = None,
    on_episode: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train a DQN on ``env_name`` for ``steps`` env steps (None: its spec's ``train_steps``) into ``out_dir``.

    Writes ``weights.safetensors`` + ``model.json`` (kind ``"task-dqn"``),
    ``trajectories.npz``, ``training_curve.csv`` and ``training_curve.png``.
    ``should_stop`` is polled every step (return True to cancel, e.g. from a
    GUI); ``on_episode`` is called with each finished episode's stats (the
    curve row as a dict). Cancelling or Ctrl-C saves what there is and returns
    with ``interrupted=True`` (see the module docstring).
    """
    from dpf_gui.checkpoints import save_checkpoint, update_sidecar
    from dpf_gui.data.trajectories import (
        EpisodeRecorder,
        TrajectoryDataset,
        dataset_meta,
    )
    from dpf_gui.envs import env_spec, make_env

    cfg = make_config(env_name, config_overrides)
    steps = int(env_spec(env_name).train_steps if steps is None else steps)
    if steps < 1:
        raise UserError("steps must be >= 1")
    device = resolve_device(cfg.device)  # before --out is made: a refused device leaves no empty folder
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)

    # --- seeding: one stream each for episode seeds, exploration, replay sampling
    seed = int(seed)
    torch.manual_seed(seed)
    episode_seed_rng, explore_rng, replay_rng = (np.random.default_rng(s)
                                                 for s in np.random.SeedSequence(seed).spawn(3))

    def next_episode_seed() -> int:
        return int(episode_seed_rng.integers(0, SEED_SPLIT))  # the training half (see rollout.SEED_SPLIT)

    env = make_env(env_name, dict(env_config or {}))
    spec = env.spec_info
    n_features, n_actions = spec.n_features, spec.n_actions

    q_network = QNetwork(n_features, n_actions, cfg.hidden).to(device)
    optimizer = torch.optim.Adam(q_network.parameters(), lr=cfg.learning_rate)
    target_network = QNetwork(n_features, n_actions, cfg.hidden).to(device)
    target_network.load_state_dict(q_network.state_dict())
    rb = ReplayBuffer(cfg.buffer_size, n_features, n_actions)
    nstep = NStepAccumulator(cfg.n_step, cfg.gamma)
    kept = StratifiedEpisodeSample(cfg.max_trajectories, cfg.max_dataset_steps)
    curve = _Curve(out_dir / CURVE_CSV)
    exploration_steps = cfg.exploration_fraction * steps

    def train_step() -> float:
        data = rb.sample(cfg.batch_size, replay_rng, device)
        with torch.no_grad():
            q_next_target = target_network(data["next_obs"])
            if cfg.double_dqn:  # online net picks the action, target net values it
                best = masked_argmax_batch(q_network(data["next_obs"]), data["next_legal"])
            else:
                best = masked_argmax_batch(q_next_target, data["next_legal"])
            next_q = q_next_target.gather(1, best[:, None]).squeeze(1)
            td_target = data["rewards"] + data["discounts"] * next_q
        q_sa = q_network(data["obs"]).gather(1, data["actions"][:, None]).squeeze(1)
        loss = F.huber_loss(q_sa, td_target, delta=cfg.huber_delta)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(q_network.parameters(), cfg.max_grad_norm)
        optimizer.step()
        return float(loss.item())

    def update_target() -> None:
        with torch.no_grad():
            for tp, p in zip(target_network.parameters(), q_network.parameters(), strict=True):
                if cfg.tau >= 1.0:
                    tp.copy_(p)  # hard update
                else:
                    tp.mul_(1.0 - cfg.tau).add_(p, alpha=cfg.tau)  # soft (Polyak) update

    def save_everything(done_steps: int, elapsed: float, interrupted: bool, stop_reason: str | None) -> dict:
        """Checkpoint first (most valuable), then dataset, then the plot."""
        trajectories = kept.result()
        recent = curve.rows[-100:]
        train_metrics = {
            "episodes": len(curve.rows),
            "recent_episodes": len(recent),
            "recent_mean_return": float(np.mean([r[2] for r in recent])) if recent else None,
            "recent_success_rate": float(np.mean([r[4] for r in recent])) if recent else None,
            "recent_mean_length": float(np.mean([r[3] for r in recent])) if recent else None,
        }
        sidecar = {
            "kind": KIND,
            "env": spec.name,
            "env_config": env.config,
            "observation": {"features": list(spec.feature_names), "n_features": n_features},
            "n_actions": n_actions,
            "action_names": list(spec.action_names),
            "hyperparameters": cfg.to_dict(),
            "architecture": q_network.architecture(),
            "steps": int(done_steps),
            "steps_planned": steps,
            "episodes": len(curve.rows),
            "seed": seed,
            "wall_time_s": round(elapsed, 2),
            "steps_per_s": round(done_steps / elapsed, 1) if elapsed > 0 else None,
            "interrupted": bool(interrupted),
            "metrics": {"train": train_metrics},
            "files": {"dataset": DATASET_FILE, "curve_csv": CURVE_CSV, "curve_png": CURVE_PNG},
            "torch_version": torch.__version__,
            "fusion": default_fusion(),  # starting temperatures; edit the sidecar to tune them per agent
        }
        if stop_reason:
            sidecar["stop_reason"] = stop_reason
        save_checkpoint(out_dir, q_network.state_dict(), sidecar)
        source = {"kind": "dqn-training", "seed": seed, "steps": int(done_steps),
                  "episodes_played": len(curve.rows), "episodes_kept": len(trajectories),
                  "selection": "all" if len(trajectories) == len(curve.rows) else "stratified-over-training-time"}
        dataset = TrajectoryDataset.from_trajectories(dataset_meta(env, source), trajectories)
        dataset.save(out_dir / DATASET_FILE)
        plot_training_curve(curve.rows, out_dir / CURVE_PNG,
                            f"DQN on {spec.name}: {done_steps} steps, seed {seed}"
                            + (" (interrupted)" if interrupted else ""))
        return sidecar

    # --- the loop --------------------------------------------------------
    from tqdm.auto import tqdm

    # tqdm's own redraw interval: the command line's TQDM_MININTERVAL for logs applies (one given here overrode it)
    bar = tqdm(total=steps, unit="step", disable=not progress, dynamic_ncols=True, desc=f"dqn {env_name}")
    start = time.perf_counter()
    ep_seed = next_episode_seed()
    obs, info = env.reset(seed=ep_seed)
    if np.asarray(obs).shape != (n_features,):
        raise UserError(f"{env_name}: observation has shape {np.asarray(obs).shape}, spec says ({n_features},)")
    recorder = EpisodeRecorder(ep_seed, obs, info, episode=0)
    episode, ep_return, ep_len = 0, 0.0, 0
    loss_sum, loss_n = 0.0, 0
    epsilon = cfg.start_e
    done_steps = 0
    interrupted, stop_reason = False, None
    recent_returns: deque[float] = deque(maxlen=20)
    obs_t = torch.empty((1, n_features), dtype=torch.float32, device=device)
    # DQN's greedy policy can get worse late in training (seen on highway): optionally keep the
    # weights that did best on fixed validation episodes drawn from the training seed range.
    val_env = make_env(env_name, dict(env_config or {})) if cfg.select_every else None
    val_seeds = np.random.default_rng([seed, 104729]).integers(0, SEED_SPLIT, cfg.select_episodes)
    best_state, best_score, best_step, selection = None, None, 0, []

    def validate() -> tuple[float, float]:
        """(success rate, mean return) of the greedy policy on the validation episodes."""
        wins, total = 0, 0.0
        for vs in val_seeds:
            o, inf = val_env.reset(seed=int(vs))
            while True:
                with torch.no_grad():
                    qv = q_network(torch.as_tensor(np.asarray(o, np.float32), device=device)[None])[0].cpu().numpy()
                o, r, te, tr, inf = val_env.step(masked_argmax(qv, inf["legal"]))
                total += float(r)
                if te or tr:
                    wins += int(bool(inf.get("task_success", False)))
                    break
        return wins / len(val_seeds), total / len(val_seeds)
    try:
        for global_step in range(steps):
            if should_stop is not None and should_stop():
                interrupted, stop_reason = True, "cancelled"
                break
            # ALGO LOGIC: epsilon-greedy among the legal actions
            epsilon = linear_schedule(cfg.start_e, cfg.end_e, exploration_steps, global_step)
            legal = np.asarray(info["legal"], dtype=bool)
            if explore_rng.random() < epsilon:
                choices = np.flatnonzero(legal)
                action = int(explore_rng.choice(choices)) if len(choices) else int(explore_rng.integers(n_actions))
            else:
                with torch.no_grad():
                    obs_t.copy_(torch.from_numpy(np.asarray(obs, dtype=np.float32))[None])
                    q = q_network(obs_t)[0].cpu().numpy()
                action = masked_argmax(q, legal)

            # step the environment, record, store the transition(s)
            next_obs, reward, terminated, truncated, next_info = env.step(action)
            recorder.step(action, reward, next_obs, next_info)
            ep_return += float(reward)
            ep_len += 1
            over = bool(terminated or truncated)
            learned = learner_reward(reward, bool(terminated), next_info, cfg.failure_penalty)
            for tr in nstep.push(obs, action, learned, next_obs, next_info["legal"], bool(terminated), over):
                rb.add(*tr)
            done_steps = global_step + 1
            bar.update(1)

            if over:
                success = bool(next_info.get("task_success", False))
                kept.add(recorder.finish(bool(terminated), success))
                mean_loss = loss_sum / loss_n if loss_n else None
                curve.add(episode, done_steps, ep_return, ep_len, success, epsilon, mean_loss)
                recent_returns.append(ep_return)
                if progress:
                    bar.set_postfix(ret=f"{np.mean(recent_returns):.3f}", eps=f"{epsilon:.3f}",
                                    loss="-" if mean_loss is None else f"{mean_loss:.4f}", refresh=False)
                if on_episode is not None:
                    on_episode(dict(zip(_Curve.COLUMNS, curve.rows[-1], strict=True)))
                episode += 1
                ep_return, ep_len, loss_sum, loss_n = 0.0, 0, 0.0, 0
                ep_seed = next_episode_seed()
                obs, info = env.reset(seed=ep_seed)
                recorder = EpisodeRecorder(ep_seed, obs, info, episode=episode)
            else:
                obs, info = next_obs, next_info

            # ALGO LOGIC: training
            if global_step >= cfg.learning_starts and rb.size >= cfg.batch_size:
                if global_step % cfg.train_frequency == 0:
                    for _ in range(cfg.gradient_steps):
                        loss_sum += train_step()
                        loss_n += 1
                if global_step % cfg.target_update_interval == 0:
                    update_target()

            if cfg.select_every and done_steps % cfg.select_every == 0 and global_step >= cfg.learning_starts:
                score = validate()
                selection.append([done_steps, score[0], round(score[1], 4)])
                if best_score is None or score > best_score:
                    best_score, best_step = score, done_steps
                    best_state = {k: v.detach().clone() for k, v in q_network.state_dict().items()}

            if cfg.checkpoint_every and done_steps % cfg.checkpoint_every == 0 and done_steps < steps:
                # steps < steps_planned marks it partial
                save_everything(done_steps, time.perf_counter() - start, False, None)
    except KeyboardInterrupt:
        interrupted, stop_reason = True, "keyboard-interrupt"
    finally:
        bar.close()

    elapsed = time.perf_counter() - start
    if best_state is not None:
        final = validate()
        selection.append([done_steps, final[0], round(final[1], 4)])
        if final < best_score:
            q_network.load_state_dict(best_state)
        else:
            best_step = done_steps
        val_env.close()
    sidecar = save_everything(done_steps, elapsed, interrupted, stop_reason)
    if selection:
        sidecar = update_sidecar(out_dir, selection={"every": cfg.select_every, "episodes": cfg.select_episodes,
                                                     "history": selection, "shipped_step": best_step})
    curve.close()
    metrics = dict(sidecar["metrics"])

    if not interrupted:
        from dpf_gui.agents.task_agent import TaskAgent, evaluate_agent, q_scale_stats
        from dpf_gui.data.trajectories import TrajectoryDataset

        q_network.to("cpu")
        agent = TaskAgent(q_network, sidecar, directory=out_dir)
        if cfg.eval_episodes > 0:
            eval_seed = int(np.random.SeedSequence([seed, 7919]).generate_state(1)[0])
            metrics["eval"] = evaluate_agent(agent, cfg.eval_episodes, seed=eval_seed, env=env)
        # the fusion divides Q-values by this scale: every finished agent needs it
        metrics["q_scale"] = q_scale_stats(agent, TrajectoryDataset.load(out_dir / DATASET_FILE))
        update_sidecar(out_dir, metrics=metrics)
    env.close()

    return TrainResult(
        out_dir=out_dir, env_name=env_name, steps=done_steps, episodes=len(curve.rows),
        wall_time_s=elapsed, steps_per_s=done_steps / elapsed if elapsed > 0 else math.nan,
        interrupted=interrupted, metrics=metrics, config=cfg,
    )


__all__ = [
    "KIND",
    "DQNConfig",
    "NStepAccumulator",
    "QNetwork",
    "ReplayBuffer",
    "StratifiedEpisodeSample",
    "TrainResult",
    "learner_reward",
    "linear_schedule",
    "make_config",
    "masked_argmax",
    "masked_argmax_batch",
    "plot_training_curve",
    "resolve_device",
    "train_dqn",
]
