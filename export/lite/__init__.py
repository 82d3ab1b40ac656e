"""The offline `lite` model bundle: EfficientNet-Lite0 + all-MiniLM-L6-v2 exported to ONNX."""

from export.bundle_io import BundleExistsError
from export.lite.build import build_lite_bundle

__all__ = ["BundleExistsError", "build_lite_bundle"]
