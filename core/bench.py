"""Throughput benchmark (not a test): ``python -m core bench --json``.

In one process, on the same real digits, it trains (forward + backward + Adam step):
  (a) the fixed-graph GCN (one product of the shared adjacency with (N, B*C) features) and the same
      architecture built from PyG's GCNConv on a block-diagonal batch of B copies of the graph;
  (b) the ChebNet graph ConvNet (GC32-P-GC64-P-FC512, K=5) and the same-size CNN (C32-P-C64-P-FC512).
It prints images/s for each and the ratios. ``python -m core bench --full-epoch`` instead times one
60,000-image epoch of the published ChebNet (K=25) and of the CNN (``run_full_epoch``). Each figure comes from the
median step time; timings are still noisy on shared machines: compare the figures of one run with each other.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core.data.datasets import load_dataset
from core.graphs import build_graph
from core.models.cnn import CNN
from core.models.graph_net import GraphNet
from core.models.registry import MODELS


class SharedGCN(nn.Module):
    """L shared-graph GCN layers at full resolution, then flatten + Linear: (B, 1, 28, 28) -> (B, 10)."""

    def __init__(self, graph, hidden: int = 32, layers: int = 3):
        super().__init__()
        from core.models.layers.gcn_conv import GCNConv
        from core.models.layers.shared_graph import SharedGraph

        self.graph = SharedGraph(graph)
        self.convs = nn.ModuleList(GCNConv(1 if i == 0 else hidden, hidden) for i in range(layers))
        self.head = nn.Linear(graph.num_nodes * hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.reshape(x.shape[0], -1, 1)  # (B, N, 1)
        for conv in self.convs:
            h = F.relu(conv(h, self.graph))  # (B, N, C)
        return self.head(h.flatten(1))


class PygGCN(nn.Module):
    """The same architecture with PyG's GCNConv on a block-diagonal batch of B graph copies."""

    edge_index: torch.Tensor  # (2, E) buffer

    def __init__(self, graph, hidden: int = 32, layers: int = 3):
        super().__init__()
        from torch_geometric.nn import GCNConv

        self.register_buffer("edge_index", graph.edge_index.long(), persistent=False)  # (2, E)
        self.num_nodes = graph.num_nodes
        self.convs = nn.ModuleList(GCNConv(1 if i == 0 else hidden, hidden) for i in range(layers))
        self.head = nn.Linear(graph.num_nodes * hidden, 10)
        self._batched: dict[int, torch.Tensor] = {}

    def batched_edges(self, B: int) -> torch.Tensor:
        """Block-diagonal edge_index of B copies (what ``Batch.from_data_list`` builds), built once per B."""
        if B not in self._batched or self._batched[B].device != self.edge_index.device:
            offsets = (
                torch.arange(B, device=self.edge_index.device).repeat_interleave(self.edge_index.shape[1])
                * self.num_nodes
            )
            self._batched[B] = self.edge_index.repeat(1, B) + offsets
        return self._batched[B]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B = x.shape[0]
        h = x.reshape(B * self.num_nodes, 1)  # (B*N, 1)
        ei = self.batched_edges(B)
        for conv in self.convs:
            h = F.relu(conv(h, ei))  # (B*N, C)
        return self.head(h.reshape(B, -1))


def _machine(dev: torch.device) -> dict[str, Any]:
    """What the figures were measured on: CPU, cores, torch's threads and version, the device (and GPU name)."""
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "device": str(dev),
        "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
    }


def _sync(device: torch.device) -> None:
    """Wait for queued GPU work, so a wall-clock timer measures the kernels and not their launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def block_throughput(
    models: dict[str, nn.Module],
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    steps: dict[str, int],
    repeats: int = 3,
    warmup: int = 3,
) -> dict[str, float]:
    """Images per second of training, from each model's median block of ``steps[name]`` consecutive steps.

    Blocks alternate between models (A B A B ...), so a slow spell on a shared machine hits all of them,
    while each block runs like real training (one model, warm caches). With ``steps`` = one epoch of
    batches, the figure is the epoch time.
    """
    opts = {name: torch.optim.Adam(m.parameters(), lr=1e-3) for name, m in models.items()}
    times: dict[str, list[float]] = {name: [] for name in models}

    def run(name: str, n: int) -> float:
        model, opt = models[name], opts[name]
        model.train()
        _sync(x.device)
        t0 = time.perf_counter()
        for i in range(n):
            s = (i * batch_size) % (len(y) - batch_size)
            loss = F.cross_entropy(model(x[s : s + batch_size]), y[s : s + batch_size])
            opt.zero_grad()
            loss.backward()
            opt.step()
        _sync(x.device)
        return time.perf_counter() - t0

    for name in models:
        run(name, warmup)
    for _ in range(repeats):
        for name in models:
            times[name].append(run(name, steps[name]))
    return {name: steps[name] * batch_size / sorted(t)[len(t) // 2] for name, t in times.items()}


def run_benchmark(epochs: int = 1, quick: bool = False, batch_size: int = 64, device: str = "cpu") -> dict[str, Any]:
    """(a) shared-graph GCN vs PyG GCNConv and (b) ChebNet vs CNN, each pair measured in alternating blocks.

    ``epochs`` sets the block length of (b) in passes over the 4,000 training digits (quick: 1,000).
    ``device``: "cpu" (the default, so figures compare across machines), "cuda", or "auto" (CUDA, then
    MPS, then CPU). The data and every model live on that device for the whole measurement.
    """
    from core.training.trainer import pick_device

    dev = pick_device(device)
    torch.manual_seed(0)
    ds = load_dataset("mnist-5k", quick=False)
    x, y = ds.x_train.unsqueeze(1).to(dev), ds.y_train.to(dev)  # (4000, 1, 28, 28)
    epoch_steps = max(1, (1000 if quick else len(y)) * epochs // batch_size)
    grid = build_graph("grid", neighbours=8)
    gpu = dev.type != "cpu"  # GPU steps are ~100x shorter: longer blocks keep timer noise small
    gcn = block_throughput(
        {"gcn_shared": SharedGCN(grid).to(dev), "gcn_pyg": PygGCN(grid).to(dev)},
        x,
        y,
        batch_size,
        {"gcn_shared": 200 if gpu else 20, "gcn_pyg": 50 if gpu else 5},
    )
    conv = block_throughput(
        {
            "chebnet": GraphNet(grid, "cheb", MODELS.config("cheb", layers=2, hidden=32, K=5)).to(dev),
            "cnn": CNN(hidden=32, layers=2).to(dev),
        },
        x,
        y,
        batch_size,
        {"chebnet": epoch_steps, "cnn": epoch_steps},
    )
    ips = {**gcn, **conv}
    return {
        "images_per_second": {k: round(v, 1) for k, v in ips.items()},
        "gcn_speedup_vs_pyg": round(ips["gcn_shared"] / ips["gcn_pyg"], 2),
        "chebnet_epoch_time_vs_cnn": round(ips["cnn"] / ips["chebnet"], 3),
        "chebnet_epoch_seconds": round(epoch_steps * batch_size / ips["chebnet"], 2),
        "cnn_epoch_seconds": round(epoch_steps * batch_size / ips["cnn"], 2),
        "batch_size": batch_size,
        "machine": _machine(dev),
    }


# ----------------------------------------------------------------------------- one full-size epoch

EPOCH_IMAGES = 60_000  # MNIST's training set
CPU_IMAGES = 6_000  # on a CPU, a pass of this many images is timed unless --images says otherwise, then extrapolated
WARMUP_STEPS = 5
# Defferrard et al.'s graph ConvNet code (TensorFlow), GC32-P4-GC64-P4-FC512 with K=25: seconds per epoch
PUBLISHED_SECONDS_PER_EPOCH, PUBLISHED_GPU = 100.8, "Quadro M4000"
GOAL_SECONDS = 3.0  # the goal for this project's ChebNet epoch on a GPU


def epoch_data(images: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The first ``images`` of a 60,000-image epoch: (x (n, 1, 28, 28) float32, y (n,), where they come from).

    Full MNIST's training set when it is downloaded (``python -m core download``); else the 5,000 embedded
    digits repeated to 60,000 (the same arithmetic per step: the models see 28x28 digits either way).
    """
    from core.data.datasets import mnist_available, raw_5k

    if mnist_available():
        ds = load_dataset("mnist", quick=False)
        source = f"mnist: full MNIST's {len(ds.y_train):,} training images"
        return ds.x_train[:images].unsqueeze(1), ds.y_train[:images], source
    pixels, labels = raw_5k()
    idx = (torch.arange(images) % len(labels)).numpy()
    x = torch.from_numpy(pixels[idx].astype("float32") / 255.0).unsqueeze(1)  # (n, 1, 28, 28)
    source = f"mnist-5k: the {len(labels):,} embedded digits repeated to {EPOCH_IMAGES:,} (full MNIST not downloaded)"
    return x, torch.from_numpy(labels[idx].astype("int64")), source


def published_models(batch_size: int = 64) -> dict[str, tuple[Any, nn.Module]]:
    """{"chebnet": (config, model), "cnn": (config, model)}: the app's own models, built as a run builds them.

    ChebNet as Defferrard et al. published it: GC32-P4-GC64-P4-FC512 (the cheb model's defaults: 2 layers,
    32 channels doubling after each 2x2 pooling, FC 512), K=25, on the 8-neighbour grid; the CNN of the same size.
    """
    from core.graphs import GRAPH_PARAMS
    from core.models import MODELS
    from core.training.runs import RunConfig, validate

    grid = {name: p.default for name, p in GRAPH_PARAMS["grid"].items() if p.default is not None}
    configs = {
        "chebnet": RunConfig.make(
            model="cheb", K=25, graph="grid", graph_params={**grid, "neighbours": 8}, batch_size=batch_size
        ),
        "cnn": RunConfig.make(model="cnn", batch_size=batch_size),
    }
    out = {}
    for name, cfg in configs.items():
        validate(cfg)
        graph = build_graph(cfg.graph, size=28, **(cfg.graph_params or {})) if cfg.uses_graph() else None
        torch.manual_seed(0)
        out[name] = (cfg, MODELS.get(cfg.model)(cfg.model_config(), graph))
    return out


def time_epoch(
    model: nn.Module, lr: float, x: torch.Tensor, y: torch.Tensor, batch_size: int, warmup: int = WARMUP_STEPS
) -> float:
    """Seconds for one shuffled pass over (x, y) on their device: forward, cross-entropy, backward, Adam step.

    ``warmup`` steps first (kernel selection, allocator, Adam's state; no more than the pass has), then the
    timed pass between two device synchronisations.
    """
    dev = x.device
    model.to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def step(idx: torch.Tensor) -> None:
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    g = torch.Generator().manual_seed(0)
    for _ in range(min(warmup, -(-len(y) // batch_size))):
        step(torch.randint(len(y), (min(batch_size, len(y)),), generator=g).to(dev))
    order = torch.randperm(len(y), generator=g).to(dev)
    _sync(dev)
    t0 = time.perf_counter()
    for s in range(0, len(y), batch_size):
        step(order[s : s + batch_size])
    _sync(dev)
    return time.perf_counter() - t0


def run_full_epoch(images: int | None = None, batch_size: int = 64, device: str = "auto") -> dict[str, Any]:
    """Time one 60,000-image training epoch of the published ChebNet (K=25) and of the CNN on ``device``.

    ``images``: how many to time (None: all 60,000 on a GPU, 6,000 on the CPU); fewer than 60,000 are
    extrapolated to the full epoch, and the output says so.
    """
    from core.errors import UserInputError
    from core.training.trainer import pick_device

    dev = pick_device(device)
    n = images if images is not None else (EPOCH_IMAGES if dev.type != "cpu" else CPU_IMAGES)
    if not 1 <= n <= EPOCH_IMAGES:
        raise UserInputError("images", f"must be between 1 and {EPOCH_IMAGES:,} (got {n})")
    if not 1 <= batch_size <= 8192:
        raise UserInputError("batch_size", f"must be between 1 and 8192 (got {batch_size})")
    x, y, source = epoch_data(n)
    x, y = x.to(dev), y.to(dev)
    seconds, ips, labels = {}, {}, {}
    for name, (cfg, model) in published_models(batch_size).items():
        elapsed = time_epoch(model, cfg.training.lr, x, y, batch_size)
        ips[name] = n / elapsed
        seconds[name] = EPOCH_IMAGES / ips[name]
        labels[name] = f"{cfg.label()}, {sum(p.numel() for p in model.parameters()):,} parameters"
    cheb = seconds["chebnet"]
    return {
        "data": source,
        "timed_images": n,
        "epoch_images": EPOCH_IMAGES,
        "extrapolated": n < EPOCH_IMAGES,
        "chebnet_seconds_per_epoch": round(cheb, 2),
        "cnn_seconds_per_epoch": round(seconds["cnn"], 2),
        "chebnet_vs_cnn": round(cheb / seconds["cnn"], 2),
        "images_per_second": {k: round(v, 1) for k, v in ips.items()},
        "published_seconds_per_epoch": PUBLISHED_SECONDS_PER_EPOCH,
        "speedup_vs_published": round(PUBLISHED_SECONDS_PER_EPOCH / cheb, 2),
        "goal_seconds": GOAL_SECONDS,
        "meets_goal": cheb <= GOAL_SECONDS,
        "note": (
            f"timed {n:,} images, extrapolated to {EPOCH_IMAGES:,}"
            if n < EPOCH_IMAGES
            else f"timed one full epoch of {EPOCH_IMAGES:,} images"
        )
        + f" at batch {batch_size}, data on the device; "
        f"published: {PUBLISHED_SECONDS_PER_EPOCH} s per epoch on a {PUBLISHED_GPU}",
        "models": labels,
        "batch_size": batch_size,
        "machine": _machine(dev),
    }
