"""Filters as images: Gaussian rows with known values, a real learned-edge run's filters, GIFs, errors."""

import io
import math
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from core.analysis.filters import (
    MARKER_RGB,
    Frame,
    check_pixel,
    filter_stats,
    gaussian_filter,
    gaussian_kernel_graph,
    graph_filter,
    graph_frames,
    layer_pixel,
    learned_adjacency,
    learned_filter,
    learned_frames,
    load_learned_run,
    pixel_grid_edges,
    pixel_path,
)
from core.errors import UserInputError
from core.figures.filters_gif import colormap_lut, filters_gif
from core.graphs import adjacency_row, build_graph, normalize
from core.training.runs import RunConfig, execute
from core.training.store import CheckpointError, RunNotFoundError, RunStore, checkpoint_path, save_checkpoint

# ----------------------------------------------------------------------------- hand-built graphs


def test_gaussian_row_of_a_3x3_grid_has_the_exact_values():
    sigma = 0.5  # on [0, 1] coordinates a grid step of a 3x3 image is 0.5: d² = 0.25 (side), 0.5 (diagonal)
    g = gaussian_kernel_graph(3, sigma, pixel_grid_edges(3, neighbours=8))
    raw = graph_filter(g, (1, 1))
    e1, e2 = math.exp(-0.25 / sigma**2), math.exp(-0.5 / sigma**2)
    expected = np.array([[e2, e1, e2], [e1, 1.0, e1], [e2, e1, e2]])
    assert np.allclose(raw, expected, atol=1e-6)
    rw = graph_filter(normalize(g, "rw"), (1, 1))
    assert np.allclose(rw, expected / expected.sum(), atol=1e-6)
    corner = graph_filter(normalize(g, "rw"), (0, 0))  # self, two sides, one diagonal
    want = np.array([[1.0, e1, 0], [e1, e2, 0], [0, 0, 0]])
    assert np.allclose(corner, want / want.sum(), atol=1e-6)
    sym = graph_filter(normalize(g, "sym"), (0, 0))  # A_ij / sqrt(d_i d_j)
    d_corner, d_side = 1 + 2 * e1 + e2, 1 + 2 * e1 + 2 * e2 + e1  # degree of (0, 0) and of (0, 1)
    assert sym[0, 1] == pytest.approx(e1 / math.sqrt(d_corner * d_side), rel=1e-5)


def test_full_gaussian_kernel_matches_the_gaussian_builder_plus_self_loops():
    mine = gaussian_kernel_graph(5, 0.3).to_dense()
    builder = build_graph("gaussian", size=5, sigma=0.3).to_dense()
    assert torch.allclose(mine - torch.eye(25), builder, atol=1e-6)


def test_pixel_grid_edges_are_the_grid_builders_edges():
    for nb in (4, 8):
        mine = gaussian_kernel_graph(5, 1.0, pixel_grid_edges(5, nb, self_loops=False)).to_dense() > 0
        assert torch.equal(mine, build_graph("grid", size=5, neighbours=nb).to_dense() > 0)


@pytest.mark.parametrize(
    "kind,params", [("grid", {"neighbours": 4}), ("knn", {"k": 6}), ("gaussian", {"sigma": 0.08, "cutoff": 0.01})]
)
def test_rw_filters_of_fixed_graphs_sum_to_one_and_are_their_adjacency_rows(kind, params):
    normed = normalize(build_graph(kind, **params), "rw")
    pixels = pixel_path(28, "raster", 5)
    frames = graph_frames(normed, pixels)
    assert [f.pixel for f in frames] == pixels
    for f in frames:
        assert f.image.shape == (28, 28)
        assert f.image.sum() == pytest.approx(1.0, abs=1e-5)
        assert np.array_equal(f.image.ravel(), adjacency_row(normed, f.pixel[0] * 28 + f.pixel[1]))


def test_pixel_paths_and_layer_pixels():
    raster = pixel_path(28, "raster", 4)
    assert len(raster) == len(set(raster)) == 49 and raster[0] == (1, 1) and raster[-1] == (25, 25)
    assert pixel_path(28, "row", 1, row=3) == [(3, c) for c in range(28)]
    assert pixel_path(7, "column", 2, col=6) == [(0, 6), (2, 6), (4, 6), (6, 6)]
    assert pixel_path(14, "diagonal", 3) == [(0, 0), (3, 3), (6, 6), (9, 9), (12, 12)]  # 13 % 3 = 1: no room to centre
    assert layer_pixel(27, 27, 7) == (6, 6) and layer_pixel(14, 15, 14) == (7, 7) and layer_pixel(3, 4, 28) == (3, 4)
    with pytest.raises(UserInputError, match="path"):
        pixel_path(28, "spiral")
    with pytest.raises(UserInputError, match="step"):
        pixel_path(7, "raster", 8)
    with pytest.raises(UserInputError, match="pixel: row must be an integer in \\[0, 27\\]"):
        check_pixel((28, 0), 28)
    with pytest.raises(UserInputError, match="column"):
        layer_pixel(0, -1, 14)


def test_filter_stats_on_a_hand_built_filter():
    img = np.zeros((5, 5))
    img[2, 2], img[2, 3], img[0, 2] = 0.5, 0.25, 0.25  # own weight, one step right, two steps up
    s = filter_stats(img, (2, 2))
    assert s == {"sum": 1.0, "support": 3, "self": 0.5, "max": 0.5, "mean_distance": pytest.approx(0.75)}


def test_superpixel_graphs_are_refused():
    img = np.zeros((28, 28), np.float32)
    img[8:20, 10:18] = 1.0
    g = build_graph("superpixels", image=img, segments=20)
    with pytest.raises(UserInputError, match="square pixel graph"):
        graph_filter(g, (0, 0))


# ----------------------------------------------------------------------------- GIF


def test_gif_round_trip_frames_size_colours_and_marker():
    normed = normalize(build_graph("gaussian", sigma=0.1, cutoff=0.05), "rw")
    frames = graph_frames(normed, pixel_path(28, "diagonal", 3))
    data = filters_gif(frames, scale=6, duration_ms=90)
    gif = Image.open(io.BytesIO(data))
    assert gif.format == "GIF" and gif.n_frames == len(frames) == 10 and gif.size == (168, 168)
    assert gif.info["duration"] == 90 and gif.info["loop"] == 0
    stack = np.stack([f.image for f in frames])
    lut = colormap_lut("viridis", 255)
    for k in (0, 4, 9):
        gif.seek(k)
        rgb = np.asarray(gif.convert("RGB"))
        r, c = frames[k].pixel
        assert tuple(rgb[r * 6, c * 6]) == MARKER_RGB  # the outline of the current pixel
        assert tuple(rgb[r * 6 + 3, c * 6 + 3]) != MARKER_RGB  # its inside keeps its own colour
        far = (r + 10) % 28, (c + 14) % 28  # a pixel far away: weight 0, the bottom of the colour scale
        assert stack[k][far] == 0 and tuple(rgb[far[0] * 6 + 3, far[1] * 6 + 3]) == tuple(lut[0])
        top = np.unravel_index(
            np.argmax(np.where(np.arange(784).reshape(28, 28) == r * 28 + c, -1, stack[k])), (28, 28)
        )  # the strongest neighbour
        level = round((stack[k][top] - stack.min()) / (stack.max() - stack.min()) * 254)
        assert tuple(rgb[top[0] * 6 + 3, top[1] * 6 + 3]) == tuple(lut[level])


def test_gif_bad_input():
    with pytest.raises(UserInputError, match="at least one frame"):
        filters_gif([])
    with pytest.raises(UserInputError, match="same square"):
        filters_gif([Frame((0, 0), np.zeros((4, 4))), Frame((0, 0), np.zeros((5, 5)))])
    with pytest.raises(UserInputError, match="scale"):
        filters_gif([Frame((0, 0), np.zeros((4, 4)))], scale=0)
    with pytest.raises(UserInputError, match="pixel"):
        filters_gif([Frame((4, 0), np.zeros((4, 4)))])
    with pytest.raises(UserInputError, match="NaN"):
        filters_gif([Frame((0, 0), np.full((4, 4), np.nan))])


# ----------------------------------------------------------------------------- a real learned-edge run


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    """A real learned-edge run (grid graph, 2 layers, 1 quick epoch), trained once for this module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHCONV_DATA_DIR", str(tmp_path_factory.mktemp("filters-data")))
        store = RunStore()
        cfg = RunConfig.make(model="learned", hidden=8, layers=2, epochs=1, quick=True, seed=3)
        summary = execute(cfg, store)
        yield store, summary["run_id"], cfg, load_learned_run(summary["run_id"], store)


def test_learned_run_layers_and_weights(learned):
    store, run_id, cfg, run = learned
    assert [r["id"] for r in store.runs_with_weights("learned")] == [run_id]
    assert [(info.side, info.norm, info.self_loops) for info in run.layers] == [(28, "rw", True), (14, "rw", True)]
    saved = torch.load(store.get_run(run_id)["checkpoint"], weights_only=True, map_location="cpu")  # CUDA runs too
    assert all(torch.equal(v, saved[k]) for k, v in run.model.state_dict().items())
    from core.training.runs import build_everything

    initial = build_everything(cfg)[3].state_dict()  # the network as the run started it
    assert all(torch.equal(v, initial[k]) for k, v in run.untrained.state_dict().items())
    assert not np.allclose(learned_adjacency(run, 0), learned_adjacency(run, 0, trained=False), atol=1e-7)


def test_learned_filters_are_rw_rows_on_the_graphs_neighbours(learned):
    _, _, _, run = learned
    from core.models.graph_net import coarse_graph

    for info in run.layers:
        side = info.side
        neighbours = coarse_graph(run.graph, side).to_dense().numpy() > 0  # (N, N) the layer's edges
        for pixel in [(0, 0), (side // 2, side // 3), (side - 1, side - 2)]:
            filt = learned_filter(run, info.index, pixel)
            i = pixel[0] * side + pixel[1]
            support = neighbours[i].reshape(side, side).copy()
            support[pixel] = True  # the layer's self-loop
            assert filt.shape == (side, side)
            assert (filt >= 0).all() and filt.sum() == pytest.approx(1.0, abs=1e-5)
            assert np.array_equal(filt > 0, support)  # softplus > 0 on every edge, nothing elsewhere


def test_learned_adjacency_is_what_the_layer_applies(learned):
    _, _, _, run = learned
    conv, shared = run.model.convs[1], run.model.graphs[1]
    x = torch.randn(2, shared.num_nodes, conv.in_channels, generator=torch.Generator().manual_seed(0))
    adj = torch.from_numpy(learned_adjacency(run, 1))
    with torch.no_grad():
        out = conv(x, shared)
    assert torch.allclose(out, adj @ x @ conv.lin.weight.T + conv.bias, atol=1e-5)


def test_gaussian_counterpart_shares_edges_and_keeps_its_width_in_grid_steps(learned):
    _, _, _, run = learned
    ratio = math.exp(-1.0 / (0.05 * 27) ** 2)  # one grid step with the default sigma 0.05 at 28 x 28
    for info in run.layers:
        pixel = (info.side // 2, info.side // 2)
        g, filt = gaussian_filter(run, info.index, pixel), learned_filter(run, info.index, pixel)
        r, c = pixel
        assert np.array_equal(g > 0, filt > 0) and g.sum() == pytest.approx(1.0, abs=1e-5)
        assert g[r, c + 1] / g[r, c] == pytest.approx(ratio, rel=1e-5)
        window = g[r - 1 : r + 2, c - 1 : c + 2]
        assert np.allclose(window, window.T) and np.allclose(window, window[::-1, ::-1])  # isotropic


def test_learned_frames_and_their_gif(learned):
    _, _, _, run = learned
    pixels = pixel_path(14, "raster", 3)
    frames = learned_frames(run, 1, pixels)
    assert len(frames) == 25
    for f in frames:
        assert np.array_equal(f.image, learned_filter(run, 1, f.pixel))
    gif = Image.open(io.BytesIO(filters_gif(frames, scale=10)))
    assert gif.n_frames == 25 and gif.size == (140, 140)


def test_learned_run_errors(learned):
    store, run_id, _, run = learned
    with pytest.raises(UserInputError, match="layer: must be an integer in \\[0, 1\\]"):
        learned_filter(run, 2, (0, 0))
    with pytest.raises(UserInputError, match="pixel"):
        learned_filter(run, 1, (14, 0))  # layer 2 is 14 x 14
    with pytest.raises(RunNotFoundError, match="run 999 does not exist"):
        load_learned_run(999, store)
    mlp = store.create_run(RunConfig.make(model="mlp", epochs=1).to_dict())
    store.finish(mlp, {"test_accuracy": 0.1}, checkpoint=store.get_run(run_id)["checkpoint"])
    with pytest.raises(UserInputError, match="not a learned-edge model"):
        load_learned_run(mlp, store)


def _stored(store, cfg, checkpoint=None) -> int:
    run_id = store.create_run(cfg.to_dict())
    store.finish(run_id, {"test_accuracy": 0.1}, checkpoint=checkpoint)
    return run_id


def test_checkpoint_errors(tmp_path):
    store = RunStore()
    cfg = RunConfig.make(model="learned", hidden=8, layers=2, epochs=1, quick=True)
    none_id, gone_id = _stored(store, cfg), _stored(store, cfg, str(tmp_path / "gone.pt"))
    with pytest.raises(CheckpointError, match="has no checkpoint"):
        load_learned_run(none_id, store)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_learned_run(gone_id, store)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all" * 20)
    bad_id = _stored(store, cfg, str(bad))
    with pytest.raises(CheckpointError, match="corrupt"):
        load_learned_run(bad_id, store)
    other = RunConfig.make(model="learned", hidden=16, layers=2, epochs=1, quick=True)  # weights of another shape
    from core.models import MODELS

    model = MODELS.get("learned")(other.model_config(), build_graph("grid"))
    misfit_id = _stored(store, cfg, str(save_checkpoint(model.state_dict(), checkpoint_path(999))))
    with pytest.raises(CheckpointError, match="does not fit a learned-edge model"):
        load_learned_run(misfit_id, store)
    assert {r["id"] for r in store.runs_with_weights("learned")} == {
        bad_id,
        misfit_id,
    }  # only runs whose checkpoint file exists


# ----------------------------------------------------------------------------- several edge sets, and the drift


PAIR: dict[str, Any] = dict(
    model="learned",
    hidden=4,
    layers=2,
    epochs=1,
    quick=True,
    seed=1,
    edge_inputs="offset",
    edge_activation="tanh",
    edge_norm="none",
    edge_sets="pair",
)


@pytest.fixture(scope="module")
def pair_runs(tmp_path_factory):
    """A learned 3x3-conv run (one edge set per channel pair) and the same run with its edges frozen."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHCONV_DATA_DIR", str(tmp_path_factory.mktemp("pair-data")))
        store = RunStore()
        runs = [
            load_learned_run(execute(RunConfig.make(**PAIR, edge_frozen=frozen), store)["run_id"], store)
            for frozen in (False, True)
        ]
        yield runs


def test_pair_layers_have_one_filter_per_channel_pair(pair_runs):
    run, _ = pair_runs
    assert [(i.edge_sets, i.num_sets, i.signed) for i in run.layers] == [("pair", 4, True), ("pair", 32, True)]
    assert run.layers[1].set_name(13) == "output 3 ← input 1"  # set = output * C_in + input, C_in = 4
    conv, shared = run.model.convs[1], run.model.graphs[1]
    w = conv.edge_weights(shared).detach()  # (E', 32)
    filt = learned_filter(run, 1, (7, 7), edge_set=13)  # a 3x3 kernel around the pixel, zero elsewhere
    assert np.count_nonzero(filt) == 9 and np.count_nonzero(filt[6:9, 6:9]) == 9
    src, dst = conv.edge_index(shared)
    into = dst == 7 * 14 + 7
    got = {(int(s) // 14, int(s) % 14): float(v) for s, v in zip(src[into], w[into, 13], strict=True)}
    assert all(filt[r, c] == pytest.approx(v, abs=1e-6) for (r, c), v in got.items())
    assert (learned_adjacency(run, 1, edge_set=0) != learned_adjacency(run, 1, edge_set=13)).any()
    with pytest.raises(UserInputError, match="edge_set: must be an integer in \\[0, 31\\]"):
        learned_filter(run, 1, (0, 0), edge_set=32)
    with pytest.raises(UserInputError, match="edge_set"):
        learned_filter(run, 0, (0, 0), edge_set=4)


def test_filter_drift_per_layer_and_set_and_zero_when_frozen(pair_runs):
    from core.analysis.filters import drift_summary, filter_drift

    run, frozen = pair_runs
    rows = filter_drift(run)
    assert [(r["layer"], r["edge_set"]) for r in rows] == [(1, s) for s in range(4)] + [(2, s) for s in range(32)]
    assert all(r["relative_change"] > 0 and r["max_change"] > 0 for r in rows)  # every set learned something
    w = run.model.convs[0].edge_weights(run.model.graphs[0]).detach().double()
    w0 = run.untrained.convs[0].edge_weights(run.untrained.graphs[0]).detach().double()
    assert rows[2]["relative_change"] == pytest.approx(float((w - w0)[:, 2].norm() / w0[:, 2].norm()), rel=1e-9)
    assert rows[2]["max_change"] == pytest.approx(float((w - w0)[:, 2].abs().max()), rel=1e-9)
    assert all(r["relative_change"] == 0 and r["sign_flips"] == 0 for r in filter_drift(frozen))
    summary = drift_summary(rows)
    assert [(s["layer"], s["edge sets"]) for s in summary] == [(1, 4), (2, 32)]
    assert summary[1]["largest relative change"] == max(r["relative_change"] for r in rows if r["layer"] == 2)


def test_signed_filters_are_drawn_on_a_scale_centred_at_zero(pair_runs):
    from core.figures.filters import SIGNED_COLORSCALE, comparison_figure, filter_animation_figure

    run, _ = pair_runs
    filt = learned_filter(run, 0, (14, 14), edge_set=1)
    assert (filt < 0).any() or (filt > 0).any()
    fig = comparison_figure(
        [("learned", filt), ("untrained", learned_filter(run, 0, (14, 14), False, 1))], (14, 14), signed=True
    )
    z = [(t.zmin, t.zmax) for t in fig.data]
    assert all(lo == -hi and hi >= np.abs(filt).max() for lo, hi in z)
    assert fig.data[0].colorscale == comparison_figure([("x", filt)], (14, 14), signed=True).data[0].colorscale
    anim = filter_animation_figure(learned_frames(run, 0, [(3, 3), (14, 14)], edge_set=1), signed=True)
    assert anim.data[0].zmin == -anim.data[0].zmax and SIGNED_COLORSCALE == "RdBu_r"
