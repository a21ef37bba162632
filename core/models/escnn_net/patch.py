"""A fix for escnn 1.0.11 with scikit-learn >= 1.6, applied before escnn builds a group (harmless otherwise)."""

from __future__ import annotations


def patch_escnn() -> None:
    """escnn 1.0.11 passes an ``np.matrix`` to scikit-learn's ``randomized_svd``, which scikit-learn >= 1.6
    rejects ("np.matrix is not supported"); this breaks the Clebsch-Gordan solver used for dihedral groups.
    Wrap escnn's ``null`` so it receives a plain ndarray (same numbers). Idempotent; imports escnn."""
    import numpy as np
    from escnn.group import _numerical

    if getattr(_numerical.null, "_ndarray_patch", False):
        return
    original = _numerical.null

    def null(A, use_sparse: bool = False, eps: float = 1e-12):
        if isinstance(A, np.matrix):
            A = np.asarray(A)
        return original(A, use_sparse, eps)

    null._ndarray_patch = True  # type: ignore[attr-defined]  # a marker on the function: patched once
    _numerical.null = null
