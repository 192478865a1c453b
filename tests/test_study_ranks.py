"""Studies whose participants rank the trips they watched (``feedback = "ranks"``, docs/STUDY.md): the protocol's
refusals, a person's rankings through the session (budget, time, undo, the log), training on them, and a pilot
of simulated participants ranking beside marking, through to the export."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dpf_gui.errors import UserError
from dpf_gui.oracles import RANK_GROUP, FeedbackNoise, label_dataset
from dpf_gui.studies.events import EventLog
from dpf_gui.studies.folder import Study, init_study
from dpf_gui.studies.protocol import read_protocol
from dpf_gui.studies.session import Session
from tests.study_helpers import ONE_RANKS, RANKED_BUDGET, RANKS, tiny_protocol

ROOT = Path(__file__).resolve().parent.parent


def test_feedback_is_marks_unless_a_condition_says_ranks(tmp_path):
    protocol = read_protocol(tiny_protocol(tmp_path, RANKS))
    assert [(c.name, c.feedback) for c in protocol.conditions] == [("static", "marks"), ("dynamic", "ranks")]


def test_a_condition_may_word_its_own_annotate_page(tmp_path):
    """Marks and rankings need their own words: a condition's ``annotate_text`` replaces [annotate] text on its
    page (logged with the phase's start), the others keep the protocol's."""
    own = {**RANKS, 'feedback = "ranks"\n': 'feedback = "ranks"\nannotate_text = "Rank the trips."\n',
           'kind = "latin"': 'kind = "fixed"'}
    study = init_study(tiny_protocol(tmp_path, own), tmp_path / "s")
    study.add_participant("P01")
    with Session(study, "P01") as s:
        step = _to_annotate(s)
        assert step.key == "static/annotate" and s.text(step) == study.protocol.texts["annotate"]
        ranked = next(x for x in s.steps if x.key == "dynamic/annotate")
        assert s.text(ranked) == "Rank the trips."
    with pytest.raises(UserError, match=r"conditions\[2\]\.annotate_text: must be non-empty text"):
        read_protocol(tiny_protocol(tmp_path / "bad", {**RANKS, 'feedback = "ranks"\n':
                                                       'feedback = "ranks"\nannotate_text = " "\n'}))


def test_the_shipped_ranks_example_protocol_is_valid(tmp_path):
    """docs/study_ranks_example.toml: marks against rankings, each condition worded on its own page."""
    protocol = read_protocol(ROOT / "docs" / "study_ranks_example.toml")
    assert [(c.name, c.strategy, c.feedback, c.budget) for c in protocol.conditions] == [
        ("marks", "dynamic", "marks", 20), ("ranks", "dynamic", "ranks", 20)]
    assert all(c.annotate_text and c.calibrate for c in protocol.conditions) and protocol.order == "latin"
    init_study(ROOT / "docs" / "study_ranks_example.toml", tmp_path / "s")  # what it names exists and fits


def _to_annotate(session: Session):
    step = session.begin()
    session.consent(True)
    session.end(step)
    session.end(session.begin())  # instructions
    return session.begin()


def test_a_person_ranks_within_the_budget_and_the_intent_learns_the_rankings(tmp_path):
    study = init_study(tiny_protocol(tmp_path, ONE_RANKS), tmp_path / "s")
    study.add_participant("P01")
    with Session(study, "P01") as s:
        step = _to_annotate(s)
        assert step.key == "ranked/annotate"
        with pytest.raises(UserError, match="this condition collects ranks, not marks"):
            s.mark(0, 1)
        data = s.workspace(step.condition).dataset
        # the three trips the wish likes best, best first: an order the model can learn
        scores = label_dataset(data, study.wish, FeedbackNoise(), 0).true_scores
        first = [int(i) for i in np.argsort(-scores)[:3]]
        a, b, c, d, e, f, i, j = [t for t in range(20) if t not in first][:8]  # other trips
        s.rank([(first[0], 0), (first[1], 1), (first[2], 1)])
        with pytest.raises(UserError, match="feedback on 9 trajectories; the label budget of this condition is 8"):
            s.rank([(a, 0), (b, 1), (c, 2), (d, 3), (e, 4), (f, 5)])
        s.rank([(first[0], 0), (a, 1), (b, 2)])  # a trip ranked before counts once
        assert s.labelled(step.condition) == 5
        s.rank([(c, 0), (d, 1), (e, 1)])
        assert s.labelled(step.condition) == 8
        with pytest.raises(UserError, match=r"label budget of this condition \(8 trajectories\) is used up"):
            s.rank([(i, 0), (j, 1)])
        s.rank([(c, 1), (d, 0)])  # trips already given feedback may be ranked again
        assert sorted(s.undo()) == sorted([c, d])
        ws = s.workspace(step.condition)
        in_order = lambda levels: sorted(levels, key=lambda tl: (tl[1], tl[0]))  # noqa: E731 (ties by number)
        assert ws.store.rankings(ws.fingerprint, len(data)) == [
            in_order([(first[0], 0), (first[1], 1), (first[2], 1)]), [(first[0], 0), (a, 1), (b, 2)],
            in_order([(c, 0), (d, 1), (e, 1)])]
        labels = ws.labels()
        assert labels.pairs is not None and labels.count == 8
        s.end(step)
        outcomes = s.train(s.begin().condition)
    assert outcomes["labelled"] == 8 and outcomes["intent"] is True and outcomes["note"] is None
    sidecar = json.loads((study.participant_dir("P01") / "conditions" / "ranked" / "intent" / "model.json")
                         .read_text(encoding="utf-8"))
    assert sidecar["objective"] == "pairs"
    with EventLog(study.participant_dir("P01") / "events.sqlite", read_only=True) as log:
        ranks = [e["data"]["levels"] for e in log.events("rank")]
    assert ranks == [[[first[0], 0], [first[1], 1], [first[2], 1]], [[first[0], 0], [a, 1], [b, 2]],
                     [[c, 0], [d, 1], [e, 1]], [[c, 1], [d, 0]]]  # as given, the undone one too


def test_rankings_are_refused_after_the_annotation_time(tmp_path, monkeypatch):
    study = init_study(tiny_protocol(tmp_path, ONE_RANKS), tmp_path / "s")
    study.add_participant("P01")
    with Session(study, "P01") as s:
        step = _to_annotate(s)
        monkeypatch.setattr(Session, "time_left", lambda self, step: 0.0)
        with pytest.raises(UserError, match="the annotation time is up"):
            s.rank([(0, 0), (1, 1)])
        assert s.labelled(step.condition) == 0


@pytest.fixture(scope="module")
def piloted_ranks(tmp_path_factory):
    """Two simulated participants through a protocol of one marks and one ranks condition, exported."""
    from dpf_gui.cli import main

    root = tmp_path_factory.mktemp("ranks")
    study_dir, out = str(root / "study"), root / "export.zip"
    protocol = tiny_protocol(root, {**RANKS, RANKED_BUDGET: RANKED_BUDGET.replace("8", "10")})
    assert main(["study", "init", str(protocol), "--out", study_dir]) == 0
    assert main(["study", "pilot", study_dir, "--participants", "2", "--seed", "0", "--flip", "0.1", "--quiet"]) == 0
    assert main(["study", "export", study_dir, "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as z:
        tables = {n: list(csv.DictReader(io.StringIO(z.read(n).decode()))) for n in z.namelist() if n.endswith(".csv")}
    return Study(study_dir), tables


def test_simulated_participants_rank_the_chosen_trips_in_groups_of_five(piloted_ranks):
    study, _ = piloted_ranks
    for p in study.participants():
        with EventLog(study.participant_dir(p["id"]) / "events.sqlite", read_only=True) as log:
            ranked = log.events("simulated_rankings")
            marked = log.events("simulated_marks")
        assert [e["condition"] for e in ranked] == ["dynamic"] and [e["condition"] for e in marked] == ["static"]
        rankings = ranked[0]["data"]["rankings"]
        assert ranked[0]["data"]["swap"] == 0.1
        assert [len(r) for r in rankings] == [RANK_GROUP, RANK_GROUP]  # 10 trips in two rankings of five
        assert len({t for r in rankings for t, _ in r}) == 10
        for r in rankings:  # best first, levels from 0 without gaps
            levels = [v for _, v in r]
            assert levels == sorted(levels) and levels[0] == 0 and set(levels) == set(range(max(levels) + 1))


def test_the_export_says_which_condition_ranked(piloted_ranks):
    _, tables = piloted_ranks
    assert {(r["condition"], r["feedback"]) for r in tables["results.csv"]} == {("static", "marks"),
                                                                               ("dynamic", "ranks")}
    assert {(r["condition"], r["feedback"]) for r in tables["conditions.csv"]} == {("static", "marks"),
                                                                                  ("dynamic", "ranks")}
    for r in tables["results.csv"]:
        assert r["labelled"] == ("10" if r["condition"] == "dynamic" else "8")
        assert r["completed"] == "1"
    ranked = [m for m in tables["marks.csv"] if m["condition"] == "dynamic"]
    assert ranked and all(m["kind"] == "rank" and m["action_kind"] == "rank" for m in ranked)
    assert all(m["source"] == "simulated-participant" for m in ranked)
    assert {m["t1"] for m in ranked} == {"1", "2"}  # two rankings per participant, numbered in its store
