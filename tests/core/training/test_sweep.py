"""Sweeps: parsing values, one validated config per value, and real runs that differ only in the setting."""

import pytest

from core.errors import UserInputError
from core.training.runs import RunConfig, execute
from core.training.sweep import parse_values, sweep_configs, sweep_points, sweep_value


def test_parse_values_types_and_errors():
    assert parse_values("sigma", "0.02, 0.05,0.1") == [0.02, 0.05, 0.1]
    assert parse_values("model", "mlp, cnn") == ["mlp", "cnn"]
    for param, text in [
        ("k", "4, x"),
        ("k", ""),
        ("k", "4, 4"),
        ("dropout_rate", "1"),
        ("k", ",".join("123456789abcd")),
    ]:
        with pytest.raises(UserInputError):
            parse_values(param, text)


def test_sweep_configs_change_only_the_swept_setting():
    base = RunConfig.make(model="cheb", graph="knn", epochs=2)
    configs = sweep_configs(base, "k", [4, 8, 16])
    assert [c.graph_params["k"] for c in configs] == [4, 8, 16]
    assert all(c.model == "cheb" and c.training.epochs == 2 for c in configs)
    models = sweep_configs(RunConfig.make(), "model", ["mlp", "superpixel"])
    assert models[1].graph == "superpixels" and "segments" in models[1].graph_params


def test_sweep_configs_validate_every_value_first():
    with pytest.raises(UserInputError) as err:
        sweep_configs(RunConfig.make(model="cheb", graph="knn"), "k", [8, 784])  # k must stay below 784 nodes
    assert err.value.param == "k"


def test_swept_runs_store_their_value(isolated_data_dir):
    from core.training.store import RunStore

    store = RunStore()
    for cfg in sweep_configs(RunConfig.make(model="mlp", epochs=1, quick=True), "seed", [0, 1]):
        execute(cfg, store)
    runs = store.list_runs()
    assert sorted(sweep_value(r["config"], "seed") for r in runs) == [0, 1]
    accs = [r["summary"]["test_accuracy"] for r in runs]
    assert all(a > 0.3 for a in accs) and accs[0] != accs[1]  # different seeds, different runs
    queued = store.create_run(
        RunConfig.make(model="mlp", seed=5, epochs=1, quick=True).to_dict()
    )  # not finished: no point
    points = sweep_points(store.list_runs(), "seed")
    assert [p[0] for p in points] == [0, 1] and queued not in [p[0] for p in points]
    assert [p[1] for p in points] == [
        r["summary"]["test_accuracy"] for r in sorted(runs, key=lambda r: r["config"]["seed"])
    ]


def test_grid_configs_cover_every_combination_and_check_the_size():
    from core.training.sweep import MAX_SWEEP_RUNS, grid_configs

    configs = grid_configs(RunConfig.make(model="cheb", graph="knn", epochs=1), "k", [4, 8, 16], "K", [1, 3])
    assert [(c.graph_params["k"], c.value("K")) for c in configs] == [(4, 1), (4, 3), (8, 1), (8, 3), (16, 1), (16, 3)]
    assert all(c.model == "cheb" and c.training.epochs == 1 for c in configs)
    assert grid_configs(RunConfig.make(), "seed", [0, 1]) == sweep_configs(
        RunConfig.make(), "seed", [0, 1]
    )  # one setting
    for param2, values2, why in (
        ("seed", list(range(MAX_SWEEP_RUNS)), "at most"),
        ("k", [4], "differ"),
        ("dropout", [0.1], "cannot sweep"),
    ):
        with pytest.raises(UserInputError, match=why) as err:
            grid_configs(RunConfig.make(model="cheb", graph="knn"), "k", [4, 8], param2, values2)
        assert err.value.param == "param2"


def test_restriction_sweep_moves_the_restriction_and_reads_it_back():
    from core.training.sweep import grid_configs

    base = RunConfig.make(model="escnn", group="D16,D16,C16", epochs=1)
    assert base.value("layers") == 3  # a schedule sets the number of blocks
    configs = grid_configs(base, "restriction", [0, 1, 2], "data", ["mnist-5k", "mnist-rot"])
    assert [(c.value("group"), c.data) for c in configs] == [
        ("D16", "mnist-5k"),
        ("D16", "mnist-rot"),
        ("D16,C16,C16", "mnist-5k"),
        ("D16,C16,C16", "mnist-rot"),
        ("D16,D16,C16", "mnist-5k"),
        ("D16,D16,C16", "mnist-rot"),
    ]
    assert [sweep_value(c.to_dict(), "restriction") for c in configs] == [0, 0, 1, 1, 2, 2]
    with pytest.raises(UserInputError) as err:  # a schedule says what the restriction goes to
        sweep_configs(RunConfig.make(model="escnn", group="C8"), "restriction", [0, 1])
    assert err.value.param == "restriction"
    with pytest.raises(UserInputError) as err:
        sweep_configs(base, "restriction", [3])  # after the last block: nothing left to restrict
    assert err.value.param == "restriction"


def test_every_sweepable_setting_has_a_label_that_tells_k_from_K():
    from core.training.sweep import SWEEPABLE, in_sentence, sweep_label

    labels = [sweep_label(p) for p in SWEEPABLE]
    assert len(set(labels)) == len(labels) and len({label.lower() for label in labels}) == len(labels)
    # each label ends in the key, as links and flags take it
    assert all(label.endswith(f"({p})") for p, label in zip(SWEEPABLE, labels, strict=True))
    assert sweep_label("k") == "k-NN neighbours (k)" and sweep_label("K") == "Chebyshev order (K)"
    assert in_sentence("Learning rate (lr)") == "learning rate (lr)"
    assert in_sentence("Chebyshev order (K)") == "Chebyshev order (K)"
    assert in_sentence("k-NN neighbours (k)") == "k-NN neighbours (k)"


def test_a_stored_sweep_is_named_by_what_it_sweeps():
    """The Compare page and ``python -m core sweep`` store a sweep alike (runs in its group); its name comes from
    them: the setting's label and values and what was held fixed, not 'runs from #3 (2)' and one run's label."""
    from core.training.sweep import grid_configs, new_sweep_group, stored_sweeps, sweep_name

    base = RunConfig.make(model="cheb", graph="grid", epochs=3)
    group = new_sweep_group("K")
    assert (group.type, group.params) == ("sweep", ("K",))
    rows = [
        {"id": 10 + i, "group_id": group.id, "name": cfg.label(), "config": cfg.to_dict()}
        for i, cfg in enumerate(grid_configs(base, "K", [1, 2, 3]))
    ]
    rows.append({"id": 3, "group_id": None, "name": "another run", "config": base.to_dict()})
    assert stored_sweeps(rows[::-1], {group.id: group}, "search") == []  # a sweep is no search
    (sweep,) = stored_sweeps(rows[::-1], {group.id: group})  # newest first, as the store lists them
    assert sweep["id"] == group.id and sweep["group"] == group
    assert sweep["name"] == "Sweep of Chebyshev order (K) over 1, 2, 3 · ChebNet on the 8-neighbour grid, 3\u00a0epochs"
    assert (sweep["runs"], sweep["first_run"], sweep["last_run"]) == (3, 10, 12)
    assert "runs from" not in sweep["name"] and "(2)" not in sweep["name"]
    assert not sweep["name"].endswith(")")  # a wrapped name cannot leave a lone bracket

    grid = [
        c.to_dict()
        for c in grid_configs(
            RunConfig.make(model="mlp", epochs=1), "lr", [0.001, 0.0003], "data", ["mnist-5k", "mnist-rot"]
        )
    ]
    want = (
        "Sweep of learning rate (lr) over 0.001, 0.0003 × data set (data) over mnist-5k, mnist-rot · MLP, 1\u00a0epoch"
    )
    assert sweep_name(new_sweep_group("lr", "data"), grid) == want
    assert sweep_name(new_sweep_group("lr", "data").id, grid) == want  # an id string (the CLI's) names it alike
    models = [c.to_dict() for c in grid_configs(RunConfig.make(epochs=2, data="mnist-rot"), "model", ["mlp", "cnn"])]
    # a sweep stored before sweeps named their settings: its settings are those its runs differ in
    assert sweep_name("sweep:123", models) == "Sweep of layer type (model) over MLP, CNN · 2\u00a0epochs, mnist-rot"
    assert sweep_name(new_sweep_group(), models) == sweep_name("sweep:123", models)
    assert sweep_name("sweep:123", []) == "Sweep of 0 runs"
