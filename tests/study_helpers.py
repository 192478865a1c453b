"""The example protocol (docs/study_example.toml) made tiny for tests: a few labels, a small intent model,
a few episodes; the rest as shipped, so the shipped example is what the tests check."""

from __future__ import annotations

from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "study_example.toml"
TINY_TRAIN = "config = { members = 2, hidden = 32, utility_steps = 60, value_steps = 300, max_transitions = 5000 }"


def tiny_protocol_text(replace: dict[str, str] | None = None) -> str:
    """The example with small budgets and training, its list of trips as stored (so a test names a trip by its
    row); ``replace``: further text edits (old -> new)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    edits = {"# config = { members = 8 }": TINY_TRAIN, "budget = 20": "budget = 8",
             '# trip_order = "stored"': 'trip_order = "stored"',
             "episodes = 50": "episodes = 4", "episodes = 3": "episodes = 2", **(replace or {})}
    for old, new in edits.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def tiny_protocol(folder: Path, replace: dict[str, str] | None = None, name: str = "protocol.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(tiny_protocol_text(replace), encoding="utf-8")
    return path


#: the example's second condition ("dynamic") collects rankings
RANKS = {'strategy = "dynamic"\n': 'strategy = "dynamic"\nfeedback = "ranks"\n'}
RANKED_BUDGET = 'feedback = "ranks"\nbudget = 8'  # the ranks condition's budget, once RANKS is applied
#: one condition, "ranked": dynamic fusion from rankings (the example's second condition dropped, its first changed)
ONE_RANKS = {'[[conditions]]\nname = "dynamic"\nstrategy = "dynamic"\nbudget = 8\n': "",
             'name = "static"\nstrategy = "static"': 'name = "ranked"\nfeedback = "ranks"\nstrategy = "dynamic"',
             'kind = "latin"': 'kind = "fixed"'}
