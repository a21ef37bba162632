"""The graph-builder registry, the parameter table the pages build sliders from, and ``build_graph``.

A builder is a function returning a :class:`Graph`; it takes ``size`` (pixel graphs) or ``image``
(superpixels) plus the keyword parameters listed in ``GRAPH_PARAMS[kind]``. Adding a builder means
registering it here and describing its parameters; no page code changes.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from core.errors import UserInputError
from core.graphs.base import Graph
from core.graphs.gaussian import gaussian
from core.graphs.grid import complete, grid
from core.graphs.knn import knn
from core.graphs.superpixels import EDGE_MODES, WEIGHT_MODES, superpixels
from core.registry import Registry

GRAPHS: Registry[Callable[..., Graph]] = Registry("graph kind")
GRAPHS.register("grid")(grid)
GRAPHS.register("knn")(knn)
GRAPHS.register("gaussian")(gaussian)
GRAPHS.register("superpixels")(superpixels)
GRAPHS.register("complete")(complete)


class ParamSpec(NamedTuple):
    """One builder parameter: default and inclusive valid range (``None`` bounds: a choice
    parameter, see ``GRAPH_CHOICES``). A ``None`` default means "off" and is always valid."""

    default: Any
    min: Any
    max: Any
    help: str


SIZE_PARAM = ParamSpec(28, 2, 32, "Image side in pixels; the graph has N = size² nodes.")

GRAPH_PARAMS: dict[str, dict[str, ParamSpec]] = {
    "grid": {
        "neighbours": ParamSpec(8, 4, 8, "4: up, down, left, right. 8: also the four diagonals."),
    },
    "knn": {
        "k": ParamSpec(8, 1, 64, "Nearest pixels per node (then symmetrised, so some nodes get more); k < N."),
        "sigma": ParamSpec(None, 0.01, 1.0, "Gaussian bandwidth on [0, 1] coordinates; off: unit weights."),
    },
    "gaussian": {
        "sigma": ParamSpec(0.05, 0.01, 1.0, "Kernel bandwidth on [0, 1] coordinates (one pixel ≈ 0.037 at 28×28)."),
        "cutoff": ParamSpec(None, 0.0, 1.0, "Drop edges whose weight is below this; off: keep all."),
        "topk": ParamSpec(None, 1, 64, "Keep each node's k largest weights, then symmetrise; off: keep all."),
    },
    "superpixels": {
        "segments": ParamSpec(75, 2, 200, "Approximate number of SLIC regions (SLIC may return a few more or fewer)."),
        "compactness": ParamSpec(0.25, 0.01, 10.0, "Low: regions follow intensity edges. High: square regions."),
        "k": ParamSpec(8, 1, 32, "Nearest centroids per region when edges = knn (capped at N - 1)."),
        "edges": ParamSpec("knn", None, None, "knn: nearest centroids. rag: regions that touch."),
        "weights": ParamSpec(
            "gaussian",
            None,
            None,
            "gaussian: exp(-(distance/σ)² - (intensity difference/σ)²) "
            "with each node's σ from its k nearest (Benchmarking GNNs). unit: every edge 1.",
        ),
    },
    "complete": {},  # every pair of pixels; no parameters
}


def describe_graph(kind: str | None, params: dict[str, Any] | None = None) -> str:
    """A graph as a person says it: ``grid, {neighbours: 8}`` -> "8-neighbour grid", ``gaussian, {sigma: 0.05}`` ->
    "Gaussian-kernel graph, σ = 0.05" (links and configs keep the kind and its parameters)."""
    p = {k: v for k, v in (params or {}).items() if v is not None}
    if kind == "grid":
        return f"{p.get('neighbours', 8)}-neighbour grid"
    if kind == "knn":
        return f"{p.get('k', 8)}-nearest-neighbour graph" + (
            f", Gaussian weights σ = {p['sigma']:g}" if "sigma" in p else ""
        )
    if kind == "gaussian":
        extra = (f", weights under {p['cutoff']:g} dropped" if "cutoff" in p else "") + (
            f", {p['topk']} strongest per node" if "topk" in p else ""
        )
        return f"Gaussian-kernel graph, σ = {p.get('sigma', 0.05):g}{extra}"
    if kind == "superpixels":
        return f"about {p.get('segments', 75)} superpixels"
    if kind == "complete":
        return "complete graph"
    return str(kind)


# Parameters that take one of a few values (the pages show a select box or radio for these).
GRAPH_CHOICES: dict[str, dict[str, tuple]] = {
    "grid": {"neighbours": (4, 8)},
    "superpixels": {"edges": EDGE_MODES, "weights": WEIGHT_MODES},
}

# Parameters whose value must also stay below the number of nodes N = size².
_BELOW_N = {("knn", "k"), ("gaussian", "topk")}

FORMULAS: dict[str, str] = {
    "grid": r"A_{ij} = 1 \ \text{if}\ \lVert p_i - p_j \rVert_1 = 1\ (4\text{-nb})"
    r"\ \text{or}\ \lVert p_i - p_j \rVert_\infty = 1\ (8\text{-nb}),\ \text{else}\ 0",
    "knn": r"A_{ij} = w_{ij}\ \text{if}\ j \in \mathcal{N}_k(i)\ \text{or}\ i \in \mathcal{N}_k(j),"
    r"\quad w_{ij} = 1\ \text{or}\ \exp\!\left(-\frac{\lVert p_i - p_j \rVert^2}{\sigma^2}\right)",
    "gaussian": r"A_{ij} = \exp\!\left(-\frac{\lVert p_i - p_j \rVert^2}{\sigma^2}\right)\ (i \neq j),"
    r"\quad p_i = \frac{(\text{col}_i, \text{row}_i)}{\text{size} - 1}",
    "complete": r"A_{ij} = 1\ \text{for all}\ i \neq j\quad (N(N-1)\ \text{edges})",
    "superpixels": r"x_s = \Big(\bar I_s, \tfrac{\bar c_s}{W-1}, \tfrac{\bar r_s}{H-1}\Big),"
    r"\quad A_{st} = 1\ \text{if}\ t \in \mathcal{N}_k(s) \cup \ldots\ (\text{knn})"
    r"\ \text{or}\ R_s, R_t\ \text{touch}\ (\text{rag})",
}


def _coerce(kind: str, name: str, value: Any, spec: ParamSpec, num_nodes: int | None = None) -> Any:
    """Check one parameter's type, choices and range; return it as a plain int / float / str."""
    if value is None and spec.default is None:
        return None
    choices = GRAPH_CHOICES.get(kind, {}).get(name)
    if choices is not None:
        if isinstance(value, bool) or value not in choices:
            raise UserInputError(name, f"must be one of {', '.join(map(str, choices))}, got {value!r}")
        return type(spec.default)(value)
    want_int = isinstance(spec.default if spec.default is not None else spec.min, int)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise UserInputError(name, f"must be a number, got {value!r}")
    if want_int:
        if not float(value).is_integer():
            raise UserInputError(name, f"must be a whole number, got {value!r}")
        value = int(value)
    else:
        value = float(value)
        if math.isnan(value):
            raise UserInputError(name, "must be a number, got NaN")
    if (kind, name) in _BELOW_N and num_nodes is not None and value >= num_nodes:
        raise UserInputError(name, f"{name}={value} must be smaller than the number of nodes N={num_nodes}")
    if not spec.min <= value <= spec.max:
        raise UserInputError(name, f"must be between {spec.min} and {spec.max}, got {value}")
    return value


def check_params(kind: str, params: dict[str, Any], size: int | None = None) -> dict[str, Any]:
    """Every parameter of graph kind ``kind``, checked and coerced: ``params`` with defaults filled in.

    ``size`` (the image side, when known) adds the check that k-like parameters stay below N = size².
    Raises ``UserInputError`` for an unknown kind or parameter, or a bad value (``param`` names it).
    """
    if kind not in GRAPHS:
        raise UserInputError("kind", f"unknown graph kind {kind!r} (choose from {', '.join(GRAPHS.names())})")
    specs = GRAPH_PARAMS[kind]
    for name in params:
        if name not in specs:
            valid = ", ".join(specs) or "none"
            raise UserInputError(name, f"unknown parameter for graph kind {kind!r} (valid: {valid})")
    num_nodes = size**2 if size is not None else None
    return {name: _coerce(kind, name, params.get(name, spec.default), spec, num_nodes) for name, spec in specs.items()}


def build_graph(kind: str, *, size: int = 28, image: np.ndarray | None = None, **params: Any) -> Graph:
    """Validate ``params`` against ``GRAPH_PARAMS[kind]`` and build the graph.

    Args:
        kind: a registered graph kind (``GRAPHS.names()``).
        size: image side for pixel graphs (ignored by ``superpixels``).
        image: (H, W) image, required by ``superpixels`` (ignored by the others).
        **params: builder parameters; missing ones take their defaults.

    Raises:
        UserInputError: unknown kind or parameter, or a value of the wrong type or out of range;
            ``param`` names the offender.
    """
    builder = GRAPHS.get(kind) if kind in GRAPHS else None
    inputs = inspect.signature(builder).parameters if builder else {}
    kwargs: dict[str, Any] = {}
    if "size" in inputs:
        kwargs["size"] = _coerce(kind, "size", size, SIZE_PARAM)
    kwargs.update(check_params(kind, params, size=kwargs.get("size")))
    assert builder is not None  # check_params refused an unknown kind
    if "image" in inputs:
        if image is None:
            raise UserInputError("image", f"graph kind {kind!r} needs an image")
        kwargs["image"] = image
    return builder(**kwargs)
