"""Exporters of a trained model to other formats (ONNX, ...).

Each exporter is one module with one emitter per layer type, looked up by the layer's
registered class name, so a layer without an emitter is named in a clear error.
"""
