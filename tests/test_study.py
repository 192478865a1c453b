"""User studies (issue 12, docs/STUDY.md): the protocol checked field by field, counterbalancing, a pilot of
simulated participants end to end on gridnav, the export's columns, the append-only event log, and a
participant's run resumed after an interruption (and after kill -9) with nothing lost or doubled."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dpf_gui.errors import UserError
from dpf_gui.studies.events import EventLog
from dpf_gui.studies.export import export_study
from dpf_gui.studies.folder import Study, init_study
from dpf_gui.studies.order import condition_order, rows_needed, williams_rows
from dpf_gui.studies.protocol import read_protocol
from dpf_gui.studies.session import Session, study_steps
from dpf_gui.studies.simulate import pilot
from tests.helpers import HANG_S
from tests.study_helpers import EXAMPLE, RANKED_BUDGET, RANKS, tiny_protocol

ROOT = Path(__file__).resolve().parent.parent
ONE_CONDITION = {'[[conditions]]\nname = "dynamic"\nstrategy = "dynamic"\nbudget = 8\n': ""}

BAD_PROTOCOLS = [
    ("unknown-top-key", {'title = "Does': 'colour = "red"\ntitle = "Does'},
     "protocol.toml: colour: unknown key; allowed here: title, env"),
    ("unknown-wish-key", {"[wish]\n": "[wish]\nshown = true\n"},
     "wish.shown: unknown key; allowed here: instruction, prefer, avoid"),
    ("unknown-env", {'env = "gridnav"': 'env = "atari"'},
     "env: 'atari' is not allowed; allowed: gridnav, highway, pong"),
    ("unknown-strategy", {'strategy = "static"': 'strategy = "fast"'},
     "conditions[1].strategy: 'fast' is not allowed; allowed: task, intent, static, dynamic"),
    ("unknown-order", {'kind = "latin"': 'kind = "alphabetical"'},
     "order.kind: 'alphabetical' is not allowed; allowed: fixed, random, latin"),
    ("unknown-trip-order", {'trip_order = "stored"': 'trip_order = "by length"'},
     "annotate.trip_order: 'by length' is not allowed; allowed: shuffled, stored"),
    ("latin-one-condition", ONE_CONDITION, "order.kind: a Latin square counterbalances two or more conditions"),
    ("duplicate-condition", {'name = "dynamic"': 'name = "static"'},
     "conditions[2].name: 'static' is the name of an earlier condition"),
    ("missing-conditions", {"[[conditions]]": "[[dropped]]"}, "conditions: missing; it is required"),
    ("missing-consent-text", {'[consent]\ntext = """': '[consent]\nwording = """'},
     "consent.text: missing; it is required"),
    ("empty-instructions", {'[instructions]\ntext = """': '[instructions]\ntext = " "\nx = """'},
     "instructions.text: must be non-empty text"),
    ("budget-zero", {"budget = 8": "budget = 0"},
     "conditions[1].budget: must be a whole number from 1 to 100000; got 0"),
    ("budget-over-data", {"budget = 8": "budget = 5000"},
     "conditions[1].budget: 5000 is more than the 1495 trajectories"),
    ("budget-text", {"budget = 8": 'budget = "lots"'}, "conditions[1].budget: must be a whole number"),
    ("one-anchor", {'anchors = ["strongly disagree", "strongly agree"]\nmeasures = "wish"':
                    'anchors = ["agree"]\nmeasures = "wish"'}, "questionnaire.items[1].anchors: must be two texts"),
    ("item-type", {'type = "text"': 'type = "essay"'},
     "questionnaire.items[3].type: 'essay' is not allowed; allowed: likert, text"),
    ("item-measures", {'measures = "task"': 'measures = "mood"'},
     "questionnaire.items[2].measures: 'mood' is not allowed; allowed: wish, task"),
    ("bad-wish-expression", {'avoid = ["terrain=toll"]': 'avoid = ["terrain=motorway"]'},
     "wish: 'terrain=motorway': unknown terrain"),
    ("wish-not-a-list", {'avoid = ["terrain=toll"]': "avoid = 3"}, "wish.avoid: must be a list of region expressions"),
    ("watch-episodes-zero", {"episodes = 2": "episodes = 0"},
     "watch.episodes: must be a whole number from 1 to 1000; got 0"),
    ("time-limit-negative", {"time_limit_s = 600\n": "time_limit_s = -5\n"},
     "annotate.time_limit_s: must be a number above 0"),
    ("unknown-fusion-parameter", {"# fusion = { T_static = 0.5 }": "fusion = { warmth = 1 }"},
     "conditions[1].fusion: unknown fusion parameter 'warmth'"),
    ("bad-train-config", {"members = 2": "members = 0"},
     "train.config: additive intent config: members must be a whole number >= 1"),
    ("unknown-intent-kind", {'kind = "additive"': 'kind = "forest"'},
     "train.kind: 'forest' is not allowed; allowed: additive, lstm"),
    ("missing-task", {'env = "gridnav"': 'env = "gridnav"\ntask = "no/such/agent"'}, "protocol.toml: task:"),
    ("not-toml", {'title = "Does': 'title = Does'}, "protocol.toml: not valid TOML"),
    ("calibrate-static", {'strategy = "static"': 'strategy = "static"\ncalibrate = true'},
     "conditions[1].calibrate: chooses the intent's strength for dynamic fusion; this condition's strategy is "
     "'static'"),
    ("calibrate-a-set-strength", {'strategy = "dynamic"\n': 'strategy = "dynamic"\ncalibrate = true\n'
                                                            'fusion = { strength = 2 }\n'},
     "conditions[2].calibrate: chooses strength and c itself"),
    # conditions that collect rankings (feedback = "ranks"), and trainings that cannot learn what they collect
    ("unknown-feedback", {'strategy = "dynamic"\n': 'strategy = "dynamic"\nfeedback = "stars"\n'},
     "conditions[2].feedback: 'stars' is not allowed; allowed: marks, ranks"),
    ("ranks-with-suggestions", {'strategy = "dynamic"\n': 'strategy = "dynamic"\nfeedback = "ranks"\n'
                                                          'suggestions = true\n'},
     "conditions[2].suggestions: \"label this next\" suggests trips to mark one at a time"),
    ("ranks-of-one", {**RANKS, RANKED_BUDGET: RANKED_BUDGET.replace("8", "1")},
     "conditions[2].budget: a ranking puts two or more trips in order"),
    ("ranks-lstm", {**RANKS, 'kind = "additive"': 'kind = "lstm"', "members = 2, hidden = 32, utility_steps = 60, "
                    "value_steps = 300, max_transitions = 5000": ""},
     "train.kind: conditions[2] collects rankings (feedback = \"ranks\"), which the LSTM cannot learn from"),
    ("ranks-score-objective", {**RANKS, "members = 2,": 'objective = "score", members = 2,'},
     "train.config: objective 'score' needs scores, and conditions[2] collects rankings"),
    ("marks-pairs-objective", {"members = 2,": 'objective = "pairs", members = 2,'},
     "train.config: objective 'pairs' learns from rankings, and conditions[1] collects marks"),
]


@pytest.mark.parametrize("name, edits, fragment", BAD_PROTOCOLS, ids=[c[0] for c in BAD_PROTOCOLS])
def test_bad_protocol_is_refused_with_one_line_naming_the_field(name, edits, fragment, tmp_path):
    path = tiny_protocol(tmp_path / "p", edits)
    with pytest.raises(UserError) as e:
        init_study(path, tmp_path / "study")
    message = str(e.value)
    assert "\n" not in message and fragment in message, message
    assert not (tmp_path / "study").exists() and [p.name for p in tmp_path.iterdir()] == ["p"]


def test_the_shipped_example_protocol_is_valid():
    protocol = read_protocol(EXAMPLE)
    assert protocol.env == "gridnav" and [c.name for c in protocol.conditions] == ["static", "dynamic"]
    assert protocol.order == "latin" and protocol.nasa_tlx and protocol.avoid == ("terrain=toll",)
    assert {i.type for i in protocol.items} == {"likert", "text"}


# --- counterbalancing --------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_latin_square_is_balanced_for_position_and_carry_over(n):
    rows = williams_rows(n)
    assert len(rows) == rows_needed("latin", n) == (n if n % 2 == 0 else 2 * n)
    per = len(rows) // n
    for position in range(n):  # every condition equally often in every position
        assert sorted(r[position] for r in rows) == sorted(list(range(n)) * per)
    follows = {}
    for r in rows:  # every condition directly after every other equally often
        for a, b in itertools.pairwise(r):
            follows[(a, b)] = follows.get((a, b), 0) + 1
    assert len(follows) == n * (n - 1) and set(follows.values()) == {per}


def test_order_by_participant_number():
    names = ["a", "b", "c", "d"]
    orders = [condition_order("latin", names, k) for k in range(1, 9)]
    assert orders[:4] == [["a", "b", "d", "c"], ["b", "c", "a", "d"], ["c", "d", "b", "a"], ["d", "a", "c", "b"]]
    assert orders[4:] == orders[:4]  # participant 5 starts the square again
    assert condition_order("fixed", names, 3) == names
    random = [condition_order("random", names, k, seed=1) for k in (1, 2, 3)]
    assert random == [condition_order("random", names, k, seed=1) for k in (1, 2, 3)]  # seeded
    assert all(sorted(o) == names for o in random) and len({tuple(o) for o in random}) > 1


def test_participant_numbers_are_never_reused_after_a_withdrawal(tmp_path):
    study = init_study(tiny_protocol(tmp_path), tmp_path / "s")
    for pid in ("P1", "P2", "P3"):
        study.add_participant(pid)
    study.withdraw("P2")
    p4 = study.add_participant("P4")
    assert [(p["id"], p["number"]) for p in study.participants()] == [("P1", 1), ("P3", 3), ("P4", 4)]
    assert p4["order"] == ["dynamic", "static"] and study.participant("P3")["order"] == ["static", "dynamic"]
    with pytest.raises(UserError, match="already used in this study \\(withdrawn\\)"):
        study.add_participant("P2")
    with pytest.raises(UserError, match="is not allowed; use 1-32 letters"):
        study.add_participant("Jane Doe")


# --- the pilot, end to end -----------------------------------------------------------------------------------
PILOT_N = 6  # the (and the README's) pilot size
PILOT_IDS = [f"sim-{k:03d}" for k in range(1, PILOT_N + 1)]

@pytest.fixture(scope="module")
def piloted(tmp_path_factory):
    """The README's commands on the (tiny) example protocol: dpf study init, pilot, export."""
    from dpf_gui.cli import main

    root = tmp_path_factory.mktemp("pilot")
    study_dir, out = str(root / "study"), root / "export.zip"
    assert main(["study", "init", str(tiny_protocol(root)), "--out", study_dir]) == 0
    assert main(["study", "pilot", study_dir, "--participants", str(PILOT_N), "--seed", "0", "--quiet"]) == 0
    assert main(["study", "export", study_dir, "--out", str(out)]) == 0
    study = Study(study_dir)
    ids = [p["id"] for p in study.participants()]
    with zipfile.ZipFile(out) as z:
        tables = {n: list(csv.DictReader(io.StringIO(z.read(n).decode()))) for n in z.namelist() if n.endswith(".csv")}
        names = z.namelist()
        readme = z.read("README.md").decode()
    return study, ids, tables, names, readme


def test_pilot_runs_every_step_of_six_simulated_participants(piloted):
    study, ids, tables, _, _ = piloted
    assert ids == PILOT_IDS
    for p in study.participants():
        with EventLog(study.participant_dir(p["id"]) / "events.sqlite", read_only=True) as log:
            events = log.events()
        steps = [s.key for s in study_steps(study.protocol, p["order"])]
        assert [e["data"]["step"] for e in events if e["kind"] == "phase_end"] == steps  # in order, each once
        assert [e["id"] for e in events] == sorted(e["id"] for e in events)
        assert all(e["t_wall"] > 0 and e["t_session"] >= 0 for e in events)
        assert events[0]["kind"] == "session_start" and events[0]["data"]["simulated"] is True
    assert {r["participant"]: r["status"] for r in tables["participants.csv"]} == dict.fromkeys(PILOT_IDS, "finished")


def test_export_results_one_row_per_participant_and_condition(piloted):
    _study, _, tables, names, readme = piloted
    rows = tables["results.csv"]
    # Latin square of 2 conditions: odd participant numbers static first, even ones dynamic first
    assert [(r["participant"], r["position"], r["condition"]) for r in rows] == [
        (pid, str(pos), cond) for k, pid in enumerate(PILOT_IDS)
        for pos, cond in enumerate(("static", "dynamic") if k % 2 == 0 else ("dynamic", "static"), start=1)]
    assert list(rows[0]) == [
        "participant", "number", "simulated", "condition", "position", "strategy", "feedback", "budget", "labelled",
        "annotate_s", "intent_trained", "train_note", "strength", "c", "calibrated", "outcome_episodes",
        "task_success", "task_return", "length", "prefer_fraction", "avoid_fraction", "watch_episodes",
        "watch_task_success", "watch_prefer_fraction", "watch_avoid_fraction", "q_did_what_i_asked",
        "q_still_did_its_job", "q_comments", "tlx_mental", "tlx_physical", "tlx_temporal", "tlx_performance",
        "tlx_effort", "tlx_frustration", "tlx_raw", "completed"]
    for r in rows:
        assert r["simulated"] == "1" and r["labelled"] == "8" and r["completed"] == "1"
        assert 0 <= float(r["annotate_s"]) < 60  # a simulated participant's batch of marks: no time to speak of
        assert r["calibrated"] == "0" and (r["strength"] != "") == (r["intent_trained"] == "1")
        # 8 marks can all carry one score: then training is refused, said in train_note, and the agent is the task's
        assert r["intent_trained"] == "1" or (r["intent_trained"] == "0" and r["train_note"])
        assert r["outcome_episodes"] == "4" and r["watch_episodes"] == "2"
        assert 1 <= int(r["q_did_what_i_asked"]) <= 7 and r["q_comments"] == "(simulated participant)"
        assert 0 <= float(r["avoid_fraction"]) <= 1 and int(r["tlx_performance"]) % 5 == 0
    assert [(r["participant"], r["session"], r["started_at"]) for r in tables["sessions.csv"]] == [
        (pid, "1", "consent") for pid in PILOT_IDS]
    for table in ("participants.csv", "conditions.csv", "events.csv", "marks.csv", "answers.csv", "study_events.csv"):
        assert table in tables, table
    assert {r["simulated"] for t in ("participants.csv", "events.csv", "marks.csv", "answers.csv")
            for r in tables[t]} == {"1"}
    assert {r["source"] for r in tables["marks.csv"]} == {"simulated-participant"}
    assert len(tables["marks.csv"]) == PILOT_N * 2 * 8
    assert "protocol.toml" in names
    for r in rows:  # every trained intent model travels with the export
        model = f"intent_models/{r['participant']}/{r['condition']}/model.json"
        assert (model in names) == (r["intent_trained"] == "1")
    assert sum(r["intent_trained"] == "1" for r in rows) >= len(rows) // 2
    for column in rows[0]:
        assert f"| {column} |" in readme, column


def test_outcomes_are_scored_against_the_protocols_wish_only(tmp_path):
    """A wish of prefer only: no avoided-region column anywhere, although every gridnav preset has one."""
    path = tiny_protocol(tmp_path, {'avoid = ["terrain=toll"]\n': "", **ONE_CONDITION,
                                    'kind = "latin"': 'kind = "fixed"',
                                    "nasa_tlx = true": "nasa_tlx = false"})
    study = init_study(path, tmp_path / "s")
    pilot(study, 1)
    outcomes = json.loads((study.participant_dir("sim-001") / "conditions/static/outcomes.json").read_text())
    assert outcomes["wish"] == {"prefer": ["terrain=scenic"], "avoid": []}
    assert "avoid_fraction" not in outcomes["means"] and "prefer_fraction" in outcomes["means"]
    export_study(study, tmp_path / "e")
    header = (tmp_path / "e" / "results.csv").read_text().splitlines()[0].split(",")
    assert "prefer_fraction" in header and not any("avoid" in h or h.startswith("tlx") for h in header)


def test_a_calibrated_condition_plays_at_the_strength_chosen_after_training(tmp_path):
    """``calibrate = true``: after training, the strength and c are chosen in simulation as the benchmark's calibrated
    row does (its seed the participant's training seed), kept beside the intent model, used for the outcomes and
    the watched episodes, logged and exported."""
    from dpf_gui.agents.intent_agent import IntentAgent
    from dpf_gui.calibrate import calibrate
    from dpf_gui.pipeline import fusion_params

    path = tiny_protocol(tmp_path, {'strategy = "dynamic"\n': 'strategy = "dynamic"\ncalibrate = true\n'})
    study = init_study(path, tmp_path / "s")
    assert [c.calibrate for c in study.protocol.conditions] == [False, True]
    pilot(study, 2)
    rows = {(r["participant"], r["condition"]): r for r in _results(export_study(study, tmp_path / "e"))}
    calibrated = 0
    for pid in ("sim-001", "sim-002"):
        outcomes = json.loads((study.participant_dir(pid) / "conditions/dynamic/outcomes.json").read_text())
        trained = [e for e in _events(study, pid) if e["kind"] == "trained" and e["condition"] == "dynamic"]
        with Session(study, pid) as session:  # (opened after the export: it logs a session start)
            cal = session.calibration("dynamic")
            if cal is None:  # training refused (8 alike marks): nothing to calibrate, said so
                assert outcomes["note"] and not outcomes["calibrated"]
                continue
            calibrated += 1
            intent = IntentAgent.load(study.participant_dir(pid) / "conditions/dynamic/intent")
            stored = fusion_params(study.task)
            again = calibrate("gridnav", study.task, intent.model, intent.scale(), intent.unit, stored,
                              seed=session.training_seed("dynamic"))
            assert (cal.strength, cal.c, cal.table) == (again.strength, again.c, again.table)
            assert session.agent("dynamic").params == cal.params(stored)
            assert session.calibration("static") is None
        assert outcomes["calibrated"] and outcomes["fusion"]["strength"] == cal.strength
        row = rows[(pid, "dynamic")]
        assert row["calibrated"] == "1" and float(row["strength"]) == cal.strength and float(row["c"]) == cal.c
        assert rows[(pid, "static")]["calibrated"] == "0"
        assert trained[-1]["data"]["calibrated"] and trained[-1]["data"]["fusion"]["c"] == cal.c
    assert calibrated >= 1


def test_a_failed_calibration_leaves_the_condition_at_the_stored_strength_and_says_why(tmp_path, monkeypatch):
    import dpf_gui.calibration_process as process
    from dpf_gui.errors import WorkerError
    from dpf_gui.pipeline import fusion_params

    def fail(*args, **kwargs):
        raise WorkerError("the calibration process stopped unexpectedly (exit code -9)")

    monkeypatch.setattr(process, "calibrate_on_this_machine", fail)
    path = tiny_protocol(tmp_path, {'strategy = "dynamic"\n': 'strategy = "dynamic"\ncalibrate = true\n',
                                    "budget = 8": "budget = 30"})
    study = init_study(path, tmp_path / "s")
    pilot(study, 1)
    outcomes = json.loads((study.participant_dir("sim-001") / "conditions/dynamic/outcomes.json").read_text())
    assert outcomes["intent"] and not outcomes["calibrated"]
    assert outcomes["calibration_note"].startswith("calibration failed (the calibration process stopped")
    assert outcomes["fusion"]["strength"] == fusion_params(study.task).strength
    row = {r["condition"]: r for r in _results(export_study(study, tmp_path / "e"))}["dynamic"]
    assert row["calibrated"] == "0" and row["train_note"].startswith("calibration failed")


def _results(folder: Path) -> list[dict]:
    with open(folder / "results.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_a_study_made_before_the_trip_order_option_keeps_the_stored_order_it_began_with(tmp_path):
    """A study begun with the data's stored order must not show a returning participant a new one after an
    upgrade: a study.json without ``trip_order`` made before the option came reads as ``stored``; one made
    since reads the protocol's (shuffled by default), and new folders record what they resolved to."""
    from dpf_gui.studies.folder import INFO_FILE, TRIP_ORDER_SINCE

    path = tiny_protocol(tmp_path, {'# trip_order = "stored"': '# trip_order = "stored"'})  # says nothing: shuffled
    study = init_study(path, tmp_path / "s")
    info_path = study.folder / INFO_FILE
    info = json.loads(info_path.read_text(encoding="utf-8"))
    assert info["trip_order"] == "shuffled" and study.protocol.trip_order == "shuffled"
    del info["trip_order"]
    for created, expected in (("2026-12-01T10:00:00Z", "stored"), (TRIP_ORDER_SINCE, "shuffled")):
        info_path.write_text(json.dumps({**info, "created": created}), encoding="utf-8")
        assert Study(study.folder).protocol.trip_order == expected, created
    info_path.write_text(json.dumps({**info, "created": "2026-12-01T10:00:00Z"}), encoding="utf-8")
    old = Study(study.folder)
    old.add_participant("P01")
    with Session(old, "P01") as s:
        name = old.protocol.conditions[0].name
        assert s.trip_order(name).tolist() == list(range(len(s.workspace(name))))


def test_pilot_needs_the_wish_expressions(tmp_path):
    path = tiny_protocol(tmp_path, {'avoid = ["terrain=toll"]\n': "", 'prefer = ["terrain=scenic"]\n': ""})
    study = init_study(path, tmp_path / "s")
    with pytest.raises(UserError, match="label by the wish's region expressions"):
        pilot(study, 1)
    assert study.participants() == []


# --- the event log ---------------------------------------------------------------------------------------------
def test_event_log_is_append_only_and_counts_sessions(tmp_path):
    with EventLog(tmp_path / "e.sqlite") as log:
        first = log.append("a", "consent", x=1)
    with EventLog(tmp_path / "e.sqlite") as log:
        log.append("b", "watch", "static", y=[1, 2])
        assert [(e["id"], e["session"], e["kind"]) for e in log.events()] == [(first, 1, "a"), (first + 1, 2, "b")]
    db = sqlite3.connect(tmp_path / "e.sqlite")
    for sql in ("UPDATE events SET kind='x'", "DELETE FROM events"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(sql)
    db.close()
    with EventLog(tmp_path / "e.sqlite", read_only=True) as log:
        assert len(log.events()) == 2
        with pytest.raises(UserError, match="read-only"):
            log.append("c")


# --- a person's session through the core API ----------------------------------------------------------------------
def test_a_person_walks_the_phases_and_the_rules_hold(tmp_path):
    path = tiny_protocol(tmp_path, {**ONE_CONDITION, "budget = 8": "budget = 5", 'kind = "latin"': 'kind = "fixed"'})
    study = init_study(path, tmp_path / "s")
    study.add_participant("P01")
    with Session(study, "P01") as s:
        step = s.begin()
        with pytest.raises(UserError, match="has not given consent"):
            s.end(step)
        s.consent(True)
        s.end(step)
        s.end(s.begin())  # instructions
        step = s.begin()
        assert step.key == "static/annotate"
        ws = s.workspace(step.condition)
        assert s.workspace(step.condition) is ws  # the app's view listens to the one it holds
        heard = []
        ws.on_change(heard.append)
        for traj in range(5):
            s.mark(traj, 1 if traj % 2 else -1)
        with pytest.raises(UserError, match="label budget of this condition \\(5 trajectories\\) is used up"):
            s.mark(7, 1)
        s.mark(3, 0, t0=1, t1=2)  # a trajectory already marked can be marked again
        assert s.undo() == [3]
        assert len(heard) >= 7  # five marks, the segment and the undo made through the session reached it
        s.end(step)
        with pytest.raises(UserError, match="not in the annotate phase"):
            s.mark(0, 1)
        step = s.begin()
        outcomes = s.train(step.condition)
        assert outcomes["labelled"] == 5
        s.end(step)
        s.end(s.begin())  # watch (the app plays the episodes)
        step = s.begin()
        with pytest.raises(UserError, match="a Likert answer is a whole number from 1 to 7; got 8"):
            s.answer("did_what_i_asked", 8)
        with pytest.raises(UserError, match="no item 'mood'"):
            s.answer("mood", 3)
        s.answer("did_what_i_asked", 6)
        with pytest.raises(UserError, match="required items unanswered: still_did_its_job"):
            s.end(step)
        s.answer("still_did_its_job", 7)
        s.end(step)
        step = s.begin()
        assert step.phase == "nasa_tlx"
        with pytest.raises(UserError, match="0 to 100 in steps of 5"):
            s.answer("tlx_effort", 42)
    with Session(study, "P01") as s:  # closed mid-way: the same step, started again
        assert s.current() == step
    events = EventLog(study.participant_dir("P01") / "events.sqlite", read_only=True).events()
    assert [e["data"]["value"] for e in events if e["kind"] == "mark"] == [-1, 1, -1, 1, -1, 0]
    assert [e["kind"] for e in events].count("undo") == 1


# --- interrupted and resumed ---------------------------------------------------------------------------------------
def _events(study: Study, pid: str) -> list[dict]:
    with EventLog(study.participant_dir(pid) / "events.sqlite", read_only=True) as log:
        return log.events()


def test_interrupted_pilot_resumes_at_the_phase_it_was_in(tmp_path, monkeypatch):
    study = init_study(tiny_protocol(tmp_path), tmp_path / "s")
    real_train, calls = Session.train, []

    def train_then_stop(self, name, progress=False):
        calls.append(name)
        if name == "dynamic" and calls.count("dynamic") == 1:
            raise KeyboardInterrupt  # Ctrl-C in the second condition's training
        return real_train(self, name, progress)

    monkeypatch.setattr(Session, "train", train_then_stop)
    with pytest.raises(KeyboardInterrupt):
        pilot(study, 1)
    before = _events(study, "sim-001")
    assert before[-1]["kind"] == "phase_start" and before[-1]["data"]["step"] == "dynamic/train"
    said: list[str] = []
    pilot(Study(tmp_path / "s"), 1, report=said.append)
    assert said == [f"sim-001 (1 of 1): dynamic/{phase}" for phase in ("train", "watch", "questionnaire", "nasa_tlx")] \
        + ["sim-001 (1 of 1): end"]  # each step left, as it begins
    after = _events(study, "sim-001")
    assert after[:len(before)] == before  # nothing lost or changed
    assert [e["data"]["step"] for e in after if e["kind"] == "phase_end"] == \
        [s.key for s in study_steps(study.protocol, ["static", "dynamic"])]
    restarts = [e for e in after if e["kind"] == "phase_start" and e["data"]["step"] == "dynamic/train"]
    assert [e["data"]["resumed"] for e in restarts] == [False, True] and restarts[1]["session"] == 2
    assert calls == ["static", "dynamic", "dynamic"]


def test_a_steps_duration_counts_each_session_from_its_start_to_its_end_not_the_break():
    """results.csv's annotate_s: in each session that started the step, from its start to its end there (or, when
    it ended in a later session, to the last thing the first session logged); events after the end do not count."""
    from dpf_gui.studies.session import step_duration

    def ev(session, t, kind, step="a/annotate"):
        return {"session": session, "t_session": t, "kind": kind, "data": {"step": step}}

    events = [ev(1, 0.0, "phase_start", "consent"), ev(1, 10.0, "phase_start"), ev(1, 70.0, "operator_exit", None),
              ev(2, 5.0, "phase_start"), ev(2, 35.0, "phase_end"), ev(2, 100.0, "phase_start", "a/train")]
    assert step_duration(events, "a/annotate", {1: 70.0, 2: 100.0}) == (70 - 10) + (35 - 5)
    assert step_duration(events, "a/train", {1: 70.0, 2: 100.0}) == 0.0
    assert step_duration(events, "b/annotate", {1: 70.0, 2: 100.0}) is None


def test_the_annotation_clock_stops_while_the_session_is_interrupted(tmp_path, monkeypatch):
    """The time limit (600 s here) counts the time the annotate step was under way: the break between an
    interruption and the resumption (ten minutes here) does not count against the participant, and neither does
    a change of the computer's clock."""
    from types import SimpleNamespace

    import dpf_gui.studies.events as events_mod

    clock = SimpleNamespace(monotonic=lambda: now["mono"], time=lambda: now["wall"])
    now = {"mono": 1000.0, "wall": 1.7e9}

    def wait(seconds: float) -> None:
        now["mono"] += seconds
        now["wall"] += seconds

    monkeypatch.setattr(events_mod, "time", clock)
    study = init_study(tiny_protocol(tmp_path, {**ONE_CONDITION, 'kind = "latin"': 'kind = "fixed"'}), tmp_path / "s")
    study.add_participant("P01")
    with Session(study, "P01") as s:
        step = s.begin()
        s.consent(True)
        s.end(step)
        s.end(s.begin())  # instructions
        step = s.begin()
        assert step.phase == "annotate" and s.time_left(step) == 600
        wait(100)
        s.mark(0, 1)
        wait(50)
        assert s.time_left(step) == pytest.approx(450)
        s.event("operator_exit", step)  # what the app logs when the operator ends the session
    wait(600)  # the break
    now["wall"] -= 3600  # and the computer's clock set back an hour
    with Session(study, "P01") as s:
        step = s.begin()
        assert step.phase == "annotate"
        wait(30)
        assert s.time_left(step) == pytest.approx(600 - 150 - 30)
        s.mark(1, -1)  # not "the annotation time is up"
        wait(420)
        with pytest.raises(UserError, match="the annotation time is up"):
            s.mark(2, 1)


def test_killed_mid_annotation_resumes_without_losing_or_doubling_marks(tmp_path):
    """kill -9 right after the marks were stored, before the phase could be logged as done."""
    study = init_study(tiny_protocol(tmp_path), tmp_path / "s")
    code = (
        "import os, signal, sys\n"
        "from dpf_gui.data.study import LabelStore\n"
        "from dpf_gui.studies.folder import Study\n"
        "from dpf_gui.studies.simulate import pilot\n"
        "real = LabelStore.import_labels\n"
        "def import_then_die(self, *a, **k):\n"
        "    real(self, *a, **k)\n"
        "    if 'dynamic' in str(self.path):\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "LabelStore.import_labels = import_then_die\n"
        f"pilot(Study({str(tmp_path / 's')!r}), 1)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, timeout=HANG_S,
                          check=False)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    before = _events(study, "sim-001")
    assert before[-1]["kind"] == "phase_start" and before[-1]["data"]["step"] == "dynamic/annotate"
    pilot(Study(tmp_path / "s"), 1)
    after = _events(study, "sim-001")
    assert after[:len(before)] == before
    marks = [e for e in after if e["kind"] == "simulated_marks" and e["condition"] == "dynamic"]
    assert len(marks) == 1 and len(marks[0]["data"]["trajectories"]) == 8
    from dpf_gui.data.study import LabelStore

    with LabelStore(study.participant_dir("sim-001") / "conditions/dynamic/labels.sqlite", read_only=True) as store:
        log = store.mark_log(study.info["data_fingerprint"])
    assert len(log) == 8 and len({m["action"] for m in log}) == 1  # one batch: not imported twice


def test_withdrawn_participant_leaves_only_the_withdrawal(piloted, tmp_path):
    import shutil

    study, _, _, _, _ = piloted
    copy = tmp_path / "s"
    shutil.copytree(study.folder, copy)
    Study(copy).withdraw("sim-001", reason="asked to")
    assert not (copy / "participants" / "sim-001").exists()
    export_study(Study(copy), tmp_path / "e")
    for f in (tmp_path / "e").rglob("*"):
        if f.is_file() and f.name != "study_events.csv":
            assert b"sim-001" not in f.read_bytes(), f
    rows = list(csv.DictReader((tmp_path / "e" / "study_events.csv").open()))
    assert [r["kind"] for r in rows if r["participant"] == "sim-001"] == ["participant_withdrawn"]


def test_summary_per_condition_with_intervals_and_a_plot(piloted, tmp_path, capsys):
    from dpf_gui.cli import main
    from dpf_gui.studies.summary import summarise_study, t_interval

    study = piloted[0]
    assert main(["study", "summary", str(study.folder), "--plot", str(tmp_path / "s.png"),
                 "--json", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out
    assert f"simulated participants (pilot), n = {PILOT_N}" in out and "q_did_what_i_asked" in out and "tlx_raw" in out
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((tmp_path / "s.json").read_text())
    assert set(summary["conditions"]) == {"static", "dynamic"}
    assert "annotate_s" not in summary["measures"]  # a simulated participant's time is the machine's
    results = {(r["participant"], r["condition"]): r["intent_trained"] for r in piloted[2]["results.csv"]}
    for name in ("static", "dynamic"):  # the share of participants whose marks trained an intent model
        trained = [int(v) for (_, c), v in results.items() if c == name]
        assert summary["conditions"][name]["intent_trained"]["mean"] == pytest.approx(sum(trained) / len(trained))
    assert all(v["n"] == PILOT_N for c in summary["conditions"].values() for v in c.values())
    assert summarise_study(study, simulated=False)["participants"] == 0  # people and the pilot never pooled
    t = t_interval([1.0, 2.0, 3.0])  # t(2) = 4.303, sd 1: 2 +- 4.303 / sqrt(3)
    assert t["mean"] == 2.0 and abs(t["ci95"][1] - (2 + 4.303 / 3 ** 0.5)) < 1e-9


def test_intervals_stay_where_a_measure_can_lie():
    """Two participants' shares 0.0 and 0.1: the t interval 0.05 +- 0.64 is cut to 0..1; a return is not cut."""
    from dpf_gui.studies.summary import measure_range, t_interval

    share = t_interval([0.0, 0.1], measure_range("avoid_fraction"))
    assert share["mean"] == 0.05 and share["ci95"] == [0.0, share["ci95"][1]] and 0.05 < share["ci95"][1] < 1
    assert t_interval([6.0, 7.0], measure_range("q_did_what_i_asked"))["ci95"][1] == 7.0
    assert t_interval([0.0, 0.1], measure_range("task_return"))["ci95"][0] < -0.5  # its range depends on the env
