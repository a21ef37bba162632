"""The finite rotation groups C_N and D_N as numbers: elements, irreps, the regular representation, and
how an element acts on a digit and on a regular feature field. Pure NumPy / escnn; every function returns
numbers (the Groups page draws them).

Groups and elements
    ``group`` is ``"CN"`` (the N rotations by ``360 k / N`` degrees) or ``"DN"`` (those and the N mirrored
    ones), ``1 <= N <= MAX_N``: any N, not only the groups ``EscnnNet`` trains with (read by the project's one
    parser, ``core.models.escnn_net.groups.parse_group(group, finite=True)``). Elements are
    :class:`core.analysis.equivariance.Element` (``angle``, ``flip``) named like ``"r90"`` / ``"f r90"``; ``"f rA"``
    means *mirror left-right, then rotate by A degrees counter-clockwise*, which is escnn's dihedral
    element ``(flip=1, rotation=k)``, i.e. ``r^k f``. They are indexed in escnn's order
    (``G.elements``): ``r0, r1, ..., r_{N-1}`` then ``f r0, ..., f r_{N-1}``; functions take an element as
    that index, its name (``"r90"``, ``"f r45"``), a number of degrees or an ``Element``.

Representations (escnn's group objects, ``escnn.group.cyclic_group(N)`` / ``dihedral_group(N)``)
    ``irreps(group, g)`` -> ``[Irrep(name, matrix)]``: every real irreducible representation evaluated at g
    (orthogonal 1x1 or 2x2 matrices); ``regular_representation(group, g)`` -> the ``|G| x |G|``
    permutation matrix with ``R(g) e_h = e_{g h}``; ``permutation(group, g)`` -> ``p`` with
    ``p[i] = index of g h_i`` (so ``R[p[i], i] = 1``).

Actions
    ``act_on_image(image, group, g)``: the digit transformed by g (``Element.apply``: exact ``rot90`` /
    flips for multiples of 90 degrees, bilinear interpolation otherwise). ``act_on_regular_field(field,
    group, g)``: a regular feature field ``(|G|, H, W)`` transformed by g, i.e. moved in space *and* its
    channels permuted by the regular representation: ``(g . f)_{g h}(x) = f_h(g^{-1} x)``. This is exactly
    escnn's ``GeometricTensor.transform`` on a regular field type (checked by the tests).
    ``lift(image, group)``: a regular field made from a digit by correlating it with the |G| transformed
    copies of one oriented filter (a lifting convolution); it is equivariant: ``lift(g . image) ==
    act_on_regular_field(lift(image), g)``, exactly for multiples of 90 degrees.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from core.analysis.equivariance import Element, parse_element
from core.errors import UserInputError
from core.models.escnn_net.groups import FAMILIES, MAX_N, escnn_element_of, parse_group  # noqa: F401 (read by page, tests)

ANGLE_TOL_DEG = 1e-3  # an angle this close to 360 k / N names the element k

ElementLike = int | str | float | Element


class Irrep(NamedTuple):
    """One real irreducible representation evaluated at an element: escnn's name and its matrix."""

    name: str
    matrix: np.ndarray  # (d, d) float64, d = 1 or 2


# ----------------------------------------------------------------------------------------------
# groups and elements


def group_name(kind: str, n: int) -> str:
    """``("D", 4)`` -> ``"D4"`` (validated)."""
    k, m = parse_group(f"{kind}{n}", finite=True)
    return f"{k}{m}"


def order(group: str) -> int:
    """|G|: N for CN, 2N for DN."""
    kind, n = parse_group(group, finite=True)
    return n if kind == "C" else 2 * n


def elements(group: str) -> list[Element]:
    """All elements in escnn's order (identity first): rotations, then (for DN) mirrored rotations."""
    kind, n = parse_group(group, finite=True)
    rot = [Element(360.0 * k / n) for k in range(n)]
    return rot + ([Element(360.0 * k / n, True) for k in range(n)] if kind == "D" else [])


def element_names(group: str) -> list[str]:
    return [e.name for e in elements(group)]


def index_of(group: str, g: ElementLike) -> int:
    """The index (escnn order) of ``g``: an index, a name (``"r90"``, ``"f r45"``), degrees or an Element."""
    kind, n = parse_group(group, finite=True)
    size = n if kind == "C" else 2 * n
    if isinstance(g, (int, np.integer)) and not isinstance(g, bool):
        if not 0 <= int(g) < size:
            raise UserInputError("element", f"index {g} is out of range [0, {size - 1}] for {group}")
        return int(g)
    if isinstance(g, str):
        names = element_names(group)
        if g.strip() in names:
            return names.index(g.strip())
    e = parse_element(g)
    k = e.angle * n / 360.0
    kr = round(k)
    if abs(k - kr) * 360.0 / n > ANGLE_TOL_DEG or (e.flip and kind == "C"):
        raise UserInputError(
            "element", f"{e.name} is not an element of {group.upper()} (choose from {', '.join(element_names(group))})"
        )
    return (n if e.flip else 0) + kr % n


def element(group: str, g: ElementLike) -> Element:
    """``g`` as the group's own :class:`Element` (canonical angle and name)."""
    return elements(group)[index_of(group, g)]


@lru_cache(maxsize=64)
def _escnn_group(kind: str, n: int):
    from escnn.group import cyclic_group, dihedral_group

    from core.models.escnn_net.patch import patch_escnn

    patch_escnn()  # escnn + scikit-learn >= 1.6 (dihedral Clebsch-Gordan), harmless otherwise
    return cyclic_group(n) if kind == "C" else dihedral_group(n)


def escnn_group(group: str):
    """escnn's group object for ``group`` (cached)."""
    return _escnn_group(*parse_group(group, finite=True))


def escnn_element(group: str, g: ElementLike):
    """escnn's ``GroupElement`` for ``g`` (``G.elements[index]``), through the project's one map from an element to
    escnn's (``core.models.escnn_net.groups.escnn_element_of``)."""
    e = element(group, g)
    return escnn_element_of(escnn_group(group), e.angle, e.flip)


def _index_of_escnn(group: str, ge) -> int:
    kind, n = parse_group(group, finite=True)
    value = ge.to("int")
    if kind == "C":
        return int(value) % n
    flip, k = value
    return int(flip) * n + int(k) % n


def compose(group: str, a: ElementLike, b: ElementLike) -> Element:
    """``a b``: first b, then a (as transformations of the plane)."""
    ge = escnn_element(group, a) @ escnn_element(group, b)
    return elements(group)[_index_of_escnn(group, ge)]


def inverse(group: str, g: ElementLike) -> Element:
    return elements(group)[_index_of_escnn(group, ~escnn_element(group, g))]


def permutation(group: str, g: ElementLike) -> list[int]:
    """``p[i]`` = index of ``g h_i``: how left multiplication by g permutes the elements."""
    ge = escnn_element(group, g)
    return [_index_of_escnn(group, ge @ h) for h in escnn_group(group).elements]


def cycles(group: str, g: ElementLike) -> list[list[int]]:
    """The cycles of :func:`permutation` (each a list of indices, fixed points included)."""
    p = permutation(group, g)
    seen, out = set(), []
    for start in range(len(p)):
        if start in seen:
            continue
        cyc, i = [], start
        while i not in seen:
            seen.add(i)
            cyc.append(i)
            i = p[i]
        out.append(cyc)
    return out


def element_order(group: str, g: ElementLike) -> int:
    """The smallest k >= 1 with g^k = identity (the lcm of the cycle lengths)."""
    return int(np.lcm.reduce([len(c) for c in cycles(group, g)]))


# ----------------------------------------------------------------------------------------------
# representations


def irreps(group: str, g: ElementLike) -> list[Irrep]:
    """Every real irrep of the group evaluated at ``g``, in escnn's order (trivial first)."""
    ge = escnn_element(group, g)
    return [Irrep(rho.name, np.asarray(rho(ge), dtype=np.float64)) for rho in escnn_group(group).irreps()]


def irrep_descriptions(group: str) -> dict[str, str]:
    """{irrep name: a short explanation} (its size and what it does)."""
    kind, n = parse_group(group, finite=True)
    out = {}
    for rho in escnn_group(group).irreps():
        ident = rho.id
        if kind == "C":
            k = ident[0]
            what = (
                "trivial: every element acts as 1"
                if k == 0
                else "sign: r acts as -1"
                if rho.size == 1
                else f"frequency {k}: r turns the plane by {k} x {_deg(360 / n)}"
            )
        else:
            j, k = ident
            if rho.size == 2:
                what = f"frequency {k}: r turns by {k} x {_deg(360 / n)}, f mirrors"
            else:
                what = {
                    (0, 0): "trivial: every element acts as 1",
                    (1, 0): "flip sign: mirrored elements act as -1",
                }.get((j, k), f"r acts as -1{', f as -1' if j == 1 else ', f as +1'}")
        out[rho.name] = f"{rho.size}x{rho.size}, {what}"
    return out


def _deg(a: float) -> str:
    return f"{round(a, 4):g} deg"


def regular_representation(group: str, g: ElementLike) -> np.ndarray:
    """(|G|, |G|) float64 permutation matrix of g in the regular representation: ``R[p[i], i] = 1``."""
    rho = escnn_group(group).regular_representation
    return np.rint(np.asarray(rho(escnn_element(group, g)), dtype=np.float64)) + 0.0  # exact 0 / 1 (no -0.0)


def regular_decomposition(group: str) -> list[tuple[str, int]]:
    """[(irrep name, multiplicity)]: how escnn splits the regular representation into real irreps."""
    G = escnn_group(group)
    counts: dict[str, int] = {}
    for ident in G.regular_representation.irreps:
        name = G.irrep(*ident).name
        counts[name] = counts.get(name, 0) + 1
    return list(counts.items())


# ----------------------------------------------------------------------------------------------
# actions on images and fields


def _as_maps(x, what: str, ndim: int) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if t.dim() != ndim:
        shape = "(H, W)" if ndim == 2 else "(|G|, H, W)"
        raise UserInputError(what, f"expected a {shape} array, got shape {tuple(t.shape)}")
    if t.dtype == torch.uint8:
        return t.float() / 255.0
    return t.float()


def act_on_image(image, group: str, g: ElementLike) -> np.ndarray:
    """The (H, W) image transformed by g (mirror, then rotate counter-clockwise about the centre)."""
    x = _as_maps(image, "image", 2)
    return element(group, g).apply(x[None, None])[0, 0].numpy()


def act_on_regular_field(field, group: str, g: ElementLike) -> np.ndarray:
    """g acting on a regular feature field (|G|, H, W): spatial transform, then channels permuted by R(g)."""
    x = _as_maps(field, "field", 3)
    if x.shape[0] != order(group):
        raise UserInputError(
            "field", f"a regular field of {group.upper()} has {order(group)} channels, got {x.shape[0]}"
        )
    moved = element(group, g).apply(x[None])[0]  # (|G|, H, W)
    rho = torch.as_tensor(regular_representation(group, g), dtype=moved.dtype)
    return torch.einsum("ij,jhw->ihw", rho, moved).numpy()


def oriented_filter(size: int = 7) -> np.ndarray:
    """(size, size) chiral edge filter: no rotation or mirror maps it onto itself (or any other copy)."""
    c = (size - 1) / 2
    v, u = np.mgrid[0:size, 0:size].astype(np.float64) - c  # v: row (down), u: column (right)
    env = np.exp(-(u**2 + v**2) / (2 * (size / 4) ** 2))
    psi = (u + 0.6 * u * v / max(c, 1)) * env
    return psi / np.abs(psi).sum()


def lift(image, group: str, filt=None) -> np.ndarray:
    """A regular field (|G|, H, W) from a digit: channel i = correlation with ``h_i`` applied to the filter.

    ``lift(act_on_image(x, G, g), G) == act_on_regular_field(lift(x, G), G, g)`` (exactly for multiples
    of 90 degrees; up to interpolation otherwise).
    """
    x = _as_maps(image, "image", 2)[None, None]
    psi = torch.as_tensor(oriented_filter() if filt is None else filt, dtype=torch.float32)
    if psi.dim() != 2 or psi.shape[0] != psi.shape[1] or psi.shape[0] % 2 == 0:
        raise UserInputError("filter", f"expected an odd square (k, k) filter, got shape {tuple(psi.shape)}")
    bank = torch.cat([e.apply(psi[None, None]) for e in elements(group)])  # (|G|, 1, k, k)
    return F.conv2d(x, bank, padding=psi.shape[-1] // 2)[0].numpy()


def relative_difference(expected: np.ndarray, got: np.ndarray) -> float:
    """||expected - got|| / ||expected|| (0 for equal arrays; the denominator is at least 1e-12)."""
    return float(np.linalg.norm(expected - got)) / max(float(np.linalg.norm(expected)), 1e-12)
