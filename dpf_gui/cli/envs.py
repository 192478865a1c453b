"""``dpf envs``: the environments, their actions, features, region features, presets and shipped files."""

from __future__ import annotations

import argparse
import json

from dpf_gui.checkpoints import is_checkpoint
from dpf_gui.cli.options import command


# --- dpf envs ----------------------------------------------------------------
def _build_envs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of text")


@command(
    "envs",
    "list the environments, their actions, features, region features and presets",
    "examples:\n  dpf envs\n  dpf envs --json > envs.json",
    _build_envs,
)
def cmd_envs(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from dpf_gui.envs import ENV_NAMES, env_spec

    specs = [env_spec(n) for n in ENV_NAMES]
    shipped = {n: _shipped_files(n) for n in ENV_NAMES}
    if args.json:
        out = []
        for s in specs:
            out.append(
                {
                    "name": s.name,
                    "title": s.title,
                    "actions": list(s.action_names),
                    "features": list(s.feature_names),
                    "region_features": [asdict(rf) for rf in s.region_features],
                    "presets": [asdict(p) for p in s.presets],
                    "shipped_agent": shipped[s.name][0],
                    "shipped_data": shipped[s.name][1],
                }
            )
        print(json.dumps(out, indent=2))
        return 0
    for s in specs:
        print(f"{s.name}  ({s.title})")
        print(f"  actions ({s.n_actions}): {', '.join(s.action_names)}")
        print(f"  features ({s.n_features}): {', '.join(s.feature_names)}")
        print("  region features:")
        for rf in s.region_features:
            desc = f"  {rf.description}" if rf.description else ""
            print(f"    {rf.name:<8} {rf.describe_range()}{desc}")
        print("  presets:")
        for p in s.presets:
            parts = [f"prefer {' | '.join(p.prefer)}" if p.prefer else "",
                     f"avoid {' | '.join(p.avoid)}" if p.avoid else ""]
            print(f"    {p.name:<7} {'; '.join(x for x in parts if x)}")
        agent, data = shipped[s.name]
        print(f"  shipped agent: {agent or 'none'}  (--policy / --task {s.name})")
        print(f"  shipped data:  {data or 'none'}  (--data {s.name})")
        print()
    return 0


def _shipped_files(env_name: str) -> tuple[str | None, str | None]:
    """Where the shipped task agent and its trajectories of ``env_name`` are (None: not there)."""
    from dpf_gui.paths import models_root

    folder = models_root() / env_name
    agent = str(folder.resolve()) if is_checkpoint(folder) else None
    data = folder / "trajectories.npz"
    return agent, str(data.resolve()) if data.is_file() else None
