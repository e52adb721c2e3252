#!/usr/bin/env bash
# Brings the demo model in the way any model comes in (a transfer drive made by
# `strongroom prepare`, then the verified import), then opens the window.
set -euo pipefail
cd "$(dirname "$0")/.."
drive=.cache/demo-drive
model=.cache/demo/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -f "$drive/TRANSFER_MANIFEST.sha256" ]; then
    .venv/bin/strongroom prepare "$drive" --file "$model" --name SmolLM2-135M-Instruct \
        --model-id HuggingFaceTB/SmolLM2-135M-Instruct
fi
.venv/bin/strongroom import "$drive" --yes
exec .venv/bin/strongroom "$@"
