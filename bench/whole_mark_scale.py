"""What a person's whole-trajectory mark should score: +-1, +-sqrt(T) (the app's rule) or +-T.

A simulated person marks the trajectories "label this next" suggests: each,
by a seeded coin with probability ``--whole``, as a whole (the sign of its
true score under the environment's ``mixed`` preset) or with up to two
jittered segments (``dpf_gui.oracles.label_segments``). The whole marks are
scored by each rule, the additive intent model's utility stage is fitted on
the marks (4 members, 300 steps; the value stage does not enter a
trajectory's predicted score), and the script prints, per rule, the
correlation of the predicted with the true score over every stored
trajectory and the share of trajectory pairs ordered as the true scores
order them. ``--known`` also passes the segments' decisions as per-step
marks (what the label store does). Regenerates the table in docs/GUI.md
(*How marks become labels*):

    python bench/whole_mark_scale.py --env gridnav --budget 12 --seeds 5 --whole 1,0.5
    python bench/whole_mark_scale.py --env pong --budget 25 --seeds 3 --whole 1,0.5

gridnav takes about 2 s per fit on a busy core, Pong about 20 s.
"""

from __future__ import annotations

import argparse

import numpy as np

from dpf_gui.data.labels import Labels, whole_mark_step
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.envs import env_spec
from dpf_gui.intent.additive import AdditiveConfig, fit_additive, region_code
from dpf_gui.intent.unreached import next_state_rows
from dpf_gui.oracles import label_segments, step_marks
from dpf_gui.paths import dataset_path
from dpf_gui.selection import suggest
from dpf_gui.threads import limit_threads
from dpf_gui.wish import make_wish

#: what a whole mark of a trajectory of T decisions is worth, per rule
RULES = {"1": lambda t: 1.0, "sqrt": lambda t: t * whole_mark_step(t), "T": lambda t: float(t)}


def person_labels(data: TrajectoryDataset, wish, chosen: list[int], share_whole: float, rule: str, known: bool,
                  seed: int) -> Labels:
    """The chosen trajectories marked by a simulated person: whole marks scored by ``rule``, or segments."""
    true = step_marks(data, wish)
    segments = label_segments(data, wish, seed=seed)
    coin = np.random.default_rng([seed, 1]).random(len(chosen)) < share_whole
    n = len(data)
    scores, labelled = np.zeros(n, np.float32), np.zeros(n, bool)
    marks, given = np.zeros(len(true), np.int8), np.zeros(len(true), bool)
    for i, whole in zip(chosen, coin, strict=True):
        sl = data.step_slice(i)
        labelled[i] = True
        if whole:
            v = int(np.sign(true[sl].sum()))
            scores[i] = v * RULES[rule](int(data.lengths[i]))
        else:
            marks[sl] = segments.marks[sl]
            given[sl] = segments.known[sl] & (segments.marks[sl] != 0)
            scores[i] = float(segments.marks[sl].sum())
    return Labels(scores=scores, labelled=labelled, true_scores=np.full(n, np.nan, np.float32), marks=marks,
                  lengths=data.lengths.copy(), known=given if known and given.any() else None,
                  meta={"env": data.env_name, "data_fingerprint": data.fingerprint()})


def quality(fit, data: TrajectoryDataset, true_scores: np.ndarray) -> tuple[float, float]:
    """(correlation, pair accuracy) of the fitted utility's trajectory sums against the true scores."""
    rows, owner, _ = next_state_rows(data, np.arange(len(data)))
    u = fit.model.utilities(data.features[rows], region_code(data.regions, data.region_features)[rows]).mean(0)
    pred = np.bincount(owner, weights=u, minlength=len(data))
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(data), 20_000), rng.integers(0, len(data), 20_000)
    order = np.sign(true_scores[a] - true_scores[b])
    differ = order != 0
    pairs = float((np.sign(pred[a] - pred[b])[differ] == order[differ]).mean())
    return float(np.corrcoef(pred, true_scores)[0, 1]), pairs


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="gridnav")
    p.add_argument("--budget", type=int, default=25, help="marked trajectories (the first suggestions)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--rules", default="1,sqrt,T", help=f"comma-separated, of {', '.join(RULES)}")
    p.add_argument("--whole", default="1,0.5", help="shares of whole marks (the rest: segments)")
    p.add_argument("--known", action="store_true", help="segments' decisions as per-step marks too")
    args = p.parse_args(argv)
    limit_threads(1)
    data = TrajectoryDataset.load(dataset_path(args.env))
    wish = make_wish(data.region_features, preset=env_spec(args.env).preset("mixed"))
    true = step_marks(data, wish)
    true_scores = np.array([true[data.step_slice(i)].sum() for i in range(len(data))], float)
    chosen = [s.index for s in suggest(data, count=args.budget, seed=0)]
    cfg = AdditiveConfig(members=4, hidden=32, utility_steps=300, value_steps=1)
    shown = sorted(true_scores[chosen].astype(int).tolist())
    print(f"{args.env}: {args.budget} suggested trajectories, true scores {shown}")
    for share in (float(s) for s in args.whole.split(",")):
        for rule in args.rules.split(","):
            results = []
            for seed in range(args.seeds):
                labels = person_labels(data, wish, chosen, share, rule, args.known, seed)
                idx = np.flatnonzero(labels.labelled)
                if np.ptp(labels.scores[idx]) > 0:
                    results.append(quality(fit_additive(data, labels, idx, seed, cfg), data, true_scores))
            r = np.array(results)
            print(f"whole share {share:.1f}  whole = {rule:5s} correlation {r[:, 0].mean():.2f} "
                  f"({', '.join(f'{x:.2f}' for x in r[:, 0])})  pairs ordered {r[:, 1].mean():.3f}", flush=True)


if __name__ == "__main__":
    main()
