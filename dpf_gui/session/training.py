"""The Train tab's logic without Qt: what to train on, with which settings, and how to judge the fit.

The Train tab, the demo, the lesson and scripts share these: the labels a
workspace gives for training (with the wish they were given for recorded),
the configs the form describes (interactive defaults, fast enough to wait
for), the demo's small quick config, the checkpoint folder a training run
writes to, and the verdict on a held-out fit.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from dpf_gui.agents.intent_agent import model_kind
from dpf_gui.errors import UserError
from dpf_gui.fileio import cannot_write_in
from dpf_gui.intent.partial_marks import summed_predictions

#: the kinds offered, as the form names them
KIND_CHOICES = (("additive", "additive (learns from few marks)"), ("lstm", "LSTM (the paper's)"))
#: LSTM settings of the form and their defaults: fast enough for interactive use (gridnav's 1495 trajectories:
#: about 10-15 s on one core), good enough for the fit to be worth looking at
DEFAULTS = {"max_epochs": 30, "hidden": 64, "seed": 0, "max_time_s": 60, "max_train_per_epoch": 1000}
#: additive settings of the form: the kind's measured defaults (docs/RESULTS.md; gridnav about 15 s on a busy core)
ADDITIVE_DEFAULTS = {"members": 8, "hidden": 64, "utility_steps": 400, "value_steps": 3000, "horizon": 10,
                     "time_cost": 0.0}
#: the verdict on a held-out fit by its correlation: good from GOOD_CORR, fair from FAIR_CORR, weak below
GOOD_CORR, FAIR_CORR = 0.8, 0.5
#: a note when at least this share of the labelled trajectories has one score: the few others then carry all
#: the intent model learns (all of them at one score: training refuses, dpf_gui/intent/train.py). Binary marks of
#: a wish every stored trajectory touches come out this way: every one "worse" but for a few mistakes
LOPSIDED_SHARE = 0.85
#: fewer labelled trajectories than this: no such note (a handful of marks is lopsided by chance)
LOPSIDED_MIN = 8
#: a note when at least this share of the stored decisions leads into places no labelled trajectory reaches
#: (gridnav, 25 random labels of the avoid preset: 16 %; highway 1 %; Pong 0 %)
UNREACHED_SHARE = 0.05
#: fewer held-out trajectories than this: no verdict. Two points always correlate perfectly, and with few the
#: verdict is chance: scores unrelated to the predictions (normal, independent) reach "fair" (r >= 0.5) with
#: probability 0.19 at n = 5, 0.10 at 8, 0.059 at 11 and 0.049 at 12, so from 12 on every verdict short of
#: "weak" is significant at 5 % (one-sided; tests/test_app_flow.py computes these)
MIN_HELD_OUT = 12


def interactive_config(max_epochs: int = DEFAULTS["max_epochs"], hidden: int = DEFAULTS["hidden"],
                       max_time_s: float | None = DEFAULTS["max_time_s"],
                       max_train_per_epoch: int | None = DEFAULTS["max_train_per_epoch"]):
    """The LSTM's :class:`IntentConfig` the form describes (everything else: the CLI's defaults)."""
    from dpf_gui.intent.lstm_config import IntentConfig

    return IntentConfig(embed=int(hidden), hidden=int(hidden), max_epochs=int(max_epochs),
                        patience=max(5, min(10, int(max_epochs) // 3)),
                        max_time_s=float(max_time_s) if max_time_s else None,
                        max_train_per_epoch=int(max_train_per_epoch) if max_train_per_epoch else None)


def additive_config(members: int = ADDITIVE_DEFAULTS["members"], hidden: int = ADDITIVE_DEFAULTS["hidden"],
                    utility_steps: int = ADDITIVE_DEFAULTS["utility_steps"],
                    value_steps: int = ADDITIVE_DEFAULTS["value_steps"], horizon: float = ADDITIVE_DEFAULTS["horizon"],
                    time_cost: float = ADDITIVE_DEFAULTS["time_cost"], **more):
    """The additive kind's :class:`AdditiveConfig` the form describes (``more``: other fields, e.g. the demo's)."""
    from dpf_gui.intent.additive_config import AdditiveConfig

    return AdditiveConfig(members=int(members), hidden=int(hidden), utility_steps=int(utility_steps),
                          value_steps=int(value_steps), horizon=float(horizon), time_cost=float(time_cost), **more)


def config_kind(config) -> str:
    from dpf_gui.intent.additive_config import AdditiveConfig

    return "additive" if isinstance(config, AdditiveConfig) else "lstm"


def labels_for_training(ws):
    """The workspace's labels, with the wish they were given for recorded.

    The store keeps each simulated batch's wish in its note; when every
    active simulated batch had the same wish, it goes into the labels' meta,
    so the intent checkpoint says which wish it learned (Play shows its
    regions). Marks made by hand carry the wish the person wrote down ("my
    wish" in the Annotate tab), if any.
    """
    labels = ws.labels()
    if "simulated" in str(labels.meta.get("source", "")):
        try:
            notes = [h.get("note") or {} for h in ws.store.history(ws.fingerprint)
                     if h.get("state") == "active" and _simulated_batch(h)]
        except Exception:  # noqa: BLE001 (provenance is a nicety; never stop training for it)
            notes = []
        wishes = {repr(n.get("wish")) for n in notes if n.get("wish")}
        if len(wishes) == 1:
            note = next(n for n in notes if n.get("wish"))
            labels.meta["wish"] = note["wish"]
            for key in ("mode", "noise", "seed"):
                if key in note:
                    labels.meta.setdefault(key, note[key])
            return labels
    mine = ws.typed_wish()
    if mine is not None:
        labels.meta["wish"] = mine.describe()
    return labels


def _simulated_batch(action: dict) -> bool:
    """A simulated user's batch in the store's history: labels imported, or rankings it made."""
    return action.get("kind") == "import" or (action.get("kind"), action.get("source")) == ("rank", "simulated-user")


def training_wish(ws, labels):
    """The wish the labels were given for (a simulated user's, or the person's own), or None."""
    w = labels.meta.get("wish")
    if isinstance(w, dict) and (w.get("prefer") or w.get("avoid")):
        try:
            return ws.wish("", [str(t) for t in w.get("prefer") or ()], [str(t) for t in w.get("avoid") or ()])
        except UserError:
            return None
    return ws.typed_wish()


def wish_notes(ws, labels) -> list[str]:
    """Plain words about what the labels cannot teach of their wish (regions no labelled, or hardly any stored,
    trajectory enters; with a person's marks, regions nearly every stored one enters), each with what to do; []
    when there is no wish or nothing to say."""
    warnings, advice, _thin = wish_note_kinds(ws, labels)
    return warnings + advice


def refusal_notes(ws, labels) -> str:
    """What a refused training adds about the labels' wish ("" when nothing): :func:`wish_notes`, pointing to
    *Collect more varied trajectories* only where that is the remedy (a region hardly any stored trajectory
    enters), not for a region the labels miss or one nearly every stored trajectory enters (collecting adds more
    of the same there)."""
    warnings, advice, thin = wish_note_kinds(ws, labels)
    if not warnings + advice:
        return ""
    return ("\n\nWhat the data says about your wish: " + " ".join(warnings + advice)
            + (" (Annotate tab: Collect more varied trajectories…)" if thin else ""))


def wish_note_kinds(ws, labels) -> tuple[list[str], list[str], bool]:
    """:func:`wish_notes` as (warnings, advice, thin): what the labels cannot teach; how to mark a region nearly
    every stored trajectory enters (with a person's marks only; the Train tab colours the two as the wish dialogs
    do); whether some region is too thin in the stored data to be learned."""
    from dpf_gui.session.workspace import wish_coverage

    wish = training_wish(ws, labels)
    if wish is None:
        return [], [], False
    cov = wish_coverage(ws.dataset, wish, labels.labelled)
    return cov.warnings, (cov.advice if labels.has_persons_marks else []), cov.thin


def lopsided_note(labels) -> str | None:
    """Plain words when nearly every labelled trajectory has the same score (:data:`LOPSIDED_SHARE`), so that
    the person knows the few others carry everything the model will learn (or, all alike, that there is nothing
    to learn yet), and what to mark; None otherwise
    (and for comparisons, which carry no scores).

    A person's whole marks count by their kind: each is worth +-sqrt(T) (:mod:`dpf_gui.data.study`), so
    trajectories of different lengths marked alike differ only by their length."""
    from dpf_gui.session.workspace import MARK_WORDS

    if labels.pairs is not None:
        return None
    scores = np.asarray(labels.scores, dtype=np.float64)[np.asarray(labels.labelled, dtype=bool)]
    scores = scores[np.isfinite(scores)]
    if len(scores) < LOPSIDED_MIN:
        return None
    whole_marks = labels.only_persons_marks and labels.known is None
    values, counts = np.unique(np.sign(scores) if whole_marks else scores, return_counts=True)
    same = int(counts.max())
    if same < LOPSIDED_SHARE * len(scores):
        return None
    common = values[counts.argmax()]
    alike = f"are marked {MARK_WORDS[int(common)]}" if whole_marks else f"have the same score ({common:g})"
    if same == len(scores):  # said before anyone presses Train or runs dpf train-intent, which refuse them
        return (f"All {same} labelled trajectories {alike}: the intent model learns from differences, so there is "
                "nothing to learn from them yet (training refuses them). Mark trajectories that are better or worse "
                "than these.")
    others = len(scores) - same
    others = "the one other carries" if others == 1 else f"the other {others} carry"
    return (f"{same} of the {len(scores)} labelled trajectories {alike}: the intent model learns from "
            f"differences, so {others} all it will learn. Mark more trajectories that are better or worse than "
            "these.")


def unreached_note(dataset, labels, config, intent: str = "the intent") -> str | None:
    """Plain words when at least :data:`UNREACHED_SHARE` of the stored decisions lead into places no labelled
    trajectory reaches (what an intent trained with ``config`` does there, and what to label); None otherwise.
    ``intent``: what the words call that model (the labelling command names the kind it assumes)."""
    from dpf_gui.intent.unreached import unreached_places

    places = unreached_places(dataset, labels)
    if places.labelled == 0 or places.share < UNREACHED_SHARE:
        return None
    return places.text(pulls=getattr(config, "unseen_pull", 0) > 0, intent=intent)


def final_predictions(model, dataset, indices) -> np.ndarray:
    """The predicted score of each trajectory (the last g_t along its stored actions), for either kind."""
    indices = [int(i) for i in indices]
    if model_kind(model) == "lstm":
        from dpf_gui.intent.redistribute import predict_dataset

        g = predict_dataset(model, dataset, indices)
        return np.array([float(g[i][-1]) if len(g[i]) else 0.0 for i in indices])
    out = []
    for i in indices:
        g = model.predict(dataset.features[dataset.state_slice(i)], dataset.actions[dataset.step_slice(i)])
        out.append(float(g[-1]) if len(g) else 0.0)
    return np.asarray(out)


def fit_points(result, dataset, labels, limit: int = 400) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(predicted, given) of held-out ("val") and training trajectories, at most ``limit`` dots each.

    Held-out predictions come with the result where the kind makes them while training (the additive
    kind's out-of-bag predictions), else from the model.
    """
    scores = np.asarray(labels.scores, dtype=np.float64)
    rng = np.random.default_rng(0)
    out = {}
    for part, idx, made in (("val", result.val_indices, result.held_out_pred), ("train", result.train_indices, None)):
        idx = np.asarray(idx, dtype=np.int64)
        keep = np.arange(len(idx))
        if len(idx) > limit:  # enough dots to see the fit
            keep = np.sort(rng.choice(len(idx), limit, replace=False))
        if made is not None:
            pred = np.asarray(made, dtype=np.float64)[keep]
        elif model_kind(result.model) == "lstm":
            pred = final_predictions(result.model, dataset, idx[keep])
        else:  # a trajectory marked only in part is fitted over its marked decisions
            pred = summed_predictions(result.model, dataset, labels, idx[keep])
        out[part] = (pred, scores[idx[keep]])
    return out


#: the demo's and the lesson's config: the default (additive) kind, small and quick (gridnav ~3 s, Pong ~4 s,
#: highway ~2 s on a busy core): the form's fields ...
DEMO_TRAINING = {"members": 4, "hidden": 32, "utility_steps": 150, "value_steps": 400}
#: ... and settings the form does not show: fewer decisions per utility step and transitions for the value
DEMO_TRAINING_MORE = {"utility_rows": 4000, "max_transitions": 20000}
#: the seed the demo and the lesson train with
TRAIN_SEED = 0


def small_config():
    """The demo's small additive config: the form's fields (:data:`DEMO_TRAINING`) and the ones it does not show."""
    return additive_config(**DEMO_TRAINING, **DEMO_TRAINING_MORE)


def checkpoint_dir(ws) -> Path:
    """A new folder for an intent model trained on ``ws``: ``<study folder>/intent/<env>-<time>[-k]``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(ws.store.path).parent / "intent" / f"{ws.env_name}-{stamp}"
    k = 1
    while out.exists():
        k += 1
        out = out.with_name(f"{ws.env_name}-{stamp}-{k}")
    return out


def check_writable(out_dir: str | Path) -> None:
    """The checkpoint must have somewhere to go (a read-only study folder has not): a UserError if not."""
    parent = Path(out_dir).parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        problem = cannot_write_in(parent)
    except OSError as exc:
        problem = exc
    if problem is not None:
        raise UserError(f"cannot save the intent model in {parent} ({problem.strerror or problem}); "
                        "choose a study folder you can write in (File menu)") from None


def best_epoch_words(best_epoch: int) -> str:
    """The LSTM's best epoch in words; epoch 0 means no epoch beat the untrained weights on the held-out
    trajectories, so those are kept (a "best epoch 0" read as a glitch, and said nothing of what to do)."""
    if best_epoch:
        return f"best epoch {best_epoch}"
    return ("no epoch did better on the held-out trajectories than the untrained model, whose weights are kept: "
            "label more (the LSTM needs many; the additive kind learns from few)")


def fit_verdict(held: dict[str, Any]) -> str:
    """" · good" / " · fair" / " · weak: ..." for a held-out fit, only with enough held-out trajectories
    (:data:`MIN_HELD_OUT`); with fewer, says so and how many a verdict needs (the fit line shows n before it).

    A correlation that is undefined while pairs with different given scores exist means the model predicts the same
    score for all of them (an LSTM on a handful of marks): that is said, since a dash alone reads as "not computed"."""
    corr = held.get("corr")
    if corr is None:
        if held.get("pair_acc") is None:  # too few trajectories, or all given the same score: nothing to judge
            return ""
        return (" · the model predicts the same score for every one of them: it learned nothing from these marks "
                "(label more; the LSTM needs many more than the additive kind)")
    n = held.get("n") if isinstance(held.get("n"), int) else 0
    if n < MIN_HELD_OUT:
        return f" · too few held-out trajectories to judge the fit (a verdict needs n ≥ {MIN_HELD_OUT}: label more)"
    return (" · good" if corr >= GOOD_CORR else " · fair" if corr >= FAIR_CORR else
            " · weak: label more, or more consistently")


__all__ = ["ADDITIVE_DEFAULTS", "DEFAULTS", "DEMO_TRAINING", "DEMO_TRAINING_MORE", "FAIR_CORR", "GOOD_CORR",
           "KIND_CHOICES", "LOPSIDED_MIN", "LOPSIDED_SHARE", "MIN_HELD_OUT", "TRAIN_SEED", "UNREACHED_SHARE",
           "additive_config", "best_epoch_words", "check_writable", "checkpoint_dir", "config_kind",
           "final_predictions", "fit_points", "fit_verdict", "interactive_config", "labels_for_training",
           "lopsided_note", "refusal_notes", "small_config", "training_wish", "unreached_note", "wish_note_kinds",
           "wish_notes"]
