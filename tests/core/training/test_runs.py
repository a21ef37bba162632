"""RunConfig, validate() and execute(): one run end to end into a RunStore on quick-mode MNIST."""

from __future__ import annotations

import pytest
import torch

from core.errors import UserInputError
from core.models import MODELS
from core.models.graph_net import ChebConfig, GATConfig, GraphNetConfig
from core.models.mlp import MLP
from core.training.runs import RunConfig, TrainingConfig, build_everything, execute, validate
from core.training.store import RunStore, load_checkpoint
from core.training.trainer import evaluate


def quick_mlp(**kw) -> RunConfig:
    return RunConfig.make(**{"model": "mlp", "quick": True, "hidden": 16, "epochs": 2, "device": "cpu", **kw})


# ----------------------------------------------------------------------------- RunConfig


@pytest.mark.parametrize(
    "cfg",
    [
        RunConfig.make(),
        RunConfig.make(
            model="gat",
            graph="knn",
            graph_params={"k": 6, "sigma": 0.2},
            heads=2,
            readout="global",
            layers=3,
            hidden=8,
            dropout=0.0,
            lr=0.01,
            batch_size=32,
            seed=7,
            quick=True,
        ),
        RunConfig.make(
            model="superpixel", graph="superpixels", graph_params={"segments": 40, "edges": "rag"}, conv="gin"
        ),
    ],
    ids=["defaults", "gat-knn", "superpixel"],
)
def test_config_round_trip(cfg):
    d = cfg.to_dict()
    assert set(d) == set(RunConfig.flat_names())
    again = RunConfig.from_dict(d)
    assert again == cfg and again.to_dict() == d
    assert RunConfig.from_dict(dict(d)).label() == cfg.label()


def test_config_without_graph_drops_graph_settings():
    cfg = RunConfig.make(model="cnn", graph="knn", graph_params={"k": 3})
    d = cfg.to_dict()
    assert d["graph"] is None and d["graph_params"] == {}
    back = RunConfig.from_dict(d)
    assert back.model == "cnn" and back.to_dict() == d
    assert back.label() == "CNN"
    assert RunConfig.make(model="cheb", K=3).label() == "ChebNet K=3 on the 8-neighbour grid"


@pytest.mark.parametrize("model", MODELS.names())
def test_every_model_round_trips_through_the_flat_form(model):
    """The parts (data, model, its own settings, training) survive the flat stored form, for every registered model;
    the flat helpers put each name in its part."""
    graphs = MODELS.spec(model).graphs
    cfg = RunConfig.make(model=model, graph=graphs[0] if graphs else "grid", epochs=3, seed=5, lr=0.02)
    assert isinstance(cfg.settings, MODELS.spec(model).config)
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    assert RunConfig.make(**{k: v for k, v in cfg.to_dict().items() if v is not None}).to_dict() == cfg.to_dict()
    layers = MODELS.setting("layers", model)
    if layers is not None and layers.lo is not None:
        deeper = cfg.with_values(layers=int(layers.lo) + 1, epochs=4)
        assert deeper.value("layers") == int(layers.lo) + 1 and deeper.training.epochs == 4
        assert deeper.training.seed == 5 and deeper.training.lr == 0.02 and deeper.data == cfg.data


def test_flat_helpers_know_where_each_name_lives():
    cfg = RunConfig.make(model="cheb", K=3, epochs=2)
    assert cfg.settings == ChebConfig(K=3) and cfg.training == TrainingConfig(epochs=2)
    assert (cfg.value("K"), cfg.value("epochs"), cfg.value("graph")) == (3, 2, "grid")
    assert cfg.value("heads") == MODELS.setting("heads").default  # another model's: as to_dict writes it
    moved = cfg.with_values(K=5, lr=0.01, model="gcn")
    assert moved.settings == GraphNetConfig() and moved.training.lr == 0.01  # gcn reads no K; it keeps the size
    with pytest.raises(UserInputError) as e:
        RunConfig.make(model="cheb", learning_rate=0.1)
    assert e.value.param == "learning_rate"


def test_from_dict_rejects_unknown_setting():
    d = {**RunConfig.make().to_dict(), "learning_rate": 0.1}
    with pytest.raises(UserInputError) as e:
        RunConfig.from_dict(d)
    assert e.value.param == "learning_rate"


def test_superpixel_runs_stored_before_fourier_positions_reopen_with_raw_positions():
    old = {
        k: v for k, v in RunConfig.make(model="superpixel", graph="superpixels").to_dict().items() if k != "positions"
    }
    assert RunConfig.from_dict(old).value("positions") == "raw"  # their weights expect (intensity, x, y)
    assert (
        RunConfig.from_dict(RunConfig.make(model="superpixel", graph="superpixels").to_dict()).value("positions")
        == "fourier"
    )
    assert "raw positions" in RunConfig.from_dict(old).label()
    with pytest.raises(UserInputError) as e:
        validate(RunConfig.make(model="superpixel", graph="superpixels", positions="polar"))
    assert e.value.param == "positions"


def test_model_config_carries_the_model_settings():
    """The model gets its own config (its spec's dataclass) with every setting it declares, and only those."""
    from dataclasses import asdict

    from core.models.graph_net import GATConfig

    mc = RunConfig.make(model="gat", hidden=12, layers=3, heads=3, K=2, dropout=0.3, readout="global").model_config()
    assert isinstance(mc, GATConfig)
    assert asdict(mc) == {"num_classes": 10, "layers": 3, "hidden": 12, "dropout": 0.3, "readout": "global", "heads": 3}


# ----------------------------------------------------------------------------- validate


def test_valid_configs_pass():
    for cfg in (
        RunConfig.make(),
        quick_mlp(),
        RunConfig.make(model="superpixel", graph="superpixels", graph_params={}),
        RunConfig.make(model="gcn", graph="gaussian", graph_params={"sigma": 0.1, "topk": 8}),
        RunConfig.make(model="escnn", group="D4"),
        RunConfig.make(model="tutorial", adjacency="learned-offset"),
        RunConfig.make(model="superpixel", graph="superpixels", graph_params={}, conv="pna", hidden=0),
        RunConfig.make(model="learned", graph="complete", graph_params={}),
    ):
        assert validate(cfg) is cfg


@pytest.mark.parametrize(
    "changes, param",
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": 501}, "epochs"),
        ({"lr": 0.0}, "lr"),
        ({"lr": -1e-3}, "lr"),
        ({"batch_size": 0}, "batch_size"),
        ({"hidden": 0}, "hidden"),
        ({"layers": 0}, "layers"),
        ({"dropout": 1.0}, "dropout"),
        ({"K": 0}, "K"),
        ({"heads": 0}, "heads"),
        ({"seed": -1}, "seed"),
        ({"readout": "x"}, "readout"),
        ({"schedule": "step"}, "schedule"),
        ({"augment": "flip"}, "augment"),
        ({"model": "superpixel", "graph": "superpixels", "graph_params": {}, "augment": "rotate"}, "augment"),
        ({"device": "tpu"}, "device"),
        ({"model": "nope"}, "model"),
        ({"data": "cifar"}, "data"),
        ({"graph": "nope", "graph_params": {}}, "graph"),
        ({"model": "escnn", "group": "C3"}, "group"),
        ({"graph": "grid", "graph_params": {"k": 3}}, "k"),  # a parameter of another kind
        ({"graph": "knn", "graph_params": {"neighbours": 8}}, "neighbours"),
        ({"graph": "grid", "graph_params": {"neighbours": 6}}, "neighbours"),  # values are checked too
        ({"graph": "knn", "graph_params": {"k": 784}}, "k"),  # k must stay below the 784 nodes
        ({"graph": "gaussian", "graph_params": {"sigma": 0.0}}, "sigma"),
        ({"model": "gat", "graph": "gaussian", "graph_params": {"sigma": 0.05}}, "graph"),  # dense: GBs per batch
        ({"model": "superpixel", "graph": "grid"}, "graph"),  # superpixel model on a pixel graph
        ({"model": "cheb", "graph": "superpixels", "graph_params": {}}, "graph"),  # fixed-graph model on superpixels
        ({"model": "superpixel", "graph": "superpixels", "graph_params": {"segments": 1}}, "segments"),
        ({"model": "superpixel", "graph": "superpixels", "graph_params": {}, "conv": "transformer"}, "conv"),
        ({"model": "cheb", "hidden": 0}, "hidden"),  # width 0 ("sized to 100k parameters") is for superpixels only
        ({"model": "gat", "graph": "complete", "graph_params": {}}, "graph"),
        ({"model": "learned", "graph": "complete", "graph_params": {}, "edge_sets": "pair"}, "edge_sets"),
        ({"model": "tutorial", "adjacency": "knn"}, "adjacency"),
    ],
    ids=lambda v: str(v) if isinstance(v, str) else None,
)
def test_validate_names_the_bad_setting(changes, param):
    with pytest.raises(UserInputError) as e:  # a value no model could take is refused as the config is made
        validate(RunConfig.make().with_values(**changes))
    assert e.value.param == param
    assert str(e.value).startswith(f"{param}: ") and "\n" not in str(e.value)


def test_invalid_config_stores_nothing():
    store = RunStore()
    with pytest.raises(UserInputError):
        execute(quick_mlp(epochs=0), store)
    with pytest.raises(UserInputError):
        execute(RunConfig.make(model="cheb", graph="knn", graph_params={"k": 784}, quick=True), store)
    assert store.list_runs() == []


# ----------------------------------------------------------------------------- execute


def test_execute_stores_finished_run_with_epochs_and_checkpoint():
    store = RunStore()
    cfg = quick_mlp(seed=3)
    seen = []
    summary = execute(cfg, store, session="s1", on_epoch=seen.append)

    assert summary["status"] == "finished" and summary["error"] is None
    assert (summary["train_images"], summary["test_images"]) == (1000, 200)
    run = store.get_run(summary["run_id"])
    assert run["status"] == "finished" and run["error"] is None and run["device"] == "cpu"
    assert run["config"] == cfg.to_dict() and run["name"] == cfg.label() and run["session"] == "s1"
    assert RunConfig.from_dict(run["config"]) == cfg
    assert run["summary"]["test_accuracy"] == summary["test_accuracy"]

    rows = store.epochs(summary["run_id"])
    assert [r["epoch"] for r in rows] == [1, 2] == [r["epoch"] for r in summary["epochs"]]
    for stored, reported in zip(rows, summary["epochs"], strict=True):
        assert stored["train_loss"] == pytest.approx(reported["train_loss"])
        assert stored["test_accuracy"] == pytest.approx(reported["test_accuracy"])
    assert seen == summary["epochs"]
    assert summary["test_accuracy"] == summary["epochs"][-1]["test_accuracy"]

    # the checkpoint is plain weights of this very model: it reloads and reproduces the accuracy
    state = load_checkpoint(run["checkpoint"])
    _, _, test, fresh, _ = build_everything(cfg)
    assert set(state) == set(fresh.state_dict())
    assert sum(v.numel() for v in state.values()) == summary["parameters"]
    fresh.load_state_dict(state)
    assert evaluate(fresh, test, torch.device("cpu")) == pytest.approx(summary["test_accuracy"])


def test_execute_graph_model_records_its_graph():
    store = RunStore()
    cfg = RunConfig.make(
        model="gcn", graph="grid", graph_params={"neighbours": 4}, hidden=4, epochs=1, quick=True, device="cpu"
    )
    summary = execute(cfg, store)
    run = store.get_run(summary["run_id"])
    assert run["status"] == "finished"
    assert run["config"]["graph"] == "grid" and run["config"]["graph_params"] == {"neighbours": 4}
    assert run["name"] == "GCN on the 4-neighbour grid"
    state = load_checkpoint(run["checkpoint"])
    assert not any("edge_index" in k for k in state)  # the graph is rebuilt from the config, not stored
    assert summary["test_accuracy"] > 0.1  # better than chance after one epoch


def test_execute_nan_run_is_stored_failed_with_earlier_epochs(monkeypatch):
    real_forward, calls = MLP.forward, []

    def forward(self, x):  # logits turn NaN in the 3rd training batch of epoch 2
        out = real_forward(self, x)
        if self.training:
            calls.append(1)
            if len(calls) > 16 + 2:  # 1000 quick images / 64 = 16 batches per epoch
                out = out * float("nan")
        return out

    monkeypatch.setattr(MLP, "forward", forward)
    store = RunStore()
    summary = execute(quick_mlp(epochs=3), store)
    assert summary["status"] == "failed"
    assert "epoch 2, batch 3" in summary["error"] and "learning rate" in summary["error"]
    run = store.get_run(summary["run_id"])
    assert run["status"] == "failed" and run["error"] == summary["error"]
    assert [r["epoch"] for r in store.epochs(summary["run_id"])] == [1]
    assert (
        load_checkpoint(run["checkpoint"]).keys() == MODELS.get("mlp")(quick_mlp().model_config()).state_dict().keys()
    )


def test_execute_failure_at_once_stores_failed_without_epochs(monkeypatch):
    def forward(self, x):
        return torch.full((x.shape[0], 10), float("nan"), requires_grad=True)

    monkeypatch.setattr(MLP, "forward", forward)
    store = RunStore()
    summary = execute(quick_mlp(), store)
    run = store.get_run(summary["run_id"])
    assert run["status"] == "failed" and "epoch 1, batch 1" in run["error"]
    assert store.epochs(summary["run_id"]) == [] and run["checkpoint"] is None


def test_execute_unexpected_error_is_stored_then_raised(monkeypatch):
    def forward(self, x):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    monkeypatch.setattr(MLP, "forward", forward)
    store = RunStore()
    with pytest.raises(RuntimeError):
        execute(quick_mlp(), store)
    (run,) = store.list_runs()
    assert run["status"] == "failed" and "shapes cannot be multiplied" in run["error"]


def test_per_model_defaults_fill_only_what_is_left_unset(monkeypatch):
    from core.training.runs import TRAINING_DEFAULTS, model_default

    monkeypatch.delenv("GRAPHCONV_QUICK", raising=False)

    cheb, escnn, cnn = RunConfig.make(model="cheb"), RunConfig.make(model="escnn"), RunConfig.make(model="cnn")
    assert (cheb.value("hidden"), cheb.value("dropout"), cheb.training.lr, cheb.training.schedule) == (
        32,
        0.5,
        3e-3,
        "constant",
    )
    assert (
        escnn.value("layers"),
        escnn.value("hidden"),
        escnn.value("dropout"),
        escnn.training.lr,
        escnn.training.schedule,
    ) == (3, 48, 0.1, 3e-3, "cosine")
    assert cheb.value("layers") == 2
    assert (cnn.training.lr, cnn.value("hidden")) == (1e-3, 32)
    mine = RunConfig.make(model="escnn", hidden=16, dropout=0.3, schedule="constant", lr=1e-2)
    assert (mine.value("hidden"), mine.value("dropout"), mine.training.schedule, mine.training.lr) == (
        16,
        0.3,
        "constant",
        1e-2,
    )
    assert RunConfig.from_dict(mine.to_dict()) == mine  # a stored run keeps its own values
    fallback = {"layers": 2, "hidden": 32, "dropout": 0.5, **TRAINING_DEFAULTS}  # the size from SizeConfig
    assert all(model_default("gat", k) == v for k, v in fallback.items())


def test_quick_mode_keeps_the_escnn_net_small(monkeypatch):
    monkeypatch.delenv("GRAPHCONV_QUICK", raising=False)
    assert (
        RunConfig.make(model="escnn", quick=True).value("hidden")
        == 32
        < RunConfig.make(model="escnn").value("hidden")
        == 48
    )
    assert (
        RunConfig.make(model="escnn", quick=True).value("layers")
        == 2
        < RunConfig.make(model="escnn").value("layers")
        == 3
    )
    assert RunConfig.make(model="escnn", quick=True).training.schedule == "cosine"  # the rest of the recipe stays
    monkeypatch.setenv("GRAPHCONV_QUICK", "1")
    assert (
        RunConfig.make(model="escnn").value("hidden") == 32
        and RunConfig.make(model="escnn", hidden=48).value("hidden") == 48
    )


@pytest.mark.parametrize(
    "cfg, ignored",
    [
        (RunConfig.make(model="cheb"), ["heads", "conv", "group"]),
        (RunConfig.make(model="gat"), ["K", "conv", "group"]),
        (RunConfig.make(model="cnn"), ["graph", "graph_params", "K", "heads", "readout", "conv", "group"]),
        (RunConfig.make(model="escnn"), ["graph", "graph_params", "K", "heads", "readout", "conv"]),
        (RunConfig.make(model="superpixel", graph="superpixels", conv="cheb"), ["heads", "readout", "group"]),
        (RunConfig.make(model="superpixel", graph="superpixels", conv="gat"), ["K", "readout", "group"]),
    ],
)
def test_ignored_settings_name_what_the_model_does_not_read(cfg, ignored):
    names = ["graph", "graph_params", "K", "heads", "readout", "conv", "group", "lr", "hidden", "epochs"]
    assert cfg.ignored_settings(names) == ignored


def test_learned_edge_settings_reach_every_layer_and_the_label():
    from core.graphs import build_graph

    cfg = validate(
        RunConfig.make(
            model="learned",
            edge_inputs="offset",
            edge_activation="tanh",
            edge_norm="none",
            edge_sets="pair",
            quick=True,
        )
    )
    assert cfg.label() == (
        "Learned-edge GNN (inputs offset, weights tanh, normalisation none, edge sets pair) on the 8-neighbour grid"
    )
    net = MODELS.get("learned")(cfg.model_config(), build_graph("grid", neighbours=8))
    assert all((c.inputs, c.activation, c.norm, c.edge_sets) == ("offset", "tanh", "none", "pair") for c in net.convs)
    assert RunConfig.make(model="learned").label() == "Learned-edge GNN on the 8-neighbour grid"  # defaults say nothing
    assert RunConfig.make(model="cnn", edge_sets="pair").ignored_settings(["edge_sets", "lr"]) == ["edge_sets"]
    for name, bad in (
        ("edge_sets", "many"),
        ("edge_activation", "relu"),
        ("edge_inputs", "polar"),
        ("edge_norm", "l1"),
    ):
        with pytest.raises(UserInputError) as err:
            validate(RunConfig.make(model="learned").with_values(**{name: bad}))
        assert err.value.param == name


@pytest.mark.parametrize("frozen", [False, True])
def test_frozen_edges_stay_at_their_initial_weights(isolated_data_dir, frozen):
    """The control for 'the edges learned': with edge_frozen the edge MLP ends as it began, the rest trains."""
    cfg = RunConfig.make(
        model="learned",
        hidden=4,
        layers=1,
        epochs=1,
        edge_inputs="offset",
        edge_activation="tanh",
        edge_frozen=frozen,
        quick=True,
        device="cpu",
    )
    assert ("frozen" in cfg.label()) is frozen
    _, _, _, initial, _ = build_everything(validate(cfg))  # the same seeded initialisation execute() draws
    summary = execute(cfg, RunStore())
    trained = load_checkpoint(RunStore().get_run(summary["run_id"])["checkpoint"])
    start = initial.state_dict()
    edge_keys = [k for k in start if ".edge_mlp." in k]
    assert edge_keys and all(torch.equal(trained[k], start[k]) for k in edge_keys) is frozen
    assert not torch.equal(trained["convs.0.lin.weight"], start["convs.0.lin.weight"])  # the layer weights train


def test_a_flat_config_as_older_versions_stored_it_loads_and_means_the_same():
    """Stored runs hold one flat dict with every model's settings (before model specs); it reads back unchanged."""
    old = {
        "data": "mnist-5k",
        "model": "gat",
        "graph": "knn",
        "graph_params": {"k": 8},
        "layers": 2,
        "hidden": 32,
        "dropout": 0.5,
        "K": 5,
        "heads": 2,
        "readout": "pool",
        "conv": "gcn",
        "positions": "fourier",
        "group": "C8",
        "adjacency": "gaussian",
        "edge_inputs": "both",
        "edge_activation": "softplus",
        "edge_norm": "rw",
        "edge_sets": "shared",
        "edge_frozen": False,
        "epochs": 3,
        "lr": 0.003,
        "schedule": "constant",
        "augment": "none",
        "batch_size": 64,
        "seed": 1,
        "device": "auto",
        "quick": True,
        "parent": None,
    }
    cfg = validate(RunConfig.from_dict(old))
    assert cfg.to_dict() == old and cfg.label().startswith("GAT, 2 heads on the")
    assert cfg.settings_as(GATConfig).heads == 2  # the model's own typed config


def test_a_run_config_refuses_a_setting_it_does_not_have():
    """``cfg.epochs = 9`` would once have been kept and never read (epochs live in ``cfg.training``): slots make a
    misspelt or misplaced setting an error at once."""
    from core.training.runs import RunConfig

    cfg = RunConfig.make(model="cheb", epochs=3)
    with pytest.raises(AttributeError):
        cfg.epochs = 9  # the point of the test: a field RunConfig lacks
    with pytest.raises(AttributeError):
        cfg.training.K = 9  # K is the model's setting, not training's
    assert cfg.training.epochs == 3 and cfg.with_values(epochs=9).training.epochs == 9
