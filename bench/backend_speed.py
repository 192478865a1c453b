"""`dpf benchmark` wall time with --jobs 1, --jobs 2 and --backend ray on 2 CPUs, on one small grid.

Each run is the real command in a fresh process with a fresh --work folder (nothing cached: the task
agent's episodes and every cell are computed), so the times include what a user waits for: starting the
worker processes, or starting a local Ray instance of 2 CPUs and its workers. The bench fails unless the
three runs wrote the same cells (every number but the cells' own wall time).

    python bench/backend_speed.py [--wishes 6] [--budgets 25] [--episodes 60] [--rows dynamic,calibrated]

The default grid is 6 cells of similar cost (25 labels each: at 10 some wishes get too few distinct scores to
train on and their cells take 0.1 s, so two workers could not split the work evenly).

Needs Ray (pip install -e '.[ray]'). Prints a Markdown table for docs/PERFORMANCE.md with the machine and,
per run, the CPU time the run used (its processes, Ray's included) and how many cores the machine's other
processes kept busy meanwhile (from /proc/stat): on a shared machine that, not the backend, sets the
speed-up, since two workers only help when a second core is free.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

RUNS = (("--jobs 1", ["--jobs", "1"]), ("--jobs 2", ["--jobs", "2"]),
        ("--backend ray, 2 CPUs", ["--backend", "ray", "--jobs", "2"]))


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (every process, not only ours)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _procs() -> dict[int, tuple[int, float]]:
    """Every process: pid -> (parent pid, CPU seconds so far)."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended meanwhile
            continue
        fields = text[text.rindex(")") + 2:].split()  # after the command name, which may hold spaces
        out[int(stat.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    return out


def tree_cpu_s(root: int, seen: dict[int, float]) -> None:
    """Record the CPU seconds of ``root`` and its descendants (workers, Ray's processes) into ``seen``."""
    procs = _procs()
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, (ppid, _) in procs.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    for pid in tree & procs.keys():
        seen[pid] = max(seen.get(pid, 0.0), procs[pid][1])


def run(argv: list[str], folder: Path) -> tuple[float, float, float, list[dict]]:
    """One `dpf benchmark` in a fresh process: (wall s, its CPU s, other processes' busy cores, its cells)."""
    folder.mkdir(parents=True)
    cmd = [sys.executable, "-m", "dpf_gui.cli", "benchmark", *argv, "--work", str(folder / "work"),
           "--out", str(folder / "RESULTS.md"), "--quiet"]
    busy0, t0, seen = busy_cpu_s(), time.perf_counter(), {}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    while proc.poll() is None:  # processes that end between two looks lose their last half second
        tree_cpu_s(proc.pid, seen)
        time.sleep(0.5)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode})")
    wall, ours = time.perf_counter() - t0, sum(seen.values())
    others = max(0.0, busy_cpu_s() - busy0 - ours) / wall
    cells = json.loads((folder / "results" / "benchmark.json").read_text())["cells"]
    return wall, ours, others, [{k: v for k, v in c.items() if k != "wall_s"} for c in cells]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wishes", default="6")
    p.add_argument("--budgets", default="25")
    p.add_argument("--episodes", default="60", help="held-out gridnav episodes per row")
    p.add_argument("--rows", default="dynamic,calibrated")
    args = p.parse_args()
    grid = ["--envs", "gridnav", "--wishes", args.wishes, "--budgets", args.budgets, "--labels", "exact",
            "--select", "random", "--rows", args.rows, "--episodes", f"gridnav={args.episodes}"]
    print(f"grid: dpf benchmark {' '.join(grid)}", flush=True)
    out = {}
    with tempfile.TemporaryDirectory(prefix="backend-speed-") as tmp:
        for k, (name, extra) in enumerate(RUNS):
            out[name] = run(grid + extra, Path(tmp) / str(k))
            print(f"{name}: {out[name][0]:.0f} s, {out[name][1]:.0f} CPU s; other processes kept "
                  f"{out[name][2]:.2f} cores busy", flush=True)
    cells = {name: r[3] for name, r in out.items()}
    first = next(iter(cells.values()))
    same = all(c == first for c in cells.values())
    import torch

    print(f"\n{date.today()}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"torch {torch.__version__}; {len(first)} cells; the cells of the three runs identical: {same}\n")
    print("| run | wall | speed-up over --jobs 1 | CPU time of the run | cores other processes kept busy |")
    print("|---|---|---|---|---|")
    base = out["--jobs 1"][0]
    for name, (wall, ours, others, _) in out.items():
        print(f"| {name} | {wall:.0f} s | {base / wall:.2f}x | {ours:.0f} s | {others:.2f} of {os.cpu_count()} |")
    ray, two = out["--backend ray, 2 CPUs"][0], out["--jobs 2"][0]
    print(f"\nRay / --jobs 2 wall: {ray / two:.2f} (target <= 1.20); "
          f"--jobs 2 speed-up {base / two:.2f}x (target >= 1.8x)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
