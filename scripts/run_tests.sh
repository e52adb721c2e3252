#!/usr/bin/env bash
# Runs the whole test suite offscreen. The zero-egress test traces the app with strace;
# it is installed here when missing and this machine allows it.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v strace >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "[test] installing strace for the zero-egress test" >&2
    apt-get install -y -qq strace >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq strace; } >/dev/null
fi
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest "$@"
