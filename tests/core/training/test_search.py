"""Searches: parsing a search space, drawing trials (random and grid), and the trials' configs."""

from __future__ import annotations

import math

import pytest

from core.errors import UserInputError
from core.training.runs import RunConfig
from core.training.search import (
    MAX_TRIALS,
    Range,
    describe_space,
    draw_trials,
    new_search_group,
    parse_space,
    search_configs,
    searched,
    trial_rows,
)


def test_a_space_takes_lists_and_ranges_typed_like_a_sweep():
    space = parse_space(["lr=1e-4..1e-2", "K=3,5,8", " hidden = 16..64 "])
    assert space == {"lr": Range(1e-4, 1e-2), "K": [3, 5, 8], "hidden": Range(16, 64)}
    assert isinstance(space["hidden"].low, int) and isinstance(space["lr"].low, float)
    assert describe_space(space) == "lr=0.0001..0.01 K=3,5,8 hidden=16..64"


@pytest.mark.parametrize(
    "specs, names",
    [
        ([], "space"),
        (["lr"], "space"),
        (["lr=0.1..0.01"], "lr"),
        (["lr=a..b"], "lr"),
        (["model=mlp..cnn"], "model"),
        (["nope=1,2"], "param"),
        (["lr=0.1,0.2", "lr=0.3"], "space"),
        (["lr=nan..1"], "lr"),
    ],
)
def test_a_bad_space_names_what_is_wrong(specs, names):
    with pytest.raises(UserInputError) as err:
        parse_space(specs)
    assert err.value.param == names


def test_random_trials_are_seeded_distinct_and_inside_the_space():
    space = parse_space(["lr=1e-4..1e-2", "hidden=16..64", "K=3,5"])
    trials = draw_trials(space, 12, "random", seed=1)
    assert trials == draw_trials(space, 12, "random", seed=1)  # the same seed draws the same trials
    assert trials != draw_trials(space, 12, "random", seed=2)
    assert len({tuple(t.items()) for t in trials}) == 12
    for t in trials:
        assert 1e-4 <= t["lr"] <= 1e-2 and 16 <= t["hidden"] <= 64 and t["K"] in (3, 5)
        assert isinstance(t["hidden"], int)


def test_a_positive_float_range_is_drawn_log_uniformly():
    space = {"lr": Range(1e-4, 1e-2)}
    import random

    rng = random.Random(0)
    draws = [space["lr"].draw(rng) for _ in range(2000)]
    below = sum(d < 1e-3 for d in draws) / len(draws)  # log-uniform: half below the geometric middle
    assert 0.45 < below < 0.55
    assert all(math.isclose(d, float(f"{d:.3g}")) for d in draws)  # 3 significant digits, readable in a table


def test_a_grid_is_every_combination_of_listed_values():
    space = parse_space(["K=3,5", "hidden=16,32,64"])
    grid = draw_trials(space, 0, "grid")
    assert grid == [{"K": k, "hidden": h} for k in (3, 5) for h in (16, 32, 64)]
    with pytest.raises(UserInputError, match="a grid takes listed values"):
        draw_trials(parse_space(["lr=1e-4..1e-2"]), 4, "grid")
    with pytest.raises(UserInputError, match="at most"):
        draw_trials(parse_space(["K=1,2,3,4", "hidden=8,16,32,64"]), 0, "grid")


def test_random_draws_cannot_ask_for_more_trials_than_the_space_has():
    with pytest.raises(UserInputError, match="only 2 distinct"):
        draw_trials(parse_space(["K=3,5"]), 3, "random")
    with pytest.raises(UserInputError, match=f"between 1 and {MAX_TRIALS}"):
        draw_trials(parse_space(["lr=1e-4..1e-2"]), MAX_TRIALS + 1, "random")


def test_each_trial_config_carries_its_values_and_is_validated():
    base = RunConfig.make(model="cheb", epochs=2, graph="gaussian")
    configs = search_configs(base, parse_space(["K=2,5", "sigma=0.05,0.1"]), sampler="grid")
    assert [(c.value("K"), c.graph_params.get("sigma")) for c in configs] == [(2, 0.05), (2, 0.1), (5, 0.05), (5, 0.1)]
    assert all(c.model == "cheb" and c.training.epochs == 2 for c in configs)
    with pytest.raises(UserInputError):  # an invalid value is refused before any trial is submitted
        search_configs(base, parse_space(["K=0,2"]), sampler="grid")


def test_a_search_group_says_what_it_searched_and_how(tmp_path):
    from core.training.store import RunStore

    space = parse_space(["lr=1e-4..1e-2", "K=3,5"])
    asha, full = new_search_group(space, True), new_search_group(space, False)
    assert (asha.type, searched(asha), asha.early_stopping) == ("search", ["lr", "K"], True)
    assert full.early_stopping is False and searched(full) == ["lr", "K"]
    store = RunStore(tmp_path / "runs.db")  # the fields travel through the store, not through the id
    run_id = store.create_run({"model": "cheb"}, group=asha)
    assert store.get_run(run_id)["group_id"] == asha.id and store.get_group(asha.id) == store.groups("search")[asha.id]
    assert (store.get_group(asha.id).params, store.get_group(asha.id).early_stopping) == (("lr", "K"), True)
    trial = store.create_run({"model": "cheb"}, group=full)
    assert store.get_group(store.get_run(trial)["group_id"]).early_stopping is False
    assert store.get_run(trial)["kind"] == full.id  # older readers of the kind column still see the search


def test_trial_rows_list_values_epochs_and_early_stops_best_first():
    runs = [
        {"id": 1, "status": "finished", "config": {"lr": 0.01, "epochs": 4}, "summary": {"test_accuracy": 0.8}},
        {
            "id": 2,
            "status": "stopped",
            "config": {"lr": 1e-6, "epochs": 4},
            "summary": {"test_accuracy": 0.1, "early_stopped": True},
        },
        {"id": 3, "status": "queued", "config": {"lr": 0.001, "epochs": 4}, "summary": {}},
    ]
    rows = trial_rows(runs, ["lr"], {1: 4, 2: 1})
    assert [r["run"] for r in rows] == [1, 2, 3]
    assert [(r["lr"], r["epochs"], r["stopped early"]) for r in rows] == [
        (0.01, "4 of 4", False),
        (1e-6, "1 of 4", True),
        (0.001, "0 of 4", False),
    ]
