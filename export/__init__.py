"""Export side (torch): builds model bundles for the engine and benchmark data."""

import engine  # noqa: F401 - first, so ONNX Runtime's telemetry is off before any module imports onnxruntime
