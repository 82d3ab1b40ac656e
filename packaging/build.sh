#!/usr/bin/env bash
# Build the VisualLens desktop app as one folder, dist/VisualLens (see packaging/README.md).
#   packaging/build.sh [--python PY] [--bundle FOLDER_OR_ARCHIVE] [--samples FOLDER] [--dist DIR] [--work DIR]
# Python: --python, else $VISUALLENS_BUILD_PYTHON, else the active virtualenv, else build/venv-packaging
# (created here with the [desktop] extras and PyInstaller; add --bundle and --samples, or it needs the [export]
# extras too).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${VISUALLENS_BUILD_PYTHON:-}"
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --python) PY="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ -z "$PY" ] && [ -n "${VIRTUAL_ENV:-}" ]; then PY="$VIRTUAL_ENV/bin/python"; fi
if [ -z "$PY" ]; then
  VENV=build/venv-packaging
  if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
  "$VENV/bin/python" -m pip install -q ".[desktop]" "pyinstaller>=6.10"
  PY="$VENV/bin/python"
fi
if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
  echo "error: PyInstaller is not installed for $PY: $PY -m pip install 'pyinstaller>=6.10'" >&2
  exit 1
fi
exec "$PY" packaging/build.py ${args[@]+"${args[@]}"}
