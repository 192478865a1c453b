"""How often does "keeps >= 90 % of the task agent's success" pass, for a given loss and episode count?

A Pong episode is one point (success 0/1), so the claim compares two binomial shares. This simulates the
check as the benchmark makes it (task and fused row on their own episodes) and prints the share of cells
that would pass for a fused agent that loses 0 %, 5 % and 15 % of the task agent's success.

    python bench/claim_power.py --p 0.74 --episodes 60,100,300,1000
"""

from __future__ import annotations

import argparse

import numpy as np


def pass_rate(p: float, episodes: int, loss: float, draws: int, rng: np.random.Generator) -> float:
    task = rng.binomial(episodes, p, draws) / episodes
    fused = rng.binomial(episodes, p * (1 - loss), draws) / episodes
    return float(np.mean(fused >= 0.9 * task))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--p", type=float, default=0.74,
                    help="the task agent's true success (default 0.74: Pong, 300 report episodes)")
    ap.add_argument("--episodes", default="60,100,300,1000", help="episode counts, comma-separated")
    ap.add_argument("--draws", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"task success p = {args.p}; share of cells passing 'keeps >= 90 %'")
    print("episodes  no loss  5 % loss  15 % loss")
    for n in (int(x) for x in args.episodes.split(",")):
        rates = [pass_rate(args.p, n, loss, args.draws, rng) for loss in (0.0, 0.05, 0.15)]
        print(f"{n:8d}  {rates[0]:7.2f}  {rates[1]:8.2f}  {rates[2]:9.2f}")


if __name__ == "__main__":
    main()
