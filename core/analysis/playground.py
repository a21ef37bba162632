"""The Playground's engine: one digit (drawn, uploaded or from a data set), turned and mirrored, through up to
three stored runs: class probabilities, the prediction against the angle, and every layer's feature maps.

A drawing or an upload is prepared as MNIST prepares digits (``core.data.image_io.mnist_digit``); a data-set
digit is used as stored, so its probabilities equal the Results page's for that test digit. The digit is
turned as the Equivariance page turns digits (``core.analysis.equivariance.Element``: mirror left-right,
then rotate counter-clockwise about the centre), so multiples of 90 degrees are exact on the pixel grid.

Models load once (``load_playground_model``: the checkpoint's weights, eval mode, CPU); a steerable (escnn)
net is run in its exported plain-PyTorch form, which computes the same logits faster. No streamlit here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch import nn

from core.errors import UserInputError
from core.models import MODELS, ImageModel
from core.models.spec import SUPERPIXEL_INPUTS
from core.training.store import Run

if TYPE_CHECKING:
    from core.models.spec import ModelSpec

SWEEP_STEP = 10  # degrees between the angles of the prediction-against-angle plot
MAX_RUNS = 3  # runs compared at once
MAX_MAPS = 16  # feature maps shown per layer (the first channels; one field's for a steerable net)


@dataclass
class PlaygroundModel:
    """A stored run ready for inference: its eval-mode network on the CPU and how to read its layers."""

    run_id: int
    label: str
    model: nn.Module  # the network used for predictions (escnn: its exported plain-PyTorch twin)
    kind: str  # the run's model name: cnn, mlp, cheb, ..., escnn
    group: str | None = None  # escnn: the group (or schedule) of its fields
    field_sizes: tuple[int, ...] = ()  # escnn: channels per field after each block


def load_playground_model(run_id: int, store=None) -> PlaygroundModel:
    """Rebuild stored run ``run_id`` for the Playground (``RunNotFoundError`` / ``CheckpointError`` when it
    cannot be read; ``UserInputError`` for a superpixel run, which reads per-image graphs, not pixels)."""
    from core.analysis.results import load_run_model, stored_run

    model_name = stored_run(run_id, store).model
    if model_name is not None and model_name in MODELS and MODELS.spec(model_name).inputs == SUPERPIXEL_INPUTS:
        raise UserInputError(
            "run",
            f"run {run_id} is a superpixel model: it reads SLIC graphs of stored digits, "
            "not pixels, so it cannot take a drawing",
        )
    model, cfg, _ = load_run_model(run_id, store)
    group, sizes = None, ()
    if cfg.model == "escnn":
        group = model.group
        sizes = tuple(
            next(m for m in block.modules() if type(m).__name__ == "R2Conv").out_type.representations[0].size
            for block in model.blocks
        )
        model = model.export()
    return PlaygroundModel(int(run_id), cfg.label(), model.eval(), cfg.model, group, sizes)


def _as_image(image: Any) -> torch.Tensor:
    x = torch.as_tensor(np.array(image, dtype=np.float32))  # a copy: the image may be a read-only array
    if x.shape[-2:] != (28, 28) or x.numel() != 784:
        raise UserInputError("image", f"must be one 28 x 28 digit, got shape {tuple(x.shape)}")
    return x.reshape(1, 1, 28, 28).clamp(0.0, 1.0)


def turn(image: Any, angle: float, mirror: bool = False) -> torch.Tensor:
    """(1, 1, 28, 28): the digit mirrored left-right (when ``mirror``), then rotated ``angle`` degrees
    counter-clockwise about its centre (exact for multiples of 90)."""
    from core.analysis.equivariance import Element

    return Element(float(angle) % 360.0, bool(mirror)).apply(_as_image(image))


@contextmanager
def one_thread():
    """Run the block on one intra-op thread, then restore the count. One digit is too small a batch to share
    out, and on a busy machine the second thread's wait costs more than it gives: in the app, with the browser
    on the same two cores, three runs' answers took 94-151 ms on two threads and 40-64 ms on one (a bare
    process: 25 ms on two, 37 ms on one)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@torch.no_grad()
def probabilities(pm: PlaygroundModel, image: Any, angle: float = 0.0, mirror: bool = False) -> np.ndarray:
    """(10,) class probabilities of one run for the turned digit (computed on one thread, see ``one_thread``)."""
    with one_thread():
        return torch.softmax(pm.model(turn(image, angle, mirror)), dim=1)[0].numpy()


def sweep_angles(step: int = SWEEP_STEP) -> list[float]:
    """0, step, ..., < 360 degrees; the multiples of 90 are always included (they are exact)."""
    if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= 90:
        raise UserInputError("step", f"must be a whole number of degrees in [1, 90], got {step!r}")
    return sorted({float(a) for a in range(0, 360, step)} | {0.0, 90.0, 180.0, 270.0})


@torch.no_grad()
def angle_sweep(
    pm: PlaygroundModel, image: Any, mirror: bool = False, angles: Sequence[float] | None = None
) -> dict[str, Any]:
    """The run's answer at every angle: ``{"angles" (A,), "probabilities" (A, 10), "predicted" (A,),
    "confidence" (A,), "exact" (A,) bool}``, computed in one batch."""
    from core.data.transforms import rotate

    angles = list(sweep_angles() if angles is None else angles)
    x = _as_image(image)
    if mirror:
        x = torch.flip(x, dims=[-1])
    batch = rotate(x.repeat(len(angles), 1, 1, 1), torch.tensor(angles) % 360.0)  # (A, 1, 28, 28), as turn() each
    probs = torch.softmax(pm.model(batch), dim=1).numpy()  # (A, 10)
    return {
        "angles": np.array(angles),
        "probabilities": probs,
        "predicted": probs.argmax(1),
        "confidence": probs.max(1),
        "exact": np.array([a % 90 == 0 for a in angles]),
    }


@dataclass
class LayerMaps:
    """One layer's response to the digit: ``maps`` (C, h, w) (at most ``MAX_MAPS`` channels)."""

    name: str
    maps: np.ndarray
    channels: int  # how many channels the layer has in all
    note: str = ""  # how to read them (e.g. "field 0: its 8 group channels")


@dataclass(frozen=True)
class MapInfo:
    """How one layer's maps read: its name as people say it, its channels in all, a note on reading them."""

    name: str
    channels: int
    note: str = ""


class PlaygroundNet(nn.Module):
    """A run's network with what the Playground shows as outputs, for a batch of digits x (B, 1, 28, 28):

        forward(x) -> (logits (B, 10), probabilities (B, 10), map_1 (B, C'_1, h_1, w_1), ..., map_k)

    ``map_l`` is layer l's output as images (the model's ``maps``: a CNN's channels after their ReLU, a graph net's
    node features on the pixel layout, a steerable block's fields), cut to what is drawn (``shown``): the first
    ``MAX_MAPS`` channels, or one field's group channels for a steerable net. The one definition of the maps:
    ``layer_maps`` reads them from here, and the ONNX export (``core.export``) traces this module.
    """

    def __init__(self, pm: PlaygroundModel):
        super().__init__()
        self.model = pm.model
        self.kind, self.field_sizes = pm.kind, pm.field_sizes

    def layers(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The logits (B, 10) and every spatial layer's full output (B, C_l, h_l, w_l)."""
        return cast(ImageModel, self.model).maps(x)

    def shown(self, i: int, layer: torch.Tensor) -> torch.Tensor:
        """What is drawn of layer ``i``'s output (B, C, h, w): (B, C', h, w), C' <= MAX_MAPS, or one field's."""
        if self.kind == "escnn":
            return layer[:, : self.field_sizes[i] if i < len(self.field_sizes) else 1]
        return layer[:, :MAX_MAPS]

    def describe(self, layers: Sequence[torch.Tensor]) -> list[MapInfo]:
        """Each layer's name, channel count and note, from its full output (``layers``' second item)."""
        from core.models.layer_names import layer_names

        said = layer_names(self.model)  # module path -> "conv 1", "graph conv 2", ...
        out = []
        for i, h in enumerate(layers):
            c, side = int(h.shape[1]), f"{h.shape[-2]}×{h.shape[-1]}"
            if self.kind == "escnn":
                size = self.field_sizes[i] if i < len(self.field_sizes) else 1
                cycle = "they cycle as the input turns"
                note = f"field 1 of {c // size}: its {size} group channels, side by side — {cycle}"
                out.append(MapInfo(f"steerable block {i + 1} ({side})", c, note))
            elif hasattr(self.model, "graphs"):  # a fixed-graph net: its graph layers, in forward order
                names = [n for n in said.values() if n.startswith("graph conv")]
                name = names[i] if i < len(names) else f"graph conv {i + 1}"
                out.append(MapInfo(f"{name} ({side} nodes)", c, "node features drawn on the pixel layout"))
            else:  # a CNN: its convolutions, in forward order
                convs = [said.get(n, "conv") for n, m in self.model.named_modules() if isinstance(m, nn.Conv2d)]
                out.append(MapInfo(f"{convs[i] if i < len(convs) else 'conv'} ({side})", c))
        return out

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        logits, layers = self.layers(x)
        return (logits, torch.softmax(logits, dim=1), *(self.shown(i, h) for i, h in enumerate(layers)))


@torch.no_grad()
def layer_maps(pm: PlaygroundModel, image: Any, angle: float = 0.0, mirror: bool = False) -> list[LayerMaps]:
    """Every layer's feature maps for the turned digit (``PlaygroundNet``'s maps): CNN channels, graph-layer node
    features on the pixel layout, or one field's group channels per block of a steerable net; ``[]`` for a model
    without spatial layers (the MLP, the one-layer tutorial net)."""
    net = PlaygroundNet(pm)
    _, layers = net.layers(turn(image, angle, mirror))
    return [
        LayerMaps(info.name, net.shown(i, h)[0].numpy(), info.channels, info.note)
        for i, (h, info) in enumerate(zip(layers, net.describe(layers), strict=True))
    ]


def timed(fn, *args, **kwargs) -> tuple[Any, float]:
    """(result, milliseconds): what the page reports as the time to an answer."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, (time.perf_counter() - t0) * 1000.0


# ----------------------------------------------------------------------------- which runs, and 6 against 9
FAMILIES = ("cnn", "graph", "steerable")  # the Playground starts with one run of each (ModelSpec.family)


def _of_family(family: str) -> Callable[[ModelSpec], bool]:
    return lambda spec: spec.family == family


def _model_of(run: Run | Mapping[str, Any]) -> Any:
    """A stored run's model name (a partial dict a test builds may lack the id ``as_run`` needs)."""
    return run.model if isinstance(run, Run) else dict(run.get("config") or {}).get("model")


def default_runs(runs: Mapping[int, Run | Mapping[str, Any]], most: int = MAX_RUNS) -> list[int]:
    """The ids of the newest CNN, graph net and steerable net among ``runs`` (``{id: run row}``, newest first), when
    there are such runs; else the newest run (none for no runs). The Playground and the Equivariance page start
    from these when their link names no runs."""
    from core.models.registry import ModelsWhere

    picked = []
    for family in FAMILIES:
        want = ModelsWhere(_of_family(family))
        rid = next((i for i, r in runs.items() if _model_of(r) in want), None)
        if rid is not None:
            picked.append(rid)
    return (picked or list(runs)[:1])[:most]


def half_turn_invariant(kind: str | None, group: str | None = None) -> bool:
    """Whether a net's answer cannot change when its digit is turned by 180 degrees, by construction: a steerable
    (escnn) net whose output group (the last of its schedule) holds the half turn: C_N or D_N with N even, or SO2.
    A C1 or D1 net (no rotation at all) is not; an escnn run of unknown group is taken as its default, C8."""
    if kind != "escnn":
        return False
    from core.models.escnn_net import parse_group

    last = (group or "C8").split(",")[-1]
    try:
        family, n = parse_group(last)
    except UserInputError:
        return False
    return family == "SO2" or n % 2 == 0


SIX_NINE = frozenset({6, 9})


def six_nine_ambiguous(
    probs: Any, kind: str | None = None, group: str | None = None, predicted: Sequence[int] | None = None
) -> bool:
    """Whether a run's answer meets the 6/9 ambiguity: the run is invariant to rotation (``half_turn_invariant``, or
    its ``predicted`` class was the same at every angle of a sweep, two angles at least) and its answer, the top class
    of the (10,) ``probs``, is a 6 or a 9 (which covers 6 and 9 as its top two). Such a net cannot tell a 6 from a 9:
    a 6 turned by 180 degrees is a 9, so it must give both the same answer."""
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    if p.shape != (10,) or not np.isfinite(p).all():
        return False
    constant = predicted is not None and len(predicted) > 1 and len({int(c) for c in predicted}) == 1
    return (half_turn_invariant(kind, group) or constant) and int(p.argmax()) in SIX_NINE
