"""Labels where nearly every trajectory has one score are said in plain words (core, `dpf label`, `dpf
train-intent`): the few others carry all the intent model will learn."""

from __future__ import annotations

import numpy as np
import pytest

from dpf_gui.cli import main
from dpf_gui.data.labels import Labels
from dpf_gui.session.training import LOPSIDED_MIN, lopsided_note


def _labels(scores, labelled=None, pairs=None, meta=None, known=None) -> Labels:
    scores = np.asarray(scores, dtype=np.float32)
    n = len(scores)
    labelled = np.ones(n, bool) if labelled is None else np.asarray(labelled, bool)
    return Labels(scores=scores, labelled=labelled, true_scores=scores.copy(), marks=np.zeros(n, np.int8),
                  lengths=np.ones(n, np.int64), pairs=pairs, meta=dict(meta or {}), known=known,
                  prefer=None if pairs is None else np.ones(len(pairs), np.float32))


def test_nearly_one_score_is_said_with_its_count_and_what_to_do():
    note = lopsided_note(_labels([-1.0] * 22 + [1.0] * 3))
    assert note is not None
    assert "22 of the 25 labelled trajectories have the same score (-1)" in note and "the other 3" in note
    assert "better or worse" in note
    # unlabelled trajectories do not count: 22 of 30 stored, 3 others labelled, 5 unlabelled at another score
    mixed = _labels([-1.0] * 22 + [1.0] * 3 + [5.0] * 5, labelled=[True] * 25 + [False] * 5)
    assert "22 of the 25" in lopsided_note(mixed)


@pytest.mark.parametrize("scores", [
    np.arange(25, dtype=float),                   # graded scores: every one different
    [-1.0] * 20 + [1.0] * 5,                      # 80 %: enough of both kinds
    [-1.0] * (LOPSIDED_MIN - 2) + [1.0],          # too few marks to say anything
])
def test_no_note_where_the_labels_differ_enough_or_are_too_few(scores):
    assert lopsided_note(_labels(scores)) is None


def test_marks_all_alike_are_said_before_training_refuses_them():
    """`dpf label` printed its "next: dpf train-intent" line for 25 labels all 0, which training then refused."""
    note = lopsided_note(_labels([0.0] * 25))
    assert note.startswith("All 25 labelled trajectories have the same score (0)") and "nothing to learn" in note
    assert "better or worse" in note


def test_a_persons_whole_marks_count_by_their_kind_not_by_length():
    # whole marks are worth +-sqrt(T): nine avoided trajectories of different lengths and one preferred
    scores = [-np.sqrt(t) for t in range(20, 29)] + [np.sqrt(50)]
    note = lopsided_note(_labels(scores, meta={"source": "person"}))
    assert note is not None and "9 of the 10 labelled trajectories are marked avoided" in note
    # the same scores from a simulated user (graded) or with segments in force are all different: no note
    assert lopsided_note(_labels(scores, meta={"source": "simulated-user"})) is None
    segments = np.zeros(10, bool)
    segments[0] = True
    assert lopsided_note(_labels(scores, meta={"source": "person"}, known=segments)) is None


def test_comparisons_carry_no_scores_and_get_no_note():
    assert lopsided_note(_labels([0.0] * 25, pairs=np.array([[0, 1], [2, 3]]))) is None


def test_the_command_line_warns_when_labelling_and_before_training(capsys, tmp_path):
    # binary marks of a wish nearly every stored gridnav trajectory touches (x=8, y=4..5 lies on the usual path)
    out = tmp_path / "l.npz"
    assert main(["label", "--data", "gridnav", "--avoid", "x=8&y=4..5", "--binary", "--budget", "25",
                 "--seed", "0", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    err = printed.err
    assert "dpf label: warning:" in err and "have the same score (-1)" in err
    assert f"next: dpf train-intent --data gridnav --labels {out} --out DIR" in printed.out  # the loop's next step
    # and, before anyone trains, how much of the stored data lies where none of the 25 went
    assert "dpf label: note:" in err and ("none of the 25 labelled trajectories reaches: an intent trained on "
                                          "these labels as dpf train-intent does by default (additive) treats") in err
    assert main(["train-intent", "--data", "gridnav", "--labels", str(out), "--out", str(tmp_path / "m"),
                 "--quiet", "--set", "members=2", "--set", "utility_steps=5", "--set", "value_steps=5"]) == 0
    printed = capsys.readouterr()
    assert "dpf train-intent: warning:" in printed.err
    # and how much of the stored data lies where none of the 25 went (marks mostly below 0: assumed slightly bad)
    assert "dpf train-intent: note:" in printed.err
    assert "none of the 25 labelled trajectories reaches: the intent treats them as slightly bad" in printed.err
    # the held-out fit comes with the Train tab's verdict on it
    fit_line = next(line for line in printed.out.splitlines() if line.startswith("held-out fit: "))
    assert any(v in fit_line for v in (" · good", " · fair", " · weak", " · too few held-out")), fit_line
    # and the next step of the loop, calibrated (uncalibrated, a quiet intent moves nothing)
    assert f"next: dpf evaluate --intent {tmp_path / 'm'} --calibrate" in printed.out
    # a mistake in the command is still one line, without the warning
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main(["train-intent", "--data", "gridnav", "--labels", str(out), "--out",
                               str(tmp_path / "m2"), "--quiet", "--set", "members=0"]))
    err = capsys.readouterr().err
    assert exc.value.code == 2 and len(err.strip().splitlines()) == 1 and "warning" not in err and "note" not in err
    # a wish whose marks differ: no warning
    assert main(["label", "--data", "gridnav", "--preset", "mixed", "--budget", "25", "--seed", "0",
                 "--out", str(tmp_path / "m.npz")]) == 0
    assert "warning" not in capsys.readouterr().err
