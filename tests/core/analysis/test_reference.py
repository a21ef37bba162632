"""The full-length figures shown beside a run's accuracy are docs/accuracy.md's measured tables, matched by recipe."""

import re
from pathlib import Path

import pytest

from core.analysis.reference import REFERENCES, context_line, reference_for

ACCURACY = (Path(__file__).resolve().parents[3] / "docs" / "accuracy.md").read_text()


def _table_row(first_cell: str) -> list[str]:
    row = next(line for line in ACCURACY.splitlines() if line.startswith(f"| {first_cell} |"))
    return [c.strip() for c in row.strip("|").split("|")]


@pytest.mark.parametrize("model", ["mlp", "cnn", "cheb", "gcn", "sage", "gin", "gat", "learned"])
def test_image_model_figures_are_the_readme_accuracy_table(model):
    cells = _table_row(model)
    assert f"{REFERENCES[(model, 'mnist-5k')].accuracy:.1%}" == cells[2]


@pytest.mark.parametrize(
    "conv, name",
    [
        ("gat", "GAT"),
        ("sage", "GraphSAGE"),
        ("gcn", "GCN"),
        ("monet", "MoNet"),
        ("gatedgcn", "GatedGCN"),
        ("pna", "PNA"),
        ("cheb", "ChebNet"),
        ("gin", "GIN"),
    ],
)
def test_superpixel_figures_are_the_readme_superpixel_table(conv, name):
    row = next(line for line in ACCURACY.splitlines() if re.match(rf"\| {name} \(`", line))
    mean = re.search(r"\| \**([0-9.]+)%\**", row).group(1)
    assert f"{REFERENCES[(f'superpixel:{conv}', 'mnist-5k')].accuracy * 100:.1f}" == mean


def test_a_run_is_matched_by_model_layer_and_data():
    assert reference_for({"model": "superpixel", "conv": "gat", "data": "mnist-5k"}).accuracy == pytest.approx(0.911)
    assert reference_for({"model": "superpixel", "conv": "gin", "data": "mnist-5k"}).accuracy == pytest.approx(0.864)
    assert reference_for({"model": "escnn", "group": "c8", "data": "mnist-rot"}).epochs == 10
    assert reference_for({"model": "escnn", "group": "D4", "data": "mnist-5k"}) is None  # another recipe
    assert reference_for({"model": "cheb", "data": "mnist"}) is None  # not measured on full MNIST here
    assert reference_for({"model": "tutorial", "adjacency": "none"}).accuracy == pytest.approx(0.911)


def test_a_short_run_far_below_is_told_why():
    line = context_line({"model": "superpixel", "conv": "gat", "data": "mnist-5k"}, accuracy=0.375, epochs=3)
    assert "91.1%" in line and "30 epochs" in line and "3 epochs" in line
    assert "This run" not in context_line({"model": "cnn", "data": "mnist-5k"}, accuracy=0.968, epochs=8)
    assert context_line({"model": "cnn", "data": "mnist"}, 0.5, 1) == ""
