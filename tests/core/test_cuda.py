"""The CUDA path: every model gives the same logits on the GPU as on the CPU, and runs train and store there.

Skipped on machines without a CUDA GPU (CI has none); run on a GPU machine with
``python -m pytest tests/core/test_cuda.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from core.data.datasets import load_dataset
from core.graphs import build_graph
from core.models import MODELS, NEEDS_FIXED_GRAPH
from core.training.runs import RunConfig, execute
from core.training.store import RunStore, load_checkpoint
from core.training.trainer import evaluate

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

IMAGE_MODELS = [n for n in MODELS.names() if n not in ("escnn", "superpixel")]
CUDA = torch.device("cuda")


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return load_dataset("mnist-5k", quick=True).x_train[:16].unsqueeze(1)  # (16, 1, 28, 28)


@pytest.mark.parametrize("graph_kind", ["grid", "gaussian"])  # sparse CSR and dense adjacency paths
@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_gpu_logits_match_cpu(name, graph_kind, digits):
    if graph_kind == "gaussian" and name not in NEEDS_FIXED_GRAPH:
        pytest.skip("no graph")
    graph = build_graph(graph_kind) if name in NEEDS_FIXED_GRAPH else None
    torch.manual_seed(0)
    model = MODELS.get(name)(
        MODELS.config(name, **({"hidden": 16} if "hidden" in MODELS.settings(name) else {})), graph
    ).eval()
    with torch.no_grad():
        cpu = model(digits)
        gpu = model.to(CUDA)(digits.to(CUDA))
    assert gpu.device.type == "cuda"
    # TF32 matmuls on recent GPUs keep ~1e-3 relative precision
    assert torch.allclose(gpu.cpu(), cpu, rtol=1e-2, atol=1e-2 * cpu.abs().max().item())


@pytest.mark.parametrize("model", ["cnn", "cheb", "learned", "superpixel"])
def test_run_trains_on_gpu_and_its_checkpoint_loads_on_cpu(model):
    graph: dict[str, Any] = {"graph": "superpixels"} if model == "superpixel" else {}
    epochs = 2 if model == "superpixel" else 1  # one quick epoch leaves the superpixel GCN near chance
    cfg = RunConfig.make(model=model, hidden=16, epochs=epochs, quick=True, device="auto", **graph)
    store = RunStore()
    summary = execute(cfg, store)
    assert summary["status"] == "finished", summary["error"]
    assert summary["device"].startswith("cuda")
    assert store.get_run(summary["run_id"])["device"].startswith("cuda")
    if model == "superpixel":
        losses = [e["train_loss"] for e in summary["epochs"]]
        assert losses[1] < losses[0]
        return
    assert summary["test_accuracy"] > 0.2  # 10 classes: chance is 0.1
    from core.training.runs import build_everything

    _, _, test, fresh, _ = build_everything(cfg)
    fresh.load_state_dict(load_checkpoint(store.get_run(summary["run_id"])["checkpoint"]))  # CPU tensors
    assert evaluate(fresh, test, torch.device("cpu")) == pytest.approx(summary["test_accuracy"], abs=0.01)


def test_the_forkserver_hands_workers_an_unpoisoned_cuda_and_a_run_trains_there(tmp_path):
    """The server imports PyG and asks torch.cuda.device_count() (each poisons a later plain fork, pytorch#138453);
    workers fork from the forkserver instead, which must never have started CUDA: they start clean and train on it."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent / "training" / "forkserver_probe.py"
    spec = importlib.util.spec_from_file_location("forkserver_probe", path)
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)  # without FORKSERVER_PROBE set here: nothing in this process is watched
    out = probe.run_probe(tmp_path / "runs.db", cuda=True)
    worker = out["worker"]
    assert out["method"] == "forkserver" and out["parent_devices"] >= 1
    assert worker["preloaded_in_forkserver"] and worker["forkserver_calls"] == []
    assert not worker["bad_fork"] and not worker["initialized"], out
    assert out["run"]["state"] == "finished", out["run"]["error"]
    assert out["run"]["device"].startswith("cuda")
