"""A model's spec: its settings as a typed config dataclass, and what it can do. Each model module declares one beside
its model (as nanoGPT's ``GPTConfig`` sits beside ``GPT``) and registers it once with ``MODELS.add(ModelSpec(...))``.

A setting is a field of the config dataclass made with :func:`setting`: its default, its range (``lo``/``hi``) or
choices, the label a person reads, the help line and the control a page draws. Everything that used to be kept by
hand elsewhere reads these: ``RunConfig``'s fields and defaults, validation, the label of a run, which settings a
model ignores, the Train page's controls, the CLI's flags, the links to insight pages and the budget's knobs.

Adding a model is one file::

    @dataclass
    class HopConfig(SizeConfig):
        hops: int = setting(2, "Hops", lo=1, hi=6, help="How far each layer reaches.")

    MODELS.add(ModelSpec("hop", "Hop net", "one line on it", HopConfig, build_hop, footprint=hop_footprint))
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from core.errors import UserInputError

SETTING = "setting"  # the key of a setting's description in its field's metadata
PIXEL_GRAPH_KINDS = ("grid", "knn", "gaussian", "complete")  # the graphs on the pixel layout, shared by every image
# what a model's inputs are: "image" tensors (B, 1, H, W), or "superpixel" graphs (one per image, PyG batches)
IMAGE_INPUTS, SUPERPIXEL_INPUTS = "image", "superpixel"
PAGES = ("playground", "equivariance", "spectral", "node")  # insight pages a model may say it can be shown on


@dataclass(frozen=True)
class Setting:
    """How one model setting is shown and checked: the one place for its label, range, choices and help."""

    name: str  # the config field, RunConfig's field, the CLI flag (--name) and the link's key
    label: str  # what a person reads
    default: Any = None
    type: type = object  # int, float, str, bool
    control: str = ""  # slider, select_slider, radio, selectbox, toggle; "" draws no control (set by links/CLI only)
    options: tuple[Any, ...] = ()  # the choices (radio, select_slider, selectbox), checked unless ``free``
    lo: float | None = None  # the range, inclusive: the slider's and the one validation checks
    hi: float | None = None
    help: str = ""
    when: Callable[[Mapping[str, Any]], bool] | None = None  # read (and shown) only when this holds for the run's
    #                                                             settings; None: always
    free: bool = False  # options are suggestions; the model's own ``check`` validates the value (escnn's schedules)
    sidebar: bool = False  # drawn next to the model's choice, not in the Architecture section (the choice that
    #                        matters most: the superpixel layer, the tutorial's adjacency)
    format: Callable[[Any], str] | None = None  # how an option reads (a title for a short name)
    title: str = ""  # its name out of its model's context (sweeps, "Settings that differ"); "" = the label
    sweep: str = ""  # the values a sweep of it starts from ("8, 16, 32"); "" = not offered to sweeps and searches

    @property
    def listed(self) -> str:
        """How lists across models name it, ending in its key so ``k`` never reads like ``K``:
        'Chebyshev order (K)', 'Hidden channels (hidden)'."""
        return f"{self.title or self.label} ({self.name})"

    def applies(self, values: Mapping[str, Any]) -> bool:
        """Whether a run with these settings reads this one."""
        return self.when is None or bool(self.when(values))

    def check(self, value: Any) -> None:
        """``UserInputError`` naming this setting, in one line, when ``value`` is of the wrong type, out of range
        or not one of the choices."""
        if self.type in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise UserInputError(self.name, f"must be a number, got {value!r}")
        if self.type in (str, bool) and not isinstance(value, self.type):
            raise UserInputError(self.name, f"must be {'text' if self.type is str else 'true or false'}, got {value!r}")
        if self.type is int and isinstance(value, float) and not value.is_integer():
            raise UserInputError(self.name, f"must be a whole number, got {value!r}")
        if self.lo is not None and self.hi is not None and not (self.lo <= value <= self.hi):
            raise UserInputError(self.name, f"{value} is out of range [{self.lo:g}, {self.hi:g}]")
        if self.options and not self.free and value not in self.options:
            raise UserInputError(
                self.name, f"unknown value {value!r} (choose from {', '.join(str(o) for o in self.options)})"
            )


def setting(
    default: Any,
    label: str,
    control: str = "",
    *,
    options: tuple[Any, ...] = (),
    lo: float | None = None,
    hi: float | None = None,
    help: str = "",
    when: Callable[[Mapping[str, Any]], bool] | None = None,
    free: bool = False,
    sidebar: bool = False,
    format: Callable[[Any], str] | None = None,
    title: str = "",
    sweep: str = "",
) -> Any:
    """A config dataclass field that is a setting (see :class:`Setting`). The control defaults to a toggle for a
    bool, a radio for a few choices, a selectbox for more and a slider for a range."""
    if not control:
        control = (
            "toggle"
            if isinstance(default, bool)
            else "radio"
            if 0 < len(options) <= 4
            else "selectbox"
            if options
            else "slider"
            if lo is not None and hi is not None
            else ""
        )
    meta = {
        "label": label,
        "control": control,
        "options": tuple(options),
        "lo": lo,
        "hi": hi,
        "help": help,
        "when": when,
        "free": free,
        "sidebar": sidebar,
        "format": format,
        "title": title,
        "sweep": sweep,
    }
    return field(default=default, metadata={SETTING: meta})


def settings_of(config: type) -> tuple[Setting, ...]:
    """The settings a config dataclass declares, in field order (fields without ``setting`` metadata, such as
    ``num_classes``, are not settings)."""
    hints = typing.get_type_hints(config)
    out = []
    for f in fields(config):
        meta = f.metadata.get(SETTING)
        if meta is not None:
            hint = hints[f.name]
            typ = next((t for t in typing.get_args(hint) if t is not type(None)), hint)
            out.append(Setting(f.name, default=f.default if f.default is not MISSING else None, type=typ, **meta))
    return tuple(out)


@dataclass
class ModelConfigBase:
    """What every model config has beyond its settings."""

    num_classes: int = 10  # output classes (from the data set, not a setting)


@dataclass
class SizeConfig(ModelConfigBase):
    """How big the net is: the Train page sizes every model whose config has these (``SIZE``)."""

    layers: int = setting(
        2, "Layers", lo=1, hi=6, help="Graph or convolution layers (blocks for escnn).", sweep="1, 2, 3"
    )
    hidden: int = setting(
        32,
        "Width (channels)",
        lo=1,
        hi=512,
        help="Channels of the first layer (doubled after each pooling for pooled models).",
        title="Hidden channels",
        sweep="8, 16, 32, 64",
    )
    # 0.5 as in Defferrard et al.: what every run trained with (RunConfig filled it in; the old ModelConfig's 0.1
    # was never used by a run)
    dropout: float = setting(0.5, "Dropout", lo=0.0, hi=0.95, help="Dropout before the classifier.")


SIZE = tuple(s.name for s in settings_of(SizeConfig))  # ("layers", "hidden", "dropout")


@dataclass(frozen=True)
class ModelSpec:
    """One registered model: its name, what a person reads, its config, how it is built and costed, and what it can
    do (which graphs it takes, which pages can show its runs). ``MODELS.add(spec)`` registers it."""

    name: str  # the registry name (links and stored configs keep it)
    title: str  # "ChebNet (Defferrard et al. 2016)"
    about: str  # one line on what it is
    config: type  # the model's config dataclass (a subclass of ModelConfigBase; SizeConfig to be sized)
    build: Callable[..., Any]  # factory(config, graph or None, **extra) -> nn.Module
    footprint: Callable[..., Any] | None = None  # (config, GraphSpec or None) -> Footprint (core.models.base)
    # --- what it takes
    graphs: tuple[str, ...] = ()  # the graph kinds it trains on, the default first; () builds none (or its own)
    fixed_graph: bool = False  # one pixel graph shared by every image, pooled on the pixel layout (GraphNet)
    inputs: str = IMAGE_INPUTS  # IMAGE_INPUTS, or SUPERPIXEL_INPUTS (its data are per-image graphs: no rotation)
    # --- which pages can show its runs
    pages: frozenset[str] = frozenset()  # of PAGES
    filters: tuple[str, str] | None = None  # (the Filters page's source, the link key of its run) when its
    #                                            filters are its own (learned from data), not the fixed graph's
    node_arithmetic: bool = False  # the One node page writes out a node's sum for its layers
    family: str = ""  # "pixels", "cnn", "graph", "steerable", ...: the Playground starts with one run of a few
    # --- training
    training: Mapping[str, Any] = field(default_factory=dict)  # its defaults of lr and schedule (measured)
    quick: Mapping[str, Any] = field(default_factory=dict)  # its settings' defaults in quick mode
    precise_bn: int = 0  # batches that recompute batch-norm statistics before each test pass
    # values for settings that stored configs lack (they predate the setting): reading an old run keeps its meaning
    stored: Mapping[str, Any] = field(default_factory=dict)
    # --- hooks
    describe: Callable[[Any], str] | None = None  # (its own config) -> what the run's label adds, e.g. " K=5"
    # (the run's config, core.training.runs.RunConfig: its ``settings`` are this model's config, beside the graph
    # and data) -> None: cross-setting checks (UserInputError), after each setting's own
    check: Callable[[Any], None] | None = None
    derive: Callable[[dict[str, Any]], None] | None = None  # fill settings from the given ones (a flat dict) before
    #                                                         defaults (an escnn group schedule sets the depth)
    extras: Callable[[Any, Any], dict] | None = None  # (run's config, training batches) -> extra factory arguments

    @property
    def settings(self) -> tuple[Setting, ...]:
        return settings_of(self.config)

    def setting(self, name: str) -> Setting | None:
        return next((s for s in self.settings if s.name == name), None)

    def default(self, name: str, quick: bool = False) -> Any:
        """This model's default of setting ``name`` (``quick``: in quick mode), or of lr / schedule."""
        if quick and name in self.quick:
            return self.quick[name]
        own = self.setting(name)
        return own.default if own is not None else self.training.get(name)
