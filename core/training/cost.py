"""What a run will cost, known before it is queued: parameters, peak memory and training time on this machine.

Every entry point that creates runs (the Train page, sweeps and searches, lessons, Continue / Step, links, the
CLI) asks :func:`check` before anything is stored or built; in public mode (``core.config.public_mode``) a run
over the budget (``core.config.limits``) is refused with one line naming the setting to lower and to what.

The estimate is built from the model's own :class:`~core.models.base.Footprint` (each registered model declares
how its parameters, saved activations and work grow with its settings) and a few constants measured on this
project's 2-core machine (``python -m benchmarks.cost_calibration`` prints the estimate beside measured runs):

    memory  = WORKER_MB + 4 bytes x (4 x params            weights, gradients, Adam's two moments
                                     + AUTOGRAD x batch     one batch's saved activations
                                       x activations
                                     + 1.5 x fixed          per-step tensors (escnn's expanded filters) and gradients
                                     + images x pixels)     the data set
    seconds = START_S + setup + epochs x (train x 3 x work + test x work              work = flops / FLOPS
                                          + steps x (STEP_S + 3 x fixed / FIXED_RATE))      + gathers / GATHERS

Times are for ONE thread: what each run gets while both slots of a 2-core server train (alone, a run takes two
threads and is faster).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.config import Limits, limits, public_mode, quick_mode
from core.errors import UserInputError

WORKER_MB = 310.0  # a worker's resident size before its run allocates (torch and the digits, from the forkserver)
AUTOGRAD = 1.8  # resident bytes per saved activation byte counted: autograd's own buffers, the allocator's slack
FIXED_KEPT = 1.5  # per-step tensors held at once, with their gradients (the tutorial's learned edges: 846 MB measured)
# Time, fitted to 14 quick runs in forked workers on ONE thread of this 2-core machine (what each run gets while both
# slots train; python -m benchmarks.cost_calibration): every run's CPU seconds within x0.76-x1.45 of the fit.
START_S = 0.5  # starting the worker, building the data, graph and model
FLOPS = 1.1e11  # dense floating-point operations a second (matmuls, convolutions), one thread
GATHERS = 2.5e9  # elements a second moved by edge-wise gathers and scatters, one thread
FIXED_RATE = 5e8  # elements a second of per-step work that does not scale with the batch (escnn's filter expansion)
STEP_S = 0.0  # per optimiser step beyond its arithmetic (fitted to zero: below the noise)
BACKWARD = 2.0  # the backward pass's work, in forward passes
SLIC_S = 0.005  # building one image's superpixel graph (once per data set, then cached on disk)


class BudgetError(UserInputError):
    """A run (or a sweep's runs together) over what this server lets one visitor spend."""


@dataclass(frozen=True)
class Cost:
    """A run's estimated cost: ``params`` trainable parameters, ``peak_mb`` of memory while it trains, ``seconds``
    of training on this machine (data set, epochs and batch size included)."""

    params: int
    peak_mb: float
    seconds: float
    known: bool = True  # False: the model declares no footprint (a model registered without one)

    def text(self) -> str:
        """'about 12 s, 180 MB' ('unknown' for a model without a footprint)."""
        return f"about {duration(self.seconds)}, {self.peak_mb:,.0f} MB" if self.known else "unknown"


def duration(seconds: float) -> str:
    """12 s, 3 min, 1.5 h."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def estimate(cfg, epochs: int | None = None) -> Cost:
    """The cost of training ``cfg`` (a validated :class:`~core.training.runs.RunConfig`) for ``epochs`` (None: all
    of ``cfg.training.epochs``; a continuation trains only its new ones); microseconds, nothing built."""
    from core.data.datasets import split_sizes
    from core.graphs.shape import GraphSpec
    from core.models import MODELS

    spec = GraphSpec(cfg.graph, dict(cfg.graph_params or {})) if cfg.uses_graph() else None
    declared = MODELS.footprint(cfg.model)
    if declared is None:
        return Cost(0, WORKER_MB, START_S, known=False)
    fp = declared(cfg.model_config(), spec)
    train, test = split_sizes(cfg.data, bool(cfg.training.quick or quick_mode()))
    epochs = cfg.training.epochs if epochs is None else epochs
    floats = (
        4 * fp.params
        + AUTOGRAD * cfg.training.batch_size * fp.activations
        + FIXED_KEPT * fp.fixed
        + (train + test) * 784
    )
    work = fp.flops / FLOPS + fp.gathers / GATHERS  # seconds per image, forward
    steps = math.ceil(train / cfg.training.batch_size)
    per_epoch = train * (1 + BACKWARD) * work + test * work + steps * (STEP_S + (1 + BACKWARD) * fp.fixed / FIXED_RATE)
    prepare = fp.setup_s + ((train + test) * SLIC_S if spec is not None and spec.kind == "superpixels" else 0.0)
    return Cost(int(fp.params), WORKER_MB + 4 * floats / 2**20, START_S + prepare + max(epochs, 1) * per_epoch)


# The settings a refusal may name, in the order tried: the first one the model reads whose lower value fits.
MEMORY_KNOBS = ("hidden", "batch_size", "layers", "K", "heads")
TIME_KNOBS = ("epochs", "hidden", "layers", "K")
FLOOR = {"hidden": 1, "batch_size": 1, "layers": 1, "K": 1, "heads": 1, "epochs": 1}


def check(cfg, public: bool | None = None, budget: Limits | None = None, epochs: int | None = None) -> Cost:
    """The cost of ``cfg`` (trained for ``epochs``, see :func:`estimate`); in public mode (``public=None`` follows
    :func:`core.config.public_mode`) raise :class:`BudgetError` when it is over the budget, naming the setting to
    lower and to what."""
    cost = estimate(cfg, epochs)
    if not (public_mode() if public is None else public):
        return cost
    budget = budget or limits(public=True)
    if not cost.known and (budget.run_mb or budget.run_seconds):
        raise BudgetError(
            "model",
            f"model {cfg.model!r} declares no footprint (ModelSpec(..., footprint=...)), "
            "so its cost is unknown and this public server does not train it",
        )
    if budget.run_mb and cost.peak_mb > budget.run_mb:
        raise BudgetError(
            *_advice(
                cfg,
                cost,
                MEMORY_KNOBS,
                lambda c: c.peak_mb <= budget.run_mb,
                f"needs about {cost.peak_mb:,.0f} MB to train; this server allows "
                f"{budget.run_mb:,} MB a run (GRAPHCONV_RUN_MB)",
            )
        )
    if budget.run_seconds and cost.seconds > budget.run_seconds:
        raise BudgetError(
            *_advice(
                cfg,
                cost,
                TIME_KNOBS,
                lambda c: c.seconds <= budget.run_seconds,
                f"would train for about {duration(cost.seconds)}; this server allows "
                f"{duration(budget.run_seconds)} a run (GRAPHCONV_RUN_SECONDS)",
            )
        )
    return cost


def check_all(configs: Sequence, public: bool | None = None, budget: Limits | None = None) -> list[Cost]:
    """:func:`check` each of a sweep's, search's or lesson's runs, then their time added up against
    ``batch_seconds``: all of them fit, or :class:`BudgetError` and none is queued."""
    costs = [check(cfg, public, budget) for cfg in configs]
    if not (public_mode() if public is None else public):
        return costs
    budget = budget or limits(public=True)
    total = sum(c.seconds for c in costs)
    if budget.batch_seconds and total > budget.batch_seconds:
        most = max(1, int(budget.batch_seconds // max(max(c.seconds for c in costs), 1e-9)))
        raise BudgetError(
            "runs",
            f"these {len(costs)} runs would train for about {duration(total)} together; this "
            f"server allows {duration(budget.batch_seconds)} for one sweep, search or lesson "
            f"(GRAPHCONV_BATCH_SECONDS): choose at most {most} values, or fewer epochs",
        )
    return costs


def _advice(cfg, cost: Cost, knobs: Iterable[str], fits, why: str) -> tuple[str, str]:
    """(setting, message): the first of ``knobs`` that the model reads and whose largest lower value fits."""
    from core.models import MODELS

    reads = set(MODELS.settings(cfg.model)) | {"batch_size", "epochs"}
    for knob in knobs:
        if knob not in reads or cfg.value(knob) is None:
            continue
        best = _largest_fitting(cfg, knob, fits)
        if best is not None:
            return knob, f"this run {why}: lower {knob} from {cfg.value(knob)} to {best} or less"
    return "run", f"this run {why}, whatever its size: choose a smaller model or the quick data set"


def _largest_fitting(cfg, knob: str, fits) -> int | None:
    """The largest value of ``knob`` below the current one whose estimate fits (bisection), or None."""
    lo, hi = FLOOR[knob], int(cfg.value(knob)) - 1
    if hi < lo or not fits(estimate(cfg.with_values(**{knob: lo}))):
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(estimate(cfg.with_values(**{knob: mid}))):
            lo = mid
        else:
            hi = mid - 1
    return lo
