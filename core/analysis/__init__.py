"""Analysis: UI-free numbers about trained runs and graphs — evaluation and results tables,
embeddings, equivariance errors, spectra, filters (and how far training moved them), group
representations, KarateClub, and the Playground's predictions and feature maps for a user's digit.

May import ``training``, ``models``, ``graphs``, ``data`` and the base modules; never ``figures``.
"""
