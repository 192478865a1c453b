"""The study store keeps every mark the moment it is given, and turns marks into training labels."""

import contextlib
import os
import sqlite3
import subprocess

import numpy as np
import pytest

from dpf_gui.data.study import (
    AVOIDED,
    NEUTRAL,
    PREFERRED,
    RANKED,
    SEGMENTS,
    SIMULATED,
    UNLABELLED,
    LabelStore,
)
from dpf_gui.errors import UserError
from dpf_gui.intent.train import labelled_indices
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
    assert scores[1] == pytest.approx(-np.sqrt(3)) and scores[2] == 3 and np.isnan(scores[0])
    second.close()


def test_to_labels_whole_segment_and_override(store, data):
    """A whole mark is one judgement worth +-sqrt(T) (each of its T decisions 1/sqrt(T)); a segment's decisions
    count +-1 each, and override the whole mark's share where they cover it."""
    fp = data.fingerprint()
    store.mark_trajectory(fp, 0, +1)  # 4 steps: +sqrt(4) = +2
    store.mark_trajectory(fp, 1, -1)  # 3 steps, -sqrt(3) ...
    store.mark_segment(fp, 1, 1, 1, +1)  # ... then step 1 preferred: 2 * (-1/sqrt(3)) + 1
    store.mark_segment(fp, 2, 4, 2, -1)  # reversed ends are fine: steps 2..4 avoided = -3
    store.mark_segment(fp, 2, 3, 10, +1)  # overrides 3..4, clipped at the last step (5): 3,4,5 = +3, step 2 = -1
    labels = store.to_labels(data)
    assert labels.meta["source"] == "person" and labels.meta["env"] == "gridnav"
    assert labels.meta["data_fingerprint"] == fp and labels.count == 3
    np.testing.assert_allclose(labels.scores, [2, 1 - 2 / np.sqrt(3), 2], rtol=1e-6)
    assert labels.labelled.all() and np.isnan(labels.true_scores).all()
    np.testing.assert_array_equal(labels.marks[data.step_slice(1)], [-1, 1, -1])
    np.testing.assert_array_equal(labels.marks[data.step_slice(2)], [0, 0, -1, 1, 1, 1])
    # the decisions a segment marked are known per step (what the additive model fits per decision)
    np.testing.assert_array_equal(labels.known, [False] * 4 + [False, True, False] + [False, False] + [True] * 4)
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
    np.testing.assert_array_equal(out.scores, [-2, -1, 1])  # binary simulated scores kept as given; 4 steps: -2
    assert out.known is None  # a simulated user's per-step marks are its truth, not feedback
    np.testing.assert_array_equal(out.true_scores[1:], [-3, 6])
    assert np.isnan(out.true_scores[0])
    assert out.meta["source"] == "person+simulated-user"
    assert store.summary(fp, data.lengths)[0][2] == SIMULATED
    assert sorted(store.undo(fp)) == [1, 2]
    assert store.to_labels(data).count == 1
    with pytest.raises(UserError):
        store.import_labels(labels, "another-dataset")



def test_a_file_of_marked_segments_is_imported_as_its_segments(store, data):
    """`dpf label --feedback segments` says which decisions were marked (``known``). Imported as whole scores, the
    app's training fitted each whole trajectory to the sum of its marked stretches (docs/EXPERIMENTS.md: that
    cost Pong most of its cells); the stretches are stored as segments instead, replacing what was there."""
    from dpf_gui.oracles import label_segments

    fp = data.fingerprint()
    store.mark_trajectory(fp, 1, +1)  # replaced by the file's stretches ("Use the file's")
    wish = make_wish(data.region_features, preset=None, prefer=["terrain=scenic"], avoid=["terrain=toll"])
    given = label_segments(data, wish, seed=3)
    assert given.known is not None and not given.known.all()
    store.import_labels(given, fp)
    out = store.to_labels(data)
    np.testing.assert_array_equal(out.labelled, given.labelled)
    np.testing.assert_array_equal(out.known, given.known)
    np.testing.assert_array_equal(out.marks, given.marks)
    np.testing.assert_allclose(out.scores, given.scores)
    assert sorted(store.undo(fp)) == [0, 1, 2]  # one undoable batch, the person's mark back
    assert store.summary(fp, data.lengths)[0][1] == PREFERRED


def test_a_comparison_file_is_stored_as_rankings_of_two_and_trains_the_same_comparisons(store, data):
    """A `dpf label --feedback pairs` file (or an export of rankings) has no scores: each comparison is stored as a
    ranking of its two trajectories (one undoable batch, the person's marks kept beside it), so training reads the
    file's comparisons, ties included; only_unlabelled leaves out the comparisons of marked trajectories, and a
    comparison a ranking cannot say is refused with the way to use the file."""
    from dataclasses import replace

    from dpf_gui.oracles import label_pairs

    fp = data.fingerprint()
    store.mark_trajectory(fp, 0, -1)
    wish = make_wish(data.region_features, preset=None, prefer=["terrain=scenic"], avoid=["terrain=toll"])
    pairs = label_pairs(data, wish, FeedbackNoise(), seed=0, count=40)
    pairs = replace(pairs, prefer=np.where(np.arange(40) % 7 == 0, 0.5, pairs.prefer).astype(np.float32))
    assert 1.0 in pairs.prefer and 0.0 in pairs.prefer  # both directions, and every seventh "equally good"
    store.import_labels(pairs, fp)
    labels = store.to_labels(data)

    def said(lab):  # each comparison as (better or equal, other, equally good)
        return sorted((int(a), int(b), False) if p == 1.0 else (int(b), int(a), False) if p == 0.0
                      else (*sorted((int(a), int(b))), True)
                      for (a, b), p in zip(lab.pairs, lab.prefer, strict=True))

    assert said(labels) == said(pairs)  # the file's comparisons, as stated (one mark alone implies none)
    assert len(store.rankings(fp)) == 40 and store.summary(fp, data.lengths)[0][0] == AVOIDED  # the mark kept
    store.undo(fp)
    assert store.rankings(fp) == [] and store.to_labels(data).count == 1
    touching = [k for k, (a, b) in enumerate(pairs.pairs.tolist()) if 0 in (a, b)]
    store.import_labels(pairs, fp, only=range(1, len(data)))  # as "keep my marks": trajectory 0 is marked
    assert len(store.rankings(fp)) == 40 - len(touching)
    odd = replace(pairs, prefer=np.where(np.arange(40) == 3, 0.7, pairs.prefer))
    with pytest.raises(UserError, match=r"comparison 3 \(.*preference 0.7\) cannot be stored as a ranking .* "
                                        "nothing was imported: train on the comparisons"):
        store.import_labels(odd, fp)


def test_exported_rankings_import_back_as_the_same_comparisons(tmp_path, store, data):
    """Export a store's rankings (a comparison file: Export labels writes the store's labels) and import the file
    into another store: the labels train on the same comparisons."""
    from dpf_gui.data.labels import Labels

    fp = data.fingerprint()
    store.rank(fp, [(2, 0), (0, 1), (1, 1)])
    exported = store.to_labels(data)
    exported.save(tmp_path / "ranked.npz")
    other = LabelStore.in_dir(tmp_path / "other")
    try:
        other.import_labels(Labels.load(tmp_path / "ranked.npz"), fp)
        again = other.to_labels(data)
    finally:
        other.close()

    def said(lab):
        return sorted((*sorted((int(a), int(b))), 0.5) if p == 0.5 else ((int(a), int(b), 1.0) if p == 1.0
                      else (int(b), int(a), 1.0)) for (a, b), p in zip(lab.pairs, lab.prefer, strict=True))

    assert said(again) == said(exported) == [(0, 1, 0.5), (2, 0, 1.0), (2, 1, 1.0)]


def test_rankings_are_stored_as_comparisons_with_the_marks_ones(tmp_path, store):
    """A ranking of runs watched together: each ranked run reads "ranked" (no score), the labels become
    comparisons (every pair within the ranking, equal levels "equally good", and the pairs the marks imply);
    Clear takes a run out of its rankings, Undo takes back a whole ranking, and it survives a reopen."""
    data = handmade_dataset("gridnav", [[[0, 0, PLAIN]] + [[1, 0, t]] * 3 for t in (PLAIN, TOLL, SCENIC, PLAIN,
                                                                                        TOLL, SCENIC)])
    fp = data.fingerprint()
    assert store.to_labels(data).pairs is None  # marks only: scores, as before
    store.rank(fp, [(2, 0), (0, 1), (3, 1), (1, 2)])
    store.mark_trajectory(fp, 4, -1)
    store.mark_trajectory(fp, 3, +1)  # a ranked run marked too: its mark counts besides its place
    states, scores = store.summary(fp, data.lengths)
    assert list(states) == [RANKED, RANKED, RANKED, PREFERRED, AVOIDED, UNLABELLED]
    assert np.isnan(scores[:3]).all() and np.isnan(scores[5])
    labels = store.to_labels(data)
    assert labels.feedback_kind() == "pairs" and labels.meta["rankings"] == 1
    got = {(int(i), int(j)): float(p) for (i, j), p in zip(labels.pairs, labels.prefer, strict=True)}
    assert got == {(2, 0): 1.0, (2, 3): 1.0, (2, 1): 1.0, (0, 3): 0.5, (0, 1): 1.0, (3, 1): 1.0,  # the ranking
                   (3, 4): 1.0}  # the marks: preferred better than avoided
    assert labels.labelled.tolist() == [True] * 5 + [False] and not labels.scores[:3].any()
    store.clear(fp, 2)
    assert {tuple(p) for p in store.to_labels(data).pairs} == {(0, 3), (0, 1), (3, 1), (3, 4)}
    assert store.rankings(fp) == [[(0, 1), (3, 1), (1, 2)]]
    store.close()
    again = LabelStore.in_dir(tmp_path)
    assert again.rankings(fp) == [[(0, 1), (3, 1), (1, 2)]]
    assert again.undo(fp) == [2] and again.undo(fp) == [3] and again.undo(fp) == [4]
    assert again.undo(fp) == [0, 1, 2, 3] and again.rankings(fp) == [] and again.to_labels(data).pairs is None
    again.rank(fp, [(0, 0), (1, 1)])
    with pytest.raises(UserError, match=r"only 2 trajectories are compared or ranked; .* rank or compare more"):
        labelled_indices(data, again.to_labels(data), 4)
    for bad, why in (([(1, 0)], "at least two different"), ([(1, 0), (1, 1)], "at least two different"),
                     ([(1, 0), (2, -1)], "numbers from 0")):
        with pytest.raises(UserError, match=why):
            again.rank(fp, bad)
    again.close()


def test_rankings_carried_to_a_merged_dataset_stay_apart(store):
    """Two rankings carried over in one action stay two rankings (not one of all their runs)."""
    from dpf_gui.data.merge import merge_datasets

    data = handmade_dataset("gridnav", [[[0, 0, PLAIN]] + [[1, 0, TOLL]] * k for k in range(1, 5)])
    fp = data.fingerprint()
    store.rank(fp, [(0, 0), (1, 1)])
    store.rank(fp, [(3, 0), (2, 1)])
    merged = merge_datasets(handmade_dataset("gridnav", [[[0, 0, PLAIN]] + [[1, 0, PLAIN]] * 2], seed0=10), data)
    store.carry_marks(fp, merged.fingerprint(), offset=1)
    assert store.rankings(merged.fingerprint()) == [[(1, 0), (2, 1)], [(4, 0), (3, 1)]]
    assert len(store.to_labels(merged).pairs) == 2


def test_marks_carried_to_a_merged_dataset_read_as_before(store, data):
    """A merged dataset holding the old trajectories from an offset gets their marks, kinds and all."""
    from dpf_gui.data.merge import merge_datasets

    fp = data.fingerprint()
    store.mark_trajectory(fp, 0, +1)
    store.mark_segment(fp, 2, 1, 3, -1)
    wish = make_wish(data.region_features, preset=None, prefer=["terrain=scenic"], avoid=["terrain=toll"])
    store.import_labels(label_dataset(data, wish, FeedbackNoise(), seed=0), fp, only=[1])
    more = handmade_dataset("gridnav", [[[0, 0, PLAIN]] + [[1, 0, TOLL]] * 2], seed0=10)
    merged = merge_datasets(more, data)  # the old trajectories from offset 1
    new = merged.fingerprint()
    assert store.carry_marks(fp, new, offset=1) is not None
    old_states, old_scores = store.summary(fp, data.lengths)
    states, scores = store.summary(new, merged.lengths)
    assert list(states) == [UNLABELLED, PREFERRED, SIMULATED, SEGMENTS]
    np.testing.assert_array_equal(states[1:], old_states)
    np.testing.assert_array_equal(scores[1:], old_scores)
    assert store.summary(fp, data.lengths)[0].tolist() == old_states.tolist()  # the old dataset keeps its marks
    assert store.undo(new) == [1, 2, 3] and store.labelled_count(new, merged.lengths) == 0
    assert store.carry_marks("nothing-marked", new) is None

def test_bad_marks_and_files_are_user_errors(tmp_path, store, data):
    with pytest.raises(UserError):
        store.mark_trajectory(data.fingerprint(), 0, 2)
    bad = tmp_path / "bad" / "labels.sqlite"
    bad.parent.mkdir()
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UserError):
        LabelStore(bad)


@contextlib.contextmanager
def read_only(*paths):
    """Make files and folders read-only for this process (chmod; as root, chattr +i), restored afterwards."""
    modes = {p: p.stat().st_mode for p in paths}
    frozen = []
    try:
        for p in paths:
            p.chmod(modes[p] & ~0o222)
        if any(os.access(p, os.W_OK) for p in paths):  # root ignores modes
            for p in paths:
                if subprocess.run(["chattr", "+i", str(p)], capture_output=True, check=False).returncode == 0:
                    frozen.append(p)
        if any(os.access(p, os.W_OK) for p in paths):
            pytest.skip("cannot make a file read-only here (root without chattr)")
        yield
    finally:
        for p in frozen:
            subprocess.run(["chattr", "-i", str(p)], capture_output=True, check=False)
        for p, mode in modes.items():
            p.chmod(mode)


@pytest.mark.parametrize("what", ["file", "folder"])
def test_read_only_store_opens_read_only_and_refuses_marks(tmp_path, data, what):
    fp = data.fingerprint()
    with LabelStore.in_dir(tmp_path) as s:
        s.mark_trajectory(fp, 1, -1)
        s.mark_segment(fp, 2, 1, 3, +1)
    db = tmp_path / "labels.sqlite"
    before = db.read_bytes()
    with read_only(*([db] if what == "file" else [db, tmp_path])):
        store = LabelStore(db)
        assert store.read_only and "read-only" in store.read_only_reason
        states, scores = store.summary(fp, data.lengths)
        assert list(states) == [UNLABELLED, AVOIDED, SEGMENTS] and scores[1] == pytest.approx(-np.sqrt(3))
        assert store.to_labels(data).count == 2
        for attempt in (lambda: store.mark_trajectory(fp, 0, +1), lambda: store.undo(fp), lambda: store.redo(fp)):
            with pytest.raises(UserError, match=r"read-only .*marks cannot be saved"):
                attempt()
        assert not store.can_undo(fp)
        store.set("resume/gridnav", {"trajectory": 1})  # a convenience: silently not kept
        store.register_dataset(data)
        store.close()
    assert db.read_bytes() == before  # nothing touched (SQLite may have made its WAL index beside it)


def test_empty_file_is_refused_and_left_alone(tmp_path):
    db = tmp_path / "labels.sqlite"
    db.write_bytes(b"")
    with pytest.raises(UserError, match="0 bytes"):
        LabelStore(db)
    assert db.stat().st_size == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["labels.sqlite"]


def test_a_damaged_mark_is_skipped_and_reported(store, data):
    fp = data.fingerprint()
    store.mark_trajectory(fp, 0, +1)
    store.mark_trajectory(fp, 1, -1)
    store.mark_segment(fp, 2, 1, 3, +1)
    # a damaged file: a segment without its start, a mark of an unknown kind, a trajectory index that is text
    db = sqlite3.connect(str(store.path))
    bad = []
    for kind, traj, t0, value in (("segment", 1, None, 1), ("bogus", 2, None, 1), ("whole", "x", None, 1)):
        action = db.execute("INSERT INTO actions (dataset, kind, source, created) VALUES (?, 'mark', 'person', 0)",
                            (fp,)).lastrowid
        bad.append(db.execute("INSERT INTO marks (action, dataset, traj, kind, t0, t1, value) "
                              "VALUES (?, ?, ?, ?, ?, 3, ?)",
                              (action, fp, traj, kind, t0, value)).lastrowid)
    db.commit()
    db.close()
    states, scores = store.summary(fp, data.lengths)
    np.testing.assert_allclose(scores, [2, -np.sqrt(3), 3], rtol=1e-6)
    assert list(states) == [PREFERRED, AVOIDED, SEGMENTS]
    assert store.trajectory(fp, 1, 3).state == AVOIDED
    assert store.to_labels(data).count == 3
    assert store.damaged_marks == bad


def test_one_writer_per_study_folder(tmp_path, data):
    fp = data.fingerprint()
    first = LabelStore.in_dir(tmp_path)
    second = LabelStore.in_dir(tmp_path)  # another app window on the same study folder
    assert not first.read_only and second.read_only
    assert f"another dpf-gui (process {os.getpid()})" in second.read_only_reason
    first.mark_trajectory(fp, 0, +1)
    assert second.trajectory(fp, 0, 4).state == PREFERRED  # it sees the marks ...
    with pytest.raises(UserError, match="another dpf-gui"):
        second.undo(fp)  # ... but cannot undo them
    assert first.trajectory(fp, 0, 4).state == PREFERRED
    second.close()
    first.close()
    with LabelStore.in_dir(tmp_path) as third:  # the lock goes with the first
        assert not third.read_only and third.undo(fp) == [0]


def test_a_failed_write_is_a_user_error_and_changes_nothing(store, data):
    fp = data.fingerprint()
    store.mark_trajectory(fp, 0, +1)
    other = sqlite3.connect(str(store.path))  # the file damaged under the app: its marks table gone
    other.execute("ALTER TABLE marks RENAME TO marks_gone")
    other.commit()
    with pytest.raises(UserError, match=r"could not be saved .*nothing was changed"):
        store.mark_trajectory(fp, 1, -1)
    assert other.execute("SELECT COUNT(*) FROM actions").fetchone()[0] == 1  # the half-made action was rolled back
    with pytest.raises(UserError, match="label store failed"):
        store.summary(fp, data.lengths)
    other.close()


def _as_version_1(labels, path):
    """``labels`` saved as a version-1 file would have been (before whole marks scored +-sqrt(T))."""
    import json

    saved = labels.save(path)
    with np.load(saved, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["meta"]))
    meta["format_version"] = 1
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez_compressed(saved, **arrays)
    return saved


def test_label_files_of_version_1_are_read_with_the_current_rule(tmp_path, store, data):
    """Version 1 scored a person's whole mark +-T: such a file is read as if exported now (+-sqrt(T)); a segment,
    a simulated user's label and a version-2 file are read as written; an unknown version is refused."""
    from dpf_gui.data.labels import FORMAT_VERSION, Labels

    fp = data.fingerprint()
    store.mark_trajectory(fp, 0, +1)  # 4 decisions
    store.mark_segment(fp, 1, 0, 1, -1)  # 2 of 3 decisions
    wish = make_wish(data.region_features, preset=None, prefer=["terrain=scenic"], avoid=["terrain=toll"])
    store.import_labels(label_dataset(data, wish, FeedbackNoise(), seed=0), fp, only=[2])  # 6 scenic: +6
    now = store.to_labels(data)
    np.testing.assert_allclose(now.scores, [2, -2, 6])
    assert FORMAT_VERSION == 2 and Labels.load(now.save(tmp_path / "v2.npz")).scores.tolist() == [2, -2, 6]
    old = Labels(scores=np.array([4, -2, 6], np.float32), labelled=now.labelled, true_scores=now.true_scores,
                 marks=now.marks, lengths=now.lengths, meta=dict(now.meta))  # what version 1 exported
    back = Labels.load(_as_version_1(old, tmp_path / "v1.npz"))
    np.testing.assert_allclose(back.scores, [2, -2, 6])
    assert back.meta["rescored_from_version"] == 1
    # a simulated user's version-1 file: every trajectory as written, even one with every decision alike
    sim = label_dataset(data, wish, FeedbackNoise(), seed=0)
    assert Labels.load(_as_version_1(sim, tmp_path / "sim.npz")).scores.tolist() == [0, -3, 6]
    newer = _as_version_1(sim, tmp_path / "v3.npz")
    with np.load(newer, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["meta"] = np.array(str(arrays["meta"]).replace('"format_version": 1', '"format_version": 3'))
    np.savez_compressed(newer, **arrays)
    with pytest.raises(UserError, match="format version 3"):
        Labels.load(newer)


def test_whole_marks_score_within_the_simulated_users_range_on_gridnav(store):
    """Issue 15: whole marks scored +-T (+-100 on gridnav's longest trajectories) against simulated scores of
    about -27..26; as judgements worth +-sqrt(T) they lie inside that range."""
    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.envs import env_spec
    from dpf_gui.paths import dataset_path

    data = TrajectoryDataset.load(dataset_path("gridnav"))
    wish = make_wish(data.region_features, preset=env_spec("gridnav").preset("mixed"))
    simulated = label_dataset(data, wish, FeedbackNoise(), seed=0).scores
    longest, shortest = int(np.argmax(data.lengths)), int(np.argmin(data.lengths))
    fp = data.fingerprint()
    store.mark_trajectory(fp, longest, +1)
    store.mark_trajectory(fp, shortest, -1)
    scores = store.to_labels(data).scores
    assert data.lengths[longest] == 100 and scores[longest] == pytest.approx(10)
    assert scores[shortest] == pytest.approx(-np.sqrt(data.lengths[shortest]))
    assert simulated.min() < scores[shortest] < 0 < scores[longest] < simulated.max()
