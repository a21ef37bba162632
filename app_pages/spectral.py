"""Spectral view: Laplacian eigenvectors of a pixel graph, a digit's graph Fourier transform, and the
frequency responses a trained ChebNet learned."""

import json

import streamlit as st

from core.analysis.results import checkpoint_version
from core.analysis.spectral import (
    LAPLACIANS,
    ChebResponse,
    cheb_layer_response,
    graph_fourier_transform,
    laplacian_eigenvectors,
    low_pass_series,
)
from core.errors import UserInputError
from core.figures.spectral import (
    eigenvector_grid_figure,
    fourier_figure,
    frequency_response_figure,
    reconstruction_figure,
    spectrum_figure,
)
from core.graphs import FORMULAS
from core.models.spec import PIXEL_GRAPH_KINDS
from core.training.runs import run_title
from core.training.store import CheckpointError, Run, as_run
from ui.display import guarded, plain
from ui.linked_runs import linked_run_shown, write_defs
from ui.nav import page
from ui.resources import RUNS, cached, dataset, from_store, graph
from ui.url_state import (
    copy_link_button,
    graph_param_widgets,
    url_choice,
    url_labelled_choice,
    url_notices,
    url_slider,
)

LOW_PASS = (10, 40, 150, 400)  # coefficients kept in the low-pass reconstructions


@cached(RUNS, show_spinner="Loading the run's checkpoint…")
def run_response(run_id: int, version: str, layer: int, _run: Run) -> ChebResponse:
    return cheb_layer_response(_run, layer)


def render() -> None:
    st.title("Spectral view")
    st.caption(
        "A graph has its own Fourier basis: the eigenvectors of its Laplacian L. Small eigenvalues are smooth "
        "patterns over the graph (low frequencies), large ones oscillate from node to node. Spectral graph "
        "convolutions such as ChebNet are filters on this spectrum."
    )

    notice = st.container()  # filled at the end if the opened link had invalid values
    sb = st.sidebar
    kind = url_choice(sb, "Graph kind", list(PIXEL_GRAPH_KINDS), "grid", "s_kind", widget="radio", horizontal=True)
    params = graph_param_widgets(kind, sb)
    norm = url_choice(
        sb,
        "Laplacian",
        list(LAPLACIANS),
        "sym",
        "s_norm",
        widget="radio",
        horizontal=True,
        help="sym: I − D^-1/2 A D^-1/2 (eigenvalues in [0, 2], the one ChebNet uses). comb: D − A.",
    )
    k = url_slider(sb, "Eigenvectors shown", 4, 48, 16, "s_k", step=4)
    ds = guarded(lambda: dataset("mnist-5k"))
    if ds is None:
        return
    digit = url_slider(sb, "Digit (training image #)", 0, len(ds.y_train) - 1, 0, "s_digit")
    copy_link_button(sb)

    spectrum = _spectrum(kind, params, norm)
    if spectrum is None:
        return
    raw, vals, vecs = spectrum
    _show_spectrum(kind, norm, k, raw, vals, vecs, ds, digit)
    _learned_filters(notice)
    with st.expander("What am I looking at?"):
        st.markdown(
            "- **Eigenvectors**: each panel is one eigenvector uᵢ of L drawn on the 28×28 pixel layout (red "
            "positive, blue negative). u₀ is constant for L = D − A (∝ √degree for the normalised L); the next "
            "ones are the smoothest possible waves across the image, and the frequency grows with λ — exactly "
            "like the cosines of a 2-D Fourier transform on a grid.\n"
            "- **Spectrum**: the eigenvalues in order; each zero eigenvalue is one connected component.\n"
            "- **Fourier coefficients**: x̂ = Uᵀx, the digit expressed in this basis. Most of its energy sits at "
            "low λ; the low-pass images rebuild it from only the first coefficients.\n"
            "- **ChebNet**: a spectral filter multiplies every coefficient x̂ᵢ by g(λᵢ). ChebNet makes g a "
            "Chebyshev polynomial of order K − 1 in the scaled Laplacian, so it never needs the eigenvectors at all."
        )
    url_notices(notice)


def _spectrum(kind: str, params: dict, norm: str):
    """(the graph, its Laplacian's eigenvalues, its eigenvectors); None after one line when either cannot be had."""
    built = guarded(lambda: graph(kind, json.dumps(params, sort_keys=True), "none"))
    if built is None:
        return None
    raw = built[0]
    decomposed = guarded(lambda: laplacian_eigenvectors(raw, k=raw.num_nodes, norm=norm))
    if decomposed is None:
        return None
    vals, vecs = decomposed
    return raw, vals, vecs


def _show_spectrum(kind: str, norm: str, k: int, raw, vals, vecs, ds, digit: int) -> None:
    """The graph's formulas and numbers, its first ``k`` eigenvectors, its spectrum, and training digit ``digit``'s
    graph Fourier coefficients with its low-pass reconstructions."""
    side = round(raw.num_nodes**0.5)
    st.latex(FORMULAS[kind])
    st.latex(LAPLACIANS[norm] + r",\qquad L u_i = \lambda_i u_i,\quad \hat x = U^\top x")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Nodes", f"{raw.num_nodes:,}")
    c2.metric("Zero eigenvalues", int((vals < 1e-8).sum()), help="One per connected component.")
    c3.metric(
        "λ₁ (spectral gap)",
        f"{vals[1]:.4f}" if len(vals) > 1 else "–",
        help="Small: the graph is easy to cut in two; large: well connected.",
    )
    c4.metric("λ_max", f"{vals[-1]:.4f}")

    st.subheader("Eigenvectors")
    st.plotly_chart(
        eigenvector_grid_figure(vals[:k], vecs[:, :k], side=side, cols=8 if k > 16 else 4),
        width="stretch",
        key="s_eigvecs",
    )
    left, right = st.columns(2)
    left.plotly_chart(spectrum_figure(vals, shown=k), width="stretch", key="s_spectrum")

    image = ds.x_train[digit].numpy()  # (28, 28)
    coeffs = graph_fourier_transform(raw, image, norm=norm)  # (N,)
    right.plotly_chart(
        fourier_figure(
            vals, coeffs, title=f"Graph Fourier coefficients of digit #{digit} (label {int(ds.y_train[digit])})"
        ),
        width="stretch",
        key="s_fourier",
    )
    rebuilt = low_pass_series(raw, image, LOW_PASS, norm=norm)
    st.plotly_chart(
        reconstruction_figure(
            [image, *rebuilt.images],
            ["digit"] + [f"first {m} ({e:.0%} of energy)" for m, e in zip(rebuilt.kept, rebuilt.energy, strict=False)],
        ),
        width="stretch",
        key="s_recon",
    )


# ---------------------------------------------------------------- learned ChebNet filters
def _learned_filters(notice) -> None:
    """The frequency responses a stored ChebNet run learned, one layer and input channel at a time; without such a
    run, a line and a link to train one. The link's run is checked first (``linked_run_shown``)."""
    st.subheader("What a trained ChebNet filters")

    runs = from_store(lambda s: [as_run(r) for r in s.runs_with_weights("cheb")])
    by_id = {r.id: r for r in runs}
    if not linked_run_shown(
        "s_run",
        notice,
        by_id,
        once=True,
        instead="Show the ChebNet runs stored here instead",
        later="its filters show here when it finishes",
    ):
        return
    if not runs:
        st.info(
            "No finished ChebNet run with a checkpoint yet. Train one on the Train page (linked below): its "
            "learned filters will appear here.",
            icon=":material/model_training:",
        )
        st.page_link(
            page("train"), label="Train a ChebNet", icon=":material/model_training:", query_params={"model": "cheb"}
        )
        return
    run_id = url_labelled_choice(
        st,
        "ChebNet run",
        list(by_id),
        next(iter(by_id)),
        "s_run",
        format_func=lambda i: run_title(by_id[i]) if isinstance(i, int) and i in by_id else "—",
    )
    write_defs([run_id])  # a copied link carries what the run is (ui/linked_runs.py)
    run = by_id[run_id]
    layers = max(1, int(run.config.get("layers", 1)))
    lc, ic = st.columns(2)
    layer = url_choice(lc, "Layer", list(range(1, layers + 1)), 1, "s_layer") - 1
    try:
        lambdas, response, layer_vals, K, _ = run_response(run_id, checkpoint_version(run), int(layer), run)
    except (CheckpointError, UserInputError, OSError) as err:
        st.error(f"Cannot read run {run_id}'s filters — {plain(err)}")
        return
    c_in = response.shape[1]
    channel = url_slider(ic, "Input channel", 0, c_in - 1, 0, "s_in") if c_in > 1 else 0
    st.plotly_chart(
        frequency_response_figure(
            lambdas,
            response,
            layer_vals,
            input_channel=channel,
            title=f"Run {run_id}, layer {layer + 1}: {response.shape[2]} filters of order K={K} "
            f"(input channel {channel})",
        ),
        width="stretch",
        key="s_response",
    )
    st.caption(
        "Each line is one learned filter g(λ) = Σₖ θₖ Tₖ(λ − 1): how much of each graph frequency of "
        "the input passes into that output channel. The ticks at the bottom are the eigenvalues of the "
        "graph this layer runs on (pooled layers run on coarser graphs). A degree-(K−1) polynomial "
        "cannot change quickly with λ, which is why the filters are smooth and K-hop local."
    )


if __name__ == "__main__":  # Streamlit runs a page's file as __main__; an import (a test's) draws nothing
    render()
