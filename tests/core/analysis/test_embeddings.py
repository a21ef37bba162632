"""Embeddings: t-SNE determinism and separation, alignment, penultimate features."""

import numpy as np
import pytest
import torch

from core.analysis.embeddings import align_2d, align_sequence, batch_outputs, penultimate_features, tsne_2d


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


def test_penultimate_features_and_batch_outputs_match_the_model(tiny_feature_model):
    model = tiny_feature_model.train()
    images = torch.rand(23, 4, 4)
    f = penultimate_features(model, images, batch_size=5)
    assert f.shape == (23, 8) and model.training  # mode restored
    model.eval()
    assert np.allclose(f, model.features(images.unsqueeze(1)).detach().numpy(), atol=1e-6)
    batches = [(images[i : i + 10].unsqueeze(1), torch.arange(i, min(i + 10, 23)) % 3) for i in range(0, 23, 10)]
    logits, labels, feats = batch_outputs(model, batches, max_features=12)
    assert logits.shape == (23, 3) and labels.shape == (23,) and feats.shape == (12, 8)
    assert np.allclose(logits, model(images.unsqueeze(1)).detach().numpy(), atol=1e-5)
    with pytest.raises(TypeError):
        penultimate_features(torch.nn.Linear(2, 2), images)
