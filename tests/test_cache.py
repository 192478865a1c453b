"""The cache of finished work: an entry is used only when complete, intact and made from the same inputs."""

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from dpf_gui.cache import STAMP, CacheEntry, read_json
from tests.helpers import HANG_S


def _build(entry, text, extra="b"):
    with entry.build() as tmp:
        (tmp / "a.txt").write_text(text)
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.txt").write_text(extra)


def test_an_entry_is_done_only_after_complete_work(tmp_path):
    entry = CacheEntry(tmp_path, "intent-seed0", {"seed": 0, "data": "abc"})
    assert not entry.done()
    with pytest.raises(KeyboardInterrupt), entry.build() as tmp:
        (tmp / "a.txt").write_text("half")
        raise KeyboardInterrupt  # Ctrl-C, or training that returned interrupted=True
    assert not entry.done() and not entry.path.exists()
    assert list(tmp_path.iterdir()) == []  # the unfinished work is gone, not left for the next run
    _build(entry, "whole")
    assert entry.done()
    assert (entry.path / "a.txt").read_text() == "whole"
    assert set(read_json(entry.path / STAMP)["files"]) == {"a.txt", "sub/b.txt"}
    assert entry.path.name.startswith("intent-seed0-")


def test_inputs_that_differ_in_anything_never_share_an_entry(tmp_path):
    seed0 = CacheEntry(tmp_path, "intent", {"seed": 0, "data": "abc"})
    seed1 = CacheEntry(tmp_path, "intent", {"seed": 1, "data": "abc"})
    assert seed0.path != seed1.path
    assert CacheEntry(tmp_path, "intent", {"data": "abc", "seed": 0}).path == seed0.path  # key order is no input
    _build(seed1, "seed 1's model")
    assert seed1.done() and not seed0.done()
    # even a stamp copied under the other entry's name is refused: the stored key must be this key
    seed1.path.rename(seed0.path)
    assert not seed0.done()


@pytest.mark.parametrize("damage", ["truncated stamp", "truncated file", "missing file", "stamp of another key"])
def test_a_damaged_entry_counts_as_missing_and_is_redone(tmp_path, damage):
    entry = CacheEntry(tmp_path, "cell", {"seed": 0})
    _build(entry, '{"strategies": {"task": 1}}')
    if damage == "truncated stamp":
        stamp = entry.path / STAMP
        stamp.write_text(stamp.read_text()[:40])
        assert read_json(stamp) is None  # unparsable reads as missing, never raises
    elif damage == "truncated file":
        (entry.path / "a.txt").write_text('{"strategies": {"ta')
    elif damage == "missing file":
        (entry.path / "sub" / "b.txt").unlink()
    else:
        other = CacheEntry(tmp_path, "cell", {"seed": 1})
        _build(other, "other")
        (entry.path / STAMP).write_text((other.path / STAMP).read_text())
    assert not entry.done()
    _build(entry, "redone")  # the damaged folder is replaced by the new one
    assert entry.done() and (entry.path / "a.txt").read_text() == "redone"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_new_key_replaces_an_unhashed_entry(tmp_path):
    old = CacheEntry(tmp_path, "retrain", {"config": 1}, hashed=False)
    _build(old, "old")
    new = CacheEntry(tmp_path, "retrain", {"config": 2}, hashed=False)
    assert new.path == old.path and not new.done()
    _build(new, "new", extra="new b")
    assert new.done() and not old.done()
    assert (new.path / "a.txt").read_text() == "new"


def test_the_same_entry_built_by_two_workers_at_once_stays_whole(tmp_path):
    entry = CacheEntry(tmp_path, "cell", {"seed": 0})
    both_writing = threading.Barrier(2)

    def work(name):
        with entry.build() as tmp:
            (tmp / "a.txt").write_text(name)
            both_writing.wait(timeout=HANG_S)
            (tmp / "sub").mkdir()
            (tmp / "sub" / "b.txt").write_text(name)

    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(work, name) for name in ("first", "second")]:
            done.result()  # re-raises a worker's error
    assert entry.done()
    # both files come from the same worker: never one file of each
    assert (entry.path / "a.txt").read_text() == (entry.path / "sub" / "b.txt").read_text()
    assert [p.name for p in tmp_path.iterdir()] == [entry.path.name]


def _build_in_a_process(root, name, ready):
    entry = CacheEntry(root, "cell", {"seed": 0})
    with entry.build() as tmp:
        (tmp / "a.txt").write_text(name)
        ready.wait(timeout=HANG_S)
        (tmp / "b.txt").write_text(name)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_the_same_entry_built_by_two_processes_at_once_stays_whole(tmp_path):
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Barrier(2)
    procs = [ctx.Process(target=_build_in_a_process, args=(tmp_path, name, ready)) for name in ("first", "second")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=HANG_S)
    assert [p.exitcode for p in procs] == [0, 0]
    entry = CacheEntry(tmp_path, "cell", {"seed": 0})
    assert entry.done()
    assert (entry.path / "a.txt").read_text() == (entry.path / "b.txt").read_text()
    assert [p.name for p in tmp_path.iterdir()] == [entry.path.name]


def test_a_key_without_a_stable_text_form_is_refused(tmp_path):
    with pytest.raises(TypeError):
        CacheEntry(tmp_path, "cell", {"model": object()})
