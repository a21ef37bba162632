"""Groups: the rotation groups C_N and D_N behind steerable CNNs — their irreps, the regular
representation, and what one element does to a digit and to a regular feature field."""

import numpy as np
import pandas as pd
import streamlit as st

from core.analysis import groups as G
from core.figures.equivariance import field_figure, image_row_figure, irreps_figure, matrix_figure, permutation_figure
from ui.display import guarded
from ui.resources import dataset
from ui.url_state import copy_link_button, url_choice, url_notices, url_slider

MAX_DIGITS = 100


def group_settings(sb) -> tuple[str, int, str, int]:
    """(group name, N, element g, digit index) from the sidebar, bound to the URL, then the copy-link control."""
    family = url_choice(
        sb,
        "Group family",
        list(G.FAMILIES),
        "C",
        "family",
        widget="radio",
        horizontal=True,
        help="C: the N rotations by multiples of 360/N degrees (cyclic group). "
        "D: those and their mirror images (dihedral group, 2N elements).",
    )
    n = url_slider(sb, "N", 1, 16, 4, "n")
    group = G.group_name(family, n)
    names = G.element_names(group)
    default_el = names[1] if len(names) > 1 else names[0]
    if "element" in st.session_state and st.session_state["element"] not in names:
        st.session_state["element"] = default_el  # N or the family changed under the chosen element
    el = url_choice(
        sb,
        "Element g",
        names,
        default_el,
        "element",
        help="`rA`: rotate A degrees counter-clockwise. `f rA`: mirror left-right, then rotate A degrees.",
    )
    digit = url_slider(sb, "Digit", 0, MAX_DIGITS - 1, 0, "digit")
    copy_link_button(sb)
    return group, n, el, digit


def show_element(group: str, el: str, names: list[str]) -> None:
    """The group's elements, and what g is: its order, its inverse, whether it maps the pixel grid onto itself."""
    st.markdown(f"**{group}** has {G.order(group)} elements: " + ", ".join(f"`{x}`" for x in names) + ".")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("|G|", G.order(group))
    m2.metric(f"Order of {el}", G.element_order(group, el), help="The smallest k with g^k = identity.")
    m3.metric("Inverse", G.inverse(group, el).name)
    m4.metric(
        "On the pixel grid",
        "exact" if G.element(group, el).exact else "interpolated",
        help="Multiples of 90 degrees map the square grid onto itself; other angles need interpolation.",
    )


def show_irreps(group: str, el: str) -> None:
    """The irreducible representations evaluated at g, and what each one does."""
    st.subheader("Irreducible representations")
    st.caption(
        "Every real representation of the group splits into these building blocks; evaluated at g, each is "
        "an orthogonal 1×1 or 2×2 matrix, and ρ(g)ρ(h) = ρ(gh). Steerable CNNs (escnn) describe each feature "
        "field by such matrices."
    )
    st.plotly_chart(irreps_figure(G.irreps(group, el), el), width="stretch")
    with st.expander("What each irrep does"):
        st.dataframe(
            pd.DataFrame([{"irrep": name, "meaning": text} for name, text in G.irrep_descriptions(group).items()]),
            hide_index=True,
            width="stretch",
        )


def show_regular(group: str, el: str, names: list[str]) -> None:
    """The regular representation R(g): its permutation matrix, where it sends each element, its cycles and its
    split into irreps."""
    st.subheader("Regular representation")
    c1, c2 = st.columns(2)
    with c1:
        st.plotly_chart(
            matrix_figure(
                G.regular_representation(group, el),
                title=f"R({el}): |G| × |G| permutation",
                row_labels=names,
                col_labels=names,
            ),
            width="stretch",
        )
    with c2:
        st.plotly_chart(permutation_figure(G.permutation(group, el), names, title=f"h → {el}·h"), width="stretch")
    cycles = [c for c in G.cycles(group, el) if len(c) > 1]
    cycle_text = (
        " ".join("(" + " → ".join(names[i] for i in c) + f" → {names[c[0]]})" for c in cycles) or "none (identity)"
    )
    st.markdown(f"**Cycles of {el}:** {cycle_text}")
    decomposition = " ⊕ ".join(f"{k}× {name}" if k > 1 else name for name, k in G.regular_decomposition(group))
    st.caption(
        f"R(g) sends the basis vector of h to that of g·h, so column h has its single 1 in row g·h. "
        f"A regular feature field has one channel per group element, and g shuffles its channels this way. "
        f"Split into irreps: R = {decomposition}."
    )


def show_action(group: str, el: str, names: list[str], n: int, digit: int) -> None:
    """g acting on a test digit, and on the digit's regular feature field (the lifting is equivariant); nothing
    below the heading when the data set cannot be read (said in one line)."""
    st.subheader("g acting on a digit")
    ds = guarded(lambda: dataset("mnist-5k"))
    if ds is None:
        return
    image = ds.x_train[min(int(digit), len(ds.x_train) - 1)].numpy()
    moved = G.act_on_image(image, group, el)
    st.plotly_chart(image_row_figure([image, moved], ["x", f"{el}·x"], tile_px=240), width="stretch")

    st.subheader("g acting on a regular feature field")
    field = G.lift(image, group)
    after = G.act_on_regular_field(field, group, el)
    direct = G.lift(moved, group)
    err = G.relative_difference(direct, after)
    limit = float(max(np.abs(field).max(), np.abs(direct).max()))
    for title, f in (
        ("**f**: the field of the digit (channel h: the digit correlated with the filter turned by h)", field),
        (f"**{el}·f**: every channel moved by {el}, the channels permuted by R({el})", after),
        (f"**the field of {el}·x**, computed from the transformed digit", direct),
    ):
        st.markdown(title)
        st.plotly_chart(field_figure({title: f}, names, cols=n, limit=limit), width="stretch")
    st.caption(
        f"The field f has one channel per group element h: the digit correlated with one oriented filter "
        f"transformed by h (a lifting convolution). Acting with {el} moves every channel in the plane and "
        f"shuffles the channels by the regular representation — they cycle along the arrows above. That equals "
        f"the field computed from the transformed digit (relative difference {err:.1e}): the lifting is "
        "equivariant"
        + (
            ", exactly, since g is a multiple of 90°."
            if G.element(group, el).exact
            else ", up to interpolation, since g is not a multiple of 90°."
        )
    )


def render() -> None:
    st.title("Groups")
    notice = st.container()
    group, n, el, digit = group_settings(st.sidebar)
    url_notices(notice)
    names = G.element_names(group)
    show_element(group, el, names)
    show_irreps(group, el)
    show_regular(group, el, names)
    show_action(group, el, names, n, digit)


if __name__ == "__main__":  # Streamlit runs a page's file as __main__; an import (a test's) draws nothing
    render()
