"""Figures: plotly figures, one module per topic, built from what ``analysis`` and ``graphs`` return.

The top of the engine: may import every other package of ``core``, but never Streamlit or ``ui``.
"""
