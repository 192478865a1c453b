"""`dpf study` as an operator meets it: each mistake is one line naming what was wrong and what is allowed, exit
code 2, nothing written; what is allowed does what it says."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from dpf_gui.cli import main
from tests.study_helpers import tiny_protocol


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("cli")
    folder = str(root / "study")
    assert main(["study", "init", str(tiny_protocol(root)), "--out", folder]) == 0
    assert main(["study", "add", folder, "--participant", "P01"]) == 0
    return folder


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def refused(capsys, argv: list[str], fragment: str, folder: Path) -> None:
    """``argv`` fails as a user mistake: exit 2, one line on stderr holding ``fragment``, ``folder`` unchanged."""
    before = _tree(folder)
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err, err
    assert _tree(folder) == before


@pytest.mark.parametrize("name, fragment", [
    ("x.txt", "--out {out}: an export is a folder or a .zip bundle, not a .txt file; give a folder (x, or x.txt/ "
              "for a folder with a dot in its name) or x.zip"),
    ("x.csv", "not a .csv file"),
    ("x.TXT", "not a .TXT file"),
    ("bundle.zip/", "ends in / (a folder), but a .zip bundle is a file: give bundle.zip without the /"),
    ("no/such/x.zip", "cannot write --out x.zip: folder {tmp}/no/such does not exist (create it first"),
    ("no/such/x", "cannot write --out x: folder {tmp}/no/such does not exist"),
])
def test_export_out_that_is_neither_a_folder_nor_a_zip_is_refused(capsys, tmp_path, study_dir, name, fragment):
    out = f"{tmp_path}/{name}"
    refused(capsys, ["study", "export", study_dir, "--out", out], fragment.format(out=out, tmp=tmp_path), tmp_path)


def test_export_out_existing_file_is_refused_even_with_force(capsys, tmp_path, study_dir):
    (tmp_path / "notes.txt").write_text("mine")
    out = str(tmp_path / "notes.txt")
    for force in ([], ["--force"]):
        refused(capsys, ["study", "export", study_dir, "--out", out, *force], "notes.txt is a file; give a folder",
                tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("name, made", [
    ("bundle.ZIP", "zip"),  # the suffix in any case
    ("x.txt/", "folder"),  # a trailing / asks for a folder, dot or not
    ("export_2026.12.05", "folder"),  # digits after a dot are no file suffix
    ("plain/", "folder"),
])
def test_export_out_a_zip_or_a_folder(capsys, tmp_path, study_dir, name, made):
    assert main(["study", "export", study_dir, "--out", f"{tmp_path}/{name}"]) == 0
    out = tmp_path / name.rstrip("/")
    if made == "zip":
        assert zipfile.is_zipfile(out) and "results.csv" in zipfile.ZipFile(out).namelist()
    else:
        assert (out / "results.csv").is_file()
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # nothing else beside it (no temporary files)


def test_summary_before_anyone_finished_says_so_and_writes_nothing(capsys, tmp_path, study_dir):
    """P01 has not finished a condition: one line saying there is nothing yet (it printed a table of dashes for
    "simulated participants (pilot), n = 0", in a study with no pilot)."""
    capsys.readouterr()
    assert main(["study", "summary", study_dir, "--plot", str(tmp_path / "s.png")]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("no participants finished a condition yet: nothing to summarise (nothing written)")
    assert out.count("\n") == 1 and "pilot" not in out and not list(tmp_path.iterdir())


def test_withdrawing_twice_says_it_was_done_already(capsys, tmp_path):
    folder = str(tmp_path / "study")
    assert main(["study", "init", str(tiny_protocol(tmp_path)), "--out", folder]) == 0
    assert main(["study", "add", folder, "--participant", "P07"]) == 0
    capsys.readouterr()
    assert main(["study", "withdraw", folder, "--participant", "P07", "--yes"]) == 0
    assert "withdrew participant P07 (number 1): their data was deleted" in capsys.readouterr().out
    assert main(["study", "withdraw", folder, "--participant", "P07"]) == 0
    assert capsys.readouterr().out == "participant P07 (number 1) was withdrawn already; their data is deleted\n"


def test_withdrawing_a_participant_in_a_session_is_refused_until_it_is_closed(capsys, tmp_path):
    """Their session would go on logging into deleted files (s56: `dpf study withdraw` deleted the folder of a
    participant whose screen was open, and that screen went on)."""
    from dpf_gui.studies.folder import Study
    from dpf_gui.studies.session import Session

    folder = tmp_path / "study"
    assert main(["study", "init", str(tiny_protocol(tmp_path)), "--out", str(folder)]) == 0
    assert main(["study", "add", str(folder), "--participant", "P03"]) == 0
    session = Session(Study(folder), "P03")  # the participant's screen, open
    try:
        refused(capsys, ["study", "withdraw", str(folder), "--participant", "P03", "--yes"],
                "; close their screen first (Ctrl+Shift+Q), then withdraw", folder)
    finally:
        session.close()
    assert main(["study", "withdraw", str(folder), "--participant", "P03", "--yes"]) == 0
    assert not (folder / "participants" / "P03").exists() and Study(folder).withdrawn()[0]["id"] == "P03"


def test_withdrawing_asks_for_the_id_again_or_needs_yes(capsys, tmp_path, monkeypatch):
    """A typo (P01 for P10) deleted another person's data at once; the app asks twice, the command line now asks
    for the id on a terminal and, where no one can answer, needs --yes."""
    import io
    import sys

    folder = tmp_path / "study"
    assert main(["study", "init", str(tiny_protocol(tmp_path)), "--out", str(folder)]) == 0
    assert main(["study", "add", str(folder), "--participant", "P10"]) == 0
    kept = folder / "participants" / "P10"
    assert kept.is_dir()
    refused(capsys, ["study", "withdraw", str(folder), "--participant", "P10"], "cannot be undone: run it again "
            "with --yes to confirm", folder)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for typed, code in (("P01\n", 1), ("", 1), ("P10\n", 0)):  # a typo, Ctrl-D, the id
        monkeypatch.setattr(sys, "stdin", Terminal(typed))
        capsys.readouterr()
        assert main(["study", "withdraw", str(folder), "--participant", "P10"]) == code
        out = capsys.readouterr().out
        assert kept.is_dir() == (code == 1), out
        assert ("nothing was deleted" in out) == (code == 1) and "Type P10 to confirm" in out


def test_init_and_status_list_each_condition_with_what_participants_give(capsys, tmp_path):
    """A study comparing marks with rankings says so where it is made and where its state is looked up: each
    condition's strategy, feedback and budget, not its name alone."""
    from tests.study_helpers import RANKS

    folder = str(tmp_path / "study")
    assert main(["study", "init", str(tiny_protocol(tmp_path, RANKS)), "--out", folder]) == 0
    assert main(["study", "status", folder]) == 0
    out = capsys.readouterr().out
    for condition in ("condition static (static, marks up to 8 trips)",
                      "condition dynamic (dynamic, ranks up to 8 trips)"):
        assert out.count(condition) == 2, out
