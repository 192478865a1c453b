"""A person's first hour with the app: what they are told when things do not go as hoped (an LSTM trained on a
handful of marks that learned nothing, a refused training about a wish) must be true and say what to do."""

import dataclasses

from dpf_gui.session.training import fit_verdict
from tests.qt_helpers import WAIT_MS, open_window

SCENIC = 4  # gridnav terrain code


def test_a_fit_whose_model_predicts_one_score_for_all_says_it_learned_nothing():
    """An LSTM on 14 marks predicted the same score for every held-out trajectory: the correlation is undefined,
    and the fit line showed only a dash for the correlation and n = 3, no verdict and nothing to do."""
    constant = {"n": 3, "corr": None, "sign_acc": 0.5, "pair_acc": 0.0}
    assert "same score for every one of them" in fit_verdict(constant) and "label more" in fit_verdict(constant)
    # nothing to judge (all held-out trajectories given one score, or a single one): still no verdict
    assert fit_verdict({"n": 50, "corr": None, "pair_acc": None}) == "" and fit_verdict({"corr": None}) == ""


def test_an_lstm_that_kept_its_untrained_weights_says_so(qtbot, tmp_path, messages, monkeypatch):
    """No epoch beat the untrained weights on the held-out trajectories (a few marks): the status said "best epoch
    0", which reads as a number among the epochs 1.. of the loss plot, while the model put in use is untrained."""
    from dpf_gui.intent import registry

    real = registry.train_intent

    def no_epoch_better(*args, **kw):  # the real training, as it ends when no epoch improved on the start
        return dataclasses.replace(real(*args, **kw), best_epoch=0)

    monkeypatch.setattr(registry, "train_intent", no_epoch_better)
    window = open_window(qtbot, tmp_path, env="gridnav")
    ws, train = window.workspace, window.train
    for i in range(8):
        ws.mark(i, (1, -1)[i % 2])
    window.tabs.setCurrentWidget(train)
    train.set_config(kind="lstm", max_epochs=2, hidden=8)
    with qtbot.waitSignal(train.trainingFinished, timeout=WAIT_MS) as done:
        assert train.train()
    assert done.args[0] is True
    status = train.status.text()
    assert "best epoch 0" not in status and "untrained model, whose weights are kept" in status
    assert "label more" in status
    window.close()


def test_a_refused_training_points_to_collecting_only_where_collecting_helps(qtbot, tmp_path, messages):
    """Training refused for too few marks adds what the data says about the wish; it sent the person to *Collect
    more varied trajectories* for every note, also for a region the stored data enters often (the remedy is to
    label such trajectories, and the note says so; collecting adds more of the same)."""
    window = open_window(qtbot, tmp_path, env="gridnav")
    ws, train = window.workspace, window.train
    window.tabs.setCurrentWidget(train)
    terrain = ws.dataset.next_state_regions()[:, 2]
    plain = [i for i in range(len(ws)) if (terrain[ws.dataset.step_slice(i)] != SCENIC).all()]
    ws.mark(plain[0], 1)
    ws.mark(plain[1], -1)

    def refusal(prefer: str) -> str:
        ws.set_typed_wish([prefer], [])
        with qtbot.waitSignal(train.trainingFinished, timeout=WAIT_MS) as done:
            train.train()
        assert done.args[0] is False and "only 2 trajectories are labelled" in done.args[1]
        return done.args[1]

    often = refusal("terrain=scenic")  # 143 stored trajectories enter it; neither labelled one does
    assert "label some that do" in often and "Collect more varied" not in often
    rare = refusal("x=7&y=9")  # one stored trajectory enters it
    assert "collect more varied trajectories" in rare and "(Annotate tab: Collect more varied trajectories…)" in rare
    window.close()


def test_the_best_epoch_in_words_says_what_epoch_0_means():
    """The Train tab and `dpf train-intent --kind lstm` share the words: epoch 0 is the untrained model kept."""
    from dpf_gui.session.training import best_epoch_words

    assert best_epoch_words(7) == "best epoch 7"
    assert "untrained model, whose weights are kept" in best_epoch_words(0) and "label more" in best_epoch_words(0)
