"""What ``dpf evaluate`` says under its table, for a person about to trust it: a row that moved the agent against
the wish, and dynamic fusion played at a strength nobody chose for this intent."""

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


__all__ = ["say_against_wish", "say_uncalibrated"]
