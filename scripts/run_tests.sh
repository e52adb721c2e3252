#!/usr/bin/env bash
# Runs the whole test suite offscreen. Two parts need programs from the system, installed
# here when missing and this machine allows it (root with apt): the zero-egress test traces
# the app with strace, and the keyboard journeys (tests/desktop) drive the real window on a
# real X display (Xvfb, the openbox window manager, xdotool, GTK 3 for the dark GNOME
# theme, and the X11 libraries Qt's xcb platform needs). Without them those tests are
# skipped, each saying why.
set -euo pipefail
cd "$(dirname "$0")/.."
X_PACKAGES="xvfb openbox xdotool imagemagick libgtk-3-0 libxcb-cursor0 libxkbcommon-x11-0 \
libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-randr0 \
libxcb-xkb1 libxcb-xfixes0 libxcb-sync1 libxcb-shm0 libx11-xcb1 libegl1 libgl1 libfontconfig1 \
libdbus-1-3"
missing=()
command -v strace >/dev/null 2>&1 || missing+=(strace)
for tool in Xvfb openbox xdotool; do
    command -v "$tool" >/dev/null 2>&1 || { missing+=($X_PACKAGES); break; }
done
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "[test] installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/dev/null \
        || echo "[test] could not install them; the tests that need them are skipped" >&2
fi
export QT_QPA_PLATFORM=offscreen
# One worker per CPU, each test file kept on one worker (its module fixtures made once);
# STRONGROOM_TEST_WORKERS=0 runs everything in this one process.
exec .venv/bin/python -m pytest -n "${STRONGROOM_TEST_WORKERS:-auto}" --dist loadfile "$@"
