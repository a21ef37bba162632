"""One training run end to end: config -> data -> graph -> model -> trainer -> run store.

Shared by the CLI (``python -m core train``) and the app's background worker, so both store runs
the same way: a row per run, a row per finished epoch written as the epoch ends, a checkpoint
(state dict) and the training state a continuation needs (artifact ``train_state``) when the run ends.
A config with ``parent`` set continues that run as a new run (``continuation_config``; see
``core.training.resume``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable, Iterable, Optional

import torch

from core.config import quick_mode
from core.errors import UserInputError
from core.models.base import ModelConfig
from core.rng import RunRNG

IMAGE_MODELS_WITHOUT_GRAPH = ("mlp", "cnn", "escnn", "tutorial")  # (the tutorial model builds its own)
PIXEL_GRAPH_KINDS = ("grid", "knn", "gaussian", "complete")
AUGMENTS = ("none", "rotate")
EDGE_OPTIONS = ("edge_inputs", "edge_activation", "edge_norm", "edge_sets")  # the learned-edge layer's settings
# Defaults of the settings a RunConfig leaves as None, then each model's own (all measured, 10 epochs or less):
# - ChebNet (dropout 0.5) reached 95.9% at epoch 3 with lr 3e-3 (93.3% with 1e-3) on mnist-5k;
# - the CNN reached 97.3% by epoch 7 with 1e-3 but wobbled around 96-97% with 3e-3;
# - escnn C8 on mnist-rot, 10 epochs: 3 blocks of width 48, dropout 0.1 and a cosine schedule reached
#   97.6% / 98.2% / 97.6% (seeds 0 / 1 / 2); with 2 blocks: 94.2-95.5% (seeds 0-2); width 32, constant rate:
#   93.3-94.2% (README, "Rotation").
FALLBACK_DEFAULTS: dict[str, Any] = {"layers": 2, "hidden": 32, "dropout": 0.5, "lr": 3e-3, "schedule": "constant"}
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "cnn": {"lr": 1e-3},
    "mlp": {"lr": 1e-3},
    "escnn": {"layers": 3, "hidden": 48, "dropout": 0.1, "schedule": "cosine"},
    # Benchmarking GNNs' MNIST superpixel recipe: 4 residual layers sized to ~100k parameters (hidden 0:
    # the width is chosen per layer type), Adam 1e-3, halved on a plateau, no dropout
    "tutorial": {"lr": 1e-3},  # the tutorial's Adam rate
    "superpixel": {"layers": 4, "hidden": 0, "dropout": 0.0, "lr": 1e-3, "schedule": "plateau"},
}
# Superpixel nets' batch-norm statistics are recomputed on this many training batches before each test pass
# (core.training.trainer.recalibrate_batchnorm): their running averages lagged far behind the weights.
PRECISE_BN_BATCHES = 30
# Quick mode (tests, the hosted demo) also keeps nets small: a width-48 escnn net peaked at 1,064 MB in the
# demo server, over its 1 GB budget; 2 blocks of width 32 stay well under it and train twice as fast.
# On quick mnist-rot (1,000 training digits, 200 test digits) that C8 net reached 83.5% in 8 epochs and 91.5% /
# 91.0% in 20 (seeds 0 / 1; the starter's recipe, core/training/starter.py); 3 blocks of width 32 reached 92.0% in
# 12 epochs but cost 30% more time: quick escnn nets stay at 2 blocks of 32; epochs bring them to 90%.
QUICK_MODEL_DEFAULTS: dict[str, dict[str, Any]] = {"escnn": {"layers": 2, "hidden": 32}}


def model_default(model: str, name: str, quick: Optional[bool] = None) -> Any:
    """The default of setting ``name`` (layers, hidden, dropout, lr, schedule) for ``model``.

    ``quick=None`` follows ``core.config.quick_mode()``.
    """
    if quick_mode() if quick is None else quick:
        if name in QUICK_MODEL_DEFAULTS.get(model, {}):
            return QUICK_MODEL_DEFAULTS[model][name]
    return MODEL_DEFAULTS.get(model, {}).get(name, FALLBACK_DEFAULTS[name])


@dataclass
class RunConfig:
    """Every setting that shapes a result (the CLI flags, the Train page's widgets, the shared link)."""

    data: str = "mnist-5k"  # mnist-5k (embedded), mnist (downloaded), mnist-rot
    model: str = "cheb"  # a name in core.models.MODELS
    graph: str = "grid"  # a name in core.graphs.GRAPHS (ignored by mlp, cnn, escnn)
    graph_params: Optional[dict[str, Any]] = None  # the builder's parameters; None: that kind's defaults
    layers: Optional[int] = None  # graph / conv layers; None: the model's default (2; escnn 3)
    hidden: Optional[int] = None  # channels of the first layer; None: the model's default (32; escnn 48; superpixel
    #                               0 = sized to ~100k parameters)
    dropout: Optional[float] = None  # dropout before the classifier; None: the model's (0.5 as in Defferrard et al.)
    K: int = 5  # Chebyshev order (cheb)
    heads: int = 4  # attention heads (gat)
    readout: str = "pool"  # fixed graphs: pool (pixel layout + FC) or global (mean)
    conv: str = "gcn"  # superpixel model: gcn, gat, gin, sage, gatedgcn, monet, pna, cheb
    positions: str = "fourier"  # superpixel model: raw (x, y) or fourier (x, y and their sin, cos at 8 frequencies)
    group: str = "C8"  # escnn group, or one per block (a schedule of subgroups, e.g. D16,D16,C16)
    adjacency: str = "gaussian"  # tutorial: none (linear), gaussian (fixed), learned, learned-offset, learned-local
    edge_inputs: str = "both"  # learned edges: both, diff, abs (coordinates on [0, 1]) or offset (in pixels)
    edge_activation: str = "softplus"  # learned edges: softplus (positive), tanh (signed) or none
    edge_norm: str = "rw"  # learned edges: rw, sym or none
    edge_sets: str = "shared"  # learned edges: shared, out (per output channel) or pair (per channel pair)
    edge_frozen: bool = False  # learned edges: keep the edge MLP at its initial weights (a control run)
    epochs: int = 8  # passes over the training set
    lr: Optional[float] = None  # Adam learning rate; None: the model's default (MODEL_DEFAULTS)
    schedule: Optional[str] = None  # constant or cosine decay; None: the model's default (MODEL_DEFAULTS)
    augment: str = "none"  # none, or rotate: turn each training image by a random angle every epoch
    batch_size: int = 64  # images per step
    seed: int = 0  # seeds the split-independent randomness: init, shuffling, dropout
    device: str = "auto"  # auto, cpu, cuda, mps
    quick: bool = False  # quick mode: fewer images (tests, hosted demo)
    parent: Optional[int] = None  # a continuation: the run whose training it carries on to ``epochs`` in all

    def __post_init__(self) -> None:
        if self.model == "escnn" and self.layers is None and isinstance(self.group, str) and "," in self.group:
            self.layers = len(self.group.split(","))  # a group schedule: one group per block
        for name in FALLBACK_DEFAULTS:  # layers, hidden, dropout, lr, schedule
            if getattr(self, name) is None:
                setattr(self, name, model_default(self.model, name, quick=self.quick or quick_mode()))
        if self.graph_params is None:  # each graph kind's own defaults (grid: neighbours=8, knn: k=8, ...)
            from core.graphs import GRAPH_PARAMS

            spec = GRAPH_PARAMS.get(self.graph, {})
            self.graph_params = {name: p.default for name, p in spec.items() if p.default is not None}

    def model_config(self) -> ModelConfig:
        names = {f.name for f in fields(ModelConfig)}
        return ModelConfig(name=self.model, **{k: v for k, v in asdict(self).items() if k in names and k != "name"})

    def uses_graph(self) -> bool:
        return self.model not in IMAGE_MODELS_WITHOUT_GRAPH

    def ignored_settings(self, given: Iterable[str]) -> list[str]:
        """The names in ``given`` (settings a user set explicitly) that this run's model does not read."""
        from core.models import NEEDS_FIXED_GRAPH

        sp = self.model == "superpixel"
        reads = {"graph": self.uses_graph(), "graph_params": self.uses_graph(),
                 "K": self.model == "cheb" or (sp and self.conv == "cheb"),
                 "heads": self.model == "gat" or (sp and self.conv == "gat"),
                 "readout": self.model in NEEDS_FIXED_GRAPH, "conv": sp, "positions": sp,
                 "group": self.model == "escnn",
                 "adjacency": self.model == "tutorial", "edge_frozen": self.model in ("learned", "tutorial"),
                 "layers": self.model != "tutorial", "hidden": self.model != "tutorial",
                 "dropout": self.model != "tutorial",
                 **{name: self.model == "learned" for name in EDGE_OPTIONS}}
        return [name for name in given if not reads.get(name, True)]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if not self.uses_graph():
            d["graph"], d["graph_params"] = None, {}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise UserInputError(unknown[0], "unknown setting")
        d = {k: v for k, v in d.items() if v is not None or k in ("graph",)}
        if d.get("model") == "superpixel" and "positions" not in d:
            d["positions"] = "raw"  # stored before the Fourier encoding existed: their weights expect (x, y)
        if d.get("graph") is None:
            d.pop("graph", None)
            d.pop("graph_params", None)
        return cls(**d)

    def label(self) -> str:
        """What a person calls this run, from the model registry, e.g. "ChebNet K=5 on the 8-neighbour grid"
        (links and configs keep the short names: ``cheb``, ``grid``)."""
        from core.graphs import describe_graph
        from core.models import MODELS
        from core.models.superpixel_net import SUPERPIXEL_TITLES

        said = {"edge_inputs": "inputs", "edge_activation": "weights", "edge_norm": "normalisation",
                "edge_sets": "edge sets"}
        edges = [f"{said[n]} {getattr(self, n)}" for n in EDGE_OPTIONS if getattr(self, n) != getattr(RunConfig, n)]
        extra = {"cheb": f" K={self.K}", "gat": f", {self.heads} heads", "escnn": f" {self.group}",
                 "tutorial": f", {self.adjacency} adjacency",
                 "superpixel": f", {SUPERPIXEL_TITLES.get(self.conv, self.conv).split(' (')[0]} layers" + (", raw positions" if self.positions == "raw"
                                                                        else ""),
                 "learned": f" ({', '.join(edges)})" if edges else ""}.get(self.model, "")
        extra += ", edges frozen" if self.edge_frozen and self.model in ("learned", "tutorial") else ""
        more = f", continued from run {self.parent}" if self.parent is not None else ""
        name = MODELS.short(self.model) if self.model in MODELS else str(self.model)
        if not self.uses_graph() or self.model == "superpixel":
            return f"{name}{extra}{more}"
        return f"{name}{extra} on the {describe_graph(self.graph, self.graph_params)}{more}"


def run_title(run: Optional[dict[str, Any]], with_id: bool = True, with_data: bool = False) -> str:
    """How every page names a stored run: "Run 5 · ChebNet K=5 on the 8-neighbour grid" (``with_data``: "· mnist-5k").

    Built from the run's config, so runs stored before names were readable read the same; a config this code cannot
    read falls back to the stored name."""
    run = run or {}
    head = f"Run {run['id']}" if with_id and run.get("id") is not None else ""
    cfg = run.get("config") or {}
    try:
        text = RunConfig.from_dict(dict(cfg)).label()
    except Exception:  # an old or foreign config: its stored name, else its model's name
        text = str(run.get("name") or cfg.get("model") or "unknown run")
    if with_data and cfg.get("data"):
        text += f" · {cfg['data']}"
    return f"{head} · {text}" if head else text


def setting_type(name: str) -> type:
    """The Python type of RunConfig setting ``name`` (``Optional[float]`` -> float): the CLI's flags and scripts'
    ``--set NAME=VALUE`` parse values with it."""
    import typing

    hint = typing.get_type_hints(RunConfig)[name]
    return next((t for t in typing.get_args(hint) if t is not type(None)), hint)


def _check_range(name: str, value: float, lo: float, hi: float) -> None:
    if not (lo <= value <= hi):
        raise UserInputError(name, f"{value} is out of range [{lo}, {hi}]")


def _lookup(registry, name: str, setting: str):
    """``registry.get(name)``, with the error naming the RunConfig setting (e.g. "data", not "dataset")."""
    try:
        return registry.get(name)
    except UserInputError as err:
        raise UserInputError(setting, err.message) from None


def validate(cfg: RunConfig) -> RunConfig:
    """Raise UserInputError (naming the parameter) for any invalid setting or combination."""
    from core.data.datasets import DATASETS
    from core.graphs import GRAPHS, SIZE_PARAM, check_params
    from core.models import MODELS, NEEDS_FIXED_GRAPH

    _lookup(DATASETS, cfg.data, "data")
    MODELS.get(cfg.model)
    _check_range("layers", cfg.layers, 1, 6)
    if cfg.model == "superpixel":  # 0: the width that gives ~100k parameters
        _check_range("hidden", cfg.hidden, 0, 512)
    else:
        _check_range("hidden", cfg.hidden, 1, 512)
    _check_range("dropout", cfg.dropout, 0.0, 0.95)
    _check_range("K", cfg.K, 1, 30)
    _check_range("heads", cfg.heads, 1, 16)
    _check_range("epochs", cfg.epochs, 1, 500)
    _check_range("batch_size", cfg.batch_size, 1, 8192)
    _check_range("seed", cfg.seed, 0, 2**31 - 1)
    if cfg.parent is not None and (isinstance(cfg.parent, bool) or not isinstance(cfg.parent, int) or cfg.parent < 1):
        raise UserInputError("parent", f"must be a run id (a whole number from 1), got {cfg.parent!r}")
    if not (0 < cfg.lr <= 10):
        raise UserInputError("lr", f"{cfg.lr} is out of range (0, 10]")
    from core.training.trainer import SCHEDULES

    if cfg.schedule not in SCHEDULES:
        raise UserInputError("schedule", f"unknown schedule {cfg.schedule!r} (choose from {', '.join(SCHEDULES)})")
    if cfg.augment not in AUGMENTS:
        raise UserInputError("augment", f"unknown augmentation {cfg.augment!r} (choose from {', '.join(AUGMENTS)})")
    if cfg.augment == "rotate" and cfg.model == "superpixel":
        raise UserInputError("augment", "rotation augmentation works on images; superpixel graphs are built once")
    from core.models.layers.learned_conv import ACTIVATIONS, EDGE_SETS, INPUTS, NORMS

    for name, choices in zip(EDGE_OPTIONS, (tuple(INPUTS), ACTIVATIONS, NORMS, EDGE_SETS)):
        if getattr(cfg, name) not in choices:
            raise UserInputError(name, f"unknown value {getattr(cfg, name)!r} (choose from {', '.join(choices)})")
    if cfg.readout not in ("pool", "global"):
        raise UserInputError("readout", f"unknown readout {cfg.readout!r} (choose from pool, global)")
    if cfg.device not in ("auto", "cpu", "cuda", "mps") and not cfg.device.startswith("cuda:"):
        raise UserInputError("device", f"unknown device {cfg.device!r} (choose from auto, cpu, cuda, mps)")
    if cfg.model == "tutorial":
        from core.models.tutorial_net import ADJACENCIES

        if cfg.adjacency not in ADJACENCIES:
            raise UserInputError("adjacency", f"unknown adjacency {cfg.adjacency!r} (choose from "
                                 f"{', '.join(ADJACENCIES)})")
    if cfg.model == "escnn":
        from core.models.escnn_net import MAX_LAYERS, MIN_LAYERS, parse_schedule

        if "," in cfg.group and not MIN_LAYERS <= cfg.layers <= MAX_LAYERS:
            raise UserInputError("group", f"a group schedule needs {MIN_LAYERS} to {MAX_LAYERS} blocks, got {cfg.layers}")
        parse_schedule(cfg.group, cfg.layers if "," in cfg.group else None)
    if not cfg.uses_graph():
        return cfg
    _lookup(GRAPHS, cfg.graph, "graph")
    # check the values too (range, type, k < N), so a bad one is refused before a run is stored
    check_params(cfg.graph, cfg.graph_params, size=SIZE_PARAM.default if cfg.graph in PIXEL_GRAPH_KINDS else None)
    if cfg.model in NEEDS_FIXED_GRAPH and cfg.graph not in PIXEL_GRAPH_KINDS:
        raise UserInputError("graph", f"model {cfg.model!r} needs a fixed pixel graph ({', '.join(PIXEL_GRAPH_KINDS)});"
                             " superpixel graphs differ per image: use model 'superpixel'")
    dense = cfg.graph == "complete" or (
        cfg.graph == "gaussian" and not (cfg.graph_params.get("cutoff") or cfg.graph_params.get("topk")))
    what = "the complete graph" if cfg.graph == "complete" else "the dense Gaussian graph"
    if cfg.model == "gat" and dense:  # one attention message per edge, image and head: ~5 GB a batch
        raise UserInputError("graph", f"GAT on {what} (613,872 edges) needs several GB per batch: "
                             "use a sparse graph (grid, knn, or gaussian with cutoff or topk)")
    if cfg.model == "learned" and cfg.edge_sets != "shared" and dense:  # a message per edge, image and channel
        raise UserInputError("edge_sets", f"edge sets per channel on {what} (613,872 edges) need tens of GB per "
                             "batch: use edge_sets 'shared' there, or a sparse graph")
    if cfg.model == "superpixel" and cfg.graph != "superpixels":
        raise UserInputError("graph", "model 'superpixel' needs graph kind 'superpixels'")
    if cfg.model == "superpixel":
        from core.models.superpixel_net import check_conv, check_positions

        check_conv(cfg.conv)
        check_positions(cfg.positions)
    return cfg


def build_everything(cfg: RunConfig, rng: Optional[RunRNG] = None,
                     on_prepare: Optional[Callable[[str, int, int], None]] = None):
    """(dataset, train Batches, test Batches, model, graph or None) for a validated config.

    The model is initialised on ``rng`` (a run's own random stream; a fresh one seeded with ``cfg.seed``
    if None), so the same seed gives the same weights even while other runs train. ``on_prepare(what,
    done, total)`` hears about slow preparation (building superpixel graphs the first time).
    """
    from core.data.datasets import load_dataset
    from core.graphs import build_graph
    from core.models import MODELS
    from core.data.batches import EVAL_BATCH, Batches

    quick = cfg.quick or quick_mode()
    ds = load_dataset(cfg.data, quick=quick)
    graph, extra = None, {}
    if cfg.model == "superpixel":
        from core.graphs.superpixel_dataset import degree_histogram, superpixel_batches

        progress = (lambda done, total: on_prepare("building superpixel graphs", done, total)) if on_prepare else None
        train, test = superpixel_batches(ds, cfg.graph_params, cfg.batch_size, cfg.seed, progress)
        if cfg.conv == "pna":
            extra["degree_histogram"] = degree_histogram(train.inputs)
    else:
        if cfg.uses_graph():
            graph = build_graph(cfg.graph, size=ds.x_train.shape[-1], **cfg.graph_params)
        train = Batches(ds.x_train.unsqueeze(1), ds.y_train, cfg.batch_size, shuffle=True, seed=cfg.seed)
        test = Batches(ds.x_test.unsqueeze(1), ds.y_test, EVAL_BATCH, shuffle=False)  # (EVAL_BATCH, 1, H, W)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(cfg.seed)  # GPU dropout (not reproducible bit for bit on a GPU anyway)
    with (rng or RunRNG(cfg.seed)).active():  # nothing above draws from torch's generator
        model = MODELS.get(cfg.model)(cfg.model_config(), graph, **extra)
    return ds, train, test, model, graph


def peak_memory_mb() -> Optional[float]:
    """The resident high-water mark of this process in MB (a worker: its run's peak), or None where unknown."""
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux reports KB


def continuation_config(store, parent_id: int, more_epochs: int) -> RunConfig:
    """The config of a NEW run that continues run ``parent_id`` for ``more_epochs`` more epochs (see
    ``core.training.resume`` for why a new run): the parent's settings, ``parent`` set, ``epochs`` the new
    total. UserInputError for a bad count or a run that cannot be continued; CheckpointError for a run
    without a saved training state (trained before continuing existed)."""
    from core.training.resume import continuable, load_train_state

    if isinstance(more_epochs, bool) or not isinstance(more_epochs, int) or more_epochs < 1:
        raise UserInputError("epochs", f"continue for at least 1 more epoch (got {more_epochs!r})")
    run = store.get_run(int(parent_id))
    if run is None:
        raise UserInputError("run", f"run {parent_id} does not exist")
    why = continuable(store, run)
    if why:
        raise UserInputError("run", f"run {parent_id} cannot be continued: {why}")
    done = int(load_train_state(store, run["id"])["epoch"])
    return validate(RunConfig.from_dict({**(run.get("config") or {}), "epochs": done + more_epochs,
                                         "parent": run["id"]}))


def _resume_of(cfg: RunConfig, store) -> tuple[Any, Any]:
    """(parent's weights, training state) of continuation ``cfg``, after checking it keeps its parent's settings."""
    from core.training.resume import SAME_SETTINGS_EXCEPT, parent_resume

    parent, weights, state = parent_resume(store, cfg.parent, cfg.epochs)
    mine, theirs = cfg.to_dict(), RunConfig.from_dict(dict(parent.get("config") or {})).to_dict()
    differ = sorted(k for k in mine if k not in SAME_SETTINGS_EXCEPT and mine[k] != theirs.get(k))
    if differ:
        raise UserInputError("parent", f"a continuation trains with its parent's settings; these differ from run "
                             f"{cfg.parent}'s: {', '.join(differ)}")
    return weights, state


def execute(cfg: RunConfig, store=None, *, run_id: Optional[int] = None, session: Optional[str] = None,
            should_stop: Optional[Callable[[], bool]] = None,
            on_batch: Optional[Callable[[dict], None]] = None,
            on_epoch: Optional[Callable[[dict], None]] = None,
            on_prepare: Optional[Callable[[str, int, int], None]] = None) -> dict[str, Any]:
    """Validate, train and store one run; return its summary (the CLI's JSON).

    Invalid settings raise UserInputError before anything is stored. Everything after that ends in
    the store: ``finished``, ``stopped`` or ``failed`` with the reason.
    """
    from core.training.snapshots import SNAPSHOT_ARTIFACT, FeatureTap
    from core.training.store import RunStore, checkpoint_path, save_checkpoint
    from core.training.trainer import Callbacks, TrainerConfig, fit, pick_device

    validate(cfg)
    store = store or RunStore()
    if run_id is None:
        run_id = store.create_run(cfg.to_dict(), name=cfg.label(), session=session)
    t_start, cpu_start = time.perf_counter(), time.process_time()
    try:
        device = pick_device(cfg.device)
        resume = _resume_of(cfg, store) if cfg.parent is not None else None  # (weights, training state)
        store.start(run_id, str(device))
        rng = RunRNG(cfg.seed)  # init and dropout draw from the run's own stream (core/rng.py)
        ds, train, test, model, _ = build_everything(cfg, rng, on_prepare)
        if resume is not None:  # the parent's weights; fit restores its optimiser, schedule and random streams
            from core.training.resume import load_parent_weights

            load_parent_weights(model, resume[0])
        tap = FeatureTap(model)  # records the first 500 test features during fit's own test pass

        def epoch_done(row: dict) -> None:
            store.log_epoch(run_id, **row)
            try:  # the test embedding as it forms (PCA, artifact "pca"), for the Results page
                snapshot = tap.snapshot(test.labels)
                if snapshot is not None:
                    store.save_artifact(run_id, SNAPSHOT_ARTIFACT, snapshot, epoch=row["epoch"])
            except Exception:  # an optional picture never breaks a run
                pass
            if on_epoch:
                on_epoch(row)

        from core.data.transforms import RandomRotation

        augment = RandomRotation(seed=cfg.seed) if cfg.augment == "rotate" else None
        tcfg = TrainerConfig(epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size, seed=cfg.seed,
                             device=cfg.device, schedule=cfg.schedule, augment=augment,
                             precise_bn=PRECISE_BN_BATCHES if cfg.model == "superpixel" else 0)
        try:
            result = fit(model, train, test, tcfg, Callbacks(on_batch=on_batch, on_epoch=epoch_done,
                                                             should_stop=should_stop), rng=rng,
                         resume=resume[1] if resume is not None else None)
        finally:
            tap.close()
    except Exception as err:  # anything unexpected still ends the run in the store with a reason
        message = str(err) if isinstance(err, UserInputError) else f"{type(err).__name__}: {err}"
        store.fail(run_id, message)
        raise
    summary = {
        "run_id": run_id,
        "model": cfg.model,
        "label": cfg.label(),
        "data": cfg.data,
        "status": result.status,
        "device": result.device,
        "test_accuracy": result.test_accuracy,
        "images_per_second": result.images_per_second,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_images": len(train.labels),
        "test_images": len(test.labels),
        "seconds": time.perf_counter() - t_start,
        "cpu_seconds": time.process_time() - cpu_start,  # every thread's: what core.training.cost estimates
        "peak_mb": peak_memory_mb(),  # this process's high-water mark: beside the estimate (core.training.cost)
        "error": result.error,
        "epochs": result.epochs,
        **({"parent": cfg.parent} if cfg.parent is not None else {}),
    }
    ckpt = None
    if result.epochs:
        ckpt = checkpoint_path(run_id)
        save_checkpoint(model.state_dict(), ckpt)
        if result.state is not None:  # what a continuation needs (core.training.resume), beside the weights
            from core.training.resume import TRAIN_STATE_ARTIFACT, state_bytes

            try:
                store.save_artifact(run_id, TRAIN_STATE_ARTIFACT, state_bytes(result.state))
            except Exception as err:  # the run's result stands; it just cannot be continued
                summary["train_state_error"] = f"{type(err).__name__}: {err}"
        if result.status == "finished":  # what Results shows, once per checkpoint (a stopped run's on first view)
            error = _store_evaluation(store, run_id, ckpt, model, test, ds, cfg, should_stop)
            if error:
                summary["evaluation_error"] = error
    store.finish(run_id, {k: v for k, v in summary.items() if k != "epochs"}, status=result.status,
                 error=result.error, checkpoint=str(ckpt) if ckpt else None)
    return summary


def _store_evaluation(store, run_id: int, ckpt, model, test, ds, cfg: RunConfig,
                      should_stop: Optional[Callable[[], bool]]) -> Optional[str]:
    """Evaluate the final model on its test set and store it as artifact ``"evaluation"`` for the Results page
    (``core.training.evaluation``). A stop request skips it; a failure is returned as text, never raised (the
    run's result stands; Results evaluates it on first view instead)."""
    from core.training.evaluation import checkpoint_file_version, evaluate_model, save_evaluation

    try:
        ev = evaluate_model(model, test, ds.classes, version=checkpoint_file_version(ckpt),
                            model_kind="superpixel" if cfg.model == "superpixel" else "image", data=cfg.data,
                            quick=cfg.quick or quick_mode(), should_stop=should_stop)
        if ev is not None:
            save_evaluation(store, run_id, ev)
    except Exception as err:
        return f"{type(err).__name__}: {err}"
    return None
