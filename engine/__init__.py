"""VisualLens engine: torch-free, on-device runtime (index photos, recommend from them)."""

__version__ = "0.1.0"
