"""Per-epoch snapshots: PCA against known answers, and the FeatureTap that records the eval pass."""

import numpy as np
import pytest
import torch

from core.training.snapshots import FeatureTap, pca, pca_2d, pca_snapshot


def test_pca_of_points_on_a_line_in_5d():
    rng = np.random.default_rng(0)
    direction = np.array([1.0, -2.0, 0.5, 3.0, -1.0])
    direction /= np.linalg.norm(direction)
    t = rng.normal(size=200)
    x = 7.0 + t[:, None] * direction[None, :]  # a line through (7, ..., 7)
    p = pca(x, k=2)
    assert p.explained_variance_ratio[0] == pytest.approx(1.0, abs=1e-9)
    assert p.explained_variance_ratio[1] == pytest.approx(0.0, abs=1e-9)
    assert abs(p.components[0] @ direction) == pytest.approx(1.0, abs=1e-9)
    # first coordinate is the signed position along the line (sign: largest-|entry| of the axis positive: +3)
    assert np.allclose(p.coords[:, 0], (t - t.mean()) * np.sign(direction[3]), atol=1e-5)
    assert np.allclose(p.coords[:, 1], 0.0, atol=1e-5)
    assert pca_2d(x).shape == (200, 2)


def test_pca_of_an_axis_aligned_ellipse_finds_the_axes():
    rng = np.random.default_rng(1)
    angle = rng.uniform(0, 2 * np.pi, 500)
    centre = np.array([1.0, 2.0, 3.0])  # added to every point (not appended)
    x = np.stack([5.0 * np.cos(angle), 0.2 * rng.normal(size=500), 2.0 * np.sin(angle)], axis=1) + centre
    p = pca(x, k=2)
    assert np.allclose(np.abs(p.components[0]), [1, 0, 0], atol=0.02)
    assert np.allclose(np.abs(p.components[1]), [0, 0, 1], atol=0.02)
    # the sign convention makes the dominant entry positive: components are +e0 and +e2, not -e0 / -e2
    assert p.components[0, 0] > 0 and p.components[1, 2] > 0
    assert np.allclose(p.coords[:, 0], x[:, 0] - x[:, 0].mean(), atol=0.05)
    assert p.explained_variance[0] == pytest.approx(np.var(x[:, 0], ddof=1), rel=1e-3)


def test_pca_signs_are_deterministic_under_negation_and_row_order():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(100, 6)) * [5, 3, 1, 1, 1, 1]
    a = pca_2d(x)
    perm = rng.permutation(100)
    assert np.allclose(pca_2d(x[perm]), a[perm], atol=1e-5)
    # flipping the data flips the coordinates; the axes stay the same (no mirror ambiguity)
    pa, pb = pca(x), pca(-x)
    assert np.allclose(pa.components, pb.components, atol=1e-9)
    assert np.allclose(pca_2d(x), pca_2d(x.copy()), atol=0)


def test_pca_wide_and_degenerate_inputs():
    rng = np.random.default_rng(3)
    wide = rng.normal(size=(20, 300))  # D > n uses the n x n Gram matrix
    xc = wide - wide.mean(0)
    _, _, vt = np.linalg.svd(xc, full_matrices=False)
    assert np.allclose(np.abs(pca_2d(wide)), np.abs(xc @ vt[:2].T), atol=1e-4)
    assert pca_2d(np.ones((5, 3))).tolist() == [[0.0, 0.0]] * 5
    assert pca_2d(np.zeros((1, 4))).shape == (1, 2)
    assert pca_2d(rng.normal(size=(10, 1)))[:, 1].tolist() == [0.0] * 10
    with pytest.raises(ValueError, match="NaN"):
        pca_2d(np.array([[0.0, np.nan], [1.0, 2.0]]))


def test_feature_tap_records_the_eval_pass_only(tiny_feature_model):
    model = tiny_feature_model
    images = torch.rand(30, 1, 4, 4)
    labels = torch.arange(30) % 3
    tap = FeatureTap(model, limit=12)
    model.train()
    model(images)  # training passes are not recorded
    assert tap.snapshot(labels) is None
    model.eval()
    with torch.no_grad():
        for i in range(0, 30, 8):
            model(images[i : i + 8])
    snap = tap.snapshot(labels)
    assert len(snap["xy"]) == 12 and snap["labels"] == labels[:12].tolist()
    direct = pca_snapshot(model, [(images[i : i + 8], labels[i : i + 8]) for i in range(0, 30, 8)], limit=12)
    assert np.allclose(snap["xy"], direct["xy"], atol=1e-3)
    model.train()
    model(images)
    model.eval()
    with torch.no_grad():
        model(images[:5])  # a new eval pass starts a new recording
    assert len(tap.snapshot(labels)["xy"]) == 5
    tap.close()
    assert not model.classifier._forward_pre_hooks
    assert pca_snapshot(torch.nn.Linear(2, 2), []) is None
