"""A run's settings: :class:`RunConfig` (data, model, graph, the model's own settings, training settings), its flat
stored form, the defaults each model's spec gives, and :func:`validate`. Nothing here opens the run store, so the
store's entities can read a stored run's config (``Run.run_config``) without an import cycle; ``core.training.runs``
(running one) re-exports these names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

from core.config import quick_mode
from core.errors import UserInputError
from core.models import MODELS
from core.models.registry import ModelsWhere
from core.models.spec import PIXEL_GRAPH_KINDS, SUPERPIXEL_INPUTS, ModelConfigBase, ModelSpec

AUGMENTS = ("none", "rotate")
# Training defaults of a model whose spec gives none of its own (``ModelSpec.training``), measured: ChebNet (dropout
# 0.5) reached 95.9% at epoch 3 with lr 3e-3 (93.3% with 1e-3) on mnist-5k; the CNN reached 97.3% by epoch 7 with
# 1e-3 but wobbled around 96-97% with 3e-3 (its spec says 1e-3).
TRAINING_DEFAULTS: dict[str, Any] = {"lr": 3e-3, "schedule": "constant"}
C = TypeVar("C", bound=ModelConfigBase)


def _spec(model: Any) -> ModelSpec | None:
    """The spec of ``model``, None for a name no model is registered under (an old run of a removed model)."""
    return MODELS.spec(model) if isinstance(model, str) and model in MODELS else None


def model_default(model: str, name: str, quick: bool | None = None) -> Any:
    """The default of setting ``name`` (a model setting such as layers or K, or lr / schedule) for ``model``: its
    spec's (in quick mode its quick one), else the setting's first declaration's (``quick=None`` follows
    ``core.config.quick_mode()``)."""
    quick = quick_mode() if quick is None else quick
    spec = _spec(model)
    if name in TRAINING_DEFAULTS:
        return (spec.training if spec else {}).get(name, TRAINING_DEFAULTS[name])
    if spec is not None and spec.setting(name) is not None:
        return spec.default(name, quick)
    declared = MODELS.setting(name)
    return declared.default if declared is not None else None


# the models whose spec takes no graph (the tutorial builds its own); compare.py reads it
IMAGE_MODELS_WITHOUT_GRAPH = ModelsWhere(lambda spec: not spec.graphs)


def default_graph_params(graph: str) -> dict[str, Any]:
    """Graph kind ``graph``'s own default parameters (grid: neighbours=8, knn: k=8, ...); {} for an unknown kind."""
    from core.graphs import GRAPH_PARAMS

    kind = GRAPH_PARAMS.get(graph, {})
    return {name: p.default for name, p in kind.items() if p.default is not None}


@dataclass(slots=True)
class TrainingConfig:
    """How a model is trained, whatever the model: the trainer's settings, the run's seed and device, and which run
    it continues. Model-independent, so a sweep or a continuation changes them without knowing the model; only the
    defaults of ``lr`` and ``schedule`` depend on it (:meth:`RunConfig.make` fills them from the model's spec)."""

    epochs: int = 8  # passes over the training set
    lr: float = TRAINING_DEFAULTS["lr"]  # Adam learning rate
    schedule: str = TRAINING_DEFAULTS["schedule"]  # constant, cosine or plateau
    augment: str = "none"  # none, or rotate: turn each training image by a random angle every epoch
    batch_size: int = 64  # images per step
    seed: int = 0  # seeds the split-independent randomness: init, shuffling, dropout
    device: str = "auto"  # auto, cpu, cuda, mps
    quick: bool = False  # quick mode: fewer images (tests, hosted demo), and the models' quick defaults
    parent: int | None = None  # a continuation: the run whose training it carries on to ``epochs`` in all


TRAINING = tuple(f.name for f in fields(TrainingConfig))  # its flat names: the CLI flags, stored keys
_TOP = ("data", "model", "graph", "graph_params")  # RunConfig's own flat names, stored first


@dataclass(kw_only=True, slots=True)
class RunConfig:
    """Every setting that shapes a result, in four parts: the data, the model's name, the model's own settings (its
    spec's config dataclass, ``core.models.spec``: ``ChebConfig`` for ``cheb``) and the training settings
    (:class:`TrainingConfig`, the same for every model). The graph belongs to the run, not to the model: the model's
    spec says which kinds it takes, and a sweep changes the graph as it changes the data.

    The stored and shared form stays FLAT (``to_dict`` / ``from_dict``: the rows of stored runs, links, the CLI
    flags), so callers that hold one name (a sweep's parameter, a flag, a URL key) use the flat helpers
    :meth:`make`, :meth:`with_values` and :meth:`value` and need not know which part the name lives in.
    """

    data: str = "mnist-5k"  # mnist-5k (embedded), mnist (downloaded), mnist-rot
    model: str = "cheb"  # a name in core.models.MODELS (the default of every page and flag)
    graph: str = "grid"  # a name in core.graphs.GRAPHS (ignored by models that take none)
    # the builder's parameters, a dict once built: None (the default) becomes that kind's defaults
    graph_params: dict[str, Any] = None  # type: ignore[assignment]  # None until __post_init__ fills it in
    settings: ModelConfigBase  # the model's own config: ``MODELS.spec(model).config``
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def __post_init__(self) -> None:
        if self.graph_params is None:
            self.graph_params = default_graph_params(self.graph)

    @classmethod
    def make(
        cls,
        *,
        data: str = "mnist-5k",
        model: str = "cheb",
        graph: str = "grid",
        graph_params: dict[str, Any] | None = None,
        epochs: int = 8,
        lr: float | None = None,
        schedule: str | None = None,
        augment: str = "none",
        batch_size: int = 64,
        seed: int = 0,
        device: str = "auto",
        quick: bool = False,
        parent: int | None = None,
        **settings: Any,
    ) -> RunConfig:
        """A config from flat keywords, as scripts, tests and the CLI name them: ``RunConfig.make(model="cheb",
        K=3, epochs=2)``. ``lr`` and ``schedule`` left out (None) take the model's defaults, and so do its settings
        (in quick mode their quick ones). A setting another model declares is accepted and ignored (it is checked
        against its declaration, and ``ignored_settings`` names it); a name no model declares is refused."""
        spec = MODELS.spec(model)  # UserInputError("model") naming the choices
        known = MODELS.all_settings()
        for name, value in settings.items():
            if name not in known:
                raise UserInputError(name, "unknown setting")
            if value is not None and spec.setting(name) is None:
                known[name].check(value)  # as before: a value no model could take is refused, read or not
        given = {k: v for k, v in settings.items() if v is not None and spec.setting(k) is not None}
        if spec.derive is not None:
            spec.derive(given)  # settings that follow from others (an escnn group schedule sets the depth)
        is_quick = quick or quick_mode()
        own = {s.name: given.get(s.name, spec.default(s.name, is_quick)) for s in spec.settings}
        training = TrainingConfig(
            epochs=epochs,
            lr=model_default(model, "lr") if lr is None else lr,
            schedule=model_default(model, "schedule") if schedule is None else schedule,
            augment=augment,
            batch_size=batch_size,
            seed=seed,
            device=device,
            quick=quick,
            parent=parent,
        )
        return cls(
            data=data,
            model=model,
            graph=graph,
            graph_params=default_graph_params(graph) if graph_params is None else graph_params,
            settings=spec.config(**own),
            training=training,
        )

    def with_values(self, **changes: Any) -> RunConfig:
        """A copy with flat ``changes`` (``cfg.with_values(K=5)``, ``cfg.with_values(model="gcn")``), wherever each
        name lives: what a sweep or a search varies. The other settings keep their values; a new model keeps the
        settings it shares with the old one (layers, hidden, ...) and takes its own defaults for the rest."""
        return RunConfig.make(**{**self._flat(), **changes})

    def _flat(self) -> dict[str, Any]:
        """The flat values this config holds: its own, its model's settings and the training ones."""
        own = {s.name: getattr(self.settings, s.name) for s in self.spec().settings}
        return {
            "data": self.data,
            "model": self.model,
            "graph": self.graph,
            "graph_params": dict(self.graph_params or {}),
            **own,
            **asdict(self.training),
        }

    def value(self, name: str) -> Any:
        """The flat setting ``name`` (a model setting, a training one, data, model, graph), as ``to_dict`` writes
        it; ``KeyError`` for a name RunConfig does not know."""
        flat = self._flat()
        if name in flat:
            return flat[name]
        declared = MODELS.setting(name)
        if declared is None:
            raise KeyError(name)
        return declared.default

    @staticmethod
    def flat_names() -> list[str]:
        """Every flat name, in stored order: data, model, graph, graph_params, each model setting, the training
        settings (the CLI's flags, the keys ``from_dict`` reads)."""
        return [*_TOP, *MODELS.all_settings(), *TRAINING]

    def spec(self) -> ModelSpec:
        """The spec of this run's model (``UserInputError("model")`` for an unknown one)."""
        return MODELS.spec(self.model)

    def settings_as(self, kind: type[C]) -> C:
        """The model's settings as ``kind`` (``cfg.settings_as(SizeConfig).hidden``): for code that reads settings
        several models share; ``UserInputError("model")`` when this run's model has no such settings."""
        if not isinstance(self.settings, kind):
            raise UserInputError("model", f"model {self.model!r} has no {kind.__name__} settings")
        return self.settings

    def model_config(self) -> ModelConfigBase:
        """The model's own config (its spec's dataclass) with this run's values of its settings."""
        return self.settings

    def uses_graph(self) -> bool:
        return bool(self.spec().graphs)

    def ignored_settings(self, given: Iterable[str]) -> list[str]:
        """The names in ``given`` (settings a user set explicitly) that this run's model does not read: the graph
        when it takes none, and the model settings its spec does not declare or that do not apply (``when``)."""
        spec, values = self.spec(), self._flat()
        reads = {"graph": self.uses_graph(), "graph_params": self.uses_graph()}
        for name in MODELS.all_settings():
            own = spec.setting(name)
            reads[name] = own is not None and own.applies(values)
        return [name for name in given if not reads.get(name, True)]

    def to_dict(self) -> dict[str, Any]:
        """The flat stored form, keys in :meth:`flat_names` order. It names every model's settings, as rows stored
        before the split do (another model's at its first declaration's default), so a new config and an old row
        of the same run are equal dicts (``core.training.runner.config_key`` finds runs stored earlier)."""
        flat = self._flat()
        d = {name: flat.get(name, s.default) for name, s in MODELS.all_settings().items()}
        d = {**{k: flat[k] for k in _TOP}, **d, **{k: flat[k] for k in TRAINING}}
        if not self.uses_graph():
            d["graph"], d["graph_params"] = None, {}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        """A config from its flat dict: a stored run's (older ones lack newer settings: their model's spec says what
        they meant, ``ModelSpec.stored``), a link's or a script's. An unknown name is refused."""
        unknown = sorted(set(d) - set(cls.flat_names()))
        if unknown:
            raise UserInputError(unknown[0], "unknown setting")
        d = {k: v for k, v in d.items() if v is not None}
        spec = _spec(d.get("model", "cheb"))
        for name, value in (spec.stored if spec is not None else {}).items():
            d.setdefault(name, value)
        if d.get("graph") is None:  # a model that takes no graph (stored as None): the default kind, unused
            d.pop("graph_params", None)
        return cls.make(**d)

    def label(self) -> str:
        """What a person calls this run, from the model's spec, e.g. "ChebNet K=5 on the 8-neighbour grid"
        (links and configs keep the short names: ``cheb``, ``grid``)."""
        from core.graphs import describe_graph

        spec = self.spec()
        extra = spec.describe(self.settings) if spec.describe is not None else ""
        more = f", continued from run {self.training.parent}" if self.training.parent is not None else ""
        if not spec.fixed_graph:
            return f"{MODELS.short(self.model)}{extra}{more}"
        return f"{MODELS.short(self.model)}{extra} on the {describe_graph(self.graph, self.graph_params)}{more}"


def setting_type(name: str) -> type:
    """The Python type of RunConfig setting ``name`` (``Optional[float]`` -> float): the CLI's flags and scripts'
    ``--set NAME=VALUE`` parse values with it."""
    import typing

    declared = MODELS.setting(name)
    if declared is not None:
        return declared.type
    hints = {**typing.get_type_hints(RunConfig), **typing.get_type_hints(TrainingConfig)}
    hint = hints[name]
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
    """Raise UserInputError (naming the parameter) for any invalid setting or combination.

    Each model setting is checked against its range or choices as the run's model declares it (another model's
    setting, which this model ignores, against its first declaration); then the model's own ``check``."""
    from core.data.datasets import DATASETS
    from core.graphs import GRAPHS, SIZE_PARAM, check_params

    _lookup(DATASETS, cfg.data, "data")
    spec = cfg.spec()
    for s in spec.settings:
        s.check(getattr(cfg.settings, s.name))
    _check_range("epochs", cfg.training.epochs, 1, 500)
    _check_range("batch_size", cfg.training.batch_size, 1, 8192)
    _check_range("seed", cfg.training.seed, 0, 2**31 - 1)
    if cfg.training.parent is not None and (
        isinstance(cfg.training.parent, bool) or not isinstance(cfg.training.parent, int) or cfg.training.parent < 1
    ):
        raise UserInputError("parent", f"must be a run id (a whole number from 1), got {cfg.training.parent!r}")
    if not (0 < cfg.training.lr <= 10):
        raise UserInputError("lr", f"{cfg.training.lr} is out of range (0, 10]")
    from core.training.trainer import SCHEDULES

    if cfg.training.schedule not in SCHEDULES:
        raise UserInputError(
            "schedule", f"unknown schedule {cfg.training.schedule!r} (choose from {', '.join(SCHEDULES)})"
        )
    if cfg.training.augment not in AUGMENTS:
        raise UserInputError(
            "augment", f"unknown augmentation {cfg.training.augment!r} (choose from {', '.join(AUGMENTS)})"
        )
    if cfg.training.augment == "rotate" and spec.inputs == SUPERPIXEL_INPUTS:
        raise UserInputError("augment", "rotation augmentation works on images; superpixel graphs are built once")
    if cfg.training.device not in ("auto", "cpu", "cuda", "mps") and not cfg.training.device.startswith("cuda:"):
        raise UserInputError("device", f"unknown device {cfg.training.device!r} (choose from auto, cpu, cuda, mps)")
    if cfg.uses_graph():
        _lookup(GRAPHS, cfg.graph, "graph")
        # check the values too (range, type, k < N), so a bad one is refused before a run is stored
        check_params(cfg.graph, cfg.graph_params, size=SIZE_PARAM.default if cfg.graph in PIXEL_GRAPH_KINDS else None)
        if cfg.graph not in spec.graphs:
            raise UserInputError("graph", _wrong_graph(spec, cfg.graph))
    if spec.check is not None:
        spec.check(cfg)
    return cfg


def _wrong_graph(spec: ModelSpec, graph: str) -> str:
    """Why model ``spec`` cannot train on graph kind ``graph``, naming the models that can."""
    if spec.fixed_graph:
        others = [s.name for s in MODELS.specs() if graph in s.graphs]
        return (
            f"model {spec.name!r} needs a fixed pixel graph ({', '.join(spec.graphs)}); {graph} graphs differ "
            f"per image: use model {' or '.join(repr(o) for o in others) or 'another'}"
        )
    return f"model {spec.name!r} needs graph kind {' or '.join(repr(k) for k in spec.graphs)}"
