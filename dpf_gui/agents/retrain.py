"""The retraining reference ("MORL" row): the task DQN fine-tuned offline with a blended reward.

It needs what fusion avoids (a training run per wish) but no new environment
interaction: it learns from the stored trajectories the intent model was
trained on. As in the authors' code the reward is blended
``0.7 * task + 0.3 * intent``. The intent part is the redistributed per-step
reward rescaled so that a trajectory's intent sum has the size of a task
return: divided by the intent's ``score_scale`` (RMS trajectory score) and
multiplied by the RMS task return. Unscaled, one Pong intent mark would
outweigh a won point; scaled per step instead (by the RMS step reward), the
intent's anticipation rewards dominate and the learner circles to farm them.

Training is conservative offline Q-learning: double DQN from the task network's
weights, plus the discrete CQL term, a fixed number of gradient steps. Plain
offline DQN failed here (gridnav circled for 100 steps, Pong fell to about a
third of the points): the stored data almost never takes the detours a wish
asks for, and the Q-values of actions the data lacks are never corrected
(extrapolation error). Three measures, each needed on some environment:

* the CQL term ``logsumexp_{legal a} Q(s, a) - Q(s, a_data)``, taken in units
  of the task agent's spread of legal Q-values ``q_scale`` (softmax temperature
  and weight ``alpha * q_scale``), so one ``alpha`` means the same pull towards
  the data's actions in every environment;
* the network starts from ``task_weight`` times the task network's output
  (the blended reward's task part; the intent part, baseline removed, averages
  about zero over the data), so actions the data lacks start at the level of
  the seen ones instead of above them;
* ``n_step`` returns along the stored trajectories. The redistributed reward
  depends on the history (the intent model's anticipation), so one-step
  targets let the learner chain positive steps of different trajectories into
  a loop worth more than any real trajectory (gridnav "prefer scenic" circled
  next to the scenic row); sums over 10 real steps keep those anticipation
  rewards paired with their later corrections.

The result is a :mod:`dpf_gui.cache` entry next to the intent model
(``INTENT_DIR/retrain/``), keyed by everything training reads: the intent
weights, the task weights and the settings stored with them, the stored
trajectories and the :class:`RetrainConfig`. Another key replaces it; an
interrupted training leaves no entry.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from dpf_gui import __version__
from dpf_gui.agents.qnetwork import QNetwork, masked_argmax_batch
from dpf_gui.agents.task_agent import KIND, TaskAgent, q_scale_stats, stored_q_scale
from dpf_gui.cache import CacheEntry
from dpf_gui.checkpoints import read_sidecar, save_checkpoint, sha256_file
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.errors import UserError

SUBDIR = "retrain"


@dataclass(frozen=True)
class RetrainConfig:
    # the blend follows the authors: 0.7 * task reward + 0.3 * redistributed intent reward
    task_weight: float = 0.7
    intent_weight: float = 0.3
    gradient_steps: int = 4000
    batch_size: int = 256
    learning_rate: float = 1e-4
    target_update_interval: int = 250
    max_grad_norm: float = 10.0
    # cql_alpha (in units of the task agent's q_scale) and n_step were chosen together by measurement on
    # evaluation seed 1 (never the published seed 0), one setting for every environment. gridnav decided
    # it: alpha <= 0.2 circled on the "prefer"/"mixed" wishes, alpha >= 0.5 mostly copied the task
    # agent's route, one-step returns circled on "prefer" at alpha 0.1-0.5, 6 or 12 steps did worse than
    # 8-10; alpha 0.3 followed the wishes best with training seed 0 but circled on "mixed" with training
    # seeds 1 and 2, alpha 0.4 reached the goal for every wish and training seed 0-2. On Pong it wins
    # more points than the task agent while following the wish; on highway it matches plain offline DQN.
    cql_alpha: float = 0.4
    n_step: int = 10
    # start from task_weight * the task network's output (the blended reward's task part)
    scale_init: bool = True
    seed: int = 0


def transitions(dataset: TrajectoryDataset, rewards: np.ndarray | None = None, gamma: float = 0.99,
                n_step: int = 1) -> dict[str, np.ndarray]:
    """One row per stored decision: s, legal(s), a, the state ``k = min(n_step, steps left)`` decisions
    later with its legal mask, whether the episode terminated there, and (given ``rewards``) the
    discounted reward sum over those k steps and the bootstrap discount ``gamma**k``."""
    n = len(dataset.actions)
    state_rows, next_rows, terminal = [], [], np.zeros(n, dtype=bool)
    ret = np.zeros(n, np.float64)
    disc = np.zeros(n, np.float64)
    r_all = None if rewards is None else np.asarray(rewards, np.float64)
    for i in range(len(dataset)):
        s = dataset.state_slice(i)
        st = dataset.step_slice(i)
        t_len = st.stop - st.start
        if t_len <= 0:
            continue
        rows = np.arange(s.start, s.stop)
        t = np.arange(t_len)
        k = np.minimum(n_step, t_len - t)
        state_rows.append(rows[:-1])
        next_rows.append(rows[t + k])
        if dataset.terminated[i]:
            terminal[st.start + t[t + k == t_len]] = True
        disc[st.start:st.stop] = gamma ** k
        if r_all is not None:
            r = r_all[st]
            # discounted suffix sums: G_t = sum_{j>=t} gamma^(j-t) r_j; the k-step sum is G_t - gamma^k G_{t+k}
            g = np.zeros(t_len + 1)
            for j in range(t_len - 1, -1, -1):
                g[j] = r[j] + gamma * g[j + 1]
            ret[st.start:st.stop] = g[t] - gamma**k * g[t + k]
    sr, nr = np.concatenate(state_rows), np.concatenate(next_rows)
    out = {
        "obs": dataset.features[sr],
        "legal": dataset.legal[sr],
        "actions": dataset.actions.copy(),
        "next_obs": dataset.features[nr],
        "next_legal": dataset.legal[nr],
        "terminal": terminal,
        "discount": disc.astype(np.float32),
    }
    if r_all is not None:
        out["returns"] = ret.astype(np.float32)
    return out


def blended_rewards(dataset: TrajectoryDataset, intent_rewards: np.ndarray, score_scale: float,
                    cfg: RetrainConfig) -> np.ndarray:
    task = dataset.rewards.astype(np.float64)
    returns = np.array([task[dataset.step_slice(i)].sum() for i in range(len(dataset))])
    return_rms = float(np.sqrt(np.mean(returns**2))) or 1.0
    intent = np.asarray(intent_rewards, np.float64) / (score_scale or 1.0) * return_rms
    return (cfg.task_weight * task + cfg.intent_weight * intent).astype(np.float32)


def intent_blended_rewards(dataset: TrajectoryDataset, intent, intent_meta: dict,
                           cfg: RetrainConfig) -> np.ndarray:
    """The blended per-decision reward of ``dataset`` under the intent model (see :func:`blended_rewards`)."""
    from dpf_gui.intent.redistribute import redistribute_dataset

    intent_rewards = redistribute_dataset(intent, dataset)
    # r_0 also carries the model's baseline (the average score): a constant that says nothing about actions
    firsts = [dataset.step_slice(i).start for i in range(len(dataset)) if dataset.lengths[i] > 0]
    intent_rewards[firsts] -= float(intent.offset.detach()) * float(intent.score_scale)
    return blended_rewards(dataset, intent_rewards, float(intent_meta.get("score_scale") or 1.0), cfg)


def conservative_penalty(q_all: torch.Tensor, legal: torch.Tensor, actions: torch.Tensor,
                         scale: float = 1.0) -> torch.Tensor:
    """Discrete CQL term in action-value units of ``scale``.

    ``scale * mean(logsumexp_{legal a} Q(s, a)/scale - Q(s, a_data)/scale)``: illegal actions are left out
    of the logsumexp (rows with no legal action use all). Its gradient with respect to Q is
    ``softmax(Q/scale) - onehot(a_data)`` per row, whatever the size of the Q-values."""
    legal = legal | ~legal.any(dim=1, keepdim=True)
    z = q_all.masked_fill(~legal, -torch.inf) / scale
    lse = torch.logsumexp(z, dim=1)
    return scale * (lse - q_all.gather(1, actions[:, None]).squeeze(1) / scale).mean()


def fit(task: TaskAgent, data: dict[str, np.ndarray], cfg: RetrainConfig, q_scale: float,
        progress: bool = True) -> QNetwork:
    """Offline double DQN (plus the CQL term when ``cfg.cql_alpha > 0``) from the task network's weights.

    ``q_scale``: the task agent's typical spread of legal Q-values, the CQL term's unit."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net = QNetwork(task.n_features, task.n_actions, task.network.hidden)
    net.load_state_dict(task.network.state_dict())
    if cfg.scale_init:
        with torch.no_grad():
            net.net[-1].weight.mul_(cfg.task_weight)
            net.net[-1].bias.mul_(cfg.task_weight)
    target = QNetwork(task.n_features, task.n_actions, task.network.hidden)
    target.load_state_dict(net.state_dict())
    opt = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
    tensors = {k: torch.as_tensor(v) for k, v in data.items()}
    r_all = tensors["returns"]
    n = len(r_all)
    for step in tqdm(range(cfg.gradient_steps), desc="retrain (offline)", disable=not progress):
        idx = torch.as_tensor(rng.integers(0, n, size=cfg.batch_size))
        with torch.no_grad():
            best = masked_argmax_batch(net(tensors["next_obs"][idx]), tensors["next_legal"][idx])
            next_q = target(tensors["next_obs"][idx]).gather(1, best[:, None]).squeeze(1)
            y = r_all[idx] + tensors["discount"][idx] * (~tensors["terminal"][idx]).float() * next_q
        q_all = net(tensors["obs"][idx])
        actions = tensors["actions"][idx]
        loss = F.huber_loss(q_all.gather(1, actions[:, None]).squeeze(1), y)
        if cfg.cql_alpha > 0:
            # alpha in units of q_scale: the tabular fixed point lowers Q(s, a) by
            # alpha * q_scale * (softmax(Q / q_scale)(a) / p_data(a | s) - 1)
            loss = loss + cfg.cql_alpha * q_scale * conservative_penalty(q_all, tensors["legal"][idx], actions, q_scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.max_grad_norm)
        opt.step()
        if (step + 1) % cfg.target_update_interval == 0:
            target.load_state_dict(net.state_dict())
    return net


def _gamma(task: TaskAgent) -> float:
    return float((task.sidecar.get("hyperparameters") or {}).get("gamma", 0.99))


def _stored_data(task: TaskAgent) -> Path:
    if task.dataset_path is None or not task.dataset_path.is_file():
        raise UserError(f"the task agent has no stored trajectories to retrain on ({task.dataset_path})")
    return task.dataset_path


def retrain(task: TaskAgent, intent_dir: str | Path, out_dir: str | Path, cfg: RetrainConfig | None = None,
            progress: bool = True) -> Path:
    """Fine-tune ``task`` offline on its stored trajectories with the blended reward; save it to ``out_dir``."""
    from dpf_gui.intent.train import load_intent

    cfg = cfg or RetrainConfig()
    intent, intent_meta = load_intent(intent_dir, expect_env=task.env_name)
    dataset = TrajectoryDataset.load(_stored_data(task), expect_env=task.env_name)
    t0 = time.time()
    rewards = intent_blended_rewards(dataset, intent, intent_meta, cfg)
    data = transitions(dataset, rewards, _gamma(task), cfg.n_step)
    q_scale = stored_q_scale(task.sidecar) or q_scale_stats(task, dataset).get("legal_std") or 1.0
    net = fit(task, data, cfg, q_scale, progress=progress)
    n = len(rewards)

    sidecar = {k: v for k, v in task.sidecar.items() if k not in ("weights_sha256", "created", "files", "fusion")}
    sidecar.update(
        kind=KIND,
        retrained={
            "from_task": str(task.directory),
            "intent": str(intent_dir),
            "intent_weights_sha256": intent_meta.get("weights_sha256"),
            "task_weights_sha256": task.sidecar.get("weights_sha256"),
            "config": asdict(cfg),
            "wall_time_s": round(time.time() - t0, 2),
            "transitions": int(n),
        },
    )
    return save_checkpoint(out_dir, net.state_dict(), sidecar)


def load_or_retrain(task: TaskAgent, intent_dir: str | Path | None, progress: bool = True,
                    cfg: RetrainConfig | None = None) -> TaskAgent:
    """The cached retrained agent for this intent model, training it first if needed.

    The cache is used only if it was made from exactly these inputs (older caches, e.g. from before
    the conservative training, or from other stored trajectories, retrain)."""
    if intent_dir is None:
        raise UserError("strategy 'retrain' needs an intent model: pass --intent DIR")
    from dpf_gui.intent.registry import intent_kind

    intent_meta = read_sidecar(intent_dir)
    if intent_kind(intent_meta) != "lstm":  # the blended reward is the LSTM's redistributed reward
        raise UserError(f"strategy 'retrain' needs an LSTM intent model (dpf train-intent --kind lstm); "
                        f"{intent_dir} is {intent_kind(intent_meta)!r}")
    cfg = cfg or RetrainConfig()
    key = {"intent_weights_sha256": intent_meta.get("weights_sha256"),
           "task_weights_sha256": task.sidecar.get("weights_sha256"), "gamma": _gamma(task),
           "q_scale": stored_q_scale(task.sidecar), "data_sha256": sha256_file(_stored_data(task)),
           "config": asdict(cfg), "dpf_gui": __version__}
    entry = CacheEntry(intent_dir, SUBDIR, key, hashed=False)
    if not entry.done():
        with entry.build() as tmp:
            retrain(task, intent_dir, tmp, cfg, progress=progress)
    return TaskAgent.load(entry.path, expect_env=task.env_name)
