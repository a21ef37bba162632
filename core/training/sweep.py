"""Sweeps: one setting trained over several values, or a grid over two settings; the rest held fixed.

A sweep is a list of RunConfigs submitted to the run manager (worker processes or Ray, whichever
backend it has); its runs share the store kind ``sweep:<id>`` so the page can find them and plot
accuracy against the swept value, one line per value of the second setting in a grid.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Optional, Sequence

from core.errors import UserInputError
from core.training.runs import RunConfig, validate

# setting -> (where it lives, parser). Graph parameters live in RunConfig.graph_params.
SWEEPABLE: dict[str, tuple[str, type]] = {
    "sigma": ("graph", float), "k": ("graph", int), "segments": ("graph", int), "neighbours": ("graph", int),
    "model": ("run", str), "group": ("run", str), "K": ("run", int), "hidden": ("run", int),
    "layers": ("run", int), "lr": ("run", float), "epochs": ("run", int), "seed": ("run", int),
    "adjacency": ("run", str), "conv": ("run", str), "positions": ("run", str), "data": ("run", str),
    # escnn: where a schedule such as D16,D16,C16 restricts its first group to its last (0 = never)
    "restriction": ("schedule", int),
}
MAX_SWEEP_RUNS = 12  # a sweep is a teaching tool, not a hyper-parameter search


def parse_values(param: str, text: str) -> list[Any]:
    """'0.02, 0.05, 0.1' -> [0.02, 0.05, 0.1] typed for ``param``; raises UserInputError naming it."""
    if param not in SWEEPABLE:
        raise UserInputError("param", f"cannot sweep {param!r} (choose from {', '.join(SWEEPABLE)})")
    cast = SWEEPABLE[param][1]
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise UserInputError(param, "give at least one value, separated by commas")
    if len(parts) > MAX_SWEEP_RUNS:
        raise UserInputError(param, f"at most {MAX_SWEEP_RUNS} values per sweep, got {len(parts)}")
    try:
        values = [cast(p) for p in parts]
    except ValueError:
        raise UserInputError(param, f"values must be {cast.__name__}s, got {text!r}") from None
    if len(set(values)) != len(values):
        raise UserInputError(param, "values repeat")
    return values


def sweep_configs(base: RunConfig, param: str, values: list[Any]) -> list[RunConfig]:
    """One validated config per value (all are checked before any is submitted)."""
    where = SWEEPABLE[param][0]
    configs = []
    for v in values:
        if where == "graph":
            cfg = replace(base, graph_params={**(base.graph_params or {}), param: v})
        elif where == "schedule":
            cfg = replace(base, group=_restricted(base, v))
        elif param == "model":  # a different layer type may need its own kind of graph
            cfg = replace(base, model=v)
            if v == "superpixel":
                cfg = replace(cfg, graph="superpixels", graph_params=None)
                cfg.__post_init__()
        else:
            cfg = replace(base, **{param: v})
        configs.append(validate(cfg))
    return configs


def _restricted(base: RunConfig, depth: int) -> str:
    """The base run's schedule with its restriction moved to after block ``depth`` (0: never restricted)."""
    from core.models.escnn_net import parse_schedule, restricted_schedule

    names = parse_schedule(base.group, base.layers) if base.model == "escnn" else []
    if len(set(names)) < 2:
        raise UserInputError("restriction", "sweep the restriction of an escnn run with a group schedule that ends "
                             "in the subgroup, e.g. group D16,D16,C16 (restricted from D16 to C16)")
    return restricted_schedule(names[0], names[-1], base.layers, depth)


def grid_configs(base: RunConfig, param: str, values: list[Any], param2: Optional[str] = None,
                 values2: Optional[list[Any]] = None) -> list[RunConfig]:
    """Every combination of ``param`` x ``param2`` values (just ``param`` without a second setting),
    all validated before any is submitted; at most ``MAX_SWEEP_RUNS`` runs."""
    if not param2:
        return sweep_configs(base, param, values)
    if param2 == param:
        raise UserInputError("param2", f"the second setting must differ from the first ({param})")
    if param2 not in SWEEPABLE:
        raise UserInputError("param2", f"cannot sweep {param2!r} (choose from {', '.join(SWEEPABLE)})")
    values2 = list(values2 or [])
    if len(values) * len(values2) > MAX_SWEEP_RUNS:
        raise UserInputError("param2", f"{len(values)} x {len(values2)} = {len(values) * len(values2)} runs; "
                                       f"a sweep has at most {MAX_SWEEP_RUNS}")
    return [cfg for first in sweep_configs(base, param, values) for cfg in sweep_configs(first, param2, values2)]


def new_sweep_kind(param: Optional[str] = None, param2: Optional[str] = None) -> str:
    """A fresh store kind for one sweep's runs, naming what it sweeps: ``sweep:<ms>:<param>[:<param2>]``."""
    return ":".join(["sweep", str(int(time.time() * 1000))] + [p for p in (param, param2) if p])


def sweep_params(kind: str, configs: Sequence[dict[str, Any]] = ()) -> tuple[Optional[str], Optional[str]]:
    """(param, param2) of a stored sweep: from its kind, or (older sweeps) the settings its runs differ in,
    the one with more values first; a schedule that moves its restriction counts as ``restriction``."""
    parts = kind.split(":")[2:]
    named = [p for p in parts if p in SWEEPABLE]
    if named:
        return named[0], (named[1] if len(named) > 1 else None)
    counts = {}
    for param in SWEEPABLE:
        values = {repr(sweep_value(c, param)) for c in configs if param != "restriction" or c.get("model") == "escnn"}
        if len(values) > 1:
            counts[param] = len(values)
    if "restriction" in counts:
        counts.pop("group", None)
    ordered = sorted(counts, key=lambda p: -counts[p])
    return (ordered[0] if ordered else None), (ordered[1] if len(ordered) > 1 else None)


def stored_sweeps(runs: Sequence[dict[str, Any]], prefix: str = "sweep:") -> list[dict[str, Any]]:
    """The sweeps (or, with ``prefix="search:"``, the searches) among stored ``runs`` (rows of
    ``RunStore.list_runs``), newest first: ``{"kind", "runs", "first_run", "label"}``."""
    found: dict[str, dict[str, Any]] = {}
    for r in runs:
        kind = r.get("kind") or ""
        if kind.startswith(prefix):
            entry = found.setdefault(kind, {"kind": kind, "runs": 0, "first_run": r["id"], "label": r.get("name", "")})
            entry["runs"] += 1
            entry["first_run"] = min(entry["first_run"], r["id"])
    return sorted(found.values(), key=lambda e: -e["first_run"])


def sweep_value(config: dict[str, Any], param: str) -> Any:
    """The swept value of one stored run's config."""
    where = SWEEPABLE[param][0]
    if where == "schedule":
        from core.models.escnn_net import restriction_depth

        return restriction_depth(config.get("group") or "C1")
    return (config.get("graph_params") or {}).get(param) if where == "graph" else config.get(param)
