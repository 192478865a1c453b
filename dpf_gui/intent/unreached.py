"""Places no labelled run reached: the additive intent assumes them slightly bad, and the person is told.

Marks only say how the places they show are. Where the marks are mostly
about avoiding, a place none of the labelled runs reached is pulled a little
below 0 rather than left harmless, so the intent keeps to places the person
has judged (an avoided start column no labelled run re-entered,
docs/EXPERIMENTS.md #52); marks that are mostly praise pull nothing (#53).
A place is the region code's one-hot bins (``region_bin_columns``), so a
continuous feature's scaled value does not make every state new.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from dpf_gui.data.labels import Labels
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.intent.additive_config import region_bin_columns, region_code


def next_state_rows(dataset: TrajectoryDataset, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of the states each decision of ``idx`` led to, their trajectory number (0..len(idx)-1), their step rows."""
    rows, owner, steps = [], [], []
    for k, i in enumerate(idx):
        s = dataset.state_slice(int(i))
        n = int(dataset.lengths[i])
        rows.append(np.arange(s.start + 1, s.start + 1 + n))
        owner.append(np.full(n, k))
        st = dataset.step_slice(int(i))
        steps.append(np.arange(st.start, st.stop))
    if not rows:
        return (np.zeros(0, np.int64),) * 3
    return np.concatenate(rows), np.concatenate(owner), np.concatenate(steps)


def unreached(code: np.ndarray, reached_rows: np.ndarray, region_features) -> np.ndarray:
    """Per stored state: whether no state of ``reached_rows`` shares its place (its region code's one-hot bins)."""
    place = places_of(code, region_features)
    return ~np.isin(place, place[reached_rows])


def places_of(code: np.ndarray, region_features) -> np.ndarray:
    """Each row's place: one integer per distinct set of the region code's one-hot bins."""
    return place_ids(np.packbits(code[:, region_bin_columns(region_features)] > 0.5, axis=1))  # one-hot 0/1


#: each dataset's places, by ``id``, with a weak reference that drops the entry when the dataset goes
_STORED_PLACES: dict[int, tuple[weakref.ref, np.ndarray]] = {}


def stored_places(dataset: TrajectoryDataset) -> np.ndarray:
    """Each stored state's place, computed once per dataset: the Train tab asks at every refresh of its
    notes, on the UI thread, and the region code of Pong's 459,000 states is most of the work."""
    key = id(dataset)
    hit = _STORED_PLACES.get(key)
    if hit is not None and hit[0]() is dataset:
        return hit[1]
    places = places_of(region_code(dataset.regions, dataset.region_features), dataset.region_features)
    _STORED_PLACES[key] = (weakref.ref(dataset, lambda _, k=key: _STORED_PLACES.pop(k, None)), places)
    return places


def place_ids(bits: np.ndarray) -> np.ndarray:
    """One integer per row of packed bin bits, equal exactly where the rows are (a 1-D sort is what makes
    Pong's 459,000 states take 0.1 s rather than 0.6 s: the Train tab computes this on the UI thread)."""
    if bits.shape[1] <= 8:  # the shipped environments: 2-4 bytes
        return np.ascontiguousarray(np.pad(bits, ((0, 0), (0, 8 - bits.shape[1])))).view(np.uint64).ravel()
    return np.unique(bits, axis=0, return_inverse=True)[1].ravel().astype(np.uint64)


def marks_say_avoid(scores) -> bool:
    """Whether more labelled runs scored below 0 than above: only then is an unreached place assumed slightly bad.

    Marks that are mostly praise say where the person wants to go; pulling
    every place they did not show downwards then fights a preferred place
    few labelled runs reached (10 yes/no labels, docs/EXPERIMENTS.md #53)."""
    scores = np.asarray(scores, dtype=np.float64)
    return int((scores < 0).sum()) > int((scores > 0).sum())


def pull_targets(code: np.ndarray, reached_rows: np.ndarray, region_features, below: float) -> np.ndarray:
    """What the additive intent's pull aims at for every stored state (float32): 0, or ``-below`` where
    unreached. Numpy, so that this module needs no torch: the Train tab's note reads it on the UI thread,
    where importing torch would freeze the window for 1-2 s."""
    if below == 0:
        return np.zeros(len(code), dtype=np.float32)
    far = unreached(code, reached_rows, region_features)
    return np.where(far, -below, 0.0).astype(np.float32)


@dataclass(frozen=True)
class UnreachedPlaces:
    """How many stored decisions lead into places no labelled trajectory reached, for the person to read."""

    decisions: int  # stored decisions leading into an unreached place
    of_decisions: int  # stored decisions in all
    labelled: int  # labelled trajectories
    pulled: bool  # whether the additive intent assumes those places slightly bad (marks mostly below 0)

    @property
    def share(self) -> float:
        return self.decisions / self.of_decisions if self.of_decisions else 0.0

    def text(self, pulls: bool = True, intent: str = "the intent") -> str:
        """Plain words for the person; ``pulls``: whether the intent's kind pulls unreached places (additive);
        ``intent``: what the words call the model trained from these labels."""
        runs = "the one labelled trajectory" if self.labelled == 1 else f"the {self.labelled} labelled trajectories"
        how = ("treats them as slightly bad, since more labelled trajectories score below 0 than above"
               if pulls and self.pulled else "knows nothing about them")
        return (f"{self.decisions:,} of the {self.of_decisions:,} stored decisions ({self.share:.0%}) lead into places "
                f"none of {runs} reaches: {intent} {how}. If your wish is about such a place, label a "
                "trajectory that goes there.")


def unreached_places(dataset: TrajectoryDataset, labels: Labels) -> UnreachedPlaces:
    """The places the labelled trajectories of ``labels`` leave unreached, counted over the stored decisions."""
    idx = np.flatnonzero(np.asarray(labels.labelled, dtype=bool) & (dataset.lengths > 0))
    place = stored_places(dataset)
    far = ~np.isin(place, place[next_state_rows(dataset, idx)[0]])
    is_next = dataset.next_state_mask()  # where the decisions lead
    pulled = marks_say_avoid(np.asarray(labels.scores, dtype=np.float64)[idx])  # the fit's own rule
    return UnreachedPlaces(int(far[is_next].sum()), int(is_next.sum()), len(idx), pulled)


__all__ = ["UnreachedPlaces", "marks_say_avoid", "next_state_rows", "place_ids", "places_of", "pull_targets",
           "stored_places", "unreached", "unreached_places"]
