"""Exports of trained runs in formats other programs read: ``onnx_export`` writes a run as an ONNX file (logits,
probabilities and the Playground's layer maps), cached on disk, for the browser's onnxruntime-web and for anyone who
takes a model home (``python -m core export RUN --onnx FILE``).

Sits above ``core.analysis`` (it traces the Playground's network); never imports Streamlit.
"""

from core.export.onnx_export import OnnxExport, export_run_onnx, export_run_onnx_in_child, exportable

__all__ = ["OnnxExport", "export_run_onnx", "export_run_onnx_in_child", "exportable"]
