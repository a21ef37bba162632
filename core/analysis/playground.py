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
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np
import torch
from torch import nn

from core.errors import UserInputError
from core.models import MODELS
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


class _NodeFeatures(Protocol):
    """A fixed-graph net (core.models.graph_net): every graph layer's node features for a batch of digits."""

    def node_features(self, x: torch.Tensor) -> list[torch.Tensor]: ...


def _graph_layer_maps(model: nn.Module, x: torch.Tensor) -> list[LayerMaps]:
    from core.models.layer_names import layer_names

    said = [name for name in layer_names(model).values() if name.startswith("graph conv")]  # in forward order
    out = []
    layers = cast(_NodeFeatures, model).node_features(x)  # layer_maps checked that it has them
    for i, h in enumerate(layers):  # (1, N_l, C_l) node features after layer i
        side = round(h.shape[1] ** 0.5)
        maps = h[0].t().reshape(h.shape[2], side, side)  # (C, side, side) on the pixel layout
        name = said[i] if i < len(said) else f"graph conv {i + 1}"
        out.append(
            LayerMaps(
                f"{name} ({side}×{side} nodes)",
                maps[:MAX_MAPS].numpy(),
                maps.shape[0],
                "node features drawn on the pixel layout",
            )
        )
    return out


def _conv_maps(pm: PlaygroundModel, x: torch.Tensor) -> list[LayerMaps]:
    """Outputs of each conv block (escnn: each exported block; CNN: each Conv2d after its activation)."""
    model, found = pm.model, []
    if pm.kind == "escnn":
        twin: Any = model  # the exported steerable net (core.models.escnn_net.export): .resample, then .body's blocks
        h = twin.resample(x)
        for i, block in enumerate(twin.body):
            h = block(h)
            size = pm.field_sizes[i] if i < len(pm.field_sizes) else 1
            found.append(
                LayerMaps(
                    f"steerable block {i + 1} ({h.shape[-2]}×{h.shape[-1]})",
                    h[0, :size].numpy(),
                    h.shape[1],
                    f"field 1 of {h.shape[1] // size}: its {size} group channels, side by side — "
                    "they cycle as the input turns",
                )
            )
        return found
    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    store: dict[str, torch.Tensor] = {}
    handles = [m.register_forward_hook(lambda _m, _i, o, n=n: store.__setitem__(n, o.detach())) for n, m in convs]
    try:
        model(x)
    finally:
        for hd in handles:
            hd.remove()
    from core.models.layer_names import layer_names

    said = layer_names(model)  # conv.0 -> "conv 1"
    for n, _ in convs:
        t = torch.relu(store[n][0])  # (C, h, w) after the ReLU that follows every conv here
        found.append(LayerMaps(f"{said.get(n, 'conv')} ({t.shape[1]}×{t.shape[2]})", t[:MAX_MAPS].numpy(), t.shape[0]))
    return found


@torch.no_grad()
def layer_maps(pm: PlaygroundModel, image: Any, angle: float = 0.0, mirror: bool = False) -> list[LayerMaps]:
    """Every layer's feature maps for the turned digit: CNN channels, graph-layer node features on the pixel
    layout, or one field's group channels per block of a steerable net; ``[]`` for a model without
    spatial layers (the MLP, the one-layer tutorial net)."""
    x = turn(image, angle, mirror)
    if hasattr(pm.model, "node_features") and hasattr(pm.model, "graphs"):
        return _graph_layer_maps(pm.model, x)
    return _conv_maps(pm, x)


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
