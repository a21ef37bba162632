"""The Graph Builder's sigma in a real browser: the main picture Plotly drew differs between sigma 0.05, 0.3 and 1.0.

Each sigma is opened by link (``/graph?kind=gaussian&gaussian_sigma=...``, as the page binds its slider), and the
figure's data is read from the DOM (``gd.data`` and ``gd.layout.shapes`` of the first Plotly chart), not from a label.
"""

from __future__ import annotations

from tests.browser.conftest import IDLE, SHOTS

# The main figure as Plotly holds it in the page: its title, the drawn edge paths (layout shapes) with their widths
# and opacities, and the kernel profile's title (the second chart on a Gaussian graph).
FIGURE_JS = """() => {
  const plots = [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')];
  const gd = plots[0];
  const shapes = (gd.layout.shapes || []).filter(s => s.type === 'path');
  return {title: gd.layout.title.text, traces: gd.data.map(t => t.name || null),
          paths: shapes.map(s => [s.line.color, s.line.width, s.opacity, s.path.split('M').length - 1]),
          lengths: shapes.map(s => s.path.length), drawn: [...gd.querySelectorAll('.shapelayer path')].length,
          kernel: plots.length > 1 ? plots[1].layout.title.text : null};
}"""


def _figure(page, server: str, sigma: float) -> dict:
    page.goto(f"{server}/graph?kind=gaussian&gaussian_sigma={sigma}")
    page.get_by_text(f"Edge weight against distance, σ = {sigma:g}").first.wait_for()
    page.wait_for_selector(IDLE)
    page.wait_for_function("() => document.querySelector('[data-testid=\"stPlotlyChart\"] .js-plotly-plot')?.layout")
    return page.evaluate(FIGURE_JS)


def test_sigma_changes_the_drawn_graph(server, page):
    seen = {sigma: _figure(page, server, sigma) for sigma in (0.05, 0.3, 1.0)}
    page.screenshot(path=str(SHOTS / "graph_builder_sigma_1.png"), full_page=True)
    for sigma, fig in seen.items():
        assert (
            f"Gaussian-kernel graph, σ = {sigma:g} · digit #0" in fig["title"]
        )  # Streamlit's theme sets titles in bold: <b>…</b>
        assert f"Edge weight against distance, σ = {sigma:g}" in fig["kernel"]
        assert fig["drawn"] >= len(fig["paths"]) > 0  # the shapes are in the SVG, not only in the data
    assert len({tuple(map(tuple, f["paths"])) for f in seen.values()}) == 3  # widths, opacities and counts differ
    assert len({tuple(f["lengths"]) for f in seen.values()}) == 3

    def node_edges(fig):  # the chosen node's edges: green paths, their segment counts summed
        return sum(n for color, _, _, n in fig["paths"] if color == "rgb(22,163,74)")

    assert node_edges(seen[0.05]) == 20 < node_edges(seen[0.3]) < node_edges(seen[1.0]) == 783
    heaviest = {s: max(w for color, w, _, _ in f["paths"] if color == "rgb(79,70,229)") for s, f in seen.items()}
    assert heaviest[0.05] < heaviest[1.0]  # at 0.05 no edge reaches the heaviest class's thick line
