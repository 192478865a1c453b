"""End to end on gridnav: a simulated user avoids the toll road, a small intent model learns it,
and dynamic fusion keeps the agent off the toll road while it still reaches the goal."""

import pytest

from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.errors import UserError
from dpf_gui.evaluate import evaluate
from dpf_gui.intent.train import IntentConfig, train_intent
from dpf_gui.oracles import FeedbackNoise, label_dataset
from dpf_gui.paths import models_root
from dpf_gui.pipeline import build_agents, load_task_agent
from dpf_gui.wish import make_wish


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    task = load_task_agent("gridnav")
    data = TrajectoryDataset.load(models_root() / "gridnav" / "trajectories.npz")
    data = data.subset(range(0, len(data), 2))  # every other episode: early clumsy and late skilled ones
    wish = make_wish(data.region_features, avoid=["terrain=toll"])
    labels = label_dataset(data, wish, FeedbackNoise(), seed=0)
    out = tmp_path_factory.mktemp("intent")
    result = train_intent(data, labels, seed=0, out_dir=out, config=IntentConfig(max_epochs=25, patience=5), progress=False)
    return task, wish, out, result


def test_dynamic_fusion_avoids_the_toll_and_reaches_the_goal(trained):
    task, wish, out, result = trained
    assert result.metrics["held_out"]["corr"] > 0.9
    agents = build_agents(task, ["task", "dynamic"], intent_dir=out)
    res = evaluate("gridnav", agents, episodes=10, seed=0, env_config=task.env_config, wish=wish, progress=False).strategies
    assert res["task"]["avoid_fraction"]["mean"] > 0.3  # the task agent takes the toll road
    assert res["dynamic"]["task_success"]["mean"] == 1.0
    assert res["dynamic"]["avoid_fraction"]["mean"] < 0.5 * res["task"]["avoid_fraction"]["mean"]


def test_intent_model_for_another_environment_is_refused(trained):
    _, _, out, _ = trained
    pong = load_task_agent("pong")
    with pytest.raises(UserError, match="trained for 'gridnav', not 'pong'"):
        build_agents(pong, ["dynamic"], intent_dir=out)
