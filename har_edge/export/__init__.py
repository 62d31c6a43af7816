"""The export stage: an optimized, split model -> a deployable bundle folder. Needs TensorFlow.

``request.py``: ``bundle_request`` (an optimized model -> an ``ExportRequest``); ``writer.py``:
``ExportRequest`` and ``export_bundle`` (convert, write, verify); ``head.py``: ``head_tflite``, the
trainable head with its signatures.
"""

from har_edge.export.head import head_tflite
from har_edge.export.request import bundle_request
from har_edge.export.writer import ExportRequest, export_bundle

__all__ = ["ExportRequest", "bundle_request", "export_bundle", "head_tflite"]
