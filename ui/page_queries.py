"""Each linked page's URL keys as a small schema: what a link to that page may say, written once.

A page reads its keys through URL-bound widgets (``ui/url_state.py``), which check each value and say which part of
a link was ignored; these schemas are the other side, the links other code writes: ``ui/links.py`` (a finished
run's buttons), the pages' own links and lessons. ``to_query()`` gives the query parameters ``st.page_link`` takes,
leaving out what is unset so a link names only what it fixes; ``from_query()`` reads a link's parameters back
leniently (a value that does not parse is unset: the page itself reports it), so a link written by an older version
still reads as it did. The key names are those of links already shared and must not change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar


def _run_id(raw: str | None) -> int | None:
    """A run id as links write it ("12"); None for anything else."""
    return int(raw) if raw is not None and raw.isdigit() else None


def _run_ids(raw: str | None) -> tuple[int, ...]:
    """Comma-separated run ids ("3,5"); the parts that are not ids are dropped."""
    return tuple(int(p) for p in (raw or "").split(",") if p.strip().isdigit())


def _number(raw: str | None) -> float | None:
    """A finite number as links write it ("0.01"); None for anything else."""
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _ids_text(ids: tuple[int, ...]) -> str:
    return ",".join(map(str, ids))


@dataclass(frozen=True)
class ResultsQuery:
    """The Results page: one run."""

    PAGE: ClassVar[str] = "results"
    run: int | None = None

    def to_query(self) -> dict[str, str]:
        return {} if self.run is None else {"run": str(self.run)}

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> ResultsQuery:
        return cls(run=_run_id(query.get("run")))


@dataclass(frozen=True)
class PlaygroundQuery:
    """The Playground: the runs that answer, side by side."""

    PAGE: ClassVar[str] = "playground"
    runs: tuple[int, ...] = ()

    def to_query(self) -> dict[str, str]:
        return {"pg_runs": _ids_text(self.runs)} if self.runs else {}

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> PlaygroundQuery:
        return cls(runs=_run_ids(query.get("pg_runs")))


@dataclass(frozen=True)
class EquivarianceQuery:
    """The Equivariance page: the run opened beside the others."""

    PAGE: ClassVar[str] = "equivariance"
    open: int | None = None

    def to_query(self) -> dict[str, str]:
        return {} if self.open is None else {"eq_open": str(self.open)}

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> EquivarianceQuery:
        return cls(open=_run_id(query.get("eq_open")))


@dataclass(frozen=True)
class SpectralQuery:
    """The Spectral view: a ChebNet run whose learned frequency responses it draws."""

    PAGE: ClassVar[str] = "spectral"
    run: int | None = None

    def to_query(self) -> dict[str, str]:
        return {} if self.run is None else {"s_run": str(self.run)}

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> SpectralQuery:
        return cls(run=_run_id(query.get("s_run")))


@dataclass(frozen=True)
class NodeQuery:
    """The One node page: a run whose graph layer's arithmetic it writes out."""

    PAGE: ClassVar[str] = "node"
    run: int | None = None

    def to_query(self) -> dict[str, str]:
        return {} if self.run is None else {"nd_run": str(self.run)}

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> NodeQuery:
        return cls(run=_run_id(query.get("nd_run")))


@dataclass(frozen=True)
class CompareQuery:
    """The Compare page: runs picked in its table, and the sweep (a run group's id) whose plot it shows."""

    PAGE: ClassVar[str] = "compare"
    runs: tuple[int, ...] = ()
    sweep: str | None = None

    def to_query(self) -> dict[str, str]:
        out = {"cmp_runs": _ids_text(self.runs)} if self.runs else {}
        if self.sweep is not None:
            out["sw_show"] = self.sweep
        return out

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> CompareQuery:
        return cls(runs=_run_ids(query.get("cmp_runs")), sweep=query.get("sw_show") or None)


@dataclass(frozen=True)
class FiltersQuery:
    """The Filters page: whose filters (``source``), the stored run for a run's source (each source has its own
    key, so switching source keeps each one's run), and for a fixed graph its builder's settings (``f_kind``,
    ``f_norm`` and the builder's own keys, as ``graph_param_widgets`` binds them)."""

    PAGE: ClassVar[str] = "filters"
    SOURCES: ClassVar[tuple[str, ...]] = ("graph", "learned", "gat", "superpixel")
    RUN_KEYS: ClassVar[Mapping[str, str]] = {"learned": "f_run", "gat": "f_grun", "superpixel": "f_sprun"}
    source: str = "graph"
    run: int | None = None
    graph: Mapping[str, str] = field(default_factory=dict)

    def to_query(self) -> dict[str, str]:
        out = {"f_src": self.source}
        if self.run is not None and self.source in self.RUN_KEYS:
            out[self.RUN_KEYS[self.source]] = str(self.run)
        return out | dict(self.graph) if self.source == "graph" else out

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> FiltersQuery:
        source = query.get("f_src", "graph")
        source = source if source in cls.SOURCES else "graph"
        key = cls.RUN_KEYS.get(source)
        run_keys = {"f_src", *cls.RUN_KEYS.values()}
        graph = {k: v for k, v in query.items() if k not in run_keys} if source == "graph" else {}
        return cls(source=source, run=_run_id(query.get(key)) if key else None, graph=graph)

    @classmethod
    def fixed_graph(cls, kind: str, params: Mapping[str, object], norm: str | None = None) -> FiltersQuery:
        """A fixed pixel graph's filter by its builder's settings (``core.graphs`` kind, parameters, normalisation),
        keyed as the page binds them: ``f_kind``, each parameter as ``<kind>_<name>`` (an optional one, default
        None, switched on first by ``<kind>_<name>_on``, as ``graph_param_widgets`` draws it), then ``f_norm``;
        values as the widgets write them (``str``)."""
        from core.graphs import GRAPH_PARAMS

        graph = {"f_kind": kind}
        for name, value in params.items():
            if GRAPH_PARAMS[kind][name].default is None:
                graph[f"{kind}_{name}_on"] = "true"
            graph[f"{kind}_{name}"] = str(value)
        return cls(source="graph", graph=graph | ({} if norm is None else {"f_norm": norm}))


@dataclass(frozen=True)
class TrainQuery:
    """The Train page set up for a model: ``model`` and any of its settings by their RunConfig names (``data``,
    ``epochs``, ``group``, ``conv``...), as the Train page's URL-bound form reads them."""

    PAGE: ClassVar[str] = "train"
    model: str | None = None
    settings: Mapping[str, str] = field(default_factory=dict)

    def to_query(self) -> dict[str, str]:
        return ({} if self.model is None else {"model": self.model}) | dict(self.settings)

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> TrainQuery:
        return cls(model=query.get("model"), settings={k: v for k, v in query.items() if k != "model"})


@dataclass(frozen=True)
class KarateQuery:
    """The KarateClub page: the training it is set up for (``train_karate``'s model, epochs, learning rate and
    seed); each value as its widget writes it (``str``)."""

    PAGE: ClassVar[str] = "karate"
    model: str | None = None
    epochs: int | None = None
    lr: float | None = None
    seed: int | None = None

    def to_query(self) -> dict[str, str]:
        values = {"k_model": self.model, "k_epochs": self.epochs, "k_lr": self.lr, "k_seed": self.seed}
        return {k: str(v) for k, v in values.items() if v is not None}

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> KarateQuery:
        return cls(
            model=query.get("k_model") or None,
            epochs=_run_id(query.get("k_epochs")),  # a whole number, as a run id is
            lr=_number(query.get("k_lr")),
            seed=_run_id(query.get("k_seed")),
        )


@dataclass(frozen=True)
class LessonsQuery:
    """The Lessons page: the lesson shown and the launch (a run group's id) whose runs fill its table."""

    PAGE: ClassVar[str] = "lessons"
    lesson: str | None = None
    show: str | None = None

    def to_query(self) -> dict[str, str]:
        values = {"lesson": self.lesson, "ls_show": self.show}
        return {k: v for k, v in values.items() if v is not None}

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> LessonsQuery:
        return cls(lesson=query.get("lesson") or None, show=query.get("ls_show") or None)


PageQuery = (
    ResultsQuery
    | PlaygroundQuery
    | EquivarianceQuery
    | SpectralQuery
    | NodeQuery
    | CompareQuery
    | FiltersQuery
    | TrainQuery
    | KarateQuery
    | LessonsQuery
)
