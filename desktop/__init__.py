"""VisualLens desktop app: a PySide6 window over `engine.api`; long work runs in worker threads."""

import engine  # noqa: F401 - first, so ONNX Runtime's telemetry is off before any module imports onnxruntime
