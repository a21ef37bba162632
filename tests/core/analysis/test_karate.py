"""Semi-supervised node classification on the karate club (core.analysis.karate) and its CLI."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from core.analysis.karate import KARATE_MODELS, karate_graph, train_karate
from core.config import REPO_ROOT
from core.errors import UserInputError

ROOT = REPO_ROOT


@pytest.fixture(scope="module")
def gcn():
    return train_karate("gcn", epochs=200, seed=0)


def test_gcn_beats_70_percent_on_unlabelled_nodes(gcn):
    assert gcn.accuracy >= 0.7, gcn.accuracy
    assert gcn.labelled.sum() == 4 and gcn.unlabelled.sum() == 30
    assert sorted(gcn.labels[gcn.labelled].tolist()) == [0, 1, 2, 3]  # one labelled node per class
    assert gcn.accuracies[-1] == pytest.approx(gcn.accuracy)
    assert gcn.losses[-1] < gcn.losses[0]


def test_embeddings_are_recorded_every_epoch(gcn):
    assert gcn.embeddings.shape == (201, 34, 2)  # epoch 0 (before training) + 200
    assert gcn.recorded_epochs.tolist() == list(range(201))
    assert not gcn.projected
    assert np.isfinite(gcn.embeddings).all()
    assert np.abs(gcn.embeddings).max() <= 1.0  # tanh
    assert not np.allclose(gcn.embeddings[0], gcn.embeddings[-1])
    assert gcn.losses.shape == gcn.accuracies.shape == (200,)
    assert gcn.predictions.shape == (34,)


def test_record_every_thins_frames_and_keeps_the_last():
    r = train_karate("gcn", epochs=25, record_every=10)
    assert r.recorded_epochs.tolist() == [0, 10, 20, 25]
    assert r.embeddings.shape == (4, 34, 2)


def test_deterministic_under_a_seed_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = train_karate("gcn", epochs=30, seed=3)
    after = torch.rand(1)
    b = train_karate("gcn", epochs=30, seed=3)
    assert torch.equal(before, after)
    np.testing.assert_array_equal(a.embeddings, b.embeddings)
    np.testing.assert_array_equal(a.losses, b.losses)
    c = train_karate("gcn", epochs=30, seed=4)
    assert not np.array_equal(a.embeddings, c.embeddings)


@pytest.mark.parametrize("model", [m for m in KARATE_MODELS if m != "gcn"])
def test_every_layer_type_trains(model):
    r = train_karate(model, epochs=5)
    assert r.embeddings.shape == (6, 34, 2)
    assert 0.0 <= r.accuracy <= 1.0


def test_wider_last_layer_is_projected_to_2d():
    r = train_karate("gcn", epochs=5, widths=(8, 3))
    assert r.projected and r.embeddings.shape == (6, 34, 2)


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"model": "mlp"}, "model"),
        ({"epochs": 0}, "epochs"),
        ({"lr": -1.0}, "lr"),
        ({"seed": -2}, "seed"),
        ({"widths": (4, 0)}, "hidden"),
    ],
)
def test_invalid_settings_name_the_parameter(kwargs, param):
    with pytest.raises(UserInputError) as err:
        train_karate(**kwargs)
    assert err.value.param == param


def test_karate_graph_and_figures(gcn):
    from core.figures.karate import embedding_animation_figure, karate_curves_figure, prediction_graph_figure

    g = karate_graph()
    assert (g.num_nodes, g.num_edges) == (34, 156) and g.is_symmetric()
    fig = embedding_animation_figure(gcn)
    assert len(fig.frames) == 101  # thinned to MAX_FRAMES
    assert fig.frames[0].name == "0" and fig.frames[-1].name == "200"
    assert fig.layout.sliders and fig.layout.updatemenus
    symbols = [s for tr in fig.data[1:5] for s in tr.marker.symbol]
    assert symbols.count("star") == 4
    graph_fig = prediction_graph_figure(gcn)
    widths = [w for tr in graph_fig.data if (tr.name or "").startswith("predicted") for w in tr.marker.line.width]
    assert len(widths) == 34
    assert sum(w > 3 for w in widths) == int(gcn.wrong.sum())  # wrong predictions outlined
    assert len(karate_curves_figure(gcn).data) == 2


def _cli(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "core", "karate", *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_json(gcn):
    proc = _cli("--model", "gcn", "--epochs", "200", "--seed", "0", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["model"] == "gcn" and out["epochs"] == 200
    assert out["labelled_nodes"] == [0, 4, 8, 24]
    assert out["accuracy"] == pytest.approx(gcn.accuracy, abs=1e-6)  # same seed, same numbers


def test_cli_invalid_model_is_one_line_exit_2():
    proc = _cli("--model", "nope", "--json")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "model" in lines[0] and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_a_page_trains_in_a_worker_process_once_per_settings():
    from core.analysis.karate import karate_pool, karate_state, request_karate

    pool = karate_pool()
    started = pool.counts["started"]
    settings = {"model": "gcn", "epochs": 30, "lr": 0.01, "seed": 5}
    assert request_karate(**settings, owner="visitor").pending
    done = pool.wait(("karate", "gcn", 30, 0.01, 5), timeout=120)
    assert done.state == "done", done.error
    expected = train_karate("gcn", epochs=30, lr=0.01, seed=5)
    assert np.array_equal(done.result.predictions, expected.predictions)
    assert np.allclose(done.result.losses, expected.losses) and np.allclose(done.result.embeddings, expected.embeddings)
    again = request_karate(**settings, owner="another visitor")  # the same settings: the kept result, at once
    assert again.state == "done" and again.result is done.result and karate_state(**settings) is again
    assert pool.counts["started"] == started + 1
    with pytest.raises(UserInputError, match="epochs"):
        request_karate("gcn", 0, 0.01, 0)  # checked here, before any worker starts
    assert pool.counts["started"] == started + 1
