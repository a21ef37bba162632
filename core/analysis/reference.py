"""What a model reaches at full length: docs/accuracy.md's tables, so a quick run's figure reads as what it is.

Every figure was measured by this project on ``mnist-5k`` (4,000 train / 1,000 test) with the model's default
settings (docs/accuracy.md: "Accuracy", "Superpixels", "Rotation"); ``reference_for(config)`` finds the one that matches
a run's model, layer and data set, or None.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reference:
    accuracy: float  # test accuracy in [0, 1]
    epochs: int  # how long that run trained
    what: str  # the recipe, in a few words
    published: str = ""  # the literature's figure for comparison ("" when none)

    def sentence(self) -> str:
        text = f"At full length this model reaches {self.accuracy:.1%} ({self.what}, {self.epochs} epochs)"
        return text + (f"; published: {self.published}." if self.published else ".")


# (model, data) -> Reference; superpixel runs are keyed by their PyG layer ("superpixel:<conv>"), tutorial runs by
# their graph layer ("tutorial:<adjacency>")
REFERENCES: dict[tuple[str, str], Reference] = {
    ("mlp", "mnist-5k"): Reference(0.931, 8, "pixels only"),
    ("cnn", "mnist-5k"): Reference(0.968, 8, "C32-P-C64-P-FC512", "99.33% on full MNIST (Defferrard et al. 2016)"),
    ("cheb", "mnist-5k"): Reference(
        0.969, 8, "K=5 on the 8-neighbour grid", "99.14% with K=25 on full MNIST (Defferrard et al. 2016)"
    ),
    ("gcn", "mnist-5k"): Reference(0.894, 8, "8-neighbour grid"),
    ("sage", "mnist-5k"): Reference(0.925, 8, "8-neighbour grid"),
    ("gin", "mnist-5k"): Reference(0.909, 8, "8-neighbour grid"),
    ("gat", "mnist-5k"): Reference(0.902, 8, "4 heads, 8-neighbour grid"),
    ("learned", "mnist-5k"): Reference(0.905, 8, "edges from coordinates, 8-neighbour grid"),
    ("tutorial:none", "mnist-5k"): Reference(0.911, 20, "no graph: a linear classifier", "about 91% on full MNIST"),
    ("tutorial:gaussian", "mnist-5k"): Reference(0.902, 20, "a fixed Gaussian graph layer", "92.24% on full MNIST"),
    ("tutorial:learned-offset", "mnist-5k"): Reference(0.894, 20, "edges learned from pixel offsets"),
    ("escnn", "mnist-5k"): Reference(0.982, 8, "C8, 3 blocks of width 48"),
    ("escnn", "mnist-rot"): Reference(
        0.976, 10, "C8, 3 blocks of width 48, rotated test set", "97.96% on MNIST-rot (escnn example, 30 epochs)"
    ),
    ("superpixel:gat", "mnist-5k"): Reference(
        0.911, 30, "GAT on superpixels, ~100k parameters", "95.54% on 55k graphs (Benchmarking GNNs)"
    ),
    ("superpixel:sage", "mnist-5k"): Reference(0.906, 30, "GraphSAGE on superpixels", "97.31% on 55k graphs"),
    ("superpixel:gcn", "mnist-5k"): Reference(0.904, 30, "GCN on superpixels", "90.71% on 55k graphs"),
    ("superpixel:monet", "mnist-5k"): Reference(0.896, 30, "MoNet on superpixels", "90.81% on 55k graphs"),
    ("superpixel:gatedgcn", "mnist-5k"): Reference(0.889, 30, "GatedGCN on superpixels", "97.34% on 55k graphs"),
    ("superpixel:pna", "mnist-5k"): Reference(0.889, 30, "PNA on superpixels", "97.94% on 55k graphs"),
    ("superpixel:cheb", "mnist-5k"): Reference(0.866, 30, "ChebNet on superpixels"),
    ("superpixel:gin", "mnist-5k"): Reference(0.864, 30, "GIN on superpixels", "96.49% on 55k graphs"),
}
# Settings the figures were measured with beyond the model's defaults: a run that changes them is another recipe
_RECIPE = {"escnn": {"group": "C8"}}
_VARIANT = {
    "superpixel": ("conv", "gcn"),
    "tutorial": ("adjacency", "gaussian"),
}  # model -> the setting that picks a row


def reference_for(config: Mapping[str, Any]) -> Reference | None:
    """The full-length figure for a run's model (and superpixel layer) on its data set, or None when none was
    measured (another data set, or a recipe the tables do not cover)."""
    model = config.get("model")
    if model is None:
        return None
    for key, value in _RECIPE.get(model, {}).items():
        if str(config.get(key, value)).upper() != str(value).upper():
            return None
    if model in _VARIANT:
        setting, default = _VARIANT[model]
        model = f"{model}:{config.get(setting) or default}"
    return REFERENCES.get((model, config.get("data") or "mnist-5k"))


def context_line(config: Mapping[str, Any], accuracy: float | None, epochs: int | None) -> str:
    """One line that puts a run's accuracy beside the full-length figure ("" when there is none)."""
    ref = reference_for(config)
    if ref is None:
        return ""
    line = ref.sentence()
    if accuracy is not None and epochs is not None and epochs < ref.epochs and accuracy < ref.accuracy - 0.02:
        line += f" This run trained {epochs} epoch{'s' * (epochs != 1)}: more epochs close most of the gap."
    return line
