"""The trained task policy, loaded from a checkpoint directory.

A task-agent directory (what ``train_dqn`` writes)::

    weights.safetensors   Q-network weights
    model.json            sidecar (kind "task-dqn"; see dpf_gui.checkpoints)
    trajectories.npz      the episodes played while training (TrajectoryDataset)
    training_curve.csv    one row per training episode
    training_curve.png    the same as a plot

``TaskAgent`` gives Q-values, the greedy legal action and the Boltzmann task
policy ``pi_phi(a|s) = softmax over legal a of Q(s, a) / T_phi``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dpf_gui.errors import UserError
from dpf_gui.rowwise import ReluMLP, numpy_twin, rows_f32, sequential_mlp, sequential_shapes

if TYPE_CHECKING:
    from dpf_gui.agents.qnetwork import QNetwork

KIND = "task-dqn"  # the checkpoint kind of a task agent
DATASET_FILE = "trajectories.npz"  # the training trajectories beside the weights


def boltzmann(q: np.ndarray, legal: np.ndarray | None, temperature: float) -> np.ndarray:
    """Softmax of ``q / temperature`` over the legal actions (0 for illegal ones); works on (A,) or (N, A)."""
    if temperature <= 0:
        raise ValueError("temperature must be > 0")
    q = np.asarray(q, dtype=np.float64)
    if legal is None:
        legal = np.ones(q.shape, dtype=bool)
    legal = np.asarray(legal, dtype=bool)
    legal = legal | ~legal.any(axis=-1, keepdims=True)
    z = np.where(legal, q / temperature, -np.inf)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class TaskAgent:
    """A Q-network plus its sidecar. Always runs on the CPU, in eval mode, without gradients.

    Q-values come from a float64 numpy copy of the weights (:mod:`dpf_gui.rowwise`). A loaded agent
    builds its torch ``network`` only when something asks for it (training, retraining), so opening
    one needs no torch.
    """

    def __init__(self, network: QNetwork, sidecar: Mapping[str, Any], directory: str | Path | None = None):
        self._network: QNetwork | None = network.to("cpu").eval()
        self._loaded: tuple[dict[str, np.ndarray], ReluMLP] | None = None
        self._describe(network.n_features, network.n_actions, network.hidden, sidecar, directory)

    def _describe(self, n_features: int, n_actions: int, hidden, sidecar: Mapping[str, Any], directory) -> None:
        self.sidecar: dict[str, Any] = dict(sidecar)
        self.directory = Path(directory) if directory is not None else None
        self.env_name: str = self.sidecar.get("env", "")
        self.env_config: dict[str, Any] = dict(self.sidecar.get("env_config") or {})
        self.action_names: list[str] = list(self.sidecar.get("action_names") or [])
        self.feature_names: list[str] = list((self.sidecar.get("observation") or {}).get("features") or [])
        self.n_actions: int = int(n_actions)
        self.n_features: int = int(n_features)
        self.hidden: tuple[int, ...] = tuple(int(h) for h in hidden)
        #: fusion defaults stored with the model (e.g. {"T_phi": ...}); {} if none
        self.fusion: dict[str, Any] = dict(self.sidecar.get("fusion") or {})

    @property
    def network(self) -> QNetwork:
        """The torch Q-network (a loaded agent's is built from its weights on first use)."""
        if self._network is None:
            import torch

            from dpf_gui.agents.qnetwork import QNetwork

            net = QNetwork(self.n_features, self.n_actions, self.hidden)
            net.load_state_dict({k: torch.from_numpy(v) for k, v in self._loaded[0].items()}, strict=True)
            self._network = net.eval()
        return self._network

    # --- loading ---------------------------------------------------------
    @classmethod
    def load(cls, directory: str | Path, expect_env: str | None = None) -> TaskAgent:
        """Load a task-DQN checkpoint directory; a wrong or damaged one is a :class:`UserError`.

        Beyond :func:`~dpf_gui.checkpoints.load_checkpoint`'s checks: the architecture (an MLP of positive
        layer sizes), the features and actions of the environment, the stored fusion defaults (valid
        :class:`~dpf_gui.fusion_params.FusionParams`) and the stored Q-value scale (a positive number).
        """
        from dpf_gui.checkpoints import check_against_env, load_checkpoint
        from dpf_gui.fusion_params import FusionParams

        state, meta = load_checkpoint(directory, KIND, expect_env=expect_env, arrays=True)
        arch = meta.get("architecture") or {}
        try:
            if arch.get("type", "mlp") != "mlp":
                raise ValueError(f"architecture type {arch.get('type')!r}")
            n_features, n_actions, hidden = arch["n_features"], arch["n_actions"], arch["hidden"]
            if not (_is_count(n_features) and _is_count(n_actions) and isinstance(hidden, list)
                    and all(_is_count(h) for h in hidden)):
                raise ValueError("n_features, n_actions and the hidden sizes must be whole numbers >= 1")
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"checkpoint {directory}: model.json has no usable architecture ({exc})") from None
        obs = meta.get("observation") or {}
        if obs.get("n_features", n_features) != n_features or meta.get("n_actions", n_actions) != n_actions:
            raise UserError(f"checkpoint {directory}: model.json disagrees with itself about feature/action counts")
        check_against_env(directory, meta, n_features, n_actions)
        fusion = meta.get("fusion", {})
        try:
            FusionParams().with_overrides(fusion)
        except UserError as exc:
            raise UserError(f"checkpoint {directory}: model.json {exc}") from None
        q_scale = (meta.get("metrics") or {}).get("q_scale") or {}
        scale = q_scale.get("legal_std") if isinstance(q_scale, dict) else q_scale
        if scale is not None and not (isinstance(scale, (int, float)) and not isinstance(scale, bool)
                                      and np.isfinite(scale) and scale > 0):
            raise UserError(f"checkpoint {directory}: model.json metrics.q_scale.legal_std must be a number > 0, "
                            f"not {scale!r}")
        want = qnetwork_shapes(n_features, n_actions, hidden)
        got = {k: tuple(v.shape) for k, v in state.items()}
        if got != want:
            wrong = sorted(set(want) ^ set(got)) or [k for k in want if want[k] != got[k]]
            raise UserError(f"checkpoint {directory}: weights do not fit the architecture (tensor {wrong[0]!r}: "
                            f"{got.get(wrong[0], 'missing')} where {want.get(wrong[0], 'none')} is expected)")
        agent = cls.__new__(cls)
        agent._network = None
        arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}
        agent._loaded = (arrays, sequential_mlp(arrays, len(hidden) + 1))
        agent._describe(n_features, n_actions, hidden, meta, directory)
        return agent

    # --- queries ---------------------------------------------------------
    def q_values(self, obs: np.ndarray) -> np.ndarray:
        """Q(s, .) for one observation: (A,) float32."""
        return self.q_values_batch(np.asarray(obs, dtype=np.float32)[None])[0]

    def q_values_batch(self, obs: np.ndarray) -> np.ndarray:
        """Q(s, .) for a batch of observations (N, F): (N, A) float32.

        Computed in float64 and rounded (:func:`~dpf_gui.rowwise.rows_f32`), so a state's Q-values are the
        same whatever batch it comes in: batched evaluation decides exactly as one episode at a time.
        """
        x = np.asarray(obs, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected observations of shape (N, {self.n_features}); got {tuple(x.shape)}")
        return rows_f32(self._loaded[1] if self._network is None else numpy_twin(self._network), x)

    def act(self, obs: np.ndarray, legal: np.ndarray | None = None) -> int:
        """Greedy action among the legal ones (all actions if ``legal`` is None)."""
        return masked_argmax(self.q_values(obs), legal)

    def policy(self, obs: np.ndarray, legal: np.ndarray | None = None, temperature: float | None = None) -> np.ndarray:
        """Task policy pi_phi(.|s): Boltzmann over legal actions at ``temperature``
        (default: the stored fusion ``T_phi``, else 1)."""
        t = float(temperature if temperature is not None else self.fusion.get("T_phi", 1.0))
        return boltzmann(self.q_values(obs), legal, t)

    @property
    def risk_model(self):
        """The risk model stored beside the weights (:mod:`dpf_gui.agents.risk`), loaded once; None if none."""
        if not hasattr(self, "_risk"):
            from dpf_gui.agents.risk import load_risk

            self._risk = load_risk(self)
        return self._risk

    @property
    def q_scale(self) -> float | None:
        """The typical spread of its legal Q-values, as stored when it was trained (None if not stored)."""
        return stored_q_scale(self.sidecar)

    # --- helpers ---------------------------------------------------------
    def make_env(self, render_mode: str | None = None):
        """The environment the agent was trained in (same config)."""
        from dpf_gui.envs import make_env

        return make_env(self.env_name, self.env_config, render_mode=render_mode)

    @property
    def dataset_path(self) -> Path | None:
        """Path of the training trajectories stored next to the weights, if any."""
        if self.directory is None:
            return None
        name = (self.sidecar.get("files") or {}).get("dataset", DATASET_FILE)
        return self.directory / name

    def __repr__(self) -> str:
        return (f"TaskAgent(env={self.env_name!r}, features={self.n_features}, actions={self.n_actions}, "
                f"hidden={list(self.hidden)}, steps={self.sidecar.get('steps')})")


def masked_argmax(q: np.ndarray, legal: np.ndarray | None) -> int:
    """Index of the largest ``q`` among legal actions (first on ties); all actions if none is legal."""
    q = np.asarray(q, dtype=np.float64)
    if legal is None:
        return int(np.argmax(q))
    legal = np.asarray(legal, dtype=bool)
    if not legal.any():
        return int(np.argmax(q))
    return int(np.argmax(np.where(legal, q, -np.inf)))


def qnetwork_shapes(n_features: int, n_actions: int, hidden) -> dict[str, tuple[int, ...]]:
    """The tensors of :class:`~dpf_gui.agents.qnetwork.QNetwork`'s state dict and their shapes (tested against it)."""
    return sequential_shapes([n_features, *hidden, n_actions])


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def evaluate_agent(agent: TaskAgent, episodes: int, seed: int = 0, env=None,
                   env_config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Play ``episodes`` greedy episodes (reset seeds drawn from ``seed``); return summary numbers."""
    own_env = env is None
    if own_env:
        from dpf_gui.envs import make_env

        env = make_env(agent.env_name, dict(env_config) if env_config is not None else agent.env_config)
    from dpf_gui.rollout import episode_seeds

    returns, lengths, successes = [], [], []
    try:
        for episode_seed in episode_seeds(seed, int(episodes), held_out=True):
            obs, info = env.reset(seed=int(episode_seed))
            total, n = 0.0, 0
            while True:
                obs, r, terminated, truncated, info = env.step(agent.act(obs, info["legal"]))
                total += float(r)
                n += 1
                if terminated or truncated:
                    break
            returns.append(total)
            lengths.append(n)
            successes.append(bool(info.get("task_success", False)))
    finally:
        if own_env:
            env.close()
    return {
        "episodes": int(episodes),
        "seed": int(seed),
        "mean_return": float(np.mean(returns)) if returns else None,
        "std_return": float(np.std(returns)) if returns else None,
        "success_rate": float(np.mean(successes)) if successes else None,
        "mean_length": float(np.mean(lengths)) if lengths else None,
    }


def stored_q_scale(sidecar: Mapping[str, Any] | None) -> float | None:
    """``metrics.q_scale.legal_std`` from a task agent's sidecar (see :func:`q_scale_stats`), None if absent."""
    value = (((sidecar or {}).get("metrics") or {}).get("q_scale") or {}).get("legal_std")
    return float(value) if value and value > 0 else None


def q_scale_stats(agent: TaskAgent, dataset, max_states: int = 20_000, seed: int = 0) -> dict[str, Any]:
    """Scale of the Q-values over stored states with >= 2 legal actions.

    ``legal_std``: mean standard deviation of Q over the legal actions;
    ``top2_gap``: mean gap between the best and second-best legal Q. These say
    what task temperature ``T_phi`` makes the Boltzmann policy sharp or flat.
    """
    legal = np.asarray(dataset.legal, dtype=bool)
    rows = np.flatnonzero(legal.sum(axis=1) >= 2)
    if len(rows) == 0:
        return {"states": 0}
    if len(rows) > max_states:
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=max_states, replace=False))
    q = agent.q_values_batch(dataset.features[rows]).astype(np.float64)
    m = legal[rows]
    qm = np.where(m, q, np.nan)
    srt = -np.sort(-np.where(m, q, -np.inf), axis=1)
    return {
        "states": len(rows),
        "mean_q": float(np.nanmean(qm)),
        "legal_std": float(np.mean(np.nanstd(qm, axis=1))),
        "top2_gap": float(np.mean(srt[:, 0] - srt[:, 1])),
    }


__all__ = ["DATASET_FILE", "KIND", "TaskAgent", "boltzmann", "evaluate_agent", "masked_argmax", "q_scale_stats",
           "qnetwork_shapes", "stored_q_scale"]
