"""The engine runs on every user's machine: it must never pull in torch, transformers or the desktop UI."""

import subprocess
import sys

FORBIDDEN = ("torch", "transformers", "peft", "optimum", "open_clip", "PySide6", "desktop", "export")


def test_importing_every_engine_module_loads_no_torch_side_package():
    code = (
        "import importlib, pkgutil, sys, engine\n"
        "for m in pkgutil.walk_packages(engine.__path__, 'engine.'):\n"
        "    importlib.import_module(m.name)\n"
        f"bad = sorted(n for n in sys.modules if n.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"engine imported: {result.stdout.strip()}"
