"""VisualLens engine: torch-free, on-device runtime (index photos, recommend from them)."""

import os

# onnxruntime >= 1.29 ships telemetry (a queue on disk, then DNS lookups to Microsoft): nothing may leave this
# machine, and the switch only works when set before onnxruntime is first imported, so it is set here.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

__version__ = "0.1.0"
