"""GraphConv Lab engine. Imports point one way, from the top of this list to the bottom:

- ``cli``, ``bench``: entry points (``python -m core ...``)
- ``figures``: plotly figures, one module per topic
- ``analysis``: UI-free numbers about runs and graphs (results, embeddings, equivariance, ...)
- ``training``: trainer, runs, run store, run manager, sweeps
- ``models``: image and graph models; ``models.layers``: shared-graph layers
- ``graphs``: graph builders, normalisations, superpixel graphs of a data set
- ``data``: data sets, transforms, reading a user's image
- ``config``, ``errors``, ``registry``, ``rng``: base modules every layer may use

Nothing here imports Streamlit or ``ui``; ``tests/core/test_layering.py`` checks all of this.
See ARCHITECTURE.md.
"""

__version__ = "0.1.0"
