"""Region expressions: parsing (valid and invalid) and matching."""

import numpy as np
import pytest

from dpf_gui.envs import env_spec
from dpf_gui.errors import UserError
from dpf_gui.wish import make_wish, parse_expression, wish_line

HW = env_spec("highway").region_features
GRID = env_spec("gridnav").region_features
PONG = env_spec("pong").region_features


@pytest.mark.parametrize(
    "text, rows, expected",
    [
        ("lane=0", [[0, 20], [1, 20], [3, 30]], [True, False, False]),
        ("lane=1,3", [[0, 20], [1, 20], [3, 30]], [False, True, True]),
        ("speed=25..", [[0, 24.9], [1, 25], [3, 30]], [False, True, True]),
        ("speed=..25", [[0, 24.9], [1, 25], [3, 30]], [True, True, False]),
        ("lane=1..2&speed=20..26", [[1, 20], [2, 27], [3, 21], [2, 26]], [True, False, False, True]),
        (" lane = 2 ", [[2, 0], [1, 0]], [True, False]),
    ],
)
def test_highway_expressions_match(text, rows, expected):
    expr = parse_expression(text, HW)
    assert expr.matches(np.array(rows, np.float32)).tolist() == expected


def test_category_and_conjunction_on_grid():
    terrains = GRID[2].categories
    toll = terrains.index("toll")
    rows = np.array([[4, 5, toll], [3, 2, 0], [4, 1, 0]], np.float32)
    assert parse_expression("terrain=toll", GRID).matches(rows).tolist() == [True, False, False]
    assert parse_expression("x=3..5&y=0..4", GRID).matches(rows).tolist() == [False, True, True]
    assert parse_expression("terrain=toll,plain", GRID).matches(rows).tolist() == [True, True, True]


def test_pong_open_bounds():
    rows = np.array([[0.0], [0.15], [0.5], [0.9]], np.float32)
    assert parse_expression("paddle=..0.15", PONG).matches(rows).tolist() == [True, True, False, False]
    assert parse_expression("paddle=0.35..0.65", PONG).matches(rows).tolist() == [False, False, True, False]


@pytest.mark.parametrize(
    "text, features, fragment",
    [
        ("", HW, "empty region expression"),
        ("lane", HW, "malformed term"),
        ("lane>2", HW, "malformed term"),
        ("lanes=2", HW, "unknown region feature 'lanes'"),
        ("lane=", HW, "missing value"),
        ("lane=7", HW, "out of range"),
        ("lane=1.5", HW, "whole numbers"),
        ("lane=two", HW, "not a number"),
        ("speed=30..20", HW, "lower bound"),
        ("speed=..", HW, "at least one bound"),
        ("speed=nan", HW, "finite"),
        ("paddle=1.5..", PONG, "out of range"),
        ("terrain=swamp", GRID, "unknown terrain 'swamp'"),
        ("terrain=toll..scenic", GRID, "ranges do not apply"),
        ("x=1&", GRID, "malformed term"),
    ],
)
def test_invalid_expressions_name_the_problem(text, features, fragment):
    with pytest.raises(UserError, match=fragment.replace("(", r"\(")):
        parse_expression(text, features)


def test_unknown_feature_lists_the_allowed_ones():
    with pytest.raises(UserError, match="allowed: lane, speed"):
        parse_expression("paddle=0.5", HW)


def test_wish_modes_and_marks():
    assert make_wish(HW, avoid=["lane=0"]).mode == "avoid"
    assert make_wish(HW, prefer=["lane=2"]).mode == "prefer"
    wish = make_wish(HW, prefer=["lane=2"], avoid=["lane=0", "speed=28.."])
    assert wish.mode == "mixed"
    rows = np.array([[0, 20], [2, 20], [2, 29], [1, 29], [1, 20]], np.float32)
    assert wish.marks(rows).tolist() == [-1, 1, 0, -1, 0]
    with pytest.raises(UserError, match="no wish given"):
        make_wish(HW)


def test_a_region_both_preferred_and_avoided_is_refused():
    """`dpf label --prefer x=1 --avoid x=1` wrote labels that were all 0, without a word."""
    with pytest.raises(UserError, match="region 'x=1' is both preferred and avoided \\(as 'x = 1'\\)"):
        make_wish(GRID, prefer=["x=1"], avoid=["y=3", "x = 1"])
    with pytest.raises(UserError, match="both preferred and avoided"):
        make_wish(GRID, prefer=["x=1&y=2"], avoid=["y=2&x=1"])  # the same conjunction in another order
    assert make_wish(GRID, prefer=["x=1"], avoid=["x=1&y=2"]).mode == "mixed"  # overlapping regions stay allowed


def test_a_wish_shown_on_one_line_can_be_given_back_as_it_is():
    """`dpf envs` and the reports write OR-ed regions as 'A | B': that text is the same wish as two expressions."""
    preset = env_spec("pong").preset("avoid")
    shown = " | ".join(preset.avoid)
    assert shown == "paddle=..0.15 | paddle=0.85.."  # as `dpf envs` prints it
    assert make_wish(PONG, avoid=[shown]).describe() == make_wish(PONG, preset=preset).describe()
    with pytest.raises(UserError, match="empty region expression"):
        make_wish(PONG, avoid=["paddle=..0.15 |"])


def test_a_whole_wish_on_one_line_reads_back_as_dpf_envs_prints_it():
    """``dpf benchmark --wish`` takes a wish as `dpf envs` and the reports write it on one line."""
    for preset in env_spec("highway").presets + env_spec("pong").presets:
        line = "; ".join(f"{side} {' | '.join(getattr(preset, side))}" for side in ("prefer", "avoid")
                         if getattr(preset, side))
        prefer, avoid = wish_line(line)
        assert make_wish(PONG if "paddle" in line else HW, prefer=prefer, avoid=avoid).describe() == \
            make_wish(PONG if "paddle" in line else HW, preset=preset).describe()
    assert wish_line(" avoid lane=0 ") == ([], ["lane=0"])
    for bad, fragment in (("lane=2", "write 'prefer REGIONS'"), ("prefer lane=2; prefer lane=1", "twice"),
                          ("prefer ", "write 'prefer REGIONS'"), ("prefer lane=2;", "write 'prefer REGIONS'"),
                          ("like lane=2", "write 'prefer REGIONS'")):
        with pytest.raises(UserError, match=fragment):
            wish_line(bad)


def test_a_malformed_given_wish_shows_an_example_in_its_own_environment():
    """``dpf benchmark --envs gridnav --wish 'like x=1'`` once answered with highway's lanes."""
    from dpf_gui.benchmark import own_wishes
    from dpf_gui.data.trajectories import TrajectoryDataset
    from dpf_gui.pipeline import load_task_agent

    data = TrajectoryDataset.load(load_task_agent("gridnav").dataset_path, expect_env="gridnav")
    with pytest.raises(UserError) as e:
        own_wishes("gridnav", data, ["like x=1"])
    assert "e.g. prefer terrain=scenic; avoid terrain=toll, or a preset: avoid, prefer, mixed" in str(e.value)
    assert "lane" not in str(e.value)
