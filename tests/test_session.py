"""The Qt-free session layer: the workspace as an evented model, the IntentAgent it holds, the Train tab's logic
without Qt, and the app's entry point, window, demo and lesson importing one another without a circle."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dpf_gui.agents.intent_agent import IntentAgent
from dpf_gui.data.study import LabelStore
from dpf_gui.errors import UserError
from dpf_gui.fusion import intent_scale, intent_unit
from dpf_gui.intent.registry import train_intent
from dpf_gui.rollout import random_policy, rollout
from dpf_gui.session import Change, Workspace
from dpf_gui.session.intent_memory import recall, remember
from dpf_gui.session.training import additive_config, labels_for_training
from tests.helpers import HANG_S

ROOT = Path(__file__).resolve().parents[1]
#: a model this small trains in well under a second: only the plumbing is tested here, not the fit
TINY = {"members": 2, "hidden": 8, "utility_steps": 20, "value_steps": 30}


@pytest.fixture(scope="module")
def data_path(tmp_path_factory):
    return rollout("gridnav", random_policy(0), 40, seed=0, progress=False).save(
        tmp_path_factory.mktemp("data") / "grid.npz")


@pytest.fixture()
def ws(tmp_path, data_path):
    store = LabelStore.in_dir(tmp_path / "study")
    yield Workspace.open("gridnav", dataset_path=data_path, store=store)
    store.close()


@pytest.fixture(scope="module")
def intent_dir(tmp_path_factory, data_path):
    """A tiny additive model trained on a simulated user's labels of the data, saved."""
    store = LabelStore.in_dir(tmp_path_factory.mktemp("labels"))
    ws = Workspace.open("gridnav", dataset_path=data_path, store=store)
    ws.label_with_simulated_user(ws.wish("avoid"), seed=0)
    out = tmp_path_factory.mktemp("intent") / "model"
    train_intent(ws.dataset, labels_for_training(ws), 0, out_dir=out, config=additive_config(**TINY), progress=False)
    store.close()
    return out


# --- the evented workspace ------------------------------------------------------------------------------
def test_listeners_hear_what_changed_until_they_unsubscribe(ws, intent_dir):
    heard, also = [], []
    stop = ws.on_change(heard.append)
    ws.on_change(also.append)
    agent = ws.open_intent(intent_dir)
    assert ws.intent is None and not heard  # opening a model does not put it to use
    ws.set_intent(agent)
    assert ws.intent is agent
    assert heard == also == [Change(ws, "intent", None, agent)]
    stop()
    stop()  # twice is harmless
    ws.set_intent(None)
    assert ws.intent is None and len(heard) == 1
    assert also[-1] == Change(ws, "intent", agent, None)


def test_a_failing_listener_does_not_keep_the_change_from_the_others(ws, intent_dir):
    """Every listener hears of the change; the first failure is raised to whoever made it, and the change stands."""
    heard = []

    def broken(change):
        raise RuntimeError("a view that cannot show it")

    ws.on_change(heard.append)
    ws.on_change(broken)
    ws.on_change(heard.append)
    agent = ws.open_intent(intent_dir)
    with pytest.raises(RuntimeError, match="cannot show it"):
        ws.set_intent(agent)
    assert ws.intent is agent and [c.new for c in heard] == [agent, agent]


def test_a_listener_may_unsubscribe_while_it_is_told(ws):
    heard = []

    def once(change):
        heard.append(change.what)
        stop()

    stop = ws.on_change(once)
    ws.on_change(lambda change: heard.append("second"))
    ws.set_intent(None)
    ws.set_intent(None)
    assert heard == ["intent", "second", "second"]


def test_marks_given_anywhere_are_news_naming_the_trajectories(ws):
    heard = []
    ws.on_change(heard.append)
    ws.mark(3, 1)
    ws.mark_segment(5, 0, 2, -1)
    ws.clear(3)
    ws.label_with_simulated_user(ws.wish("avoid"), seed=0, only=[7, 1])
    assert [c.new for c in heard] == [(3,), (5,), (3,), (1, 7)]
    assert {(c.what, c.old) for c in heard} == {("labels", None)}
    assert ws.undo() == [1, 7] and heard[-1].new == (1, 7)
    with pytest.raises(UserError):
        ws.mark(len(ws), 1)  # refused: nothing changed, nobody is told
    ws.label_with_simulated_user(ws.wish("avoid"), seed=0, only=[5], only_unlabelled=True)  # 5 is labelled
    assert len(heard) == 5


def test_another_store_keeps_the_intent_but_not_the_listeners(ws, intent_dir, tmp_path):
    heard = []
    ws.on_change(heard.append)
    ws.set_intent(ws.open_intent(intent_dir))
    other = LabelStore.in_dir(tmp_path / "other")
    try:
        moved = ws.with_store(other)
        assert moved.intent is ws.intent
        moved.set_intent(None)
        assert len(heard) == 1 and ws.intent is not None
    finally:
        other.close()


# --- the IntentAgent ------------------------------------------------------------------------------------
def test_an_intent_agent_round_trips_through_its_folder(ws, intent_dir):
    sidecar = json.loads((intent_dir / "model.json").read_text())
    agent = IntentAgent.load(intent_dir, expect_env="gridnav")
    assert agent.directory == intent_dir and agent.kind == "additive" and agent.env_name == "gridnav"
    assert agent.sidecar["architecture"] == sidecar["architecture"]
    assert agent.scale() == intent_scale(sidecar) and agent.scale(markov=True) == intent_scale(sidecar, True)
    assert agent.unit == intent_unit(sidecar) > 0
    again = IntentAgent.load(agent.directory)
    t = ws.dataset[3]
    np.testing.assert_array_equal(agent.model.predict(t.features, t.actions),
                                  again.model.predict(t.features, t.actions))
    # the timeline's rewards add up to the prediction (the additive kind starts from 0)
    r = agent.step_rewards(t.features, t.actions)
    assert len(r) == ws.length(3)
    assert r.sum() == pytest.approx(float(agent.model.predict(t.features, t.actions)[-1]), rel=1e-5, abs=1e-6)


def test_the_workspace_remembers_and_recalls_its_intent_agent(ws, intent_dir, data_path):
    ws.set_intent(ws.open_intent(intent_dir))
    remember(ws)
    assert ws.step_rewards(0) is not None
    fresh = Workspace.open("gridnav", dataset_path=data_path, store=ws.store)
    assert fresh.intent is None and fresh.step_rewards(0) is None
    assert recall(fresh)
    assert fresh.intent.directory == intent_dir and fresh.intent is not ws.intent


def test_an_intent_model_that_does_not_fit_is_refused_in_one_line(ws, intent_dir, tmp_path):
    agent = ws.open_intent(intent_dir)
    with pytest.raises(UserError, match="other gridnav features"):
        agent.check_fits([f"x{i}" for i in range(ws.spec.n_features)], ws.dataset.meta["action_names"])
    with pytest.raises(UserError, match="gridnav"):
        IntentAgent.load(intent_dir, expect_env="pong")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for f in intent_dir.iterdir():
        (damaged / f.name).write_bytes(f.read_bytes())
    sidecar = json.loads((damaged / "model.json").read_text())
    sidecar["reward_unit"] = -1.0
    (damaged / "model.json").write_text(json.dumps(sidecar))
    with pytest.raises(UserError, match="reward_unit must be a number >= 0"):
        ws.open_intent(damaged)
    assert ws.intent is None


# --- no Qt, no circle -----------------------------------------------------------------------------------
def _fresh_interpreter(code: str) -> str:
    """What ``code`` prints in a new Python process (nothing imported yet), stripped; fails on an error."""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=HANG_S,
                         check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_the_session_layer_imports_without_qt():
    code = ("import sys\n"
            "import dpf_gui.session, dpf_gui.session.training, dpf_gui.session.intent_memory\n"
            "import dpf_gui.agents.intent_agent\n"
            "from dpf_gui.session.training import labels_for_training, interactive_config, small_config, fit_verdict\n"
            "print(sorted(m for m in ('PySide6', 'pyqtgraph', 'shiboken6') if m in sys.modules))\n")
    assert _fresh_interpreter(code) == "[]"


def test_the_train_forms_configs_are_built_without_torch():
    # the Train tab builds them on the UI thread; importing torch there froze the window for 1-2 s
    code = ("import sys\n"
            "from dpf_gui.session.training import interactive_config, additive_config, config_kind\n"
            "kinds = [config_kind(interactive_config()), config_kind(additive_config())]\n"
            "print(kinds, 'torch' in sys.modules)\n")
    assert _fresh_interpreter(code) == "['lstm', 'additive'] False"


def test_the_train_tabs_label_notes_are_written_without_torch():
    # the Train tab writes them on the UI thread at every refresh; the unreached note importing torch froze
    # the window for about 2 s the first time the tab was shown with a mark on Pong
    code = ("import sys\n"
            "from dpf_gui.data.trajectories import TrajectoryDataset\n"
            "from dpf_gui.oracles import FeedbackNoise\n"
            "from dpf_gui.selection import select_and_label\n"
            "from dpf_gui.session.training import additive_config, lopsided_note, unreached_note\n"
            "from dpf_gui.wish import make_wish\n"
            "data = TrajectoryDataset.load('models/gridnav/trajectories.npz')\n"
            "wish = make_wish(data.region_features, avoid=['terrain=toll'])\n"
            "labels = select_and_label(data, wish, FeedbackNoise(binary=True), 6, select='first', seed=0)\n"
            "notes = [lopsided_note(labels), unreached_note(data, labels, additive_config())]\n"
            "print(notes[1] is not None, 'torch' in sys.modules)\n")
    assert _fresh_interpreter(code) == "True False"


def _imports(path: Path) -> set[str]:
    """The dpf_gui modules ``path`` imports anywhere (inside functions too), leaving out ``if TYPE_CHECKING`` blocks."""
    tree = ast.parse(path.read_text())
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dpf_gui"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("dpf_gui"))
    return found


def test_the_app_and_the_session_layer_import_in_one_direction():
    """No module of dpf_gui/app or dpf_gui/session reaches itself again through the others' imports (the entry
    point starts the demo and the lesson; they never import it back)."""
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts): p
               for folder in ("dpf_gui/app", "dpf_gui/session") for p in (ROOT / folder).glob("*.py")
               if p.name != "__init__.py"}
    graph = {m: sorted(_imports(p) & modules.keys() - {m}) for m, p in modules.items()}

    def cycle_from(start):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return [*path, start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return None

    cycles = [c for m in sorted(graph) if (c := cycle_from(m))]
    assert not cycles, " -> ".join(cycles[0])


def test_advice_on_marking_a_region_every_trajectory_enters_is_for_a_persons_marks_only(ws):
    from dpf_gui.session.training import wish_notes

    everywhere = ws.wish("", [], ["x=0.."])
    ws.label_with_simulated_user(everywhere, seed=0)  # graded scores: they count the decisions inside
    simulated = labels_for_training(ws)
    assert simulated.meta["source"] == "simulated-user" and wish_notes(ws, simulated) == []
    ws.mark(0, +1)  # now a person's mark too: the advice on whole marks applies
    mixed = labels_for_training(ws)
    mixed.meta["wish"] = everywhere.describe()
    assert any("Nearly every stored trajectory" in note for note in wish_notes(ws, mixed))


def test_a_collection_stopped_while_playing_or_merging_writes_nothing(ws, tmp_path):
    """The app's Cancel and closing its dialog ask to stop at any moment; only a collection never asked writes."""
    from dpf_gui.rollout import Exploration

    out = tmp_path / "collected"
    noise = Exploration("epsilon", 0.3)
    # should_stop is asked before each of the 3 episodes (calls 1-3), after them (4) and after the merge (5)
    for first_true in (1, 3, 4, 5):
        calls = []

        def should_stop(first_true=first_true, calls=calls):
            calls.append(None)
            return len(calls) >= first_true

        assert ws.collect(3, noise, False, 0, out, should_stop=should_stop) is None
        assert len(calls) >= first_true and not (out.exists() and any(out.iterdir()))
    assert len(calls) == 5  # the last one was asked after the merge, before writing
    path = ws.collect(3, noise, False, 0, out, should_stop=lambda: False)
    assert path is not None and path.parent == out and len(list(out.iterdir())) == 1


def test_a_trained_intent_hands_back_the_sidecar_its_folder_holds(ws, tmp_path):
    """With its weights' checksum, which keys what is kept for a model (calibrations), as for a loaded one."""
    from dpf_gui.checkpoints import read_sidecar

    ws.label_with_simulated_user(ws.wish("avoid"), seed=0)
    res = train_intent(ws.dataset, labels_for_training(ws), 0, out_dir=tmp_path / "model",
                       config=additive_config(**TINY), progress=False)
    assert res.sidecar == read_sidecar(tmp_path / "model") and len(res.sidecar["weights_sha256"]) == 64
