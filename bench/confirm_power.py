"""How often does the calibration confirm a candidate, for a given loss, as dpf_gui.calibrate does it?

The confirmation (``sequential_confirmation``) looks at the paired margin ``fused - 0.9 x task`` every
``CONFIRM_CHUNK`` fresh points, up to ``CONFIRM_EPISODES``, with a one-sided ``CONFIRM_Z`` bound at the last look
and ``CONFIRM_Z x sqrt(looks / look)`` before it.
This simulates one try on points that are won (1) or lost (0): the candidate shares the task agent's outcome
on a share of the points (what a quiet intent does: it changes few decisions) and draws its own elsewhere,
so that it keeps a given share of the task agent's success. A candidate right at the claim's bar (90 %)
should be confirmed about 1 - confidence of the time; several looks at one bar would make it more, which the
stricter early looks pay back.

On Pong the task agent's reference episodes (``REFERENCE_EPISODES``, drawn afresh for every simulated try) join
the paired points (``regression_bounds``); ``--reference 0`` gives the paired margin alone, as before they did.
Highway (``--env highway``) has been paired the same way since 2026-12-05 (its crashes go with the task agent's
on the same seeds, ``bench/confirm_pairing.py``); an environment outside ``PAIRED`` would be compared, unpaired,
with the task agent's reference episodes, drawn afresh for every simulated try (their noise counts).

    python bench/confirm_power.py --p 0.7 --draws 4000 [--z 1.64] [--reference 0]
    python bench/confirm_power.py --env highway --p 0.85 --kept 0.8,0.85,0.9,0.95,1.0
    python bench/confirm_power.py --env highway --p 0.85 --episodes 200 --reference 200
"""

from __future__ import annotations

import argparse
from statistics import NormalDist

import numpy as np

from dpf_gui.calibrate import (
    CONFIRM_CHUNK,
    CONFIRM_EPISODES,
    CONFIRM_KEEP,
    CONFIRM_Z,
    PAIRED,
    REFERENCE_EPISODES,
    sequential_confirmation,
)
from dpf_gui.wishgen import CLAIM_KEEP


def confirmed_share(p: float, kept: float, shared: float, draws: int, episodes: int, z: float,
                    rng: np.random.Generator, reference: int = 0, paired: bool = True,
                    keep: float = CLAIM_KEEP) -> tuple[float, float]:
    """Share of tries confirmed and mean fresh points played, for a candidate keeping ``kept`` of ``p``
    (against ``reference`` episodes of the task agent's own where that is not 0: unpaired, or with ``paired``
    also against the task agent on the same points, :func:`~dpf_gui.calibrate.regression_bounds`)."""
    own = (kept * p - shared * p) / (1 - shared)  # its success where it does not share the task agent's outcome
    confirmed = played = 0
    for _ in range(draws):
        task = (rng.random(episodes if paired else reference) < p).astype(float)
        shares = rng.random(episodes) < shared  # drawn on highway too (nothing shared): the draws keep their order
        drawn = (rng.random(episodes) < own).astype(float)
        fused = np.where(shares, task[:episodes], drawn) if paired else drawn
        ref = (rng.random(reference) < p).astype(float) if paired and reference else None
        ok, outcomes = sequential_confirmation(lambda a, b, f=fused: f[a:b],
                                               lambda n, t=task: t[:n] if paired else t, episodes, z,
                                               paired=paired, reference=ref, keep=keep)
        confirmed += ok
        played += len(outcomes)
    return confirmed / draws, played / draws


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", choices=sorted(CONFIRM_EPISODES), default="pong",
                    help="whose confirmation: its fresh episodes and its reference")
    ap.add_argument("--p", type=float, default=0.7, help="the task agent's success on calibration points "
                    "(default 0.7: Pong's, 0.65-0.74 by split)")
    ap.add_argument("--kept", default="0.85,0.9,0.95,1.0", help="shares of the task agent's success kept")
    ap.add_argument("--shared", default=None, help="shares of points whose outcome the candidate shares "
                    "(default 0,0.5,0.8; 0, the only one allowed, where the confirmation is unpaired)")
    ap.add_argument("--z", type=float, default=CONFIRM_Z, help="standard errors at the last look, earlier "
                    "ones z x sqrt(looks / look) (default: "
                    f"CONFIRM_Z, {CONFIRM_Z:g})")
    ap.add_argument("--episodes", type=int, default=None, help="fresh episodes at most (default: the "
                    "environment's CONFIRM_EPISODES)")
    ap.add_argument("--reference", type=int, default=None, help="the task agent's reference episodes (default: the "
                    "environment's REFERENCE_EPISODES; 0: none, Pong's paired margin alone)")
    ap.add_argument("--draws", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    episodes = CONFIRM_EPISODES[args.env] if args.episodes is None else args.episodes
    paired = args.env in PAIRED
    reference = REFERENCE_EPISODES.get(args.env, 0) if args.reference is None else args.reference
    if episodes < 1 or (reference < 2 and (args.reference or not paired)):
        ap.error(f"--episodes must be >= 1 and --reference >= 2{'' if not paired else ' (or 0)'}")
    if args.shared is None:
        args.shared = "0,0.5,0.8" if paired else "0"
    if not paired and args.shared.strip() not in ("0", "0.0"):
        ap.error(f"--env {args.env} compares with the task agent's own reference episodes, so no outcome is shared; "
                 "allowed: --shared 0")
    kept = [float(k) for k in args.kept.split(",")]
    for shared in (float(x) for x in args.shared.split(",")):  # a share the simulated points cannot give
        if not 0 <= shared < 1 or not all(0 <= (k - shared) * args.p / (1 - shared) <= 1 for k in kept):
            ap.error(f"--shared {shared:g} with --kept {args.kept} and --p {args.p:g} needs a success outside 0-1 "
                     "where the candidate does not share the task agent's outcome; allowed: 0 <= shared < 1 and "
                     "shared <= kept, with (kept - shared) x p / (1 - shared) <= 1")
    against = ("paired with the task agent's" + (f" and its {reference} reference episodes" if reference else "")
               if paired else f"against {reference} reference episodes of the task agent, unpaired")
    bar = CONFIRM_KEEP.get(args.env, CLAIM_KEEP)
    print(f"{args.env}: task success p = {args.p}; the bar {100 * bar:.0f} % of it; looks every {CONFIRM_CHUNK} "
          f"of up to {episodes} fresh points "
          f"({against}), one-sided {100 * NormalDist().cdf(args.z):.0f} % bound at the last look, stricter before it")
    print("share confirmed (mean points played) for a candidate keeping:")
    print("shared  " + "  ".join(f"{100 * k:10.0f} %" for k in kept))
    for shared in (float(s) for s in args.shared.split(",")):
        cells = [confirmed_share(args.p, k, shared, args.draws, episodes, args.z, rng, reference, paired, bar)
                 for k in kept]
        print(f"{100 * shared:4.0f} %  " + "  ".join(f"{c:5.2f} ({n:3.0f})" for c, n in cells))


if __name__ == "__main__":
    main()
