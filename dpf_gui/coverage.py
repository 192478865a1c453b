"""What the stored data can teach about a wish: how often it enters each region, said before anyone labels.

A wish about a place no stored trajectory visits cannot be learned from the
stored data, however many trajectories a person labels. So before labelling
(``dpf label``, the app's Annotate view) each preferred and avoided region of
the wish gets its coverage: how many stored trajectories enter it and how many
decisions lead into it. A region entered by fewer than
:data:`THIN_TRAJECTORIES` trajectories comes with a warning and the remedy:
record more varied trajectories (``dpf rollout --explore``) and merge them in
(``dpf merge``). A region nearly every stored trajectory enters
(:data:`EVERYWHERE_SHARE`) gets a note too: marks on whole trajectories
hardly tell them apart, so the person marks segments or how long each stays.
An avoided region every stored successful trajectory enters about as often
(:attr:`RegionCoverage.unavoidable`) is said too: the data shows no way to do
the task while avoiding it, so labels cannot make the agent halve it.
The counting itself is :func:`dpf_gui.wishgen.decisions_inside`, which the wish generator's notes use too.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import numpy as np

from dpf_gui.checkpoints import is_checkpoint
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.envs import env_class
from dpf_gui.paths import models_root
from dpf_gui.wish import Wish
from dpf_gui.wishgen import dataset_regions, decisions_inside, in_successful_runs, no_way_round

#: a region entered by fewer stored trajectories than this can hardly be learned from labels
THIN_TRAJECTORIES = 5
#: a region entered by at least this share of the stored trajectories: whole marks hardly tell them apart (only
#: how long each stays there does), e.g. Pong's paddle=0..0.5 (the upper half), which every stored trajectory enters
EVERYWHERE_SHARE = 0.95
#: exploring episodes the remedy for a thin region proposes, explored as bench/unseen_region.sh does (a region
#: the shipped gridnav data never enters met the claim from 25 suggested labels after 500 such episodes,
#: docs/RESULTS.md)
VARIED_EPISODES = 500


@dataclass(frozen=True)
class RegionCoverage:
    """One region of a wish in the stored data."""

    kind: str  # "prefer" or "avoid"
    expression: str  # as the wish wrote it, e.g. "terrain=scenic"
    trajectories: int  # stored trajectories with at least one decision leading into the region
    decisions: int  # stored decisions leading into the region
    of_trajectories: int  # stored trajectories in all
    # the fewest decisions inside among stored trajectories that succeed, and their median (None: fewer than
    # THIN_TRAJECTORIES of them succeed)
    fewest_in_success: int | None = None
    typical_in_success: float | None = None

    @property
    def unavoidable(self) -> bool:
        """An avoided region that every stored successful trajectory enters, none of them half as often as a
        typical one: nothing in the data shows the task done with it halved. On gridnav's map every way to the
        goal crosses the wall's two gaps (``x=4 | x=5``): a fused agent asked to avoid them steps back and forth
        in front of them and then crosses (docs/RESULTS.md, "Every row at a glance")."""
        return self.kind == "avoid" and no_way_round(self.fewest_in_success, self.typical_in_success)

    @property
    def thin(self) -> bool:
        return self.trajectories < THIN_TRAJECTORIES

    @property
    def everywhere(self) -> bool:
        return self.of_trajectories > 0 and self.trajectories >= EVERYWHERE_SHARE * self.of_trajectories

    def text(self) -> str:
        return (f"{self.kind} {self.expression}: entered by {self.trajectories} of {self.of_trajectories} stored "
                f"trajectories, {self.decisions} decision{'' if self.decisions == 1 else 's'} inside")


def region_coverage(dataset: TrajectoryDataset, wish: Wish) -> list[tuple[RegionCoverage, np.ndarray]]:
    """Each preferred, then each avoided, region of ``wish`` in ``dataset``, with the decisions each stored
    trajectory spends inside it (the app counts the labelled ones that enter with it)."""
    n = len(dataset)
    success = np.asarray(dataset.success, dtype=bool)

    def covered(kind: str, text: str, per: np.ndarray) -> RegionCoverage:
        fewest, typical = in_successful_runs(per, success, THIN_TRAJECTORIES)
        return RegionCoverage(kind, text, int((per > 0).sum()), int(per.sum()), n, fewest, typical)

    return [(covered(kind, e.text, per), per) for kind, e, per in decisions_inside(wish, dataset_regions(dataset))]


def wish_coverage(dataset: TrajectoryDataset, wish: Wish) -> list[RegionCoverage]:
    """Coverage of each preferred, then each avoided, region of ``wish`` in ``dataset``."""
    return [region for region, _ in region_coverage(dataset, wish)]


def thin_warning(region: RegionCoverage, env_name: str, data: str) -> str:
    """One line for a region the data hardly enters, with the remedy as commands that run from any folder: the
    shipped agent by its name, exploring (from random starts where the environment has them), merged into
    ``data`` (the dataset as the person named it)."""
    never = "no stored trajectory enters" if region.trajectories == 0 else \
        f"only {region.trajectories} of {region.of_trajectories} stored trajectories enter"
    side = "preferred" if region.kind == "prefer" else "avoided"
    start = " --start random" if env_class(env_name).supports_random_start else ""
    shipped = is_checkpoint(models_root() / env_name)  # a registered environment may have no shipped agent
    policy, where = (env_name, "") if shipped else ("DIR", f" (DIR: your task agent's folder; {env_name} ships none)")
    return (f"{never} the {side} region {region.expression}, so labels can hardly teach it; record more varied "
            f"trajectories first with `dpf rollout --env {env_name} --policy {policy} --explore boltzmann:3{start} "
            f"--episodes {VARIED_EPISODES} --out more.npz`{where} and merge them in with "
            f"`dpf merge --data {shlex.quote(data)} --data more.npz --out merged.npz` (add --labels and --labels-out "
            "to carry labels over)")


def unavoidable_note(region: RegionCoverage) -> str:
    """One line for an avoided region the stored data shows no way round (:attr:`RegionCoverage.unavoidable`)."""
    fewest = region.fewest_in_success
    return (f"every stored trajectory that succeeds enters the avoided region {region.expression} (at least "
            f"{fewest} decision{'' if fewest == 1 else 's'}, {region.typical_in_success:g} typically), none of them "
            "half as often: nothing shows the task done while avoiding it, so the fused agent can delay entering "
            "it but hardly enter it less")


def everywhere_note(region: RegionCoverage) -> str:
    """The start of a line for a region nearly every stored trajectory enters (the caller adds what to do)."""
    side = "preferred" if region.kind == "prefer" else "avoided"
    return (f"Nearly every stored trajectory ({region.trajectories} of {region.of_trajectories}) enters the {side} "
            f"region {region.expression}, so marks on whole trajectories hardly tell them apart")


__all__ = ["EVERYWHERE_SHARE", "THIN_TRAJECTORIES", "RegionCoverage", "everywhere_note", "region_coverage",
           "thin_warning", "unavoidable_note", "wish_coverage"]
