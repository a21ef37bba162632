"""The Playground's engine: a drawing prepared as MNIST prepares digits, predictions equal to the Results page's,
the answer at every angle, and feature maps that cycle as the digit turns."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from core.analysis.playground import angle_sweep, layer_maps, load_playground_model, probabilities, sweep_angles, turn
from core.data.image_io import BOX, drawing_ink, gray_png, load_digit_image, mnist_digit
from core.errors import UserInputError
from core.training.runs import RunConfig, execute
from core.training.store import RunStore, checkpoint_path, save_checkpoint


def stroke_canvas(rows=(60, 220), cols=(100, 140), side=280) -> np.ndarray:
    """A black 280 x 280 RGBA canvas with one white bar (a '1' leaning nowhere)."""
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[rows[0] : rows[1], cols[0] : cols[1], :3] = 255
    return rgba


# ----------------------------------------------------------------------------- preprocessing


def test_a_drawing_is_scaled_into_a_20_pixel_box_and_centred_by_its_mass():
    digit = mnist_digit(drawing_ink(stroke_canvas()))  # a 160 x 40 bar: 20 x 5 once scaled
    assert digit.shape == (28, 28) and digit.dtype == np.float32 and 0.99 <= digit.max() <= 1.0
    rows, cols = np.nonzero(digit > 0.05)
    assert rows.max() - rows.min() + 1 == BOX and cols.max() - cols.min() + 1 in (5, 6)  # aspect ratio kept
    r, c = np.indices(digit.shape)
    centre = (float((r * digit).sum() / digit.sum()), float((c * digit).sum() / digit.sum()))
    assert abs(centre[0] - 13.5) <= 0.5 and abs(centre[1] - 13.5) <= 0.5
    off_centre = mnist_digit(drawing_ink(stroke_canvas(rows=(0, 100), cols=(0, 30))))  # drawn in a corner
    assert abs(float((c * off_centre).sum() / off_centre.sum()) - 13.5) <= 0.5  # moved to the centre
    assert not mnist_digit(np.zeros((50, 50))).any()  # nothing drawn: an empty frame


def test_a_downloaded_drawing_uploads_to_the_same_digit_and_light_backgrounds_are_inverted():
    ink = drawing_ink(stroke_canvas())
    drawn = mnist_digit(ink)
    assert np.array_equal(load_digit_image(gray_png(ink)), drawn)  # the PNG round trip is exact
    from PIL import Image

    dark_on_light = Image.fromarray((255 - (ink * 255)).astype(np.uint8))
    buf = io.BytesIO()
    dark_on_light.save(buf, format="PNG")
    assert np.abs(load_digit_image(buf.getvalue()) - drawn).max() < 1e-2
    with pytest.raises(UserInputError, match="RGBA"):
        drawing_ink(np.zeros((10, 10, 3), np.uint8))


def test_the_canvas_png_reads_as_its_pixels_and_a_broken_one_says_so():
    from PIL import Image

    buf = io.BytesIO()  # what the Playground's canvas sends when a stroke ends: a PNG of the whole canvas
    Image.fromarray(stroke_canvas(), "RGBA").save(buf, format="PNG")
    assert np.array_equal(drawing_ink(buf.getvalue()), drawing_ink(stroke_canvas()))
    with pytest.raises(UserInputError, match="could not be read"):
        drawing_ink(b"data:image/png;base64,not a png")


# ----------------------------------------------------------------------------- a stored CNN


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHCONV_DATA_DIR", str(tmp_path_factory.mktemp("playground")))
        store = RunStore()
        run_id = execute(RunConfig.make(model="cnn", hidden=8, epochs=1, quick=True), store)["run_id"]
        yield store, run_id, load_playground_model(run_id, store)


def test_probabilities_equal_the_results_pages_for_the_same_test_digit(cnn_run):
    from core.analysis.results import evaluate_run

    store, run_id, pm = cnn_run
    ev = evaluate_run(run_id, store)  # what the Results page shows
    for i in (0, 7, 42):
        np.testing.assert_allclose(probabilities(pm, ev.images[i]), ev.probabilities[i], atol=1e-6)


def test_angle_sweep_is_the_turned_digit_at_every_angle(cnn_run):
    _, _, pm = cnn_run
    digit = mnist_digit(drawing_ink(stroke_canvas()))
    sw = angle_sweep(pm, digit, mirror=True)
    assert list(sw["angles"]) == sweep_angles() and len(sw["angles"]) == 36
    assert sw["exact"].sum() == 4 and list(sw["angles"][sw["exact"]]) == [0, 90, 180, 270]
    for k in (0, 5, 9, 27):
        np.testing.assert_allclose(sw["probabilities"][k], probabilities(pm, digit, sw["angles"][k], True), atol=1e-6)
    assert np.array_equal(sw["predicted"], sw["probabilities"].argmax(1))
    torch.testing.assert_close(turn(digit, 90)[0, 0], torch.rot90(torch.as_tensor(digit), 1))  # exact, CCW
    with pytest.raises(UserInputError):
        sweep_angles(0)


def test_cnn_feature_maps_are_its_conv_outputs(cnn_run):
    _, _, pm = cnn_run
    maps = layer_maps(pm, np.zeros((28, 28), np.float32) + 0.5)
    assert [m.maps.shape for m in maps] == [(8, 28, 28), (16, 14, 14)] and [m.channels for m in maps] == [8, 16]
    assert [m.name for m in maps] == ["conv 1 (28×28)", "conv 2 (14×14)"]  # as people say them, not "conv.3"
    assert all((m.maps >= 0).all() for m in maps)  # after the ReLU


# ----------------------------------------------------------------------------- a steerable net and a graph net


def stored(store, cfg: RunConfig, model) -> int:
    """A finished run whose checkpoint holds ``model``'s (initial) weights."""
    run_id = store.create_run(cfg.to_dict(), name=cfg.label())
    model.eval()
    store.finish(
        run_id, {"test_accuracy": 0.1}, checkpoint=str(save_checkpoint(model.state_dict(), checkpoint_path(run_id)))
    )
    return run_id


def test_a_c4_net_answers_the_same_at_every_exact_angle_and_its_fields_cycle():
    from core.training.runs import build_everything

    store = RunStore()
    cfg = RunConfig.make(model="escnn", group="C4", hidden=4, layers=2, quick=True)
    pm = load_playground_model(stored(store, cfg, build_everything(cfg)[3]), store)
    assert pm.kind == "escnn" and not any(type(m).__module__.startswith("escnn") for m in pm.model.modules())
    digit = mnist_digit(drawing_ink(stroke_canvas(cols=(100, 190))))
    sw = angle_sweep(pm, digit)
    exact = sw["probabilities"][sw["exact"]]  # 0, 90, 180, 270 degrees
    assert np.abs(exact - exact[0]).max() < 1e-5
    first, turned = layer_maps(pm, digit)[0], layer_maps(pm, digit, 90)[0]
    assert first.maps.shape[0] == 4 and "4 group channels" in first.note  # one C4 field: its 4 channels
    names = [m.name for m in layer_maps(pm, digit)]  # the net resamples the digit to 29 x 29 first
    assert names == ["steerable block 1 (15×15)", "steerable block 2 (8×8)"]
    rot = np.rot90(first.maps, 1, axes=(1, 2))
    assert min(np.abs(turned.maps - np.roll(rot, s, axis=0)).max() for s in (1, -1)) < 1e-4  # shifted one step
    assert np.abs(turned.maps - rot).max() > 1e-3  # and not merely rotated


def test_graph_layers_show_node_features_on_the_pixel_layout_and_superpixel_runs_are_refused():
    from core.training.runs import build_everything

    store = RunStore()
    cfg = RunConfig.make(model="cheb", hidden=4, layers=2, quick=True)
    pm = load_playground_model(stored(store, cfg, build_everything(cfg)[3]), store)
    maps = layer_maps(pm, np.eye(28, dtype=np.float32))
    assert [m.maps.shape for m in maps] == [(4, 28, 28), (8, 14, 14)]
    assert [m.name for m in maps] == ["graph conv 1 (28×28 nodes)", "graph conv 2 (14×14 nodes)"]
    with torch.no_grad():
        nodes = pm.model.node_features(turn(np.eye(28, dtype=np.float32), 0))[0]  # (1, 784, 4)
    np.testing.assert_allclose(maps[0].maps[2], nodes[0, :, 2].reshape(28, 28).numpy())
    sp = RunConfig.make(model="superpixel", graph="superpixels", conv="gcn", hidden=8, layers=1, quick=True)
    sp_id = store.create_run(sp.to_dict())
    store.finish(sp_id, {"test_accuracy": 0.1}, checkpoint=str(save_checkpoint({}, checkpoint_path(sp_id))))
    with pytest.raises(UserInputError, match="superpixel model: it reads SLIC graphs") as e:
        load_playground_model(sp_id, store)
    assert e.value.param == "run"


def test_feature_maps_tile_into_one_picture_each_on_its_own_scale():
    from core.figures.playground import maps_tiles

    maps = np.stack([np.full((4, 4), 5.0), np.arange(16.0).reshape(4, 4), -np.arange(16.0).reshape(4, 4)])
    img = maps_tiles(maps, columns=2, scale=2, gap=1)
    assert img.shape == (2 * 8 + 1, 2 * 8 + 1, 3) and img.dtype == np.uint8
    assert (img[8, :] == 255).all() and (img[:, 8] == 255).all()  # the gaps
    second, third = img[0:8, 9:17], img[9:17, 0:8]
    assert (second[0, 0] == third[-1, -1]).all() and (second[-1, -1] == third[0, 0]).all()  # each map's own range


def test_the_turned_digit_is_drawn_as_dark_ink_on_white():
    from core.figures.playground import digit_picture

    img = np.zeros((28, 28), np.float32)
    img[3, 5] = 1.0
    pic = digit_picture(img, scale=2)
    assert pic.shape == (56, 56) and pic.dtype == np.uint8
    assert (pic[6:8, 10:12] == 0).all() and pic.sum() == 255 * (56 * 56 - 4)  # one black pixel, 2 x 2, on white


# ----------------------------------------------------------------------------- which runs, and 6 against 9


def test_default_runs_are_the_newest_cnn_graph_net_and_steerable_net():
    from core.analysis.playground import default_runs

    runs = {
        9: {"config": {"model": "escnn"}},
        8: {"config": {"model": "cnn"}},
        7: {"config": {"model": "gcn"}},
        6: {"config": {"model": "cnn"}},
        5: {"config": {"model": "mlp"}},
        4: {"config": None},
    }
    assert default_runs(runs) == [8, 7, 9]  # newest first in the mapping: the first of each kind wins
    assert default_runs(runs, most=2) == [8, 7]
    assert default_runs({5: {"config": {"model": "mlp"}}, 3: {}}) == [5]  # none of the three: the newest run
    assert default_runs({}) == []


@pytest.mark.parametrize(
    "kind, group, invariant",
    [
        ("escnn", "C8", True),
        ("escnn", "C4", True),
        ("escnn", "C2", True),
        ("escnn", "D4", True),
        ("escnn", "SO2", True),
        ("escnn", "c16", True),
        ("escnn", None, True),  # escnn's default group is C8
        ("escnn", "C1", False),
        ("escnn", "D1", False),  # no rotation at all
        ("escnn", "D16,D16,C16", True),
        ("escnn", "C8,C4,C1", False),  # the output's group is the schedule's last
        ("escnn", "C3", False),
        ("escnn", "not a group", False),
        ("cnn", "C8", False),
        ("cheb", None, False),
        (None, None, False),
    ],
)
def test_a_net_is_half_turn_invariant_by_construction_only_when_its_output_group_holds_180_degrees(
    kind, group, invariant
):
    from core.analysis.playground import half_turn_invariant

    assert half_turn_invariant(kind, group) is invariant


def _probs(top: int, second: int = 0) -> np.ndarray:
    p = np.full(10, 0.02)
    p[top], p[second] = 0.6, 0.24
    return p


def test_six_or_nine_from_a_rotation_invariant_net_is_flagged_and_nothing_else_is():
    from core.analysis.playground import six_nine_ambiguous

    assert six_nine_ambiguous(_probs(9, 6), "escnn", "C8")  # the upright 6, answered 9
    assert six_nine_ambiguous(_probs(6, 1), "escnn", "D4")
    assert not six_nine_ambiguous(_probs(3, 6), "escnn", "C8")  # its answer is neither
    assert not six_nine_ambiguous(_probs(9, 6), "escnn", "C1")  # not invariant to any rotation
    assert not six_nine_ambiguous(_probs(9, 6), "cnn")  # a CNN may tell them apart ...
    assert six_nine_ambiguous(_probs(6), "cnn", predicted=[6] * 36)  # ... unless it answered 6 at every angle
    assert not six_nine_ambiguous(_probs(6), "cnn", predicted=[6, 6, 9])
    assert not six_nine_ambiguous(_probs(6), "cnn", predicted=[6])  # one angle says nothing
    assert not six_nine_ambiguous(np.full(10, np.nan), "escnn", "C8")
    assert not six_nine_ambiguous(np.ones(3), "escnn", "C8")


def test_a_c8_net_answers_a_real_six_and_the_six_turned_by_180_degrees_alike():
    """Why the sentence is true: on real MNIST, a C8 steerable net's probabilities for a 6 and for that 6 turned by
    180 degrees (on the pixel grid, exactly a permutation) agree to float round-off, so its answer for both is the
    same class; when that class is 6 or 9 the page says why."""
    from core.analysis.playground import six_nine_ambiguous
    from core.data.datasets import load_dataset
    from core.training.runs import build_everything

    store = RunStore()
    cfg = RunConfig.make(model="escnn", group="C8", hidden=4, layers=2, quick=True)
    model = build_everything(cfg)[3]
    with torch.no_grad():
        model.classifier[-1].bias[9] += 20.0  # a net that says 9, as the C8 net did for an upright 6
    pm = load_playground_model(stored(store, cfg, model), store)
    ds = load_dataset("mnist-5k", quick=True)
    six = ds.x_test[int(np.flatnonzero(ds.y_test.numpy() == 6)[0])].numpy()
    upright, turned = probabilities(pm, six), probabilities(pm, six, 180)
    np.testing.assert_allclose(upright, turned, atol=1e-5)
    assert int(upright.argmax()) == 9
    sw = angle_sweep(pm, six)
    assert six_nine_ambiguous(upright, pm.kind, pm.group, sw["predicted"])
    assert pm.group == "C8"
