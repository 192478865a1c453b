"""What ``dpf evaluate`` says under its table, for a person about to trust it: a row that moved the agent against
the wish, a row whose episodes got much longer (stepping back and forth), and dynamic fusion played at a strength
nobody chose for this intent."""

from __future__ import annotations

import argparse


def say_uncalibrated(args: argparse.Namespace, task, overrides: dict, rows: dict) -> None:
    """Dynamic fusion at the task agent's stored strength (set by hand on the presets) is what a person measures
    as "nothing moves" with a quiet intent learnt from a few marks; the calibrated strength is what the claim of
    docs/RESULTS.md rests on, so a run without ``--calibrate`` says how to get it."""
    from dpf_gui.pipeline import fusion_params

    if (args.intent is None or "dynamic" not in rows or args.calibrate or args.recalibrate or args.paper
            or "strength" in overrides):
        return
    params = fusion_params(task, overrides)
    print(f"note: dynamic played the intent at the strength stored with the task agent ({params.strength:g}, "
          f"c {params.c:g}: set by hand on the presets, not for this intent); --calibrate chooses them for this "
          "intent in simulation, as the app's Play does and docs/RESULTS.md's calibrated row (seconds on gridnav, "
          "minutes on highway and Pong; kept on this machine)")


def say_against_wish(rows: dict) -> None:
    """A row that moved the agent the wrong way for the wish (beyond both 95 % intervals) is said under the table,
    which a person should hear before trusting it: against the whole wish (its intent learnt something else), or
    one region of a mixed wish given up for the other."""
    from dpf_gui.benchmark_report import WISH_SHARES, wish_moves

    task = rows.get("task")
    if task is None:  # nothing to compare with
        return
    metric_of = {region: metric for metric, region, _ in WISH_SHARES}

    def shares(row: dict, regions: list[str]) -> str:
        return " and ".join(f"the {r} region {row[metric_of[r]]['mean']:.3f} of its decisions (the task agent "
                            f"{task[metric_of[r]]['mean']:.3f})" for r in regions)

    for name, row in rows.items():
        moves = wish_moves(task, row)
        if name == "task" or not moves["wrong"]:
            continue
        if moves["right"]:
            print(f"note: {name} gives up {shares(row, moves['wrong'])} for {shares(row, moves['right'])}")
        else:
            print(f"note: {name} moves against the wish: {shares(row, moves['wrong'])}; its intent learnt "
                  "something other than this wish (more marks, or the ones `dpf label --select active` suggests, "
                  "usually mend it)")


#: a fused row's episodes this many times the task agent's are said under the table
LONGER = 2.0


def say_longer_episodes(rows: dict, remedy: str | None = None) -> None:
    """A fused row whose episodes last far longer than the task agent's: at an avoided region's edge the fused
    agent can step back and forth before crossing or going round (docs/EXPERIMENTS.md sections 76 and 79),
    which halves its share of decisions there without entering it less. Said plainly where the share halved
    and the count did not (the claim then misses), as a length otherwise; ``remedy``
    (:func:`dpf_gui.back_steps.time_cost_remedy`) says what to try."""
    from dpf_gui.benchmark import halved_by_longer, strict_claim

    task = rows.get("task")
    if task is None or "length" not in task:
        return
    for name, row in rows.items():
        if name == "task" or "length" not in row or "task_success" not in row:
            continue
        length, usual = row["length"]["mean"], task["length"]["mean"]
        if halved_by_longer(strict_claim(task, row)):
            print(f"note: {name} halves its share of decisions in the avoided region only by longer episodes "
                  f"({length:.1f} decisions against the task agent's {usual:.1f}): it enters it "
                  f"{row['avoid_steps']['mean']:.2f} decisions an episode against {task['avoid_steps']['mean']:.2f},"
                  " stepping back and forth in front of it before crossing (`dpf record` films it)"
                  + (f"; {remedy}" if remedy else ""))
        elif length >= LONGER * usual:
            print(f"note: {name}'s episodes last {length:.1f} decisions, {length / usual:.1f}x the task agent's "
                  f"{usual:.1f}: a detour, or stepping back and forth in front of a region (`dpf record` films it)"
                  + (f"; if it steps back and forth, {remedy}" if remedy else ""))


__all__ = ["LONGER", "say_against_wish", "say_longer_episodes", "say_uncalibrated"]
