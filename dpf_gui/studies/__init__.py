"""User studies on a workstation (docs/STUDY.md): no Qt here; the app and ``dpf study`` share it.

One module, one job:

* :mod:`.protocol`: the protocol file (TOML), read and checked strictly;
* :mod:`.order`: which condition each participant meets when (fixed, random, Latin square);
* :mod:`.events`: the append-only, crash-safe event log (SQLite);
* :mod:`.folder`: the study folder: its protocol, participants, withdrawal;
* :mod:`.session`: one participant's walk through the phases, resumable at the phase it was in;
* :mod:`.simulate`: simulated participants (``dpf study pilot``) and their questionnaire answers;
* :mod:`.export`: CSV files an analyst can open, with a README of every column.
"""
