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

Training is double DQN from the task network's weights, one-step targets over
the dataset's transitions, a fixed number of gradient steps; the result is
cached next to the intent model (``INTENT_DIR/retrain/``) and reused while the
intent weights are unchanged.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from dpf_gui.agents.dqn import KIND, QNetwork, masked_argmax_batch
from dpf_gui.agents.task_agent import TaskAgent
from dpf_gui.checkpoints import read_sidecar, save_checkpoint
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.errors import UserError

SUBDIR = "retrain"


@dataclass(frozen=True)
class RetrainConfig:
    task_weight: float = 0.7
    intent_weight: float = 0.3
    gradient_steps: int = 4000
    batch_size: int = 256
    learning_rate: float = 1e-4
    target_update_interval: int = 250
    max_grad_norm: float = 10.0
    seed: int = 0


def transitions(dataset: TrajectoryDataset) -> dict[str, np.ndarray]:
    """One row per stored decision: s, a, s', legal(s'), terminal."""
    n = len(dataset.actions)
    state_rows, next_rows, terminal = [], [], np.zeros(n, dtype=bool)
    for i in range(len(dataset)):
        s = dataset.state_slice(i)
        rows = np.arange(s.start, s.stop)
        state_rows.append(rows[:-1])
        next_rows.append(rows[1:])
        if dataset.terminated[i] and dataset.lengths[i] > 0:
            terminal[dataset.step_slice(i).stop - 1] = True
    sr, nr = np.concatenate(state_rows), np.concatenate(next_rows)
    return {
        "obs": dataset.features[sr],
        "actions": dataset.actions.copy(),
        "next_obs": dataset.features[nr],
        "next_legal": dataset.legal[nr],
        "terminal": terminal,
    }


def blended_rewards(dataset: TrajectoryDataset, intent_rewards: np.ndarray, score_scale: float,
                    cfg: RetrainConfig) -> np.ndarray:
    task = dataset.rewards.astype(np.float64)
    returns = np.array([task[dataset.step_slice(i)].sum() for i in range(len(dataset))])
    return_rms = float(np.sqrt(np.mean(returns**2))) or 1.0
    intent = np.asarray(intent_rewards, np.float64) / (score_scale or 1.0) * return_rms
    return (cfg.task_weight * task + cfg.intent_weight * intent).astype(np.float32)


def retrain(task: TaskAgent, intent_dir: str | Path, cfg: RetrainConfig | None = None,
            progress: bool = True) -> TaskAgent:
    """Fine-tune ``task`` offline on its stored trajectories with the blended reward; save and return it."""
    from dpf_gui.intent.redistribute import redistribute_dataset
    from dpf_gui.intent.train import load_intent

    cfg = cfg or RetrainConfig()
    intent, intent_meta = load_intent(intent_dir, expect_env=task.env_name)
    if task.dataset_path is None or not task.dataset_path.is_file():
        raise UserError(f"the task agent has no stored trajectories to retrain on ({task.dataset_path})")
    dataset = TrajectoryDataset.load(task.dataset_path, expect_env=task.env_name)
    t0 = time.time()
    intent_rewards = redistribute_dataset(intent, dataset)
    # r_0 also carries the model's baseline (the average score): a constant that says nothing about actions
    firsts = [dataset.step_slice(i).start for i in range(len(dataset)) if dataset.lengths[i] > 0]
    intent_rewards[firsts] -= float(intent.offset.detach()) * float(intent.score_scale)
    rewards = blended_rewards(dataset, intent_rewards, float(intent_meta.get("score_scale") or 1.0), cfg)
    data = transitions(dataset)
    gamma = float((task.sidecar.get("hyperparameters") or {}).get("gamma", 0.99))

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net = QNetwork(task.n_features, task.n_actions, task.network.hidden)
    net.load_state_dict(task.network.state_dict())
    target = QNetwork(task.n_features, task.n_actions, task.network.hidden)
    target.load_state_dict(net.state_dict())
    opt = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
    tensors = {k: torch.as_tensor(v) for k, v in data.items()}
    r_all = torch.as_tensor(rewards)
    n = len(rewards)
    for step in tqdm(range(cfg.gradient_steps), desc="retrain (offline)", disable=not progress):
        idx = torch.as_tensor(rng.integers(0, n, size=cfg.batch_size))
        with torch.no_grad():
            best = masked_argmax_batch(net(tensors["next_obs"][idx]), tensors["next_legal"][idx])
            next_q = target(tensors["next_obs"][idx]).gather(1, best[:, None]).squeeze(1)
            y = r_all[idx] + gamma * (~tensors["terminal"][idx]).float() * next_q
        q = net(tensors["obs"][idx]).gather(1, tensors["actions"][idx][:, None]).squeeze(1)
        loss = F.huber_loss(q, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.max_grad_norm)
        opt.step()
        if (step + 1) % cfg.target_update_interval == 0:
            target.load_state_dict(net.state_dict())

    sidecar = {k: v for k, v in task.sidecar.items() if k not in ("weights_sha256", "created", "files", "fusion")}
    sidecar.update(
        kind=KIND,
        retrained={
            "from_task": str(task.directory),
            "intent": str(intent_dir),
            "intent_weights_sha256": intent_meta.get("weights_sha256"),
            "config": asdict(cfg),
            "wall_time_s": round(time.time() - t0, 2),
            "transitions": int(n),
        },
    )
    out = Path(intent_dir) / SUBDIR
    save_checkpoint(out, net.state_dict(), sidecar)
    return TaskAgent.load(out, expect_env=task.env_name)


def load_or_retrain(task: TaskAgent, intent_dir: str | Path | None, progress: bool = True) -> TaskAgent:
    """The cached retrained agent for this intent model, training it first if needed."""
    if intent_dir is None:
        raise UserError("strategy 'retrain' needs an intent model: pass --intent DIR")
    cached = Path(intent_dir) / SUBDIR
    intent_sha = read_sidecar(intent_dir).get("weights_sha256")
    if (cached / "model.json").is_file():
        meta = read_sidecar(cached)
        if (meta.get("retrained") or {}).get("intent_weights_sha256") == intent_sha:
            return TaskAgent.load(cached, expect_env=task.env_name)
    return retrain(task, intent_dir, progress=progress)
