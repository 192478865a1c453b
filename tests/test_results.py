"""The results report (the claim check, the custom wishes, the Markdown written from cached cells) and the
rules of its cache: interrupted or damaged work is redone, seeds never share a model, user mistakes are one line."""

import dataclasses
import functools
import json

import numpy as np
import pytest

from dpf_gui import results
from dpf_gui.agents import retrain
from dpf_gui.cache import read_json
from dpf_gui.cli import main
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.envs import ENV_NAMES, env_spec
from dpf_gui.evaluate import EpisodeStats, summarise, summarise_episodes
from dpf_gui.intent.train import IntentConfig
from dpf_gui.oracles import FeedbackNoise, label_dataset
from dpf_gui.pipeline import load_task_agent
from dpf_gui.results import NOTES_MARKER, claim_check, write_report
from dpf_gui.wish import make_wish


def _stat(mean):
    return {"mean": mean, "ci95": [mean - 0.05, mean + 0.05]}


def _cell(task_success, dyn_success, task_pref, dyn_pref, task_avoid, dyn_avoid):
    return {"env": "gridnav", "episodes": 10, "seed": 0, "mode": "mixed", "wish": {"prefer": ["a"], "avoid": ["b"]},
            "fusion": {"T_phi": 1.0, "T_max": 2.0, "decay": 1.0, "sample": False},
            "strategies": {
                "task": {"task_success": _stat(task_success), "prefer_fraction": _stat(task_pref),
                         "avoid_fraction": _stat(task_avoid)},
                "dynamic": {"task_success": _stat(dyn_success), "prefer_fraction": _stat(dyn_pref),
                            "avoid_fraction": _stat(dyn_avoid), "fusion_weight": _stat(0.4)}}}


def test_claim_check_applies_each_target():
    assert claim_check(_cell(1.0, 0.9, 0.2, 0.4, 0.4, 0.2)) == {"keeps_task": True, "prefer": True, "avoid": True}
    assert claim_check(_cell(1.0, 0.89, 0.2, 0.39, 0.4, 0.21)) == {"keeps_task": False, "prefer": False, "avoid": False}
    assert claim_check(_cell(1.0, 1.0, 0.5, 0.8, 0.4, 0.0))["prefer"]  # +0.30 absolute also counts


def test_the_avoid_claim_also_counts_the_decisions_in_the_region():
    """A share halved by an episode twice as long, with as many decisions in the avoided region, is no avoiding
    (gridnav's fused agent stepping back and forth at the toll road's edge, then crossing it)."""
    from dpf_gui.envs.base import RegionFeature
    from dpf_gui.evaluate import EpisodeRecord
    from dpf_gui.wish import make_wish

    wish = make_wish([RegionFeature("x", "int", 0, 9)], avoid=["x=5"])
    crossing = np.array([[1], [2], [5], [5], [6], [9]], dtype=np.float32)
    dithering = np.concatenate([np.array([[1], [2], [1], [2], [1], [2]], np.float32), crossing])
    task, fused = (EpisodeRecord(1.0, 1.0, len(r), r, np.full(len(r), np.nan)).stats(wish)
                   for r in (crossing, dithering))
    assert (task.avoid_steps, fused.avoid_steps) == (2, 2) and fused.avoid_fraction == task.avoid_fraction / 2
    cell = _cell(1.0, 1.0, 0.2, 0.4, task.avoid_fraction, fused.avoid_fraction)
    assert claim_check(cell)["avoid"]  # the share alone: met
    for name, stats in (("task", task), ("dynamic", fused)):
        cell["strategies"][name].update({k: v for k, v in summarise_episodes([stats]).items() if k == "avoid_steps"})
    assert not claim_check(cell)["avoid"]


def test_a_shares_interval_stays_within_0_and_1():
    """A share near 0 from a few nonzero episodes had a normal interval reaching below 0 ([-0.001, 0.007])."""
    stats = [EpisodeStats(1.0, 1.0, 10, prefer_fraction=1.0 if k == 0 else 0.0,
                          avoid_fraction=0.1 if k == 0 else 0.0, fusion_weight=1.0 if k else 0.9,
                          guard_held_back=0.05 if k == 3 else 0.0) for k in range(30)]
    summary = summarise_episodes(stats)
    for name in ("prefer_fraction", "avoid_fraction", "fusion_weight", "guard_held_back"):
        lo, hi = summary[name]["ci95"]
        assert 0.0 <= lo <= summary[name]["mean"] <= hi <= 1.0, (name, lo, hi)
    assert summary["avoid_fraction"]["ci95"][0] == 0.0 and summary["fusion_weight"]["ci95"][1] == 1.0
    assert summarise([-1.0, 0.0, 1.0])["ci95"][0] < -1.0  # returns are no shares: their interval is left as it is


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_custom_wishes_are_valid_expressions_and_no_preset(env_name):
    spec = env_spec(env_name)
    custom = spec.example_wishes
    wish = make_wish(spec.region_features, **custom)
    presets = [set(spec.preset(m).prefer) | set(spec.preset(m).avoid) for m in ("avoid", "prefer", "mixed")]
    assert set(custom["prefer"]) | set(custom["avoid"]) not in presets
    assert wish.prefer or wish.avoid


def test_report_is_written_from_the_cache_and_keeps_the_notes(tmp_path):
    work, out = tmp_path / "work", tmp_path / "docs" / "RESULTS.md"
    for mode, dyn_success in (("mixed", 0.95), ("custom", 0.5)):
        (work / "gridnav" / mode).mkdir(parents=True)
        (work / "gridnav" / mode / "eval.json").write_text(json.dumps(_cell(1.0, dyn_success, 0.0, 0.5, 0.4, 0.0)))
    out.parent.mkdir()
    out.write_text("old report\n" + NOTES_MARKER + "\nhand-written analysis\n")
    write_report(work, out, ["gridnav"], "dpf results", "test machine")
    text = out.read_text()
    assert "### gridnav / mixed" in text and "### gridnav / custom" in text
    assert "| gridnav | mixed | yes | yes | yes |" in text
    assert "| gridnav | custom | **no** | yes | yes |" in text
    assert "T_max 2" in text and "decay 1" in text  # the fusion parameters each cell ran with
    assert text.count(NOTES_MARKER) == 1 and text.endswith("hand-written analysis\n")
    assert "old report" not in text and "{total}" not in text
    assert (out.parent / "results" / "gridnav_tradeoff.png").is_file()


# --- the cache of `dpf results`: interrupted or damaged work is redone, seeds never share -------------------
@pytest.fixture
def tiny_cells(monkeypatch):
    """Cells cheap enough for a test (one short intent epoch, a few retraining steps); returns the seeds
    of every intent training started."""
    monkeypatch.setattr(results, "INTENT_CONFIG", IntentConfig(max_epochs=1, max_train_per_epoch=64))
    monkeypatch.setattr(retrain, "RetrainConfig", functools.partial(retrain.RetrainConfig, gradient_steps=10))
    started = []
    train = results.train_intent

    def counted(data, labels, seed, **kwargs):
        started.append(seed)
        return train(data, labels, seed, **kwargs)

    monkeypatch.setattr(results, "train_intent", counted)
    return started


def _stop_at_once(monkeypatch):
    """Intent training as after Ctrl-C: it returns early with ``interrupted`` set (and saves what it has)."""
    train = results.train_intent
    monkeypatch.setattr(results, "train_intent", lambda *a, **k: train(*a, **k, should_stop=lambda: True))
    return train


def test_an_interrupted_cell_exits_130_names_the_cell_and_the_next_run_redoes_it(tmp_path, monkeypatch, capsys,
                                                                                   tiny_cells):
    work, out = tmp_path / "work", tmp_path / "RESULTS.md"
    argv = ["results", "--envs", "gridnav", "--modes", "mixed", "--episodes", "2", "--efficiency", "",
            "--work", str(work), "--out", str(out), "--quiet"]
    train = _stop_at_once(monkeypatch)
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert "interrupted in cell gridnav/mixed" in err and "Traceback" not in err
    cell = work / "gridnav" / "mixed"
    assert list(cell.iterdir()) == []  # no half-trained model, no stamp, no leftover to reuse
    assert not out.exists()
    (cell / "eval.json").write_text('{"env": "gridnav", "strateg')  # what a kill mid-write once left behind

    monkeypatch.setattr(results, "train_intent", train)
    assert main(argv) == 0
    assert tiny_cells == [0, 0]  # trained again, not reused
    (intent_dir,) = cell.glob("intent-seed0-*")
    assert read_json(intent_dir / "model.json")["metrics"]["interrupted"] is False
    assert read_json(cell / "eval.json")["seed"] == 0  # the truncated one was redone
    assert "### gridnav / mixed" in out.read_text()
    assert main(argv) == 0 and tiny_cells == [0, 0]  # complete work is reused

    stamp = intent_dir / "stamp.json"
    stamp.write_text(stamp.read_text()[:30])
    assert main(argv) == 0 and tiny_cells == [0, 0, 0]  # a truncated stamp: redone, no crash
    assert read_json(stamp) is not None


def test_seeds_never_share_an_intent_model(tmp_path, monkeypatch, tiny_cells):
    task = load_task_agent("gridnav")
    data = TrajectoryDataset.load(task.dataset_path, expect_env="gridnav")
    wish = results.cell_wish("gridnav", task, "mixed")
    labels = {seed: label_dataset(data, wish, FeedbackNoise(), seed) for seed in (0, 1)}
    seed1 = results._intent(data, labels[1], tmp_path, "intent", 1, progress=False)
    train = _stop_at_once(monkeypatch)
    with pytest.raises(KeyboardInterrupt):  # the run is stopped while seed 0 trains
        results._intent(data, labels[0], tmp_path, "intent", 0, progress=False)
    monkeypatch.setattr(results, "train_intent", train)
    seed0 = results._intent(data, labels[0], tmp_path, "intent", 0, progress=False)
    assert seed0 != seed1 and tiny_cells == [1, 0, 0]  # seed 1's model was not handed to seed 0
    assert read_json(seed0 / "model.json")["seed"] == 0 and read_json(seed1 / "model.json")["seed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([seed0.name, seed1.name])


def test_the_task_agents_episodes_are_played_once_for_every_wish(tmp_path, monkeypatch, tiny_cells):
    """Every wish's cell measures the task agent on the same held-out episodes: the environment's first cell
    plays them, the others read them back, and each cell's task row is what playing them there gives."""
    import dpf_gui.evaluate as evaluate_mod
    from dpf_gui.evaluate import evaluate
    from dpf_gui.fusion import FusedAgent

    played, play = [], evaluate_mod.play_records

    def counted(env_name, agent, *args, **kwargs):
        if agent.strategy == "task":
            played.append(env_name)
        return play(env_name, agent, *args, **kwargs)

    monkeypatch.setattr(evaluate_mod, "play_records", counted)
    cells = {mode: results.run_cell("gridnav", mode, 3, 0, tmp_path, strategies=["task", "dynamic"], progress=False)
             for mode in ("avoid", "prefer")}
    assert played == ["gridnav"]
    task = load_task_agent("gridnav")
    for mode, cell in cells.items():
        assert list(cell["strategies"]) == ["task", "dynamic", "dynamic-markov"]
        wish = results.cell_wish("gridnav", task, mode)
        there = evaluate("gridnav", {"task": FusedAgent(task, "task")}, 3, 0, env_config=task.env_config, wish=wish,
                         progress=False)
        assert cell["strategies"]["task"] == json.loads(json.dumps(there.to_json()))["strategies"]["task"]


def _results(capsys, *argv):
    code = main(["results", *argv])
    return code, capsys.readouterr().err


def test_report_only_without_results_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "RESULTS.md"
    a_file, empty = tmp_path / "work.txt", tmp_path / "empty"
    a_file.write_text("not a folder")
    empty.mkdir()
    for work in (a_file, tmp_path / "missing", empty):
        code, err = _results(capsys, "--report-only", "--work", str(work), "--out", str(out))
        assert code == 2 and len(err.strip().splitlines()) == 1 and str(work) in err, err
        assert not out.exists() and not (tmp_path / "results").exists()
    assert _results(capsys, "--work", str(a_file), "--out", str(out))[0] == 2  # also before running any cell


def test_out_is_regenerated_only_when_it_is_a_report_this_command_wrote(tmp_path, capsys):
    work, out = tmp_path / "work", tmp_path / "RESULTS.md"
    (work / "gridnav" / "mixed").mkdir(parents=True)
    (work / "gridnav" / "mixed" / "eval.json").write_text(json.dumps(_cell(1.0, 0.95, 0.0, 0.5, 0.4, 0.0)))
    out.write_text("a file of mine\n")
    code, err = _results(capsys, "--report-only", "--work", str(work), "--out", str(out))
    assert code == 2 and "--force" in err and len(err.strip().splitlines()) == 1
    assert out.read_text() == "a file of mine\n"
    assert _results(capsys, "--report-only", "--work", str(work), "--out", str(out), "--force")[0] == 0
    assert NOTES_MARKER in out.read_text() and "a file of mine" not in out.read_text()
    out.write_text(out.read_text() + "\nmy analysis\n")
    assert _results(capsys, "--report-only", "--work", str(work), "--out", str(out))[0] == 0  # the normal use
    assert out.read_text().endswith("my analysis\n") and "### gridnav / mixed" in out.read_text()


def test_a_damaged_result_file_is_left_out_of_the_report_and_named(tmp_path, capsys):
    work, out = tmp_path / "work", tmp_path / "RESULTS.md"
    for mode in ("mixed", "custom"):
        (work / "gridnav" / mode).mkdir(parents=True)
        (work / "gridnav" / mode / "eval.json").write_text(json.dumps(_cell(1.0, 0.95, 0.0, 0.5, 0.4, 0.0)))
    (work / "gridnav" / "custom" / "eval.json").write_text('{"env": "gridnav", "strat')
    (work / "gridnav" / "efficiency-mixed.json").write_text('{"rows": [')
    code, err = _results(capsys, "--report-only", "--work", str(work), "--out", str(out))
    assert code == 0 and "Traceback" not in err
    assert "custom" in err and "efficiency-mixed.json" in err
    text = out.read_text()
    assert "### gridnav / mixed" in text and "### gridnav / custom" not in text


def test_results_with_jobs_gives_the_same_numbers_as_one_process(tmp_path, monkeypatch):
    """--jobs N runs the cells in worker processes; each cell is seeded by its own inputs, so nothing changes."""
    # Models are trained briefly here, under the cache keys of the full training, so the pool's workers (which
    # do not see monkeypatches) find every model cached and only play: what is compared is the evaluation.
    train, fit = results.train_intent, retrain.fit
    monkeypatch.setattr(results, "train_intent", lambda *a, **k: train(
        *a, **dict(k, config=IntentConfig(max_epochs=1, max_train_per_epoch=64))))
    monkeypatch.setattr(retrain, "fit", lambda task, data, cfg, *a, **k: fit(
        task, data, dataclasses.replace(cfg, gradient_steps=10), *a, **k))
    work, out = tmp_path / "work", tmp_path / "RESULTS.md"
    argv = ["results", "--envs", "gridnav", "--modes", "avoid,prefer", "--episodes", "2", "--efficiency", "",
            "--work", str(work), "--out", str(out), "--quiet"]
    assert main(argv) == 0
    cells = [work / "gridnav" / mode / "eval.json" for mode in ("avoid", "prefer")]
    one = [json.loads(cell.read_text())["strategies"] for cell in cells]
    models = {p: p.stat().st_mtime_ns for p in work.rglob("*.safetensors")}
    assert len(models) >= 4  # an intent model and its retrained agent per cell
    # every strategy (retrain included) is built from the cache and played again in a worker
    assert main([*argv, "--jobs", "2"]) == 0
    assert [json.loads(cell.read_text())["strategies"] for cell in cells] == one
    assert {p: p.stat().st_mtime_ns for p in work.rglob("*.safetensors")} == models  # the workers trained nothing
    assert out.is_file()


def test_own_task_agent_runs_the_cells_and_is_named_in_the_report(tmp_path, monkeypatch, capsys, tiny_cells):
    """``--task ENV=DIR``: every cell loads that folder, records it and the report names it; a folder for an
    environment the run leaves out, a missing folder or --report-only stop before any cell (exit 2, one line)."""
    import shutil

    from dpf_gui.paths import shipped_model

    own = tmp_path / "my agent"
    shutil.copytree(shipped_model("gridnav"), own)
    loaded = []
    load = results.load_task_agent
    monkeypatch.setattr(results, "load_task_agent", lambda env, folder=None: loaded.append(folder) or load(env, folder))
    work, out = tmp_path / "work", tmp_path / "RESULTS.md"
    argv = ["results", "--envs", "gridnav", "--modes", "avoid", "--episodes", "2", "--efficiency", "", "--work",
            str(work), "--out", str(out), "--quiet"]
    assert main([*argv, "--task", f"gridnav={own}"]) == 0
    assert loaded == [str(own.resolve())]
    assert read_json(work / "gridnav" / "avoid" / "eval.json")["task"] == str(own.resolve())
    assert f"Task agents other than the shipped ones (`--task`): gridnav's from `{own.resolve()}`." in out.read_text()
    for bad in (["--task", f"pong={own}"], ["--task", f"gridnav={tmp_path / 'nothing'}"],
                ["--task", f"gridnav={own}", "--report-only"]):
        capsys.readouterr()
        assert main([*argv, *bad]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert len(loaded) == 1  # no cell ran for a refused command
