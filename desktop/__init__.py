"""VisualLens desktop app (PySide6) over `engine.api`; the window itself is built in the desktop issue."""
