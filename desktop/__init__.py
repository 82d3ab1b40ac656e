"""VisualLens desktop app: a PySide6 window over `engine.api`; long work runs in worker threads."""
