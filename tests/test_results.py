"""The results report: the claim check, the custom wishes and the Markdown written from cached cells."""

import json

import pytest

from dpf_gui.envs import ENV_NAMES, env_spec
from dpf_gui.results import CUSTOM_WISHES, NOTES_MARKER, claim_check, write_report
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


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_custom_wishes_are_valid_expressions_and_no_preset(env_name):
    spec = env_spec(env_name)
    wish = make_wish(spec.region_features, **CUSTOM_WISHES[env_name])
    presets = [set(spec.preset(m).prefer) | set(spec.preset(m).avoid) for m in ("avoid", "prefer", "mixed")]
    assert set(CUSTOM_WISHES[env_name]["prefer"]) | set(CUSTOM_WISHES[env_name]["avoid"]) not in presets
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
