"""Semi-supervised node classification on Zachary's karate club: one labelled node per class.

The set-up of PyG's introductory GCN example: node features are the (34, 34) identity, a stack of
three graph convolutions with tanh ending in a 2-D layer, then a linear classifier 2 -> 4. PyG's
widths are 34 -> 4 -> 4 -> 2; the default here is 34 -> 16 -> 8 -> 2, which separates the classes
more reliably (GCN, 200 epochs, lr 0.01, seeds 0-9: 75% mean accuracy on the unlabelled nodes and
77% for seed 0, against 64% mean and 70% for seed 0 with 4, 4, 2). Only the four
labelled nodes (one per class, ``core.data.karate.karate_split``) contribute to the loss; accuracy is
measured on the 30 unlabelled ones. Because the last hidden layer is 2-D, its output can be drawn
directly: ``train_karate`` records it every ``record_every`` epochs, so the page can animate how the
communities separate while the network trains.

Any layer of the fixed-graph registry (``core.models.layers.registry.LAYERS``: gcn, cheb, sage, gin,
gat) runs on a :class:`SharedGraph` of the karate graph (a batch of one graph).

Training is seeded and deterministic (CPU, dense 34 x 34 adjacency, no dropout): the same settings
give the same numbers. The global torch RNG is left as it was.

The app never trains in its own process: :func:`request_karate` trains in a worker process of a small
process-wide pool (``core.training.jobs``: one training at a time, ``KARATE_POOL["waiting"]`` more queued,
each stopped after ``KARATE_LIMIT_S`` seconds, one unfinished per visitor), and keeps the last
``KARATE_POOL["keep"]`` results by their settings (at most ~150 kB each: 500 epochs of 34 x 2 embeddings), so
settings trained before are answered at once. A page polls :func:`karate_state` until the result is there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.errors import UserInputError
from core.graphs.base import Graph
from core.rng import isolated_rng

KARATE_MODELS: tuple[str, ...] = ("gcn", "cheb", "sage", "gin", "gat")
MODEL_HELP: dict[str, str] = {
    "gcn": "Kipf & Welling GCN (symmetric normalisation with self-loops)",
    "cheb": "ChebNet, Chebyshev filters of order K = 3 (2-hop)",
    "sage": "GraphSAGE: own features + mean of the neighbours",
    "gin": "GIN: sum of the neighbours + a 2-layer MLP",
    "gat": "graph attention (one head)",
}
DEFAULT_WIDTHS: tuple[int, ...] = (16, 8, 2)  # 34 -> 16 -> 8 -> 2 -> classifier (PyG's example: 4, 4, 2)
PYG_WIDTHS: tuple[int, ...] = (4, 4, 2)
DEFAULT_EPOCHS = 200
DEFAULT_LR = 0.01
MAX_EPOCHS = 5000

KARATE_LIMIT_S = 60.0  # a worker training the karate club is stopped after this long (500 epochs: 1-3 s)
KARATE_POOL = {"workers": 1, "waiting": 4, "limit_s": KARATE_LIMIT_S, "keep": 32, "per_owner": 1}

# on_epoch({"epoch", "loss", "accuracy"}) after every epoch
EpochFn = Callable[[dict[str, Any]], None]


@dataclass
class KarateResult:
    """Everything one training run on the karate club produced (NumPy arrays, picklable)."""

    model: str
    epochs: int
    lr: float
    seed: int
    widths: tuple[int, ...]
    labels: np.ndarray  # (34,) int64 true communities
    labelled: np.ndarray  # (34,) bool, the nodes whose label the loss sees
    predictions: np.ndarray  # (34,) int64 after the last epoch
    losses: np.ndarray  # (epochs,) training loss (labelled nodes) of each epoch
    accuracies: np.ndarray  # (epochs,) accuracy on the unlabelled nodes after each epoch
    recorded_epochs: np.ndarray  # (F,) int64, the epochs the embeddings were taken at (0 = before training)
    embeddings: np.ndarray  # (F, 34, 2) float32, the penultimate layer (or its PCA when not 2-D)
    edge_index: np.ndarray  # (2, E) int64, the karate graph (both directions)
    projected: bool = False  # True when the embeddings are PCA projections of a wider layer
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_nodes(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return int(self.labels.max()) + 1

    @property
    def unlabelled(self) -> np.ndarray:
        return ~self.labelled

    @property
    def accuracy(self) -> float:
        """Final accuracy on the unlabelled nodes."""
        return accuracy_on(self.predictions, self.labels, self.unlabelled)

    @property
    def labelled_nodes(self) -> list[int]:
        return [int(i) for i in np.flatnonzero(self.labelled)]

    @property
    def wrong(self) -> np.ndarray:
        """(34,) bool, nodes whose final prediction is wrong."""
        return self.predictions != self.labels

    def summary(self) -> dict[str, Any]:
        """The CLI's JSON."""
        return {
            "model": self.model,
            "accuracy": round(self.accuracy, 6),
            "epochs": self.epochs,
            "lr": self.lr,
            "seed": self.seed,
            "widths": list(self.widths),
            "labelled_nodes": self.labelled_nodes,
            "unlabelled_nodes": int(self.unlabelled.sum()),
            "correct_unlabelled": int((~self.wrong & self.unlabelled).sum()),
            "final_loss": round(float(self.losses[-1]), 6) if len(self.losses) else None,
            "embedding_frames": len(self.recorded_epochs),
            "seconds": round(self.seconds, 3),
        }


def accuracy_on(preds: np.ndarray, labels: np.ndarray, mask: np.ndarray) -> float:
    mask = np.asarray(mask, dtype=bool)
    return float((np.asarray(preds)[mask] == np.asarray(labels)[mask]).mean()) if mask.any() else float("nan")


def karate_graph(data: Any = None) -> Graph:
    """The karate club as a project :class:`Graph` (34 nodes, 156 directed edges, unit weights).

    ``pos`` is a seeded networkx spring layout (for drawing only; no layer uses it).
    """
    from core.data.karate import load_karate

    data = load_karate() if data is None else data
    ei = data.edge_index.long()  # (2, 156), both directions
    n = int(data.num_nodes)
    return Graph(
        ei, torch.ones(ei.shape[1]), n, torch.from_numpy(spring_positions(ei.numpy(), n)), kind="karate", params={}
    )


def spring_positions(edge_index: np.ndarray, num_nodes: int, seed: int = 0) -> np.ndarray:
    """(N, 2) float32 networkx spring-layout positions, seeded (same graph and seed, same picture)."""
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(num_nodes))
    g.add_edges_from((int(a), int(b)) for a, b in np.asarray(edge_index).T if a != b)
    pos = nx.spring_layout(g, seed=int(seed))
    return np.array([pos[i] for i in range(num_nodes)], dtype=np.float32)


class KarateNet(nn.Module):
    """Graph convolutions with tanh (widths e.g. 16, 8, 2), then a linear classifier on the last one.

    ``forward(x (N, F), graph)`` -> (logits (N, classes), embedding (N, widths[-1])).
    """

    def __init__(self, layer: str, in_channels: int, num_classes: int, widths: Sequence[int] = DEFAULT_WIDTHS):
        super().__init__()
        from core.models.layers.registry import LAYERS

        conv_cls = LAYERS.get(layer)
        kwargs = {"cheb": {"K": 3}, "gat": {"heads": 1, "concat": True}}.get(layer, {})
        self.layer = layer
        self.convs = nn.ModuleList()
        c_in = in_channels
        for c_out in widths:
            self.convs.append(conv_cls(c_in, c_out, **kwargs))
            c_in = c_out
        self.classifier = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor, graph) -> tuple[torch.Tensor, torch.Tensor]:
        h = x.unsqueeze(0)  # (1, N, F): a batch of one graph
        for conv in self.convs:
            h = torch.tanh(conv(h, graph))  # (1, N, C_l)
        h = h[0]  # (N, C_last)
        return self.classifier(h), h


def _check(model: str, epochs: int, lr: float, seed: int, widths: Sequence[int], record_every: int) -> None:
    if model not in KARATE_MODELS:
        raise UserInputError(
            "model", f"unknown layer {model!r} for the karate club (choose from {', '.join(KARATE_MODELS)})"
        )
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or not 1 <= epochs <= MAX_EPOCHS:
        raise UserInputError("epochs", f"must be a whole number in [1, {MAX_EPOCHS}], got {epochs!r}")
    if not (isinstance(lr, (int, float, np.floating)) and 0 < float(lr) <= 10):
        raise UserInputError("lr", f"must be in (0, 10], got {lr!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**31:
        raise UserInputError("seed", f"must be a non-negative integer, got {seed!r}")
    if not widths or any(
        isinstance(w, bool) or not isinstance(w, (int, np.integer)) or not 1 <= w <= 256 for w in widths
    ):
        raise UserInputError("hidden", f"layer widths must be whole numbers in [1, 256], got {list(widths)!r}")
    if isinstance(record_every, bool) or not isinstance(record_every, (int, np.integer)) or record_every < 1:
        raise UserInputError("record_every", f"must be a positive whole number, got {record_every!r}")


def train_karate(
    model: str = "gcn",
    epochs: int = DEFAULT_EPOCHS,
    lr: float = DEFAULT_LR,
    seed: int = 0,
    widths: Sequence[int] = DEFAULT_WIDTHS,
    record_every: int = 1,
    on_epoch: EpochFn | None = None,
) -> KarateResult:
    """Train a ``model`` network (a name in ``KARATE_MODELS``) on the karate club with one label per class.

    Adam on the cross-entropy of the labelled nodes, full batch, ``epochs`` steps. After every step the
    network is evaluated (loss of that step, accuracy on the unlabelled nodes); the penultimate (2-D)
    layer is recorded before training (epoch 0), every ``record_every`` epochs and after the last one.
    Raises ``UserInputError`` naming the parameter for an invalid value.
    """
    from core.data.karate import karate_split, load_karate
    from core.models.layers.shared_graph import SharedGraph

    widths = tuple(int(w) for w in widths) if not isinstance(widths, (int, np.integer)) else (int(widths),)
    _check(model, epochs, lr, seed, widths, record_every)
    t0 = time.perf_counter()
    data = load_karate()
    split = karate_split(data)
    graph = karate_graph(data)
    x = data.x.float()  # (34, 34) identity
    y = data.y.long()  # (34,)
    labelled = split.labelled
    unlabelled_np = split.unlabelled.numpy()
    labels_np = y.numpy().astype(np.int64)
    with isolated_rng(int(seed)):  # seeded init without touching the caller's or a training run's RNG
        net = KarateNet(model, x.shape[1], int(y.max()) + 1, widths)
    shared = SharedGraph(graph, sparse=False)
    opt = torch.optim.Adam(net.parameters(), lr=float(lr))

    def evaluate() -> tuple[np.ndarray, np.ndarray]:
        net.eval()
        with torch.no_grad():
            logits, h = net(x, shared)
        return logits.argmax(dim=1).numpy().astype(np.int64), h.numpy().astype(np.float32)

    preds, h = evaluate()
    frames, recorded = [h], [0]
    losses, accs = [], []
    for epoch in range(1, int(epochs) + 1):
        net.train()
        opt.zero_grad()
        logits, _ = net(x, shared)
        loss = F.cross_entropy(logits[labelled], y[labelled])
        loss.backward()
        opt.step()
        preds, h = evaluate()
        acc = accuracy_on(preds, labels_np, unlabelled_np)
        losses.append(float(loss.detach()))
        accs.append(acc)
        if epoch % record_every == 0 or epoch == epochs:
            frames.append(h)
            recorded.append(epoch)
        if on_epoch is not None:
            on_epoch({"epoch": epoch, "loss": losses[-1], "accuracy": acc})
    embeddings, projected = _to_2d(frames)
    return KarateResult(
        model=model,
        epochs=int(epochs),
        lr=float(lr),
        seed=int(seed),
        widths=widths,
        labels=labels_np,
        labelled=labelled.numpy().astype(bool),
        predictions=preds,
        losses=np.asarray(losses, np.float64),
        accuracies=np.asarray(accs, np.float64),
        recorded_epochs=np.asarray(recorded, np.int64),
        embeddings=embeddings,
        edge_index=graph.edge_index.numpy().astype(np.int64),
        projected=projected,
        seconds=time.perf_counter() - t0,
    )


def _to_2d(frames: list[np.ndarray]) -> tuple[np.ndarray, bool]:
    """Stack per-epoch (N, C) embeddings into (F, N, 2): as they are when C == 2, else PCA per frame,
    each turned onto the previous one (Procrustes) so the animation shows motion, not axis flips."""
    width = frames[0].shape[1]
    if width == 2:
        return np.stack(frames).astype(np.float32), False
    from core.analysis.embeddings import align_sequence, pca_2d

    return np.stack(align_sequence([pca_2d(f) for f in frames])).astype(np.float32), True


# ----------------------------------------------------------------------------- in a worker process


def karate_pool():
    """The process-wide pool that trains the karate club for pages (``KARATE_POOL``)."""
    from core.training.jobs import pool

    return pool("karate", **KARATE_POOL)


def _key(model: str, epochs: int, lr: float, seed: int) -> tuple:
    """The job key of these settings, after checking them (``UserInputError``, before any worker starts)."""
    _check(model, epochs, lr, seed, DEFAULT_WIDTHS, 1)
    return ("karate", model, int(epochs), float(lr), int(seed))


def request_karate(model: str, epochs: int, lr: float, seed: int, owner: str | None = None):
    """Train these settings in a worker process (or join the training of them, or get its kept result): a
    ``core.training.jobs.JobState``. ``UserInputError`` for an invalid value; ``BusyError`` when the pool has
    no room (its queue is full, or ``owner`` has a training unfinished)."""
    key = _key(model, epochs, lr, seed)
    return karate_pool().submit(key, train_karate_job, key[1:], owner=owner)


def karate_state(model: str, epochs: int, lr: float, seed: int):
    """Where the training of these settings is (a ``JobState``), or None when the pool knows none."""
    return karate_pool().state(_key(model, epochs, lr, seed))


def train_karate_job(model: str, epochs: int, lr: float, seed: int) -> KarateResult:
    """What a karate worker process runs: :func:`train_karate` on one thread (34 nodes gain nothing from more)."""
    torch.set_num_threads(1)
    return train_karate(model, epochs=epochs, lr=lr, seed=seed)


def _set_key(configs: list[dict[str, Any]]) -> tuple:
    """The job key of a lesson's set of trainings (each checked first, as :func:`request_karate` does)."""
    return ("karate-set", *(_key(c["model"], c["epochs"], c["lr"], c["seed"])[1:] for c in configs))


def request_karate_set(configs: list[dict[str, Any]], owner: str | None = None):
    """Train a lesson's models (``[{"model", "epochs", "lr", "seed"}, ...]``) one after the other in ONE worker
    job, so a lesson counts once against the pool's bounds: a ``JobState`` whose result is ``{model: KarateResult}``.
    ``UserInputError`` for an invalid value; ``BusyError`` when the pool has no room."""
    key = _set_key(configs)
    return karate_pool().submit(key, train_karate_set_job, key[1:], owner=owner)


def karate_set_state(configs: list[dict[str, Any]]):
    """Where the training of a lesson's set is (a ``JobState``), or None when the pool knows none."""
    return karate_pool().state(_set_key(configs))


def train_karate_set_job(*settings: tuple) -> dict[str, KarateResult]:
    """What a karate worker runs for a lesson: each ``(model, epochs, lr, seed)`` in turn, on one thread."""
    torch.set_num_threads(1)
    return {model: train_karate(model, epochs=epochs, lr=lr, seed=seed) for model, epochs, lr, seed in settings}
