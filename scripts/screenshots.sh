#!/usr/bin/env bash
# The screenshots in README.md and docs/ (written to docs/images/) from the real app under
# Xvfb with a window manager (Debian: apt install xvfb openbox x11-utils, plus the Qt X11
# libraries listed in the README).
set -euo pipefail
cd "$(dirname "$0")/.."
display=:97
Xvfb "$display" -screen 0 1400x900x24 -nolisten tcp &
xvfb=$!
wm=
trap 'kill $wm "$xvfb" 2>/dev/null || true' EXIT
for _ in $(seq 100); do DISPLAY="$display" xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
DISPLAY="$display" openbox &
wm=$!
DISPLAY="$display" QT_QPA_PLATFORM=xcb .venv/bin/python scripts/screenshots.py
