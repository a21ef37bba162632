"""A stored run as an ONNX file: for every exportable model type, a run trained on real MNIST digits, exported,
and run by onnxruntime on 100 test digits gives PyTorch's logits, its answers and the Playground's layer maps;
superpixel nets say why they cannot be exported; the disk cache serves a file once exported; the CLI writes it."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]  # onnxruntime ships no types
import pytest
import torch

from core.analysis.playground import MAX_MAPS, layer_maps, load_playground_model
from core.analysis.results import load_run_model, stored_run
from core.errors import RunNotFoundError, UserInputError
from core.export import onnx_export
from core.export.onnx_export import OnnxExport, export_run_onnx, exportable, read_meta
from core.models import MODELS
from core.training.runs import RunConfig, execute
from core.training.store import RunStore, checkpoint_path, save_checkpoint
from tests.core.cli_helpers import assert_one_line_error, in_process

# one quick run of every model type that exports, and of the variants whose graph product differs
KINDS = {
    "cnn": {"model": "cnn"},
    "mlp": {"model": "mlp"},
    "gcn": {"model": "gcn"},
    "cheb": {"model": "cheb", "K": 3},
    "sage": {"model": "sage"},
    "gin": {"model": "gin"},
    "gat": {"model": "gat", "heads": 2},
    "learned": {"model": "learned"},
    "learned-pair": {"model": "learned", "edge_sets": "pair", "edge_inputs": "offset"},
    "learned-out": {"model": "learned", "edge_sets": "out", "edge_norm": "sym"},
    "tutorial-gaussian": {"model": "tutorial", "adjacency": "gaussian"},
    "tutorial-learned-local": {"model": "tutorial", "adjacency": "learned-local"},
    "escnn": {"model": "escnn", "group": "C4"},
    "escnn-c8-wide": {"model": "escnn", "group": "C8", "hidden": 32},  # wide enough to store basis coefficients
}
DIGITS = 100  # test digits run through both
MAPPED = range(0, DIGITS, 10)  # the digits whose maps are compared with layer_maps (one call per digit)
TOL = 1e-4


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """{kind: run id} of one-epoch quick runs on mnist-5k, in a store of this module's own, and the store."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHCONV_DATA_DIR", str(tmp_path_factory.mktemp("export")))
        store = RunStore()
        small = {"hidden": 4, "layers": 2, "epochs": 1, "quick": True}
        runs = {kind: execute(RunConfig.make(**{**small, **kw}), store)["run_id"] for kind, kw in KINDS.items()}
        yield store, runs


@pytest.fixture(scope="module")
def test_digits(trained):
    store, runs = trained
    _, _, ds = load_run_model(runs["cnn"], store)  # every run here reads mnist-5k
    return ds.x_test[:DIGITS].numpy()  # (100, 28, 28) in [0, 1]


@pytest.fixture(scope="module")
def exported(trained):
    """{kind: (OnnxExport, its onnxruntime session, the Playground's model)}, exported once per kind (into the
    module's data folder, which ``trained`` set)."""
    store, runs = trained
    out = {}
    for kind, run_id in runs.items():
        done = export_run_onnx(run_id, store)
        session = ort.InferenceSession(done.data, providers=["CPUExecutionProvider"])
        out[kind] = (done, session, load_playground_model(run_id, store))
    return out


@pytest.mark.parametrize("kind", list(KINDS))
def test_onnxruntime_gives_the_playgrounds_logits_answers_and_maps_on_100_test_digits(kind, exported, test_digits):
    _, session, pm = exported[kind]
    x = test_digits[:, None]  # (100, 1, 28, 28)
    got = session.run(None, {"image": x})
    with torch.no_grad():
        logits = pm.model(torch.from_numpy(x)).numpy()  # what the Playground's server computes
    assert got[0].shape == (DIGITS, 10) and np.abs(got[0] - logits).max() < TOL
    assert np.array_equal(got[0].argmax(1), logits.argmax(1))
    np.testing.assert_allclose(got[1], torch.softmax(torch.from_numpy(logits), 1).numpy(), atol=TOL)
    np.testing.assert_allclose(got[1].sum(1), 1.0, atol=1e-5)
    for i in MAPPED:
        drawn = layer_maps(pm, test_digits[i])
        assert len(drawn) == len(got) - 2
        for layer, onnx_maps in zip(drawn, got[2:], strict=True):
            assert onnx_maps.shape[1:] == layer.maps.shape
            assert pm.kind == "escnn" or layer.maps.shape[0] == min(layer.channels, MAX_MAPS)
            assert np.abs(onnx_maps[i] - layer.maps).max() < TOL, layer.name


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_file_says_what_it_holds_and_takes_any_batch(kind, exported, test_digits):
    done, session, pm = exported[kind]
    assert isinstance(done, OnnxExport) and len(done.sha256) == 64
    meta = read_meta(done.data)
    assert meta == done.meta
    assert meta["format"] == 1 and meta["run_id"] == pm.run_id and meta["label"] == pm.label
    assert meta["kind"] == pm.kind == KINDS[kind]["model"] and meta["group"] == pm.group
    drawn = layer_maps(pm, test_digits[0])
    said = [(d.name, d.channels, d.note) for d in drawn]
    assert [(m["name"], m["channels"], m["note"]) for m in meta["maps"]] == said
    names = ["logits", "probabilities"] + [f"map_{i + 1}" for i in range(len(drawn))]
    assert (
        [o.name for o in session.get_outputs()]
        == names
        == ["logits", "probabilities"] + [m["output"] for m in meta["maps"]]
    )
    (image,) = session.get_inputs()
    assert image.name == "image" and image.type == "tensor(float)" and image.shape[1:] == [1, 28, 28]
    assert isinstance(image.shape[0], str)  # the batch is dynamic: one digit and three give their rows
    one, three = (
        session.run(["logits"], {"image": test_digits[:1, None]}),
        session.run(["logits"], {"image": test_digits[:3, None]}),
    )
    np.testing.assert_allclose(one[0][0], three[0][0], atol=1e-5)


def test_graph_products_are_gathered_so_the_files_stay_small(exported):
    """A file is its weights and little more: the grid's 8 neighbours as lists, not a dense (784, 784) matrix."""
    dense = 784 * 784 * 4  # one dense 28 x 28 pixel adjacency: 2.46 MB
    beyond = {}
    for kind, (done, _, pm) in exported.items():
        weights = 4 * sum(t.numel() for t in pm.model.state_dict().values() if t.is_floating_point())
        beyond[kind] = len(done.data) - weights
    assert all(b < dense / 4 for b in beyond.values()), beyond


def test_a_steerable_net_stores_its_filters_as_basis_coefficients(exported):
    """escnn expands its filters from few coefficients: a wide net's file keeps those (onnxruntime expands them once
    when it loads the file); a narrow block's filter, smaller than its basis, stays as it is."""
    from core.models.escnn_net.export import SteerableConv2d

    done, _, pm = exported["escnn-c8-wide"]
    convs = [m for m in pm.model.modules() if isinstance(m, SteerableConv2d)]
    assert len(convs) == 2 and not any(c.from_factors for c in convs)  # the Playground's twin runs its filters
    with torch.no_grad():
        for c in convs:
            torch.testing.assert_close(c.expanded(), c.weight, rtol=1e-5, atol=1e-6)
    wide = convs[1]  # 88 -> 184 channels, 5 x 5: 405 K filter values, 22 K coefficients and a basis of 141 K
    assert wide.coefficients.numel() + wide.basis.numel() < wide.weight.numel() / 2
    assert len(done.data) < 4 * wide.weight.numel()  # 0.77 MB: the file cannot hold that filter (1.6 MB) expanded
    narrow, _, _ = exported["escnn"]  # hidden 4: both filters are smaller than their bases
    assert len(narrow.data) < 100_000


# ----------------------------------------------------------------------------- what cannot be exported


def stored_superpixel_run(store) -> int:
    sp = RunConfig.make(model="superpixel", graph="superpixels", conv="gcn", hidden=8, layers=1, quick=True)
    run_id = store.create_run(sp.to_dict())
    store.finish(run_id, {"test_accuracy": 0.1}, checkpoint=str(save_checkpoint({}, checkpoint_path(run_id))))
    return run_id


def test_superpixel_nets_say_in_one_line_why_they_cannot_be_exported_and_every_other_type_exports():
    why = exportable("superpixel")
    assert "SLIC" in why and "\n" not in why
    assert MODELS.spec("superpixel").title in why  # the reason names the model type
    assert not [kw["model"] for kw in KINDS.values() if exportable(kw["model"])]
    assert exportable("no-such-model") and exportable("")
    store = RunStore()
    with pytest.raises(UserInputError, match=r"cannot be exported to ONNX: .*SLIC") as e:
        export_run_onnx(stored_superpixel_run(store), store)
    assert e.value.param == "run" and "\n" not in str(e.value)
    with pytest.raises(RunNotFoundError):
        export_run_onnx(9999, store)


# ----------------------------------------------------------------------------- the disk cache


class CountedExports:
    """Counts the real exports ``export_run_onnx`` asks for (each still runs)."""

    def __init__(self, monkeypatch):
        self.calls = 0
        real = onnx_export.export_onnx

        def counted(pm):
            self.calls += 1
            return real(pm)

        monkeypatch.setattr(onnx_export, "export_onnx", counted)


def quick_cnn(store, seed: int = 0) -> int:
    return execute(RunConfig.make(model="cnn", hidden=4, layers=1, epochs=1, quick=True, seed=seed), store)["run_id"]


def test_a_second_call_reads_the_file_a_new_checkpoint_exports_again_and_the_cache_is_bounded(monkeypatch):
    store, exports = RunStore(), CountedExports(monkeypatch)
    first_run = quick_cnn(store)
    first = export_run_onnx(first_run, store)
    again = export_run_onnx(first_run, store)
    assert exports.calls == 1 and again == first  # the same bytes, sha256 and metadata, from the file
    assert sorted(p.suffix for p in onnx_export.cache_folder().iterdir()) == [".json", ".onnx"]
    ckpt = Path(stored_run(first_run, store).checkpoint or "")
    save_checkpoint(torch.load(ckpt, weights_only=True), ckpt)  # the same weights, a new checkpoint file version
    assert export_run_onnx(first_run, store).data and exports.calls == 2
    monkeypatch.setattr(onnx_export, "CACHE_BYTES", int(len(first.data) * 1.5))  # room for one file
    second_run = quick_cnn(store, seed=1)
    export_run_onnx(second_run, store)
    assert len(list(onnx_export.cache_folder().glob("*.onnx"))) == 1  # the least recently used went
    export_run_onnx(second_run, store)
    assert exports.calls == 3  # the one kept is the newest
    export_run_onnx(first_run, store)
    assert exports.calls == 4  # the evicted one is exported again


def test_sessions_asking_for_the_same_run_at_once_share_one_export(monkeypatch):
    store, exports = RunStore(), CountedExports(monkeypatch)
    run_id = quick_cnn(store)
    results: list[OnnxExport] = []
    threads = [threading.Thread(target=lambda: results.append(export_run_onnx(run_id, store))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert exports.calls == 1 and len(results) == 3 and len({r.sha256 for r in results}) == 1
    assert not list(onnx_export.cache_folder().glob(".*.tmp"))  # no temporary file left behind


# ----------------------------------------------------------------------------- the CLI


def test_the_cli_writes_the_file_and_says_it_in_one_line(capsys, tmp_path):
    store = RunStore()
    run_id = quick_cnn(store)
    target = tmp_path / "run.onnx"
    code, out, err = in_process(capsys, "export", str(run_id), "--onnx", str(target))
    assert code == 0 and not err, err
    data = target.read_bytes()
    done = export_run_onnx(run_id, store)
    assert data == done.data
    (line,) = out.strip().splitlines()
    assert str(target) in line and f"{len(data)} bytes" in line and done.sha256 in line and "cnn" in line
    code, out, _ = in_process(capsys, "export", str(run_id), "--onnx", str(target), "--json")
    said = json.loads(out)
    assert code == 0 and said["bytes"] == len(data) and said["sha256"] == done.sha256 and said["kind"] == "cnn"
    assert said["outputs"] == ["logits", "probabilities", "map_1"]


def test_the_cli_refuses_an_unknown_run_a_superpixel_run_and_an_unwritable_file_in_one_line(capsys, tmp_path):
    store = RunStore()
    code, _, err = in_process(capsys, "export", "9999", "--onnx", str(tmp_path / "x.onnx"))
    assert code == 1 and len(err.strip().splitlines()) == 1 and "9999" in err and "Traceback" not in err
    code, _, err = in_process(capsys, "export", str(stored_superpixel_run(store)), "--onnx", str(tmp_path / "x.onnx"))
    assert code == 2
    assert_one_line_error(code, err, "run")
    code, _, err = in_process(capsys, "export", str(quick_cnn(store)), "--onnx", str(tmp_path / "no" / "x.onnx"))
    assert_one_line_error(code, err, "onnx")
    code, _, err = in_process(capsys, "export", "1")  # --onnx is required
    assert_one_line_error(code, err, "--onnx")
    assert not (tmp_path / "x.onnx").exists()


# ----------------------------------------------------------------------------- in a child process (the web server)


def test_a_child_process_exports_what_the_server_would_and_says_why_not_in_the_same_words():
    """The app's path: a file not in the cache yet is exported by ``python -m core export`` in a child process (the
    exporter's imports never enter the web server), and is then read from the cache; its errors keep their kind and
    their line."""
    store = RunStore()
    run_id = quick_cnn(store, seed=3)
    child = onnx_export.export_run_onnx_in_child(run_id, store)
    assert child.meta["run_id"] == run_id and child.meta["kind"] == "cnn"
    assert child.sha256 == hashlib.sha256(child.data).hexdigest()
    assert export_run_onnx(run_id, store) == child  # the child's file is the cache's: read, not exported again
    here = onnx_export.export_onnx(load_playground_model(run_id, store))
    assert here.data == child.data  # the same bytes as an export in this process
    with pytest.raises(UserInputError, match=r"cannot be exported to ONNX: .*SLIC") as e:
        onnx_export.export_run_onnx_in_child(stored_superpixel_run(store), store)
    assert e.value.param == "run" and "\n" not in str(e.value)
    with pytest.raises(RunNotFoundError):
        onnx_export.export_run_onnx_in_child(9999, store)
