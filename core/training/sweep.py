"""Sweeps: one setting trained over several values, or a grid over two settings; the rest held fixed.

A sweep is a list of RunConfigs submitted to the run manager (worker processes or Ray, whichever
backend it has); its runs share one run group (:func:`new_sweep_group`: a ``RunGroup`` of type ``sweep`` naming
the swept settings) so the page can find them and plot accuracy against the swept value, one line per value of
the second setting in a grid.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from core.errors import UserInputError
from core.graphs import describe_graph
from core.models import MODELS
from core.training.runs import RunConfig, validate
from core.training.store import Run, as_run
from core.training.store.groups import RunGroup
from core.training.store.legacy_kinds import group_from_kind


class Sweepable(NamedTuple):
    """One setting a sweep or a search can vary."""

    where: str  # "graph": RunConfig.graph_params; "run": a RunConfig field or model setting; "schedule": escnn's
    type: type  # how its values parse
    label: str  # what lists call it, ending in its key: ``k`` (a k-NN graph's) never reads like ``K`` (ChebNet's)
    values: str  # what the Compare page's box starts from


# The settings that are not a model's: graph parameters, the layer type, training and data. A model's own settings
# are sweepable when their declaration gives ``sweep`` values (core.models.spec.setting); their labels come from it.
OTHER_SWEEPS: dict[str, Sweepable] = {
    "sigma": Sweepable("graph", float, "Gaussian width σ (sigma)", "0.02, 0.05, 0.1, 0.2"),
    "k": Sweepable("graph", int, "k-NN neighbours (k)", "4, 8, 16, 32"),
    "segments": Sweepable("graph", int, "Superpixel segments (segments)", "25, 50, 75, 100"),
    "neighbours": Sweepable("graph", int, "Grid neighbours (neighbours)", "4, 8"),
    "model": Sweepable("run", str, "Layer type (model)", "mlp, cnn, gcn, cheb"),
}
TRAINING_SWEEPS: dict[str, Sweepable] = {
    "lr": Sweepable("run", float, "Learning rate (lr)", "0.0003, 0.001, 0.003, 0.01"),
    "epochs": Sweepable("run", int, "Epochs (epochs)", ""),
    "seed": Sweepable("run", int, "Random seed (seed)", "0, 1, 2"),
    "data": Sweepable("run", str, "Data set (data)", "mnist-5k, mnist-rot"),
    # escnn: where a schedule such as D16,D16,C16 restricts its first group to its last (0 = never)
    "restriction": Sweepable("schedule", int, "Restriction depth (restriction)", "0, 1, 2"),
}


class _Sweepables(Mapping[str, Sweepable]):
    """Every sweepable setting by key, read afresh from the model registry (a model added later is included)."""

    def __init__(self) -> None:
        self._cached: tuple[tuple[str, ...], dict[str, Sweepable]] = ((), {})

    def _all(self) -> dict[str, Sweepable]:
        models = tuple(MODELS.names())
        if self._cached[0] != models:  # built once per set of registered models
            own = {
                s.name: Sweepable("run", s.type, s.listed, s.sweep) for s in MODELS.all_settings().values() if s.sweep
            }
            self._cached = (models, {**OTHER_SWEEPS, **own, **TRAINING_SWEEPS})
        return self._cached[1]

    def __getitem__(self, key: str) -> Sweepable:
        return self._all()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


SWEEPABLE: Mapping[str, Sweepable] = _Sweepables()
MAX_SWEEP_RUNS = 12  # a sweep is a teaching tool, not a hyper-parameter search
_PROPER = ("Chebyshev", "Gaussian")  # words that keep their capital inside a sentence


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
            cfg = base.with_values(graph_params={**(base.graph_params or {}), param: v})
        elif where == "schedule":
            cfg = base.with_values(group=_restricted(base, v))
        elif param == "model":  # a different layer type may need its own kind of graph (superpixels)
            graphs = MODELS.spec(v).graphs
            moved = graphs and base.graph not in graphs
            cfg = base.with_values(model=v, **({"graph": graphs[0], "graph_params": None} if moved else {}))
        else:
            cfg = base.with_values(**{param: v})
        configs.append(validate(cfg))
    return configs


def _restricted(base: RunConfig, depth: int) -> str:
    """The base run's schedule with its restriction moved to after block ``depth`` (0: never restricted)."""
    from core.models.escnn_net import parse_schedule, restricted_schedule

    schedules = "group" in MODELS.settings(base.model)  # a model with a group schedule (escnn)
    names = parse_schedule(base.value("group"), base.value("layers")) if schedules else []
    if len(set(names)) < 2:
        raise UserInputError(
            "restriction",
            "sweep the restriction of an escnn run with a group schedule that ends "
            "in the subgroup, e.g. group D16,D16,C16 (restricted from D16 to C16)",
        )
    return restricted_schedule(names[0], names[-1], base.value("layers"), depth)


def grid_configs(
    base: RunConfig, param: str, values: list[Any], param2: str | None = None, values2: list[Any] | None = None
) -> list[RunConfig]:
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
        raise UserInputError(
            "param2",
            f"{len(values)} x {len(values2)} = {len(values) * len(values2)} runs; a sweep has at most {MAX_SWEEP_RUNS}",
        )
    return [cfg for first in sweep_configs(base, param, values) for cfg in sweep_configs(first, param2, values2)]


def new_sweep_group(param: str | None = None, param2: str | None = None) -> RunGroup:
    """A fresh group for one sweep's runs, naming what it sweeps (its id spelled ``sweep:<ms>:<param>[:<param2>]``,
    as older versions spelled the sweep's kind, so tools that hold one keep matching)."""
    params = tuple(p for p in (param, param2) if p)
    return RunGroup("sweep", ":".join(["sweep", str(int(time.time() * 1000)), *params]), params=params)


def as_group(group: RunGroup | str | None) -> RunGroup | None:
    """``group`` itself, or the group an old kind string names (``core.training.store.legacy_kinds``)."""
    return group if isinstance(group, RunGroup) else group_from_kind(group)


def _has_group(config: dict[str, Any]) -> bool:
    """Whether a stored config's model has a symmetry group (a steerable net): its schedule has a restriction."""
    model = config.get("model")
    return isinstance(model, str) and model in MODELS and "group" in MODELS.settings(model)


def sweep_params(group: RunGroup | str | None, configs: Sequence[dict[str, Any]] = ()) -> tuple[str | None, str | None]:
    """(param, param2) of a stored sweep: the settings its group names, or (sweeps stored before they named them)
    the settings its runs differ in, the one with more values first; a schedule that moves its restriction counts
    as ``restriction``."""
    found = as_group(group)
    named = [p for p in (found.params if found else ()) if p in SWEEPABLE]
    if named:
        return named[0], (named[1] if len(named) > 1 else None)
    counts = {}
    for param in SWEEPABLE:
        values = {repr(sweep_value(c, param)) for c in configs if param != "restriction" or _has_group(c)}
        if len(values) > 1:
            counts[param] = len(values)
    if "restriction" in counts:
        counts.pop("group", None)
    ordered = sorted(counts, key=lambda p: -counts[p])
    return (ordered[0] if ordered else None), (ordered[1] if len(ordered) > 1 else None)


def sweep_label(param: str) -> str:
    """How lists and tables name a sweepable setting, e.g. ``Chebyshev order (K)``; an unknown name as it is."""
    found = SWEEPABLE.get(param)
    return found.label if found else param


def in_sentence(label: str) -> str:
    """A label inside a sentence: 'Learning rate (lr)' -> 'learning rate (lr)'; 'Chebyshev order (K)' and
    'k-NN neighbours (k)' stay as they are."""
    first = label.split(" ", 1)[0]
    if first in _PROPER or not label[:1].isupper() or not label[1:2].islower():
        return label
    return label[0].lower() + label[1:]


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _said(param: str, value: Any) -> str:
    """A swept value as a person reads it: a model's short name ("ChebNet"), else ``_shown``."""
    from core.models import MODELS

    return MODELS.short(value) if param == "model" and isinstance(value, str) and value in MODELS else _shown(value)


def sweep_name(group: RunGroup | str | None, configs: Sequence[dict[str, Any]]) -> str:
    """A readable name for a stored sweep from its group and its runs' configs (in run order), the same for a sweep
    launched on the Compare page and one trained by ``python -m core sweep``, e.g.
    ``Sweep of Chebyshev order (K) over 1, 2, 3 · ChebNet on the 8-neighbour grid, 3 epochs`` (a no-break space in
    "3 epochs"). It ends in a word, not a bracket, so a wrapped name never leaves a lone ")" on a line of its own."""
    param, param2 = sweep_params(group, configs)
    swept = [p for p in (param, param2) if p]
    parts = []
    for p in swept:
        values = list(dict.fromkeys(_said(p, sweep_value(c, p)) for c in configs))
        parts.append(f"{in_sentence(sweep_label(p))} over {', '.join(values)}")
    head = ("Sweep of " + " × ".join(parts)) if parts else f"Sweep of {len(configs)} runs"
    first = configs[0] if configs else {}
    context = []
    model = first.get("model")
    if model and "model" not in swept:
        context.append(
            f"{_said('model', model)} on the {describe_graph(first['graph'], first.get('graph_params'))}"
            if first.get("graph")
            else _said("model", model)
        )
    epochs = first.get("epochs")
    if epochs and "epochs" not in swept:
        context.append(f"{epochs}\u00a0epoch{'s' if epochs != 1 else ''}")
    if first.get("data") and first.get("data") != "mnist-5k" and "data" not in swept:
        context.append(str(first["data"]))
    return head + (" · " + ", ".join(context) if context else "")


def stored_sweeps(
    runs: Sequence[Run | Mapping[str, Any]], groups: Mapping[str, RunGroup], group_type: str = "sweep"
) -> list[dict[str, Any]]:
    """The sweeps (or, with ``group_type="search"``, the searches) among stored ``runs`` (rows of
    ``RunStore.list_runs``) whose groups are in ``groups`` (``RunStore.groups``), newest first:
    ``{"id", "group", "runs", "first_run", "last_run", "label", "name"}``. ``label`` is the first run's name;
    ``name`` is a sweep's readable name (:func:`sweep_name`), and for a search its label (the Compare page names a
    search from its group)."""
    members: dict[str, list[Run]] = {}
    for r in map(as_run, runs):
        group = groups.get(r.group_id or "")
        if group is not None and group.type == group_type:
            members.setdefault(group.id, []).append(r)
    found = []
    for group_id, unsorted in members.items():
        rows = sorted(unsorted, key=lambda r: r.id)
        configs = [r.config for r in rows]
        label = rows[0].name
        group = groups[group_id]
        found.append(
            {
                "id": group_id,
                "group": group,
                "runs": len(rows),
                "first_run": rows[0].id,
                "last_run": rows[-1].id,
                "label": label,
                "name": sweep_name(group, configs) if group.type == "sweep" else label,
            }
        )
    return sorted(found, key=lambda e: -e["first_run"])


def sweep_value(config: dict[str, Any], param: str) -> Any:
    """The swept value of one stored run's config."""
    where = SWEEPABLE[param][0]
    if where == "schedule":
        from core.models.escnn_net import restriction_depth

        return restriction_depth(config.get("group") or "C1")
    return (config.get("graph_params") or {}).get(param) if where == "graph" else config.get(param)


def sweep_points(
    runs: Sequence[Run | Mapping[str, Any]], param: str, param2: str | None = None
) -> list[tuple[Any, ...]]:
    """``(value, test accuracy)`` or ``(value, test accuracy, value2)`` of every finished run among ``runs`` (store
    rows), sorted by value with numbers before words: the points of a sweep's plot."""
    done = [r for r in map(as_run, runs) if r.status == "finished"]
    points = [
        (sweep_value(r.config, param), r.summary.test_accuracy) + ((sweep_value(r.config, param2),) if param2 else ())
        for r in done
    ]
    return sorted(points, key=lambda p: (isinstance(p[0], str), p[0]))
