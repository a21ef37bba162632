"""A model's own settings as controls: a registered model names the ones it reads, and a page draws them from here.

``MODELS.register(name, ..., settings=("K", "readout"))`` declares them; ``SETTINGS[name]`` says how each is shown
(label, control, range or choices, help) and when it applies, so a new model with new settings needs no page code.
The values and their defaults belong to ``core.training.runs.RunConfig``; the URL key is the setting's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

SIZE = ("layers", "hidden", "dropout")  # how big the net is: the Train page sizes every model that declares these


@dataclass(frozen=True)
class Setting:
    name: str  # the RunConfig field, and the link's key
    label: str  # what a person reads
    control: str  # slider, select_slider, radio, selectbox, toggle
    options: tuple[Any, ...] = ()  # the choices (radio, select_slider, selectbox)
    lo: Optional[float] = None  # a slider's range
    hi: Optional[float] = None
    help: str = ""
    when: Optional[Callable[[Mapping[str, Any]], bool]] = None  # shown only when this holds for the settings so far


SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("K", "Chebyshev order K", "slider", lo=1, hi=25,
            help="Each layer mixes K hops: a polynomial of degree K-1 in the graph Laplacian.",
            when=lambda cfg: cfg.get("model") != "superpixel" or cfg.get("conv") == "cheb"),
    Setting("heads", "Attention heads", "slider", lo=1, hi=8),
    Setting("positions", "Node positions", "radio", ("fourier", "raw"),
            help="fourier: (x, y) plus their sines and cosines at 8 frequencies (GAT 91.1% against 83.5% raw on "
                 "mnist-5k, 30 epochs). raw: (x, y) alone, as in Benchmarking GNNs."),
    Setting("readout", "Readout", "radio", ("pool", "global"),
            help="pool: 2×2 pooling on the pixel layout + FC (keeps where strokes are). global: mean over nodes "
                 "(throws it away; shown to fail)."),
    Setting("edge_inputs", "Edge MLP input", "selectbox", ("both", "diff", "abs", "offset"),
            help="offset: the pixel offset j - i in pixels, so neighbours differ by 1; the others use coordinates "
                 "scaled to [0, 1]."),
    Setting("edge_activation", "Edge weights", "radio", ("softplus", "tanh", "none"),
            help="softplus: positive (a learned blur); tanh: signed, so a filter can detect an edge."),
    Setting("edge_norm", "Edge normalisation", "radio", ("rw", "sym", "none")),
    Setting("edge_sets", "Edge sets", "radio", ("shared", "out", "pair"),
            help="shared: one adjacency for every channel; out: one per output channel; pair: one per channel pair "
                 "(with offsets on the 8-neighbour grid, a learned 3x3 convolution)."),
    Setting("edge_frozen", "Freeze the edges at their initial weights", "toggle",
            help="A control run: only the layer weights and the head learn. If the edges learn something, the "
                 "unfrozen run beats this one.",
            when=lambda cfg: cfg.get("model") != "tutorial" or str(cfg.get("adjacency", "")).startswith("learned")),
)}


def applicable(names: tuple[str, ...], cfg: Mapping[str, Any]) -> list[Setting]:
    """The declared settings (in order, the size ones left out) that apply given the settings chosen so far."""
    specs = [SETTINGS[n] for n in names if n not in SIZE]
    return [s for s in specs if s.when is None or s.when(cfg)]
