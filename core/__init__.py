"""GraphConv Lab engine: data, graph builders, models, training, run store.

This package never imports streamlit; the pages in ``app_pages/`` compose widgets and call it.
"""

__version__ = "0.1.0"
