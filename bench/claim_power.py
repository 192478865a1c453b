"""How often does "keeps >= 90 % of the task agent's success" pass, for a given loss and episode count?

A Pong episode is one point (success 0/1), so the claim compares two binomial shares. This simulates the
check as the benchmark makes it (task and fused row on their own episodes) and prints the share of cells
that would pass for a fused agent that loses 0 %, 5 % and 15 % of the task agent's success. A highway episode
is a crash or not, and fused episodes part from the task agent's early, so the same holds there; with
``--keep 0.95`` it is highway's calibration search (10 episodes per candidate, ``calibrate.KEEP``).

    python bench/claim_power.py --p 0.74 --episodes 60,100,300,1000
    python bench/claim_power.py --p 0.70 --episodes 300 --baseline 1000      # Pong's report rows since 2026-11-30
    python bench/claim_power.py --p 0.8 --episodes 30,100                      # highway's held-out check
    python bench/claim_power.py --p 0.83 --episodes 10,30 --keep 0.95 --losses 0,0.157,0.277  # its search
"""

from __future__ import annotations

import argparse

import numpy as np


def pass_rate(p: float, episodes: int, loss: float, draws: int, rng: np.random.Generator,
              keep: float = 0.9, baseline: int = 0) -> float:
    """``baseline``: the task agent's episodes behind the bar (at least ``episodes``; the benchmark's
    ``BASELINE_EPISODES``), taken as independent of the fused ones (they share only their first seeds)."""
    n_task = max(baseline, episodes)
    task = rng.binomial(n_task, p, draws) / n_task
    fused = rng.binomial(episodes, p * (1 - loss), draws) / episodes
    return float(np.mean(fused >= keep * task))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--p", type=float, default=0.74,
                    help="the task agent's true success (default 0.74: Pong, 300 report episodes)")
    ap.add_argument("--episodes", default="60,100,300,1000", help="episode counts, comma-separated")
    ap.add_argument("--keep", type=float, default=0.9, help="the bar: share of the task agent's success (default 0.9)")
    ap.add_argument("--losses", default="0,0.05,0.15", help="the fused agent's losses, comma-separated")
    ap.add_argument("--baseline", type=int, default=0,
                    help="the task agent's episodes behind the bar (default 0: as many as the fused row's)")
    ap.add_argument("--draws", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    losses = [float(x) for x in args.losses.split(",")]
    print(f"task success p = {args.p}; share of cells passing 'keeps >= {100 * args.keep:g} %'"
          + (f", the task agent on {args.baseline} episodes" if args.baseline else ""))
    print("episodes" + "".join(f"  {100 * loss:5.1f} % loss" for loss in losses))
    for n in (int(x) for x in args.episodes.split(",")):
        rates = [pass_rate(args.p, n, loss, args.draws, rng, args.keep, args.baseline) for loss in losses]
        print(f"{n:8d}" + "".join(f"  {r:12.2f}" for r in rates))


if __name__ == "__main__":
    main()
