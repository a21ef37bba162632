"""``python -m core bench --full-epoch``: the published ChebNet (K=25) and the CNN timed over a (here tiny) epoch."""

from __future__ import annotations

import json

import pytest

from core.bench import EPOCH_IMAGES, published_models, run_full_epoch
from tests.core.cli_helpers import assert_one_line_error, in_process


def test_the_timed_models_are_the_apps_published_chebnet_and_cnn():
    models = published_models()
    cfg, cheb = models["chebnet"]
    assert (cfg.model, cfg.value("K"), cfg.graph, cfg.graph_params["neighbours"]) == ("cheb", 25, "grid", 8)
    assert [c.K for c in cheb.convs] == [25, 25] and cheb.pool_after == [True, True]  # GC32-P4-GC64-P4
    assert [g.num_nodes for g in cheb.graphs] == [784, 196] and cheb.out_channels == 64
    assert cheb.fc[0].out_features == 512  # FC512
    assert models["cnn"][0].model == "cnn"


def test_a_short_pass_gives_both_models_epoch_times_extrapolated():
    out = run_full_epoch(images=32, batch_size=16, device="cpu")
    assert out["timed_images"] == 32 and out["epoch_images"] == EPOCH_IMAGES and out["extrapolated"]
    assert out["data"].startswith(("mnist-5k: the 5,000 embedded digits repeated to 60,000", "mnist: full MNIST"))
    cheb, cnn = out["chebnet_seconds_per_epoch"], out["cnn_seconds_per_epoch"]
    assert cheb > 0 and cnn > 0
    assert out["chebnet_vs_cnn"] == pytest.approx(cheb / cnn, rel=0.01, abs=0.01)
    ips = out["images_per_second"]
    assert abs(ips["chebnet"] * cheb - EPOCH_IMAGES) < 0.01 * EPOCH_IMAGES  # seconds = 60,000 / images per second
    assert out["meets_goal"] == (cheb <= out["goal_seconds"]) and "extrapolated to 60,000" in out["note"]


def test_the_cli_prints_json(capsys):
    code, stdout, _ = in_process(
        capsys, "bench", "--full-epoch", "--images", "16", "--batch-size", "16", "--device", "cpu", "--json"
    )
    assert code == 0
    out = json.loads(stdout)
    assert out["timed_images"] == 16 and out["batch_size"] == 16 and out["machine"]["device"] == "cpu"
    assert set(out["images_per_second"]) == {"chebnet", "cnn"}


def test_images_out_of_range_or_without_full_epoch_is_one_line_error(capsys):
    code, _, err = in_process(capsys, "bench", "--full-epoch", "--images", "0", "--device", "cpu")
    assert_one_line_error(code, err, "images")
    code, _, err = in_process(capsys, "bench", "--images", "640")
    assert_one_line_error(code, err, "images")
