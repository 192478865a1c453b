"""The study store keeps every mark the moment it is given, and turns marks into training labels."""

import sqlite3

import numpy as np
import pytest

from dpf_gui.data.study import AVOIDED, NEUTRAL, PREFERRED, SEGMENTS, SIMULATED, UNLABELLED, LabelStore
from dpf_gui.errors import UserError
from dpf_gui.oracles import FeedbackNoise, label_dataset
from dpf_gui.wish import make_wish
from tests.helpers import handmade_dataset

# gridnav regions are (x, y, terrain); terrain 3 = toll, 4 = scenic, 0 = plain
TOLL, SCENIC, PLAIN = 3, 4, 0


@pytest.fixture()
def data():
    rows = [
        [[0, 0, PLAIN]] + [[1, 0, PLAIN]] * 4,  # 4 decisions
        [[0, 0, PLAIN]] + [[1, 0, TOLL]] * 3,  # 3 decisions
        [[0, 0, PLAIN]] + [[1, 0, SCENIC]] * 6,  # 6 decisions
    ]
    return handmade_dataset("gridnav", rows)


@pytest.fixture()
def store(tmp_path):
    s = LabelStore.in_dir(tmp_path)
    yield s
    s.close()


def test_marks_are_committed_at_once(tmp_path, store, data):
    fp = data.fingerprint()
    store.mark_trajectory(fp, 1, -1)
    store.mark_segment(fp, 2, 1, 3, +1)
    # a second connection (another process, or the app after a kill) sees both marks
    other = sqlite3.connect(str(store.path))
    assert other.execute("SELECT COUNT(*) FROM marks").fetchone()[0] == 2
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other.close()
    second = LabelStore(store.path)
    states, scores = second.summary(fp, data.lengths)
    assert list(states) == [UNLABELLED, AVOIDED, SEGMENTS]
    assert scores[1] == -3 and scores[2] == 3 and np.isnan(scores[0])
    second.close()


def test_to_labels_whole_segment_and_override(store, data):
    fp = data.fingerprint()
    store.mark_trajectory(fp, 0, +1)  # 4 steps: +4
    store.mark_trajectory(fp, 1, -1)  # 3 steps all -1 ...
    store.mark_segment(fp, 1, 1, 1, +1)  # ... then step 1 preferred: -1 +1 -1 = -1
    store.mark_segment(fp, 2, 4, 2, -1)  # reversed ends are fine: steps 2..4 avoided = -3
    store.mark_segment(fp, 2, 3, 10, +1)  # overrides 3..4, clipped at the last step (5): 3,4,5 = +3, step 2 = -1
    labels = store.to_labels(data)
    assert labels.meta["source"] == "person" and labels.meta["env"] == "gridnav"
    assert labels.meta["data_fingerprint"] == fp and labels.count == 3
    np.testing.assert_array_equal(labels.scores, [4, -1, 2])
    assert labels.labelled.all() and np.isnan(labels.true_scores).all()
    np.testing.assert_array_equal(labels.marks[data.step_slice(1)], [-1, 1, -1])
    np.testing.assert_array_equal(labels.marks[data.step_slice(2)], [0, 0, -1, 1, 1, 1])
    labels.check_matches(data)  # usable as training labels for this data
    # a whole mark after segments replaces them; neutral counts as labelled with score 0
    store.mark_trajectory(fp, 2, 0)
    labels = store.to_labels(data)
    assert labels.scores[2] == 0 and labels.labelled[2]
    assert store.summary(fp, data.lengths)[0][2] == NEUTRAL


def test_undo_redo_and_new_action_ends_redo(store, data):
    fp = data.fingerprint()
    store.mark_trajectory(fp, 0, +1)
    store.mark_trajectory(fp, 0, -1)
    assert store.undo(fp) == [0]
    assert store.trajectory(fp, 0, 4).state == PREFERRED
    assert store.undo(fp) == [0]
    assert store.trajectory(fp, 0, 4).state == UNLABELLED
    assert store.undo(fp) == [] and not store.can_undo(fp)
    assert store.redo(fp) == [0]
    assert store.trajectory(fp, 0, 4).state == PREFERRED
    store.mark_trajectory(fp, 1, +1)  # a new mark: the remaining undone one can no longer be redone
    assert not store.can_redo(fp) and store.redo(fp) == []
    assert [h["state"] for h in store.history(fp)] == ["active", "discarded", "active"]


def test_survives_reopen_with_undo_and_resume_state(tmp_path, data):
    fp = data.fingerprint()
    with LabelStore.in_dir(tmp_path) as s:
        s.mark_trajectory(fp, 0, +1)
        s.mark_trajectory(fp, 2, -1)
        s.set("resume/gridnav", {"trajectory": 2, "frame": 5})
    with LabelStore.in_dir(tmp_path) as s:
        assert s.get("resume/gridnav") == {"trajectory": 2, "frame": 5}
        assert s.labelled_count(fp, data.lengths) == 2
        assert s.undo(fp) == [2]  # undo works across restarts
        assert s.labelled_count(fp, data.lengths) == 1


def test_simulated_batch_is_one_undo_step(store, data):
    fp = data.fingerprint()
    store.mark_trajectory(fp, 0, -1)  # the person's own mark
    wish = make_wish(data.region_features, preset=None, prefer=["terrain=scenic"], avoid=["terrain=toll"])
    labels = label_dataset(data, wish, FeedbackNoise(binary=True), seed=0)
    store.import_labels(labels, fp, only=[1, 2])  # keep the person's mark on 0
    out = store.to_labels(data)
    np.testing.assert_array_equal(out.scores, [-4, -1, 1])  # binary simulated scores kept as given
    np.testing.assert_array_equal(out.true_scores[1:], [-3, 6])
    assert np.isnan(out.true_scores[0])
    assert out.meta["source"] == "person+simulated-user"
    assert store.summary(fp, data.lengths)[0][2] == SIMULATED
    assert sorted(store.undo(fp)) == [1, 2]
    assert store.to_labels(data).count == 1
    with pytest.raises(UserError):
        store.import_labels(labels, "another-dataset")


def test_bad_marks_and_files_are_user_errors(tmp_path, store, data):
    with pytest.raises(UserError):
        store.mark_trajectory(data.fingerprint(), 0, 2)
    bad = tmp_path / "bad" / "labels.sqlite"
    bad.parent.mkdir()
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UserError):
        LabelStore(bad)
