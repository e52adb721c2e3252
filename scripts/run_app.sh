#!/usr/bin/env bash
# Makes the demo model available to Strongroom, then opens the window.
set -euo pipefail
cd "$(dirname "$0")/.."
models=$(.venv/bin/strongroom paths models)
mkdir -p "$models"
if [ ! -e "$models/SmolLM2-135M-Instruct.Q4_1.gguf" ]; then
    cp .cache/demo/SmolLM2-135M-Instruct.Q4_1.gguf "$models/"
    echo "[run] the demo model is in $models" >&2
fi
exec .venv/bin/strongroom "$@"
