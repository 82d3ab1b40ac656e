#!/bin/sh
# Add VisualLens to your application menu (for you only): its .desktop entry and icons, pointing at this folder.
#   ./install-desktop-entry.sh              install (run again after moving the folder)
#   ./install-desktop-entry.sh --uninstall  remove them again
set -eu
APP_DIR=$(cd "$(dirname "$0")" && pwd)
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
ENTRY="$DATA/applications/visuallens.desktop"
if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$ENTRY"
  find "$DATA/icons/hicolor" -path '*/apps/visuallens.*' -delete 2>/dev/null || true
else
  mkdir -p "$DATA/applications" "$DATA/icons"
  cp -R "$APP_DIR/share/icons/hicolor" "$DATA/icons/"
  sed "s|^Exec=.*|Exec=\"$APP_DIR/visuallens-desktop\"|" "$APP_DIR/share/applications/visuallens.desktop" > "$ENTRY"
  echo "Installed $ENTRY"
fi
if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q "$DATA/applications" || true; fi
if command -v gtk-update-icon-cache >/dev/null 2>&1; then gtk-update-icon-cache -q -t "$DATA/icons/hicolor" || true; fi
