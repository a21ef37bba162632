"""Embeddings: PCA against known answers, t-SNE determinism and separation, features, snapshots."""

import numpy as np
import pytest
import torch

from core.analysis.embeddings import (FeatureTap, align_2d, align_sequence, batch_outputs, pca, pca_2d, pca_snapshot,
                             penultimate_features, tsne_2d)


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
    x = np.stack([5.0 * np.cos(angle), 0.2 * rng.normal(size=500), 2.0 * np.sin(angle)], axis=1) + [1.0, 2.0, 3.0]
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
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    assert np.allclose(np.abs(pca_2d(wide)), np.abs(xc @ vt[:2].T), atol=1e-4)
    assert pca_2d(np.ones((5, 3))).tolist() == [[0.0, 0.0]] * 5
    assert pca_2d(np.zeros((1, 4))).shape == (1, 2)
    assert pca_2d(rng.normal(size=(10, 1)))[:, 1].tolist() == [0.0] * 10
    with pytest.raises(ValueError, match="NaN"):
        pca_2d(np.array([[0.0, np.nan], [1.0, 2.0]]))


def _blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 20))
    b = rng.normal(size=(n, 20)) + 25.0
    return np.concatenate([a, b]), np.array([0] * n + [1] * n)


def test_tsne_shape_determinism_and_separation():
    x, y = _blobs()
    a = tsne_2d(x, perplexity=15, seed=0)
    assert a.shape == (len(x), 2) and np.isfinite(a).all()
    assert np.array_equal(a, tsne_2d(x, perplexity=15, seed=0))
    d = ((a[:, None, :] - a[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    agreement = (y[d.argmin(1)] == y).mean()
    assert agreement >= 0.99


def test_tsne_tiny_inputs():
    assert tsne_2d(np.random.default_rng(0).normal(size=(3, 4))).shape == (3, 2)  # falls back to PCA
    out = tsne_2d(np.random.default_rng(0).normal(size=(12, 4)), perplexity=30)  # perplexity lowered
    assert out.shape == (12, 2) and np.isfinite(out).all()


def test_align_2d_undoes_a_rotation_and_a_mirror():
    rng = np.random.default_rng(4)
    ref = rng.normal(size=(50, 2))
    th = 1.1
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]]) @ np.diag([1, -1])
    moved = ref @ rot.T + 3.0
    back = align_2d(moved, ref)
    assert np.allclose(back - back.mean(0), ref - ref.mean(0), atol=1e-5)
    seq = align_sequence([ref, moved, moved * 1.0])
    assert len(seq) == 3 and np.allclose(seq[1] - seq[1].mean(0), ref - ref.mean(0), atol=1e-5)


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.ReLU())
        self.classifier = torch.nn.Sequential(torch.nn.Dropout(0.5), torch.nn.Linear(8, 3))

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.classifier(self.features(x))


def test_penultimate_features_and_batch_outputs_match_the_model():
    model = _Tiny().train()
    images = torch.rand(23, 4, 4)
    f = penultimate_features(model, images, batch_size=5)
    assert f.shape == (23, 8) and model.training  # mode restored
    model.eval()
    assert np.allclose(f, model.features(images.unsqueeze(1)).detach().numpy(), atol=1e-6)
    batches = [(images[i:i + 10].unsqueeze(1), torch.arange(i, min(i + 10, 23)) % 3) for i in range(0, 23, 10)]
    logits, labels, feats = batch_outputs(model, batches, max_features=12)
    assert logits.shape == (23, 3) and labels.shape == (23,) and feats.shape == (12, 8)
    assert np.allclose(logits, model(images.unsqueeze(1)).detach().numpy(), atol=1e-5)
    with pytest.raises(TypeError):
        penultimate_features(torch.nn.Linear(2, 2), images)


def test_feature_tap_records_the_eval_pass_only():
    model = _Tiny()
    images = torch.rand(30, 1, 4, 4)
    labels = torch.arange(30) % 3
    tap = FeatureTap(model, limit=12)
    model.train()
    model(images)  # training passes are not recorded
    assert tap.snapshot(labels) is None
    model.eval()
    with torch.no_grad():
        for i in range(0, 30, 8):
            model(images[i:i + 8])
    snap = tap.snapshot(labels)
    assert len(snap["xy"]) == 12 and snap["labels"] == labels[:12].tolist()
    direct = pca_snapshot(model, [(images[i:i + 8], labels[i:i + 8]) for i in range(0, 30, 8)], limit=12)
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
