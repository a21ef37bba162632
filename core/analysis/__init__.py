"""Analysis: UI-free numbers about trained runs and graphs — evaluation and results tables,
embeddings, equivariance errors, spectra, filters, group representations, KarateClub.

May import ``training``, ``models``, ``graphs``, ``data`` and the base modules; never ``figures``.
"""
