"""Per-decision latency of the dynamic-fusion agent: incremental LSTM stepping vs a naive rerun.

The fused agent advances the intent LSTM one step per decision and scores all
candidate actions in one batched call. The naive alternative reruns the LSTM
over the whole history once per candidate action, so its cost grows with the
step index. We time both at trajectory step 50 and step 500 (features in,
action and diagnostics out) on the shipped pong agent with an intent model
trained on its trajectories, and print p50 / p99 and the ratio.

    python bench/decision_latency.py [--intent DIR] [--repeats 200]

Without ``--intent`` a small intent model is trained first (about a minute).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.fusion import FusedAgent, FusionParams, intent_scale
from dpf_gui.pipeline import load_task_agent
from dpf_gui.strategies import dynamic_temperature, geometric_fusion, softmax_legal
from dpf_gui.threads import limit_threads


def long_trajectory(data: TrajectoryDataset, min_len: int):
    lengths = data.lengths
    i = int(np.flatnonzero(lengths >= min_len)[0]) if (lengths >= min_len).any() else int(np.argmax(lengths))
    return data[i]


class NaiveAgent:
    """Dynamic fusion that recomputes g_t(a) by running the LSTM over the full history for every action."""

    def __init__(self, task, model, scale, params, q_scale):
        self.task, self.model, self.scale, self.params, self.q_scale = task, model, scale, params, q_scale
        self.reset()

    def reset(self):
        self.feats: list[np.ndarray] = []
        self.acts: list[int] = []
        self.g_prev, self.collected = 0.0, 0.0

    @torch.no_grad()
    def decide(self, features, legal):
        n_a = self.task.n_actions
        q = self.task.q_values(features)
        scores = np.empty(n_a)
        for a in range(n_a):
            f = torch.as_tensor(np.stack([*self.feats, features]).astype(np.float32))[None]
            acts = torch.as_tensor(np.array([*self.acts, a], dtype=np.int64))[None]
            g, _, _ = self.model(f, acts)
            scores[a] = float(g[0, -1] * self.model.score_scale)
        r = (scores - self.g_prev) / self.scale
        p = self.params
        T = dynamic_temperature(self.collected, p)
        fused = geometric_fusion(softmax_legal(q / self.q_scale, legal, p.T_phi), softmax_legal(r, legal, T))
        action = int(np.argmax(np.where(legal, fused, -1)))
        self.collected += float(r[action] - r[legal].mean())
        self.g_prev = scores[action]
        self.feats.append(np.asarray(features, np.float32))
        self.acts.append(action)
        return action


def time_at(agent, traj, step: int, repeats: int) -> np.ndarray:
    """Latency of the decision at ``step`` after replaying the trajectory's first ``step`` decisions."""
    out = []
    for _ in range(repeats):
        agent.reset()
        for t in range(step):  # bring the agent's history to `step` along the stored actions
            if isinstance(agent, FusedAgent):
                agent.stepper.score_actions(traj.features[t])
                agent.stepper.advance(int(traj.actions[t]))
            else:
                agent.feats.append(traj.features[t])
                agent.acts.append(int(traj.actions[t]))
        t0 = time.perf_counter()
        agent.decide(traj.features[step], traj.legal[step])
        out.append(time.perf_counter() - t0)
    return np.array(out) * 1e3


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="pong")
    p.add_argument("--intent", default=None, help="intent checkpoint (default: train a small one)")
    p.add_argument("--repeats", type=int, default=100)
    args = p.parse_args(argv)
    limit_threads(1)
    task = load_task_agent(args.env)
    data = TrajectoryDataset.load(task.dataset_path)
    from dpf_gui.intent.train import IntentConfig, load_intent, train_intent

    if args.intent:
        model, side = load_intent(args.intent, expect_env=args.env)
    else:
        from dpf_gui.envs import env_spec
        from dpf_gui.oracles import FeedbackNoise, label_dataset
        from dpf_gui.wish import make_wish

        wish = make_wish(data.region_features, preset=env_spec(args.env).preset("mixed"))
        res = train_intent(data, label_dataset(data, wish, FeedbackNoise(), 0), 0,
                           config=IntentConfig(max_epochs=3, max_train_per_epoch=200), progress=False)
        model, side = res.model, res.sidecar
    params = FusionParams()
    fused = FusedAgent(task, "dynamic", params, intent=model, intent_scale=intent_scale(side))
    naive = NaiveAgent(task, model, intent_scale(side), params, fused.q_scale)
    traj = long_trajectory(data, 501)
    print(f"{args.env}: trajectory of {traj.length} decisions; {args.repeats} timed decisions per cell; "
          "torch threads 1")
    print(f"{'step':>5} {'incremental p50':>16} {'p99':>8} {'naive p50':>10} {'p99':>8} {'naive/incr (p50)':>17}")
    for step in (50, 500):
        if step >= traj.length:
            continue
        inc, nav = time_at(fused, traj, step, args.repeats), time_at(naive, traj, step, args.repeats)
        print(f"{step:>5} {np.percentile(inc, 50):>13.3f} ms {np.percentile(inc, 99):>5.3f} ms "
              f"{np.percentile(nav, 50):>7.3f} ms {np.percentile(nav, 99):>5.3f} ms "
              f"{np.percentile(nav, 50) / np.percentile(inc, 50):>16.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
